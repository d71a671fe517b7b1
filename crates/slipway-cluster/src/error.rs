use thiserror::Error;

#[derive(Debug, Error)]
pub enum ClusterError {
    #[error("the kubeconfig {path} cannot be used: {reason}")]
    Kubeconfig { path: String, reason: String },
    /// The token file, read for every request, cannot be read (any more).
    #[error("the cluster token cannot be read: {reason}")]
    Token { reason: String },
    /// The client could not be built from the kubeconfig's certificates.
    #[error("the kubeconfig's {what} cannot be used: {reason}")]
    Tls { what: &'static str, reason: String },
    /// No answer: connection refused, DNS, TLS handshake, timeout.
    #[error("the cluster at {server} (context `{context}`) cannot be reached: {reason}")]
    Unreachable { server: String, context: String, reason: String },
    #[error("the cluster (context `{context}`) refused the credentials: {status} {message}")]
    Refused { context: String, status: u16, message: String },
    #[error("the cluster answered {path} with {status}: {message}")]
    Status { path: String, status: u16, message: String },
    #[error("the cluster's answer to {path} is not what Kubernetes sends: {reason}")]
    Decode { path: String, reason: String },
}
