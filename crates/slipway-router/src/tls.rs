//! TLS on the edge: the certificates the router serves, picked per connection by SNI.
//!
//! The agent (or whatever holds the certificates: the control plane's store, the ACME issuer,
//! the local development CA) owns a [`CertStore`] and calls [`CertStore::insert`] /
//! [`CertStore::remove`]; [`crate::serve_tls`] reads the same store for every handshake, so a
//! new or renewed certificate is used by the next connection without a restart. Like the route
//! table it is one immutable snapshot swapped atomically: a handshake never sees half an update.
//!
//! The store also holds the per-host "HTTPS only" flag that makes the plain listener answer
//! 308 to `https://` (see [`CertStore::set_https_redirect`]).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;

/// Why a certificate or key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate PEM held no `CERTIFICATE` block, or one that does not parse.
    #[error("no usable certificate in the PEM data")]
    NoCertificate,
    /// The key PEM held no private key (PKCS#8, PKCS#1 or SEC1) that parses.
    #[error("no usable private key in the PEM data")]
    NoPrivateKey,
    /// The key parsed but rustls cannot sign with it (unsupported algorithm or curve).
    #[error("the private key is not one rustls can sign with")]
    UnsupportedKey(#[source] rustls::Error),
    /// The private key does not belong to the first certificate of the chain.
    #[error("the private key does not match the certificate")]
    KeyMismatch(#[source] rustls::Error),
    /// The certificate's DER does not parse as X.509 (e.g. to read its expiry).
    #[error("the certificate does not parse as X.509: {0}")]
    BadCertificate(String),
    /// Generating a certificate or key (rcgen) failed.
    #[error("generating a certificate failed")]
    Generate(#[from] rcgen::Error),
    /// Reading or writing the files of the local CA failed; `path` says which.
    #[error("{action} {path} failed")]
    Io {
        action: &'static str,
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The crypto provider of every TLS config the router builds (ring, as reqwest's rustls uses;
/// named explicitly so no process-wide default has to be installed).
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A certificate chain and its private key, both PEM, ready to serve.
///
/// # Errors
///
/// [`TlsError::NoCertificate`], [`TlsError::NoPrivateKey`], [`TlsError::UnsupportedKey`] or
/// [`TlsError::KeyMismatch`].
pub fn certified_key_from_pem(cert_chain_pem: &[u8], key_pem: &[u8]) -> Result<Arc<CertifiedKey>, TlsError> {
    let chain = CertificateDer::pem_slice_iter(cert_chain_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| TlsError::NoCertificate)?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|_| TlsError::NoPrivateKey)?;
    certified_key(chain, key)
}

/// A certificate chain (leaf first) and its private key, as DER, ready to serve.
///
/// # Errors
///
/// [`TlsError::UnsupportedKey`] or [`TlsError::KeyMismatch`].
pub fn certified_key(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<CertifiedKey>, TlsError> {
    let provider = provider();
    let signing_key = provider.key_provider.load_private_key(key).map_err(TlsError::UnsupportedKey)?;
    let certified = CertifiedKey::new(chain, signing_key);
    certified.keys_match().map_err(TlsError::KeyMismatch)?;
    Ok(Arc::new(certified))
}

/// The certificates the router serves, by host name, plus the per-host HTTPS-redirect flag.
///
/// Hosts are exact names (`shop.example`) or one-level wildcards (`*.localhost`, which covers
/// `app.localhost` but neither `localhost` nor `a.b.localhost`); an exact entry wins over a
/// wildcard. Names are matched case-insensitively, without a trailing dot.
///
/// Cheap to clone: clones share one store.
#[derive(Clone, Default)]
pub struct CertStore {
    inner: Arc<StoreInner>,
}

#[derive(Default)]
struct StoreInner {
    snapshot: ArcSwap<Certs>,
    /// Serialises writers, so two updates never overwrite each other's copy.
    write: Mutex<()>,
    /// Whether any host redirects to HTTPS: the plain listener asks for every request, and
    /// usually the answer is no, which this gives without a snapshot load.
    any_https_only: AtomicBool,
}

#[derive(Default, Clone)]
struct Certs {
    keys: HashMap<Box<str>, Arc<CertifiedKey>>,
    https_only: HashSet<Box<str>>,
}

fn key_of(host: &str) -> Box<str> {
    let host = host.trim();
    host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase().into_boxed_str()
}

impl CertStore {
    /// Serves `key` for `host` (an exact name or `*.domain`) from the next handshake on,
    /// replacing what was there.
    pub fn insert(&self, host: &str, key: Arc<CertifiedKey>) {
        self.update(|certs| {
            certs.keys.insert(key_of(host), key);
        });
    }

    /// Stops serving a certificate for `host` (as given to `insert`); returns whether there was one.
    pub fn remove(&self, host: &str) -> bool {
        let mut removed = false;
        self.update(|certs| removed = certs.keys.remove(&key_of(host)).is_some());
        removed
    }

    /// The certificate a handshake for `server_name` gets: the exact entry, else the wildcard
    /// of its parent domain.
    pub fn get(&self, server_name: &str) -> Option<Arc<CertifiedKey>> {
        let name = key_of(server_name);
        let certs = self.inner.snapshot.load();
        if let Some(key) = certs.keys.get(&name) {
            return Some(key.clone());
        }
        let (_label, parent) = name.split_once('.')?;
        if parent.is_empty() {
            return None;
        }
        certs.keys.get(format!("*.{parent}").as_str()).cloned()
    }

    /// Hosts that currently have a certificate entry (exact names and wildcards).
    pub fn hosts(&self) -> Vec<String> {
        self.inner.snapshot.load().keys.keys().map(|host| host.to_string()).collect()
    }

    /// Makes the plain-HTTP listener answer requests for `host` (exact name) with a 308
    /// redirect to `https://` (ACME challenges excepted), or stops it.
    pub fn set_https_redirect(&self, host: &str, on: bool) {
        self.update(|certs| {
            if on {
                certs.https_only.insert(key_of(host));
            } else {
                certs.https_only.remove(&key_of(host));
            }
        });
    }

    /// Whether plain-HTTP requests for `host` (already normalised: lower-case, no port) are
    /// redirected to HTTPS.
    pub fn redirects_to_https(&self, host: &str) -> bool {
        self.any_https_redirect() && self.inner.snapshot.load().https_only.contains(host)
    }

    /// Whether some host redirects to HTTPS (a cheap check before looking a host up).
    pub(crate) fn any_https_redirect(&self) -> bool {
        self.inner.any_https_only.load(Ordering::Relaxed)
    }

    fn update(&self, change: impl FnOnce(&mut Certs)) {
        let _writer = self.inner.write.lock().unwrap_or_else(PoisonError::into_inner);
        let mut next = Certs::clone(&self.inner.snapshot.load());
        change(&mut next);
        let any_https_only = !next.https_only.is_empty();
        self.inner.snapshot.store(Arc::new(next));
        // Under the writer lock, so it always follows the latest snapshot.
        self.inner.any_https_only.store(any_https_only, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for CertStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let certs = self.inner.snapshot.load();
        f.debug_struct("CertStore")
            .field("hosts", &certs.keys.keys().collect::<Vec<_>>())
            .field("https_only", &certs.https_only)
            .finish()
    }
}

/// rustls' view of the store: SNI name → certificate. No SNI, or a name without a
/// certificate, resolves to nothing, which makes rustls end the handshake with an alert.
#[derive(Debug)]
struct SniResolver(CertStore);

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let name = hello.server_name()?;
        let key = self.0.get(name);
        if key.is_none() {
            tracing::debug!(server_name = name, "TLS handshake for a name without a certificate");
        }
        key
    }
}

/// The rustls server config of [`crate::serve_tls`]: certificates from `certs` by SNI, ALPN
/// `h2` then `http/1.1`.
pub fn server_config(certs: CertStore) -> Arc<ServerConfig> {
    let builder = ServerConfig::builder_with_provider(provider()).with_safe_default_protocol_versions();
    // The ring provider supports every safe default protocol version, so this cannot fail.
    let builder = match builder {
        Ok(builder) => builder,
        Err(_) => ServerConfig::builder_with_protocol_versions(rustls::DEFAULT_VERSIONS),
    };
    let mut config = builder.with_no_client_auth().with_cert_resolver(Arc::new(SniResolver(certs)));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Arc::new(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed(names: &[&str]) -> Arc<CertifiedKey> {
        let names = names.iter().map(|name| (*name).to_owned()).collect::<Vec<_>>();
        let generated = rcgen::generate_simple_self_signed(names).expect("generate");
        certified_key_from_pem(generated.cert.pem().as_bytes(), generated.signing_key.serialize_pem().as_bytes())
            .expect("certified key")
    }

    #[test]
    fn exact_entries_win_over_one_level_wildcards() {
        let store = CertStore::default();
        let (wild, exact) = (self_signed(&["*.example"]), self_signed(&["shop.example"]));
        store.insert("*.Example.", wild.clone());
        store.insert("shop.example", exact.clone());
        assert!(Arc::ptr_eq(&store.get("SHOP.example").expect("exact"), &exact));
        assert!(Arc::ptr_eq(&store.get("blog.example").expect("wildcard"), &wild));
        assert!(store.get("example").is_none());
        assert!(store.get("a.b.example").is_none());
        assert!(store.remove("shop.example"));
        assert!(Arc::ptr_eq(&store.get("shop.example").expect("wildcard now"), &wild));
        assert!(!store.remove("shop.example"));
    }

    #[test]
    fn rejects_a_key_of_another_certificate_and_garbage() {
        let a = rcgen::generate_simple_self_signed(vec!["a.example".to_owned()]).expect("generate");
        let b = rcgen::generate_simple_self_signed(vec!["b.example".to_owned()]).expect("generate");
        let mismatch = certified_key_from_pem(a.cert.pem().as_bytes(), b.signing_key.serialize_pem().as_bytes());
        assert!(matches!(mismatch, Err(TlsError::KeyMismatch(_))), "{mismatch:?}");
        let garbage = certified_key_from_pem(b"not pem", a.signing_key.serialize_pem().as_bytes());
        assert!(matches!(garbage, Err(TlsError::NoCertificate)));
        let no_key = certified_key_from_pem(a.cert.pem().as_bytes(), b"");
        assert!(matches!(no_key, Err(TlsError::NoPrivateKey)));
    }

    #[test]
    fn https_redirect_flags_are_per_host() {
        let store = CertStore::default();
        store.set_https_redirect("Shop.Example", true);
        assert!(store.redirects_to_https("shop.example"));
        assert!(!store.redirects_to_https("blog.example"));
        store.set_https_redirect("shop.example", false);
        assert!(!store.redirects_to_https("shop.example"));
    }
}
