//! Per-host request metrics, rendered in the Prometheus text exposition format.
//!
//! The hot path is one lock-free map load per request (an `ArcSwap` of host → counters) and a
//! few relaxed atomic increments; a host's entry is created, copy-on-write, the first time a
//! request for it arrives. Only hosts the route table knows get an entry of their own, so a
//! scanner sending random Host headers cannot grow the map: everything else is counted under
//! the host label [`UNROUTED_HOST`].

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::headers::HostMap;

/// The host label of requests for hosts the route table does not know (or naming none).
pub const UNROUTED_HOST: &str = "_unrouted";

/// Upper bounds of the latency buckets, in microseconds (rendered in seconds).
const BUCKETS_US: [u64; 13] = [
    1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000,
];

/// The router's metrics registry. Cheap to clone: clones share one registry.
///
/// Counts every request the router answers itself or proxies, including those hyper answers
/// because it cannot parse them (400 for a malformed request line, 414, 431), which count
/// under [`UNROUTED_HOST`]. A request ends, for its latency and the in-flight gauge, when its response
/// body has been sent or abandoned.
#[derive(Clone, Default)]
pub struct Metrics {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    hosts: ArcSwap<HostMap<Arc<HostStats>>>,
    unrouted: Arc<HostStats>,
    access_log_written: AtomicU64,
    access_log_dropped: AtomicU64,
    /// Serialises writers of `hosts`.
    writer: Mutex<()>,
}

/// The counters of one host.
#[derive(Default)]
pub(crate) struct HostStats {
    /// Requests by status class, 1xx to 5xx (codes of 600 and above count as 5xx).
    classes: [AtomicU64; 5],
    /// Requests per latency bucket (not cumulative; the last slot is above every bound).
    buckets: [AtomicU64; BUCKETS_US.len() + 1],
    sum_us: AtomicU64,
    in_flight: AtomicI64,
}

