//! Names a user types: slugs (RFC 1123 labels), usernames, emails, passwords,
//! config var names and values. Each is parsed once, here, into a type that
//! cannot hold an invalid value.

use crate::macros::string_newtype;
use crate::ErrorCode;

/// Repository URLs live in [`crate::repo`] with the policy that decides where the platform fetches from.
pub use crate::repo::RepoUrl;

/// A name broke its rule. `code` is the API error code; the message names the
/// value and says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} `{value}` is invalid: {reason}")]
pub struct InvalidName {
    pub code: ErrorCode,
    pub kind: &'static str,
    pub value: String,
    pub reason: String,
}

impl InvalidName {
    pub(crate) fn new(code: ErrorCode, kind: &'static str, value: &str, reason: impl Into<String>) -> Self {
        // Echo at most a screenful of hostile input back.
        let value: String = value.chars().take(80).collect();
        Self { code, kind, value, reason: reason.into() }
    }
}

pub const MAX_LABEL_LEN: usize = 63;

/// Why `value` is not an RFC 1123 DNS label, if it is not one.
pub fn label_problem(value: &str) -> Option<&'static str> {
    if value.is_empty() {
        Some("it must not be empty")
    } else if value.len() > MAX_LABEL_LEN {
        Some("it must be at most 63 characters long")
    } else if !value.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-')) {
        Some("use only lower-case letters a-z, digits 0-9 and `-`")
    } else if value.starts_with('-') || value.ends_with('-') {
        Some("it must not start or end with `-`")
    } else {
        None
    }
}

/// [`label_problem`] as a regular expression, for the OpenAPI document.
pub const LABEL_PATTERN: &str = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$";

macro_rules! label_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn parse(value: &str) -> Result<Self, InvalidName> {
                match label_problem(value) {
                    None => Ok(Self(value.to_owned())),
                    Some(reason) => Err(InvalidName::new(ErrorCode::InvalidSlug, $kind, value, reason)),
                }
            }
        }

        string_newtype!($name, InvalidName, concat!($kind, ": an RFC 1123 label"), Some(LABEL_PATTERN));
    };
}

label_type!(
    /// Slug of a workspace; unique on the platform.
    WorkspaceSlug, "workspace slug");
label_type!(
    /// Slug of a project; unique in its workspace.
    ProjectSlug, "project slug");
label_type!(
    /// Name of an environment (`production`, `staging`, …); unique in its project.
    EnvironmentName, "environment name");

impl EnvironmentName {
    pub const PRODUCTION: &'static str = "production";

    /// The environment every project is created with.
    pub fn production() -> Self {
        Self(Self::PRODUCTION.to_owned())
    }

    pub fn is_production(&self) -> bool {
        self.0 == Self::PRODUCTION
    }
}

/// A login name: 1–64 of `a-z 0-9 . _ -`, starting with a letter or digit.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Username(String);

impl Username {
    pub const MAX_LEN: usize = 64;
    /// [`Username::parse`] as a regular expression, for the OpenAPI document.
    pub const PATTERN: &'static str = "^[a-z0-9][a-z0-9._-]{0,63}$";

    pub fn parse(value: &str) -> Result<Self, InvalidName> {
        let reason = if value.is_empty() || value.len() > Self::MAX_LEN {
            Some("it must be 1 to 64 characters long")
        } else if !value.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-')) {
            Some("use only lower-case letters a-z, digits 0-9, `.`, `_` and `-`")
        } else if !value.as_bytes()[0].is_ascii_alphanumeric() {
            Some("it must start with a letter or digit")
        } else {
            None
        };
        match reason {
            None => Ok(Self(value.to_owned())),
            Some(reason) => Err(InvalidName::new(ErrorCode::InvalidUsername, "username", value, reason)),
        }
    }
}

string_newtype!(Username, InvalidName, "login name", Some(Username::PATTERN));

/// An email address: `local@domain` with a DNS domain of two or more labels.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;
    /// [`Email::parse`] as a regular expression, for the OpenAPI document: a local part of 1 to
    /// 64 printable ASCII characters but `@"(),:;<>[\]`, and two or more DNS labels (any case).
    pub const PATTERN: &'static str = concat!(
        "^[!#-'*+\\-./0-9=?A-Z^-~]{1,64}@",
        "[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?",
        "(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
    );

    pub fn parse(value: &str) -> Result<Self, InvalidName> {
        let invalid = |reason: &str| InvalidName::new(ErrorCode::InvalidEmail, "email", value, reason);
        if value.len() > Self::MAX_LEN {
            return Err(invalid("it must be at most 254 characters long"));
        }
        let Some((local, domain)) = value.rsplit_once('@') else {
            return Err(invalid("it must look like name@example.com"));
        };
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && local.bytes().all(|b| {
                b.is_ascii_graphic()
                    && !matches!(b, b'@' | b'"' | b'(' | b')' | b',' | b':' | b';' | b'<' | b'>' | b'[' | b'\\' | b']')
            });
        if !local_ok {
            return Err(invalid("the part before `@` must be 1 to 64 plain characters"));
        }
        let domain = domain.to_ascii_lowercase();
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 || labels.iter().any(|label| label_problem(label).is_some()) {
            return Err(invalid("the part after `@` must be a DNS domain such as example.com"));
        }
        Ok(Self(format!("{local}@{domain}")))
    }
}

