//! Timers for the per-request timeouts (hyper's header-read timeout on client connections, the
//! upstream header timeout in `proxy.rs`) that are reused instead of made anew for every request.
//!
//! Why: a fresh `tokio::time::Sleep` is inserted into the runtime's timer wheel when first
//! polled and taken out again when dropped, each time under the wheel's lock; at tens of
//! thousands of requests per second and core that is a visible share of the router's CPU.
//! Moving a registered timer's deadline *later*, as every reuse here does, is one atomic
//! compare-and-swap in tokio: the wheel finds out lazily when the old deadline comes round and
//! files the timer again.
//!
//! A timer goes back to its pool when its timeout is over (the request got its answer, or hyper
//! parsed the head) and is still registered there. If its deadline passes while it waits, it
//! fires and wakes the task that last polled it, which finds nothing to do; the next user files
//! it again. There is one pool per [`serve`](crate::serve) call, that is per runtime, as a tokio
//! timer belongs to the runtime that made it.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// Idle timers kept per pool; more than this are dropped. The pool holds about as many timers as
/// requests wait on a timeout at once (one per client connection waiting for its next head).
const MAX_IDLE_TIMERS: usize = 4096;

/// A pool of reusable timers. Cheap to clone: clones share one pool.
#[derive(Clone, Default)]
pub(crate) struct Timers {
    idle: Arc<Mutex<Vec<Pin<Box<Sleep>>>>>,
}

impl Timers {
    /// A timer that fires at `deadline`, back in the pool when dropped.
    pub(crate) fn sleep_until(&self, deadline: Instant) -> Lent {
        // A panic while holding this lock cannot leave the Vec inconsistent, so poisoning is ignored.
        let reused = self.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let sleep = match reused {
            Some(mut sleep) => {
                sleep.as_mut().reset(deadline);
                sleep
            }
            None => Box::pin(tokio::time::sleep_until(deadline)),
        };
        Lent { sleep: Some(sleep), pool: self.clone() }
    }

    /// Runs `future` for at most `timeout`; `None` if the time ran out first, and then `future`
    /// has been dropped. The same as `tokio::time::timeout`, with a pooled timer.
    pub(crate) async fn timeout<F: Future>(&self, timeout: Duration, future: F) -> Option<F::Output> {
        let mut timer = self.sleep_until(Instant::now() + timeout);
        let mut future = std::pin::pin!(future);
        std::future::poll_fn(|cx| {
            if let Poll::Ready(output) = future.as_mut().poll(cx) {
                return Poll::Ready(Some(output));
            }
            Pin::new(&mut timer).poll(cx).map(|()| None)
        })
        .await
    }
}

/// A timer borrowed from a [`Timers`] pool.
pub(crate) struct Lent {
    /// Always `Some` until dropped.
    sleep: Option<Pin<Box<Sleep>>>,
    pool: Timers,
}

impl Lent {
    fn reset(&mut self, deadline: Instant) {
        if let Some(sleep) = &mut self.sleep {
            sleep.as_mut().reset(deadline);
        }
    }
}

impl Future for Lent {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.sleep {
            Some(sleep) => sleep.as_mut().poll(cx),
            None => Poll::Ready(()),
        }
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        if let Some(sleep) = self.sleep.take() {
            let mut idle = self.pool.idle.lock().unwrap_or_else(PoisonError::into_inner);
            if idle.len() < MAX_IDLE_TIMERS {
                idle.push(sleep);
            }
        }
    }
}

/// hyper's timer for client connections (the header-read timeout), from the pool.
impl hyper::rt::Timer for Timers {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(self.sleep_until(Instant::now() + duration))
    }

    fn sleep_until(&self, deadline: std::time::Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(Timers::sleep_until(self, deadline.into()))
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: std::time::Instant) {
        match sleep.as_mut().downcast_mut_pin::<Lent>() {
            Some(mut lent) => lent.reset(new_deadline.into()),
            None => *sleep = hyper::rt::Timer::sleep_until(self, new_deadline),
        }
    }
}

impl hyper::rt::Sleep for Lent {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_reused_timer_fires_at_its_new_deadline() {
        let timers = Timers::default();
        assert_eq!(timers.timeout(Duration::from_secs(5), async { 7 }).await, Some(7));
        // The timer of the first call, back in the pool, is the one this call runs with.
        assert_eq!(timers.idle.lock().expect("pool").len(), 1);
        let started = Instant::now();
        assert_eq!(timers.timeout(Duration::from_secs(10), std::future::pending::<()>()).await, None);
        assert_eq!(started.elapsed(), Duration::from_secs(10));
        assert_eq!(timers.idle.lock().expect("pool").len(), 1);
    }
}
