// The log view alone: a page with the portal's own CSS and JS, fed by an SSE
// stream of `rate` lines a second (in batches every 10 ms, as the portal's
// stream sends them) for `seconds`, while the page's frames and long tasks
// are recorded. Imported by journey.mjs; isolates the page's capacity from
// the build that shares the machine in the end-to-end measurement.
import http from "node:http";
import fs from "node:fs";
import path from "node:path";

const assets = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../../assets");

export async function logViewBench(browser, { rate = 5000, seconds = 6 } = {}) {
  const total = rate * seconds;
  const server = http.createServer((req, res) => {
    if (req.url.startsWith("/_portal/portal.js")) return res.end(fs.readFileSync(path.join(assets, "portal.js")));
    if (req.url.startsWith("/_portal/portal.css")) {
      res.setHeader("content-type", "text/css");
      return res.end(fs.readFileSync(path.join(assets, "portal.css")));
    }
    if (req.url.startsWith("/stream")) {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      let sent = 0;
      const perTick = rate / 100;
      const timer = setInterval(() => {
        const lines = [];
        for (let i = 0; i < perTick && sent < total; i++, sent++) lines.push(`data: \x1b[32mline\x1b[0m ${sent} ${"x".repeat(60)}`);
        res.write(`id: ${sent}\n${lines.join("\n")}\n\n`);
        if (sent >= total) { clearInterval(timer); res.end("event: end\ndata: DEPLOYED\n\n"); }
      }, 10);
      req.on("close", () => clearInterval(timer));
      return;
    }
    res.setHeader("content-type", "text/html");
    res.end(`<!DOCTYPE html><html><head><link rel="stylesheet" href="/_portal/portal.css"><script src="/_portal/portal.js" defer></script></head>
<body><main><section class="panel" id="build"><div class="log-meta"><span data-log-state></span></div>
<div id="build-log" class="log" data-src="/stream" data-number="1"></div></section></main>
<script>window.__frames=[];window.__longTasks=[];let last=performance.now();
new PerformanceObserver((l)=>{for(const e of l.getEntries())window.__longTasks.push(e.duration)}).observe({type:"longtask"});
requestAnimationFrame(function tick(now){window.__frames.push(now-last);last=now;requestAnimationFrame(tick)});</script></body></html>`);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const started = Date.now();
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  await page.waitForFunction((n) => Number(document.getElementById("build-log").getAttribute("data-lines")) >= n,
    total, { timeout: 120_000, polling: 100 });
  const elapsed = Date.now() - started;
  const perf = await page.evaluate(() => ({ frames: window.__frames, longTasks: window.__longTasks }));
  await context.close();
  server.close();
  const frames = [...perf.frames].sort((a, b) => a - b);
  return {
    rate, seconds, lines: total, elapsed_ms: elapsed,
    fps: Math.round(perf.frames.length / (elapsed / 1000)),
    p95_frame_ms: Math.round(frames[Math.floor(frames.length * 0.95)] || 0),
    max_frame_ms: Math.round(frames[frames.length - 1] || 0),
    long_tasks: perf.longTasks.length,
    max_long_task_ms: Math.round(Math.max(0, ...perf.longTasks)),
  };
}
