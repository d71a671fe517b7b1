//! Redaction: of secret config values from log lines — every line Slipway
//! stores or shows (build output, app output) passes through a [`Redactor`]
//! built from the secrets of that environment — and of credentials from URLs
//! ([`redact_url`]) before a message or a settings dump shows them.

use std::borrow::Cow;

/// Values shorter than this are not redacted: replacing every "1" or "ok"
/// in a log would destroy it and hide nothing worth hiding.
pub const MIN_SECRET_LEN: usize = 4;

#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// (value, name), longest value first so a secret containing another is
    /// replaced whole.
    secrets: Vec<(String, String)>,
}

impl Redactor {
    pub fn new<'a>(secrets: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut secrets: Vec<(String, String)> = secrets
            .into_iter()
            .filter(|(_, value)| value.len() >= MIN_SECRET_LEN)
            .map(|(name, value)| (value.to_owned(), name.to_owned()))
            .collect();
        secrets.sort_by_key(|(value, _)| std::cmp::Reverse(value.len()));
        Self { secrets }
    }

    pub fn redact<'a>(&self, line: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(line);
        for (value, name) in &self.secrets {
            if out.contains(value.as_str()) {
                out = Cow::Owned(out.replace(value.as_str(), &format!("[secret {name}]")));
            }
        }
        out
    }
}

/// A URL as it may be shown: `scheme://host[:port]/path`. The user part (a name, a password,
/// a token) goes, and so do the query and the fragment (`?password=…` carries one too); the
/// host stays, so a message still says where. Anything that is not a `scheme://` URL (a local
/// path, `git@host:path`) is returned as it is.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    format!("{scheme}://{host}{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Among them the pipeline's cases for a GitOps remote (its test expected the user name
    /// kept, `https://bot@…`; the one redaction drops it).
    #[test]
    fn urls_are_shown_without_credentials_query_or_fragment() {
        assert_eq!(redact_url("https://bot:s3cret@git.example.com/ops.git"), "https://git.example.com/ops.git");
        assert_eq!(redact_url("postgres://u:hunter2@127.0.0.1:1/x"), "postgres://127.0.0.1:1/x");
        assert_eq!(redact_url("postgres://u@db:5432/x?password=hunter2&sslmode=disable"), "postgres://db:5432/x");
        assert_eq!(redact_url("https://token@host#frag"), "https://host");
        assert_eq!(redact_url("ssh://git@host:22/a@b.git"), "ssh://host:22/a@b.git");
        assert_eq!(redact_url("https://git.example.com/ops.git"), "https://git.example.com/ops.git");
        assert_eq!(redact_url("sqlite:///var/lib/slipway/slipway.db?mode=rwc"), "sqlite:///var/lib/slipway/slipway.db");
        for unchanged in ["/var/lib/slipway/repos/_platform/gitops.git", "git@github.com:a/b.git", ""] {
            assert_eq!(redact_url(unchanged), unchanged);
        }
    }

    #[test]
    fn secrets_are_replaced_by_their_names() {
        let redactor = Redactor::new([("API_KEY", "s3cr3t-value"), ("DB", "postgres://u:pw@db/x"), ("TINY", "1")]);
        assert_eq!(redactor.redact("key=s3cr3t-value!"), "key=[secret API_KEY]!");
        assert_eq!(redactor.redact("url postgres://u:pw@db/x"), "url [secret DB]");
        assert_eq!(redactor.redact("1 + 1"), "1 + 1");
        assert!(matches!(redactor.redact("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_secret_containing_another_is_replaced_whole() {
        let redactor = Redactor::new([("SHORT", "abcd"), ("LONG", "xxabcdxx")]);
        assert_eq!(redactor.redact("xxabcdxx abcd"), "[secret LONG] [secret SHORT]");
    }
}
