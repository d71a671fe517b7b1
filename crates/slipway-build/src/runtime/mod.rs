//! Runtimes in the versions apps ask for (Node.js, Python, Go).
//!
//! Where a tree asks for a version, the build gets one that satisfies every
//! ask, found in this order:
//! 1. the build machine's own toolchain, when it satisfies them (no download);
//! 2. the newest version already in the runtimes store that does (no network:
//!    a rebuild keeps the version it had, and a pinned redeploy costs nothing);
//! 3. the newest version the upstream offers that does, downloaded through the
//!    operator's mirror, checked against the upstream's published sha256 and
//!    installed all or nothing into `<data>/runtimes/<language>/<version>`
//!    (`install.rs`), which builds and instances see read-only.
//!
//! When no version can satisfy them, the build fails before anything is
//! installed, naming the asks, where it looked and what to write instead.

mod install;
mod sweep;
mod upstream;
mod version;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use slipway_core::runtime::{Language, RuntimeVersion, VersionAsk};

use self::version::{Candidate, Version};

pub use self::sweep::KEEP_UNUSED;
pub use self::upstream::{RuntimeMirrors, DEFAULT_PYTHON_RELEASE};
pub(crate) use self::version::Requirement;

/// Whether the version printed as `version` (`v22.12.0`, `go1.25.5`, `3.12.1`) satisfies every ask.
pub(crate) fn satisfies(requirements: &[(VersionAsk, Requirement)], version: &str) -> bool {
    Version::parse_release(version)
        .is_some_and(|version| requirements.iter().all(|(_, req)| req.allows(&Candidate { version, lts: None })))
}

/// Why a build could not get the runtime its app asks for. Nothing was installed.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(
        "`{}` in {} is not a version or a range of versions; write an exact version (22.12.0) or a range \
         (>=20 <23)",
        .ask.version, .ask.source
    )]
    Malformed { ask: VersionAsk },
    #[error(
        "{} for {language} {} and {} for {}: no version satisfies both; make them agree, or remove one",
        .first.source, .first.version, .second.source, .second.version
    )]
    Contradiction { language: Language, first: VersionAsk, second: VersionAsk },
    #[error(
        "no {language} version satisfies {asks}: the build machine has {host}, and {mirror} offers {offered}; \
         pin a version it offers ({how})"
    )]
    Unavailable { language: Language, asks: String, host: String, mirror: String, offered: String, how: &'static str },
    #[error("{url} could not be read ({problem}); nothing was installed, and the next build tries again")]
    Unreachable { url: String, problem: String },
    #[error("{language} mirror {mirror}: {problem}; nothing was installed")]
    Mirror { language: Language, mirror: String, problem: String },
    #[error(
        "the archive {url} does not match the sha256 its upstream publishes (expected {expected}, got {actual}); \
         it was refused and nothing was installed"
    )]
    ChecksumMismatch { url: String, expected: String, actual: String },
    #[error("the archive {url} was refused: {problem}; nothing was installed")]
    Archive { url: String, problem: String },
    #[error("installing a runtime: {context}: {source}")]
    Install {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

/// The runtimes store and the mirrors it is filled from.
#[derive(Debug)]
pub struct Runtimes {
    store: PathBuf,
    mirrors: RuntimeMirrors,
    client: reqwest::Client,
    /// One install of a version at a time; other builds wanting it wait and then find it. Sweeps
    /// take the same lock (`sweep.rs`).
    locks: Mutex<HashMap<(Language, Version), InstallLock>>,
}

type InstallLock = Arc<tokio::sync::Mutex<()>>;

/// The runtime a build got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Provided {
    pub(crate) version: RuntimeVersion,
    /// Its directory in the store (`bin/` inside); `None` for the build machine's own.
    pub(crate) dir: Option<PathBuf>,
}

/// What `Runtimes::provide` reports for the build log, in order.
pub(crate) type Notes = Vec<String>;

