//! [`RepoUrl`]: what a user may type as a project's repository, read the way
//! git and curl will read it, so the host and path checked are the ones git
//! reaches. Anything git could read differently is refused here: transport
//! helpers (`ext::`, `fd::`), `..` segments, several `@`, `\`, `?` and `#`,
//! percent signs in hosts and local paths, hosts that start with `-`.

use std::net::{IpAddr, Ipv6Addr};
use std::path::{Component, Path, PathBuf};

use super::address::{looks_numeric, parse_ipv4_loose};
use crate::macros::string_newtype;
use crate::names::InvalidName;
use crate::ErrorCode;

/// Where a tracked repository lives: an `https`, `http`, `ssh` or `git` URL,
/// an scp-style `user@host:path`, a `file:///` URL or an absolute path.
/// Whether the platform may fetch from it is [`RepoPolicy`](super::RepoPolicy)'s call.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RepoUrl(String, RepoTarget);

/// What a [`RepoUrl`] points at.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RepoTarget {
    /// A repository on this machine (absolute path or `file:///…`), without
    /// `.` components or doubled slashes.
    Local(PathBuf),
    /// A repository reached over the network.
    Remote(RemoteRepo),
}

/// The network side of a remote [`RepoUrl`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RemoteRepo {
    pub scheme: RemoteScheme,
    pub host: RepoHost,
    /// The port written in the URL, if any.
    pub port: Option<u16>,
    /// The path as written, starting with `/` (`:` paths of scp-style URLs keep their text).
    pub path: String,
}

impl RemoteRepo {
    /// The port git connects to.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.scheme {
            RemoteScheme::Https => 443,
            RemoteScheme::Http => 80,
            RemoteScheme::Ssh => 22,
            RemoteScheme::Git => 9418,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RemoteScheme {
    Https,
    Http,
    /// `ssh://…` and scp-style `user@host:path`.
    Ssh,
    Git,
}

/// A URL's host: a DNS name (lower-case, no trailing dot) or an IP address
/// (however it was spelled: `[::ffff:7f00:1]`, `0x7f.1` and `2130706433` are all IPs).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RepoHost {
    Name(String),
    Ip(IpAddr),
}

impl std::fmt::Display for RepoHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Name(name) => f.write_str(name),
            Self::Ip(IpAddr::V6(v6)) => write!(f, "[{v6}]"),
            Self::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

impl RepoUrl {
    pub fn parse(value: &str) -> Result<Self, InvalidName> {
        let invalid = |reason: &str| InvalidName::new(ErrorCode::InvalidRepoUrl, "repository URL", value, reason);
        if value.is_empty() || value.len() > 2048 || value.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(invalid("it must be 1 to 2048 characters without spaces or control characters"));
        }
        if value.starts_with('-') {
            return Err(invalid("it must not start with `-`"));
        }
        let target = parse_target(value).map_err(invalid)?;
        Ok(Self(value.to_owned(), target))
    }

    pub fn target(&self) -> &RepoTarget {
        &self.1
    }
}

string_newtype!(
    RepoUrl,
    InvalidName,
    "git repository URL (https, http, ssh, git, scp-style) or an allowed local path",
    None
);

const USAGE: &str = "use https://…, ssh://…, git@host:path, file:///… or an absolute path";

fn parse_target(value: &str) -> Result<RepoTarget, &'static str> {
    if transport_helper(value) {
        return Err("git transport helpers (`ext::`, `fd::`, `<transport>::<address>`) are not allowed");
    }
    if value.contains(['\\', '?', '#']) {
        return Err("it must not contain `\\`, `?` or `#`");
    }
    if value.starts_with('/') {
        return local_path(value).map(RepoTarget::Local);
    }
    if let Some((scheme, rest)) = value.split_once("://") {
        let scheme = match scheme {
            "https" => RemoteScheme::Https,
            "http" => RemoteScheme::Http,
            "ssh" => RemoteScheme::Ssh,
            "git" => RemoteScheme::Git,
            "file" if rest.starts_with('/') => return local_path(rest).map(RepoTarget::Local),
            "file" => return Err("a file URL must be file:///absolute/path (no host)"),
            _ => return Err(USAGE),
        };
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if path.len() <= 1 {
            return Err("it must name a repository path after the host");
        }
        let (host, port) = authority_host(authority)?;
        remote_path(path)?;
        return Ok(RepoTarget::Remote(RemoteRepo { scheme, host, port, path: path.to_owned() }));
    }
    scp_like(value).ok_or(USAGE)?
}

