//! Header work on the way through: which host a request is for, hop-by-hop headers, the
//! X-Forwarded-* set and the request id.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use http::header::{Entry, CONNECTION, TE, TRAILER, TRANSFER_ENCODING, UPGRADE};
use http::{HeaderMap, HeaderName, HeaderValue};

pub(crate) static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub(crate) static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub(crate) static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
pub(crate) static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

const MAX_REQUEST_ID_LEN: usize = 128;

/// A map keyed by normalised host, for the lookups every request makes (the route table, the
/// per-host metrics). Hashed with FNV-1a, a few instructions per byte where std's SipHash costs
/// about 150 per lookup: the keys are hosts the agent routes (a request only looks up), so
/// SipHash's defence against keys crafted to collide buys nothing here.
pub(crate) type HostMap<V> = HashMap<Box<str>, V, BuildHasherDefault<Fnv>>;

pub(crate) struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Lower-case, port stripped, trailing dot stripped: `Shop.Example.:8000` → `shop.example`.
/// Borrows unless there is an upper-case letter to fold.
pub(crate) fn normalize_host(raw: &str) -> Cow<'_, str> {
    let raw = raw.trim();
    let host = if raw.starts_with('[') {
        // An IPv6 literal keeps its brackets; the port, if any, follows `]`.
        raw.find(']').map_or(raw, |end| &raw[..=end])
    } else {
        // A plain byte search: `split_once(':')` goes through the general `char` searcher, and
        // this runs twice for every request.
        raw.bytes().position(|byte| byte == b':').map_or(raw, |colon| &raw[..colon])
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.bytes().any(|byte| byte.is_ascii_uppercase()) {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    }
}

/// Whether the request asks to switch protocols (WebSocket and friends): an Upgrade header
/// that Connection lists, as RFC 9110 §7.8 requires.
pub(crate) fn wants_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(UPGRADE) && connection_tokens(headers).any(|token| token.eq_ignore_ascii_case("upgrade"))
}

fn connection_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|token| !token.is_empty())
}

/// Removes the headers that describe one connection rather than the message (RFC 9110 §7.6.1).
/// With `keep_upgrade`, the Upgrade header stays and Connection becomes `upgrade`.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    // Most messages carry none of these: one pass over the names costs less than a removal
    // (a hash and a probe) per name. Without any of them there is nothing below to do.
    if !headers.keys().any(is_hop_by_hop) {
        return;
    }
    // Headers that Connection names. The usual tokens are removed below anyway (or, like
    // `close`, name no header), so the Vec only allocates for unusual ones.
    let mut listed = Vec::new();
    for token in connection_tokens(headers) {
        let usual = ["close", "keep-alive", "upgrade", "te", "trailer", "transfer-encoding", "proxy-connection"]
            .iter()
            .any(|usual| token.eq_ignore_ascii_case(usual));
        if !usual {
            if let Ok(name) = HeaderName::from_bytes(token.as_bytes()) {
                listed.push(name);
            }
        }
    }
    for name in listed {
        headers.remove(name);
    }
    headers.remove(CONNECTION);
    headers.remove(&KEEP_ALIVE);
    headers.remove(&PROXY_CONNECTION);
    headers.remove(TE);
    headers.remove(TRAILER);
    // hyper frames bodies itself (chunked or Content-Length) on each side.
    headers.remove(TRANSFER_ENCODING);
    if keep_upgrade && headers.contains_key(UPGRADE) {
        headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    } else {
        headers.remove(UPGRADE);
    }
}

/// The headers `strip_hop_by_hop` removes whatever Connection lists (Upgrade included, which it
/// may keep).
fn is_hop_by_hop(name: &HeaderName) -> bool {
    [&CONNECTION, &KEEP_ALIVE, &PROXY_CONNECTION, &TE, &TRAILER, &TRANSFER_ENCODING, &UPGRADE].contains(&name)
}

