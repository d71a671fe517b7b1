//! The settings of `slipway up`: each a flag and a `SLIPWAY_*` environment
//! variable (flags win), with defaults that work on a fresh machine.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use slipway_build::{RuntimeMirrors, DEFAULT_PYTHON_RELEASE};
use slipway_cluster::{Cluster, ClusterAccess};
use slipway_core::hostname::{Hostname, PublicUrls};
use slipway_core::quota::ResourceLimits;
use slipway_core::redact::redact_url;
use slipway_core::repo::{AllowedHosts, AllowedPaths, RepoPolicy};
use slipway_core::resources::{Cpu, Memory, Resources};
use slipway_core::retention::ReleaseRetention;
use slipway_image::{ImageRef, RegistrySettings};
use slipway_logs::Rotation;
use slipway_pipeline::{CheckoutLimits, ReadBack};
use slipway_router::AccessLogMode;
use slipway_store::SealingKey;

#[derive(Debug, Clone, Args)]
pub struct UpSettings {
    /// Repositories, builds, caches, logs, the SQLite file and the sealing key.
    /// Default: ~/.local/share/slipway, or /var/lib/slipway as root.
    #[arg(long, env = "SLIPWAY_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// `sqlite://PATH` or `postgres://USER@HOST/DB`. Default: a SQLite file in the data dir.
    #[arg(long, env = "SLIPWAY_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Address of the control plane: API, portal and git.
    #[arg(long, env = "SLIPWAY_API_ADDR", default_value = "127.0.0.1:8080")]
    pub api_addr: SocketAddr,

    /// Address of the edge router that serves the apps (app URLs use its port).
    #[arg(long, env = "SLIPWAY_HTTP_ADDR", default_value = "127.0.0.1:8000")]
    pub http_addr: SocketAddr,

    /// Address of the edge router with TLS; when set, app URLs are https.
    #[arg(long, env = "SLIPWAY_HTTPS_ADDR")]
    pub https_addr: Option<SocketAddr>,

    /// Platform domain of generated hostnames `<project>-<workspace>.<domain>`.
    #[arg(long, env = "SLIPWAY_DOMAIN", default_value = "localhost")]
    pub domain: String,

    /// Password of the bootstrap user `admin` on first start (else generated and printed once).
    #[arg(long, env = "SLIPWAY_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,

    /// Let anyone create an account with `POST /v1/users`.
    #[arg(long, env = "SLIPWAY_OPEN_SIGNUP")]
    pub open_signup: bool,

    /// Key that seals config vars at rest (base64 of 32 bytes). Default: the
    /// file `secret.key` in the data dir, created on first start.
    #[arg(long, env = "SLIPWAY_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,

    /// ACME directory URL (e.g. Let's Encrypt's, a staging CA or an internal one): hostnames
    /// outside `*.localhost` then get certificates from it, validated over HTTP-01 by the edge
    /// router's plain listener (which must be what port 80 of those hostnames reaches).
    /// Needs SLIPWAY_HTTPS_ADDR.
    #[arg(long, env = "SLIPWAY_ACME_DIRECTORY")]
    pub acme_directory: Option<String>,

    /// Contact e-mail for the ACME account.
    #[arg(long, env = "SLIPWAY_ACME_EMAIL")]
    pub acme_email: Option<String>,

    /// PEM file of a CA to trust for the ACME server's own HTTPS API (internal CAs).
    #[arg(long, env = "SLIPWAY_ACME_CA_ROOT")]
    pub acme_ca_root: Option<PathBuf>,

    /// Renew a certificate this long before it expires: a number with s, m, h or d.
    #[arg(long, env = "SLIPWAY_ACME_RENEW_BEFORE", default_value = "30d", value_parser = parse_duration)]
    pub acme_renew_before: std::time::Duration,

    /// OCI registry and repository prefix for images (Kubernetes target), e.g.
    /// registry.example.com/slipway; loopback registries are spoken to over plain HTTP.
    #[arg(long, env = "SLIPWAY_REGISTRY")]
    pub registry: Option<String>,

    /// Registry login (with SLIPWAY_REGISTRY_PASSWORD).
    #[arg(long, env = "SLIPWAY_REGISTRY_USERNAME")]
    pub registry_username: Option<String>,

    /// Registry password or token.
    #[arg(long, env = "SLIPWAY_REGISTRY_PASSWORD", hide_env_values = true)]
    pub registry_password: Option<String>,

