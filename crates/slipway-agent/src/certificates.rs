//! The agent's certificate keeper: makes the router's [`CertStore`] match the routes in the
//! store, once a second.
//!
//! - `*.localhost` hostnames get a certificate from the local development CA.
//! - Other hostnames get one from the ACME CA when a directory is configured: ordered when
//!   missing, renewed when within `renew_before` of expiry, validated over HTTP-01 by the
//!   router's own plain listener (the shared [`Challenges`]). Each certificate is stored (key
//!   sealed) so a restarted agent serves it at once, and a failed order is retried with
//!   backoff, never in a tight loop.
//! - A hostname's HTTPS redirect (a route setting) is switched on in the router only while the
//!   hostname has a certificate, so a redirect never leads to a failing TLS handshake.
//! - A hostname that is no longer routed loses its certificate and redirect.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use slipway_core::timestamp::Timestamp;
use slipway_router::{AcmeClientSettings, AcmeIssuer, CertStore, Challenges, Issued, LocalCa};
use slipway_store::{Actor, Store, TlsRoute};
use tokio::time::Instant;

/// How often the keeper reads the routes.
const INTERVAL: Duration = Duration::from_secs(1);

/// First pause after a failed ACME order for a host; doubled per failure up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(30);
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// ACME settings of the agent.
#[derive(Debug, Clone)]
pub struct AcmeSettings {
    pub config: AcmeClientSettings,
    /// Where the ACME account's credentials are kept (mode 0600), so a restart reuses the account.
    pub account_path: PathBuf,
    /// Renew a certificate once it expires within this long.
    pub renew_before: Duration,
}

/// Where certificates come from.
pub struct CertificateSources {
    pub local_ca: Option<LocalCa>,
    pub acme: Option<AcmeSettings>,
}

/// What the keeper knows about one hostname it serves a certificate for.
struct Held {
    /// The store's stamp of the certificate loaded (None: from the local CA).
    stamp: Option<i64>,
    not_after: Option<SystemTime>,
}

struct Backoff {
    failures: u32,
    until: Instant,
}

/// Keeps `certs` in line with the store until `shutdown` resolves.
pub async fn keep_certificates(
    store: Store,
    certs: CertStore,
    challenges: Challenges,
    sources: CertificateSources,
    shutdown: impl Future<Output = ()>,
) {
    let mut keeper =
        Keeper { store, certs, challenges, sources, held: HashMap::new(), backoff: HashMap::new(), issuer: None };
    tokio::pin!(shutdown);
    loop {
        // An ACME order can take minutes; shutdown does not wait for it.
        let synced = async {
            match keeper.store.tls_routes().await {
                Ok(routes) => keeper.sync(&routes).await,
                Err(error) => tracing::warn!(%error, "reading the routes for TLS failed"),
            }
        };
        tokio::select! {
            () = &mut shutdown => return,
            () = synced => {}
        }
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(INTERVAL) => {}
        }
    }
}

struct Keeper {
    store: Store,
    certs: CertStore,
    challenges: Challenges,
    sources: CertificateSources,
    held: HashMap<String, Held>,
    backoff: HashMap<String, Backoff>,
    issuer: Option<AcmeIssuer>,
}

impl Keeper {
    async fn sync(&mut self, routes: &[TlsRoute]) {
        let routed: HashSet<&str> = routes.iter().map(|route| route.hostname.as_str()).collect();
        self.held.retain(|host, _| {
            let keep = routed.contains(host.as_str());
            if !keep {
                self.certs.remove(host);
                self.certs.set_https_redirect(host, false);
            }
            keep
        });
        self.backoff.retain(|host, _| routed.contains(host.as_str()));

        for route in routes {
            let host = route.hostname.as_str();
            if host.ends_with(".localhost") {
                self.local(host);
            } else {
                self.load_stored(route).await;
                if self.sources.acme.is_some() && self.due(host) {
                    self.order(host).await;
                }
            }
            let has_certificate = self.held.contains_key(host);
            if self.certs.redirects_to_https(host) != (route.https_redirect && has_certificate) {
                self.certs.set_https_redirect(host, route.https_redirect && has_certificate);
            }
        }
    }

    fn local(&mut self, host: &str) {
        let Some(ca) = &self.sources.local_ca else { return };
        if self.held.contains_key(host) {
            return;
        }
        match ca.install_host(&self.certs, host) {
            Ok(()) => {
                self.held.insert(host.to_owned(), Held { stamp: None, not_after: None });
            }
            Err(error) => tracing::warn!(host, %error, "signing a local certificate failed"),
        }
    }

