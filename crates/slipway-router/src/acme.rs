//! Certificates from an ACME CA (RFC 8555), validated over HTTP-01 answered by the router itself.
//!
//! [`AcmeIssuer::obtain`] orders a certificate for one host, puts each HTTP-01 key
//! authorization into the [`Challenges`] map that [`crate::serve_http`] answers
//! `/.well-known/acme-challenge/<token>` from, finalizes with a fresh key and an rcgen CSR, and
//! installs the result in the [`CertStore`]. [`needs_renewal`] is the renewal rule; the caller
//! (the agent) runs it periodically, e.g. through [`AcmeIssuer::renew_if_due`], and persists
//! what [`Issued`] returns so a restart does not order again.
//!
//! The directory URL is configurable (Let's Encrypt, its staging CA, an internal ACME server,
//! Pebble in the tests), and so is the root that the ACME API's own TLS is checked against.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use instant_acme::{
    Account, AuthorizationStatus, ChallengeType, Identifier, NewAccount, NewOrder, OrderStatus, RetryPolicy,
};
use rustls::pki_types::CertificateDer;
use rustls::sign::CertifiedKey;

use crate::tls::{certified_key_from_pem, CertStore, TlsError};

/// Where HTTP-01 challenge responses are served from.
pub const CHALLENGE_PREFIX: &str = "/.well-known/acme-challenge/";

/// Renew this long before a certificate expires (what Let's Encrypt recommends for 90-day
/// certificates).
pub const RENEW_BEFORE: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// Pending HTTP-01 challenges: token → key authorization. The issuer writes, the plain-HTTP
/// listener reads. Cheap to clone: clones share one map.
#[derive(Clone, Default, Debug)]
pub struct Challenges {
    inner: Arc<RwLock<HashMap<String, String>>>,
}

impl Challenges {
    /// Answers `GET /.well-known/acme-challenge/<token>` with `key_authorization` until removed.
    pub fn insert(&self, token: &str, key_authorization: &str) {
        let mut map = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        map.insert(token.to_owned(), key_authorization.to_owned());
    }

    /// Stops answering for `token`.
    pub fn remove(&self, token: &str) {
        let mut map = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        map.remove(token);
    }

    /// The key authorization for `token`, if it is pending.
    pub fn get(&self, token: &str) -> Option<String> {
        let map = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        map.get(token).cloned()
    }
}

/// Removes the challenge tokens of one order when it is over, however it ends.
struct TokenGuard<'a> {
    challenges: &'a Challenges,
    tokens: Vec<String>,
}

impl Drop for TokenGuard<'_> {
    fn drop(&mut self) {
        for token in &self.tokens {
            self.challenges.remove(token);
        }
    }
}

