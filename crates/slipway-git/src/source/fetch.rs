//! Fetching a tracked repository URL, which a tenant chose. The URL is
//! checked against the [`RepoPolicy`] again (the admin may have narrowed it
//! since the URL was stored), then resolved here — a local path to its
//! canonical form, a host name to its addresses — and every answer checked.
//! git is then pinned to what was checked, so a symlink swapped in or a DNS
//! answer that changes between our look-up and git's (rebinding) cannot
//! steer it elsewhere:
//!
//! * local paths: git gets the canonical path, and only the `file` protocol;
//! * http(s): `http.curloptResolve` hands curl the checked addresses, and
//!   redirects are not followed (a redirect could name any host);
//! * ssh: `-o HostName=<address>`, with `HostKeyAlias` keeping host-key
//!   checks on the name;
//! * git://: the URL is rewritten to the checked address.
//!
//! Remote fetches may use only the network protocols (never `file` or
//! `ext`), and git never prompts.
//!
//! Not covered: an HTTP proxy configured for the platform's git (`http.proxy`,
//! `https_proxy`) resolves the name itself, so pinning does not reach past it.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use slipway_core::image_tag::CommitSha;
use slipway_core::names::{Branch, RepoUrl};
use slipway_core::repo::{RemoteRepo, RemoteScheme, RepoHost, RepoPolicy, RepoTarget};

use super::branch_head;
use crate::{git_bounded, Bounds, GitError};

const REMOTE_PROTOCOLS: &[&str] = &[
    "protocol.allow=never",
    "protocol.https.allow=always",
    "protocol.http.allow=always",
    "protocol.ssh.allow=always",
    "protocol.git.allow=always",
    "http.followRedirects=false",
];

const LOCAL_PROTOCOLS: &[&str] = &["protocol.allow=never", "protocol.file.allow=always"];

/// Fetches `branch` of `url` into `repo` (as the same branch) and returns its
/// head, if `policy` allows the URL and everything it resolves to.
pub async fn fetch(
    repo: &std::path::Path,
    url: &RepoUrl,
    branch: &Branch,
    policy: &RepoPolicy,
) -> Result<CommitSha, GitError> {
    fetch_within(repo, url, branch, policy, FETCH_BOUNDS).await
}

/// A fetch brings at most what a push may (1 GiB of pack) and takes at most 15 minutes: the
/// server is the tenant's choice, and the fetch runs in the control plane.
const FETCH_BOUNDS: Bounds =
    Bounds { max_file_bytes: crate::repos::MAX_PUSH_BYTES, timeout: std::time::Duration::from_secs(15 * 60) };

async fn fetch_within(
    repo: &std::path::Path,
    url: &RepoUrl,
    branch: &Branch,
    policy: &RepoPolicy,
    bounds: Bounds,
) -> Result<CommitSha, GitError> {
    let refspec = format!("+refs/heads/{branch}:refs/heads/{branch}");
    fetch_bounded(repo, url, &[refspec.as_str()], policy, bounds).await?;
    branch_head(repo, branch).await?.ok_or_else(|| GitError::Invalid(format!("branch {branch} was not found in {url}")))
}

/// Fetches `refspecs` of `url` into `repo`, if `policy` allows the URL and everything it resolves to.
pub(crate) async fn fetch_refspecs(
    repo: &std::path::Path,
    url: &RepoUrl,
    refspecs: &[&str],
    policy: &RepoPolicy,
) -> Result<(), GitError> {
    fetch_bounded(repo, url, refspecs, policy, FETCH_BOUNDS).await
}

async fn fetch_bounded(
    repo: &std::path::Path,
    url: &RepoUrl,
    refspecs: &[&str],
    policy: &RepoPolicy,
    bounds: Bounds,
) -> Result<(), GitError> {
    policy.check(url)?;
    let pinned = pin(url, policy).await?;
    let mut args: Vec<&str> = Vec::new();
    for setting in &pinned.config {
        args.extend(["-c", setting.as_str()]);
    }
    args.extend(["fetch", "--quiet", "--no-tags", "--no-recurse-submodules", "--end-of-options"]);
    args.push(pinned.location.as_str());
    args.extend(refspecs);
    let env: Vec<(&str, &str)> = pinned.env.iter().map(|(name, value)| (*name, value.as_str())).collect();
    git_bounded(&args, Some(repo), &env, bounds).await?;
    Ok(())
}