    /// Loads the stored certificate of `route` if it is new or changed since the last load.
    async fn load_stored(&mut self, route: &TlsRoute) {
        let host = route.hostname.as_str();
        let Some(stamp) = route.certificate_updated_at else {
            // The stored certificate went away (the domain was removed and added again): what
            // was loaded for the old route must not count as this one's.
            if self.held.get(host).is_some_and(|held| held.stamp.is_some()) {
                self.held.remove(host);
                self.certs.remove(host);
            }
            return;
        };
        if self.held.get(host).is_some_and(|held| held.stamp == Some(stamp)) {
            return;
        }
        let stored = match self.store.certificate(host).await {
            Ok(Some(stored)) => stored,
            Ok(None) => return, // removed since the routes were read
            Err(error) => return tracing::warn!(host, %error, "reading a stored certificate failed"),
        };
        match slipway_router::certified_key_from_pem(stored.cert_chain_pem.as_bytes(), stored.key_pem.as_bytes()) {
            Ok(key) => {
                self.certs.insert(host, key);
                let not_after = millis_to_time(stored.not_after);
                self.held.insert(host.to_owned(), Held { stamp: Some(stored.updated_at), not_after: Some(not_after) });
            }
            Err(error) => tracing::warn!(host, %error, "a stored certificate does not load"),
        }
    }

    /// Whether `host` needs an ACME order now: no certificate, or one within the renewal window,
    /// and not backing off after a failure.
    fn due(&self, host: &str) -> bool {
        if self.backoff.get(host).is_some_and(|backoff| Instant::now() < backoff.until) {
            return false;
        }
        let renew_before = self.sources.acme.as_ref().map_or(Duration::ZERO, |acme| acme.renew_before);
        match self.held.get(host).and_then(|held| held.not_after) {
            Some(not_after) => SystemTime::now() + renew_before >= not_after,
            None => true,
        }
    }

    async fn order(&mut self, host: &str) {
        match self.issue(host).await {
            Ok(issued) => {
                self.backoff.remove(host);
                let actor = Actor::system("acme");
                let not_after = time_to_millis(issued.not_after);
                let saved =
                    self.store.save_certificate(&actor, host, &issued.cert_chain_pem, &issued.key_pem, not_after).await;
                if let Err(error) = saved {
                    // Served anyway (the issuer installed it) and ordered again only when due, so
                    // a failing store never turns into an order per second at the CA.
                    tracing::warn!(host, %error, "storing a new certificate failed; serving it unstored");
                }
                // The next read of the routes carries the new stamp, which reloads it from the store.
                self.held.insert(host.to_owned(), Held { stamp: None, not_after: Some(issued.not_after) });
            }
            Err(error) => {
                let failures = self.backoff.get(host).map_or(0, |backoff| backoff.failures) + 1;
                let pause = FIRST_BACKOFF.saturating_mul(1 << (failures - 1).min(7)).min(MAX_BACKOFF);
                tracing::warn!(host, %error, retry_in_s = pause.as_secs(), "obtaining a certificate failed");
                self.backoff.insert(host.to_owned(), Backoff { failures, until: Instant::now() + pause });
            }
        }
    }

    async fn issue(&mut self, host: &str) -> Result<Issued, String> {
        let Some(acme) = &self.sources.acme else { return Err("no ACME directory configured".to_owned()) };
        if self.issuer.is_none() {
            self.issuer = Some(account(acme, &self.challenges, &self.certs).await?);
        }
        let issuer = self.issuer.as_ref().ok_or("no ACME account")?;
        tracing::info!(host, directory = %acme.config.directory_url, "ordering a certificate");
        issuer.obtain(host).await.map_err(|error| error.to_string())
    }
}

/// The saved ACME account, or a new one (saved for the next start).
async fn account(acme: &AcmeSettings, challenges: &Challenges, certs: &CertStore) -> Result<AcmeIssuer, String> {
    if let Ok(saved) = std::fs::read_to_string(&acme.account_path) {
        match AcmeIssuer::restore(&acme.config, &saved, challenges.clone(), certs.clone()).await {
            Ok(issuer) => return Ok(issuer),
            Err(error) => tracing::warn!(%error, "the saved ACME account does not load; registering a new one"),
        }
    }
    let issuer =
        AcmeIssuer::new(&acme.config, challenges.clone(), certs.clone()).await.map_err(|error| error.to_string())?;
    if let Err(error) = write_private(&acme.account_path, issuer.credentials_json()) {
        tracing::warn!(path = %acme.account_path.display(), %error, "saving the ACME account failed");
    }
    Ok(issuer)
}

fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let temp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new().create(true).truncate(true).write(true).mode(0o600).open(&temp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(temp, path)
}

fn millis_to_time(timestamp: Timestamp) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(u64::try_from(timestamp.as_millis()).unwrap_or(0))
}

fn time_to_millis(time: SystemTime) -> Timestamp {
    let millis = time.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |since| since.as_millis());
    Timestamp::from_millis(i64::try_from(millis).unwrap_or(i64::MAX))
}
