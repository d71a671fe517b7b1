//! The part of a kubeconfig Slipway needs: the current context's server, the
//! certificate authority that signs it, and the user's credentials (a bearer
//! token or a client certificate). Everything is read and checked when the
//! control plane starts, so a broken file is one clear error then, not a
//! failed deployment later.
//!
//! Exec and auth-provider plugins are refused: they run programs on the
//! control plane's behalf, and a service account token does the same job.

use std::path::{Path, PathBuf};

use base64::Engine;
use serde::Deserialize;

use crate::error::ClusterError;

/// Where the cluster is and how to prove who we are to it.
#[derive(Clone)]
pub struct ClusterAccess {
    /// The context used (the file's `current-context`), for messages.
    pub context: String,
    /// `https://host:port` (or `http://` for a local proxy such as `kubectl proxy`).
    pub server: String,
    /// PEM of the certificate authority; `None` trusts the usual web roots.
    pub ca_pem: Option<Vec<u8>>,
    pub skip_tls_verify: bool,
    pub credentials: Credentials,
}

#[derive(Clone)]
pub enum Credentials {
    None,
    Token(String),
    /// A token file read again for every request: service account tokens are rotated on disk.
    TokenFile(PathBuf),
    /// PEM of the client certificate and of its private key.
    ClientCertificate {
        cert_pem: Vec<u8>,
        key_pem: Vec<u8>,
    },
}

impl std::fmt::Debug for ClusterAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let credentials = match self.credentials {
            Credentials::None => "none",
            Credentials::Token(_) => "token (hidden)",
            Credentials::TokenFile(_) => "token file",
            Credentials::ClientCertificate { .. } => "client certificate",
        };
        f.debug_struct("ClusterAccess")
            .field("context", &self.context)
            .field("server", &self.server)
            .field("ca", &self.ca_pem.as_ref().map(|_| "set"))
            .field("skip_tls_verify", &self.skip_tls_verify)
            .field("credentials", &credentials)
            .finish()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Kubeconfig {
    #[serde(default)]
    clusters: Vec<Named<Cluster>>,
    #[serde(default)]
    users: Vec<Named<User>>,
    #[serde(default)]
    contexts: Vec<Named<Context>>,
    #[serde(default)]
    current_context: String,
}

