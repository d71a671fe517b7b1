//! A tracked repository URL is a tenant's choice: local paths and
//! non-public addresses are refused before git runs unless allowed, and an
//! allowed host is fetched from the address checked, without redirects.

use std::path::Path;
use std::time::Duration;

use slipway_core::ids::{ProjectId, WorkspaceId};
use slipway_core::names::{Branch, RepoUrl};
use slipway_core::repo::{AllowedHosts, AllowedPaths, RepoPolicy, RepoRefused};
use slipway_git::{source, GitError, Repos};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{allow_paths, work_tree};

async fn project_repo(root: &Path) -> std::path::PathBuf {
    Repos::new(root.join("repos")).ensure(&WorkspaceId::generate(), &ProjectId::generate()).await.unwrap()
}

fn main_branch() -> Branch {
    Branch::parse("main").unwrap()
}

fn file_url(path: &Path) -> RepoUrl {
    RepoUrl::parse(&format!("file://{}", path.display())).unwrap()
}

/// Whether anyone connected to `listener` (which must be non-blocking).
fn was_connected(listener: &std::net::TcpListener) -> bool {
    match listener.accept() {
        Ok(_) => true,
        Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => false,
        Err(err) => panic!("accept failed: {err}"),
    }
}

#[tokio::test]
async fn local_paths_are_refused_unless_under_an_allowed_prefix_and_before_git_runs() {
    let root = tempfile::tempdir().unwrap();
    let upstream = root.path().join("elsewhere/upstream");
    work_tree(&upstream, &[("index.html", "<h1>hi</h1>")]);
    let allowed = root.path().join("allowed");
    std::fs::create_dir_all(&allowed).unwrap();
    let repo = project_repo(root.path()).await;
    let main = main_branch();

    for (url, policy) in [
        (file_url(&upstream), RepoPolicy::default()),
        (RepoUrl::parse(upstream.to_str().unwrap()).unwrap(), RepoPolicy::default()),
        (file_url(&upstream), allow_paths(&allowed)),
    ] {
        let err = source::fetch(&repo, &url, &main, &policy).await.unwrap_err();
        // `Refused`, not `Failed`: the policy answered, git never ran.
        assert!(matches!(err, GitError::Refused(RepoRefused::LocalPath { .. })), "{url}: {err}");
        assert!(err.to_string().contains("SLIPWAY_REPO_ALLOW_PATHS"), "{err}");
    }

    // A symlink under the allowed prefix to a repository outside it: the path
    // checks out lexically, its canonical form does not.
    std::os::unix::fs::symlink(&upstream, allowed.join("link")).unwrap();
    let err = source::fetch(&repo, &file_url(&allowed.join("link")), &main, &allow_paths(&allowed)).await.unwrap_err();
    assert!(matches!(err, GitError::Refused(RepoRefused::LocalPath { .. })), "{err}");

    // Another project's repository in the data dir stays refused even under an allowed prefix.
    let data_dir = root.path().join("data");
    let other =
        Repos::new(data_dir.join("repos")).ensure(&WorkspaceId::generate(), &ProjectId::generate()).await.unwrap();
    let platform = allow_paths(root.path()).forbid_paths_under(&data_dir);
    let err = source::fetch(&repo, &file_url(&other), &main, &platform).await.unwrap_err();
    assert!(matches!(err, GitError::Refused(RepoRefused::PlatformPath { .. })), "{err}");

    assert_eq!(source::branch_head(&repo, &main).await.unwrap(), None, "nothing was fetched");

    // The same upstream under an allowed prefix is fetched.
    let commit = work_tree(&allowed.join("upstream"), &[("index.html", "<h1>allowed</h1>")]);
    let fetched = source::fetch(&repo, &file_url(&allowed.join("upstream")), &main, &allow_paths(&allowed)).await;
    assert_eq!(fetched.unwrap(), commit);
}

#[tokio::test]
async fn a_name_that_resolves_to_loopback_is_refused_at_fetch_time() {
    let root = tempfile::tempdir().unwrap();
    let repo = project_repo(root.path()).await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();

    let url = RepoUrl::parse(&format!("http://localhost:{port}/acme/app.git")).unwrap();
    let policy = RepoPolicy::default();
    assert_eq!(policy.check(&url), Ok(()), "a name passes the parse-time check; its addresses are checked at fetch");
    let err = source::fetch(&repo, &url, &main_branch(), &policy).await.unwrap_err();
    match &err {
        GitError::Refused(RepoRefused::Address { host, addr, resolved: true, .. }) => {
            assert_eq!(host, "localhost");
            assert!(addr.is_loopback(), "{addr}");
        }
        other => panic!("expected a refusal after resolving, got {other}"),
    }
    assert!(err.to_string().contains("localhost resolves to"), "{err}");
    assert!(!was_connected(&listener), "git must not have run");
}

#[tokio::test]
async fn an_allowed_host_is_fetched_from_the_checked_address_and_redirects_are_not_followed() {
    let root = tempfile::tempdir().unwrap();
    let repo = project_repo(root.path()).await;
    let server = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = server.local_addr().unwrap().port();
    // Where a redirect would send git: an internal service.
    let internal = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    internal.set_nonblocking(true).unwrap();
    let internal_port = internal.local_addr().unwrap().port();

    let url = RepoUrl::parse(&format!("http://localhost:{port}/acme/app.git")).unwrap();
    let policy = RepoPolicy::new(AllowedPaths::default(), AllowedHosts::parse("localhost").unwrap());
    let answer = async {
        let (mut stream, _) = tokio::time::timeout(Duration::from_secs(30), server.accept())
            .await
            .expect("git connected within 30 s")
            .unwrap();
        let mut request = Vec::new();
        let mut buffer = [0u8; 4096];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let read = stream.read(&mut buffer).await.unwrap();
            assert!(read > 0, "the request ended early");
            request.extend_from_slice(&buffer[..read]);
        }
        let redirect = format!(
            "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{internal_port}/secret.git/info/refs?service=git-upload-pack\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(redirect.as_bytes()).await.unwrap();
        String::from_utf8_lossy(&request).into_owned()
    };
    let main = main_branch();
    let (fetched, request) = tokio::join!(source::fetch(&repo, &url, &main, &policy), answer);
    assert!(request.starts_with("GET /acme/app.git/info/refs?service=git-upload-pack "), "{request}");
    let err = fetched.unwrap_err();
    assert!(matches!(err, GitError::Failed { .. }), "{err}");
    assert!(!was_connected(&internal), "the redirect was not followed");
}