string_newtype!(Email, InvalidName, "email address", Some(Email::PATTERN));

/// A password as typed. `Debug` never shows it.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub const MIN_LEN: usize = 8;
    pub const MAX_LEN: usize = 1024;

    pub fn parse(value: &str) -> Result<Self, InvalidName> {
        let chars = value.chars().count();
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&chars) {
            return Err(InvalidName {
                code: ErrorCode::InvalidPassword,
                kind: "password",
                value: "(hidden)".into(),
                reason: format!("it must be {} to {} characters long", Self::MIN_LEN, Self::MAX_LEN),
            });
        }
        Ok(Self(value.to_owned()))
    }

    /// The secret itself, for hashing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A git branch name, as `git check-ref-format --branch` would accept it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Branch(String);

impl Branch {
    pub const DEFAULT: &'static str = "main";
    /// Characters, not bytes: the OpenAPI document's `maxLength` counts them too.
    pub const MAX_LEN: usize = 255;
    /// [`Branch::parse`] but its length as a regular expression, for the OpenAPI document.
    pub const PATTERN: &'static str = concat!(
        // No `..`, `@{`, `//`, component starting with `.`, `.lock` at the end, or bare `@`.
        "^(?![\\s\\S]*(\\.\\.|@\\{|//|/\\.))(?![\\s\\S]*\\.lock$)(?!@$)",
        // No control character, space or `~^:?*[\`; not starting with `-/.` nor ending with `/.`.
        "[^\\x00-\\x20\\x7f~^:?*\\[\\\\/.-]",
        "([^\\x00-\\x20\\x7f~^:?*\\[\\\\]*[^\\x00-\\x20\\x7f~^:?*\\[\\\\/.])?$"
    );

    pub fn parse(value: &str) -> Result<Self, InvalidName> {
        let forbidden = |c: char| c.is_ascii_control() || c == ' ' || "~^:?*[\\".contains(c);
        let valid = !value.is_empty()
            && value.chars().count() <= Self::MAX_LEN
            && !value.chars().any(forbidden)
            && !value.contains("..")
            && !value.contains("@{")
            && !value.contains("//")
            && !value.starts_with(['-', '/', '.'])
            && !value.ends_with(['/', '.'])
            && !value.ends_with(".lock")
            && value != "@"
            && !value.split('/').any(|part| part.starts_with('.'));
        if valid {
            Ok(Self(value.to_owned()))
        } else {
            Err(InvalidName::new(ErrorCode::InvalidBranch, "branch", value, "it is not a valid git branch name"))
        }
    }

    pub fn default_branch() -> Self {
        Self(Self::DEFAULT.to_owned())
    }
}

string_newtype!(Branch, InvalidName, "git branch name", Some(Branch::PATTERN));

/// The name of a config var: a POSIX environment variable name. `PORT` and
/// the `SLIPWAY_` prefix belong to the platform.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConfigVarName(String);

impl ConfigVarName {
    pub const MAX_LEN: usize = 255;
    /// [`ConfigVarName::parse`] as a regular expression, for the OpenAPI document; it leaves
    /// out the reserved names too.
    pub const PATTERN: &'static str = "^(?!PORT$|SLIPWAY_)[A-Za-z_][A-Za-z0-9_]{0,254}$";

    pub fn parse(value: &str) -> Result<Self, InvalidName> {
        let valid = !value.is_empty()
            && value.len() <= Self::MAX_LEN
            && !value.as_bytes()[0].is_ascii_digit()
            && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid {
            return Err(InvalidName::new(
                ErrorCode::InvalidConfigVarName,
                "config var name",
                value,
                "use 1 to 255 of A-Z, a-z, 0-9 and `_`, not starting with a digit",
            ));
        }
        if value == "PORT" || value.starts_with("SLIPWAY_") {
            return Err(InvalidName::new(
                ErrorCode::ReservedConfigVarName,
                "config var name",
                value,
                "PORT and names starting with SLIPWAY_ are set by the platform",
            ));
        }
        Ok(Self(value.to_owned()))
    }
}

