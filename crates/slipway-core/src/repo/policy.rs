//! [`RepoPolicy`]: which repository URLs the platform fetches from. By
//! default no local path (the data dir holds every tenant's repositories) and
//! no host that is, or resolves to, a non-public address (blind SSRF from the
//! control plane). The platform admin widens it with `SLIPWAY_REPO_ALLOW_PATHS`
//! and `SLIPWAY_REPO_ALLOW_HOSTS`; Slipway's own data directory stays refused.
//!
//! Checked twice: when a URL is stored ([`RepoPolicy::check`]: paths, literal
//! IPs) and when it is fetched (`slipway-git` resolves the host and the path
//! and asks [`RepoPolicy::check_address`] and [`RepoPolicy::check_local`]).

use std::fmt;
use std::net::IpAddr;
use std::path::{Component, Path, PathBuf};

use super::address::{classify, AddressClass};
use super::url::{RepoHost, RepoTarget, RepoUrl};
use crate::names::InvalidName;
use crate::ErrorCode;

/// Which local paths and non-public hosts repository URLs may use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepoPolicy {
    allowed_paths: AllowedPaths,
    allowed_hosts: AllowedHosts,
    /// Never fetched from, whatever is allowed: the platform's data directory.
    forbidden_paths: Vec<PathBuf>,
}

/// Why the platform will not fetch from a repository URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RepoRefused {
    /// A local path or `file://` URL outside every allowed prefix.
    #[error(
        "the local path {} is not allowed: the platform fetches local repositories only under the path \
         prefixes its admin allows (SLIPWAY_REPO_ALLOW_PATHS); use an https or ssh URL",
        path.display()
    )]
    LocalPath { path: PathBuf },
    /// A local path inside Slipway's own data directory, never allowed.
    #[error("the local path {} is inside Slipway's own data directory, which is never fetched from", path.display())]
    PlatformPath { path: PathBuf },
    /// A host that is, or resolves to, a non-public address.
    #[error(
        "{host} {} {addr}, a {class} address: the platform does not fetch from non-public addresses unless its \
         admin allows the host (SLIPWAY_REPO_ALLOW_HOSTS)",
        if *resolved { "resolves to" } else { "is" }
    )]
    Address { host: String, addr: IpAddr, class: AddressClass, resolved: bool },
}

impl RepoPolicy {
    pub fn new(allowed_paths: AllowedPaths, allowed_hosts: AllowedHosts) -> Self {
        Self { allowed_paths, allowed_hosts, forbidden_paths: Vec::new() }
    }

    /// Refuses local repositories under `path` even where a prefix allows
    /// them (the platform passes its data directory).
    pub fn forbid_paths_under(mut self, path: impl Into<PathBuf>) -> Self {
        self.forbidden_paths.push(path.into());
        self
    }

    pub fn allowed_paths(&self) -> &AllowedPaths {
        &self.allowed_paths
    }

    pub fn allowed_hosts(&self) -> &AllowedHosts {
        &self.allowed_hosts
    }

    /// What can be decided without I/O: local paths against the allowed
    /// prefixes, IP-address hosts against the allowed ranges. Host names are
    /// decided when they are resolved, at fetch time.
    pub fn check(&self, url: &RepoUrl) -> Result<(), RepoRefused> {
        match url.target() {
            RepoTarget::Local(path) => self.check_local(path, Path::to_path_buf),
            RepoTarget::Remote(remote) => match &remote.host {
                RepoHost::Ip(addr) => self.check_address(&remote.host, *addr, false),
                RepoHost::Name(_) => Ok(()),
            },
        }
    }

    /// [`check`](Self::check) as the API needs it: the URL back, or the
    /// refusal as an [`InvalidName`] the user can act on.
    pub fn admit(&self, url: RepoUrl) -> Result<RepoUrl, InvalidName> {
        match self.check(&url) {
            Ok(()) => Ok(url),
            Err(refused) => {
                Err(InvalidName::new(ErrorCode::InvalidRepoUrl, "repository URL", url.as_str(), refused.to_string()))
            }
        }
    }

