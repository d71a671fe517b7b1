//! The sandbox on this kernel, process by process: what a sandboxed shell
//! sees and may do. Needs root (uids, namespaces, cgroups): without it the
//! tests fail saying so. The end-to-end attack suite (two tenants through
//! `slipway up`) is crates/slipway/tests/sandbox.rs.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use slipway_core::resources::{Memory, Resources, SandboxUid};
use slipway_sandbox::{Files, Sandbox, SandboxSettings, TenantProcess};
use slipway_testkit::eventually;

struct Fixture {
    sandbox: Sandbox,
    release: tempfile::TempDir,
    _scratch: tempfile::TempDir,
}

fn fixture() -> Fixture {
    fixture_showing(vec![])
}

/// A sandbox whose views also show `read_only` (as `slipway` shows itself and the toolchains).
fn fixture_showing(read_only: Vec<PathBuf>) -> Fixture {
    assert!(
        nix::unistd::Uid::effective().is_root(),
        "the sandbox tests need root: tenant code gets uids of its own, namespaces and cgroups"
    );
    let scratch = tempfile::tempdir().expect("scratch");
    let release = tempfile::tempdir().expect("release");
    std::fs::write(release.path().join("file.txt"), "release file").expect("write");
    let sandbox = Sandbox::enforce(SandboxSettings {
        helper: PathBuf::from(env!("CARGO_BIN_EXE_sandbox-helper")),
        scratch: scratch.path().join("root"),
        read_only,
    })
    .unwrap_or_else(|err| panic!("{err}"));
    Fixture { sandbox, release, _scratch: scratch }
}

struct Ran {
    code: Option<i32>,
    out: String,
    oom_kills: u64,
}

impl Fixture {
    async fn sh(&self, script: &str, resources: Resources, name: &str) -> Ran {
        let argv = [OsString::from("/bin/sh"), OsString::from("-c"), OsString::from(script)];
        let env = [(OsString::from("PATH"), OsString::from("/usr/bin:/bin"))];
        let process = TenantProcess {
            name,
            uid: SandboxUid::nth(99_000).expect("uid"),
            resources: &resources,
            argv: &argv,
            cwd: self.release.path(),
            env: &env,
            files: Files { layered: Some((self.release.path(), 64 << 20)), ..Files::default() },
            bind_port: Some(18_080),
            max_file_size: None,
        };
        let prepared = self.sandbox.command(&process).expect("a command");
        let mut command = prepared.command;
        command.stdin(std::process::Stdio::null()).kill_on_drop(true);
        let output = tokio::time::timeout(Duration::from_secs(60), command.output())
            .await
            .expect("the sandboxed command ended")
            .expect("it ran");
        let cgroup = prepared.cgroup.expect("an enforced sandbox has a cgroup");
        let oom_kills = cgroup.oom_kills();
        cgroup.remove().await;
        let mut out = String::from_utf8_lossy(&output.stdout).into_owned();
        out.push_str(&String::from_utf8_lossy(&output.stderr));
        Ran { code: output.status.code(), out, oom_kills }
    }
}

#[tokio::test]
async fn a_helper_that_is_also_shown_read_only_is_bound_once() {
    // `slipway` installed alone is its own sandbox helper and is in every view (static sites
    // run `slipway serve-static`): the view binds the file once and the process starts.
    let helper = PathBuf::from(env!("CARGO_BIN_EXE_sandbox-helper"));
    let f = fixture_showing(vec![helper.clone()]);
    let ran = f.sh(&format!("test -x {}", helper.display()), Resources::default(), "helper-shown").await;
    assert_eq!(ran.code, Some(0), "{}", ran.out);
}