string_newtype!(ConfigVarName, InvalidName, "environment variable name", Some(ConfigVarName::PATTERN));

/// The longest config var value, in bytes of UTF-8.
pub const MAX_CONFIG_VAR_VALUE_LEN: usize = 32 * 1024;

/// The value of a config var: at most 32 KiB, no NUL byte (it must fit in
/// a process environment).
pub fn check_config_var_value(name: &ConfigVarName, value: &str) -> Result<(), InvalidName> {
    let reason = if value.len() > MAX_CONFIG_VAR_VALUE_LEN {
        "it must be at most 32 KiB"
    } else if value.contains('\0') {
        "it must not contain a NUL byte"
    } else {
        return Ok(());
    };
    Err(InvalidName {
        code: ErrorCode::InvalidConfigVarValue,
        kind: "config var value",
        value: name.as_str().to_owned(),
        reason: reason.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn labels_follow_rfc_1123() {
        for good in ["a", "0", "my-app", "a1-b2", &"x".repeat(63)] {
            assert!(ProjectSlug::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "-a", "a-", "A", "a_b", "a.b", "é", "a b", &"x".repeat(64)] {
            let err = ProjectSlug::parse(bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidSlug, "{bad}");
        }
    }

    #[test]
    fn usernames_emails_and_passwords() {
        assert!(Username::parse("alice.smith_2").is_ok());
        assert!(Username::parse("_alice").is_err());
        assert!(Username::parse("Alice").is_err());
        assert_eq!(Email::parse("Bob@Example.COM").unwrap().as_str(), "Bob@example.com");
        for bad in ["bob", "bob@", "@example.com", "bob@localhost", "bob@exa_mple.com", "b ob@example.com"] {
            assert_eq!(Email::parse(bad).unwrap_err().code, ErrorCode::InvalidEmail, "{bad}");
        }
        assert!(Password::parse("short").is_err());
        let password = Password::parse("correct horse").unwrap();
        assert!(!format!("{password:?}").contains("horse"));
    }

    #[test]
    fn config_var_names_and_reserved_ones() {
        assert!(ConfigVarName::parse("DATABASE_URL").is_ok());
        assert!(ConfigVarName::parse("_x1").is_ok());
        for bad in ["", "1X", "A-B", "A B", "Ä"] {
            assert_eq!(ConfigVarName::parse(bad).unwrap_err().code, ErrorCode::InvalidConfigVarName, "{bad}");
        }
        for reserved in ["PORT", "SLIPWAY_TOKEN"] {
            assert_eq!(ConfigVarName::parse(reserved).unwrap_err().code, ErrorCode::ReservedConfigVarName);
        }
        let name = ConfigVarName::parse("X").unwrap();
        assert!(check_config_var_value(&name, "a\0b").is_err());
        assert!(check_config_var_value(&name, &"v".repeat(40_000)).is_err());
        assert!(check_config_var_value(&name, "ok = fine").is_ok());
    }

    #[test]
    fn branches_and_repository_urls() {
        for good in ["main", "feature/x-1", "release-2.0", "v1"] {
            assert!(Branch::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "-x", "a..b", "a b", "a~1", "x.lock", "x/", "/x", ".x", "a/.b", "@", "a@{b", "a\\b"] {
            assert_eq!(Branch::parse(bad).unwrap_err().code, ErrorCode::InvalidBranch, "{bad}");
        }
        // Parsing says nothing about whether the platform fetches from it: see `repo::RepoPolicy`.
        for good in
            ["https://github.com/a/b.git", "ssh://git@host/x", "git@github.com:a/b.git", "file:///srv/r", "/srv/repo"]
        {
            assert!(RepoUrl::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "github.com/a/b", "ftp://x/y", "https://", "-uhttps://x", "https://a b", "relative/path"] {
            assert_eq!(RepoUrl::parse(bad).unwrap_err().code, ErrorCode::InvalidRepoUrl, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn every_accepted_slug_is_a_dns_label(value in "\\PC{0,70}") {
            if let Ok(slug) = WorkspaceSlug::parse(&value) {
                let s = slug.as_str();
                prop_assert!(!s.is_empty() && s.len() <= 63);
                prop_assert!(s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
                prop_assert!(!s.starts_with('-') && !s.ends_with('-'));
            }
        }

        #[test]
        fn every_label_shaped_string_is_accepted(value in "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?") {
            prop_assert!(WorkspaceSlug::parse(&value).is_ok());
        }

        #[test]
        fn slugs_round_trip_through_json(value in "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?") {
            let slug = ProjectSlug::parse(&value).unwrap();
            let json = serde_json::to_string(&slug).unwrap();
            prop_assert_eq!(serde_json::from_str::<ProjectSlug>(&json).unwrap(), slug);
        }
    }
}
