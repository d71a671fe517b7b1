//! `slipway-loadgen`: sends requests at a fixed rate (open loop) and reports
//! throughput and latency percentiles as one JSON line.
//!
//! Latency is measured from when a request was *scheduled*, not when it was
//! sent, so a slow server cannot hide queueing delay by slowing the
//! generator down (coordinated omission). `{n}`, `{n/K}` and `{n%K}` in the
//! URL or body are replaced by the request number, divided or modulo K.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use tokio::sync::Semaphore;

#[derive(Debug, Parser)]
struct Args {
    /// URL template.
    #[arg(long)]
    url: String,
    #[arg(long, default_value = "GET")]
    method: String,
    /// JSON body template.
    #[arg(long)]
    body: Option<String>,
    /// `Name: value` headers.
    #[arg(long = "header")]
    headers: Vec<String>,
    /// Requests per second; 0 sends as fast as `--concurrency` allows.
    #[arg(long, default_value_t = 0)]
    rate: u32,
    /// Number of requests.
    #[arg(long)]
    requests: u64,
    /// Most requests in flight at once.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// A label copied into the report.
    #[arg(long, default_value = "")]
    label: String,
}

fn expand(template: &str, n: u64) -> String {
    let mut out = String::with_capacity(template.len() + 8);
    let mut rest = template;
    while let Some(start) = rest.find("{n") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else { break };
        let expr = &rest[start + 2..start + end];
        let value = match (expr.strip_prefix('/'), expr.strip_prefix('%')) {
            (Some(k), _) => k.parse::<u64>().map_or(n, |k| n / k.max(1)),
            (_, Some(k)) => k.parse::<u64>().map_or(n, |k| n % k.max(1)),
            _ => n,
        };
        out.push_str(&value.to_string());
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let method: reqwest::Method = args.method.parse().context("--method")?;
    let mut headers = reqwest::header::HeaderMap::new();
    for header in &args.headers {
        let Some((name, value)) = header.split_once(':') else { bail!("header `{header}` is not `Name: value`") };
        headers.insert(reqwest::header::HeaderName::from_bytes(name.trim().as_bytes())?, value.trim().parse()?);
    }
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs(30))
        .build()?;
    let limit = std::sync::Arc::new(Semaphore::new(args.concurrency));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(args.requests as usize);
    for n in 0..args.requests {
        let scheduled = if args.rate == 0 {
            Instant::now()
        } else {
            let at = start + Duration::from_secs_f64(n as f64 / f64::from(args.rate));
            tokio::time::sleep_until(at.into()).await;
            at
        };
        let permit = limit.clone().acquire_owned().await?;
        let mut request = client.request(method.clone(), expand(&args.url, n));
        if let Some(body) = &args.body {
            request = request.header("content-type", "application/json").body(expand(body, n));
        }
        tasks.push(tokio::spawn(async move {
            let result = request.send().await;
            let ok = match result {
                Ok(response) => {
                    let status = response.status();
                    let _ = response.bytes().await;
                    status.is_success()
                }
                Err(_) => false,
            };
            drop(permit);
            (scheduled.elapsed().as_micros() as u64, ok)
        }));
    }
    let mut latencies = Vec::with_capacity(tasks.len());
    let mut errors = 0u64;
    for task in tasks {
        let (micros, ok) = task.await?;
        latencies.push(micros);
        errors += u64::from(!ok);
    }
    let elapsed = start.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let report = serde_json::json!({
        "label": args.label,
        "requests": args.requests,
        "errors": errors,
        "seconds": elapsed,
        "rps": args.requests as f64 / elapsed,
        "target_rps": args.rate,
        "p50_ms": percentile(&latencies, 50.0),
        "p99_ms": percentile(&latencies, 99.0),
        "max_ms": percentile(&latencies, 100.0),
    });
    println!("{report}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_expand_the_request_number() {
        assert_eq!(expand("/w/ws-{n/10}/p-{n%10}", 1234), "/w/ws-123/p-4");
        assert_eq!(expand("{\"slug\":\"b-{n}\"}", 7), "{\"slug\":\"b-7\"}");
        assert_eq!(expand("plain", 1), "plain");
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let sorted: Vec<u64> = (1..=100).map(|ms| ms * 1000).collect();
        assert_eq!(percentile(&sorted, 50.0), 50.0);
        assert_eq!(percentile(&sorted, 99.0), 99.0);
        assert_eq!(percentile(&sorted, 100.0), 100.0);
    }
}
