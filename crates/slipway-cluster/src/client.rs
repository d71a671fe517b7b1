//! A small read-only client of the Kubernetes API: GET of a path, decoded into
//! `k8s-openapi` types (or our own for Argo CD's Application). Slipway never
//! writes to a cluster — Argo CD applies what the GitOps repository holds —
//! so this is all it needs, and far less than a full client library.

use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::error::ClusterError;
use crate::kubeconfig::{read_token, ClusterAccess, Credentials};

/// How long one request may take; a cluster slower than this is treated as unreachable.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct Cluster {
    access: ClusterAccess,
    http: reqwest::Client,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.access.fmt(f)
    }
}

impl Cluster {
    pub fn new(access: ClusterAccess) -> Result<Self, ClusterError> {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .danger_accept_invalid_certs(access.skip_tls_verify);
        if let Some(ca) = &access.ca_pem {
            for cert in reqwest::Certificate::from_pem_bundle(ca).map_err(|err| tls("certificate authority", err))? {
                builder = builder.add_root_certificate(cert);
            }
        }
        if let Credentials::ClientCertificate { cert_pem, key_pem } = &access.credentials {
            let pem = [key_pem.as_slice(), b"\n", cert_pem.as_slice()].concat();
            let identity = reqwest::Identity::from_pem(&pem).map_err(|err| tls("client certificate", err))?;
            builder = builder.identity(identity);
        }
        let http = builder.build().map_err(|err| tls("TLS settings", err))?;
        Ok(Self { access, http })
    }

    /// The cluster's version (`GET /version`): proves it answers and accepts our credentials.
    pub async fn version(&self) -> Result<String, ClusterError> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Version {
            git_version: String,
        }
        let version: Option<Version> = self.get("/version").await?;
        Ok(version.map(|v| v.git_version).unwrap_or_default())
    }

    /// GET `path` decoded as `T`; `None` when the object does not exist (404).
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>, ClusterError> {
        let mut request = self.http.get(format!("{}{path}", self.access.server)).header("accept", "application/json");
        match &self.access.credentials {
            Credentials::Token(token) => request = request.bearer_auth(token),
            Credentials::TokenFile(path) => {
                let token = read_token(path).map_err(|reason| ClusterError::Token { reason })?;
                request = request.bearer_auth(token);
            }
            Credentials::None | Credentials::ClientCertificate { .. } => {}
        }
        let response = request.send().await.map_err(|err| ClusterError::Unreachable {
            server: self.access.server.clone(),
            context: self.access.context.clone(),
            reason: slipway_core::causes::with_causes(&err),
        })?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(|err| ClusterError::Unreachable {
            server: self.access.server.clone(),
            context: self.access.context.clone(),
            reason: slipway_core::causes::with_causes(&err),
        })?;
        match status {
            200 => serde_json::from_slice(&body)
                .map(Some)
                .map_err(|err| ClusterError::Decode { path: path.to_owned(), reason: err.to_string() }),
            404 => Ok(None),
            401 | 403 => Err(ClusterError::Refused {
                context: self.access.context.clone(),
                status,
                message: status_message(&body),
            }),
            _ => Err(ClusterError::Status { path: path.to_owned(), status, message: status_message(&body) }),
        }
    }
}

/// The `message` of a Kubernetes `Status` body, else the body's start.
fn status_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Status {
        message: String,
    }
    match serde_json::from_slice::<Status>(body) {
        Ok(status) => status.message,
        Err(_) => String::from_utf8_lossy(&body[..body.len().min(200)]).trim().to_owned(),
    }
}

fn tls(what: &'static str, err: reqwest::Error) -> ClusterError {
    ClusterError::Tls { what, reason: slipway_core::causes::with_causes(&err) }
}
