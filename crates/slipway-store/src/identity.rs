//! Passwords (argon2id) and API tokens (random, stored as SHA-256).
//!
//! Tokens carry 256 random bits, so a fast hash is enough to store them:
//! nothing can be guessed offline. Passwords are slow-hashed; callers run
//! [`hash_password`] and [`verify_password`] on a blocking thread.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use slipway_core::names::Password;

use crate::StoreError;

/// Every token starts with this, so secret scanners can spot a leaked one.
pub const TOKEN_PREFIX: &str = "slw_";

pub fn hash_password(password: &Password) -> Result<String, StoreError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|err| StoreError::Corrupt(format!("password hashing failed: {err}")))
}

/// Whether `password` matches `stored`. A malformed stored hash never matches.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|hash| Argon2::default().verify_password(password.as_bytes(), &hash).is_ok())
}

/// A freshly made token: the text for the user (shown once) and its hash.
pub struct TokenSecret {
    pub plain: String,
    pub(crate) hash: String,
}

impl TokenSecret {
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let plain = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
        let hash = token_hash(&plain);
        Self { plain, hash }
    }
}

impl std::fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSecret(<redacted>)")
    }
}

pub(crate) fn token_hash(plain: &str) -> String {
    hex::encode(Sha256::digest(plain.as_bytes()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (CONVENTIONS.md, rule 5)
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_themselves() {
        let hash = hash_password(&Password::parse("correct horse").unwrap()).unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn tokens_are_unique_prefixed_and_stored_hashed() {
        let a = TokenSecret::generate();
        let b = TokenSecret::generate();
        assert_ne!(a.plain, b.plain);
        assert!(a.plain.starts_with(TOKEN_PREFIX) && a.plain.len() > 40);
        assert_eq!(a.hash, token_hash(&a.plain));
        assert!(!a.hash.contains(&a.plain));
    }
}
