//! Reading a Kubernetes cluster back for the Kubernetes target. Slipway never
//! writes to a cluster (Argo CD applies the GitOps repository); with a
//! kubeconfig it reads whether a committed deployment went live:
//!
//! - `kubeconfig.rs` — the current context's server, CA and credentials;
//! - `client.rs` — a read-only GET client over rustls;
//! - `rollout.rs` — the Application, Deployments and Pods of one environment,
//!   and the verdict: waiting, live or failed with the reason.

mod client;
mod error;
mod kubeconfig;
pub mod rollout;

pub use client::Cluster;
pub use error::ClusterError;
pub use kubeconfig::{ClusterAccess, Credentials};
pub use rollout::{verdict, Expected, Observation, Verdict};
