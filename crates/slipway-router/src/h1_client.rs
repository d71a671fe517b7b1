//! Slipway's own HTTP/1.1 client for the most common exchange: a request without a body (GET,
//! HEAD, most DELETEs) that does not ask to upgrade. Everything else goes through hyper's client.
//!
//! Why not hyper for these too: hyper's client drives each connection from a task of its own and
//! hands requests and responses over channels, which costs about a third of the router's work
//! per request (measured with callgrind: ~12k of ~32k instructions) — more than nginx spends
//! proxying a whole request. Here the request's own task writes the head, reads the response
//! and streams its body straight from the socket, and an idle connection sits in the pool with
//! no task at all.
//!
//! What it accepts from an upstream, strictly (RFC 9112): a head of at most [`MAX_HEAD`] bytes
//! and [`MAX_HEADERS`] fields as httparse parses it; interim 1xx heads are skipped; the body is
//! framed by §6.3 — none for HEAD, 204 and 304; chunked when chunked is the final transfer coding
//! (Content-Length is then dropped and the connection not reused, as a message carrying both
//! may be an attempt at desync); a Content-Length whose values all agree; otherwise until the
//! connection closes. Anything else is a malformed response (502). A connection goes back to the
//! pool only after its message ended exactly where its framing said, on a keep-alive HTTP/1.1
//! response.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Bytes, BytesMut};
use http::header::{CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode, Version};
use http_body::{Body, Frame, SizeHint};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// The largest response head accepted.
pub(crate) const MAX_HEAD: usize = 64 * 1024;
/// The most header fields accepted in a response head.
pub(crate) const MAX_HEADERS: usize = 100;
/// The longest chunk-size line (with extensions) or trailer line accepted.
const MAX_LINE: usize = 4096;
/// How much room a read gets when the buffer is grown, and the least room worth a read.
const READ_SIZE: usize = 16 * 1024;
const MIN_READ: usize = 4 * 1024;

/// Why an exchange failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum H1Error {
    #[error("the connection failed")]
    Io(#[from] io::Error),
    #[error("the upstream closed the connection before a complete response head")]
    ClosedBeforeHead,
    #[error("the upstream sent a malformed response: {0}")]
    Malformed(&'static str),
    #[error("the upstream's response head is larger than {MAX_HEAD} bytes or has more than {MAX_HEADERS} fields")]
    HeadTooLarge,
    #[error("the upstream switched protocols on a request that did not ask for it")]
    UnexpectedUpgrade,
    #[error("the upstream closed the connection before the end of the response body")]
    Truncated,
}

/// An open connection to an upstream, with what it has sent that was not used yet.
#[derive(Debug)]
pub(crate) struct H1Conn {
    stream: TcpStream,
    buf: BytesMut,
}

/// A failed exchange, and whether the request may have reached the upstream.
#[derive(Debug)]
pub(crate) struct Failed {
    pub(crate) error: H1Error,
    pub(crate) sent: bool,
}

impl H1Conn {
    pub(crate) fn new(stream: TcpStream) -> Self {
        H1Conn { stream, buf: BytesMut::new() }
    }

    /// Whether an idle connection is still open as far as its socket has told us. No system call
    /// unless the socket became readable while idle — which for an idle connection means the
    /// upstream closed it (or sent something unasked); either way it is not used again.
    pub(crate) fn is_open(&self) -> bool {
        let mut probe = [0u8; 1];
        matches!(self.stream.try_read(&mut probe), Err(error) if error.kind() == io::ErrorKind::WouldBlock)
    }

    /// Sends a request without a body and reads the response head; the body streams from the
    /// returned response.
    pub(crate) async fn send(mut self, parts: &Parts) -> Result<Response<H1Body>, Failed> {
        let head = encode_head(parts);
        let mut written = 0;
        while written < head.len() {
            match self.stream.write(&head[written..]).await {
                Ok(0) => {
                    let error = H1Error::Io(io::ErrorKind::WriteZero.into());
                    return Err(Failed { error, sent: written > 0 });
                }
                Ok(n) => written += n,
                Err(error) => return Err(Failed { error: error.into(), sent: written > 0 }),
            }
        }
        let head_request = parts.method == Method::HEAD;
        self.read_response(head_request).await.map_err(|error| Failed { error, sent: true })
    }

    async fn read_response(mut self, head_request: bool) -> Result<Response<H1Body>, H1Error> {
        loop {
            if let Some(parsed) = parse_head(&mut self.buf)? {
                let (status, version, headers) = parsed;
                if status == StatusCode::SWITCHING_PROTOCOLS {
                    return Err(H1Error::UnexpectedUpgrade);
                }
                if status.is_informational() {
                    continue; // 100 Continue, 103 Early Hints: the final head follows.
                }
                return finish_head(self, head_request, status, version, headers);
            }
            if self.buf.len() >= MAX_HEAD {
                return Err(H1Error::HeadTooLarge);
            }
            if self.fill().await? == 0 {
                return Err(H1Error::ClosedBeforeHead);
            }
        }
    }

    async fn fill(&mut self) -> io::Result<usize> {
        std::future::poll_fn(|cx| self.poll_fill(cx)).await
    }

    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        // Responses are split off the buffer as shared slices, so one allocation serves many
        // small responses; a fresh one is taken only when little room is left.
        if self.buf.capacity() - self.buf.len() < MIN_READ {
            self.buf.reserve(READ_SIZE);
        }
        tokio_util::io::poll_read_buf(Pin::new(&mut self.stream), cx, &mut self.buf)
    }
}

