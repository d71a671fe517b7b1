//! The platform's proxy and CA-bundle settings, passed to build steps
//! explicitly. A build's environment is clean (`env.rs`); of the platform's
//! own environment only the variables of [`VARIABLES`] reach it, read once when
//! the [`Builder`](super::Builder) is made — never anything else of it.
//!
//! Proxy values may carry credentials (`http://user:secret@proxy:3128`): they
//! reach the build's commands (the operator configured them for exactly that)
//! but never its log, which names the variables only.
//!
//! Maven reads no variable for its repository: `SLIPWAY_MAVEN_MIRROR` (an
//! `http(s)://` URL or a `file://` directory laid out as a Maven repository)
//! is read here with the other registry mirrors, once, and is not passed as
//! a variable; a Java build writes it, and the proxy settings Maven does not
//! read from the environment either, into the `settings.xml` it gives Maven
//! (`java.rs`).
//!
//! Composer reads no variable that names a registry, so its mirror is an
//! operator setting of Slipway's own, `SLIPWAY_COMPOSER_MIRROR` (the URL of a
//! Composer repository: a Packagist mirror, Satis, Private Packagist, or a
//! directory of one on this machine): the PHP build writes it into the
//! build's `COMPOSER_HOME/config.json` in packagist.org's place (`php.rs`).
//!
//! CA paths must be absolute and name a readable file (a directory for
//! `SSL_CERT_DIR`); anything else is left out, and every build log says so,
//! rather than handing tools a path that makes them fail obscurely. What a
//! sandboxed build can see: `slipway-sandbox` shows every sandbox the host's
//! `/usr`, `/etc`, `/bin`, `/sbin` and `/lib*` read-only (its `SYSTEM_PATHS`),
//! plus the toolchain directories and `SLIPWAY_SANDBOX_READ_ONLY` that `slipway up`
//! adds. The usual CA locations (`/etc/ssl/certs`, `/etc/pki`,
//! `/usr/local/share/ca-certificates`) are therefore visible; a CA elsewhere
//! (`/opt/corp/ca.pem`) is visible only when the operator lists it in
//! `SLIPWAY_SANDBOX_READ_ONLY`. The builder does not mount it itself: binding a
//! path the sandbox already shows fails the whole command. The build runs as
//! the environment's own uid, so a CA file must also be readable by others.

use std::ffi::OsString;
use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// What a variable's value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A proxy URL, a `NO_PROXY` list or a package registry's mirror URL, passed as it is.
    Proxy,
    /// Maven's repository mirror: an http(s) URL, or a file:// URL of a readable directory;
    /// written into Maven's settings, never passed as a variable.
    MavenMirror,
    /// A CA bundle: an absolute path to a readable file.
    CaFile,
    /// A directory of CA certificates (OpenSSL's `SSL_CERT_DIR`, `:`-separated).
    CaDir,
}

/// One setting the platform passes to builds.
struct Variable {
    name: &'static str,
    kind: Kind,
}

const fn var(name: &'static str, kind: Kind) -> Variable {
    Variable { name, kind }
}

/// The whole allowlist: both spellings of the proxy variables (tools disagree
/// on which they read), the registry mirrors of npm, corepack (Yarn and pnpm
/// from `packageManager`), Yarn 2+, pip, uv, Go and Maven, and the CA settings of
/// OpenSSL, Node, pip, requests, curl, git, cargo, npm and Yarn 2+.
const VARIABLES: &[Variable] = &[
    var("HTTP_PROXY", Kind::Proxy),
    var("HTTPS_PROXY", Kind::Proxy),
    var("NO_PROXY", Kind::Proxy),
    var("http_proxy", Kind::Proxy),
    var("https_proxy", Kind::Proxy),
    var("no_proxy", Kind::Proxy),
    var("npm_config_proxy", Kind::Proxy),
    var("npm_config_https_proxy", Kind::Proxy),
    var("npm_config_registry", Kind::Proxy),
    var("COREPACK_NPM_REGISTRY", Kind::Proxy),
    var("YARN_NPM_REGISTRY_SERVER", Kind::Proxy),
    var("PIP_INDEX_URL", Kind::Proxy),
    var("UV_DEFAULT_INDEX", Kind::Proxy),
    var("GOPROXY", Kind::Proxy),
    var(MAVEN_MIRROR, Kind::MavenMirror),
    var("SSL_CERT_FILE", Kind::CaFile),
    var("SSL_CERT_DIR", Kind::CaDir),
    var("NODE_EXTRA_CA_CERTS", Kind::CaFile),
    var("PIP_CERT", Kind::CaFile),
    var("REQUESTS_CA_BUNDLE", Kind::CaFile),
    var("CURL_CA_BUNDLE", Kind::CaFile),
    var("GIT_SSL_CAINFO", Kind::CaFile),
    var("CARGO_HTTP_CAINFO", Kind::CaFile),
    var("npm_config_cafile", Kind::CaFile),
    var("YARN_CA_FILE_PATH", Kind::CaFile),
];

