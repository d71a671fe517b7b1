//! Waiting for a condition, the one way tests wait.

use std::time::{Duration, Instant};

/// The pause between probes starts short (a condition that is nearly true
/// costs the test nothing) and doubles up to this, so a long wait never spins.
const MAX_INTERVAL: Duration = Duration::from_millis(100);

/// Calls `probe` until it returns `Some`, and returns that value; panics
/// naming `what` once `timeout` has passed. The probe runs at least once,
/// and once more after the time is up so a slow last step still counts.
pub async fn eventually<T>(what: &str, timeout: Duration, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    let mut interval = Duration::from_millis(1);
    loop {
        let expired = Instant::now() >= deadline;
        if let Some(value) = probe().await {
            return value;
        }
        assert!(!expired, "gave up after {timeout:?} waiting for {what}");
        tokio::time::sleep(interval).await;
        interval = (interval * 2).min(MAX_INTERVAL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn returns_the_first_value_the_probe_finds() {
        let mut calls = 0;
        let found = eventually("the third call", Duration::from_secs(10), async || {
            calls += 1;
            (calls == 3).then_some(calls)
        })
        .await;
        assert_eq!(found, 3);
    }

    #[tokio::test]
    #[should_panic(expected = "gave up after 200ms waiting for a condition that never holds")]
    async fn panics_naming_what_it_waited_for() {
        eventually("a condition that never holds", Duration::from_millis(200), async || None::<()>).await;
    }
}
