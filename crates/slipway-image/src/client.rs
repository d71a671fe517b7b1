//! One registry host spoken to over the distribution API v2: requests are
//! sent with whatever authorization was last granted for their scopes, and a
//! 401 runs the challenge flow (`auth.rs`) once before the request is retried.
//! A second refusal is [`ImageError::Unauthorized`]; nothing else is retried,
//! because a blind retry of an upload could push content twice.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::{RequestBuilder, Response, StatusCode};

use crate::auth::{self, Challenge};
use crate::config::Credentials;
use crate::error::ImageError;

/// Manifests and configs are small; anything larger is refused rather than buffered.
pub(crate) const MAX_DOCUMENT_BYTES: usize = 16 << 20;

#[derive(Debug, Default)]
struct Grants {
    /// Set once the registry asked for Basic auth: sent on every request from then on.
    basic: Option<String>,
    /// Bearer `Authorization` values by the scopes they were granted for.
    bearer: HashMap<String, String>,
}

#[derive(Debug)]
pub(crate) struct Registry {
    http: reqwest::Client,
    /// As written in image references, for messages.
    pub(crate) name: String,
    base_url: String,
    credentials: Option<Credentials>,
    grants: Mutex<Grants>,
}

/// What a request is for: the repository and access it needs, and how to name it in errors.
pub(crate) struct Call<'a> {
    pub repository: &'a str,
    pub scopes: Vec<String>,
    pub operation: String,
}

impl<'a> Call<'a> {
    pub(crate) fn pull(repository: &'a str, operation: String) -> Self {
        Self { repository, scopes: vec![format!("repository:{repository}:pull")], operation }
    }

    pub(crate) fn push(repository: &'a str, operation: String) -> Self {
        Self { repository, scopes: vec![format!("repository:{repository}:pull,push")], operation }
    }
}

impl Registry {
    pub(crate) fn new(
        name: &str,
        api_host: &str,
        scheme: &str,
        credentials: Option<Credentials>,
    ) -> Result<Self, ImageError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(120))
            .user_agent(concat!("slipway-image/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|source| ImageError::Unreachable { registry: name.to_owned(), url: String::new(), source })?;
        let base_url = format!("{scheme}://{api_host}");
        Ok(Self { http, name: name.to_owned(), base_url, credentials, grants: Mutex::default() })
    }

    /// An absolute URL for a path of the API (or for an upload `Location`, which may already be absolute).
    pub(crate) fn url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
            path_or_url.to_owned()
        } else {
            format!("{}{path_or_url}", self.base_url)
        }
    }

    /// Whether `url` is on the configured registry (same scheme, host and port).
    fn is_registry(&self, url: &reqwest::Url) -> bool {
        reqwest::Url::parse(&self.base_url).is_ok_and(|base| base.origin() == url.origin())
    }

    /// Sends the request `build` makes, authorizing as needed. 401 and 403 become
    /// [`ImageError::Unauthorized`]; every other status is the caller's to judge.
    pub(crate) async fn send(
        &self,
        call: &Call<'_>,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<Response, ImageError> {
        let key = call.scopes.join(" ");
        let granted = self.granted(&key);
        let response = self.execute(call, build(&self.http), granted.as_deref()).await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return self.refused(call, response, granted.is_some()).await;
        }
        let challenge = response.headers().get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let authorization = match challenge.as_deref().and_then(Challenge::parse) {
            Some(Challenge::Basic) => match &self.credentials {
                Some(credentials) => {
                    let header = auth::basic_header(credentials);
                    self.lock().basic = Some(header.clone());
                    header
                }
                None => return Err(self.unauthorized(call, 401, "the registry needs a login and none is configured")),
            },
            Some(Challenge::Bearer { realm, service, scope }) => {
                let mut scopes = call.scopes.clone();
                scopes.extend(scope.filter(|s| !call.scopes.contains(s)));
                let challenge = (realm.as_str(), service.as_deref());
                let token = auth::fetch_token(
                    &self.http,
                    &self.name,
                    call.repository,
                    challenge,
                    &scopes,
                    self.credentials.as_ref(),
                )
                .await?;
                self.lock().bearer.insert(key, token.clone());
                token
            }
            None => {
                let detail = format!("unsupported authentication challenge {:?}", challenge.unwrap_or_default());
                return Err(self.unauthorized(call, 401, &detail));
            }
        };
        let response = self.execute(call, build(&self.http), Some(&authorization)).await?;
        self.refused(call, response, true).await
    }

    async fn execute(
        &self,
        call: &Call<'_>,
        request: RequestBuilder,
        authorization: Option<&str>,
    ) -> Result<Response, ImageError> {
        let unreachable = |source: reqwest::Error| ImageError::Unreachable {
            registry: self.name.clone(),
            url: source.url().map(ToString::to_string).unwrap_or_else(|| call.operation.clone()),
            source,
        };
        let mut request = request.build().map_err(unreachable)?;
        // Credentials go to the configured registry only: an upload `Location` may name another
        // host (storage behind the registry), which must not see them.
        if let Some(value) = authorization.filter(|_| self.is_registry(request.url())) {
            if let Ok(value) = reqwest::header::HeaderValue::from_str(value) {
                request.headers_mut().insert(AUTHORIZATION, value);
            }
        }
        self.http.execute(request).await.map_err(unreachable)
    }

    async fn refused(&self, call: &Call<'_>, response: Response, authorized: bool) -> Result<Response, ImageError> {
        let status = response.status();
        if status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN {
            return Ok(response);
        }
        let body = response.text().await.unwrap_or_default();
        let who = if authorized { "the configured login" } else { "anonymous access" };
        let detail = format!("{who} was refused: {}", body.chars().take(300).collect::<String>().trim());
        Err(self.unauthorized(call, status.as_u16(), &detail))
    }

    fn unauthorized(&self, call: &Call<'_>, status: u16, detail: &str) -> ImageError {
        ImageError::Unauthorized {
            registry: self.name.clone(),
            repository: call.repository.to_owned(),
            status,
            detail: detail.to_owned(),
        }
    }

    /// The error for a status the caller did not expect, with the registry's own words.
    pub(crate) async fn unexpected(&self, call: &Call<'_>, response: Response) -> ImageError {
        let status = response.status().as_u16();
        let detail = response.text().await.unwrap_or_default().chars().take(500).collect::<String>();
        ImageError::Registry { registry: self.name.clone(), operation: call.operation.clone(), status, detail }
    }

    fn granted(&self, key: &str) -> Option<String> {
        let grants = self.lock();
        grants.bearer.get(key).or(grants.basic.as_ref()).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Grants> {
        // A panic while holding this lock cannot leave the map inconsistent
        // (single inserts), so a poisoned lock is still safe to use.
        self.grants.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Reads a response body of at most [`MAX_DOCUMENT_BYTES`].
pub(crate) async fn read_document(
    registry: &Registry,
    call: &Call<'_>,
    response: Response,
) -> Result<Vec<u8>, ImageError> {
    let too_large = || ImageError::Registry {
        registry: registry.name.clone(),
        operation: call.operation.clone(),
        status: 200,
        detail: format!("the document is larger than {MAX_DOCUMENT_BYTES} bytes"),
    };
    if response.content_length().is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64) {
        return Err(too_large());
    }
    let bytes = response.bytes().await.map_err(|source| ImageError::Unreachable {
        registry: registry.name.clone(),
        url: call.operation.clone(),
        source,
    })?;
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(too_large());
    }
    Ok(bytes.to_vec())
}