/// The operator's Maven repository mirror.
pub(crate) const MAVEN_MIRROR: &str = "SLIPWAY_MAVEN_MIRROR";

/// Directories every sandbox shows read-only (mirrors `slipway-sandbox`'s
/// `SYSTEM_PATHS`); only used to tell the operator about a CA elsewhere.
const SANDBOX_SYSTEM_PATHS: [&str; 8] = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"];

/// The operator's Composer repository, used instead of packagist.org.
const COMPOSER_MIRROR: &str = "SLIPWAY_COMPOSER_MIRROR";

/// The platform's network settings for builds, read once.
#[derive(Clone, Default)]
pub struct BuildNetwork {
    settings: Vec<Setting>,
    /// [`COMPOSER_MIRROR`]: a URL (`https://…`, `file://…`) or an absolute path.
    composer_mirror: Option<String>,
    /// Variables left out, and why (repeated in every build log).
    left_out: Vec<String>,
}

#[derive(Clone)]
struct Setting {
    name: &'static str,
    value: OsString,
    /// The CA paths it names (none for a proxy setting).
    paths: Vec<PathBuf>,
}

impl BuildNetwork {
    /// The settings of Slipway's own environment (only the allowlisted names are read).
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var_os(name))
    }

    /// The settings `lookup` gives for the allowlisted names; it is asked for nothing else.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<OsString>) -> Self {
        let mut network = Self::default();
        for Variable { name, kind } in VARIABLES {
            let Some(value) = lookup(name).filter(|v| !v.is_empty()) else { continue };
            match check(*kind, &value) {
                Ok(paths) => network.settings.push(Setting { name, value, paths }),
                Err(problem) => network.left_out.push(format!("{name} is not passed to the build: {problem}")),
            }
        }
        if let Some(mirror) = lookup(COMPOSER_MIRROR).filter(|v| !v.is_empty()) {
            match check_composer_mirror(&mirror) {
                Ok(mirror) => network.composer_mirror = Some(mirror),
                Err(problem) => network.left_out.push(format!("{COMPOSER_MIRROR} is not used: {problem}")),
            }
        }
        network
    }

    /// The Composer repository PHP builds install from instead of packagist.org, if the operator set one.
    pub fn composer_mirror(&self) -> Option<&str> {
        self.composer_mirror.as_deref()
    }

    /// The names set, in allowlist order.
    pub fn names(&self) -> Vec<&'static str> {
        self.settings.iter().map(|s| s.name).collect()
    }

    /// `SLIPWAY_MAVEN_MIRROR`, when the platform sets a valid one.
    pub(crate) fn maven_mirror(&self) -> Option<&str> {
        self.settings.iter().find(|s| s.name == MAVEN_MIRROR).and_then(|s| s.value.to_str())
    }

    /// The variables for one build, and lines for its log. A sandboxed build
    /// runs as another uid: a CA it could not read is left out.
    pub(crate) fn for_build(&self, sandboxed: bool) -> (Vec<(&'static str, OsString)>, Vec<String>) {
        let mut notes = self.left_out.clone();
        let mut vars = Vec::new();
        for setting in &self.settings {
            if sandboxed {
                if let Some(path) = setting.paths.iter().find(|p| !readable_by_others(p)) {
                    notes.push(format!(
                        "{} is not passed to the build: {} is not readable by other users, and the build runs as \
                         its own user",
                        setting.name,
                        path.display()
                    ));
                    continue;
                }
                if let Some(path) =
                    setting.paths.iter().find(|p| !SANDBOX_SYSTEM_PATHS.iter().any(|s| p.starts_with(s)))
                {
                    notes.push(format!(
                        "{} names {}, outside /usr and /etc: the sandboxed build sees it only if it is listed in \
                         SLIPWAY_SANDBOX_READ_ONLY",
                        setting.name,
                        path.display()
                    ));
                }
            }
            // Maven's mirror goes into its settings.xml, and only for Java builds.
            if setting.name != MAVEN_MIRROR {
                vars.push((setting.name, setting.value.clone()));
            }
        }
        if !vars.is_empty() {
            let names: Vec<&str> = vars.iter().map(|(name, _)| *name).collect();
            notes.insert(0, format!("Network settings from the platform: {}", names.join(", ")));
        }
        (vars, notes)
    }
}

