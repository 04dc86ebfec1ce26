//! The HTTP side of the REST client ([`HttpClient`], with reqwest); its endpoints are in
//! [`super::rest`].
//!
//! Request life: wait out an exhausted primary budget (bounded), take a concurrency
//! permit, send, record `x-ratelimit-*`, classify the status. Transient failures (5xx,
//! connection errors, secondary limits, a primary limit whose reset is near) are retried
//! up to [`MAX_ATTEMPTS`] times with backoff; everything else maps to a typed error.
//! A streamed body holds its permit until it is dropped, so concurrency stays bounded
//! for downloads too.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue, IF_NONE_MATCH};
use serde::de::DeserializeOwned;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::app::{Credentials, owner_of_path};
use super::client::{ByteStream, CachedResponse, RequestCounts, ResponseCache};
use super::error::RemoteError;
use super::ratelimit::{
    CORE, Governor, MAX_ATTEMPTS, SECONDARY_LIMIT_MIN_WAIT, backoff_delay, retry_after,
};
use super::types::wire;
use crate::clock::epoch_secs;
use crate::config::{Settings, Token};
use crate::flight::SingleFlight;
use crate::logging::error_chain;

pub(super) const ACCEPT_JSON: &str = "application/vnd.github+json";
/// The REST API version this client was written against.
const API_VERSION: &str = "2022-11-28";
/// Largest ordinary JSON body (a page of 100 repositories is ~600 KB).
pub(super) const MAX_JSON_BYTES: usize = 32 << 20;
/// Largest error body we read for its message.
const MAX_ERROR_BYTES: usize = 64 << 10;
/// Connecting must not take longer than this.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    not_modified: AtomicU64,
    retries: AtomicU64,
    unreachable: std::sync::atomic::AtomicBool,
}

pub(super) struct RequestSpec {
    url: String,
    accept: &'static str,
    pub(super) if_none_match: Option<String>,
    /// `GET /path` for messages: no host, no query, no headers.
    pub(super) what: String,
}

/// One JSON page: its body and the next page's URL.
#[derive(Clone)]
pub(super) struct Page {
    pub(super) body: Bytes,
    pub(super) next: Option<String>,
    etag: Option<String>,
    pub(super) not_modified: bool,
}

enum Attempt {
    Done(reqwest::Response, OwnedSemaphorePermit),
    Retry(Duration, RemoteError),
    Fail(RemoteError),
}

/// The GitHub REST client.
#[derive(Clone)]
pub struct HttpClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    /// API base without a trailing slash.
    base: String,
    origin: url::Origin,
    credentials: Credentials,
    permits: Arc<Semaphore>,
    governor: Governor,
    cache: Option<Arc<dyn ResponseCache>>,
    flights: SingleFlight<String, Result<Page, RemoteError>>,
    no_delay: bool,
    max_rate_limit_wait: Duration,
    counters: Counters,
    concurrency: usize,
}

impl HttpClient {
    pub fn new(
        settings: &Settings,
        cache: Option<Arc<dyn ResponseCache>>,
    ) -> Result<Self, RemoteError> {
        Self::with_credentials(settings, cache, Credentials::from_settings(settings)?)
    }

    /// With `credentials` shared with another client (the git endpoint's): one App's
    /// installation tokens serve both.
    pub fn with_credentials(
        settings: &Settings,
        cache: Option<Arc<dyn ResponseCache>>,
        credentials: Credentials,
    ) -> Result<Self, RemoteError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("heimdall/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(settings.read_timeout)
            .pool_max_idle_per_host(settings.concurrency)
            .build()
            .map_err(|e| RemoteError::Network {
                what: "building the HTTP client".into(),
                message: error_chain(&e),
                attempts: 0,
            })?;
        let base = settings.api_url.as_str().trim_end_matches('/').to_string();
        Ok(HttpClient {
            inner: Arc::new(Inner {
                http,
                origin: settings.api_url.origin(),
                base,
                credentials,
                permits: Arc::new(Semaphore::new(settings.concurrency.max(1))),
                governor: Governor::default(),
                cache,
                flights: SingleFlight::default(),
                no_delay: settings.no_retry_delay,
                max_rate_limit_wait: settings.max_rate_limit_wait,
                counters: Counters::default(),
                concurrency: settings.concurrency.max(1),
            }),
        })
    }
}

