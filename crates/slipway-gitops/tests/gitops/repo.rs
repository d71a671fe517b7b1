//! The GitOps writer against real bare repositories and the system `git`:
//! commits land on the remote, concurrent writers keep each other's commits,
//! a lost push race is retried, rollback keeps history, and bad input or a
//! bad remote changes nothing.

#![allow(clippy::unwrap_used)] // the fixtures are helpers, not #[test] functions

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Barrier};

use slipway_core::deployment::DeploymentNumber;
use slipway_core::names::{EnvironmentName, ProjectSlug, WorkspaceSlug};
use slipway_gitops::{AppEnvironment, AppPath, ArgoSettings, GitopsError, RepoWriter, WriterSettings};

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git").arg("-C").arg(dir).args(args).output().unwrap();
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn bare_repo(root: &Path) -> String {
    let path = root.join("gitops.git");
    git(root, &["init", "--quiet", "--bare", "--initial-branch=main", path.to_str().unwrap()]);
    path.to_str().unwrap().to_owned()
}

fn writer(root: &Path, name: &str, remote: &str) -> RepoWriter {
    let argo = ArgoSettings::new("https://git.example.com/git/_platform/gitops.git");
    RepoWriter::open(WriterSettings::new(root.join(name), remote, argo)).unwrap()
}

fn remote_head(remote: &str) -> String {
    git(Path::new(remote), &["rev-parse", "refs/heads/main"])
}

fn app(workspace: &str, project: &str, build: u64) -> AppEnvironment {
    let mut app = crate::common::node_web();
    app.workspace = WorkspaceSlug::parse(workspace).unwrap();
    app.project = ProjectSlug::parse(project).unwrap();
    app.deployment = DeploymentNumber::new(build).unwrap();
    app.image = crate::common::image(project, build);
    app
}

#[test]
fn a_deployment_is_one_pushed_commit_naming_what_it_deploys() {
    let root = tempfile::tempdir().unwrap();
    let remote = bare_repo(root.path());
    let writer = writer(root.path(), "clone", &remote);
    let shop = app("acme", "shop", 12);
    let commit = writer.deploy(&shop, &crate::common::settings()).unwrap();
    assert!(commit.created);
    assert_eq!(commit.sha, remote_head(&remote));
    let message = git(Path::new(&remote), &["log", "-1", "--format=%B", "main"]);
    for part in ["acme/shop/production", "#12", "deployment: 12", &shop.image.to_string()] {
        assert!(message.contains(part), "commit message lacks {part}:\n{message}");
    }
    let files = git(Path::new(&remote), &["ls-tree", "-r", "--name-only", "main"]);
    for file in [
        "apps/acme/shop/production/deployment-web.yaml",
        "bootstrap/application-slipway-root.yaml",
        "bootstrap/workspaces/acme/appproject-ws-acme.yaml",
        "bootstrap/workspaces/acme/applicationset-ws-acme.yaml",
    ] {
        assert!(files.lines().any(|line| line == file), "{file} missing from:\n{files}");
    }
    let project = git(Path::new(&remote), &["show", "main:bootstrap/workspaces/acme/appproject-ws-acme.yaml"]);
    assert!(project.contains("namespace: acme-shop-production"), "{project}");
}

#[test]
fn an_unchanged_render_makes_no_commit() {
    let root = tempfile::tempdir().unwrap();
    let remote = bare_repo(root.path());
    let writer = writer(root.path(), "clone", &remote);
    let first = writer.deploy(&app("acme", "shop", 12), &crate::common::settings()).unwrap();
    let again = writer.deploy(&app("acme", "shop", 12), &crate::common::settings()).unwrap();
    assert_eq!(again, slipway_gitops::Commit { sha: first.sha.clone(), created: false });
    assert_eq!(git(Path::new(&remote), &["rev-list", "--count", "main"]), "1");
}