/// Names only: proxy URLs may hold credentials.
impl fmt::Debug for BuildNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BuildNetwork")
            .field("names", &self.names())
            .field("composer_mirror", &self.composer_mirror.as_deref().map(without_credentials))
            .field("left_out", &self.left_out.len())
            .finish()
    }
}

/// A Composer repository's URL as Composer takes it: `http(s)://` or `file://`, or an absolute path.
fn check_composer_mirror(value: &OsString) -> Result<String, String> {
    let text = value.to_str().ok_or("it is not UTF-8 text")?.trim();
    if text.contains(|c: char| c.is_whitespace() || c.is_control()) {
        return Err("it holds spaces or control characters".to_owned());
    }
    let lower = text.to_ascii_lowercase();
    let ok =
        ["https://", "http://", "file://"].iter().any(|scheme| lower.starts_with(scheme) && lower.len() > scheme.len())
            || text.starts_with('/');
    if ok {
        Ok(text.to_owned())
    } else {
        Err(format!("`{}` is not an http(s):// or file:// URL or an absolute path", without_credentials(text)))
    }
}

/// A URL with its user and password (`https://user:secret@host/`) replaced by `***`, for logs.
pub(crate) fn without_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

/// The CA paths a value names, or why it is left out.
fn check(kind: Kind, value: &OsString) -> Result<Vec<PathBuf>, String> {
    let paths: Vec<PathBuf> = match kind {
        Kind::Proxy => return Ok(Vec::new()),
        Kind::MavenMirror => return maven_mirror(value),
        Kind::CaFile => vec![PathBuf::from(value)],
        Kind::CaDir => std::env::split_paths(value).filter(|p| !p.as_os_str().is_empty()).collect(),
    };
    for path in &paths {
        if !path.is_absolute() {
            return Err(format!("{} is not an absolute path", path.display()));
        }
        let readable = match kind {
            Kind::CaDir => std::fs::read_dir(path).map(drop),
            _ => std::fs::File::open(path)
                .and_then(|f| f.metadata())
                .and_then(|m| m.is_file().then_some(()).ok_or_else(|| std::io::Error::other("it is not a file"))),
        };
        readable.map_err(|err| format!("{} cannot be read ({err})", path.display()))?;
    }
    Ok(paths)
}

/// A Maven mirror's directory (for a `file://` URL), or why it is left out.
fn maven_mirror(value: &OsString) -> Result<Vec<PathBuf>, String> {
    let text = value.to_str().ok_or("it is not UTF-8")?;
    let url = reqwest::Url::parse(text).map_err(|err| format!("it is not a URL ({err})"))?;
    match url.scheme() {
        "http" | "https" if url.host().is_some() => Ok(Vec::new()),
        "file" => {
            let path = url.to_file_path().map_err(|()| "its file:// URL names no absolute path".to_owned())?;
            std::fs::read_dir(&path).map_err(|err| format!("{} cannot be read ({err})", path.display()))?;
            Ok(vec![path])
        }
        other => Err(format!("Maven mirrors are http://, https:// or file:// URLs, not {other}:")),
    }
}

