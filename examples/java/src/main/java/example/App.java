package example;

import com.google.gson.Gson;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/** Listens where Slipway says: 127.0.0.1:$PORT, and answers `/` with a JSON body Gson writes. */
public final class App {
    public static void main(String[] args) throws IOException {
        int port = Integer.parseInt(System.getenv().getOrDefault("PORT", "8080"));
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 0);
        Gson gson = new Gson();
        server.createContext("/", exchange -> {
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("greeting", ("hello from java " + System.getenv().getOrDefault("GREETING", "")).trim());
            body.put("java", System.getProperty("java.version"));
            body.put("max_heap_mib", Runtime.getRuntime().maxMemory() >> 20);
            body.put("processors", Runtime.getRuntime().availableProcessors());
            byte[] bytes = gson.toJson(body).getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "application/json");
            exchange.sendResponseHeaders(200, bytes.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(bytes);
            }
        });
        server.start();
        System.out.println("listening on 127.0.0.1:" + port);
    }
}