/// git's rule: `<scheme characters>::` at the start selects a remote helper.
fn transport_helper(value: &str) -> bool {
    let name_len = value.bytes().take_while(|b| b.is_ascii_alphanumeric() || b"+.-".contains(b)).count();
    name_len > 0 && value[name_len..].starts_with("::")
}

/// `user@host:path` (git's scp-like syntax); `None` when it is not that shape.
fn scp_like(value: &str) -> Option<Result<RepoTarget, &'static str>> {
    let (user, rest) = value.split_once('@')?;
    let (host_text, path) = if let Some(bracketed) = rest.strip_prefix('[') {
        let (inside, after) = bracketed.split_once(']')?;
        (&rest[..inside.len() + 2], after.strip_prefix(':')?)
    } else {
        rest.split_once(':')?
    };
    if user.contains('/') || host_text.contains('/') {
        return None;
    }
    let parsed = (|| {
        if host_text.contains('@') {
            return Err("it has more than one `@` before the host");
        }
        if user.starts_with('-') || user.contains(':') {
            return Err("the user before `@` must be a plain name");
        }
        if path.is_empty() || path.starts_with('-') {
            return Err("it must name a repository path after `:` (not starting with `-`)");
        }
        let host = host(host_text)?;
        remote_path(path)?;
        Ok(RepoTarget::Remote(RemoteRepo { scheme: RemoteScheme::Ssh, host, port: None, path: path.to_owned() }))
    })();
    Some(parsed)
}

/// `[userinfo@]host[:port]` of a URL.
fn authority_host(authority: &str) -> Result<(RepoHost, Option<u16>), &'static str> {
    let host_port = match authority.split_once('@') {
        Some((_, host_port)) if host_port.contains('@') => return Err("it has more than one `@` before the host"),
        Some((userinfo, _)) if userinfo.is_empty() || userinfo.starts_with('-') => {
            return Err("the user before `@` must be a plain name")
        }
        Some((_, host_port)) => host_port,
        None => authority,
    };
    const BAD_PORT: &str = "the port must be a number from 1 to 65535";
    let (host_text, port) = if host_port.starts_with('[') {
        match host_port.split_once(']') {
            Some((_, "")) => (host_port, None),
            Some((inside, after)) => (&host_port[..inside.len() + 1], Some(after.strip_prefix(':').ok_or(BAD_PORT)?)),
            None => return Err("an IPv6 host must end with `]`"),
        }
    } else {
        match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    let port = match port {
        None => None,
        Some(text) if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) => return Err(BAD_PORT),
        Some(text) => Some(text.parse::<u16>().ok().filter(|port| *port > 0).ok_or(BAD_PORT)?),
    };
    Ok((host(host_text)?, port))
}

fn host(text: &str) -> Result<RepoHost, &'static str> {
    if let Some(inside) = text.strip_prefix('[') {
        let inside = inside.strip_suffix(']').ok_or("an IPv6 host must end with `]`")?;
        return inside
            .parse::<Ipv6Addr>()
            .map(|v6| RepoHost::Ip(IpAddr::V6(v6)))
            .map_err(|_| "the host in `[…]` must be a plain IPv6 address (no zone)");
    }
    if text.is_empty() {
        return Err("it must name a host");
    }
    if text.starts_with('-') {
        return Err("the host must not start with `-`");
    }
    if text.len() > 253 || !text.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b)) {
        return Err("the host must be a DNS name (letters, digits, `-`, `.`; punycode for others) or an IP address");
    }
    if text.ends_with('.') {
        return Err("the host must not end with `.`");
    }
    let name = text.to_ascii_lowercase();
    if name.split('.').any(|label| label.is_empty() || label.starts_with('-')) {
        return Err("the host has an empty label or one starting with `-`");
    }
    if looks_numeric(&name) {
        // inet_aton and curl read these as IPv4 (`2130706433`, `0x7f.1`), so do we.
        return parse_ipv4_loose(&name)
            .map(|v4| RepoHost::Ip(IpAddr::V4(v4)))
            .ok_or("the host looks like an IP address but is not a valid one");
    }
    Ok(RepoHost::Name(name))
}