#[test]
fn two_concurrent_writers_for_different_apps_both_land() {
    let root = tempfile::tempdir().unwrap();
    let remote = bare_repo(root.path());
    let writers = [Arc::new(writer(root.path(), "one", &remote)), Arc::new(writer(root.path(), "two", &remote))];
    let barrier = Arc::new(Barrier::new(2));
    let rounds = 6;
    let handles: Vec<_> = writers
        .iter()
        .zip(["shop", "blog"])
        .map(|(writer, project)| {
            let (writer, barrier) = (Arc::clone(writer), Arc::clone(&barrier));
            std::thread::spawn(move || {
                (1..=rounds)
                    .map(|build| {
                        barrier.wait();
                        writer.deploy(&app("acme", project, build), &crate::common::settings()).unwrap().sha
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let shas: Vec<String> = handles.into_iter().flat_map(|handle| handle.join().unwrap()).collect();
    let history = git(Path::new(&remote), &["log", "--format=%H", "main"]);
    for sha in &shas {
        assert!(history.lines().any(|line| line == sha), "commit {sha} was lost:\n{history}");
    }
    assert_eq!(history.lines().count(), 2 * rounds as usize);
    // The AppProject, rewritten by both, lists both namespaces.
    let project = git(Path::new(&remote), &["show", "main:bootstrap/workspaces/acme/appproject-ws-acme.yaml"]);
    assert!(project.contains("acme-shop-production") && project.contains("acme-blog-production"), "{project}");
}

#[test]
fn a_push_that_loses_the_race_is_reapplied_on_the_new_head() {
    let root = tempfile::tempdir().unwrap();
    let remote = bare_repo(root.path());
    let other = writer(root.path(), "other", &remote);
    other.deploy(&app("acme", "blog", 1), &crate::common::settings()).unwrap();
    // Prepare a commit the remote will jump to while our push is being received.
    let intruder = other.deploy(&app("acme", "blog", 2), &crate::common::settings()).unwrap().sha;
    let base = git(Path::new(&remote), &["rev-parse", "main~1"]);
    git(Path::new(&remote), &["update-ref", "refs/heads/main", &base]);
    git(Path::new(&remote), &["update-ref", "refs/pending/intruder", &intruder]);
    // The hook moves `main` once, after our push was sent and before it is applied: a real
    // non-fast-forward rejection (the ref no longer has the value the push expects).
    let hook = Path::new(&remote).join("hooks/pre-receive");
    std::fs::write(
        &hook,
        "#!/bin/sh\ncat >/dev/null\n[ -e \"$GIT_DIR/raced\" ] && exit 0\ntouch \"$GIT_DIR/raced\"\n\
         env -u GIT_QUARANTINE_PATH -u GIT_OBJECT_DIRECTORY -u GIT_ALTERNATE_OBJECT_DIRECTORIES \
         git update-ref refs/heads/main refs/pending/intruder\n",
    )
    .unwrap();
    Command::new("chmod").arg("+x").arg(&hook).status().unwrap();

    let ours =
        writer(root.path(), "ours", &remote).deploy(&app("acme", "shop", 7), &crate::common::settings()).unwrap();
    assert!(Path::new(&remote).join("raced").exists(), "the race was not staged");
    assert_eq!(ours.sha, remote_head(&remote));
    assert_eq!(git(Path::new(&remote), &["rev-parse", "main~1"]), intruder, "our commit must sit on the intruder");
    let files = git(Path::new(&remote), &["ls-tree", "-r", "--name-only", "main"]);
    assert!(files.contains("apps/acme/blog/production/") && files.contains("apps/acme/shop/production/"));
}

#[test]
fn rollback_is_a_new_commit_restoring_an_earlier_release() {
    let root = tempfile::tempdir().unwrap();
    let remote = bare_repo(root.path());
    let writer = writer(root.path(), "clone", &remote);
    let first = writer.deploy(&app("acme", "shop", 1), &crate::common::settings()).unwrap();
    let second = writer.deploy(&app("acme", "shop", 2), &crate::common::settings()).unwrap();
    let path = AppPath {
        workspace: WorkspaceSlug::parse("acme").unwrap(),
        project: ProjectSlug::parse("shop").unwrap(),
        environment: EnvironmentName::production(),
    };
    let rolled = writer.rollback(&path, &first.sha, DeploymentNumber::new(3).unwrap()).unwrap();
    assert!(rolled.created);
    assert_ne!(rolled.sha, first.sha);
    let folder = "apps/acme/shop/production";
    assert_eq!(
        git(Path::new(&remote), &["rev-parse", &format!("main:{folder}")]),
        git(Path::new(&remote), &["rev-parse", &format!("{}:{folder}", first.sha)]),
        "the folder must be exactly the first release's"
    );
    let history = writer.history(&path).unwrap();
    let shas: Vec<&str> = history.iter().map(|entry| entry.sha.as_str()).collect();
    assert_eq!(shas, [rolled.sha.as_str(), second.sha.as_str(), first.sha.as_str()]);
    assert!(history[0].subject.starts_with("rollback acme/shop/production #3"), "{}", history[0].subject);

    let err = writer.rollback(&path, "0123456789abcdef0123456789abcdef01234567", DeploymentNumber::new(4).unwrap());
    assert!(matches!(err, Err(GitopsError::NoSuchRelease { .. })), "{err:?}");
    assert!(matches!(
        writer.rollback(&path, "--all", DeploymentNumber::new(4).unwrap()),
        Err(GitopsError::NoSuchRelease { .. })
    ));
}

#[test]
fn a_remote_pointing_nowhere_is_a_clear_error() {
    let root = tempfile::tempdir().unwrap();
    let argo = ArgoSettings::new("https://git.example.com/gitops.git");
    for remote in [root.path().join("missing.git").to_str().unwrap().to_owned(), "http://127.0.0.1:9/gitops.git".into()]
    {
        let err = RepoWriter::open(WriterSettings::new(root.path().join("clone"), &remote, argo.clone()))
            .err()
            .unwrap_or_else(|| panic!("{remote} was accepted"));
        assert!(matches!(err, GitopsError::Remote { action: "fetch", .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains(&remote) && text.contains("SLIPWAY_GITOPS_REMOTE"), "{text}");
    }
}

#[test]
fn bad_input_and_namespace_collisions_change_nothing() {
    let root = tempfile::tempdir().unwrap();
    let remote = bare_repo(root.path());
    let writer = writer(root.path(), "clone", &remote);
    writer.deploy(&app("acme-shop", "web", 1), &crate::common::settings()).unwrap();
    let before = remote_head(&remote);
    // `acme` + `shop-web` gives the same namespace as `acme-shop` + `web`.
    let err = writer.deploy(&app("acme", "shop-web", 1), &crate::common::settings()).unwrap_err();
    assert!(matches!(err, GitopsError::NamespaceTaken { .. }), "{err}");
    let mut bad = app("acme", "shop", 2);
    bad.health_check_path = Some("no slash".into());
    assert!(writer.deploy(&bad, &crate::common::settings()).is_err());
    assert_eq!(remote_head(&remote), before, "a failed deployment pushed something");
    // An attempt that failed after building its commit leaves it unpushed; the next one replaces it.
    writer.deploy(&app("acme", "shop", 3), &crate::common::settings()).unwrap();
    let files = git(Path::new(&remote), &["ls-tree", "-r", "--name-only", "main"]);
    assert!(files.contains("apps/acme/shop/production/") && !files.contains("apps/acme/shop-web/"), "{files}");
}

#[test]
fn the_working_clone_is_reused_across_opens() {
    let root = tempfile::tempdir().unwrap();
    let remote = bare_repo(root.path());
    let first =
        writer(root.path(), "clone", &remote).deploy(&app("acme", "shop", 1), &crate::common::settings()).unwrap();
    let reopened = writer(root.path(), "clone", &remote);
    let second = reopened.deploy(&app("acme", "shop", 2), &crate::common::settings()).unwrap();
    assert_eq!(git(Path::new(&remote), &["rev-parse", "main~1"]), first.sha);
    assert_eq!(second.sha, remote_head(&remote));
}

#[test]
fn several_apps_can_land_in_one_commit_and_may_not_clash_with_each_other() {
    let root = tempfile::tempdir().unwrap();
    let remote = bare_repo(root.path());
    let writer = writer(root.path(), "clone", &remote);
    let render = |app: &AppEnvironment| {
        (AppPath::of(app), slipway_gitops::render_environment(app, &crate::common::settings()).unwrap())
    };
    let batch = [render(&app("acme", "shop", 1)), render(&app("acme", "blog", 1)), render(&app("globex", "shop", 1))];
    let commit = writer.commit_apps(&batch, "render every app").unwrap();
    assert_eq!(commit.sha, remote_head(&remote));
    assert_eq!(git(Path::new(&remote), &["rev-list", "--count", "main"]), "1");
    let project = git(Path::new(&remote), &["show", "main:bootstrap/workspaces/acme/appproject-ws-acme.yaml"]);
    assert!(project.contains("acme-blog-production") && project.contains("acme-shop-production"));
    assert!(!project.contains("globex"), "{project}");

    let clash = [render(&app("acme-x", "web", 1)), render(&app("acme", "x-web", 1))];
    let err = writer.commit_apps(&clash, "clash").unwrap_err();
    assert!(matches!(err, GitopsError::NamespaceTaken { .. }), "{err}");
    assert_eq!(remote_head(&remote), commit.sha);
}

#[test]
fn removing_an_environment_deletes_its_folder_and_its_namespace_from_the_project() {
    let root = tempfile::tempdir().unwrap();
    let remote = bare_repo(root.path());
    let writer = writer(root.path(), "clone", &remote);
    writer.deploy(&app("acme", "shop", 1), &crate::common::settings()).unwrap();
    writer.deploy(&app("acme", "blog", 1), &crate::common::settings()).unwrap();
    let shop = AppPath::of(&app("acme", "shop", 1));
    let removed = writer.remove(&shop, "remove acme/shop/production").unwrap();
    assert!(removed.created);
    let files = git(Path::new(&remote), &["ls-tree", "-r", "--name-only", "main"]);
    assert!(!files.contains("apps/acme/shop/") && files.contains("apps/acme/blog/production/"), "{files}");
    let project = git(Path::new(&remote), &["show", "main:bootstrap/workspaces/acme/appproject-ws-acme.yaml"]);
    assert!(!project.contains("acme-shop-production") && project.contains("acme-blog-production"), "{project}");
    let again = writer.remove(&shop, "remove acme/shop/production").unwrap();
    assert_eq!(again, slipway_gitops::Commit { sha: removed.sha, created: false });
}

fn install_pre_receive(remote: &str, script: &str) {
    let hook = Path::new(remote).join("hooks/pre-receive");
    std::fs::write(&hook, format!("#!/bin/sh\ncat >/dev/null\n{script}\n")).unwrap();
    Command::new("chmod").arg("+x").arg(&hook).status().unwrap();
}

#[test]
fn a_remote_that_refuses_the_push_is_a_clear_error_and_gets_nothing() {
    let root = tempfile::tempdir().unwrap();
    let remote = bare_repo(root.path());
    let writer = writer(root.path(), "clone", &remote);
    writer.deploy(&app("acme", "shop", 1), &crate::common::settings()).unwrap();
    let before = remote_head(&remote);
    install_pre_receive(&remote, "echo 'pushes are frozen' >&2\nexit 1");
    let err = writer.deploy(&app("acme", "shop", 2), &crate::common::settings()).unwrap_err();
    assert!(matches!(err, GitopsError::Remote { action: "push", .. }), "{err}");
    assert!(err.to_string().contains("pushes are frozen"), "{err}");
    assert_eq!(remote_head(&remote), before);
}

#[test]
fn a_remote_that_always_races_ahead_exhausts_the_bounded_retries() {
    let root = tempfile::tempdir().unwrap();
    let remote = bare_repo(root.path());
    let argo = ArgoSettings::new("https://git.example.com/gitops.git");
    let mut config = WriterSettings::new(root.path().join("clone"), &remote, argo);
    config.max_attempts = 3;
    let writer = RepoWriter::open(config).unwrap();
    writer.deploy(&app("acme", "shop", 1), &crate::common::settings()).unwrap();
    // Every push finds `main` moved on by someone else.
    install_pre_receive(
        &remote,
        "unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES\n\
         export GIT_AUTHOR_NAME=racer GIT_AUTHOR_EMAIL=racer@example.invalid\n\
         export GIT_COMMITTER_NAME=racer GIT_COMMITTER_EMAIL=racer@example.invalid\n\
         new=$(git commit-tree -p refs/heads/main -m race 'refs/heads/main^{tree}')\n\
         git update-ref refs/heads/main \"$new\"",
    );
    let err = writer.deploy(&app("acme", "shop", 2), &crate::common::settings()).unwrap_err();
    assert!(matches!(err, GitopsError::RetriesExhausted { attempts: 3, .. }), "{err}");
    let subjects = git(Path::new(&remote), &["log", "--format=%s", "main"]);
    assert_eq!(subjects.lines().filter(|line| *line == "race").count(), 3, "{subjects}");
    assert!(!subjects.contains("#2"), "our commit must not have landed:\n{subjects}");
}

#[test]
fn a_later_revision_includes_an_earlier_commit_even_one_pushed_by_another_writer() {
    let root = tempfile::tempdir().unwrap();
    let remote = bare_repo(root.path());
    let (one, two) = (writer(root.path(), "one", &remote), writer(root.path(), "two", &remote));
    let first = one.deploy(&app("acme", "shop", 1), &crate::common::settings()).unwrap().sha;
    // Another app's commit moves the branch head on; `one` has not seen it.
    let later = two.deploy(&app("acme", "blog", 1), &crate::common::settings()).unwrap().sha;
    assert!(one.includes(&later, &first).unwrap(), "the branch head includes every earlier commit");
    assert!(one.includes(&first, &first).unwrap());
    assert!(!one.includes(&first, &later).unwrap(), "an earlier revision does not include a later commit");
    let unknown = "0123456789abcdef0123456789abcdef01234567";
    assert!(!one.includes(unknown, &first).unwrap());
    for hostile in ["--all", "HEAD", "main", "", "0123456789abcdef0123456789abcdef0123456z"] {
        assert!(!one.includes(hostile, &first).unwrap(), "`{hostile}` is not a revision");
    }
}
