//! An error with its causes on one line: clients such as reqwest say only
//! "error sending request for url (…)" and keep the reason (connection
//! refused, certificate unknown) in their `source()` chain.

/// `err` and each cause it does not already spell out, joined by `: `.
pub fn with_causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let message = cause.to_string();
        if !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn causes_follow_the_error_once() {
        let err = Outer(std::io::Error::other("connection refused"));
        assert_eq!(with_causes(&err), "outer: connection refused");
    }
}
