//! Upgraded connections (WebSocket and other `101 Switching Protocols`): once both sides have
//! switched, the router copies bytes both ways until either side closes. The tunnel counts as
//! a request in flight to its backend for its whole life, so draining an instance waits for
//! its WebSockets (up to the drain timeout).

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

use crate::backend::InFlight;
use crate::gauge::{raised, Entered};
use crate::proxy::Shared;

pub(crate) fn spawn_tunnel(shared: &Shared, client: OnUpgrade, upstream: OnUpgrade, in_flight: InFlight) {
    let open = Entered::new(&shared.tunnels);
    let mut kill = shared.kill.clone();
    tokio::spawn(async move {
        let backend = in_flight.backend().addr;
        let bridge = async {
            // The client side resolves once hyper has written our 101 to it.
            let (client, upstream) = tokio::try_join!(client, upstream)?;
            let (mut client, mut upstream) = (TokioIo::new(client), TokioIo::new(upstream));
            tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        };
        tokio::select! {
            result = bridge => {
                if let Err(error) = result {
                    tracing::debug!(%backend, %error, "upgraded connection ended with an error");
                }
            }
            () = raised(&mut kill) => {
                tracing::debug!(%backend, "upgraded connection closed at the end of the shutdown grace period");
            }
        }
        drop(in_flight);
        drop(open);
    });
}
