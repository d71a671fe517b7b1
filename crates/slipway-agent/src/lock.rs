//! The agent's lock: one agent per data dir. It holds an exclusive `flock` on
//! `DataLayout::agent_lock` for as long as it lives, with `<pid> <router address>` inside,
//! which `slipway up` (to find the router) and `slipway down` (to stop it) read.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use slipway_core::layout::DataLayout;

/// The lock, held by the running agent.
pub struct AgentLock {
    lock: Flock<File>,
    path: PathBuf,
}

/// The agent that holds the lock: its pid and its router's address.
#[derive(Debug, Clone, Copy)]
pub struct RunningAgent {
    pub pid: i32,
    pub router: Option<SocketAddr>,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another agent holds the lock.
    #[error("an agent already runs for {}; stop it with `slipway down`", .0.display())]
    Held(PathBuf),
    /// The lock file cannot be created, read or written.
    #[error("cannot use the agent's lock {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> LockError + '_ {
    move |source| LockError::Io { path: path.to_owned(), source }
}

fn open_lock(path: &Path) -> Result<File, LockError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io_error(path))?;
    }
    std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).map_err(io_error(path))
}

/// The running agent, if one holds the lock.
pub fn running_agent(layout: &DataLayout) -> Result<Option<RunningAgent>, LockError> {
    let path = layout.agent_lock();
    if !path.exists() {
        return Ok(None);
    }
    let file = open_lock(&path)?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(_free) => Ok(None), // dropping the lock releases it again
        Err((mut file, _)) => {
            let mut text = String::new();
            file.read_to_string(&mut text).map_err(io_error(&path))?;
            let mut fields = text.split_whitespace();
            let Some(pid) = fields.next().and_then(|pid| pid.parse().ok()) else { return Ok(None) };
            Ok(Some(RunningAgent { pid, router: fields.next().and_then(|addr| addr.parse().ok()) }))
        }
    }
}

impl AgentLock {
    /// Takes the lock (empty until [`AgentLock::record`] names the router), so a second agent
    /// gives up before it binds anything: the router's sockets use SO_REUSEPORT, and a second
    /// router on the same port would take a share of the connections.
    pub fn acquire(layout: &DataLayout) -> Result<Self, LockError> {
        let path = layout.agent_lock();
        let file = open_lock(&path)?;
        let lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => lock,
            Err(_) => return Err(LockError::Held(layout.root().to_owned())),
        };
        lock.set_len(0).map_err(io_error(&path))?;
        Ok(Self { lock, path })
    }

    /// Writes `<pid> <router address>`, which `slipway up` and `slipway down` read.
    pub fn record(&mut self, router: SocketAddr) -> Result<(), LockError> {
        let write = |lock: &mut Flock<File>| -> std::io::Result<()> {
            lock.set_len(0)?;
            lock.rewind()?;
            write!(lock, "{} {router}", std::process::id())?;
            lock.flush()
        };
        write(&mut self.lock).map_err(io_error(&self.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_agent_holds_the_lock_and_says_where_its_router_is() {
        let dir = tempfile::tempdir().expect("temp dir");
        let layout = DataLayout::new(dir.path());
        assert!(running_agent(&layout).expect("read").is_none());
        let mut lock = AgentLock::acquire(&layout).expect("acquire");
        let router: SocketAddr = "127.0.0.1:8080".parse().expect("addr");
        lock.record(router).expect("record");
        let running = running_agent(&layout).expect("read").expect("an agent runs");
        assert_eq!((running.pid, running.router), (std::process::id() as i32, Some(router)));
        assert!(matches!(AgentLock::acquire(&layout), Err(LockError::Held(_))));
        drop(lock);
        assert!(running_agent(&layout).expect("read").is_none());
    }
}