#[derive(Deserialize)]
struct Named<T> {
    name: String,
    #[serde(alias = "cluster", alias = "user", alias = "context")]
    value: T,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Cluster {
    server: String,
    certificate_authority: Option<PathBuf>,
    certificate_authority_data: Option<String>,
    #[serde(default)]
    insecure_skip_tls_verify: bool,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
struct User {
    token: Option<String>,
    token_file: Option<PathBuf>,
    client_certificate: Option<PathBuf>,
    client_certificate_data: Option<String>,
    client_key: Option<PathBuf>,
    client_key_data: Option<String>,
    exec: Option<serde_norway::Value>,
    auth_provider: Option<serde_norway::Value>,
    username: Option<String>,
}

#[derive(Deserialize)]
struct Context {
    cluster: String,
    user: Option<String>,
}

/// Where Kubernetes mounts a pod's service account.
const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

impl ClusterAccess {
    /// The cluster a pod runs in, as its service account reaches it (`SLIPWAY_KUBECONFIG=in-cluster`):
    /// the API server from `KUBERNETES_SERVICE_HOST`/`_PORT`, the CA and a token that is re-read
    /// as the kubelet rotates it.
    pub fn in_cluster() -> Result<Self, ClusterError> {
        let var = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
        Self::in_cluster_from(
            var("KUBERNETES_SERVICE_HOST"),
            var("KUBERNETES_SERVICE_PORT"),
            Path::new(SERVICE_ACCOUNT_DIR),
        )
    }

    fn in_cluster_from(host: Option<String>, port: Option<String>, dir: &Path) -> Result<Self, ClusterError> {
        let fail = |reason: String| ClusterError::Kubeconfig { path: "in-cluster".into(), reason };
        let (Some(host), Some(port)) = (host, port) else {
            return Err(fail(
                "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set: this is not a pod".into(),
            ));
        };
        // An IPv6 service address needs brackets in a URL.
        let host = if host.contains(':') { format!("[{host}]") } else { host };
        let ca = dir.join("ca.crt");
        let ca_pem = std::fs::read(&ca).map_err(|err| fail(format!("cannot read {}: {err}", ca.display())))?;
        let token = dir.join("token");
        read_token(&token).map_err(fail)?;
        Ok(Self {
            context: "in-cluster".into(),
            server: format!("https://{host}:{port}"),
            ca_pem: Some(ca_pem),
            skip_tls_verify: false,
            credentials: Credentials::TokenFile(token),
        })
    }

    /// Reads the kubeconfig at `path` (relative file references resolve against its folder,
    /// as kubectl does).
    pub fn from_kubeconfig(path: &Path) -> Result<Self, ClusterError> {
        let text = std::fs::read_to_string(path).map_err(|err| invalid(path, format!("cannot read it: {err}")))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, base).map_err(|reason| invalid(path, reason))
    }

    fn parse(text: &str, base: &Path) -> Result<Self, String> {
        let config: Kubeconfig =
            serde_norway::from_str(text).map_err(|err| format!("it is not a kubeconfig: {err}"))?;
        if config.current_context.is_empty() {
            return Err("it has no current-context; set one with `kubectl config use-context NAME`".into());
        }
        let context = find(&config.contexts, &config.current_context, "context")?;
        let cluster = find(&config.clusters, &context.cluster, "cluster")?;
        let user = match &context.user {
            Some(name) if !name.is_empty() => find(&config.users, name, "user")?,
            _ => &User::default(),
        };
        let server = cluster.server.trim_end_matches('/').to_owned();
        if !(server.starts_with("https://") || server.starts_with("http://")) || reqwest::Url::parse(&server).is_err() {
            return Err(format!("the server of cluster `{}` is not an http(s) URL: `{server}`", context.cluster));
        }
        let ca_pem = pem_source(
            base,
            "certificate-authority",
            &cluster.certificate_authority,
            &cluster.certificate_authority_data,
        )?;
        Ok(Self {
            context: config.current_context.clone(),
            server,
            ca_pem,
            skip_tls_verify: cluster.insecure_skip_tls_verify,
            credentials: credentials(base, user)?,
        })
    }
}

fn credentials(base: &Path, user: &User) -> Result<Credentials, String> {
    if user.exec.is_some() || user.auth_provider.is_some() {
        return Err("its user authenticates with an exec or auth-provider plugin, which Slipway does not run; give \
                    Slipway a service account token (`token:`) or a client certificate instead"
            .into());
    }
    if user.username.is_some() {
        return Err("its user authenticates with a username and password, which Kubernetes no longer accepts; use a \
                    token or a client certificate"
            .into());
    }
    if let Some(token) = &user.token {
        return Ok(Credentials::Token(token.trim().to_owned()));
    }
    if let Some(file) = &user.token_file {
        let path = base.join(file);
        read_token(&path)?;
        return Ok(Credentials::TokenFile(path));
    }
    let cert = pem_source(base, "client-certificate", &user.client_certificate, &user.client_certificate_data)?;
    let key = pem_source(base, "client-key", &user.client_key, &user.client_key_data)?;
    match (cert, key) {
        (Some(cert_pem), Some(key_pem)) => Ok(Credentials::ClientCertificate { cert_pem, key_pem }),
        (None, None) => Ok(Credentials::None),
        _ => Err("its user has a client certificate without a key, or a key without a certificate".into()),
    }
}

/// A PEM given as a file path or inline as base64 (`…-data`); the inline one wins, as in kubectl.
fn pem_source(
    base: &Path,
    what: &str,
    path: &Option<PathBuf>,
    data: &Option<String>,
) -> Result<Option<Vec<u8>>, String> {
    let pem = match (data, path) {
        (Some(data), _) => base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map_err(|err| format!("{what}-data is not base64: {err}"))?,
        (None, Some(path)) => {
            let path = base.join(path);
            std::fs::read(&path).map_err(|err| format!("cannot read {what} {}: {err}", path.display()))?
        }
        (None, None) => return Ok(None),
    };
    if !pem.starts_with(b"-----BEGIN ") {
        return Err(format!("{what} is not PEM"));
    }
    Ok(Some(pem))
}

/// The token in `path`, trimmed; an empty file is an error.
pub(crate) fn read_token(path: &Path) -> Result<String, String> {
    let token =
        std::fs::read_to_string(path).map_err(|err| format!("cannot read token file {}: {err}", path.display()))?;
    let token = token.trim();
    if token.is_empty() {
        return Err(format!("the token file {} is empty", path.display()));
    }
    Ok(token.to_owned())
}

fn find<'a, T>(items: &'a [Named<T>], name: &str, what: &str) -> Result<&'a T, String> {
    items
        .iter()
        .find(|item| item.name == name)
        .map(|item| &item.value)
        .ok_or_else(|| format!("it names {what} `{name}`, which it does not define"))
}