    /// Run image the app layer is appended to (Kubernetes target), pinned by digest:
    /// registry/repository[:tag]@sha256:….
    #[arg(long, env = "SLIPWAY_BASE_IMAGE")]
    pub base_image: Option<String>,

    /// GitOps repository URL (Kubernetes target). Default: Slipway's own bare repository in
    /// the data dir, served read-only to platform admins at /git/_platform/gitops.git.
    #[arg(long, env = "SLIPWAY_GITOPS_REMOTE")]
    pub gitops_remote: Option<String>,

    /// Kubeconfig of the cluster Argo CD deploys to (Kubernetes target): deployments are then
    /// DEPLOYED once Argo CD has synced them and their rollout finished (read-only access to
    /// Applications, Deployments and Pods is enough). `in-cluster`: the pod's service account.
    /// Without it deployments end at "committed".
    #[arg(long, env = "SLIPWAY_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,

    /// With SLIPWAY_KUBECONFIG: how long a committed deployment may take to go live before it
    /// fails (a number with s, m, h or d).
    #[arg(long, env = "SLIPWAY_ROLLOUT_TIMEOUT", default_value = "10m", value_parser = parse_duration)]
    pub rollout_timeout: std::time::Duration,

    /// Absolute path prefixes (comma-separated) under which a project's repository URL may be a
    /// local path or file:// URL. Default: none. The data dir stays refused even under one.
    #[arg(long, env = "SLIPWAY_REPO_ALLOW_PATHS", value_parser = parse_allowed_paths)]
    pub repo_allow_paths: Option<AllowedPaths>,

    /// Hosts (comma-separated) a repository URL may name although they are, or resolve to,
    /// loopback, link-local or private addresses: `git.internal`, `*.corp.example`, `10.1.2.3`,
    /// `10.0.0.0/8`. Default: none.
    #[arg(long, env = "SLIPWAY_REPO_ALLOW_HOSTS", value_parser = parse_allowed_hosts)]
    pub repo_allow_hosts: Option<AllowedHosts>,

    /// Largest checkout of a commit, counted unpacked: a number with K, M, G or T (binary units).
    #[arg(long, env = "SLIPWAY_MAX_CHECKOUT_SIZE", default_value = "1G", value_parser = parse_size)]
    pub max_checkout_size: u64,

    /// Most files a checkout of a commit may hold.
    #[arg(long, env = "SLIPWAY_MAX_CHECKOUT_FILES", default_value_t = CheckoutLimits::DEFAULT_MAX_FILES)]
    pub max_checkout_files: u64,

    /// How many releases of each environment keep their build on this machine (1 to 1000). Older
    /// ones are removed after each release and can no longer be rolled back to; the active release
    /// and one being started are always kept. Environments of the Kubernetes target keep images.
    #[arg(long, env = "SLIPWAY_RELEASE_RETENTION", default_value_t = ReleaseRetention::DEFAULT, value_parser = parse_retention)]
    pub release_retention: ReleaseRetention,

    /// Where Node.js versions apps ask for are downloaded from: a directory in the layout of the
    /// upstream's distribution (`index.json`, `v<V>/SHASUMS256.txt`, `v<V>/node-v<V>-linux-x64.tar.gz`).
    #[arg(long, env = "SLIPWAY_NODE_MIRROR", value_parser = RuntimeMirrors::parse_mirror)]
    pub node_mirror: Option<reqwest::Url>,

    /// Where Go versions are downloaded from, in the layout of the upstream's download page
    /// (`?mode=json&include=all`, `go<V>.linux-amd64.tar.gz`).
    #[arg(long, env = "SLIPWAY_GO_MIRROR", value_parser = RuntimeMirrors::parse_mirror)]
    pub go_mirror: Option<reqwest::Url>,

    /// Where Python versions are downloaded from, in python-build-standalone's release layout
    /// (`<release>/SHA256SUMS`, `<release>/cpython-<V>+<release>-<arch>-unknown-linux-gnu-install_only.tar.gz`).
    #[arg(long, env = "SLIPWAY_PYTHON_MIRROR", value_parser = RuntimeMirrors::parse_mirror)]
    pub python_mirror: Option<reqwest::Url>,

    /// The python-build-standalone release whose Python versions are offered.
    #[arg(long, env = "SLIPWAY_PYTHON_RELEASE", default_value = DEFAULT_PYTHON_RELEASE, value_parser = RuntimeMirrors::parse_release)]
    pub python_release: String,

