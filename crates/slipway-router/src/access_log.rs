//! The access log: one JSON object per line, per request, to the `tracing` target
//! `slipway_router::access`, written when the response has been sent (or abandoned), so it
//! carries the whole duration and the body bytes sent.
//!
//! Fields: `time` (RFC 3339, UTC, when the request arrived), `host`, `method`, `path`, `status`,
//! `duration_ms`, `bytes` (response body bytes sent), `request_id`, `backend` (null when the
//! router answered itself) and `client` (the peer's IP address).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderValue, Method};

/// What is known about a request when it arrives; the rest comes when it ends.
pub(crate) struct Entry {
    pub(crate) time: SystemTime,
    pub(crate) host: Option<String>,
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) request_id: HeaderValue,
    pub(crate) client: HeaderValue,
    pub(crate) backend: Option<SocketAddr>,
}

impl Entry {
    /// Emits the line for this request.
    pub(crate) fn emit(&self, status: Option<u16>, duration: Duration, bytes: u64) {
        let line = self.to_json(status, duration, bytes);
        tracing::info!(target: "slipway_router::access", "{line}");
    }

    /// `status` is `None` when the client went away before a response was produced.
    fn to_json(&self, status: Option<u16>, duration: Duration, bytes: u64) -> String {
        let mut out = String::with_capacity(256 + self.path.len());
        // Writing to a String cannot fail.
        let _ = write!(out, "{{\"time\":\"{}\",\"host\":", Rfc3339(self.time));
        json_str_or_null(&mut out, self.host.as_deref());
        out.push_str(",\"method\":");
        json_str(&mut out, self.method.as_str());
        out.push_str(",\"path\":");
        json_str(&mut out, &self.path);
        match status {
            Some(status) => {
                let _ = write!(out, ",\"status\":{status}");
            }
            None => out.push_str(",\"status\":null"),
        }
        let _ = write!(out, ",\"duration_ms\":{:.3},\"bytes\":{bytes},\"request_id\":", duration.as_secs_f64() * 1e3);
        json_str_or_null(&mut out, self.request_id.to_str().ok());
        out.push_str(",\"backend\":");
        json_str_or_null(&mut out, self.backend.map(|addr| addr.to_string()).as_deref());
        out.push_str(",\"client\":");
        json_str_or_null(&mut out, self.client.to_str().ok());
        out.push('}');
        out
    }
}

/// The line for a request hyper refused before the router saw it (it could not be parsed, so
/// there is no host, method or path): the status hyper answered and why.
pub(crate) fn refused(client: SocketAddr, status: u16, request_id: &HeaderValue, reason: &str) {
    let mut out = String::with_capacity(256);
    let _ = write!(
        out,
        "{{\"time\":\"{}\",\"host\":null,\"method\":null,\"path\":null,\"status\":{status},\"duration_ms\":0.000,\
         \"bytes\":0,\"request_id\":",
        Rfc3339(SystemTime::now())
    );
    json_str_or_null(&mut out, request_id.to_str().ok());
    out.push_str(",\"backend\":null,\"client\":");
    json_str(&mut out, &client.ip().to_string());
    out.push_str(",\"error\":");
    json_str(&mut out, reason);
    out.push('}');
    tracing::info!(target: "slipway_router::access", "{out}");
}

fn json_str_or_null(out: &mut String, value: Option<&str>) {
    match value {
        Some(value) => json_str(out, value),
        None => out.push_str("null"),
    }
}

/// Appends `value` as a JSON string.
fn json_str(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A time as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
struct Rfc3339(SystemTime);

impl std::fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let since = self.0.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = since.as_secs();
        let (days, rest) = (secs / 86_400, secs % 86_400);
        let (year, month, day) = civil_from_days(days);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
            rest / 3600,
            rest % 3600 / 60,
            rest % 60,
            since.subsec_millis()
        )
    }
}

/// Days since 1970-01-01 → (year, month, day), Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_one_json_line() {
        let entry = Entry {
            time: UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
            host: Some("shop.example".to_owned()),
            method: Method::GET,
            path: "/a\"b\\c".to_owned(),
            request_id: HeaderValue::from_static("abc"),
            client: HeaderValue::from_static("127.0.0.1"),
            backend: Some(([127, 0, 0, 1], 8000).into()),
        };
        assert_eq!(
            entry.to_json(Some(200), Duration::from_micros(1500), 42),
            "{\"time\":\"2023-11-14T22:13:20.123Z\",\"host\":\"shop.example\",\"method\":\"GET\",\
             \"path\":\"/a\\\"b\\\\c\",\"status\":200,\"duration_ms\":1.500,\"bytes\":42,\
             \"request_id\":\"abc\",\"backend\":\"127.0.0.1:8000\",\"client\":\"127.0.0.1\"}"
        );
        assert_eq!(Rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)).to_string(), "2000-02-29T00:00:00.000Z");
        let mut out = String::new();
        json_str(&mut out, "\u{1}");
        assert_eq!(out, "\"\\u0001\"");
    }
}
