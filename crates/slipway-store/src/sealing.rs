//! Config var values are sealed (XChaCha20-Poly1305) before they reach the
//! database, with a key kept outside it. The row's identity is the associated
//! data, so a sealed value copied to another row does not open.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, OsRng, Payload};
use chacha20poly1305::{AeadCore, XChaCha20Poly1305, XNonce};

use crate::StoreError;

pub const SEALING_KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;

/// The 32-byte key that seals config var values. `Debug` never shows it.
#[derive(Clone)]
pub struct SealingKey([u8; SEALING_KEY_LEN]);

impl SealingKey {
    pub fn generate() -> Self {
        Self(XChaCha20Poly1305::generate_key(&mut OsRng).into())
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StoreError> {
        let key: [u8; SEALING_KEY_LEN] = bytes
            .try_into()
            .map_err(|_| StoreError::Config(format!("the sealing key must be {SEALING_KEY_LEN} bytes")))?;
        Ok(Self(key))
    }

    /// The key as base64, to write to a key file.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    pub fn from_base64(text: &str) -> Result<Self, StoreError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| StoreError::Config("the sealing key is not valid base64".into()))?;
        Self::from_bytes(&bytes)
    }
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(<redacted>)")
    }
}

#[derive(Clone)]
pub(crate) struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl Sealer {
    pub(crate) fn new(key: SealingKey) -> Self {
        Self { cipher: XChaCha20Poly1305::new(&key.0.into()) }
    }

    pub(crate) fn seal(&self, context: &str, plain: &str) -> Result<String, StoreError> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(&nonce, Payload { msg: plain.as_bytes(), aad: context.as_bytes() })
            .map_err(|_| StoreError::Corrupt("sealing failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(STANDARD.encode(out))
    }

    pub(crate) fn open(&self, context: &str, sealed: &str) -> Result<String, StoreError> {
        let corrupt = || StoreError::Corrupt(format!("config var {context} does not open with this sealing key"));
        let bytes = STANDARD.decode(sealed).map_err(|_| corrupt())?;
        if bytes.len() < NONCE_LEN {
            return Err(corrupt());
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg: sealed, aad: context.as_bytes() })
            .map_err(|_| corrupt())?;
        String::from_utf8(plain).map_err(|_| corrupt())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (CONVENTIONS.md, rule 5)
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_in_their_own_row_and_key() {
        let sealer = Sealer::new(SealingKey::generate());
        let sealed = sealer.seal("env_1/DATABASE_URL", "postgres://secret").unwrap();
        assert!(!sealed.contains("secret"));
        assert_eq!(sealer.open("env_1/DATABASE_URL", &sealed).unwrap(), "postgres://secret");
        assert!(sealer.open("env_2/DATABASE_URL", &sealed).is_err());
        assert!(Sealer::new(SealingKey::generate()).open("env_1/DATABASE_URL", &sealed).is_err());
        assert!(sealer.open("env_1/DATABASE_URL", "bm9wZQ==").is_err());
    }

    #[test]
    fn keys_round_trip_and_never_print() {
        let key = SealingKey::generate();
        let again = SealingKey::from_base64(&key.to_base64()).unwrap();
        assert_eq!(key.0, again.0);
        assert!(SealingKey::from_base64("c2hvcnQ=").is_err());
        assert_eq!(format!("{key:?}"), "SealingKey(<redacted>)");
    }
}