    /// `on`: every build and app instance runs in its own sandbox (needs root and a capable
    /// kernel; Slipway refuses to run tenant code otherwise). `off`: tenant code runs as Slipway's
    /// own user — only for one trusted user on one machine.
    #[arg(long, env = "SLIPWAY_SANDBOX", value_enum, default_value = "on")]
    pub sandbox: crate::sandbox::SandboxMode,

    /// Whether sandboxed tenant code may open connections to the internet.
    #[arg(long, env = "SLIPWAY_SANDBOX_EGRESS", default_value_t = true, action = clap::ArgAction::Set)]
    pub sandbox_egress: bool,

    /// More host paths (comma-separated) every sandbox sees read-only, such as toolchains
    /// installed outside /usr. Rustup, pyenv, Go and nvm are found on their own.
    #[arg(long, env = "SLIPWAY_SANDBOX_READ_ONLY", value_delimiter = ',')]
    pub sandbox_read_only: Vec<PathBuf>,

    /// Memory of each app instance whose environment sets none (`ps:resize` sets one): 512M, 1G.
    /// The instance is killed above it.
    #[arg(long, env = "SLIPWAY_DEFAULT_MEMORY", default_value = "512M", value_parser = Memory::parse)]
    pub default_memory: Memory,

    /// CPU of each instance whose environment sets none, in cores: 1, 0.5, 250m.
    #[arg(long, env = "SLIPWAY_DEFAULT_CPU", default_value = "1", value_parser = Cpu::parse)]
    pub default_cpu: Cpu,

    /// Processes (threads included) of each instance whose environment sets none.
    #[arg(long, env = "SLIPWAY_DEFAULT_MAX_PROCESSES", default_value_t = 256)]
    pub default_max_processes: u32,

    /// The most memory an environment may give each instance.
    #[arg(long, env = "SLIPWAY_MAX_MEMORY", default_value = "4G", value_parser = Memory::parse)]
    pub max_memory: Memory,

    /// The most CPU an environment may give each instance, in cores.
    #[arg(long, env = "SLIPWAY_MAX_CPU", default_value = "2", value_parser = Cpu::parse)]
    pub max_cpu: Cpu,

    /// The most processes an environment may give each instance.
    #[arg(long, env = "SLIPWAY_MAX_PROCESSES", default_value_t = 1024)]
    pub max_processes: u32,

    /// The edge router's access log: `on` (a JSON line per request), `off`, or `sample:N` (1 in
    /// N requests, and every 5xx). Each environment's lines go to `logs/access/<environment>.log`
    /// in the data dir, readable by its members (`slipway logs --access`).
    #[arg(long, env = "SLIPWAY_ACCESS_LOG", default_value = "on")]
    pub access_log: AccessLogMode,

    /// Size at which a log the platform keeps rotates (access logs, the agent's and the control
    /// plane's own logs): a number with K, M or G.
    #[arg(long, env = "SLIPWAY_LOG_MAX_SIZE", default_value = "10M", value_parser = parse_log_size)]
    pub log_max_size: u64,

    /// Rotated files kept of each such log (`<file>.1` … `<file>.N`), 1 to 100.
    #[arg(long, env = "SLIPWAY_LOG_KEEP", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub log_keep: u32,

    /// Write this process's log (and everything it prints) to this file, rotated as above,
    /// instead of the terminal. The agent `slipway up` starts always logs to
    /// `logs/agent.log` in the data dir.
    #[arg(long, env = "SLIPWAY_LOG_FILE")]
    pub log_file: Option<PathBuf>,

    /// Validate the settings and the host's sandbox capabilities, print them, and exit.
    #[arg(long)]
    pub check: bool,
}

impl UpSettings {
    /// How every log the platform keeps is bounded.
    pub fn log_rotation(&self) -> Rotation {
        Rotation { max_bytes: self.log_max_size, keep: self.log_keep }
    }
}

/// Settings after validation, with every default filled in.
#[derive(Clone)]
pub struct Resolved {
    pub data_dir: PathBuf,
    pub database_url: String,
    pub api_addr: SocketAddr,
    pub domain: Hostname,
    pub public_urls: PublicUrls,
    pub admin_password: Option<String>,
    pub open_signup: bool,
    pub sealing_key: SealingKey,
    /// The Kubernetes target's registry, base image and GitOps remote (each optional).
    pub registry: Option<RegistrySettings>,
    pub base_image: Option<ImageRef>,
    pub gitops_remote: Option<String>,
    /// The cluster read back (from SLIPWAY_KUBECONFIG) and how long a rollout may take.
    pub read_back: Option<ReadBack>,
    /// Which repository URLs projects may track (the data dir is always refused).
    pub repo_policy: RepoPolicy,
    /// How large a checkout may be, unpacked.
    pub checkout_limits: CheckoutLimits,
    /// How many releases of each environment keep their artifact.
    pub release_retention: ReleaseRetention,
    /// Where runtime versions are downloaded from.
    pub runtime_mirrors: RuntimeMirrors,
    /// What one instance gets by default and may be given at most.
    pub resources: ResourceLimits,
}

