//! Pebble (Let's Encrypt's RFC 8555 test server, Debian package `pebble`) and a dnsmasq that
//! resolves every name to 127.0.0.1, on loopback ports: the CA of the ACME tests of the router
//! and of `slipway up`. Pebble's HTTP-01 validation is real: it resolves the name through
//! the dnsmasq and fetches the challenge from the port the test names. Validation is never
//! switched off; only Pebble's chaos settings (random pauses, random nonce rejection) are.
//!
//! Needs `pebble`, `dnsmasq` and `openssl` (`apt-get install -y pebble dnsmasq openssl`); fails
//! naming that command when one is missing.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::process::{Child, Command};

fn require(binary: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin", "/bin", "/sbin"] {
        let path = Path::new(dir).join(binary);
        if path.is_file() {
            return path;
        }
    }
    panic!("`{binary}` is not installed: the ACME tests need it (apt-get install -y pebble dnsmasq openssl)");
}

/// A loopback port nothing listens on now, for servers that take a port number rather than a
/// listening socket (the OS picks it, as binding port 0 does).
/// Loopback ports for Pebble and dnsmasq, held open until they start so that the kernel cannot
/// hand one out twice (to each other or to a test running alongside). The DNS port is free for
/// both UDP and TCP, as dnsmasq listens on both.
#[derive(Default)]
struct Reserved {
    tcp: Vec<std::net::TcpListener>,
    udp: Vec<std::net::UdpSocket>,
}

impl Reserved {
    fn tcp_port(&mut self) -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
        let port = listener.local_addr().expect("a bound port").port();
        self.tcp.push(listener);
        port
    }

    fn dns_port(&mut self) -> u16 {
        loop {
            let port = self.tcp_port();
            if let Ok(socket) = std::net::UdpSocket::bind(("127.0.0.1", port)) {
                self.udp.push(socket);
                return port;
            }
        }
    }
}

async fn wait_for_port(port: u16, child: &mut Child, what: &str) {
    let listening = format!("{what} to listen on 127.0.0.1:{port}");
    crate::eventually(&listening, Duration::from_secs(10), async || {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited early: {status}");
        }
        TcpStream::connect(("127.0.0.1", port)).await.ok().map(drop)
    })
    .await;
}

/// A Pebble CA: prepared first (ports and its API certificate, so the directory URL is known
/// before whoever uses it starts), then started with the port HTTP-01 validation must reach.
pub struct Pebble {
    dir: tempfile::TempDir,
    /// Pebble's own API certificate (Debian ships none): trust it to talk to the directory.
    pub api_cert: PathBuf,
    api_key: PathBuf,
    api_port: u16,
    management_port: u16,
    tls_port: u16,
    dns_port: u16,
    reserved: Reserved,
    children: Vec<Child>,
}

impl Pebble {
    pub fn prepare() -> Pebble {
        require("pebble");
        require("dnsmasq");
        let dir = tempfile::tempdir().expect("a scratch directory");
        let (api_cert, api_key) = (dir.path().join("api.pem"), dir.path().join("api-key.pem"));
        // An end-entity certificate: rustls refuses a CA certificate as a server's own.
        let config = dir.path().join("openssl.cnf");
        std::fs::write(
            &config,
            "[req]\ndistinguished_name = dn\nx509_extensions = ext\nprompt = no\n[dn]\nCN = localhost\n\
             [ext]\nbasicConstraints = critical,CA:FALSE\nsubjectAltName = IP:127.0.0.1,DNS:localhost\n",
        )
        .expect("writing the openssl config");
        let made = std::process::Command::new(require("openssl"))
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2"])
            .arg("-config")
            .arg(&config)
            .arg("-keyout")
            .arg(&api_key)
            .arg("-out")
            .arg(&api_cert)
            .stderr(Stdio::null())
            .status()
            .expect("running openssl");
        assert!(made.success(), "openssl could not make Pebble's API certificate");
        let mut reserved = Reserved::default();
        let (api_port, management_port, tls_port) = (reserved.tcp_port(), reserved.tcp_port(), reserved.tcp_port());
        let dns_port = reserved.dns_port();
        Pebble { dir, api_cert, api_key, api_port, management_port, tls_port, dns_port, reserved, children: Vec::new() }
    }

    /// The ACME directory URL.
    pub fn directory_url(&self) -> String {
        format!("https://127.0.0.1:{}/dir", self.api_port)
    }

    /// Starts dnsmasq and Pebble; Pebble validates HTTP-01 challenges on `http_port` of
    /// 127.0.0.1, whatever the name.
    pub async fn start(&mut self, http_port: u16) {
        let dns_port = self.dns_port;
        // Released only now, just before the processes bind them.
        self.reserved = Reserved::default();
        let mut dnsmasq = Command::new(require("dnsmasq"))
            .args(["--no-daemon", "--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--pid-file="])
            .args(["--listen-address=127.0.0.1", "--bind-interfaces", "--address=/#/127.0.0.1"])
            .arg(format!("--port={dns_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("starting dnsmasq");
        // dnsmasq also listens on TCP on its port.
        wait_for_port(dns_port, &mut dnsmasq, "dnsmasq").await;
        self.children.push(dnsmasq);

        let config = serde_json::json!({
            "pebble": {
                "listenAddress": format!("127.0.0.1:{}", self.api_port),
                "managementListenAddress": format!("127.0.0.1:{}", self.management_port),
                "certificate": self.api_cert,
                "privateKey": self.api_key,
                "httpPort": http_port,
                "tlsPort": self.tls_port,
                "ocspResponderURL": "",
                "externalAccountBindingRequired": false
            }
        });
        let config_path = self.dir.path().join("pebble.json");
        std::fs::write(&config_path, config.to_string()).expect("writing Pebble's config");
        let mut pebble = Command::new(require("pebble"))
            .arg("-config")
            .arg(&config_path)
            .arg("-dnsserver")
            .arg(format!("127.0.0.1:{dns_port}"))
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdout(Stdio::null())
            .stderr(crate::child_output())
            .kill_on_drop(true)
            .spawn()
            .expect("starting pebble");
        wait_for_port(self.api_port, &mut pebble, "pebble").await;
        wait_for_port(self.management_port, &mut pebble, "pebble management").await;
        self.children.push(pebble);
    }

    /// The root that issues Pebble's certificates (PEM), from its management API.
    pub async fn root_pem(&self) -> Vec<u8> {
        let api_cert = std::fs::read(&self.api_cert).expect("reading Pebble's API certificate");
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&api_cert).expect("a PEM certificate"))
            .build()
            .expect("a client");
        let url = format!("https://127.0.0.1:{}/roots/0", self.management_port);
        let response = client.get(url).send().await.expect("Pebble's root");
        response.bytes().await.expect("Pebble's root").to_vec()
    }
}