    /// Whether the local repository `path` (lexically normal; canonical at
    /// fetch time) may be fetched. `resolve` maps each configured prefix the
    /// same way `path` was (canonicalisation at fetch time, identity before).
    pub fn check_local(&self, path: &Path, resolve: impl Fn(&Path) -> PathBuf) -> Result<(), RepoRefused> {
        if self.forbidden_paths.iter().any(|forbidden| path.starts_with(resolve(forbidden))) {
            return Err(RepoRefused::PlatformPath { path: path.to_owned() });
        }
        if self.allowed_paths.0.iter().any(|prefix| path.starts_with(resolve(prefix))) {
            return Ok(());
        }
        Err(RepoRefused::LocalPath { path: path.to_owned() })
    }

    /// Whether `addr`, which `host` is (`resolved == false`) or resolves to,
    /// may be connected to: public addresses always, others when the host
    /// name or a range holding the address is allowed.
    pub fn check_address(&self, host: &RepoHost, addr: IpAddr, resolved: bool) -> Result<(), RepoRefused> {
        let Some(class) = classify(addr) else {
            return Ok(());
        };
        if self.allowed_hosts.allows(host, addr) {
            return Ok(());
        }
        Err(RepoRefused::Address { host: host.to_string(), addr, class, resolved })
    }
}

/// Absolute path prefixes under which repository URLs may be local paths
/// (`SLIPWAY_REPO_ALLOW_PATHS`, comma-separated). Empty by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedPaths(Vec<PathBuf>);

/// A setting could not be parsed; the message names the bad entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{entry}` {reason}")]
pub struct InvalidAllowList {
    pub entry: String,
    pub reason: &'static str,
}

impl AllowedPaths {
    /// `/srv/git,/home/shared/repos`: absolute, without `..`; empty entries are ignored.
    pub fn parse(text: &str) -> Result<Self, InvalidAllowList> {
        let mut paths = Vec::new();
        for entry in text.split(',').map(str::trim).filter(|entry| !entry.is_empty()) {
            let invalid = |reason| InvalidAllowList { entry: entry.to_owned(), reason };
            let path = Path::new(entry);
            if !path.is_absolute() {
                return Err(invalid("is not an absolute path"));
            }
            if path.components().any(|c| matches!(c, Component::ParentDir)) {
                return Err(invalid("must not contain `..`"));
            }
            if path.parent().is_none() {
                return Err(invalid("would allow every path on the machine, the data dir included; name a directory"));
            }
            paths.push(path.components().collect());
        }
        Ok(Self(paths))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for AllowedPaths {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let texts: Vec<_> = self.0.iter().map(|p| p.display().to_string()).collect();
        f.write_str(&texts.join(","))
    }
}

/// Hosts repository URLs may use even though they are, or resolve to,
/// non-public addresses (`SLIPWAY_REPO_ALLOW_HOSTS`, comma-separated):
/// `git.internal` (that name), `*.corp.example` (names under it), `10.1.2.3`,
/// `[fd00::1]` or `10.0.0.0/8` (addresses). Empty by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts(Vec<HostRule>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostRule {
    Name(String),
    Under(String),
    Range { network: IpAddr, prefix: u8 },
}

impl AllowedHosts {
    pub fn parse(text: &str) -> Result<Self, InvalidAllowList> {
        let mut rules = Vec::new();
        for entry in text.split(',').map(str::trim).filter(|entry| !entry.is_empty()) {
            rules.push(HostRule::parse(entry).map_err(|reason| InvalidAllowList { entry: entry.to_owned(), reason })?);
        }
        Ok(Self(rules))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn allows(&self, host: &RepoHost, addr: IpAddr) -> bool {
        // An IPv4-mapped address matches the IPv4 ranges.
        let addr = addr.to_canonical();
        self.0.iter().any(|rule| match (rule, host) {
            (HostRule::Name(allowed), RepoHost::Name(name)) => allowed == name,
            (HostRule::Under(domain), RepoHost::Name(name)) => {
                name.strip_suffix(domain.as_str()).is_some_and(|sub| sub.ends_with('.') && sub.len() > 1)
            }
            (HostRule::Range { network, prefix }, _) => in_range(addr, *network, *prefix),
            _ => false,
        })
    }
}

impl fmt::Display for AllowedHosts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let texts: Vec<String> = self
            .0
            .iter()
            .map(|rule| match rule {
                HostRule::Name(name) => name.clone(),
                HostRule::Under(domain) => format!("*.{domain}"),
                HostRule::Range { network, prefix } => format!("{network}/{prefix}"),
            })
            .collect();
        f.write_str(&texts.join(","))
    }
}