/// Sets X-Forwarded-For (appending the client), -Proto and -Host. Client-sent -Proto and -Host
/// are replaced: only the router knows them. `client_ip` is the client's address, rendered once
/// per connection.
pub(crate) fn set_forwarded(
    headers: &mut HeaderMap,
    client_ip: &HeaderValue,
    original_host: Option<HeaderValue>,
    https: bool,
) {
    // One lookup for the read and the write (each costs a hash of the name). `entry` panics
    // only past 32,768 fields; hyper parses at most 100.
    match headers.entry(&X_FORWARDED_FOR) {
        Entry::Occupied(mut entry) => {
            let mut joined = Vec::with_capacity(64);
            for value in entry.iter() {
                joined.extend_from_slice(value.as_bytes());
                joined.extend_from_slice(b", ");
            }
            joined.extend_from_slice(client_ip.as_bytes());
            // Made of valid header values joined by ", ", so it is one too.
            let joined = HeaderValue::from_bytes(&joined).unwrap_or_else(|_| client_ip.clone());
            // Replaces every earlier value.
            entry.insert(joined);
        }
        Entry::Vacant(entry) => {
            entry.insert(client_ip.clone());
        }
    }
    headers.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static(if https { "https" } else { "http" }));
    match original_host {
        Some(host) => headers.insert(X_FORWARDED_HOST.clone(), host),
        None => headers.remove(&X_FORWARDED_HOST),
    };
}

/// Whether a client-sent request id is worth keeping: 1 to 128 characters of `[A-Za-z0-9._:-]`.
pub(crate) fn is_sane_request_id(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_REQUEST_ID_LEN
        && bytes.iter().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b':' | b'-'))
}

/// Makes request ids: 32 hex digits, unique within the process (a bijection of a counter) and
/// unlikely to repeat across processes (a random per-process half). No syscall per id.
#[derive(Debug)]
pub(crate) struct RequestIds {
    process: u64,
    key: u64,
    counter: AtomicU64,
}

impl RequestIds {
    pub(crate) fn new() -> Self {
        // std's RandomState is seeded from the OS once per process; good enough for ids.
        let random = || std::collections::hash_map::RandomState::new().build_hasher().finish();
        RequestIds { process: random(), key: random(), counter: AtomicU64::new(0) }
    }

    pub(crate) fn next(&self) -> HeaderValue {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut hex = [0u8; 32];
        write_hex(&mut hex[..16], self.process);
        write_hex(&mut hex[16..], splitmix64(n ^ self.key));
        // Hex digits are valid header bytes.
        HeaderValue::from_bytes(&hex).unwrap_or_else(|_| HeaderValue::from_static("0"))
    }
}

fn write_hex(out: &mut [u8], value: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = DIGITS[((value >> (60 - 4 * i)) & 0xf) as usize];
    }
}

/// The splitmix64 finaliser: a bijection on u64, so distinct counters give distinct ids.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_hosts() {
        for (raw, want) in [
            ("shop.example", "shop.example"),
            ("Shop.Example:8000", "shop.example"),
            ("shop.example.", "shop.example"),
            ("SHOP.example.:80", "shop.example"),
            ("[::1]:8000", "[::1]"),
            ("127.0.0.1:8000", "127.0.0.1"),
            (" shop.example ", "shop.example"),
        ] {
            assert_eq!(normalize_host(raw), want, "{raw}");
        }
        assert!(matches!(normalize_host("shop.example:1"), Cow::Borrowed(_)));
    }

    #[test]
    fn strips_hop_by_hop_and_what_connection_lists() {
        let mut headers = HeaderMap::new();
        headers.insert(CONNECTION, HeaderValue::from_static("close, X-Secret"));
        headers.insert("x-secret", HeaderValue::from_static("1"));
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert(TE, HeaderValue::from_static("trailers"));
        headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut headers, false);
        assert_eq!(headers.keys().map(|name| name.as_str()).collect::<Vec<_>>(), ["x-kept"]);
    }

    #[test]
    fn keeps_upgrade_when_asked() {
        let mut headers = HeaderMap::new();
        headers.insert(CONNECTION, HeaderValue::from_static("keep-alive, Upgrade"));
        headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
        assert!(wants_upgrade(&headers));
        strip_hop_by_hop(&mut headers, true);
        assert_eq!(headers[CONNECTION], "upgrade");
        assert_eq!(headers[UPGRADE], "websocket");
    }

    #[test]
    fn request_ids_are_sane_and_distinct() {
        let ids = RequestIds::new();
        let (a, b) = (ids.next(), ids.next());
        assert_ne!(a, b);
        assert!(is_sane_request_id(&a) && a.len() == 32);
        assert!(!is_sane_request_id(&HeaderValue::from_static("has space")));
        assert!(!is_sane_request_id(&HeaderValue::from_static("")));
        assert!(!is_sane_request_id(&HeaderValue::from_str(&"a".repeat(129)).expect("ascii")));
        assert!(is_sane_request_id(&HeaderValue::from_str(&"a".repeat(128)).expect("ascii")));
    }
}
