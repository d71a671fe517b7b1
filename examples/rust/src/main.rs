//! A std-only HTTP server on 127.0.0.1:$PORT, deployable to Slipway with `git push`.
use std::io::{Read, Write};

fn main() {
    let port = std::env::var("PORT").expect("PORT");
    let listener = std::net::TcpListener::bind(("127.0.0.1", port.parse::<u16>().expect("port"))).expect("bind");
    for stream in listener.incoming() {
        let mut stream = stream.expect("accept");
        let mut request = [0u8; 4096];
        let _ = stream.read(&mut request);
        let body = "hello from rust";
        let _ = write!(stream, "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
    }
}