#[tokio::test]
async fn the_shell_runs_as_its_uid_without_capabilities_seeing_only_itself() {
    let f = fixture();
    let ran = f
        .sh(
            "id -u; grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status; ls /proc | grep -c '^[0-9]'; \
             cat file.txt; echo written > new.txt && cat new.txt; ls /",
            Resources::default(),
            "identity",
        )
        .await;
    assert_eq!(ran.code, Some(0), "{}", ran.out);
    assert!(ran.out.starts_with(&format!("{}\n", SandboxUid::FIRST + 99_000)), "{}", ran.out);
    assert!(ran.out.contains("CapEff:\t0000000000000000"), "{}", ran.out);
    assert!(ran.out.contains("CapBnd:\t0000000000000000"), "{}", ran.out);
    assert!(ran.out.contains("NoNewPrivs:\t1"), "{}", ran.out);
    let processes: u32 = ran.out.lines().nth(4).and_then(|n| n.trim().parse().ok()).expect("a count");
    assert!(processes <= 5, "a private /proc lists the sandbox's processes only: {processes}");
    assert!(ran.out.contains("release file") && ran.out.contains("written"), "{}", ran.out);
    // The write went to the throw-away layer, not the release.
    assert!(!f.release.path().join("new.txt").exists());
    let top: Vec<&str> = ran.out.lines().collect();
    for hidden in ["home", "root", "var", "srv", "mnt", "opt", "run"] {
        assert!(!top.contains(&hidden), "/{hidden} is not in the view: {}", ran.out);
    }
}

#[tokio::test]
async fn setuid_binaries_do_not_elevate_and_namespaces_cannot_be_made() {
    let f = fixture();
    // `su` is setuid root on Debian; `unshare` needs namespaces the filter denies.
    let ran = f
        .sh(
            "ls -l /bin/su | cut -c1-10; su -c id root </dev/null; echo su=$?; \
             unshare -U true; echo unshare=$?; id -u",
            Resources::default(),
            "setuid",
        )
        .await;
    assert!(ran.out.contains("-rwsr-xr-x"), "su should be setuid on the host: {}", ran.out);
    assert!(!ran.out.contains("su=0"), "{}", ran.out);
    assert!(!ran.out.contains("unshare=0"), "{}", ran.out);
    assert!(!ran.out.lines().any(|line| line.trim() == "0"), "nothing ran as root: {}", ran.out);
}

#[tokio::test]
async fn the_process_limit_stops_a_fork_bomb() {
    let f = fixture();
    let resources = Resources { max_processes: 20, ..Resources::default() };
    let ran =
        f.sh("i=0; while [ $i -lt 100 ]; do sleep 5 & i=$((i+1)); done; wait; echo done", resources, "forks").await;
    assert!(ran.out.contains("Cannot fork"), "the shell hit the process limit: {}", ran.out);
}

#[tokio::test]
async fn an_oom_kill_is_counted_in_the_instance_cgroup() {
    let f = fixture();
    let resources = Resources { memory: Memory::from_mib(32), ..Resources::default() };
    // Fill the private /tmp (memory-backed) past the limit.
    let ran = f.sh("head -c 200000000 /dev/zero > /tmp/fill; echo survived", resources, "oom").await;
    assert!(ran.oom_kills >= 1, "the kernel's OOM kill is counted: {} (code {:?})", ran.out, ran.code);
}

#[tokio::test]
async fn it_binds_its_own_port_only() {
    let f = fixture();
    let ran = f
        .sh(
            "python3 -c 'import socket\nfor p in (18080, 18081):\n  s=socket.socket()\n  try:\n    \
             s.bind((\"127.0.0.1\", p)); print(p, \"bound\")\n  except OSError as e: print(p, e.errno)'",
            Resources::default(),
            "bind",
        )
        .await;
    assert!(ran.out.contains("18080 bound"), "{}", ran.out);
    assert!(ran.out.contains("18081 13"), "EACCES for any other port: {}", ran.out);
}

