//! The environment of build commands. Nothing of Slipway's own environment
//! (database URL, secret key, admin password…) reaches a build: only a short
//! allowlist the tools need, then the platform's proxy and CA settings
//! (`network.rs`, read once), then the app's config vars, then what the build
//! decided (caches, virtualenv), with `PATH` extended in front.

use std::ffi::{OsStr, OsString};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

#[cfg(doc)]
use super::network::BuildNetwork;

/// Variables passed through from Slipway's environment (proxy and CA
/// settings are not among them: they come through [`BuildNetwork`]).
const PASSED_THROUGH: [&str; 18] = [
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "RUSTUP_HOME",
    "CARGO_HOME",
    "RUSTUP_TOOLCHAIN",
    "PYENV_ROOT",
    "PYENV_VERSION",
    "NVM_DIR",
    "GOROOT",
    "JAVA_HOME",
    "SOURCE_DATE_EPOCH",
];

const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

pub(crate) struct BuildEnv {
    vars: Vec<(OsString, OsString)>,
    path_prepend: Vec<PathBuf>,
}

impl BuildEnv {
    /// Allowlisted host variables, then the platform's network settings, then
    /// config vars (an app may set its own proxy; never `PORT`: nothing listens during a build).
    pub(crate) fn new(config_vars: &[(String, String)], network: &[(&'static str, OsString)]) -> Self {
        let mut env = Self { vars: Vec::new(), path_prepend: Vec::new() };
        for name in PASSED_THROUGH {
            if let Some(value) = std::env::var_os(name) {
                env.set(name, value);
            }
        }
        for (name, value) in network {
            env.set(name, value);
        }
        if env.get("PATH").is_none() {
            env.set("PATH", DEFAULT_PATH);
        }
        // Sandboxed commands get a home of their own, so toolchains that default to one under
        // the platform's home (rustup, pyenv) are named explicitly.
        if let Some(home) = std::env::var_os("HOME").map(PathBuf::from) {
            for (name, dir) in [("RUSTUP_HOME", ".rustup"), ("PYENV_ROOT", ".pyenv")] {
                if env.get(name).is_none() && home.join(dir).is_dir() {
                    env.set(name, home.join(dir));
                }
            }
        }
        for (name, value) in config_vars.iter().filter(|(name, _)| name != "PORT") {
            env.set(name, value);
        }
        env
    }

    pub(crate) fn set(&mut self, name: impl AsRef<OsStr>, value: impl AsRef<OsStr>) {
        let (name, value) = (name.as_ref().to_owned(), value.as_ref().to_owned());
        match self.vars.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.vars.push((name, value)),
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&OsStr> {
        self.vars.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_os_str())
    }

    /// Puts `dir` first on the PATH of later commands.
    pub(crate) fn prepend_path(&mut self, dir: PathBuf) {
        self.path_prepend.insert(0, dir);
    }

    /// The complete environment, PATH included.
    pub(crate) fn vars(&self) -> Vec<(OsString, OsString)> {
        let mut vars = self.vars.clone();
        let path = self.path();
        match vars.iter_mut().find(|(n, _)| n == "PATH") {
            Some(slot) => slot.1 = path,
            None => vars.push(("PATH".into(), path)),
        }
        vars
    }

    /// The PATH of the build's commands.
    pub(crate) fn path(&self) -> OsString {
        let base = self.get("PATH").map(std::env::split_paths).into_iter().flatten();
        std::env::join_paths(self.path_prepend.iter().cloned().chain(base)).unwrap_or_else(|_| DEFAULT_PATH.into())
    }

    /// The executable `program` on this environment's PATH.
    pub(crate) fn find(&self, program: &str) -> Option<PathBuf> {
        std::env::split_paths(&self.path()).map(|dir| dir.join(program)).find(|path| is_executable(path))
    }
}

fn is_executable(path: &Path) -> bool {
    path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_vars_but_not_port_nor_slipway_settings() {
        let env = BuildEnv::new(&[("PORT".into(), "1".into()), ("GREETING".into(), "hi".into())], &[]);
        assert_eq!(env.get("GREETING"), Some(OsStr::new("hi")));
        assert_eq!(env.get("PORT"), None);
        let names: Vec<_> = env.vars().into_iter().map(|(n, _)| n).collect();
        assert!(names.iter().all(|n| !n.to_string_lossy().starts_with("SLIPWAY_")));
        assert!(names.contains(&OsString::from("PATH")));
    }

    #[test]
    fn network_settings_pass_only_as_given_and_config_vars_override_them() {
        let network = [("HTTPS_PROXY", OsString::from("http://proxy:3128")), ("SSL_CERT_FILE", "/etc/ca.pem".into())];
        let env = BuildEnv::new(&[("HTTPS_PROXY".into(), "http://app-proxy:8080".into())], &network);
        assert_eq!(env.get("HTTPS_PROXY"), Some(OsStr::new("http://app-proxy:8080")));
        assert_eq!(env.get("SSL_CERT_FILE"), Some(OsStr::new("/etc/ca.pem")));
        // Nothing of the platform's own proxy or CA settings comes any other way.
        let env = BuildEnv::new(&[], &[]);
        for name in ["HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy", "SSL_CERT_FILE"]
        {
            assert!(!PASSED_THROUGH.contains(&name), "{name}");
            assert_eq!(env.get(name), None, "{name}");
        }
    }

    #[test]
    fn prepended_dirs_come_first_and_programs_are_found() {
        let mut env = BuildEnv::new(&[], &[]);
        env.prepend_path("/opt/b".into());
        env.prepend_path("/opt/a".into());
        let path = env.vars().into_iter().find(|(n, _)| n == "PATH").map(|(_, v)| v).expect("PATH");
        assert!(path.to_string_lossy().starts_with("/opt/a:/opt/b:"), "{path:?}");
        assert!(env.find("sh").is_some());
        assert!(env.find("surely-not-a-program-here").is_none());
    }
}
