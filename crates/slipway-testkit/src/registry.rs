//! A real registry for the tests: Debian's `docker-registry` (CNCF
//! Distribution) started on a loopback port with its storage in a temp dir,
//! optionally behind htpasswd Basic auth, and killed when dropped.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

pub const INSTALL: &str = "apt-get install -y docker-registry";

enum Auth<'a> {
    Htpasswd { username: &'a str, password: &'a str },
    Token { realm: &'a str, cert_pem: &'a str, issuer: &'a str, service: &'a str },
}

pub struct TestRegistry {
    pub host: String,
    child: Child,
    _storage: tempfile::TempDir,
}

impl TestRegistry {
    /// A registry anyone may push to.
    pub async fn start() -> Self {
        Self::start_with(None).await
    }

    /// A registry that only `username:password` may use (htpasswd, bcrypt).
    pub async fn start_with_login(username: &str, password: &str) -> Self {
        Self::start_with(Some(Auth::Htpasswd { username, password })).await
    }

    /// A registry that takes bearer tokens from `realm`, signed by the key of `cert_pem`.
    pub async fn start_with_token(realm: &str, cert_pem: &str, issuer: &str, service: &str) -> Self {
        Self::start_with(Some(Auth::Token { realm, cert_pem, issuer, service })).await
    }

    async fn start_with(auth: Option<Auth<'_>>) -> Self {
        let binary = ["/usr/bin/docker-registry", "/usr/sbin/docker-registry"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or_else(|| panic!("the docker-registry binary is missing; install it with `{INSTALL}`"));
        let storage = tempfile::tempdir().unwrap();
        // Distribution cannot report a port it picked, so a free one is found
        // here and handed over; the short gap is the price of a real registry.
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let host = format!("127.0.0.1:{port}");
        let auth = match auth {
            Some(Auth::Htpasswd { username, password }) => {
                let hash = bcrypt::hash(password, 5).unwrap();
                let htpasswd = storage.path().join("htpasswd");
                std::fs::write(&htpasswd, format!("{username}:{hash}\n")).unwrap();
                format!("auth:\n  htpasswd:\n    realm: slipway-test\n    path: {}\n", htpasswd.display())
            }
            Some(Auth::Token { realm, cert_pem, issuer, service }) => {
                let bundle = storage.path().join("token-issuer.pem");
                std::fs::write(&bundle, cert_pem).unwrap();
                format!(
                    "auth:\n  token:\n    realm: {realm}\n    service: {service}\n    issuer: {issuer}\n    \
                     rootcertbundle: {}\n",
                    bundle.display()
                )
            }
            None => String::new(),
        };
        let config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    \
             rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {host}\n{auth}",
            storage.path().join("data").display()
        );
        let config_path = storage.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        // Distribution logs every 404 at error level; its log is kept for failure messages only.
        let log = std::fs::File::create(storage.path().join("registry.log")).unwrap();
        let child = Command::new(binary)
            .arg("serve")
            .arg(&config_path)
            // The access log goes to stdout, the rest to stderr: one file for both.
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {binary} ({e}); install it with `{INSTALL}`"));
        let mut registry = Self { host, child, _storage: storage };
        registry.wait_ready().await;
        registry
    }

    async fn wait_ready(&mut self) {
        let url = format!("http://{}/v2/", self.host);
        let what = format!("docker-registry to answer on {url}");
        crate::eventually(&what, Duration::from_secs(20), async || {
            if let Some(status) = self.child.try_wait().unwrap() {
                let log = std::fs::read_to_string(self._storage.path().join("registry.log")).unwrap_or_default();
                panic!("docker-registry exited with {status} before answering on {url}:\n{log}");
            }
            let status = reqwest::get(&url).await.ok()?.status();
            (status.is_success() || status == 401).then_some(())
        })
        .await;
    }

    /// The registry's log so far, access log included: the tests count requests in it.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self._storage.path().join("registry.log")).unwrap()
    }

    /// Access-log lines of requests whose first line starts with `request` (e.g. `PUT /v2/x/blobs/`), by status.
    pub fn requests(&self, request: &str, status: u16) -> usize {
        let needle = format!("\"{request}");
        self.log().lines().filter(|l| l.contains(&needle) && l.contains(&format!("\" {status} "))).count()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.host)
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