#[tokio::test]
async fn sigterm_reaches_the_app_once_and_orphans_die_with_it() {
    let f = fixture();
    let resources = Resources::default();
    let argv = [
        OsString::from("/bin/sh"),
        OsString::from("-c"),
        OsString::from("n=0; trap 'n=$((n+1)); echo term $n' TERM; (setsid sleep 300 &); sleep 2; kill -0 1; sleep 1; echo after $n"),
    ];
    let env = [(OsString::from("PATH"), OsString::from("/usr/bin:/bin"))];
    let process = TenantProcess {
        name: "signals",
        uid: SandboxUid::nth(99_001).expect("uid"),
        resources: &resources,
        argv: &argv,
        cwd: Path::new("/tmp"),
        env: &env,
        files: Files::default(),
        bind_port: None,
        max_file_size: None,
    };
    let prepared = f.sandbox.command(&process).expect("a command");
    let mut command = prepared.command;
    command.stdout(std::process::Stdio::piped()).process_group(0);
    let child = command.spawn().expect("spawn");
    let pgid = nix::unistd::Pid::from_raw(child.id().expect("pid") as i32);
    tokio::time::sleep(Duration::from_millis(800)).await;
    // What the agent does to stop an instance: SIGTERM to the outer stage's group.
    nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGTERM).expect("killpg");
    let output =
        tokio::time::timeout(Duration::from_secs(30), child.wait_with_output()).await.expect("ended").expect("ran");
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(out.contains("term 1") && !out.contains("term 2"), "exactly one SIGTERM: {out}");
    let cgroup = prepared.cgroup.expect("cgroup");
    // The setsid'd sleep died with the sandbox: nothing is left in its cgroup.
    let left = cgroup.procs_files().iter().map(|f| std::fs::read_to_string(f).unwrap_or_default()).collect::<String>();
    assert!(left.trim().is_empty(), "processes left behind: {left}");
    cgroup.remove().await;
}

#[tokio::test]
async fn what_the_app_leaves_running_dies_when_it_exits() {
    let f = fixture();
    let resources = Resources::default();
    let argv = [OsString::from("/bin/sh"), OsString::from("-c"), OsString::from("(setsid sleep 300 &); echo started")];
    let process = TenantProcess {
        name: "orphans",
        uid: SandboxUid::nth(99_002).expect("uid"),
        resources: &resources,
        argv: &argv,
        cwd: Path::new("/tmp"),
        env: &[],
        files: Files::default(),
        bind_port: None,
        max_file_size: None,
    };
    let prepared = f.sandbox.command(&process).expect("a command");
    let mut command = prepared.command;
    let status = tokio::time::timeout(Duration::from_secs(30), command.status()).await.expect("ended").expect("ran");
    assert!(status.success(), "{status}");
    let cgroup = prepared.cgroup.expect("cgroup");
    // The kernel kills a PID namespace's processes when its init exits; give it a moment to reap.
    eventually("the daemonised sleep to go with the app", Duration::from_secs(5), async || {
        let left: String =
            cgroup.procs_files().iter().map(|f| std::fs::read_to_string(f).unwrap_or_default()).collect();
        left.trim().is_empty().then_some(())
    })
    .await;
    cgroup.remove().await;
}

#[tokio::test]
async fn no_terminal_no_vm_sockets_no_x32_calls_no_inherited_descriptors() {
    use std::os::fd::AsRawFd;
    let f = fixture();
    // A descriptor the platform holds open without CLOEXEC, as a lock wrapper or a jobserver would.
    let inherited = std::fs::File::open("/dev/null").expect("open");
    nix::fcntl::fcntl(&inherited, nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty())).expect("fcntl");
    let fd = inherited.as_raw_fd();
    let script = r#"python3 - <<'PY'
import ctypes, os, socket
libc = ctypes.CDLL(None, use_errno=True)
def tried(name, action):
    try:
        print(name, 'ALLOWED', action())
    except Exception as err:
        print(name, 'denied', type(err).__name__)
tried('tty', lambda: open('/dev/tty'))
tried('vsock', lambda: socket.socket(40, socket.SOCK_STREAM))
def x32():
    if libc.syscall(0x40000000 | 39) == -1:
        raise OSError(ctypes.get_errno(), 'x32')
