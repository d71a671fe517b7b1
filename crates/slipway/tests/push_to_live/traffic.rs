//! A bounded load loop through the edge router: a few tasks, each with its
//! own keep-alive client, sending `GET /` for one host until stopped or until
//! the request budget is spent. Every answer that is not a 200 (or no answer
//! at all) is a failure; every 200 body is counted, so a test can see that
//! both the old and the new release answered.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use slipway_testkit::eventually;
use slipway_testkit::platform::get_through;

#[derive(Default)]
struct Stats {
    sent: AtomicUsize,
    answered: AtomicUsize,
    failures: Mutex<Vec<String>>,
    bodies: Mutex<BTreeMap<String, usize>>,
}

pub struct Traffic {
    stop: Arc<AtomicBool>,
    stats: Arc<Stats>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    max_requests: usize,
}

/// What the load loop saw.
#[derive(Debug)]
pub struct Report {
    pub requests: usize,
    pub failures: Vec<String>,
    /// 200 bodies and how often each came.
    pub bodies: BTreeMap<String, usize>,
    /// Whether the budget ran out before the loop was stopped.
    pub exhausted: bool,
}

impl Report {
    /// Asserts every request got a 200, naming the first few failures.
    #[track_caller]
    pub fn assert_no_failures(&self, during: &str) {
        let shown: Vec<&String> = self.failures.iter().take(3).collect();
        assert!(
            self.failures.is_empty(),
            "{} of {} requests failed during {during}; the first: {shown:?}",
            self.failures.len(),
            self.requests
        );
    }
}

impl Traffic {
    /// Starts `tasks` loops against `host` at `router`, each pausing `pause`
    /// between requests, together sending at most `max_requests`.
    pub fn start(router: &str, host: &str, tasks: usize, pause: Duration, max_requests: usize) -> Traffic {
        let (stop, stats) = (Arc::new(AtomicBool::new(false)), Arc::new(Stats::default()));
        let tasks = (0..tasks)
            .map(|_| {
                let (stop, stats, router, host) = (stop.clone(), stats.clone(), router.to_owned(), host.to_owned());
                tokio::spawn(async move {
                    let client = reqwest::Client::builder()
                        .pool_max_idle_per_host(1)
                        .timeout(Duration::from_secs(20))
                        .build()
                        .expect("an HTTP client");
                    while !stop.load(Ordering::SeqCst) && stats.sent.fetch_add(1, Ordering::SeqCst) < max_requests {
                        match get_through(&client, &router, &host, "/").await {
                            Ok((200, body)) => *stats.bodies.lock().expect("stats").entry(body).or_default() += 1,
                            Ok((status, body)) => {
                                stats.failures.lock().expect("stats").push(format!("{status}: {body}"))
                            }
                            Err(err) => stats.failures.lock().expect("stats").push(err),
                        }
                        stats.answered.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(pause).await;
                    }
                })
            })
            .collect();
        Traffic { stop, stats, tasks, max_requests }
    }

    /// How many requests have been answered (or failed) so far.
    pub fn answered(&self) -> usize {
        self.stats.answered.load(Ordering::SeqCst)
    }

    pub fn seen(&self, body: &str) -> bool {
        self.stats.bodies.lock().expect("stats").contains_key(body)
    }

    fn exhausted(&self) -> bool {
        self.stats.sent.load(Ordering::SeqCst) >= self.max_requests
    }

    /// Waits until a 200 with `body` came (or the budget ran out).
    pub async fn wait_to_see(&self, body: &str) {
        let what = format!("the load loop to see {body:?}");
        eventually(&what, Duration::from_secs(120), async || (self.seen(body) || self.exhausted()).then_some(())).await;
    }

    /// Waits until `more` further requests were answered (or the budget ran out).
    pub async fn wait_for_more(&self, more: usize) {
        let target = self.answered() + more;
        let what = format!("{more} more requests");
        eventually(&what, Duration::from_secs(120), async || {
            (self.answered() >= target || self.exhausted()).then_some(())
        })
        .await;
    }

    pub async fn stop(mut self) -> Report {
        let exhausted = self.exhausted();
        self.stop.store(true, Ordering::SeqCst);
        for task in std::mem::take(&mut self.tasks) {
            task.await.expect("a load task panicked");
        }
        Report {
            requests: self.answered(),
            failures: self.stats.failures.lock().expect("stats").clone(),
            bodies: self.stats.bodies.lock().expect("stats").clone(),
            exhausted,
        }
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        // A failed assertion elsewhere must not leave the loops running.
        self.stop.store(true, Ordering::SeqCst);
        for task in &self.tasks {
            task.abort();
        }
    }
}
