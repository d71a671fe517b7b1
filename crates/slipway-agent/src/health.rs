//! The health gate: a new `web` instance gets traffic only after it answers
//! on its port. With no configured path, any HTTP answer below 500 to
//! `GET /` counts (the app is up, even if `/` is a 404), and an app that
//! accepts the connection but does not speak HTTP passes on TCP alone; with a
//! configured path the answer must be HTTP 2xx or 3xx. An instance that exits
//! first fails at once, with its exit status; one that never answers is told
//! which address and port were expected, and where it listens if elsewhere.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::instance::Handle;

const INTERVAL: Duration = Duration::from_millis(100);

/// `owner` is the uid the instance runs as: where it listens instead is looked up among its sockets only.
pub(crate) async fn wait_healthy(
    handle: &Handle,
    path: Option<&str>,
    timeout: Duration,
    owner: u32,
) -> Result<String, String> {
    let Some(port) = handle.port else { return Ok("no port to check".into()) };
    let url = format!("http://127.0.0.1:{port}{}", path.unwrap_or("/"));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|err| err.to_string())?;
    let deadline = Instant::now() + timeout;
    loop {
        let exited = handle.observed.exited.lock().ok().and_then(|s| s.clone());
        if let Some(status) =
            exited.or_else(|| (handle.observed.restarts.load(Ordering::SeqCst) > 0).then(|| "restarted".into()))
        {
            return Err(format!("{} exited ({status}) before it became healthy", handle.name));
        }
        let answer = client.get(&url).send().await;
        if let (Err(err), None) = (&answer, path) {
            // Connected, but no HTTP came back: the TCP fallback.
            if !err.is_connect()
                && !err.is_timeout()
                && tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok()
            {
                return Ok(format!("port {port} accepts connections; it does not answer HTTP"));
            }
        }
        if let Ok(response) = answer {
            let status = response.status();
            let healthy = match path {
                None => !status.is_server_error(),
                Some(_) => status.is_success() || status.is_redirection(),
            };
            if healthy {
                return Ok(format!("GET {} answered {}", path.unwrap_or("/"), status.as_u16()));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{} answered GET {} with {status} until the health check gave up",
                    handle.name,
                    path.unwrap_or("/")
                ));
            }
        }
        if Instant::now() >= deadline {
            let hint = crate::ports::listening_elsewhere(port, owner)
                .await
                .unwrap_or_else(|| "does it listen on $PORT at 127.0.0.1?".to_owned());
            return Err(format!(
                "{} did not answer on 127.0.0.1:{port}, its $PORT, within {}s; {hint}",
                handle.name,
                timeout.as_secs()
            ));
        }
        tokio::time::sleep(INTERVAL).await;
    }
}