tried('x32', x32)
tried('inherited', lambda: os.fstat(FD))
PY"#
    .replace("FD", &fd.to_string());
    let ran = f.sh(&script, Resources::default(), "channels").await;
    drop(inherited);
    for name in ["tty", "vsock", "x32", "inherited"] {
        assert!(ran.out.contains(&format!("{name} denied")), "{name}: {}", ran.out);
    }
}

#[tokio::test]
async fn a_grant_opens_one_host_service_to_one_environment_and_survives_a_reinstall() {
    let f = fixture();
    let policy = slipway_sandbox::NetworkPolicy {
        router_ports: Vec::new(),
        nameservers: slipway_sandbox::NetworkPolicy::host_nameservers(),
        egress: true,
        grants: Vec::new(),
    };
    policy.install().expect("nftables rules (install the nftables package)");
    // A service of the host, such as an add-on database of one tenant.
    let service = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = service.local_addr().expect("addr").port();
    let uid = SandboxUid::nth(99_000).expect("uid"); // the uid `sh` runs as
    let other = SandboxUid::nth(99_003).expect("uid");
    let connect = format!(
        "python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}), timeout=3); print(\"connected\")'"
    );
    let localhost = std::net::Ipv4Addr::LOCALHOST;
    let _ = slipway_sandbox::revoke(uid, localhost, port);

    let before = f.sh(&connect, Resources::default(), "grant-before").await;
    assert!(!before.out.contains("connected"), "refused without a grant: {}", before.out);
    slipway_sandbox::grant(other, localhost, port).expect("grant to another uid");
    let others = f.sh(&connect, Resources::default(), "grant-other").await;
    assert!(!others.out.contains("connected"), "another environment's grant opens nothing: {}", others.out);
    slipway_sandbox::grant(uid, localhost, port).expect("grant");
    policy.install().expect("reinstall");
    let granted = f.sh(&connect, Resources::default(), "grant-after").await;
    assert!(granted.out.contains("connected"), "granted, also after a reinstall: {}", granted.out);
    slipway_sandbox::revoke(uid, localhost, port).expect("revoke");
    slipway_sandbox::revoke(other, localhost, port).expect("revoke");
    slipway_sandbox::revoke(uid, localhost, port).expect("revoking twice is fine");
    let revoked = f.sh(&connect, Resources::default(), "grant-revoked").await;
    assert!(!revoked.out.contains("connected"), "refused again: {}", revoked.out);
}

#[test]
fn a_tree_is_handed_over_without_following_its_links() {
    use std::os::unix::fs::MetadataExt;
    assert!(nix::unistd::Uid::effective().is_root(), "handing a tree to a uid needs root");
    let outside = tempfile::tempdir().expect("outside");
    std::fs::write(outside.path().join("secret"), "root's").expect("write");
    let tree = tempfile::tempdir().expect("tree");
    std::fs::create_dir_all(tree.path().join("a/b")).expect("mkdir");
    std::fs::write(tree.path().join("a/b/file"), "x").expect("write");
    std::os::unix::fs::symlink(outside.path(), tree.path().join("a/link")).expect("symlink");
    let uid = SandboxUid::nth(99_004).expect("uid");
    slipway_sandbox::give_tree(tree.path(), uid).expect("give_tree");
    for path in ["", "a", "a/b", "a/b/file"] {
        assert_eq!(std::fs::metadata(tree.path().join(path)).expect("meta").uid(), uid.get(), "{path}");
    }
    assert_eq!(std::fs::symlink_metadata(tree.path().join("a/link")).expect("meta").uid(), uid.get());
    assert_eq!(std::fs::metadata(outside.path()).expect("meta").uid(), 0, "the link's target is not handed over");
    assert_eq!(std::fs::metadata(outside.path().join("secret")).expect("meta").uid(), 0);
}
