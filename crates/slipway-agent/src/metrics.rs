//! The router's access metrics, published for the control plane (another process), which
//! serves them at `/metrics`.

use std::path::PathBuf;
use std::time::Duration;

use slipway_router::Metrics;

/// Rewrites the metrics file (`DataLayout::router_metrics`) every few seconds, for as long as
/// it runs (abort it to stop): write, then rename, so the control plane never reads half a file.
pub async fn publish_metrics(metrics: Metrics, path: PathBuf) {
    let temp = path.with_extension("prom.tmp");
    loop {
        if tokio::fs::write(&temp, metrics.render()).await.is_ok() {
            let _ = tokio::fs::rename(&temp, &path).await;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}