/// A remote path: no `..` segment, also percent-encoded (git decodes URLs).
fn remote_path(path: &str) -> Result<(), &'static str> {
    let decoded = crate::percent::decode(path).ok_or("it has a `%` that is not followed by two hex digits")?;
    if decoded.iter().any(|b| b.is_ascii_control()) {
        return Err("it must not encode control characters");
    }
    if decoded.split(|b| *b == b'/').any(|segment| segment == b"..") {
        return Err("it must not contain `..` path segments");
    }
    Ok(())
}

/// An absolute local path, lexically normalised; `%` is refused because git
/// percent-decodes `file://` URLs, so what we check would not be what it opens.
fn local_path(path: &str) -> Result<PathBuf, &'static str> {
    if path.contains('%') {
        return Err("a local path must not contain `%`");
    }
    let path = Path::new(path);
    let mut normal = PathBuf::new();
    for component in path.components() {
        match component {
            Component::RootDir => normal.push("/"),
            Component::Normal(name) => normal.push(name),
            Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => return Err("it must not contain `..` path segments"),
        }
    }
    if normal.parent().is_none() {
        return Err("a local path must name a repository below `/`");
    }
    Ok(normal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn target(value: &str) -> RepoTarget {
        RepoUrl::parse(value).unwrap_or_else(|err| panic!("{value}: {err}")).target().clone()
    }

    fn remote(value: &str) -> RemoteRepo {
        match target(value) {
            RepoTarget::Remote(remote) => remote,
            other => panic!("{value} is {other:?}"),
        }
    }

    fn refused(value: &str) -> String {
        let err = RepoUrl::parse(value).expect_err(value);
        assert_eq!(err.code, ErrorCode::InvalidRepoUrl, "{value}");
        err.reason
    }

    #[test]
    fn ordinary_urls_and_what_they_point_at() {
        let github = remote("https://github.com/a/b.git");
        assert_eq!(github.scheme, RemoteScheme::Https);
        assert_eq!(github.host, RepoHost::Name("github.com".into()));
        assert_eq!((github.port, github.port()), (None, 443));
        assert_eq!(github.path, "/a/b.git");
        let ssh = remote("ssh://git@Host.Example:2222/x");
        assert_eq!(ssh.port(), 2222);
        assert_eq!((ssh.scheme, ssh.host), (RemoteScheme::Ssh, RepoHost::Name("host.example".into())));
        let scp = remote("git@github.com:a/b.git");
        assert_eq!(
            (scp.scheme, scp.host, scp.path.as_str()),
            (RemoteScheme::Ssh, RepoHost::Name("github.com".into()), "a/b.git")
        );
        assert_eq!(remote("git://example.com/r").port(), 9418);
        assert_eq!(remote("http://token@git.example.com:8080/r").port(), 8080);
        assert_eq!(target("file:///srv/r"), RepoTarget::Local(PathBuf::from("/srv/r")));
        assert_eq!(target("/srv//repos/./r.git/"), RepoTarget::Local(PathBuf::from("/srv/repos/r.git")));
        assert_eq!(RepoUrl::parse("git@github.com:a/b.git").expect("scp").as_str(), "git@github.com:a/b.git");
    }

    #[test]
    fn every_spelling_of_an_ip_address_is_an_ip() {
        let loopback = RepoHost::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
        for url in [
            "http://127.0.0.1/r",
            "http://2130706433/r",
            "http://0x7f.1/r",
            "http://0x7f000001/r",
            "http://017700000001/r",
            "http://0177.0.0.1/r",
            "http://127.1/r",
            "http://127.000.000.001/r",
            "https://github.com@127.0.0.1/r",
            "https://user:pass@127.0.0.1:8443/r",
            "ssh://git@127.0.0.1/r",
            "git@127.0.0.1:r",
            "git@0x7f.1:r",
        ] {
            assert_eq!(remote(url).host, loopback, "{url}");
        }
        for (url, ip) in [
            ("http://[::1]/r", "::1"),
            ("http://[::ffff:127.0.0.1]/r", "::ffff:127.0.0.1"),
            ("http://[::ffff:7f00:1]:80/r", "::ffff:7f00:1"),
            ("http://[0:0:0:0:0:0:0:1]/r", "::1"),
            ("git@[fe80::1]:r", "fe80::1"),
            ("http://0/r", "0.0.0.0"),
            ("http://[::]/r", "::"),
        ] {
            assert_eq!(remote(url).host, RepoHost::Ip(ip.parse().expect(ip)), "{url}");
        }
    }

    #[test]
    fn hostile_spellings_are_refused() {
        for (url, why) in [
            ("ext::sh -c touch% /tmp/pwned", "spaces"),
            ("ext::sh", "transport helpers"),
            ("fd::3", "transport helpers"),
            ("fd::0,1/x", "transport helpers"),
            ("file::/etc", "transport helpers"),
            ("https::github.com/x", "transport helpers"),
            ("git+ssh::x", "transport helpers"),
            ("https://github.com/a/../../b", "`..`"),
            ("https://github.com/a/%2e%2e/b", "`..`"),
            ("https://github.com/a/%2E%2E", "`..`"),
            ("git@github.com:../other", "`..`"),
            ("file:///srv/allowed/../../var/lib/slipway", "`..`"),
            ("/srv/allowed/../data", "`..`"),
            ("file:///srv/a%2e%2e/b", "`%`"),
            ("file:///srv/%2e%2e/data", "`%`"),
            ("file://localhost/etc", "no host"),
            ("file://host/etc", "no host"),
            ("https://a@b@127.0.0.1/r", "more than one `@`"),
            ("https://github.com\\@127.0.0.1/r", "`\\`"),
            ("https://127.0.0.1#@github.com/r", "`#`"),
            ("https://127.0.0.1?@github.com/r", "`?`"),
            ("https://@github.com/r", "plain name"),
            ("ssh://-oProxyCommand=x/r", "`-`"),
            ("ssh://git@-oProxyCommand=x/r", "`-`"),
            ("git@-oProxyCommand=x:r", "`-`"),
            ("-oProxyCommand=x@host:r", "start with `-`"),
            ("git@host:-r", "`-`"),
            ("http://127.0.0.1.:80/r", "end with `.`"),
            ("http://github.com./r", "end with `.`"),
            ("http://256.0.0.1/r", "not a valid one"),
            ("http://foo.123/r", "not a valid one"),
            ("http://0x7g.1/r", "not a valid one"),
            ("http://[fe80::1%25eth0]/r", "no zone"),
            ("http://[::1/r", "`]`"),
            ("http://%31%32%37.0.0.1/r", "DNS name"),
            ("http://gith%75b.com/r", "DNS name"),
            ("http://a..b/r", "empty label"),
            ("http://host:0/r", "port"),
            ("http://host:65536/r", "port"),
            ("http://host:+80/r", "port"),
            ("http://host:/r", "port"),
            ("https://github.com/", "repository path"),
            ("https://github.com", "repository path"),
            ("HTTPS://github.com/r", "use https"),
            ("ftp://x/y", "use https"),
            ("github.com/a/b", "use https"),
            ("relative/path", "use https"),
            ("/", "below `/`"),
            ("https://github.com/a%0a/b", "control"),
            ("https://github.com/a%zz", "hex digits"),
        ] {
            let reason = refused(url);
            assert!(reason.contains(why), "{url}: {reason}");
        }
    }

    proptest::proptest! {
        #[test]
        fn what_parses_hides_no_traversal_helper_or_numeric_host(
            prefix in proptest::sample::select(vec!["https://", "http://", "ssh://", "git://", "file://", "/", "git@", ""]),
            rest in "[a-zA-Z0-9:/@.%_x\\[\\]-]{0,40}",
        ) {
            let value = format!("{prefix}{rest}");
            if let Ok(url) = RepoUrl::parse(&value) {
                proptest::prop_assert!(!transport_helper(&value));
                match url.target() {
                    RepoTarget::Local(path) => {
                        proptest::prop_assert!(!path.components().any(|c| matches!(c, Component::ParentDir)));
                        proptest::prop_assert!(!path.to_string_lossy().contains('%'));
                    }
                    RepoTarget::Remote(remote) => {
                        if let RepoHost::Name(name) = &remote.host {
                            proptest::prop_assert!(!looks_numeric(name), "{name}");
                            proptest::prop_assert!(!name.starts_with('-') && !name.ends_with('.'));
                            let plain = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._".contains(&b);
                            proptest::prop_assert!(name.bytes().all(plain), "{name}");
                        }
                        let decoded = crate::percent::decode(&remote.path).unwrap_or_default();
                        proptest::prop_assert!(!decoded.split(|b| *b == b'/').any(|s| s == b".."));
                    }
                }
            }
        }
    }

    #[test]
    fn serde_goes_through_parse() {
        let url: RepoUrl = serde_json::from_str("\"https://github.com/a/b\"").expect("valid");
        assert_eq!(url.as_str(), "https://github.com/a/b");
        assert!(serde_json::from_str::<RepoUrl>("\"fd::0\"").is_err());
    }
}