fn invalid(path: &Path, reason: String) -> ClusterError {
    ClusterError::Kubeconfig { path: path.display().to_string(), reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CA: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

    fn b64(text: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(text)
    }

    fn config(user: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: prod\nclusters:\n- name: c1\n  cluster:\n    server: https://10.0.0.1:6443/\n    certificate-authority-data: {}\ncontexts:\n- name: prod\n  context:\n    cluster: c1\n    user: u1\nusers:\n- name: u1\n  user:\n{user}\n",
            b64(CA)
        )
    }

    #[test]
    fn token_user_with_inline_ca() {
        let access = ClusterAccess::parse(&config("    token: abc.def\n"), Path::new("/")).unwrap();
        assert_eq!(access.context, "prod");
        assert_eq!(access.server, "https://10.0.0.1:6443");
        assert_eq!(access.ca_pem.as_deref(), Some(CA.as_bytes()));
        assert!(matches!(access.credentials, Credentials::Token(ref t) if t == "abc.def"));
        assert!(!format!("{access:?}").contains("abc.def"), "the token is not shown");
    }

    #[test]
    fn client_certificate_files_resolve_against_the_kubeconfig_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("c.pem"), CA).unwrap();
        std::fs::write(dir.path().join("k.pem"), "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n")
            .unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, config("    client-certificate: c.pem\n    client-key: k.pem\n")).unwrap();
        let access = ClusterAccess::from_kubeconfig(&path).unwrap();
        assert!(matches!(access.credentials, Credentials::ClientCertificate { .. }));
    }

    #[test]
    fn in_a_pod_the_service_account_is_used_and_its_token_read_again_each_time() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.crt"), CA).unwrap();
        std::fs::write(dir.path().join("token"), "first\n").unwrap();
        let access = ClusterAccess::in_cluster_from(Some("10.96.0.1".into()), Some("443".into()), dir.path()).unwrap();
        assert_eq!((access.server.as_str(), access.context.as_str()), ("https://10.96.0.1:443", "in-cluster"));
        assert!(matches!(access.credentials, Credentials::TokenFile(ref path) if path == &dir.path().join("token")));
        let v6 = ClusterAccess::in_cluster_from(Some("fd00::1".into()), Some("443".into()), dir.path()).unwrap();
        assert_eq!(v6.server, "https://[fd00::1]:443");

        let outside = ClusterAccess::in_cluster_from(None, None, dir.path()).unwrap_err().to_string();
        assert!(outside.contains("not a pod"), "{outside}");
        std::fs::write(dir.path().join("token"), "\n").unwrap();
        let empty = ClusterAccess::in_cluster_from(Some("h".into()), Some("443".into()), dir.path()).unwrap_err();
        assert!(empty.to_string().contains("is empty"), "{empty}");
    }

    #[test]
    fn broken_kubeconfigs_are_refused_with_the_reason() {
        let cases = [
            ("not: [valid", "not a kubeconfig"),
            ("clusters: []\n", "no current-context"),
            ("current-context: x\n", "context `x`"),
            (&config("    exec:\n      command: aws\n"), "exec or auth-provider"),
            (&config("    username: admin\n    password: p\n"), "username and password"),
            (&config("    client-certificate-data: bm90IHBlbQ==\n"), "not PEM"),
            (&config("    client-key-data: '%%%'\n"), "not base64"),
            (&config("    token-file: /nonexistent/token\n"), "cannot read token file"),
            (&config("    token: t\n").replace("https://10.0.0.1:6443/", "10.0.0.1:6443"), "not an http(s) URL"),
            (&config("    token: t\n").replace("cluster: c1", "cluster: c2"), "cluster `c2`"),
        ];
        for (text, expected) in cases {
            let err = ClusterAccess::parse(text, Path::new("/")).err().unwrap_or_else(|| panic!("accepted:\n{text}"));
            assert!(err.contains(expected), "{err} (expected `{expected}`)");
        }
        let missing = ClusterAccess::from_kubeconfig(Path::new("/nonexistent/kubeconfig")).unwrap_err().to_string();
        assert!(missing.contains("/nonexistent/kubeconfig") && missing.contains("cannot read"), "{missing}");
    }
}