/// Why a certificate could not be obtained.
#[derive(Debug, thiserror::Error)]
pub enum AcmeError {
    /// The ACME server could not be reached or answered with an error (its problem document
    /// is in the source). Check the directory URL and that the CA's root is trusted.
    #[error("the ACME server failed the request")]
    Acme(#[from] instant_acme::Error),
    /// The CA offered no HTTP-01 challenge for the host (e.g. it is a wildcard name, which
    /// needs DNS-01).
    #[error("the CA offers no HTTP-01 challenge for {host}")]
    NoHttp01 { host: String },
    /// An authorization or the order ended invalid: the CA could not fetch the challenge
    /// (the host's DNS does not point here, or port 80 does not reach the router).
    #[error("the CA did not validate {host} ({status})")]
    Invalid { host: String, status: String },
    /// The issued certificate could not be used (or a CSR could not be made).
    #[error("the issued certificate cannot be used")]
    Certificate(#[from] TlsError),
    /// Making the key or CSR failed.
    #[error("making the key or CSR failed")]
    Csr(#[from] rcgen::Error),
    /// Saved account credentials do not parse (or could not be serialised).
    #[error("the ACME account credentials are not valid JSON of the expected shape")]
    Credentials(#[source] serde_json::Error),
}

/// Where to get certificates from.
#[derive(Debug, Clone)]
pub struct AcmeClientSettings {
    /// The ACME directory, e.g. `https://acme-v02.api.letsencrypt.org/directory`.
    pub directory_url: String,
    /// Contact URLs for the account (`mailto:ops@example.com`); may be empty.
    pub contact: Vec<String>,
    /// A PEM root to trust for the ACME API's TLS instead of the system roots (an internal
    /// ACME server, Pebble).
    pub api_root_pem: Option<PathBuf>,
    /// How long to wait for validation and issuance.
    pub timeout: Duration,
}

impl AcmeClientSettings {
    /// A config for `directory_url` with no contact, system roots and a 90 s timeout.
    pub fn new(directory_url: impl Into<String>) -> Self {
        AcmeClientSettings {
            directory_url: directory_url.into(),
            contact: Vec::new(),
            api_root_pem: None,
            timeout: Duration::from_secs(90),
        }
    }
}

/// A certificate just issued: PEM for the control plane to persist, and the key the router serves.
#[derive(Clone)]
pub struct Issued {
    pub cert_chain_pem: String,
    pub key_pem: String,
    pub certified_key: Arc<CertifiedKey>,
    pub not_after: SystemTime,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The private key stays out of logs.
        f.debug_struct("Issued").field("not_after", &self.not_after).finish_non_exhaustive()
    }
}

/// An ACME account plus where challenges and certificates go.
#[derive(Clone)]
pub struct AcmeIssuer {
    account: Account,
    /// The account's credentials as JSON (it holds the account's private key).
    credentials: Arc<str>,
    challenges: Challenges,
    certs: CertStore,
    retry: RetryPolicy,
}

impl std::fmt::Debug for AcmeIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcmeIssuer").field("account", &self.account.id()).finish_non_exhaustive()
    }
}

impl AcmeIssuer {
    /// Registers a new account at the directory (terms of service agreed).
    ///
    /// # Errors
    ///
    /// [`AcmeError::Acme`] if the directory cannot be fetched or refuses the account.
    pub async fn new(config: &AcmeClientSettings, challenges: Challenges, certs: CertStore) -> Result<Self, AcmeError> {
        let builder = match &config.api_root_pem {
            Some(root) => Account::builder_with_root(root)?,
            None => Account::builder()?,
        };
        let contact = config.contact.iter().map(String::as_str).collect::<Vec<_>>();
        let new_account = NewAccount { contact: &contact, terms_of_service_agreed: true, only_return_existing: false };
        let (account, credentials) = builder.create(&new_account, config.directory_url.clone(), None).await?;
        let credentials = serde_json::to_string(&credentials).map_err(AcmeError::Credentials)?;
        Ok(Self::with_account(config, account, credentials.into(), challenges, certs))
    }

    /// Uses the account whose [`AcmeIssuer::credentials_json`] was saved earlier, instead of
    /// registering a new one (CAs limit how many accounts one address may create).
    ///
    /// # Errors
    ///
    /// [`AcmeError::Credentials`] if the JSON does not parse, [`AcmeError::Acme`] if the
    /// directory cannot be fetched.
    pub async fn restore(
        config: &AcmeClientSettings,
        credentials_json: &str,
        challenges: Challenges,
        certs: CertStore,
    ) -> Result<Self, AcmeError> {
        let builder = match &config.api_root_pem {
            Some(root) => Account::builder_with_root(root)?,
            None => Account::builder()?,
        };
        let credentials = serde_json::from_str(credentials_json).map_err(AcmeError::Credentials)?;
        let account = builder.from_credentials(credentials).await?;
        Ok(Self::with_account(config, account, credentials_json.into(), challenges, certs))
    }

    fn with_account(
        config: &AcmeClientSettings,
        account: Account,
        credentials: Arc<str>,
        challenges: Challenges,
        certs: CertStore,
    ) -> Self {
        let retry = RetryPolicy::new().initial_delay(Duration::from_millis(250)).backoff(1.5).timeout(config.timeout);
        AcmeIssuer { account, credentials, challenges, certs, retry }
    }

    /// The account's credentials as JSON, for [`AcmeIssuer::restore`]. A secret: it holds the
    /// account key, so store it encrypted like other secrets.
    pub fn credentials_json(&self) -> &str {
        &self.credentials
    }

