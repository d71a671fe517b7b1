//! The signal that tells each open client connection to finish its request and close when
//! shutdown starts (`server.rs`).
//!
//! One oneshot channel per connection rather than one shared `watch` channel: a connection's task
//! polls its stop signal every time it wakes, several times per request, and a pending oneshot
//! receiver answers that with an atomic load, where a `watch` receiver takes the lock of its list
//! of waiters each time.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll};

use tokio::sync::oneshot;

/// The stop signals of the open connections of one server. Dropping it (the server's future
/// was dropped) stops them all too.
#[derive(Default)]
pub(crate) struct StopSignals {
    inner: Mutex<Senders>,
}

#[derive(Default)]
struct Senders {
    next_id: u64,
    open: HashMap<u64, oneshot::Sender<()>>,
    /// Set once shutdown has started: a connection that subscribes later stops at once.
    stopping: bool,
}

impl StopSignals {
    /// A stop signal for one new connection.
    pub(crate) fn subscribe(self: &Arc<Self>) -> Stop {
        let (sender, receiver) = oneshot::channel();
        let mut senders = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let id = senders.next_id;
        senders.next_id += 1;
        if !senders.stopping {
            senders.open.insert(id, sender);
        }
        // Else `sender` is dropped here, which stops the receiver at once.
        Stop { id, receiver, signals: Arc::downgrade(self) }
    }

    /// Tells every connection, open or yet to subscribe, to stop.
    pub(crate) fn stop_all(&self) {
        let open = {
            let mut senders = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            senders.stopping = true;
            std::mem::take(&mut senders.open)
        };
        for sender in open.into_values() {
            let _ = sender.send(());
        }
    }
}

/// One connection's stop signal: resolves once shutdown starts (or the server is gone).
pub(crate) struct Stop {
    id: u64,
    receiver: oneshot::Receiver<()>,
    /// Weak, so that connections do not keep the senders alive once the server is gone.
    signals: Weak<StopSignals>,
}

impl Future for Stop {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // A closed channel means the same as a signal: the server is over.
        Pin::new(&mut self.receiver).poll(cx).map(drop)
    }
}

impl Drop for Stop {
    fn drop(&mut self) {
        if let Some(signals) = self.signals.upgrade() {
            signals.inner.lock().unwrap_or_else(PoisonError::into_inner).open.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stops_open_and_later_connections_and_forgets_closed_ones() {
        let signals = Arc::new(StopSignals::default());
        let open = signals.subscribe();
        drop(signals.subscribe());
        assert_eq!(signals.inner.lock().expect("lock").open.len(), 1);
        signals.stop_all();
        open.await;
        signals.subscribe().await;

        // A server that is gone stops its connections too.
        let signals = Arc::new(StopSignals::default());
        let open = signals.subscribe();
        drop(signals);
        open.await;
    }
}