/// Whether a user other than the owner can read `path` (and list it, for a directory)
/// and reach it through every directory above it.
fn readable_by_others(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else { return false };
    let need = if meta.is_dir() { 0o005 } else { 0o004 };
    meta.permissions().mode() & need == need
        && path.ancestors().skip(1).all(|dir| std::fs::metadata(dir).is_ok_and(|m| m.permissions().mode() & 0o001 != 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::Mutex;

    fn from_vars(vars: &[(&str, &str)]) -> BuildNetwork {
        let vars: HashMap<String, OsString> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).into())).collect();
        BuildNetwork::from_lookup(|name| vars.get(name).cloned())
    }

    fn readable_file(dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, "-----BEGIN CERTIFICATE-----\n").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        path
    }

    #[test]
    fn every_allowlisted_setting_passes_and_nothing_else_is_even_read() {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca = readable_file(dir.path(), "ca.pem");
        let ca = ca.to_str().expect("utf-8");
        // One value of each variable's kind; a proxy URL with a credential, to see it kept out of
        // logs and Debug.
        let mut vars: Vec<(&str, &str)> = VARIABLES
            .iter()
            .map(|Variable { name, kind }| {
                let value = match (kind, *name) {
                    (Kind::Proxy, "HTTPS_PROXY") => "http://user:secret@proxy.internal:3128",
                    (Kind::Proxy, _) => "http://proxy.internal:3128",
                    (Kind::MavenMirror, _) => "https://user:secret@maven.mirror.internal/repository/maven-public/",
                    (Kind::CaFile, _) => ca,
                    (Kind::CaDir, _) => "/etc",
                };
                (*name, value)
            })
            .collect();
        vars.extend([("DATABASE_URL", "postgres://secret"), ("SLIPWAY_SECRET_KEY", "x"), ("ALL_PROXY", "socks5://x")]);
        let asked = Mutex::new(Vec::new());
        let table: HashMap<&str, &str> = vars.iter().copied().collect();
        let network = BuildNetwork::from_lookup(|name| {
            asked.lock().expect("lock").push(name.to_owned());
            table.get(name).map(OsString::from)
        });
        let asked = asked.into_inner().expect("lock");
        // The allowlist and Slipway's own Composer mirror setting.
        assert_eq!(asked.len(), VARIABLES.len() + 1);
        assert_eq!(asked.last().map(String::as_str), Some(COMPOSER_MIRROR));
        for other in ["DATABASE_URL", "SLIPWAY_SECRET_KEY", "ALL_PROXY", "PATH"] {
            assert!(!asked.iter().any(|n| n == other), "{other} was read");
        }
        let (passed, notes) = network.for_build(false);
        // Maven's mirror is not a variable: a Java build writes it into Maven's settings.
        assert_eq!(passed.len(), VARIABLES.len() - 1, "{notes:?}");
        for (name, value) in vars[..VARIABLES.len()].iter().filter(|(name, _)| *name != MAVEN_MIRROR) {
            assert!(passed.iter().any(|(n, v)| n == name && v == value), "{name} not passed: {passed:?}");
        }
        assert_eq!(network.maven_mirror(), Some("https://user:secret@maven.mirror.internal/repository/maven-public/"));
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].starts_with("Network settings from the platform: HTTP_PROXY, HTTPS_PROXY"), "{notes:?}");
        assert!(!notes[0].contains("secret"), "{notes:?}");
        let debug = format!("{network:?}");
        assert!(!debug.contains("secret") && debug.contains("HTTPS_PROXY"), "{debug}");
    }

    #[test]
    fn ca_paths_that_are_not_readable_files_are_left_out_saying_why() {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca = readable_file(dir.path(), "ca.pem");
        let network = from_vars(&[
            ("SSL_CERT_FILE", "certs/ca.pem"),
            ("NODE_EXTRA_CA_CERTS", "/nonexistent/ca.pem"),
            ("PIP_CERT", dir.path().to_str().expect("utf-8")),
            ("SSL_CERT_DIR", ca.to_str().expect("utf-8")),
            ("GIT_SSL_CAINFO", ""),
            ("HTTPS_PROXY", "http://proxy:3128"),
        ]);
        assert_eq!(network.names(), ["HTTPS_PROXY"]);
        let (passed, notes) = network.for_build(false);
        assert_eq!(passed.len(), 1);
        let notes = notes.join("\n");
        for words in [
            "SSL_CERT_FILE is not passed to the build: certs/ca.pem is not an absolute path",
            "NODE_EXTRA_CA_CERTS is not passed to the build: /nonexistent/ca.pem cannot be read",
            "PIP_CERT is not passed",
            "SSL_CERT_DIR is not passed",
        ] {
            assert!(notes.contains(words), "{words:?} not in:\n{notes}");
        }
        assert!(!notes.contains("GIT_SSL_CAINFO"), "an empty value is simply unset:\n{notes}");
    }

    #[test]
    fn a_sandboxed_build_gets_only_cas_other_users_can_read() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let open = readable_file(dir.path(), "open.pem");
        let private = readable_file(dir.path(), "private.pem");
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let network = from_vars(&[
            ("SSL_CERT_FILE", open.to_str().expect("utf-8")),
            ("NODE_EXTRA_CA_CERTS", private.to_str().expect("utf-8")),
        ]);
        let (passed, _) = network.for_build(false);
        assert_eq!(passed.len(), 2, "unsandboxed, the platform's own user reads both");
        let (passed, notes) = network.for_build(true);
        assert_eq!(passed.iter().map(|(n, _)| *n).collect::<Vec<_>>(), ["SSL_CERT_FILE"]);
        let notes = notes.join("\n");
        assert!(notes.contains("NODE_EXTRA_CA_CERTS is not passed to the build"), "{notes}");
        // Outside the directories every sandbox shows: passed, with a word for the operator
        // (temp dirs are under /tmp).
        assert!(notes.contains("SSL_CERT_FILE names") && notes.contains("SLIPWAY_SANDBOX_READ_ONLY"), "{notes}");
    }

    #[test]
    fn a_maven_mirror_is_an_http_url_or_a_readable_directory() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file_url = format!("file://{}", dir.path().display());
        for good in ["https://nexus.internal/repository/maven-public/", "http://127.0.0.1:8081/maven2", &file_url] {
            assert_eq!(from_vars(&[(MAVEN_MIRROR, good)]).maven_mirror(), Some(good), "{good}");
        }
        for (bad, why) in [
            ("/usr/share/maven-repo", "it is not a URL"),
            ("file:///nonexistent/maven-repo", "cannot be read"),
            ("ftp://mirror.internal/maven2", "not ftp:"),
            ("mailto:ops@example.com", "not mailto:"),
        ] {
            let network = from_vars(&[(MAVEN_MIRROR, bad)]);
            assert_eq!(network.maven_mirror(), None, "{bad}");
            let (_, notes) = network.for_build(false);
            assert!(
                notes.iter().any(|n| n.starts_with("SLIPWAY_MAVEN_MIRROR is not passed") && n.contains(why)),
                "{bad}: {notes:?}"
            );
        }
    }

    #[test]
    fn the_composer_mirror_is_a_url_or_an_absolute_path_and_never_logged_with_its_credentials() {
        for good in ["https://user:secret@composer.mirror.internal/", "file:///srv/composer", "/srv/composer"] {
            let network = from_vars(&[(COMPOSER_MIRROR, good)]);
            assert_eq!(network.composer_mirror(), Some(good), "{good}");
            assert!(!format!("{network:?}").contains("secret"), "{network:?}");
            // Not a variable of the build: the PHP build writes it where Composer reads it.
            assert!(network.for_build(false).0.is_empty());
        }
        for bad in ["composer.mirror.internal", "ftp://x/", "https://", "relative/dir", "https://a b/"] {
            let network = from_vars(&[(COMPOSER_MIRROR, bad)]);
            assert_eq!(network.composer_mirror(), None, "{bad}");
            let notes = network.for_build(false).1.join("\n");
            assert!(notes.contains("SLIPWAY_COMPOSER_MIRROR is not used"), "{bad}: {notes}");
        }
        assert_eq!(without_credentials("https://u:p@m.internal/x@y"), "https://***@m.internal/x@y");
        assert_eq!(without_credentials("https://m.internal/"), "https://m.internal/");
    }

    #[test]
    fn a_ca_directory_list_is_checked_entry_by_entry() {
        let network = from_vars(&[("SSL_CERT_DIR", "/etc:/usr")]);
        assert_eq!(network.names(), ["SSL_CERT_DIR"]);
        let network = from_vars(&[("SSL_CERT_DIR", "/etc:/nonexistent-certs")]);
        assert!(network.names().is_empty());
    }
}