    /// Orders, validates (HTTP-01 through the router) and installs a certificate for `host`.
    ///
    /// # Errors
    ///
    /// See [`AcmeError`]; on error the store keeps what it had for `host`.
    pub async fn obtain(&self, host: &str) -> Result<Issued, AcmeError> {
        let identifiers = [Identifier::Dns(host.to_owned())];
        let mut order = self.account.new_order(&NewOrder::new(&identifiers)).await?;
        let mut guard = TokenGuard { challenges: &self.challenges, tokens: Vec::new() };

        let mut authorizations = order.authorizations();
        while let Some(authorization) = authorizations.next().await {
            let mut authorization = authorization?;
            match authorization.status {
                AuthorizationStatus::Pending => {}
                AuthorizationStatus::Valid => continue,
                status => return Err(AcmeError::Invalid { host: host.to_owned(), status: format!("{status:?}") }),
            }
            let mut challenge = authorization
                .challenge(ChallengeType::Http01)
                .ok_or_else(|| AcmeError::NoHttp01 { host: host.to_owned() })?;
            self.challenges.insert(&challenge.token, challenge.key_authorization().as_str());
            guard.tokens.push(challenge.token.clone());
            challenge.set_ready().await?;
        }

        let status = order.poll_ready(&self.retry).await?;
        if status != OrderStatus::Ready {
            return Err(AcmeError::Invalid { host: host.to_owned(), status: format!("{status:?}") });
        }
        drop(guard);

        let key = rcgen::KeyPair::generate()?;
        let mut params = rcgen::CertificateParams::new(vec![host.to_owned()])?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        let csr = params.serialize_request(&key)?;
        order.finalize_csr(csr.der()).await?;
        let cert_chain_pem = order.poll_certificate(&self.retry).await?;
        let key_pem = key.serialize_pem();

        let certified_key = certified_key_from_pem(cert_chain_pem.as_bytes(), key_pem.as_bytes())?;
        let leaf = certified_key.end_entity_cert().map_err(|_| TlsError::NoCertificate)?;
        let not_after = not_after(leaf)?;
        self.certs.insert(host, certified_key.clone());
        tracing::info!(host, ?not_after, "installed a certificate from the ACME CA");
        Ok(Issued { cert_chain_pem, key_pem, certified_key, not_after })
    }

    /// Obtains a new certificate for `host` if the one it serves now is due for renewal at
    /// `now` (or it has none); returns the new one, if any.
    ///
    /// # Errors
    ///
    /// As [`AcmeIssuer::obtain`]; the old certificate stays in place.
    pub async fn renew_if_due(&self, host: &str, now: SystemTime) -> Result<Option<Issued>, AcmeError> {
        let due = match self.certs.get(host) {
            Some(current) => match current.end_entity_cert() {
                Ok(leaf) => needs_renewal(leaf, now, RENEW_BEFORE)?,
                Err(_) => true,
            },
            None => true,
        };
        if due {
            self.obtain(host).await.map(Some)
        } else {
            Ok(None)
        }
    }
}

/// When `cert` stops being valid.
///
/// # Errors
///
/// [`TlsError::BadCertificate`] if it does not parse.
pub fn not_after(cert: &CertificateDer<'_>) -> Result<SystemTime, TlsError> {
    let (_rest, parsed) = x509_parser::parse_x509_certificate(cert.as_ref())
        .map_err(|error| TlsError::BadCertificate(error.to_string()))?;
    let seconds = parsed.validity().not_after.timestamp();
    let since_epoch = Duration::from_secs(u64::try_from(seconds).unwrap_or(0));
    Ok(SystemTime::UNIX_EPOCH + since_epoch)
}

/// The renewal rule: renew once `now` is within `before` of the certificate's expiry (or past it).
///
/// # Errors
///
/// [`TlsError::BadCertificate`] if it does not parse.
pub fn needs_renewal(cert: &CertificateDer<'_>, now: SystemTime, before: Duration) -> Result<bool, TlsError> {
    let expires = not_after(cert)?;
    Ok(now + before >= expires)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renews_within_the_window_before_expiry() {
        let mut params = rcgen::CertificateParams::new(vec!["app.test".to_owned()]).expect("params");
        params.not_after = rcgen::date_time_ymd(2030, 1, 31);
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = params.self_signed(&key).expect("cert");
        let der = cert.der();
        let expiry = not_after(der).expect("parse");
        let day = Duration::from_secs(24 * 60 * 60);
        assert!(!needs_renewal(der, expiry - RENEW_BEFORE - day, RENEW_BEFORE).expect("parse"));
        assert!(needs_renewal(der, expiry - RENEW_BEFORE + day, RENEW_BEFORE).expect("parse"));
        assert!(needs_renewal(der, expiry + day, RENEW_BEFORE).expect("parse"));
        assert!(not_after(&CertificateDer::from(vec![1, 2, 3])).is_err());
    }

    #[test]
    fn challenges_are_served_until_removed() {
        let challenges = Challenges::default();
        challenges.insert("tok", "tok.thumb");
        assert_eq!(challenges.get("tok").as_deref(), Some("tok.thumb"));
        {
            let _guard = TokenGuard { challenges: &challenges, tokens: vec!["tok".to_owned()] };
        }
        assert_eq!(challenges.get("tok"), None);
    }
}
