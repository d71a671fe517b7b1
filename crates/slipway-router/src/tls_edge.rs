//! What the plain-HTTP listener answers itself, before routing: ACME HTTP-01 challenges and
//! redirects to HTTPS for hosts that ask for them.

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HOST, LOCATION};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;

use crate::acme::{Challenges, CHALLENGE_PREFIX};
use crate::headers::normalize_host;
use crate::tls::CertStore;

pub(crate) struct Edge {
    pub(crate) certs: CertStore,
    pub(crate) challenges: Challenges,
}

impl Edge {
    /// The router's own answer to `request`, or `None` to route it to an app.
    pub(crate) fn answer<B>(&self, request: &Request<B>) -> Option<Response<Full<Bytes>>> {
        let path = request.uri().path();
        if let Some(token) = path.strip_prefix(CHALLENGE_PREFIX) {
            if matches!(*request.method(), Method::GET | Method::HEAD) {
                if let Some(key_authorization) = self.challenges.get(token) {
                    tracing::debug!(token, "answering an ACME HTTP-01 challenge");
                    return Some(challenge_response(key_authorization));
                }
            }
            // Not ours: the app may run its own ACME client; never redirect these.
            return None;
        }
        if !self.certs.any_https_redirect() {
            return None;
        }
        let host = match request.uri().authority() {
            Some(authority) => authority.as_str(),
            None => request.headers().get(HOST)?.to_str().ok()?,
        };
        let host = normalize_host(host);
        if host.is_empty() || !self.certs.redirects_to_https(&host) {
            return None;
        }
        let path_and_query = request.uri().path_and_query().map_or("/", |path| path.as_str());
        let location = HeaderValue::from_str(&format!("https://{host}{path_and_query}")).ok()?;
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::PERMANENT_REDIRECT;
        response.headers_mut().insert(LOCATION, location);
        Some(response)
    }
}

fn challenge_response(key_authorization: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(key_authorization)));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge() -> Edge {
        Edge { certs: CertStore::default(), challenges: Challenges::default() }
    }

    fn get(uri: &str, host: &str) -> Request<()> {
        Request::get(uri).header(HOST, host).body(()).expect("request")
    }

    #[test]
    fn answers_pending_challenges_only() {
        let edge = edge();
        edge.challenges.insert("abc", "abc.thumb");
        let response = edge.answer(&get("/.well-known/acme-challenge/abc", "app.test")).expect("answered");
        assert_eq!(response.status(), StatusCode::OK);
        assert!(edge.answer(&get("/.well-known/acme-challenge/other", "app.test")).is_none());
        assert!(edge.answer(&get("/", "app.test")).is_none());
    }

    #[test]
    fn redirects_flagged_hosts_but_not_challenges() {
        let edge = edge();
        edge.certs.set_https_redirect("shop.example", true);
        let response = edge.answer(&get("/a/b?c=d", "Shop.Example:80")).expect("redirect");
        assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(response.headers()[LOCATION], "https://shop.example/a/b?c=d");
        assert!(edge.answer(&get("/.well-known/acme-challenge/x", "shop.example")).is_none());
        assert!(edge.answer(&get("/", "blog.example")).is_none());
    }
}