impl HostRule {
    fn parse(entry: &str) -> Result<Self, &'static str> {
        let (addr_text, prefix) = match entry.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix.parse::<u8>().map_err(|_| "has a bad prefix length")?)),
            None => (entry, None),
        };
        let bare = addr_text.strip_prefix('[').and_then(|a| a.strip_suffix(']')).unwrap_or(addr_text);
        if let Ok(addr) = bare.parse::<IpAddr>() {
            let addr = addr.to_canonical();
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let prefix = prefix.unwrap_or(max);
            if prefix > max {
                return Err("has a prefix length longer than the address");
            }
            return Ok(Self::Range { network: addr, prefix });
        }
        if prefix.is_some() {
            return Err("is not an IP range such as 10.0.0.0/8");
        }
        let name = entry.to_ascii_lowercase();
        let (wildcard, domain) = match name.strip_prefix("*.") {
            Some(domain) => (true, domain),
            None => (false, name.as_str()),
        };
        let valid = !domain.is_empty()
            && domain.len() <= 253
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && !label.starts_with('-')
                    && label.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
            });
        if !valid {
            return Err("is not a host name, `*.domain`, IP address or IP range");
        }
        Ok(if wildcard { Self::Under(domain.to_owned()) } else { Self::Name(domain.to_owned()) })
    }
}