fn network(what: &str, error: &reqwest::Error) -> RemoteError {
    let error = error_chain(&ReqwestNoUrl(error));
    RemoteError::Network {
        what: what.to_string(),
        message: error,
        attempts: 1,
    }
}

/// reqwest's Display names the URL; our messages name the request already.
struct ReqwestNoUrl<'a>(&'a reqwest::Error);

impl std::fmt::Debug for ReqwestNoUrl<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl std::fmt::Display for ReqwestNoUrl<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let e = self.0;
        let kind = if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "cannot connect"
        } else if e.is_body() || e.is_decode() {
            "the response body broke off"
        } else if e.is_redirect() {
            "too many redirects"
        } else {
            "request failed"
        };
        f.write_str(kind)
    }
}

impl std::error::Error for ReqwestNoUrl<'_> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(self.0)
    }
}

/// Finds `<url>; rel="next"` in a `Link` header.
pub(crate) fn next_link(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(reqwest::header::LINK)?.to_str().ok()?;
    for part in value.split(',') {
        let mut pieces = part.split(';');
        let target = pieces.next()?.trim();
        let is_next = pieces.any(|p| {
            let p = p.trim();
            p == "rel=\"next\"" || p == "rel=next"
        });
        if is_next {
            return target
                .strip_prefix('<')
                .and_then(|t| t.strip_suffix('>'))
                .map(str::to_string);
        }
    }
    None
}