/// The request head as HTTP/1.1 sends it: origin-form target, fields as they are in the map.
fn encode_head(parts: &Parts) -> Vec<u8> {
    let target = parts.uri.path_and_query().map_or("/", |path| path.as_str());
    let fields: usize = parts.headers.iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum();
    let mut head = Vec::with_capacity(parts.method.as_str().len() + target.len() + fields + 16);
    head.extend_from_slice(parts.method.as_str().as_bytes());
    head.push(b' ');
    head.extend_from_slice(target.as_bytes());
    head.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in &parts.headers {
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    head
}

type Head = (StatusCode, Version, HeaderMap);

/// Parses a complete response head off the front of `buf`; `None` while it is incomplete.
fn parse_head(buf: &mut BytesMut) -> Result<Option<Head>, H1Error> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut fields);
    let len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(H1Error::HeadTooLarge),
        Err(_) => return Err(H1Error::Malformed("the response head does not parse")),
    };
    let status = response.code.and_then(|code| StatusCode::from_u16(code).ok());
    let status = status.ok_or(H1Error::Malformed("invalid status code"))?;
    let version = if response.version == Some(0) { Version::HTTP_10 } else { Version::HTTP_11 };
    // Field values are kept as slices of the head (no copy); names and offsets first, while
    // httparse borrows the buffer.
    let base = buf.as_ptr() as usize;
    let mut names = Vec::with_capacity(response.headers.len());
    for field in response.headers.iter() {
        let name = HeaderName::from_bytes(field.name.as_bytes())
            .map_err(|_| H1Error::Malformed("invalid header field name"))?;
        let start = field.value.as_ptr() as usize - base;
        names.push((name, start, start + field.value.len()));
    }
    let head = buf.split_to(len).freeze();
    let mut headers = HeaderMap::with_capacity(names.len());
    for (name, start, end) in names {
        let value = HeaderValue::from_maybe_shared(head.slice(start..end))
            .map_err(|_| H1Error::Malformed("invalid header field value"))?;
        headers.append(name, value);
    }
    Ok(Some((status, version, headers)))
}

fn finish_head(
    conn: H1Conn,
    head_request: bool,
    status: StatusCode,
    version: Version,
    mut headers: HeaderMap,
) -> Result<Response<H1Body>, H1Error> {
    let (framing, mut reusable) = framing(head_request, status, &mut headers)?;
    reusable &= version == Version::HTTP_11 && !has_token(&headers, &CONNECTION, "close");
    let mut response = Response::new(H1Body { conn: Some(conn), framing, reusable });
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Ok(response)
}

