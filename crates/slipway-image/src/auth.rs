//! Registry authentication: the `WWW-Authenticate` challenge of a 401 and the
//! answer to it. `Basic` means "send the credentials on every request";
//! `Bearer` (Docker Hub, GHCR, Harbor, Distribution with token auth) means
//! "trade them — or nothing, for anonymous pulls — at `realm` for a token
//! covering these scopes". See the distribution token-auth specification.

use base64::Engine as _;
use serde::Deserialize;

use crate::config::Credentials;
use crate::error::ImageError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Challenge {
    Basic,
    Bearer { realm: String, service: Option<String>, scope: Option<String> },
}

impl Challenge {
    /// Parses a `WWW-Authenticate` value; `None` for schemes Slipway does not speak.
    pub(crate) fn parse(header: &str) -> Option<Self> {
        let header = header.trim();
        let (scheme, params) = header.split_once(' ').unwrap_or((header, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            return Some(Self::Basic);
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let params = parse_params(params);
        let get = |key: &str| params.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.clone());
        Some(Self::Bearer { realm: get("realm")?, service: get("service"), scope: get("scope") })
    }
}

/// `key="value", key=value` pairs; quoted values may hold commas (`pull,push`).
fn parse_params(text: &str) -> Vec<(String, String)> {
    let mut params = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| *c == ',' || c.is_whitespace()).is_some() {}
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=')).collect();
        if key.is_empty() || chars.next().is_none() {
            return params;
        }
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value.extend(std::iter::from_fn(|| chars.next_if(|c| *c != ',')));
        }
        params.push((key.trim().to_owned(), value.trim().to_owned()));
    }
}

pub(crate) fn basic_header(credentials: &Credentials) -> String {
    let pair = format!("{}:{}", credentials.username, credentials.password);
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

/// Fetches a bearer token for `scopes` at the challenge's realm; returns the `Authorization` value.
pub(crate) async fn fetch_token(
    http: &reqwest::Client,
    registry: &str,
    repository: &str,
    challenge: (&str, Option<&str>),
    scopes: &[String],
    credentials: Option<&Credentials>,
) -> Result<String, ImageError> {
    let (realm, service) = challenge;
    let mut query: Vec<(&str, &str)> = scopes.iter().map(|s| ("scope", s.as_str())).collect();
    if let Some(service) = service {
        query.push(("service", service));
    }
    let mut request = http.get(realm).query(&query);
    // The login goes to the token service the registry names, but never in clear text over the
    // network: plain HTTP only on loopback (test registries).
    let in_clear = realm.starts_with("http://")
        && !["http://127.0.0.1", "http://localhost", "http://[::1]"].iter().any(|local| realm.starts_with(local));
    if in_clear && credentials.is_some() {
        return Err(ImageError::Unauthorized {
            registry: registry.to_owned(),
            repository: repository.to_owned(),
            status: 401,
            detail: format!("the registry's token service {realm} is plain HTTP; refusing to send the login there"),
        });
    }
    if let Some(credentials) = credentials {
        request = request.header(reqwest::header::AUTHORIZATION, basic_header(credentials));
    }
    let unreachable = |source| ImageError::Unreachable { registry: registry.to_owned(), url: realm.to_owned(), source };
    let response = request.send().await.map_err(unreachable)?;
    let status = response.status();
    let body = response.bytes().await.map_err(unreachable)?;
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        return Err(ImageError::Unauthorized {
            registry: registry.to_owned(),
            repository: repository.to_owned(),
            status: status.as_u16(),
            detail: format!("the token service {realm} refused the credentials"),
        });
    }
    let token = serde_json::from_slice::<TokenResponse>(&body).ok().and_then(|t| t.token.or(t.access_token));
    match token {
        Some(token) if status.is_success() && !token.is_empty() => Ok(format!("Bearer {token}")),
        _ => Err(ImageError::Registry {
            registry: registry.to_owned(),
            operation: format!("a token request to {realm}"),
            status: status.as_u16(),
            detail: String::from_utf8_lossy(&body).chars().take(300).collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_of_real_registries_parse() {
        let ghcr = r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:acme/web:pull,push""#;
        assert_eq!(
            Challenge::parse(ghcr),
            Some(Challenge::Bearer {
                realm: "https://ghcr.io/token".to_owned(),
                service: Some("ghcr.io".to_owned()),
                scope: Some("repository:acme/web:pull,push".to_owned()),
            })
        );
        let harbor = r#"Bearer realm="https://harbor.example.com/service/token", service="harbor-registry""#;
        assert!(matches!(Challenge::parse(harbor), Some(Challenge::Bearer { scope: None, .. })));
        assert_eq!(Challenge::parse(r#"Basic realm="Registry Realm""#), Some(Challenge::Basic));
        assert_eq!(Challenge::parse("Negotiate abc"), None);
        assert_eq!(Challenge::parse("Bearer service=x"), None, "a bearer challenge without realm is unusable");
    }

    #[test]
    fn basic_header_is_base64_of_user_colon_password() {
        let credentials = Credentials { username: "bot".to_owned(), password: "pw".to_owned() };
        assert_eq!(basic_header(&credentials), "Basic Ym90OnB3");
    }
}