impl std::fmt::Debug for Resolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("data_dir", &self.data_dir)
            .field("database_url", &redact_url(&self.database_url))
            .field("api_addr", &self.api_addr)
            .field("domain", &self.domain.as_str())
            .field("public_urls", &self.public_urls)
            .field("admin_password", &self.admin_password.as_ref().map(|_| "<redacted>"))
            .field("open_signup", &self.open_signup)
            .field("sealing_key", &self.sealing_key)
            .field("registry", &self.registry)
            .field("base_image", &self.base_image.as_ref().map(ToString::to_string))
            .field("gitops_remote", &self.gitops_remote.as_deref().map(redact_url))
            .field("read_back", &self.read_back)
            .field("repo_allow_paths", &self.repo_policy.allowed_paths().to_string())
            .field("repo_allow_hosts", &self.repo_policy.allowed_hosts().to_string())
            .field("checkout_limits", &self.checkout_limits)
            .field("release_retention", &self.release_retention.get())
            .field("runtime_mirrors", &self.runtime_mirrors)
            .field("default_resources", &self.resources.default.to_string())
            .field("max_resources", &self.resources.max.to_string())
            .finish()
    }
}

fn default_data_dir() -> Result<PathBuf> {
    if running_as_root() {
        return Ok(PathBuf::from("/var/lib/slipway"));
    }
    let base = dirs::data_dir().context("no data directory for this user; set SLIPWAY_DATA_DIR")?;
    Ok(base.join("slipway"))
}

/// Whether this process runs as root: `/proc/self` belongs to the effective user.
fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0)
}

impl UpSettings {
    pub fn resolve(&self) -> Result<Resolved> {
        let data_dir = match &self.data_dir {
            Some(dir) => dir.clone(),
            None => default_data_dir()?,
        };
        let domain = Hostname::parse(&self.domain).with_context(|| "SLIPWAY_DOMAIN is not a valid hostname")?;
        let public_urls = match self.https_addr {
            Some(addr) => PublicUrls { https: true, port: addr.port() },
            None => PublicUrls { https: false, port: self.http_addr.port() },
        };
        let database_url = self.database_url.clone().unwrap_or_else(|| slipway_store::sqlite_url(&data_dir));
        if !(database_url.starts_with("sqlite:") || database_url.starts_with("postgres")) {
            bail!("SLIPWAY_DATABASE_URL must start with sqlite:// or postgres://");
        }
        if let Some(password) = &self.admin_password {
            slipway_core::names::Password::parse(password).context("SLIPWAY_ADMIN_PASSWORD")?;
        }
        if self.acme_directory.is_some() && self.https_addr.is_none() {
            bail!("SLIPWAY_ACME_DIRECTORY needs SLIPWAY_HTTPS_ADDR: certificates are served by the TLS listener");
        }
        if let Some(url) = &self.acme_directory {
            if !url.starts_with("https://") {
                bail!("SLIPWAY_ACME_DIRECTORY must be an https:// URL, not `{url}`");
            }
        }
        let nonempty = |value: &Option<String>| value.clone().filter(|v| !v.trim().is_empty());
        let registry = nonempty(&self.registry)
            .map(|registry| {
                RegistrySettings::parse(&registry, self.registry_username.as_deref(), self.registry_password.as_deref())
            })
            .transpose()
            .context("SLIPWAY_REGISTRY")?;
        let base_image = nonempty(&self.base_image)
            .map(|text| ImageRef::parse_pinned(&text))
            .transpose()
            .context("SLIPWAY_BASE_IMAGE")?;
        if self.rollout_timeout.is_zero() {
            bail!("SLIPWAY_ROLLOUT_TIMEOUT must be longer than 0s");
        }
        let read_back = self
            .kubeconfig
            .as_ref()
            .map(|path| -> Result<ReadBack> {
                let access = match path.to_str() {
                    Some(IN_CLUSTER) => ClusterAccess::in_cluster()?,
                    _ => ClusterAccess::from_kubeconfig(path)?,
                };
                let cluster = Cluster::new(access)?;
                Ok(ReadBack::new(cluster, self.rollout_timeout))
            })
            .transpose()
            .context("SLIPWAY_KUBECONFIG")?;
        if self.max_checkout_size == 0 || self.max_checkout_files == 0 {
            bail!("SLIPWAY_MAX_CHECKOUT_SIZE and SLIPWAY_MAX_CHECKOUT_FILES must be more than 0");
        }
        let repo_policy = RepoPolicy::new(
            self.repo_allow_paths.clone().unwrap_or_default(),
            self.repo_allow_hosts.clone().unwrap_or_default(),
        )
        .forbid_paths_under(&data_dir);
        let checkout_limits = CheckoutLimits { max_bytes: self.max_checkout_size, max_files: self.max_checkout_files };
        let resources = ResourceLimits::new(
            Resources { memory: self.default_memory, cpu: self.default_cpu, max_processes: self.default_max_processes },
            Resources { memory: self.max_memory, cpu: self.max_cpu, max_processes: self.max_processes },
        )
        .context("SLIPWAY_DEFAULT_MEMORY, _CPU, _MAX_PROCESSES and SLIPWAY_MAX_MEMORY, _CPU, _PROCESSES")?;
        let sealing_key = match &self.secret_key {
            Some(text) => SealingKey::from_base64(text).context("SLIPWAY_SECRET_KEY")?,
            None => sealing_key_file(&data_dir, self.check)?,
        };
        Ok(Resolved {
            data_dir,
            database_url,
            api_addr: self.api_addr,
            domain,
            public_urls,
            admin_password: self.admin_password.clone(),
            open_signup: self.open_signup,
            sealing_key,
            registry,
            base_image,
            gitops_remote: nonempty(&self.gitops_remote),
            read_back,
            repo_policy,
            checkout_limits,
            release_retention: self.release_retention,
            runtime_mirrors: self.runtime_mirrors(),
            resources,
        })
    }
}