impl HostStats {
    pub(crate) fn enter(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn leave(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    /// Counts one answered request.
    pub(crate) fn record(&self, status: u16, elapsed: Duration) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.classes[class].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let bucket = BUCKETS_US.iter().position(|bound| micros <= *bound).unwrap_or(BUCKETS_US.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(micros, Ordering::Relaxed);
    }
}

impl Metrics {
    /// The counters of `host`: its own if `routed` says the route table knows it, else the
    /// shared [`UNROUTED_HOST`] entry. `routed` is only asked the first time a host is seen.
    pub(crate) fn host(&self, host: Option<&str>, routed: impl FnOnce(&str) -> bool) -> Arc<HostStats> {
        let Some(host) = host else { return self.inner.unrouted.clone() };
        if let Some(stats) = self.inner.hosts.load().get(host) {
            return stats.clone();
        }
        if !routed(host) {
            return self.inner.unrouted.clone();
        }
        let _writer = self.inner.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.inner.hosts.load_full();
        if let Some(stats) = current.get(host) {
            return stats.clone();
        }
        let mut hosts = HostMap::clone(&current);
        let stats = Arc::new(HostStats::default());
        hosts.insert(host.into(), stats.clone());
        self.inner.hosts.store(Arc::new(hosts));
        stats
    }

    /// Counts a request hyper answered itself because it could not parse it (no host known).
    pub(crate) fn refused(&self, status: u16) {
        self.inner.unrouted.record(status, Duration::ZERO);
    }

    pub(crate) fn access_log_written(&self, lines: u64) {
        self.inner.access_log_written.fetch_add(lines, Ordering::Relaxed);
    }

    pub(crate) fn access_log_dropped(&self, lines: u64) {
        self.inner.access_log_dropped.fetch_add(lines, Ordering::Relaxed);
    }

    pub(crate) fn access_log_dropped_total(&self) -> u64 {
        self.inner.access_log_dropped.load(Ordering::Relaxed)
    }

    /// The metrics in the Prometheus text exposition format (version 0.0.4):
    /// `slipway_router_requests_total{host,class}` (counter),
    /// `slipway_router_request_duration_seconds{host}` (histogram: `_bucket{le}`, `_sum`,
    /// `_count`), `slipway_router_in_flight{host}` (gauge) and
    /// `slipway_router_access_log_lines_total{outcome}` (counter: `written`, or `dropped` when
    /// the access log's queue was full or its file could not be written). Hosts are sorted.
    pub fn render(&self) -> String {
        let hosts = self.inner.hosts.load();
        let mut all: Vec<(&str, &HostStats)> = hosts.iter().map(|(host, stats)| (&**host, &**stats)).collect();
        all.sort_unstable_by_key(|(host, _)| *host);
        all.push((UNROUTED_HOST, &self.inner.unrouted));

        let mut out = String::with_capacity(256 + all.len() * 2048);
        // Writing to a String cannot fail; the results below are ignored for that reason.
        out.push_str(
            "# HELP slipway_router_requests_total Requests answered by the router, by host and status class.\n",
        );
        out.push_str("# TYPE slipway_router_requests_total counter\n");
        for (host, stats) in &all {
            for (index, count) in stats.classes.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "slipway_router_requests_total{{host=\"{}\",class=\"{}xx\"}} {}",
                    Label(host),
                    index + 1,
                    count.load(Ordering::Relaxed)
                );
            }
        }
        out.push_str(
            "# HELP slipway_router_request_duration_seconds Time from request head to the end of the response.\n",
        );
        out.push_str("# TYPE slipway_router_request_duration_seconds histogram\n");
        for (host, stats) in &all {
            let mut cumulative = 0u64;
            for (index, count) in stats.buckets.iter().enumerate() {
                cumulative += count.load(Ordering::Relaxed);
                let _ = match BUCKETS_US.get(index) {
                    Some(bound) => writeln!(
                        out,
                        "slipway_router_request_duration_seconds_bucket{{host=\"{}\",le=\"{}\"}} {cumulative}",
                        Label(host),
                        *bound as f64 / 1e6
                    ),
                    None => writeln!(
                        out,
                        "slipway_router_request_duration_seconds_bucket{{host=\"{}\",le=\"+Inf\"}} {cumulative}",
                        Label(host)
                    ),
                };
            }
            let sum = stats.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(out, "slipway_router_request_duration_seconds_sum{{host=\"{}\"}} {sum}", Label(host));
            let _ =
                writeln!(out, "slipway_router_request_duration_seconds_count{{host=\"{}\"}} {cumulative}", Label(host));
        }
        out.push_str("# HELP slipway_router_in_flight Requests being handled, by host.\n");
        out.push_str("# TYPE slipway_router_in_flight gauge\n");
        for (host, stats) in &all {
            let _ = writeln!(
                out,
                "slipway_router_in_flight{{host=\"{}\"}} {}",
                Label(host),
                stats.in_flight.load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP slipway_router_access_log_lines_total Access-log lines written, or dropped.\n");
        out.push_str("# TYPE slipway_router_access_log_lines_total counter\n");
        for (outcome, count) in
            [("written", &self.inner.access_log_written), ("dropped", &self.inner.access_log_dropped)]
        {
            let _ = writeln!(
                out,
                "slipway_router_access_log_lines_total{{outcome=\"{outcome}\"}} {}",
                count.load(Ordering::Relaxed)
            );
        }
        out
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").field("hosts", &self.inner.hosts.load().len()).finish_non_exhaustive()
    }
}

/// A label value with `\`, `"` and newlines escaped, as the exposition format requires.
struct Label<'a>(&'a str);

impl std::fmt::Display for Label<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for c in self.0.chars() {
            match c {
                '\\' => f.write_str("\\\\")?,
                '"' => f.write_str("\\\"")?,
                '\n' => f.write_str("\\n")?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_classes_buckets_and_only_routed_hosts() {
        let metrics = Metrics::default();
        let shop = metrics.host(Some("shop.example"), |_| true);
        assert!(Arc::ptr_eq(&shop, &metrics.host(Some("shop.example"), |_| unreachable!("seen before"))));
        let stranger = metrics.host(Some("random.example"), |_| false);
        assert!(Arc::ptr_eq(&stranger, &metrics.host(None, |_| true)));

        shop.enter();
        shop.record(200, Duration::from_micros(800));
        shop.record(204, Duration::from_millis(30));
        shop.record(503, Duration::from_secs(60));
        stranger.record(404, Duration::from_micros(10));
        let text = metrics.render();
        for line in [
            "slipway_router_requests_total{host=\"shop.example\",class=\"2xx\"} 2",
            "slipway_router_requests_total{host=\"shop.example\",class=\"5xx\"} 1",
            "slipway_router_requests_total{host=\"_unrouted\",class=\"4xx\"} 1",
            "slipway_router_request_duration_seconds_bucket{host=\"shop.example\",le=\"0.001\"} 1",
            "slipway_router_request_duration_seconds_bucket{host=\"shop.example\",le=\"0.05\"} 2",
            "slipway_router_request_duration_seconds_bucket{host=\"shop.example\",le=\"10\"} 2",
            "slipway_router_request_duration_seconds_bucket{host=\"shop.example\",le=\"+Inf\"} 3",
            "slipway_router_request_duration_seconds_count{host=\"shop.example\"} 3",
            "slipway_router_in_flight{host=\"shop.example\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        assert!(!text.contains("random.example"));
        assert_eq!(Label("a\"b\\c\n").to_string(), "a\\\"b\\\\c\\n");
    }
}