/// How the body of a response is delimited (RFC 9112 §6.3), and whether the connection may carry
/// another request after it.
fn framing(head_request: bool, status: StatusCode, headers: &mut HeaderMap) -> Result<(Framing, bool), H1Error> {
    if head_request || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
        return Ok((Framing::Length(0), true));
    }
    if headers.contains_key(TRANSFER_ENCODING) {
        let codings: Vec<&[u8]> = headers
            .get_all(TRANSFER_ENCODING)
            .iter()
            .flat_map(|value| value.as_bytes().split(|&byte| byte == b','))
            .map(<[u8]>::trim_ascii)
            .filter(|coding| !coding.is_empty())
            .collect();
        let chunked = |coding: &&[u8]| coding.eq_ignore_ascii_case(b"chunked");
        let last_chunked = codings.last().is_some_and(chunked);
        if codings.iter().rev().skip(1).any(chunked) {
            return Err(H1Error::Malformed("chunked is not the final transfer coding"));
        }
        // With both, Transfer-Encoding wins (§6.3 ¶3) and the connection is not reused.
        let both = headers.remove(CONTENT_LENGTH).is_some();
        return Ok(if last_chunked { (Framing::Chunked(Chunk::Size), !both) } else { (Framing::UntilClose, false) });
    }
    if headers.contains_key(CONTENT_LENGTH) {
        let mut length = None;
        for value in headers.get_all(CONTENT_LENGTH) {
            for item in value.as_bytes().split(|&byte| byte == b',') {
                let parsed = parse_decimal(item.trim_ascii()).ok_or(H1Error::Malformed("invalid Content-Length"))?;
                if length.is_some_and(|seen| seen != parsed) {
                    return Err(H1Error::Malformed("conflicting Content-Length values"));
                }
                length = Some(parsed);
            }
        }
        let length = length.ok_or(H1Error::Malformed("invalid Content-Length"))?;
        return Ok((Framing::Length(length), true));
    }
    Ok((Framing::UntilClose, false))
}

fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits.iter().try_fold(0u64, |sum, digit| sum.checked_mul(10)?.checked_add(u64::from(digit - b'0')))
}

