//! `bench-upstream`: the fixed fast upstream of `bench/router.sh`. An HTTP/1.1 keep-alive
//! server that answers every request with the same 1 KiB body, on a multi-threaded runtime.
//!
//! Prints `listening on ADDR` once bound, then serves until killed.

use std::convert::Infallible;
use std::net::SocketAddr;

use anyhow::{Context, Result};
use bytes::Bytes;
use clap::Parser;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Size of the response body in bytes.
    #[arg(long, default_value_t = 1024)]
    body_size: usize,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let body = Bytes::from(vec![b'x'; args.body_size]);
    let listener = TcpListener::bind(args.listen).await.with_context(|| format!("binding {}", args.listen))?;
    println!("listening on {}", listener.local_addr()?);

    let mut http = hyper::server::conn::http1::Builder::new();
    http.keep_alive(true);
    loop {
        let (stream, _peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                eprintln!("accept failed: {error}");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let body = body.clone();
        let connection = http.serve_connection(
            TokioIo::new(stream),
            service_fn(move |_request: Request<hyper::body::Incoming>| {
                let body = body.clone();
                async move {
                    let mut response = Response::new(Full::new(body));
                    response
                        .headers_mut()
                        .insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("text/plain"));
                    Ok::<_, Infallible>(response)
                }
            }),
        );
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
}