/// What git is told so that it reaches exactly what was checked.
#[derive(Debug, PartialEq, Eq)]
struct Pinned {
    /// The repository argument of `git fetch`.
    location: String,
    /// `-c` settings.
    config: Vec<String>,
    env: Vec<(&'static str, String)>,
}

async fn pin(url: &RepoUrl, policy: &RepoPolicy) -> Result<Pinned, GitError> {
    match url.target() {
        RepoTarget::Local(path) => {
            let canonical = canonical_local(path.clone(), policy.clone()).await?;
            let location = canonical
                .to_str()
                .ok_or_else(|| GitError::Invalid(format!("{} is not a UTF-8 path", canonical.display())))?
                .to_owned();
            Ok(Pinned { location, config: owned(LOCAL_PROTOCOLS), env: Vec::new() })
        }
        RepoTarget::Remote(remote) => {
            let addrs = match &remote.host {
                // Literal addresses were checked by `policy.check`.
                RepoHost::Ip(addr) => vec![*addr],
                RepoHost::Name(name) => resolve(name, remote, policy).await?,
            };
            Ok(pin_remote(url, remote, &addrs, std::env::var("GIT_SSH_COMMAND").ok()))
        }
    }
}

/// The canonical form of a local repository path, checked again: a symlink
/// under an allowed prefix may point anywhere.
async fn canonical_local(path: PathBuf, policy: RepoPolicy) -> Result<PathBuf, GitError> {
    let checked = tokio::task::spawn_blocking(move || -> Result<PathBuf, GitError> {
        let canonical = std::fs::canonicalize(&path).map_err(|source| GitError::NoLocalRepository { path, source })?;
        policy.check_local(&canonical, |prefix| std::fs::canonicalize(prefix).unwrap_or_else(|_| prefix.to_owned()))?;
        Ok(canonical)
    })
    .await;
    checked.map_err(|err| GitError::Io(std::io::Error::other(err)))?
}

/// Every address `name` resolves to, each allowed by `policy`; one refused
/// answer refuses the URL (a resolver that mixes in a private address is
/// not to be trusted with the choice).
async fn resolve(name: &str, remote: &RemoteRepo, policy: &RepoPolicy) -> Result<Vec<IpAddr>, GitError> {
    let resolve_error = |source| GitError::Resolve { host: name.to_owned(), source };
    let answers = tokio::net::lookup_host((name, remote.port())).await.map_err(resolve_error)?;
    let mut addrs: Vec<IpAddr> = Vec::new();
    for answer in answers {
        if !addrs.contains(&answer.ip()) {
            addrs.push(answer.ip());
        }
    }
    if addrs.is_empty() {
        return Err(resolve_error(std::io::Error::other("no addresses")));
    }
    for addr in &addrs {
        policy.check_address(&remote.host, *addr, true)?;
    }
    Ok(addrs)
}

fn pin_remote(url: &RepoUrl, remote: &RemoteRepo, addrs: &[IpAddr], ssh_command: Option<String>) -> Pinned {
    let mut pinned = Pinned { location: url.as_str().to_owned(), config: owned(REMOTE_PROTOCOLS), env: Vec::new() };
    let RepoHost::Name(name) = &remote.host else {
        return pinned;
    };
    let port = remote.port();
    let first = addrs.first().copied();
    match (remote.scheme, first) {
        (RemoteScheme::Https | RemoteScheme::Http, _) => {
            let list: Vec<String> = addrs.iter().map(|addr| RepoHost::Ip(*addr).to_string()).collect();
            pinned.config.push(format!("http.curloptResolve={name}:{port}:{}", list.join(",")));
        }
        (RemoteScheme::Ssh, Some(addr)) => {
            // Known-hosts entries of other ports are written `[host]:port`.
            let alias = if port == 22 { name.clone() } else { format!("[{name}]:{port}") };
            let base = ssh_command.filter(|command| !command.trim().is_empty()).unwrap_or_else(|| "ssh".into());
            pinned.env.push(("GIT_SSH_COMMAND", format!("{base} -o HostName={addr} -o HostKeyAlias={alias}")));
        }
        (RemoteScheme::Git, Some(addr)) => {
            pinned.location = format!("git://{}{}", SocketAddr::new(addr, port), remote.path);
        }
        (_, None) => {}
    }
    pinned
}

fn owned(settings: &[&str]) -> Vec<String> {
    settings.iter().map(|s| (*s).to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A repository server that sends more than a fetch may bring: the fetch
    /// fails saying so, and the limit is what stops it (a few MB of random
    /// bytes against a 1 MB limit here; the platform's is 1 GiB).
    #[tokio::test]
    async fn a_fetch_that_brings_too_much_is_stopped() {
        use slipway_core::repo::{AllowedHosts, AllowedPaths};
        let root = tempfile::tempdir().expect("tempdir");
        let upstream = root.path().join("upstream");
        std::fs::create_dir_all(&upstream).expect("mkdir");
        // Incompressible bytes (xorshift), so the pack is as large as the file.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let random: Vec<u8> = (0..3 << 20)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 32) as u8
            })
            .collect();
        std::fs::write(upstream.join("blob.bin"), random).expect("write");
        for args in [
            &["init", "-q", "-b", "main"][..],
            &["add", "-A"],
            &["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "big"],
        ] {
            let status = std::process::Command::new("git").args(args).current_dir(&upstream).status().expect("git");
            assert!(status.success(), "git {args:?}");
        }
        let repo = root.path().join("repo.git");
        let status = std::process::Command::new("git").args(["init", "-q", "--bare"]).arg(&repo).status().expect("git");
        assert!(status.success());
        let policy = RepoPolicy::new(
            AllowedPaths::parse(root.path().to_str().expect("utf-8")).expect("paths"),
            AllowedHosts::default(),
        );
        let url = RepoUrl::parse(&format!("file://{}", upstream.display())).expect("url");
        let main = Branch::parse("main").expect("branch");
        let small = Bounds { max_file_bytes: 1 << 20, timeout: std::time::Duration::from_secs(120) };
        let err = fetch_within(&repo, &url, &main, &policy, small).await.expect_err("over the limit");
        assert!(err.to_string().contains("fetches are limited to"), "{err}");
        let roomy = Bounds { max_file_bytes: 64 << 20, ..small };
        fetch_within(&repo, &url, &main, &policy, roomy).await.expect("within the limit");
    }

    fn remote_of(url: &RepoUrl) -> &RemoteRepo {
        match url.target() {
            RepoTarget::Remote(remote) => remote,
            RepoTarget::Local(path) => panic!("{} is local", path.display()),
        }
    }

    fn pinned(text: &str, addrs: &[&str], ssh: Option<&str>) -> Pinned {
        let url = RepoUrl::parse(text).expect("a valid URL");
        let addrs: Vec<IpAddr> = addrs.iter().map(|a| a.parse().expect("an address")).collect();
        pin_remote(&url, remote_of(&url), &addrs, ssh.map(str::to_owned))
    }

    #[test]
    fn http_is_pinned_with_curl_resolve_and_never_follows_redirects() {
        let pin = pinned("https://git.example.com/a/b.git", &["140.82.112.3", "2606:50c0::1"], None);
        assert_eq!(pin.location, "https://git.example.com/a/b.git");
        assert!(pin.config.contains(&"http.curloptResolve=git.example.com:443:140.82.112.3,[2606:50c0::1]".into()));
        assert!(pin.config.contains(&"http.followRedirects=false".into()));
        assert!(pin.config.contains(&"protocol.allow=never".into()));
        assert!(!pin.config.iter().any(|c| c.contains("file") || c.contains("ext")), "{:?}", pin.config);
        let port = pinned("http://git.example.com:8080/r", &["140.82.112.3"], None);
        assert!(port.config.contains(&"http.curloptResolve=git.example.com:8080:140.82.112.3".into()));
    }

    #[test]
    fn ssh_connects_to_the_checked_address_and_checks_the_key_of_the_name() {
        let pin = pinned("git@git.example.com:a/b.git", &["140.82.112.3"], None);
        assert_eq!(
            pin.env,
            vec![("GIT_SSH_COMMAND", "ssh -o HostName=140.82.112.3 -o HostKeyAlias=git.example.com".to_owned())]
        );
        let pin = pinned("ssh://git@git.example.com:2222/r", &["140.82.112.3"], Some("ssh -i /keys/deploy"));
        assert_eq!(
            pin.env,
            vec![(
                "GIT_SSH_COMMAND",
                "ssh -i /keys/deploy -o HostName=140.82.112.3 -o HostKeyAlias=[git.example.com]:2222".to_owned()
            )]
        );
    }

    #[test]
    fn git_protocol_urls_are_rewritten_to_the_address_and_literal_ips_stay() {
        assert_eq!(
            pinned("git://git.example.com/r.git", &["2606:50c0::1"], None).location,
            "git://[2606:50c0::1]:9418/r.git"
        );
        let literal = pinned("https://140.82.112.3/r", &["140.82.112.3"], None);
        assert_eq!(literal.location, "https://140.82.112.3/r");
        assert!(!literal.config.iter().any(|c| c.starts_with("http.curloptResolve")));
    }
}