fn in_range(addr: IpAddr, network: IpAddr, prefix: u8) -> bool {
    match (addr, network) {
        (IpAddr::V4(addr), IpAddr::V4(network)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(addr) & mask == u32::from(network) & mask
        }
        (IpAddr::V6(addr), IpAddr::V6(network)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(addr) & mask == u128::from(network) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> RepoUrl {
        RepoUrl::parse(text).unwrap_or_else(|err| panic!("{text}: {err}"))
    }

    fn policy(paths: &str, hosts: &str) -> RepoPolicy {
        RepoPolicy::new(AllowedPaths::parse(paths).expect("paths"), AllowedHosts::parse(hosts).expect("hosts"))
    }

    #[test]
    fn by_default_no_local_path_and_no_private_address() {
        let default = RepoPolicy::default();
        for local in ["/srv/repo", "file:///srv/repo", "/var/lib/slipway/repos/ws/p.git"] {
            assert!(matches!(default.check(&url(local)), Err(RepoRefused::LocalPath { .. })), "{local}");
        }
        for private in [
            "http://127.0.0.1/r",
            "http://2130706433/r",
            "http://0x7f.1/r",
            "http://017700000001/r",
            "http://127.1/r",
            "http://0/r",
            "http://0.0.0.0/r",
            "http://[::]/r",
            "http://[::1]/r",
            "http://[::ffff:127.0.0.1]/r",
            "http://[::ffff:7f00:1]/r",
            "http://[::ffff:a9fe:a9fe]/latest/meta-data",
            "http://[::FFFF:7F00:1]/r",
            "http://[0:0:0:0:0:ffff:127.0.0.1]/r",
            "http://[::127.0.0.1]/r",
            "http://[64:ff9b::7f00:1]/r",
            "http://[2002:a9fe:a9fe::]/latest/meta-data",
            "git@[::1]:r",
            "http://169.254.169.254/latest/meta-data",
            "http://10.0.0.1/r",
            "http://172.16.5.4/r",
            "http://192.168.0.1/r",
            "http://100.64.0.1/r",
            "http://[fd12:3456::1]/r",
            "http://[fe80::1]/r",
            "https://github.com@127.0.0.1/r",
            "ssh://git@10.0.0.1/r",
            "git@192.168.1.1:r",
            "git://[::1]/r",
        ] {
            let refused = default.check(&url(private)).expect_err(private);
            assert!(matches!(refused, RepoRefused::Address { resolved: false, .. }), "{private}: {refused}");
            assert!(refused.to_string().contains("SLIPWAY_REPO_ALLOW_HOSTS"), "{refused}");
        }
        for public in ["https://github.com/a/b", "http://140.82.112.3/r", "git@gitlab.com:a/b", "http://localhost/r"] {
            // Names (localhost included) are decided when resolved, at fetch time.
            assert_eq!(default.check(&url(public)), Ok(()), "{public}");
        }
    }

    #[test]
    fn allowed_path_prefixes_are_whole_components_and_the_data_dir_stays_refused() {
        let policy = policy("/srv/git, /home/shared/repos/", "").forbid_paths_under("/srv/git/slipway-data");
        assert_eq!(policy.check(&url("/srv/git/team/app.git")), Ok(()));
        assert_eq!(policy.check(&url("file:///home/shared/repos/x")), Ok(()));
        assert!(matches!(policy.check(&url("/srv/gitevil/x")), Err(RepoRefused::LocalPath { .. })));
        assert!(matches!(policy.check(&url("/srv/git-other")), Err(RepoRefused::LocalPath { .. })));
        assert!(matches!(
            policy.check(&url("/srv/git/slipway-data/repos/ws/p.git")),
            Err(RepoRefused::PlatformPath { .. })
        ));
        let canonical = |p: &Path| Path::new("/real").join(p.strip_prefix("/").unwrap_or(p));
        assert_eq!(policy.check_local(Path::new("/real/srv/git/x"), canonical), Ok(()));
        assert!(policy.check_local(Path::new("/srv/git/x"), canonical).is_err());
    }

    #[test]
    fn allowed_hosts_by_name_suffix_and_range() {
        let policy = policy("", "git.internal, *.corp.example, 10.0.0.0/8, [fd00::1], 127.0.0.1");
        let ip = |text: &str| text.parse::<IpAddr>().expect(text);
        let name = |text: &str| RepoHost::Name(text.to_owned());
        assert_eq!(policy.check_address(&name("git.internal"), ip("192.168.0.9"), true), Ok(()));
        assert_eq!(policy.check_address(&name("src.corp.example"), ip("172.16.0.1"), true), Ok(()));
        assert!(policy.check_address(&name("corp.example"), ip("172.16.0.1"), true).is_err());
        assert!(policy.check_address(&name("evilcorp.example"), ip("172.16.0.1"), true).is_err());
        assert!(policy.check_address(&name("git.internal.evil.com"), ip("192.168.0.9"), true).is_err());
        assert_eq!(policy.check_address(&name("anything"), ip("10.200.0.1"), true), Ok(()));
        assert_eq!(policy.check_address(&RepoHost::Ip(ip("::ffff:10.1.1.1")), ip("::ffff:10.1.1.1"), false), Ok(()));
        assert!(policy.check_address(&name("x"), ip("11.0.0.1"), true).is_ok(), "public anyway");
        assert!(policy.check_address(&name("x"), ip("192.168.0.1"), true).is_err());
        assert!(policy.check_address(&name("x"), ip("fd00::2"), true).is_err());
        assert_eq!(policy.check(&url("http://[fd00::1]/r")), Ok(()));
        assert_eq!(policy.check(&url("http://2130706433/r")), Ok(()), "127.0.0.1 is allowed, however spelt");
        assert!(policy.check(&url("http://127.0.0.2/r")).is_err());
        let refused = policy.check_address(&name("db.local"), ip("192.168.1.5"), true).expect_err("private");
        assert_eq!(
            refused.to_string(),
            "db.local resolves to 192.168.1.5, a private address: the platform does not fetch from non-public \
             addresses unless its admin allows the host (SLIPWAY_REPO_ALLOW_HOSTS)"
        );
    }

    #[test]
    fn allow_lists_parse_and_print() {
        assert_eq!(AllowedPaths::parse("").expect("empty"), AllowedPaths::default());
        assert_eq!(AllowedPaths::parse("/a/b/,/c").expect("two").to_string(), "/a/b,/c");
        for bad in ["relative", "/a/../b", "/"] {
            assert!(AllowedPaths::parse(bad).is_err(), "{bad}");
        }
        let hosts = AllowedHosts::parse("Git.Internal,*.corp.example,10.0.0.0/8,::1,::ffff:10.0.0.1").expect("hosts");
        assert_eq!(hosts.to_string(), "git.internal,*.corp.example,10.0.0.0/8,::1/128,10.0.0.1/32");
        for bad in ["10.0.0.0/33", "a b", "*.", "x/8", "-x.com", "a..b", "[::1]/129"] {
            assert!(AllowedHosts::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn admit_turns_a_refusal_into_a_user_error() {
        let err = RepoPolicy::default().admit(url("file:///etc")).expect_err("refused");
        assert_eq!(err.code, ErrorCode::InvalidRepoUrl);
        assert!(err.reason.contains("SLIPWAY_REPO_ALLOW_PATHS"), "{}", err.reason);
    }
}
