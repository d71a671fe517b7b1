//! Slipway's Kubernetes target: renders an environment into Kubernetes
//! manifests built from typed `k8s-openapi` structs, renders the Argo CD
//! objects that confine each workspace, and commits both to a GitOps
//! repository with the system `git`. Nothing here talks to a cluster: Argo CD
//! applies what is committed.
//!
//! # Public API
//!
//! * [`AppEnvironment`] + [`ClusterSettings`] → [`render_environment`] →
//!   [`Manifests`] (one YAML file per object, deterministic bytes). Inputs are
//!   checked first; a name Kubernetes would refuse is a [`GitopsError`]. The
//!   image (`slipway_core::image_ref::ReleaseImage`: Slipway's immutable tag),
//!   process types, resources and quotas are typed in `slipway_core`, so no
//!   floating tag, unrenderable process type or bad quantity gets this far.
//! * [`argo::render_root`] and [`argo::render_workspace`] → the `bootstrap/`
//!   files (root Application; per workspace an AppProject and an ApplicationSet
//!   whose `project` is the literal `ws-<workspace>`).
//! * [`RepoWriter::open`] with a [`WriterSettings`] (a persistent working clone
//!   directory, the remote, [`ArgoSettings`]); then [`RepoWriter::deploy`]
//!   (render + commit + push, returns the [`Commit`] SHA to record on the
//!   deployment), [`RepoWriter::rollback`] (a new commit restoring the folder
//!   of an earlier release's commit), [`RepoWriter::remove`] (an environment
//!   leaves the cluster), [`RepoWriter::commit_apps`] (many folders in one
//!   commit, e.g. a re-render of every app) and [`RepoWriter::history`].
//! * [`InstallSettings`] → [`render_install`] → the control plane's own
//!   manifests (`slipway gitops install`), see [`install`].
//! * [`app_environment`] builds an [`AppEnvironment`] from stored strings (a
//!   [`ReleaseSource`]); the deploy pipeline and the API's manifest preview share it.
//!
//! # Repository layout
//!
//! ```text
//! bootstrap/application-slipway-root.yaml              applied once by hand; syncs bootstrap/workspaces/
//! bootstrap/workspaces/<ws>/appproject-ws-<ws>.yaml    only <ws>'s namespaces, only this repo, only Namespace cluster-wide
//! bootstrap/workspaces/<ws>/applicationset-ws-<ws>.yaml  git directory generator over apps/<ws>/*/*
//! apps/<ws>/<project>/<environment>/<kind>-<name>.yaml one file per object, folder replaced wholesale
//! ```
//!
//! # Decisions
//!
//! * **Namespace** per environment: `<workspace>-<project>-<environment>` (one
//!   RFC 1123 label, so at most 63 characters), Pod Security `restricted`.
//!   Two folders that would share a namespace (`a-b/c/x` and `a/b-c/x`) are
//!   refused by the writer with [`GitopsError::NamespaceTaken`].
//! * **Resources**: each container's limits are the environment's figures (the same ones
//!   the local target turns into cgroup limits); its memory request equals the limit (the
//!   scheduler reserves what the OOM killer enforces) and its CPU request is a quarter of the
//!   limit (at least 10m): cores are shared the way the local target shares them, capped at the
//!   figure. `max_processes` has no per-pod field in Kubernetes (the kubelet's `podPidsLimit`
//!   applies). The workspace's quota becomes each namespace's ResourceQuota (see [`Quota`]).
//! * **Secrets** are never in git: secret config vars carry no value here
//!   ([`ConfigVar::Secret`]) and become an `external-secrets.io/v1beta1`
//!   ExternalSecret naming one key per var in a configurable ClusterSecretStore.
//!   Plain vars go to a ConfigMap.
//! * **YAML**: `serde_norway` (the maintained fork of the archived
//!   `serde_yaml`), one file per object so a change is a one-file diff.
//! * **Unchanged render** → no commit; the head SHA is returned with
//!   `created: false`, so re-running a deployment never pushes twice.
//! * **Concurrency**: each attempt starts from the fetched remote head and a
//!   lost push race re-applies the change on the new head (bounded,
//!   [`WriterSettings::max_attempts`]). One [`RepoWriter`] per working clone;
//!   it serialises its own callers.

//! # Pointing Argo CD at the repository
//!
//! 1. Give Argo CD read access to the repository (`argocd repo add <url>` or a
//!    repository Secret in the `argocd` namespace); the URL must equal
//!    [`ArgoSettings::repo_url`], since each AppProject allows only that one.
//! 2. Once, by hand: `kubectl apply -n argocd -f bootstrap/application-slipway-root.yaml`.
//!    From then on every workspace's AppProject and ApplicationSet, and through
//!    them every app, are synced from git.
//! 3. The cluster needs an ingress controller (class [`ClusterSettings::ingress_class`]
//!    in namespace [`ClusterSettings::ingress_namespace`]), cert-manager with the
//!    ClusterIssuer [`ClusterSettings::cert_issuer`], and the external-secrets
//!    operator with the ClusterSecretStore [`ClusterSettings::secret_store`].

pub mod argo;
pub mod error;
pub mod input;
pub mod install;
pub mod manifests;
pub mod naming;
pub mod render;
pub mod repo;
pub mod source;

pub use argo::ArgoSettings;
pub use error::GitopsError;
pub use input::{AppEnvironment, Autoscaling, ClusterSettings, ConfigVar, Process, Quota};
pub use install::{render_install, to_apply_stream, InstallSettings};
pub use manifests::Manifests;
pub use render::render_environment;
pub use repo::{AppPath, Commit, HistoryEntry, RepoWriter, WriterSettings};
pub use source::{app_environment, ReleaseSource};
