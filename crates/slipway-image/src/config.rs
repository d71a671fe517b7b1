//! `RegistrySettings`: where exported images go, parsed from the settings
//! `SLIPWAY_REGISTRY` (`host[:port][/prefix…]`, optionally with `http://` or
//! `https://` in front) and `SLIPWAY_REGISTRY_USERNAME` / `_PASSWORD`.
//!
//! Without a scheme, loopback hosts (`localhost`, `127.*`, `[::1]`) are spoken
//! to over plain HTTP and every other host over HTTPS, as `docker` does: a
//! registry on the same machine rarely has a certificate, a remote one must.

use std::fmt;

use slipway_core::image_ref::ImageRef;
use slipway_core::names::{ProjectSlug, WorkspaceSlug};

use crate::error::ImageError;

/// Registry login. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("username", &self.username).field("password", &"[redacted]").finish()
    }
}

/// The registry exported images are pushed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrySettings {
    host: String,
    prefix: String,
    plain_http: bool,
    credentials: Option<Credentials>,
}

impl RegistrySettings {
    /// Parses the three settings; empty strings count as unset.
    pub fn parse(registry: &str, username: Option<&str>, password: Option<&str>) -> Result<Self, ImageError> {
        let invalid = |problem: &str| ImageError::InvalidConfig {
            setting: "SLIPWAY_REGISTRY".to_owned(),
            problem: format!("{problem} (got {registry:?}; expected e.g. registry.example.com/slipway)"),
        };
        let (scheme, rest) = match registry.trim().split_once("://") {
            Some((scheme, rest)) => (Some(scheme), rest),
            None => (None, registry.trim()),
        };
        let rest = rest.trim_end_matches('/');
        let (host, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        ImageRef::tagged(host, "x", None).map_err(|_| invalid("the registry host is missing or malformed"))?;
        let plain_http = match scheme {
            Some("http") => true,
            Some("https") => false,
            Some(_) => return Err(invalid("the scheme must be http:// or https://")),
            None => is_loopback(host),
        };
        // The prefix must make valid repository names; check it with a stand-in project path.
        let probe = if prefix.is_empty() { "x/y".to_owned() } else { format!("{prefix}/x/y") };
        ImageRef::tagged(host, &probe, None)
            .map_err(|_| invalid("the repository prefix must be lower-case path components (a-z 0-9 . _ -)"))?;
        let nonempty = |v: Option<&str>| v.map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
        let credentials = match (nonempty(username), nonempty(password)) {
            (Some(username), Some(password)) => Some(Credentials { username, password }),
            (None, None) => None,
            (Some(_), None) | (None, Some(_)) => {
                return Err(ImageError::InvalidConfig {
                    setting: "SLIPWAY_REGISTRY_USERNAME".to_owned(),
                    problem: "set both SLIPWAY_REGISTRY_USERNAME and SLIPWAY_REGISTRY_PASSWORD, or neither".to_owned(),
                })
            }
        };
        Ok(Self { host: host.to_owned(), prefix: prefix.to_owned(), plain_http, credentials })
    }

    /// Reads the settings from the environment; `None` when `SLIPWAY_REGISTRY` is unset or empty.
    pub fn from_env() -> Result<Option<Self>, ImageError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let Some(registry) = var("SLIPWAY_REGISTRY") else { return Ok(None) };
        let (username, password) = (var("SLIPWAY_REGISTRY_USERNAME"), var("SLIPWAY_REGISTRY_PASSWORD"));
        Self::parse(&registry, username.as_deref(), password.as_deref()).map(Some)
    }

    /// `host[:port]`, as in image references.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Repository prefix (may be empty).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn credentials(&self) -> Option<&Credentials> {
        self.credentials.as_ref()
    }

    /// The URL scheme used for `host`: the configured one for the registry
    /// itself, the loopback rule for any other (e.g. a base image's registry).
    pub fn scheme_for(&self, host: &str) -> &'static str {
        let plain = if host == self.host { self.plain_http } else { is_loopback(host) };
        if plain {
            "http"
        } else {
            "https"
        }
    }

    /// The repository of a project's images: `<prefix>/<workspace>/<project>`,
    /// so tenants never share a repository and registry-side permissions can
    /// be granted per workspace.
    pub fn repository(&self, workspace: &WorkspaceSlug, project: &ProjectSlug) -> String {
        if self.prefix.is_empty() {
            format!("{workspace}/{project}")
        } else {
            format!("{}/{workspace}/{project}", self.prefix)
        }
    }
}

fn is_loopback(host: &str) -> bool {
    let name = if host.starts_with('[') {
        host.split(']').next().unwrap_or_default().trim_start_matches('[')
    } else {
        host.split(':').next().unwrap_or_default()
    };
    name == "localhost" || name == "::1" || name.starts_with("127.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_setting_splits_into_host_prefix_and_scheme() {
        let local = RegistrySettings::parse("127.0.0.1:5000/slipway", None, None).unwrap();
        assert_eq!(
            (local.host(), local.prefix(), local.scheme_for("127.0.0.1:5000")),
            ("127.0.0.1:5000", "slipway", "http")
        );
        let ws = WorkspaceSlug::parse("acme").unwrap();
        let project = ProjectSlug::parse("web").unwrap();
        assert_eq!(local.repository(&ws, &project), "slipway/acme/web");

        let remote = RegistrySettings::parse("ghcr.io/acme-org/apps", Some("bot"), Some("s3cret")).unwrap();
        assert_eq!((remote.scheme_for("ghcr.io"), remote.prefix()), ("https", "acme-org/apps"));
        assert!(!format!("{remote:?}").contains("s3cret"));

        let forced = RegistrySettings::parse("http://registry.internal:5000", Some(""), None).unwrap();
        assert_eq!(
            (forced.scheme_for("registry.internal:5000"), forced.prefix(), forced.credentials()),
            ("http", "", None)
        );
        assert_eq!(forced.repository(&ws, &project), "acme/web");
    }

    #[test]
    fn bad_settings_are_refused_with_the_setting_named() {
        for bad in ["", "ftp://reg.io/x", "reg.io/UPPER", "user@reg.io/x", "reg.io//x"] {
            let err = RegistrySettings::parse(bad, None, None).unwrap_err();
            assert!(err.to_string().contains("SLIPWAY_REGISTRY"), "{bad}: {err}");
        }
        let err = RegistrySettings::parse("reg.io/x", Some("bot"), None).unwrap_err();
        assert!(err.to_string().contains("SLIPWAY_REGISTRY_PASSWORD"), "{err}");
    }
}
