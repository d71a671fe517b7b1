//! A certificate authority made on this machine for development: `https://app.localhost` works
//! once the developer trusts `ca.pem` (browser or `curl --cacert`).
//!
//! Made on first use and kept in a directory the caller names, so restarts (and the trust the
//! developer gave it) keep working: `ca.pem`, `ca-key.pem`, `localhost.pem` (the leaf for
//! `localhost` and `*.localhost`, followed by the CA) and `localhost-key.pem`. Keys are written
//! with mode 0600. If any of the four files is missing, all four are made anew.
//!
//! rustls clients (webpki) do not accept `*.localhost` for `app.localhost` (a wildcard directly
//! under a single-label name), so [`LocalCa::certified_key_for`] also signs a leaf for one exact
//! name on demand (kept in memory; the CA is what the developer trusts).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::sign::CertifiedKey;

use crate::tls::{certified_key_from_pem, CertStore, TlsError};

const CA_CERT: &str = "ca.pem";
const CA_KEY: &str = "ca-key.pem";
const LEAF_CERT: &str = "localhost.pem";
const LEAF_KEY: &str = "localhost-key.pem";

/// The names the development leaf certificate covers.
pub const LOCAL_NAMES: [&str; 2] = ["localhost", "*.localhost"];

/// The development CA and its `*.localhost` certificate, loaded from or saved to a directory.
#[derive(Clone)]
pub struct LocalCa {
    dir: PathBuf,
    ca_pem: String,
    ca_key_pem: String,
    leaf: Arc<CertifiedKey>,
}

impl std::fmt::Debug for LocalCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The CA key stays out of logs.
        f.debug_struct("LocalCa").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl LocalCa {
    /// Loads the CA and leaf from `dir`, or makes and saves them there if any file is missing.
    ///
    /// # Errors
    ///
    /// [`TlsError::Io`] if the directory or a file cannot be read or written,
    /// [`TlsError::Generate`] if making a key or certificate fails, and the PEM errors of
    /// [`certified_key_from_pem`] if the saved files are damaged (delete them to start over).
    pub fn load_or_create(dir: &Path) -> Result<Self, TlsError> {
        let paths = [CA_CERT, CA_KEY, LEAF_CERT, LEAF_KEY].map(|name| dir.join(name));
        if !paths.iter().all(|path| path.is_file()) {
            create(dir)?;
        }
        let read = |path: &PathBuf| {
            std::fs::read_to_string(path).map_err(|source| TlsError::Io {
                action: "reading",
                path: path.clone(),
                source,
            })
        };
        let ca_pem = read(&paths[0])?;
        let ca_key_pem = read(&paths[1])?;
        let leaf = certified_key_from_pem(read(&paths[2])?.as_bytes(), read(&paths[3])?.as_bytes())?;
        Ok(LocalCa { dir: dir.to_owned(), ca_pem, ca_key_pem, leaf })
    }

    /// The CA certificate (PEM): what a developer adds to their trust store.
    pub fn ca_cert_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Where `ca.pem` is.
    pub fn ca_cert_path(&self) -> PathBuf {
        self.dir.join(CA_CERT)
    }

    /// The leaf for `localhost` and `*.localhost`, with the CA in its chain.
    pub fn certified_key(&self) -> Arc<CertifiedKey> {
        self.leaf.clone()
    }

    /// Serves the leaf for `localhost` and `*.localhost` from `certs`.
    pub fn install(&self, certs: &CertStore) {
        for name in LOCAL_NAMES {
            certs.insert(name, self.leaf.clone());
        }
    }

    /// A new leaf for exactly `host` (e.g. `app.localhost`), signed by this CA.
    ///
    /// # Errors
    ///
    /// [`TlsError::Generate`] if `host` is not a valid name or the saved CA does not load.
    pub fn certified_key_for(&self, host: &str) -> Result<Arc<CertifiedKey>, TlsError> {
        let ca_key = KeyPair::from_pem(&self.ca_key_pem)?;
        let issuer = Issuer::from_ca_cert_pem(&self.ca_pem, ca_key)?;
        let (cert_pem, key_pem) = sign_leaf(&[host], &issuer)?;
        certified_key_from_pem(format!("{cert_pem}{}", self.ca_pem).as_bytes(), key_pem.as_bytes())
    }

    /// Serves a leaf for exactly `host` from `certs` (see [`LocalCa::certified_key_for`]).
    ///
    /// # Errors
    ///
    /// As [`LocalCa::certified_key_for`].
    pub fn install_host(&self, certs: &CertStore, host: &str) -> Result<(), TlsError> {
        certs.insert(host, self.certified_key_for(host)?);
        Ok(())
    }
}

/// A server certificate for `names` signed by `issuer`: (certificate PEM, key PEM).
fn sign_leaf<S: rcgen::SigningKey>(names: &[&str], issuer: &Issuer<'_, S>) -> Result<(String, String), TlsError> {
    let leaf_key = KeyPair::generate()?;
    let mut leaf_params = CertificateParams::new(names.iter().map(|name| (*name).to_owned()).collect::<Vec<_>>())?;
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, names.first().copied().unwrap_or("localhost"));
    leaf_params.distinguished_name = name;
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf_params.use_authority_key_identifier_extension = true;
    // Browsers cap leaf lifetimes (825 days for a locally trusted CA on macOS).
    let (not_before, not_after) = validity(820);
    leaf_params.not_before = not_before;
    leaf_params.not_after = not_after;
    let leaf_cert = leaf_params.signed_by(&leaf_key, issuer)?;
    Ok((leaf_cert.pem(), leaf_key.serialize_pem()))
}

fn create(dir: &Path) -> Result<(), TlsError> {
    std::fs::create_dir_all(dir).map_err(|source| TlsError::Io { action: "creating", path: dir.to_owned(), source })?;

    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, "Slipway local development CA");
    name.push(DnType::OrganizationName, "Slipway");
    ca_params.distinguished_name = name;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let (not_before, not_after) = validity(3650);
    ca_params.not_before = not_before;
    ca_params.not_after = not_after;
    let ca_cert = ca_params.self_signed(&ca_key)?;

    let ca_cert_pem = ca_cert.pem();
    let issuer = Issuer::new(ca_params, &ca_key);
    let (leaf_pem, leaf_key_pem) = sign_leaf(&LOCAL_NAMES, &issuer)?;

    write(&dir.join(CA_KEY), &ca_key.serialize_pem(), true)?;
    write(&dir.join(CA_CERT), &ca_cert_pem, false)?;
    write(&dir.join(LEAF_KEY), &leaf_key_pem, true)?;
    write(&dir.join(LEAF_CERT), &format!("{leaf_pem}{ca_cert_pem}"), false)?;
    Ok(())
}

/// From a day ago (clocks differ) to `days` from now.
fn validity(days: i64) -> (time::OffsetDateTime, time::OffsetDateTime) {
    let now = time::OffsetDateTime::now_utc();
    (now - time::Duration::days(1), now + time::Duration::days(days))
}

fn write(path: &Path, contents: &str, secret: bool) -> Result<(), TlsError> {
    use std::io::Write as _;
    let fail = |source| TlsError::Io { action: "writing", path: path.to_owned(), source };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(if secret { 0o600 } else { 0o644 });
    }
    let mut file = options.open(path).map_err(fail)?;
    #[cfg(unix)]
    {
        // `mode` applies only to a new file; an old one keeps its bits unless set here.
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(std::fs::Permissions::from_mode(if secret { 0o600 } else { 0o644 })).map_err(fail)?;
    }
    file.write_all(contents.as_bytes()).map_err(fail)?;
    file.sync_all().map_err(fail)
}
