//! Redaction of secret config values from log lines. Every line Slipway
//! stores or shows (build output, app output) passes through a [`Redactor`]
//! built from the secrets of that environment.

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

#[cfg(test)]
mod tests {
    use super::*;

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