fn has_token(headers: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|value| {
        value
            .as_bytes()
            .split(|&byte| byte == b',')
            .any(|item| item.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// This many bytes are left; 0 once any body has ended.
    Length(u64),
    Chunked(Chunk),
    UntilClose,
}

/// Where a chunked body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Expecting a chunk-size line.
    Size,
    /// This many bytes of chunk data are left.
    Data(u64),
    /// Expecting the CRLF after chunk data.
    DataEnd,
    /// After the last chunk: trailer lines until an empty one (trailers are dropped).
    Trailers,
}

/// A response body streamed from its connection.
#[derive(Debug)]
pub(crate) struct H1Body {
    conn: Option<H1Conn>,
    framing: Framing,
    reusable: bool,
}

impl H1Body {
    /// The connection, once the body has ended exactly where its framing said and the connection
    /// may carry another request.
    pub(crate) fn take_idle(&mut self) -> Option<H1Conn> {
        if !(self.finished() && self.reusable) {
            return None;
        }
        self.conn.take().filter(|conn| conn.buf.is_empty())
    }

    fn finished(&self) -> bool {
        self.framing == Framing::Length(0)
    }

    /// The next piece of body data from what has been read, if any; advances the framing.
    fn next_data(&mut self) -> Result<Option<Bytes>, H1Error> {
        let Some(conn) = self.conn.as_mut() else { return Ok(None) };
        let buf = &mut conn.buf;
        loop {
            if buf.is_empty() {
                return Ok(None);
            }
            match &mut self.framing {
                Framing::Length(left) => {
                    let take = usize::try_from(*left).unwrap_or(usize::MAX).min(buf.len());
                    *left -= take as u64;
                    return Ok(Some(buf.split_to(take).freeze()));
                }
                Framing::UntilClose => return Ok(Some(buf.split().freeze())),
                Framing::Chunked(Chunk::Data(left)) => {
                    let take = usize::try_from(*left).unwrap_or(usize::MAX).min(buf.len());
                    *left -= take as u64;
                    if *left == 0 {
                        self.framing = Framing::Chunked(Chunk::DataEnd);
                    }
                    return Ok(Some(buf.split_to(take).freeze()));
                }
                Framing::Chunked(state) => {
                    let Some(line) = take_line(buf)? else { return Ok(None) };
                    match *state {
                        Chunk::Size => {
                            *state = match chunk_size(&line)? {
                                0 => Chunk::Trailers,
                                size => Chunk::Data(size),
                            }
                        }
                        Chunk::DataEnd if line.is_empty() => *state = Chunk::Size,
                        Chunk::DataEnd => return Err(H1Error::Malformed("chunk data longer than its size")),
                        Chunk::Trailers if line.is_empty() => {
                            self.framing = Framing::Length(0);
                            return Ok(None);
                        }
                        // A trailer line, dropped. (Chunk data is taken in the arm above.)
                        Chunk::Trailers | Chunk::Data(_) => {}
                    }
                }
            }
        }
    }
}

/// A CRLF-terminated line off the front of `buf` (without the CRLF); `None` if incomplete.
fn take_line(buf: &mut BytesMut) -> Result<Option<Bytes>, H1Error> {
    match buf.iter().position(|&byte| byte == b'\n') {
        Some(end) => {
            let mut line = buf.split_to(end + 1);
            line.truncate(end);
            if line.last() != Some(&b'\r') {
                return Err(H1Error::Malformed("chunked framing line not ended by CRLF"));
            }
            line.truncate(end - 1);
            Ok(Some(line.freeze()))
        }
        None if buf.len() > MAX_LINE => Err(H1Error::Malformed("chunked framing line too long")),
        None => Ok(None),
    }
}

/// The size of a chunk from its size line (extensions after `;` are ignored).
fn chunk_size(line: &[u8]) -> Result<u64, H1Error> {
    let digits = line.split(|&byte| byte == b';').next().unwrap_or_default().trim_ascii_end();
    if digits.is_empty() || digits.len() > 15 {
        return Err(H1Error::Malformed("invalid chunk size"));
    }
    digits.iter().try_fold(0u64, |size, &digit| {
        let value = char::from(digit).to_digit(16).ok_or(H1Error::Malformed("invalid chunk size"))?;
        Ok(size * 16 + u64::from(value))
    })
}

impl Body for H1Body {
    type Data = Bytes;
    type Error = H1Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, H1Error>>> {
        let this = self.get_mut();
        loop {
            if this.finished() {
                return Poll::Ready(None);
            }
            match this.next_data() {
                Ok(Some(data)) => return Poll::Ready(Some(Ok(Frame::data(data)))),
                Ok(None) if this.finished() => return Poll::Ready(None),
                Ok(None) => {}
                Err(error) => {
                    this.conn = None;
                    return Poll::Ready(Some(Err(error)));
                }
            }
            let Some(conn) = this.conn.as_mut() else { return Poll::Ready(None) };
            match ready!(conn.poll_fill(cx)) {
                Ok(0) if this.framing == Framing::UntilClose => {
                    this.framing = Framing::Length(0);
                    this.conn = None;
                    return Poll::Ready(None);
                }
                Ok(0) => {
                    this.conn = None;
                    return Poll::Ready(Some(Err(H1Error::Truncated)));
                }
                Ok(_) => {}
                Err(error) => {
                    this.conn = None;
                    return Poll::Ready(Some(Err(error.into())));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.finished()
    }

    fn size_hint(&self) -> SizeHint {
        match self.framing {
            Framing::Length(left) => SizeHint::with_exact(left),
            Framing::Chunked(_) | Framing::UntilClose => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_lengths_are_digits_only_and_fit() {
        assert_eq!(parse_decimal(b"0"), Some(0));
        assert_eq!(parse_decimal(b"1234"), Some(1234));
        for bad in [&b""[..], b"+5", b"-1", b"5x", b" 5", b"0x10", b"99999999999999999999"] {
            assert_eq!(parse_decimal(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn chunk_sizes_are_hex_with_optional_extensions() {
        assert_eq!(chunk_size(b"0").unwrap(), 0);
        assert_eq!(chunk_size(b"1aF").unwrap(), 0x1af);
        assert_eq!(chunk_size(b"10;name=value").unwrap(), 16);
        assert_eq!(chunk_size(b"10 ;name").unwrap(), 16);
        for bad in [&b""[..], b";ext", b"zz", b"-1", b"fffffffffffffffff"] {
            assert!(chunk_size(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn framing_lines_end_in_crlf_and_are_bounded() {
        let mut buf = BytesMut::from(&b"5\r\nhello"[..]);
        assert_eq!(take_line(&mut buf).unwrap().as_deref(), Some(&b"5"[..]));
        assert_eq!(&buf[..], b"hello");
        assert!(take_line(&mut BytesMut::from(&b"5\nhello"[..])).is_err());
        assert_eq!(take_line(&mut BytesMut::from(&b"5"[..])).unwrap(), None);
        assert!(take_line(&mut BytesMut::from(&vec![b'a'; MAX_LINE + 1][..])).is_err());
    }
}
