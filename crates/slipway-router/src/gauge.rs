//! A count of things in progress that someone can wait to reach zero: requests in flight to a
//! backend, open client connections and upgraded tunnels during shutdown.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

#[derive(Debug, Default)]
pub(crate) struct Gauge {
    count: AtomicUsize,
    zero: Notify,
}

impl Gauge {
    /// SeqCst because `RouteTable` pairs this increment with a generation check (see `table.rs`).
    pub(crate) fn enter(&self) {
        self.count.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn leave(&self) {
        if self.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.zero.notify_waiters();
        }
    }

    pub(crate) fn get(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// Waits until the count is zero or `timeout` passes; returns whether it reached zero.
    pub(crate) async fn wait_zero(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.zero.notified();
            tokio::pin!(notified);
            // Registering before reading the count means a `leave` between the two is not lost.
            notified.as_mut().enable();
            if self.get() == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.get() == 0;
            }
        }
    }
}

/// Holds one unit of a shared gauge until dropped.
#[derive(Debug)]
pub(crate) struct Entered(Arc<Gauge>);

impl Entered {
    pub(crate) fn new(gauge: &Arc<Gauge>) -> Self {
        gauge.enter();
        Entered(gauge.clone())
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        self.0.leave();
    }
}

/// Resolves once `flag` is true (or its sender is gone, which means the same: the server is over).
pub(crate) async fn raised(flag: &mut tokio::sync::watch::Receiver<bool>) {
    // The `Ref` that `wait_for` returns holds a lock; drop it here rather than across an await.
    let _ = flag.wait_for(|raised| *raised).await.map(drop);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn wait_zero_wakes_on_the_last_leave_and_times_out_otherwise() {
        let gauge = Arc::new(Gauge::default());
        assert!(gauge.wait_zero(Duration::from_secs(1)).await);

        gauge.enter();
        gauge.enter();
        assert!(!gauge.wait_zero(Duration::from_secs(1)).await);

        let waiter = tokio::spawn({
            let gauge = gauge.clone();
            async move { gauge.wait_zero(Duration::from_secs(3600)).await }
        });
        tokio::task::yield_now().await;
        gauge.leave();
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        gauge.leave();
        assert!(waiter.await.expect("waiter task"));
    }
}
