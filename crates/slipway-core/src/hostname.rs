//! Hostnames: the platform domain, generated app hostnames and custom domains.
//!
//! The generated hostname of an environment is
//! `<project>-<workspace>.<platform-domain>` for `production` and
//! `<project>-<environment>-<workspace>.<platform-domain>` for the others.
//! Different slugs can produce the same label (`a-b` + `c` and `a` + `b-c`
//! both give `a-b-c`), so uniqueness is enforced by the store across the whole
//! platform and a collision is refused with `HOSTNAME_TAKEN`.

use crate::macros::string_newtype;
use crate::names::{label_problem, EnvironmentName, InvalidName, ProjectSlug, WorkspaceSlug};
use crate::ErrorCode;

pub const MAX_HOSTNAME_LEN: usize = 253;

/// A DNS hostname: dot-separated RFC 1123 labels, at most 253 characters,
/// stored lower-case without a trailing dot.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hostname(String);

impl Hostname {
    pub fn parse(value: &str) -> Result<Self, InvalidName> {
        let normal = value.strip_suffix('.').unwrap_or(value).to_ascii_lowercase();
        let invalid = |reason: &str| InvalidName::new(ErrorCode::InvalidHostname, "hostname", value, reason);
        if normal.len() > MAX_HOSTNAME_LEN {
            return Err(invalid("it must be at most 253 characters long"));
        }
        for label in normal.split('.') {
            if let Some(problem) = label_problem(label) {
                return Err(invalid(&format!("label `{label}`: {problem}")));
            }
        }
        Ok(Self(normal))
    }

    /// Whether this is `domain` itself or a name below it.
    pub fn is_within(&self, domain: &Hostname) -> bool {
        self.0 == domain.0 || self.0.strip_suffix(&domain.0).is_some_and(|prefix| prefix.ends_with('.'))
    }

    fn labels(&self) -> impl Iterator<Item = &str> {
        self.0.split('.')
    }
}

string_newtype!(Hostname, InvalidName, "DNS hostname", None);

/// How a hostname becomes a URL people can open: the scheme and the port of
/// the edge router (omitted when it is the scheme's default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrls {
    pub https: bool,
    pub port: u16,
}

impl PublicUrls {
    pub fn url(&self, host: &str) -> String {
        let (scheme, default_port) = if self.https { ("https", 443) } else { ("http", 80) };
        if self.port == default_port {
            format!("{scheme}://{host}")
        } else {
            format!("{scheme}://{host}:{}", self.port)
        }
    }

    /// The primary URL of an environment whose routes are `hostnames`, generated hostname
    /// first and custom domains in the order they were added: the first custom domain if there
    /// is one, else the generated hostname; `None` without routes.
    pub fn primary_url<S: AsRef<str>>(&self, hostnames: &[S]) -> Option<String> {
        hostnames.get(1).or(hostnames.first()).map(|host| self.url(host.as_ref()))
    }
}

impl Default for PublicUrls {
    fn default() -> Self {
        Self { https: false, port: 80 }
    }
}

/// The hostname Slipway generates for an environment of a project.
pub fn generated_hostname(
    project: &ProjectSlug,
    environment: &EnvironmentName,
    workspace: &WorkspaceSlug,
    platform_domain: &Hostname,
) -> Result<Hostname, InvalidName> {
    let label = if environment.is_production() {
        format!("{project}-{workspace}")
    } else {
        format!("{project}-{environment}-{workspace}")
    };
    if label.len() > crate::names::MAX_LABEL_LEN {
        return Err(InvalidName::new(
            ErrorCode::HostnameTooLong,
            "generated hostname",
            &label,
            format!(
                "`{label}` has {} characters but a DNS label allows 63; choose shorter slugs or add a custom domain",
                label.len()
            ),
        ));
    }
    Hostname::parse(&format!("{label}.{platform_domain}"))
}

/// A user's own domain for an environment: a hostname of two or more labels,
/// not an IP address, not `localhost`, and outside the platform domain (whose
/// names are Slipway's to generate).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CustomDomain(String);

impl CustomDomain {
    pub fn parse(value: &str, platform_domain: &Hostname) -> Result<Self, InvalidName> {
        let invalid = |reason: &str| InvalidName::new(ErrorCode::InvalidDomain, "custom domain", value, reason);
        let host = Hostname::parse(value).map_err(|err| invalid(&err.reason))?;
        let labels: Vec<&str> = host.labels().collect();
        let top = labels.last().copied().unwrap_or_default();
        if labels.len() < 2 {
            return Err(invalid("it needs at least two labels, such as example.com"));
        }
        if top.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid("an IP address is not a domain"));
        }
        if top == "localhost" {
            return Err(invalid("names under localhost cannot be custom domains"));
        }
        if host.is_within(platform_domain) {
            return Err(invalid(&format!(
                "names under the platform domain {platform_domain} are generated by Slipway"
            )));
        }
        Ok(Self(host.0))
    }

    pub fn as_hostname(&self) -> Hostname {
        Hostname(self.0.clone())
    }

    /// Re-reads a domain that was validated when it was stored.
    pub fn from_stored(value: &str) -> Result<Self, InvalidName> {
        Hostname::parse(value).map(|host| Self(host.0))
    }
}

