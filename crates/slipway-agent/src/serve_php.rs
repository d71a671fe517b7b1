//! `slipway serve-php DIR`, the process a PHP app's `web` instances run: php-fpm
//! behind nginx, both the machine's own (found on the PATH and its `sbin`
//! neighbours: Debian's `php-fpm8.2` and `nginx`), as Heroku's
//! `heroku-php-nginx` runs them.
//!
//! At start it writes their configuration ([`slipway_core::php`]) into a fresh
//! directory of the instance's own temporary space (a sandbox's private
//! `/tmp`), starts php-fpm, waits for its socket, then starts nginx in the
//! foreground with `-e stderr`. Both write to the instance's stderr, and
//! nginx's access log, a FIFO in that directory, is copied to stdout: their
//! lines reach the app's runtime log. It then watches both:
//! when either exits, the other is stopped and `serve-php` exits with a
//! failure, so the agent sees the instance die (and restarts it, or fails a
//! release that never became healthy). SIGTERM stops both gracefully (SIGQUIT,
//! their graceful stop) and removes the directory. It is their subreaper: a
//! worker whose master died is its child then, and is killed on the way out,
//! so nothing outlives it even where no sandbox's PID namespace would.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use slipway_core::php::{self, PhpServer};
use tokio::process::{Child, Command};