impl Runtimes {
    /// The store at `store` (usually `<data>/runtimes`). Partial installs a stopped builder left
    /// there are removed now.
    pub fn new(store: PathBuf, mirrors: RuntimeMirrors) -> Self {
        let _ = std::fs::remove_dir_all(install::partial_root(&store));
        // Proxy settings come from the platform's environment, as for builds (reqwest reads them).
        let client = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(15))
            .user_agent(concat!("slipway/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Self { store, mirrors, client, locks: Mutex::new(HashMap::new()) }
    }

    /// Parses the asks; `Err` names the first malformed one.
    pub(crate) fn requirements(asks: &[VersionAsk]) -> Result<Vec<(VersionAsk, Requirement)>, RuntimeError> {
        asks.iter()
            .map(|ask| {
                Requirement::parse(&ask.version)
                    .map(|req| (ask.clone(), req))
                    .map_err(|_| RuntimeError::Malformed { ask: ask.clone() })
            })
            .collect()
    }

    /// A runtime of `language` satisfying every ask (see the module's doc for the order).
    /// `host` is the build machine's own version, when it has the runtime.
    pub(crate) async fn provide(
        &self,
        language: Language,
        asks: &[(VersionAsk, Requirement)],
        host: Option<&str>,
        notes: &mut Notes,
    ) -> Result<Provided, RuntimeError> {
        let satisfies = |candidate: &Candidate| asks.iter().all(|(_, req)| req.allows(candidate));
        let host_version = host.and_then(Version::parse_release);
        if let Some(version) = host_version.filter(|v| satisfies(&Candidate { version: *v, lts: None })) {
            let version = RuntimeVersion { language, version: version.to_string(), host: true };
            return Ok(Provided { version, dir: None });
        }
        let installed = self.installed(language);
        if let Some(version) = installed.iter().filter(|v| satisfies(&Candidate { version: **v, lts: None })).max() {
            // Which lines are LTS only the index says: an LTS ask is resolved there.
            if asks.iter().all(|(_, req)| !matches!(req, Requirement::Lts(_))) {
                // Under the version's lock: a sweep removing it meanwhile would leave the build a
                // path to nothing. A sweep after this keeps it (it was just used).
                let lock = self.lock(language, *version);
                let _held = lock.lock().await;
                if self.dir(language, *version).is_dir() {
                    return Ok(self.provided(language, *version));
                }
            }
        }

        let offers = upstream::offers(&self.client, &self.mirrors, language).await?;
        let Some(offer) = offers.iter().filter(|o| satisfies(&o.candidate)).max_by_key(|o| o.candidate.version) else {
            return Err(self.unavailable(language, asks, host_version, &offers));
        };
        let version = offer.candidate.version;
        let dest = self.dir(language, version);
        let lock = self.lock(language, version);
        let _installing = lock.lock().await;
        if dest.is_dir() {
            return Ok(self.provided(language, version));
        }
        let sha256 = upstream::published_sha256(&self.client, &self.mirrors, language, offer).await?;
        let started = std::time::Instant::now();
        let size = install::install(&self.client, &self.store, offer, &sha256, &dest).await?;
        notes.push(format!(
            "Installed {language} {version} from {} ({:.1} MB, sha256 verified) in {:.1} s",
            offer.url,
            size as f64 / 1e6,
            started.elapsed().as_secs_f64()
        ));
        Ok(self.provided(language, version))
    }

    /// The lock of one version: held to install it, to pick it from the store, and to remove it.
    fn lock(&self, language: Language, version: Version) -> InstallLock {
        let mut locks = self.locks.lock().unwrap_or_else(|poison| poison.into_inner());
        locks.entry((language, version)).or_default().clone()
    }

    /// `version`, installed in the store, for a build (which marks it used now).
    fn provided(&self, language: Language, version: Version) -> Provided {
        let dir = self.dir(language, version);
        sweep::touch(&dir);
        Provided { version: RuntimeVersion { language, version: version.to_string(), host: false }, dir: Some(dir) }
    }

    fn dir(&self, language: Language, version: Version) -> PathBuf {
        self.store.join(language.as_str()).join(version.to_string())
    }

    /// The versions of `language` in the store (complete installs only: partial ones live elsewhere).
    fn installed(&self, language: Language) -> Vec<Version> {
        let Ok(entries) = std::fs::read_dir(self.store.join(language.as_str())) else { return Vec::new() };
        entries.filter_map(|e| e.ok()).filter_map(|e| e.file_name().to_str().and_then(Version::parse_release)).collect()
    }

    /// The store's directory (for the sandbox's read-only view).
    pub fn store(&self) -> &Path {
        &self.store
    }

    fn unavailable(
        &self,
        language: Language,
        asks: &[(VersionAsk, Requirement)],
        host: Option<Version>,
        offers: &[upstream::Offer],
    ) -> RuntimeError {
        // Two asks each satisfiable alone but not together: say which two.
        for (i, (first, a)) in asks.iter().enumerate() {
            for (second, b) in &asks[i + 1..] {
                let alone = |req: &Requirement| offers.iter().any(|o| req.allows(&o.candidate));
                let both = offers.iter().any(|o| a.allows(&o.candidate) && b.allows(&o.candidate));
                if alone(a) && alone(b) && !both {
                    return RuntimeError::Contradiction { language, first: first.clone(), second: second.clone() };
                }
            }
        }
        let mut versions: Vec<Version> = offers.iter().map(|o| o.candidate.version).collect();
        versions.sort_unstable();
        versions.dedup();
        let offered = match versions.as_slice() {
            [] => "no version for this machine".to_owned(),
            [only] => format!("only {only}"),
            [.., newest] => format!("{} versions, the newest {newest}", versions.len()),
        };
        RuntimeError::Unavailable {
            language,
            asks: asks
                .iter()
                .map(|(ask, _)| format!("{} in {}", ask.version, ask.source))
                .collect::<Vec<_>>()
                .join(" and "),
            host: host.map_or_else(|| format!("no {language}"), |v| format!("{language} {v}")),
            mirror: self.mirrors.base(language).to_string(),
            offered,
            how: match language {
                Language::Node => "engines.node in package.json, or .nvmrc",
                Language::Python => ".python-version, or requires-python in pyproject.toml",
                Language::Go => "the go line of go.mod",
            },
        }
    }
}