impl CustomDomain {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for CustomDomain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::fmt::Debug for CustomDomain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CustomDomain({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn domain() -> Hostname {
        Hostname::parse("apps.example.com").unwrap()
    }

    fn generated(project: &str, env: &str, workspace: &str) -> Result<Hostname, InvalidName> {
        generated_hostname(
            &ProjectSlug::parse(project).unwrap(),
            &EnvironmentName::parse(env).unwrap(),
            &WorkspaceSlug::parse(workspace).unwrap(),
            &domain(),
        )
    }

    #[test]
    fn generated_hostnames_follow_the_rule() {
        assert_eq!(generated("shop", "production", "acme").unwrap().as_str(), "shop-acme.apps.example.com");
        assert_eq!(generated("shop", "staging", "acme").unwrap().as_str(), "shop-staging-acme.apps.example.com");
        let localhost = Hostname::parse("localhost").unwrap();
        let host = generated_hostname(
            &ProjectSlug::parse("web").unwrap(),
            &EnvironmentName::production(),
            &WorkspaceSlug::parse("team").unwrap(),
            &localhost,
        );
        assert_eq!(host.unwrap().as_str(), "web-team.localhost");
    }

    #[test]
    fn the_first_custom_domain_is_the_primary_url() {
        let urls = PublicUrls { https: true, port: 8443 };
        assert_eq!(urls.primary_url(&["shop-acme.example.com"]).as_deref(), Some("https://shop-acme.example.com:8443"));
        let routes = ["shop-acme.example.com", "www.shop.com", "shop.com"];
        assert_eq!(urls.primary_url(&routes).as_deref(), Some("https://www.shop.com:8443"));
        assert_eq!(urls.primary_url::<&str>(&[]), None);
    }

    #[test]
    fn different_slugs_can_generate_the_same_hostname() {
        // The store refuses the second one; the rule itself cannot.
        assert_eq!(generated("a-b", "production", "c").unwrap(), generated("a", "production", "b-c").unwrap());
    }

    #[test]
    fn a_label_over_63_characters_is_refused_with_its_own_code() {
        let err = generated(&"p".repeat(40), "production", &"w".repeat(30)).unwrap_err();
        assert_eq!(err.code, ErrorCode::HostnameTooLong);
        assert!(err.reason.contains("71 characters"), "{}", err.reason);
    }

    #[test]
    fn hostnames_are_normalised_and_checked() {
        assert_eq!(Hostname::parse("WWW.Example.com.").unwrap().as_str(), "www.example.com");
        for bad in ["", ".", "a..b", "-a.com", "a_b.com", "a.com-", &format!("{}.com", "x".repeat(64))] {
            assert_eq!(Hostname::parse(bad).unwrap_err().code, ErrorCode::InvalidHostname, "{bad}");
        }
        let long = vec!["abcdefghi"; 26].join(".");
        assert!(long.len() > 253 && Hostname::parse(&long).is_err());
    }

    #[test]
    fn custom_domains() {
        assert_eq!(CustomDomain::parse("Shop.Example.org", &domain()).unwrap().as_str(), "shop.example.org");
        for bad in
            ["example", "10.0.0.1", "app.localhost", "x.apps.example.com", "apps.example.com", "bad_domain.com", ""]
        {
            assert_eq!(CustomDomain::parse(bad, &domain()).unwrap_err().code, ErrorCode::InvalidDomain, "{bad}");
        }
        // A sibling of the platform domain is fine.
        assert!(CustomDomain::parse("myapps.example.com", &domain()).is_ok());
    }

    proptest! {
        #[test]
        fn generated_hostnames_are_valid_or_refused(
            project in "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?",
            workspace in "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?",
        ) {
            match generated(&project, "production", &workspace) {
                Ok(host) => {
                    prop_assert!(project.len() + workspace.len() < 63);
                    prop_assert_eq!(Hostname::parse(host.as_str()).unwrap(), host.clone());
                    prop_assert!(host.is_within(&domain()));
                }
                Err(err) => {
                    prop_assert_eq!(err.code, ErrorCode::HostnameTooLong);
                    prop_assert!(project.len() + workspace.len() + 1 > 63);
                }
            }
        }

        #[test]
        fn any_accepted_hostname_has_valid_labels(value in "[a-zA-Z0-9.-]{0,80}") {
            if let Ok(host) = Hostname::parse(&value) {
                prop_assert!(host.as_str().len() <= 253);
                for label in host.as_str().split('.') {
                    prop_assert!(label_problem(label).is_none());
                }
            }
        }
    }
}