/// How long php-fpm may take to open its socket.
const FPM_START: Duration = Duration::from_secs(20);
/// How long each program gets to stop gracefully before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ServePhpError {
    #[error(
        "PHP apps run on php-fpm behind nginx, and this machine has no {}: install {} (Debian: apt-get install \
         php-fpm nginx)",
        .0.join(" and no "),
        .0.join(" and ")
    )]
    Missing(Vec<&'static str>),
    #[error("the document root {0} is not a directory")]
    NoRoot(PathBuf),
    #[error("cannot {what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("php-fpm exited ({0}) before it opened its socket; its lines are above")]
    FpmDidNotStart(String),
    #[error("php-fpm did not open its socket within {} s", FPM_START.as_secs())]
    FpmTimedOut,
    #[error("{0} exited ({1}); the app stops with it")]
    Exited(&'static str, String),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ServePhpError {
    let what = what.into();
    move |source| ServePhpError::Io { what, source }
}

/// Serves the PHP app whose document root is `root` on `addr` until `shutdown` completes (Ok) or
/// php-fpm or nginx exits (an error).
pub async fn serve_php(
    root: PathBuf,
    addr: SocketAddr,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServePhpError> {
    let servers = php::find_servers(&std::env::var_os("PATH").unwrap_or_default());
    let (Some(fpm), Some(nginx)) = (&servers.fpm, &servers.nginx) else {
        return Err(ServePhpError::Missing(servers.missing()));
    };
    let root = std::path::absolute(&root).map_err(io(format!("resolve {}", root.display())))?;
    if !root.is_dir() {
        return Err(ServePhpError::NoRoot(root));
    }
    if !root.join(php::FRONT_CONTROLLER).is_file() {
        println!("serve-php: {} has no {}: only its files are served", root.display(), php::FRONT_CONTROLLER);
    }
    // Workers of a master that dies become ours, not init's: killed with the rest at the end.
    let _ = nix::sys::prctl::set_child_subreaper(true);
    let run_dir = RunDir::create()?;
    let as_root = nix::unistd::geteuid().is_root();
    let listen = addr.to_string();
    let (root_text, run_text) = (root.to_string_lossy(), run_dir.0.to_string_lossy());
    let mime_types = Path::new(php::NGINX_MIME_TYPES).is_file().then_some(php::NGINX_MIME_TYPES);
    let server = PhpServer {
        listen: &listen,
        root: &root_text,
        run_dir: &run_text,
        workers: php::workers(std::env::var("WEB_CONCURRENCY").ok().as_deref()),
        mime_types,
        as_root,
    };
    for dir in server.temp_dirs() {
        std::fs::create_dir(&dir).map_err(io(format!("create {dir}")))?;
    }
    let (fpm_conf, nginx_conf) = (run_dir.0.join("php-fpm.conf"), run_dir.0.join("nginx.conf"));
    std::fs::write(&fpm_conf, server.fpm_conf()).map_err(io("write php-fpm.conf"))?;
    std::fs::write(&nginx_conf, server.nginx_conf()).map_err(io("write nginx.conf"))?;

    // Requests are logged through a FIFO: nginx may not reopen the instance's own stdout.
    let access_log = PathBuf::from(server.access_log());
    nix::unistd::mkfifo(&access_log, nix::sys::stat::Mode::from_bits_truncate(0o600))
        .map_err(|err| ServePhpError::Io { what: "create the access log's FIFO".to_owned(), source: err.into() })?;
    // Read-write, so it never reads an end while nginx (re)opens it.
    let requests = tokio::net::unix::pipe::OpenOptions::new()
        .read_write(true)
        .open_receiver(&access_log)
        .map_err(io("open the access log's FIFO"))?;
    let copier = tokio::spawn(copy_lines(requests));
    let _copier = AbortOnDrop(copier);

    let mut fpm_command = Command::new(fpm);
    fpm_command.args(php::FPM_ARGS).arg("--fpm-config").arg(&fpm_conf);
    if as_root {
        // Only an unsandboxed platform run by root gets here; a sandboxed app has its own uid.
        fpm_command.arg("--allow-to-run-as-root");
    }
    let mut fpm_child = fpm_command.kill_on_drop(true).spawn().map_err(io(format!("start {}", fpm.display())))?;
    let socket = PathBuf::from(server.socket());
    let waited = tokio::time::Instant::now();
    while !socket.exists() {
        if let Some(status) = fpm_child.try_wait().map_err(io("wait for php-fpm"))? {
            return Err(ServePhpError::FpmDidNotStart(status.to_string()));
        }
        if waited.elapsed() > FPM_START {
            stop(&mut fpm_child).await;
            return Err(ServePhpError::FpmTimedOut);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let nginx_child = Command::new(nginx)
        .arg("-e")
        .arg("stderr")
        .arg("-p")
        .arg(&run_dir.0)
        .arg("-c")
        .arg(&nginx_conf)
        .kill_on_drop(true)
        .spawn();
    let mut nginx_child = match nginx_child {
        Ok(child) => child,
        Err(err) => {
            stop(&mut fpm_child).await;
            return Err(io(format!("start {}", nginx.display()))(err));
        }
    };
    println!(
        "serve-php: {} and {} serve {} on http://{addr}",
        fpm.file_name().unwrap_or_default().to_string_lossy(),
        nginx.file_name().unwrap_or_default().to_string_lossy(),
        root.display()
    );

    tokio::pin!(shutdown);
    let mut outcome = tokio::select! {
        status = fpm_child.wait() => Some(("php-fpm", status)),
        status = nginx_child.wait() => Some(("nginx", status)),
        () = &mut shutdown => None,
    };
    // A sandbox passes a stop signal to every process in it: nginx or php-fpm may see it first.
    if outcome.is_some() && tokio::time::timeout(Duration::from_millis(300), &mut shutdown).await.is_ok() {
        outcome = None;
    }
    // Whatever happened, both stop (the one that exited already has).
    let (first, second) = match outcome {
        Some(("php-fpm", _)) => (&mut nginx_child, &mut fpm_child),
        _ => (&mut fpm_child, &mut nginx_child),
    };
    futures::join!(stop(first), stop(second));
    kill_orphans();
    drop(run_dir);
    match outcome {
        None => Ok(()),
        Some((program, status)) => Err(ServePhpError::Exited(program, describe(status))),
    }
}

/// Kills (and reaps) the php-fpm and nginx workers left whose parent is now this process: orphaned
/// by a master that died, reparented here by the subreaper setting. Called once both masters were
/// waited for. Only workers: a process running several of these servers (a test) keeps the others'
/// masters.
fn kill_orphans() {
    let me = std::process::id().to_string();
    for _ in 0..10 {
        let orphans: Vec<i32> = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
                let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
                // `pid (comm) state ppid …`: the command may hold spaces and parentheses.
                let ppid = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?;
                let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
                let worker = ["php-fpm: pool ", "nginx: worker process", "nginx: cache "]
                    .iter()
                    .any(|title| cmdline.starts_with(title.as_bytes()));
                (ppid == me && worker).then_some(pid)
            })
            .collect();
        if orphans.is_empty() {
            return;
        }
        for pid in orphans {
            let pid = Pid::from_raw(pid);
            let _ = kill(pid, Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(pid, None);
        }
    }
}

/// nginx's access log lines, onto stdout.
async fn copy_lines(receiver: tokio::net::unix::pipe::Receiver) {
    use std::io::Write as _;
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(receiver).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let mut stdout = std::io::stdout().lock();
        if writeln!(stdout, "{line}").and_then(|()| stdout.flush()).is_err() {
            return;
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn describe(status: std::io::Result<ExitStatus>) -> String {
    match status {
        Ok(status) => status.to_string(),
        Err(err) => err.to_string(),
    }
}

/// SIGQUIT (nginx's and php-fpm's graceful stop), SIGKILL after [`STOP_GRACE`].
async fn stop(child: &mut Child) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    if let Some(pid) = child.id().and_then(|id| i32::try_from(id).ok()) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGQUIT);
    }
    if tokio::time::timeout(STOP_GRACE, child.wait()).await.is_err() {
        let _ = child.kill().await;
    }
}

/// The instance's own directory for the configuration, socket, pid files and nginx's temp
/// files, under `$TMPDIR` (or `/tmp`): mode 0700, removed when dropped.
struct RunDir(PathBuf);

impl RunDir {
    fn create() -> Result<Self, ServePhpError> {
        use std::os::unix::fs::DirBuilderExt;
        let base = std::env::temp_dir();
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().subsec_nanos();
        for attempt in 0..100u32 {
            let dir = base.join(format!("slipway-php-{}-{}", std::process::id(), nanos.wrapping_add(attempt)));
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => return Ok(Self(dir)),
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(err) => return Err(io(format!("create a directory in {}", base.display()))(err)),
            }
        }
        Err(ServePhpError::Io {
            what: format!("create a directory in {}", base.display()),
            source: std::io::Error::other("every name tried is taken"),
        })
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
