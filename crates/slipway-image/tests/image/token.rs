//! Bearer-token auth as GHCR and Harbor do it, against the real thing:
//! Distribution configured with `auth: token`, and a token service written
//! here (the part a registry operator runs) that trades Basic credentials for
//! an ES256 JWT signed by a key whose self-signed certificate the registry
//! trusts (`rootcertbundle`; the certificate travels in the token's `x5c`).

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const ISSUER: &str = "slipway-test-issuer";
pub const SERVICE: &str = "slipway-test-registry";

/// A running token service; it stops when dropped.
pub struct TokenService {
    pub realm: String,
    /// The issuer certificate, for the registry's `rootcertbundle`.
    pub cert_pem: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TokenService {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Signer {
    key: EcdsaKeyPair,
    cert_der: Vec<u8>,
    login: (String, String),
}

impl TokenService {
    /// Grants every scope asked for to `username:password`, and nothing to anyone else.
    pub async fn start(username: &str, password: &str) -> Self {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["token-issuer".to_owned()]).unwrap().self_signed(&key).unwrap();
        let rng = SystemRandom::new();
        let signer = Signer {
            key: EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &key.serialize_der(), &rng).unwrap(),
            cert_der: cert.der().to_vec(),
            login: (username.to_owned(), password.to_owned()),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let realm = format!("http://{}/token", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut request = Vec::new();
                let mut buf = [0; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let (status, body) = signer.answer(&String::from_utf8_lossy(&request));
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: \
                     close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            }
        });
        Self { realm, cert_pem: cert.pem(), task }
    }
}

impl Signer {
    fn answer(&self, request: &str) -> (&'static str, String) {
        let expected = format!("Basic {}", STANDARD.encode(format!("{}:{}", self.login.0, self.login.1)));
        let authorized = request.lines().any(|l| {
            l.split_once(':').is_some_and(|(k, v)| k.eq_ignore_ascii_case("authorization") && v.trim() == expected)
        });
        if !authorized {
            return ("401 Unauthorized", r#"{"errors":[{"code":"UNAUTHORIZED","message":"bad login"}]}"#.to_owned());
        }
        let target = request.split_whitespace().nth(1).unwrap_or_default();
        let query = target.split_once('?').map(|(_, q)| q).unwrap_or_default();
        let access: Vec<serde_json::Value> = query
            .split('&')
            .filter_map(|pair| pair.strip_prefix("scope="))
            .map(decode)
            .flat_map(|scope| scope.split(' ').map(str::to_owned).collect::<Vec<_>>())
            .filter_map(|scope| {
                let mut parts = scope.splitn(3, ':');
                let (kind, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
                Some(json!({"type": kind, "name": name, "actions": actions.split(',').collect::<Vec<_>>()}))
            })
            .collect();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        let header = json!({"typ": "JWT", "alg": "ES256", "x5c": [STANDARD.encode(&self.cert_der)]});
        let claims = json!({
            "iss": ISSUER, "sub": self.login.0, "aud": SERVICE, "exp": now + 300, "nbf": now - 10, "iat": now,
            "jti": format!("{now}-{}", access.len()), "access": access,
        });
        let signing_input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature = self.key.sign(&SystemRandom::new(), signing_input.as_bytes()).unwrap();
        let token = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()));
        ("200 OK", json!({"token": token, "expires_in": 300}).to_string())
    }
}

/// Percent-decoding of a query value (`+` as space, as forms write it).
fn decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}