async fn read_bounded(
    mut response: reqwest::Response,
    max: usize,
    what: &str,
) -> Result<Bytes, RemoteError> {
    let too_big = || RemoteError::Corrupt {
        what: what.to_string(),
        why: format!("the response is larger than {max} bytes"),
    };
    if response
        .content_length()
        .is_some_and(|len| len > max as u64)
    {
        return Err(too_big());
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| network(what, &e))? {
        if body.len() + chunk.len() > max {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

pub(super) fn parse_json<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, RemoteError> {
    serde_json::from_slice(body).map_err(|e| RemoteError::Corrupt {
        what: what.to_string(),
        why: format!("unexpected JSON: {e}"),
    })
}

impl Inner {
    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn spec(&self, path: &str, accept: &'static str) -> RequestSpec {
        let what_path = path.split('?').next().unwrap_or(path);
        RequestSpec {
            url: self.url(path),
            accept,
            if_none_match: None,
            what: format!("GET {what_path}"),
        }
    }

    fn build(&self, spec: &RequestSpec, token: Option<&Token>) -> reqwest::Request {
        let mut request = self.http.get(&spec.url).header(ACCEPT, spec.accept);
        request = request.header("x-github-api-version", API_VERSION);
        if let Some(token) = token
            && let Ok(mut value) = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
        {
            value.set_sensitive(true);
            request = request.header(AUTHORIZATION, value);
        }
        if let Some(etag) = &spec.if_none_match
            && let Ok(value) = HeaderValue::from_str(etag)
        {
            request = request.header(IF_NONE_MATCH, value);
        }
        request
            .build()
            .expect("a GET with valid headers always builds")
    }

    async fn attempt(&self, spec: &RequestSpec, attempt: u32) -> Attempt {
        if let Some((wait, reset)) = self.governor.wait_before_request(CORE) {
            if wait > self.max_rate_limit_wait {
                return Attempt::Fail(RemoteError::RateLimited {
                    what: spec.what.clone(),
                    resource: CORE.into(),
                    reset,
                });
            }
            tracing::warn!(
                wait_secs = wait.as_secs(),
                "rate limit exhausted; waiting for the reset"
            );
            tokio::time::sleep(wait).await;
            self.governor.mark_reset(CORE);
        }
        let owner = owner_of_path(spec.url.strip_prefix(&self.base).unwrap_or(""));
        let token = match self.credentials.token(owner).await {
            Ok(token) => token,
            Err(e) if e.is_transient() => {
                return Attempt::Retry(backoff_delay(attempt, self.no_delay), e);
            }
            Err(e) => return Attempt::Fail(e),
        };
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        self.counters.sent.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(request = %spec.what, attempt, "sending");
        let response = match self.http.execute(self.build(spec, token.as_ref())).await {
            Ok(response) => {
                self.counters.unreachable.store(false, Ordering::Relaxed);
                response
            }
            Err(e) => {
                self.counters.unreachable.store(true, Ordering::Relaxed);
                return Attempt::Retry(
                    backoff_delay(attempt, self.no_delay),
                    network(&spec.what, &e),
                );
            }
        };
        let limit = self.governor.observe(response.headers());
        let status = response.status();
        if status.is_success() || status == StatusCode::NOT_MODIFIED {
            return Attempt::Done(response, permit);
        }
        drop(permit);
        let what = spec.what.clone();
        match status.as_u16() {
            401 => {
                // An App's token rejected before its time (revoked, clock skew): forgotten,
                // and the request tried once more with a new one.
                let app = matches!(self.credentials, Credentials::App(_));
                if let Some(token) = &token {
                    self.credentials.rejected(token);
                }
                if app && attempt == 0 {
                    Attempt::Retry(Duration::ZERO, RemoteError::BadCredentials { what })
                } else {
                    Attempt::Fail(RemoteError::BadCredentials { what })
                }
            }
            404 => Attempt::Fail(RemoteError::NotFound { what }),
            409 => Attempt::Fail(RemoteError::EmptyRepo { what }),
            451 => Attempt::Fail(RemoteError::Blocked { what }),
            403 | 429 => {
                let headers = response.headers().clone();
                let message = error_message(response, &what).await;
                if let Some(limit) = limit.filter(|l| l.remaining == 0) {
                    // Primary limit: the next attempt waits for the reset (bounded).
                    let error = RemoteError::RateLimited {
                        what,
                        resource: limit.resource,
                        reset: limit.reset,
                    };
                    return Attempt::Retry(Duration::ZERO, error);
                }
                let secondary = retry_after(&headers).or_else(|| {
                    let m = message.to_ascii_lowercase();
                    (m.contains("secondary rate limit") || status == StatusCode::TOO_MANY_REQUESTS)
                        .then_some(SECONDARY_LIMIT_MIN_WAIT.max(backoff_delay(attempt, false)))
                });
                match secondary {
                    Some(wait) => {
                        let error = RemoteError::RateLimited {
                            what: what.clone(),
                            resource: "secondary".into(),
                            reset: epoch_secs() + wait.as_secs(),
                        };
                        // A `retry-after` past the longest wait fails now, like a primary
                        // limit whose reset is too far: no caller (a FUSE read) waits longer.
                        if wait > self.max_rate_limit_wait {
                            return Attempt::Fail(error);
                        }
                        let wait = if self.no_delay { Duration::ZERO } else { wait };
                        tracing::warn!(request = %what, wait_secs = wait.as_secs(), "secondary rate limit; backing off");
                        Attempt::Retry(wait, error)
                    }
                    None => Attempt::Fail(RemoteError::Forbidden { what, message }),
                }
            }
            code @ 500..=599 => Attempt::Retry(
                backoff_delay(attempt, self.no_delay),
                RemoteError::Server {
                    what,
                    status: code,
                    attempts: attempt + 1,
                },
            ),
            code => {
                let message = error_message(response, &what).await;
                Attempt::Fail(RemoteError::Unexpected {
                    what,
                    status: code,
                    message,
                })
            }
        }
    }

    /// Sends with retries; the response is a success or a 304.
    async fn execute(
        &self,
        spec: &RequestSpec,
    ) -> Result<(reqwest::Response, OwnedSemaphorePermit), RemoteError> {
        let mut attempt = 0;
        let mut primary_waits = 0;
        loop {
            match self.attempt(spec, attempt).await {
                Attempt::Done(response, permit) => return Ok((response, permit)),
                Attempt::Fail(error) => return Err(error),
                // An exhausted primary limit is not a failure of the request: the next
                // attempt waits for the reset (bounded by the longest wait allowed), and
                // only the number of such waits is bounded.
                Attempt::Retry(delay, error @ RemoteError::RateLimited { .. })
                    if is_primary_limit(&error) =>
                {
                    primary_waits += 1;
                    if primary_waits > MAX_PRIMARY_LIMIT_WAITS {
                        return Err(error);
                    }
                    tokio::time::sleep(delay).await;
                }
                Attempt::Retry(delay, error) => {
                    attempt += 1;
                    if attempt >= MAX_ATTEMPTS {
                        return Err(with_attempts(error, attempt));
                    }
                    self.counters.retries.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(request = %spec.what, %error, delay_ms = delay.as_millis() as u64, "retrying");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// A whole (bounded) body, retrying when the body breaks off mid-way.
    async fn fetch(&self, spec: &RequestSpec, max: usize) -> Result<Page, RemoteError> {
        let mut attempt = 0;
        loop {
            let (response, _permit) = self.execute(spec).await?;
            let headers = response.headers().clone();
            let etag = headers
                .get(reqwest::header::ETAG)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            if response.status() == StatusCode::NOT_MODIFIED {
                self.counters.not_modified.fetch_add(1, Ordering::Relaxed);
                return Ok(Page {
                    body: Bytes::new(),
                    next: None,
                    etag,
                    not_modified: true,
                });
            }
            match read_bounded(response, max, &spec.what).await {
                Ok(body) => {
                    return Ok(Page {
                        body,
                        next: next_link(&headers),
                        etag,
                        not_modified: false,
                    });
                }
                Err(error @ RemoteError::Network { .. }) if attempt + 1 < MAX_ATTEMPTS => {
                    attempt += 1;
                    self.counters.retries.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(request = %spec.what, %error, "body broke off; retrying");
                    tokio::time::sleep(backoff_delay(attempt, self.no_delay)).await;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// A JSON page revalidated against the response cache (ETag, 304 = cached body).
    async fn fetch_revalidated(&self, mut spec: RequestSpec) -> Result<Page, RemoteError> {
        let key = format!("{} {}", spec.accept, spec.url);
        let cached = self.cache.as_ref().and_then(|c| c.get(&key));
        spec.if_none_match = cached.as_ref().map(|c| c.etag.clone());
        let page = self.fetch(&spec, MAX_JSON_BYTES).await?;
        if page.not_modified {
            let Some(cached) = cached else {
                return Err(RemoteError::Unexpected {
                    what: spec.what,
                    status: 304,
                    message: "not modified, but nothing was cached".into(),
                });
            };
            return Ok(Page {
                body: cached.body,
                next: cached.next,
                etag: Some(cached.etag),
                not_modified: true,
            });
        }
        if let (Some(cache), Some(etag)) = (&self.cache, &page.etag) {
            cache.put(
                &key,
                &CachedResponse {
                    etag: etag.clone(),
                    next: page.next.clone(),
                    body: page.body.clone(),
                },
            );
        }
        Ok(page)
    }

    /// A next-page URL must stay on the API's origin: the token goes with it.
    fn check_origin(&self, url: &str, what: &str) -> Result<(), RemoteError> {
        match url::Url::parse(url) {
            Ok(parsed) if parsed.origin() == self.origin => Ok(()),
            _ => Err(RemoteError::Corrupt {
                what: what.to_string(),
                why: "a pagination link points away from the API host".into(),
            }),
        }
    }

    async fn stream(&self, spec: RequestSpec) -> Result<ByteStream, RemoteError> {
        let (response, permit) = self.execute(&spec).await?;
        let what = spec.what;
        let stream = response.bytes_stream().map(move |chunk| {
            // The permit lives as long as the stream: downloads count toward concurrency.
            let _held = &permit;
            chunk.map_err(|e| network(&what, &e))
        });
        Ok(Box::pin(stream))
    }
}

/// Primary rate-limit waits one request may go through (each up to the reset): a window
/// that fills up again before this request gets its turn is waited out again.
const MAX_PRIMARY_LIMIT_WAITS: u32 = 10;

fn is_primary_limit(error: &RemoteError) -> bool {
    matches!(error, RemoteError::RateLimited { resource, .. } if resource != "secondary")
}

fn with_attempts(error: RemoteError, attempts: u32) -> RemoteError {
    match error {
        RemoteError::Server { what, status, .. } => RemoteError::Server {
            what,
            status,
            attempts,
        },
        RemoteError::Network { what, message, .. } => RemoteError::Network {
            what,
            message,
            attempts,
        },
        other => other,
    }
}

async fn error_message(response: reqwest::Response, what: &str) -> String {
    match read_bounded(response, MAX_ERROR_BYTES, what).await {
        Ok(body) => serde_json::from_slice::<wire::ErrorBody>(&body)
            .ok()
            .and_then(|b| b.message)
            .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(200).collect()),
        Err(_) => String::new(),
    }
}

impl HttpClient {
    /// A coalesced, revalidated JSON GET.
    pub(super) async fn get_revalidated(&self, path_or_url: String) -> Result<Page, RemoteError> {
        let inner = Arc::clone(&self.inner);
        let key = format!("rev {path_or_url}");
        self.inner
            .flights
            .run(key, move || async move {
                let mut spec = inner.spec("", ACCEPT_JSON);
                if path_or_url.starts_with("http") {
                    let what_path = url::Url::parse(&path_or_url)
                        .map(|u| u.path().to_string())
                        .unwrap_or_default();
                    spec.what = format!("GET {what_path}");
                    inner.check_origin(&path_or_url, &spec.what)?;
                    spec.url = path_or_url;
                } else {
                    spec = inner.spec(&path_or_url, ACCEPT_JSON);
                }
                inner.fetch_revalidated(spec).await
            })
            .await
    }

    /// A coalesced JSON GET of something immutable (addressed by SHA).
    pub(super) async fn get_immutable(
        &self,
        path: String,
        max: usize,
    ) -> Result<Page, RemoteError> {
        let inner = Arc::clone(&self.inner);
        let key = format!("imm {path}");
        self.inner
            .flights
            .run(key, move || async move {
                let spec = inner.spec(&path, ACCEPT_JSON);
                inner.fetch(&spec, max).await
            })
            .await
    }
}

/// What the endpoints ([`super::rest`]) use of the request machinery.
impl HttpClient {
    pub(super) fn spec(&self, path: &str, accept: &'static str) -> RequestSpec {
        self.inner.spec(path, accept)
    }

    /// A whole (bounded) body, not revalidated and not coalesced.
    pub(super) async fn fetch(&self, spec: &RequestSpec, max: usize) -> Result<Page, RemoteError> {
        self.inner.fetch(spec, max).await
    }

    /// A streamed body that holds a concurrency permit until dropped.
    pub(super) async fn stream(&self, spec: RequestSpec) -> Result<ByteStream, RemoteError> {
        self.inner.stream(spec).await
    }

    /// Requests at once to GitHub, for fan-outs that should not queue beyond it.
    pub(super) fn concurrency(&self) -> usize {
        self.inner.concurrency
    }

    pub(super) fn governor(&self) -> &Governor {
        &self.inner.governor
    }

    pub(super) fn request_counts(&self) -> RequestCounts {
        let c = &self.inner.counters;
        RequestCounts {
            sent: c.sent.load(Ordering::Relaxed),
            not_modified: c.not_modified.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            unreachable: c.unreachable.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header_next() {
        let mut headers = HeaderMap::new();
        headers.insert(
            reqwest::header::LINK,
            HeaderValue::from_static(
                "<https://api.github.com/organizations/1/repos?per_page=100&page=2>; rel=\"next\", <https://api.github.com/organizations/1/repos?per_page=100&page=5>; rel=\"last\"",
            ),
        );
        assert_eq!(
            next_link(&headers).unwrap(),
            "https://api.github.com/organizations/1/repos?per_page=100&page=2"
        );
        headers.insert(
            reqwest::header::LINK,
            HeaderValue::from_static(
                "<https://x/?page=1>; rel=\"prev\", <https://x/?page=1>; rel=\"first\"",
            ),
        );
        assert_eq!(next_link(&headers), None);
    }
}
