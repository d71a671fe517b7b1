//! Percent-encoding (RFC 3986), written once: the CLI and the portal encode path segments and
//! query values with [`encode`]; repository URLs and the static server's request paths are read
//! with [`decode`].

/// `text` with every byte but the unreserved ones (`A–Z a–z 0–9 - _ . ~`) written `%XX`, so it
/// can stand as one path segment or query value.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
    }
    out
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// `text` with every `%XX` decoded, or `None` when a `%` is not followed by
/// two hex digits (git and browsers would read such a URL differently, so
/// callers refuse it).
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%' {
            let hex = text.get(at + 1..at + 3).filter(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))?;
            // Checked above: `from_str_radix` alone would also take a sign (`%+1`).
            out.push(u8::from_str_radix(hex, 16).ok()?);
            at += 3;
        } else {
            out.push(bytes[at]);
            at += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unreserved_bytes_stay_as_they_are() {
        for (text, encoded) in [("a-b_c.d~e", "a-b_c.d~e"), ("a b/c?d&é", "a%20b%2Fc%3Fd%26%C3%A9"), ("", "")] {
            assert_eq!(encode(text), encoded);
        }
    }

    #[test]
    fn decoding_reverses_encoding_and_refuses_a_stray_percent() {
        for text in ["plain", "a b/c?d&é", "%", "100%"] {
            assert_eq!(decode(&encode(text)).as_deref(), Some(text.as_bytes()));
        }
        assert_eq!(decode("%2e%2E"), Some(b"..".to_vec()));
        for bad in ["%", "%2", "%zz", "a%g1", "%+1"] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }
}