/// The SLIPWAY_KUBECONFIG value meaning "the service account of the pod Slipway runs in".
const IN_CLUSTER: &str = "in-cluster";

/// `90s`, `15m`, `12h`, `30d` (a bare number means seconds).
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let number: u64 = number.parse().map_err(|_| format!("`{text}` is not a duration like 30d, 12h, 15m or 90s"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{text}`: the unit must be s, m, h or d")),
    };
    number.checked_mul(seconds).map(std::time::Duration::from_secs).ok_or_else(|| format!("`{text}` is too long"))
}

impl UpSettings {
    fn runtime_mirrors(&self) -> RuntimeMirrors {
        let defaults = RuntimeMirrors::default();
        RuntimeMirrors {
            node: self.node_mirror.clone().unwrap_or(defaults.node),
            go: self.go_mirror.clone().unwrap_or(defaults.go),
            python: self.python_mirror.clone().unwrap_or(defaults.python),
            python_release: self.python_release.clone(),
        }
    }
}

fn parse_retention(text: &str) -> Result<ReleaseRetention, String> {
    ReleaseRetention::parse(text).map_err(|err| err.to_string())
}

fn parse_allowed_paths(text: &str) -> Result<AllowedPaths, String> {
    AllowedPaths::parse(text).map_err(|err| format!("{err} (expected absolute paths separated by commas)"))
}

fn parse_allowed_hosts(text: &str) -> Result<AllowedHosts, String> {
    AllowedHosts::parse(text).map_err(|err| err.to_string())
}

/// A log size: at least 64 KiB, so a rotation holds more than a handful of lines.
fn parse_log_size(text: &str) -> Result<u64, String> {
    let size = parse_size(text)?;
    if size < 64 * 1024 {
        return Err(format!("`{text}` is too small for a log: at least 64K"));
    }
    Ok(size)
}

/// `1G`, `512M`, `1GiB`, `10MB`, `2048K` or plain bytes; units are binary.
fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let number: u64 = number.parse().map_err(|_| format!("`{text}` is not a size like 1G, 512M or 2048K"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(format!("`{text}`: the unit must be K, M, G or T")),
    };
    number.checked_mul(1 << shift).ok_or_else(|| format!("`{text}` is too large"))
}

/// Reads `secret.key` from the data dir, creating it (mode 0600) on first
/// start. With `--check` nothing is created.
fn sealing_key_file(data_dir: &std::path::Path, check_only: bool) -> Result<SealingKey> {
    let path = data_dir.join("secret.key");
    match std::fs::read_to_string(&path) {
        Ok(text) => SealingKey::from_base64(&text).with_context(|| format!("while reading {}", path.display())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let key = SealingKey::generate();
            if !check_only {
                std::fs::create_dir_all(data_dir).with_context(|| format!("while creating {}", data_dir.display()))?;
                write_private(&path, key.to_base64().as_bytes())
                    .with_context(|| format!("while writing {}", path.display()))?;
            }
            Ok(key)
        }
        Err(err) => Err(err).with_context(|| format!("while reading {}", path.display())),
    }
}

fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().create_new(true).write(true).mode(0o600).open(path)?;
    file.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        up: UpSettings,
    }

    fn resolve(args: &[&str]) -> Result<Resolved> {
        let data_dir = std::env::temp_dir().join("slipway-settings-test");
        let data_dir = data_dir.to_str().context("a UTF-8 temp dir")?;
        let cli = Cli::try_parse_from([&["slipway", "--check", "--data-dir", data_dir][..], args].concat())?;
        cli.up.resolve()
    }

    #[test]
    fn sizes_in_binary_units() {
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("10mb"), Ok(10 << 20));
        assert_eq!(parse_size("4096"), Ok(4096));
        for bad in ["", "G", "1.5G", "1P", "-1G", "99999999999T"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn repository_allow_lists_and_checkout_limits_are_typed_settings() -> Result<()> {
        let default = resolve(&[])?;
        assert!(default.repo_policy.allowed_paths().is_empty() && default.repo_policy.allowed_hosts().is_empty());
        assert_eq!(default.checkout_limits, CheckoutLimits::default());

        let custom = resolve(&[
            "--repo-allow-paths",
            "/srv/git,/home/shared/repos",
            "--repo-allow-hosts",
            "git.internal,10.0.0.0/8",
            "--max-checkout-size",
            "256M",
            "--max-checkout-files",
            "1000",
        ])?;
        assert_eq!(custom.repo_policy.allowed_paths().to_string(), "/srv/git,/home/shared/repos");
        assert_eq!(custom.repo_policy.allowed_hosts().to_string(), "git.internal,10.0.0.0/8");
        assert_eq!(custom.checkout_limits, CheckoutLimits { max_bytes: 256 << 20, max_files: 1000 });
        let local = slipway_core::names::RepoUrl::parse("/srv/git/app.git")?;
        assert_eq!(custom.repo_policy.check(&local), Ok(()));

        let bad_settings: [&[&str]; 4] = [
            &["--repo-allow-paths", "relative/dir"],
            &["--repo-allow-paths", "/"],
            &["--repo-allow-hosts", "10.0.0.0/40"],
            &["--max-checkout-size", "0"],
        ];
        for bad in bad_settings {
            assert!(resolve(bad).is_err(), "{bad:?}");
        }
        Ok(())
    }

    #[test]
    fn release_retention_is_a_typed_setting() -> Result<()> {
        assert_eq!(resolve(&[])?.release_retention, ReleaseRetention::DEFAULT);
        assert_eq!(resolve(&["--release-retention", "3"])?.release_retention.get(), 3);
        for bad in ["0", "1001", "ten", "-1"] {
            assert!(resolve(&["--release-retention", bad]).is_err(), "{bad}");
        }
        Ok(())
    }

    #[test]
    fn resource_defaults_and_maxima_are_typed_settings() -> Result<()> {
        assert_eq!(resolve(&[])?.resources, ResourceLimits::default());
        let custom = resolve(&[
            "--default-memory",
            "256M",
            "--default-cpu",
            "0.5",
            "--default-max-processes",
            "64",
            "--max-memory",
            "8G",
            "--max-cpu",
            "4",
            "--max-processes",
            "2048",
        ])?;
        let expected = ResourceLimits::new(
            Resources { memory: Memory::from_mib(256), cpu: Cpu::from_millis(500), max_processes: 64 },
            Resources { memory: Memory::from_mib(8192), cpu: Cpu::from_millis(4000), max_processes: 2048 },
        )?;
        assert_eq!(custom.resources, expected);
        let bad_settings: [&[&str]; 5] = [
            &["--default-memory", "lots"],
            &["--max-cpu", "-1"],
            &["--default-memory", "8G"],
            &["--default-cpu", "4"],
            &["--default-max-processes", "4"],
        ];
        for bad in bad_settings {
            assert!(resolve(bad).is_err(), "{bad:?}");
        }
        Ok(())
    }
}
