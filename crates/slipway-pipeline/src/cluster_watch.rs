//! The cluster watcher: with a kubeconfig, a deployment to the Kubernetes
//! target is DEPLOYING from its GitOps commit until this sees it live (Argo CD
//! synced the commit, the app is Healthy, every Deployment rolled out its
//! image) or failed (a sync error, a pod that cannot start, a rollout past its
//! deadline, or nothing live within `SLIPWAY_ROLLOUT_TIMEOUT`). What it waits
//! for goes to the deployment's log whenever it changes, so the pusher sees
//! the rollout progress. It only reads the cluster; Argo CD does the applying.
//!
//! Its work list is the store's ([`Store::awaiting_cluster`]), so a restarted
//! control plane picks up where it left off.
//!
//! [`Store::awaiting_cluster`]: slipway_store::Store::awaiting_cluster

use std::collections::HashMap;
use std::time::Duration;

use slipway_cluster::{verdict, Expected, Verdict};
use slipway_core::ids::DeploymentId;
use slipway_core::redact::Redactor;
use slipway_core::timestamp::Timestamp;
use slipway_gitops::AppPath;
use slipway_store::{Actor, AwaitingCluster, StoreError};
use tokio::sync::watch;

use crate::deploy::Failure;
use crate::kubernetes::ReadBack;
use crate::log::DeployLog;
use crate::Pipeline;

/// Reads the cluster for every awaiting deployment each `interval` until `stopped`.
pub(crate) async fn watch(pipeline: Pipeline, read_back: ReadBack, mut stopped: watch::Receiver<bool>) {
    // What each deployment last waited for, so the log says it once.
    let mut last_said: HashMap<DeploymentId, String> = HashMap::new();
    loop {
        match pipeline.store.awaiting_cluster().await {
            Ok(awaiting) => {
                last_said.retain(|id, _| awaiting.iter().any(|wait| &wait.deployment == id));
                for wait in awaiting {
                    if let Err(err) = pipeline.settle(&read_back, &wait, &mut last_said).await {
                        tracing::warn!(deployment = %wait.deployment, %err, "recording the cluster's verdict failed");
                    }
                }
            }
            Err(err) => tracing::warn!(%err, "listing deployments awaiting the cluster failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(read_back.interval) => {}
            _ = stopped.wait_for(|stop| *stop) => return,
        }
    }
}

impl Pipeline {
    /// Reads the cluster for one deployment and records the verdict when there is one.
    async fn settle(
        &self,
        read_back: &ReadBack,
        wait: &AwaitingCluster,
        last_said: &mut HashMap<DeploymentId, String>,
    ) -> Result<(), StoreError> {
        let verdict = match self.judge(read_back, wait).await {
            Verdict::Waiting(text) => {
                let waited = Duration::from_millis(
                    u64::try_from(Timestamp::now().as_millis() - wait.committed_at.as_millis()).unwrap_or(0),
                );
                if waited < read_back.deadline {
                    if last_said.get(&wait.deployment) != Some(&text) {
                        self.deployment_log(&wait.deployment).await?.line(format!("       {text}")).await;
                        last_said.insert(wait.deployment.clone(), text);
                    }
                    return Ok(());
                }
                Verdict::Failed(format!("not live in the cluster after {}: {text}", minutes(read_back.deadline)))
            }
            decided => decided,
        };
        let log = self.deployment_log(&wait.deployment).await?;
        let (workspace, environment, release) = (&wait.workspace_id, &wait.environment_id, &wait.release);
        match verdict {
            Verdict::Live => {
                // Logged before the status changes: log readers stop at DEPLOYED.
                log.step(format!("Deployment #{} is live in the cluster (Argo CD: synced, Healthy)", wait.number))
                    .await;
                self.store.release_live(&Actor::cluster(), workspace, environment, release, None).await
            }
            Verdict::Failed(reason) => {
                log.step(format!("Deployment #{} failed in the cluster: {reason}", wait.number)).await;
                self.restore_live_release(wait, &log).await?;
                self.store.release_failed(&Actor::cluster(), workspace, environment, release, &reason).await
            }
            Verdict::Waiting(_) => Ok(()),
        }
    }

    /// The cluster's verdict on `wait`; trouble reading it is something to wait out.
    async fn judge(&self, read_back: &ReadBack, wait: &AwaitingCluster) -> Verdict {
        let path = AppPath {
            workspace: wait.workspace.clone(),
            project: wait.project.clone(),
            environment: wait.environment.clone(),
        };
        let writer = match self.kubernetes.writer().await {
            Ok(writer) => writer,
            Err(reason) => {
                return Verdict::Waiting(format!("cannot open the GitOps repository: {}", self.hide_remote(reason)))
            }
        };
        let expected = Expected {
            argocd_namespace: self.kubernetes.argo().argocd_namespace,
            application: path.application_name(),
            // The environment's namespace is named like its Application.
            namespace: path.application_name(),
            revision: wait.gitops_commit.clone(),
            image: wait.image.clone(),
        };
        let seen = match read_back.cluster.observe(&expected).await {
            Ok(seen) => seen,
            Err(err) => return Verdict::Waiting(format!("cannot read the cluster: {err}")),
        };
        // Comparing revisions runs git, so off the async threads.
        tokio::task::spawn_blocking(move || {
            verdict(&expected, &seen, |revision| writer.includes(revision, &expected.revision).unwrap_or(false))
        })
        .await
        .unwrap_or_else(|err| Verdict::Waiting(format!("judging the rollout stopped: {err}")))
    }

    /// After a failure in the cluster, commits the release the environment still runs again, so
    /// the repository says what runs and Argo CD stops trying the failed one (whose rollout never
    /// took the old pods away: `maxUnavailable: 0`). A first deployment has nothing to go back to.
    async fn restore_live_release(&self, wait: &AwaitingCluster, log: &DeployLog) -> Result<(), StoreError> {
        let Some(active) = &wait.active_release else { return Ok(()) };
        let source =
            self.store.render_source(&wait.workspace_id, &wait.project, &wait.environment, Some(active)).await?;
        let Some(image) = source.image else { return Ok(()) };
        let context = self.store.deployment_context(&wait.workspace_id, &wait.deployment).await?;
        match self.commit_manifests(&wait.workspace_id, &context, active, &image, log).await {
            Ok(_) => log.step(format!("Restored the live release #{} in the GitOps repository", source.number)).await,
            Err(Failure::Store(err)) => return Err(err),
            Err(Failure::Deploy(reason)) => {
                log.step(format!("Could not restore the live release #{} in GitOps: {reason}", source.number)).await
            }
        }
        Ok(())
    }

    async fn deployment_log(&self, id: &DeploymentId) -> Result<DeployLog, StoreError> {
        DeployLog::open(&self.layout.deployment_log(id), Redactor::new(std::iter::empty::<(&str, &str)>()))
            .await
            .map_err(|err| StoreError::Corrupt(format!("cannot open the deployment log: {err}")))
    }
}

/// `10 min`, `90 s`: a duration as the log shows it.
pub(crate) fn minutes(duration: Duration) -> String {
    match duration.as_secs() {
        secs if secs >= 60 && secs % 60 == 0 => format!("{} min", secs / 60),
        secs => format!("{secs} s"),
    }
}
