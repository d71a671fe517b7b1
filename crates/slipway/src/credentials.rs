//! The saved login: API URL, token and default workspace, in
//! `<config dir>/slipway/credentials.json`, readable by the user only.

use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Credentials {
    pub api_url: Option<String>,
    pub token: Option<String>,
    pub username: Option<String>,
    pub workspace: Option<String>,
}

pub fn path() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("SLIPWAY_CONFIG_DIR") {
        return Ok(PathBuf::from(dir).join("credentials.json"));
    }
    let base = dirs::config_dir().context("no config directory for this user; set SLIPWAY_CONFIG_DIR")?;
    Ok(base.join("slipway").join("credentials.json"))
}

pub fn load() -> Result<Credentials> {
    let path = path()?;
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| format!("while reading {}", path.display())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Credentials::default()),
        Err(err) => Err(err).with_context(|| format!("while reading {}", path.display())),
    }
}

pub fn save(credentials: &Credentials) -> Result<()> {
    let path = path()?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("while creating {}", dir.display()))?;
    }
    let text = serde_json::to_vec_pretty(credentials)?;
    write_private(&path, &text).with_context(|| format!("while writing {}", path.display()))
}

#[cfg(unix)]
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().create(true).write(true).truncate(true).mode(0o600).open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}
