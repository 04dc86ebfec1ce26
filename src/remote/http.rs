//! The [`GitHubClient`] over GitHub's REST API with reqwest.
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

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue, IF_NONE_MATCH};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::ratelimit::{
    CORE, Governor, MAX_ATTEMPTS, SECONDARY_LIMIT_MIN_WAIT, backoff_delay, retry_after,
};
use super::tree::split_listing;
use super::types::wire;
use super::{
    ByteStream, CachedResponse, CommitInfo, GitHubClient, Owner, RateLimit, RefPoll, RemoteError,
    RepoInfo, ResponseCache, Tree,
};
use crate::clock::epoch_secs;
use crate::config::{Settings, Token};
use crate::flight::SingleFlight;
use crate::logging::error_chain;
use crate::oid::Sha;

const ACCEPT_JSON: &str = "application/vnd.github+json";
const ACCEPT_RAW: &str = "application/vnd.github.raw+json";
const ACCEPT_SHA: &str = "application/vnd.github.sha";
/// The REST API version this client was written against.
const API_VERSION: &str = "2022-11-28";
/// GitHub's largest page.
const PER_PAGE: u32 = 100;
/// Pages followed for one listing: 100,000 repositories.
const MAX_PAGES: usize = 1000;
/// Largest ordinary JSON body (a page of 100 repositories is ~600 KB).
const MAX_JSON_BYTES: usize = 32 << 20;
/// Largest tree listing: GitHub truncates at 100,000 entries (~25 MB of JSON).
const MAX_TREE_JSON_BYTES: usize = 128 << 20;
/// Largest error body we read for its message.
const MAX_ERROR_BYTES: usize = 64 << 10;
/// Connecting must not take longer than this.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Characters escaped in one path segment (owner, repo, ref): everything that could
/// change the path's meaning.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'\\');

fn seg(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT).to_string()
}

/// Requests sent by one client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RequestCounts {
    /// Requests sent, including retries and revalidations.
    pub sent: u64,
    /// Revalidations answered 304 (free on GitHub).
    pub not_modified: u64,
    /// Attempts that were retries.
    pub retries: u64,
    /// The last attempt got no answer at all (GitHub unreachable, or a timeout): the
    /// mount serves what it has and says so in `/.status`.
    pub unreachable: bool,
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    not_modified: AtomicU64,
    retries: AtomicU64,
    unreachable: std::sync::atomic::AtomicBool,
}

struct RequestSpec {
    url: String,
    accept: &'static str,
    if_none_match: Option<String>,
    /// `GET /path` for messages: no host, no query, no headers.
    what: String,
}

/// One JSON page: its body and the next page's URL.
#[derive(Clone)]
struct Page {
    body: Bytes,
    next: Option<String>,
    etag: Option<String>,
    not_modified: bool,
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
    token: Option<Token>,
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
                token: settings.token.clone(),
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

/// Parses GitHub's `2011-04-14T16:00:49Z` (and offsets such as `+02:00`) to epoch seconds.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.len() < 19 {
        return None;
    }
    let (civil, zone) = text.split_at(19);
    let base = humantime::parse_rfc3339_weak(civil).ok()?;
    let base = base.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs() as i64;
    let zone = zone.trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    let offset = match zone {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = match zone.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (h, m) = zone[1..].split_once(':')?;
            sign * (h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60)
        }
    };
    Some(base - offset)
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

fn parse_json<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, RemoteError> {
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

    fn build(&self, spec: &RequestSpec) -> reqwest::Request {
        let mut request = self.http.get(&spec.url).header(ACCEPT, spec.accept);
        request = request.header("x-github-api-version", API_VERSION);
        if let Some(token) = &self.token
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
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        self.counters.sent.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(request = %spec.what, attempt, "sending");
        let response = match self.http.execute(self.build(spec)).await {
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
            401 => Attempt::Fail(RemoteError::BadCredentials { what }),
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
    async fn get_revalidated(&self, path_or_url: String) -> Result<Page, RemoteError> {
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
    async fn get_immutable(&self, path: String, max: usize) -> Result<Page, RemoteError> {
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

    async fn tree_listing(
        &self,
        owner: &str,
        repo: &str,
        sha: Sha,
        recursive: bool,
    ) -> Result<(Vec<Tree>, bool), RemoteError> {
        let (root, trees, truncated) = self.tree_listing_of(owner, repo, sha, recursive).await?;
        if root != sha {
            return Err(RemoteError::Corrupt {
                what: format!("GET /repos/{owner}/{repo}/git/trees/{sha}"),
                why: format!("asked for tree {sha}, got {root}"),
            });
        }
        Ok((trees, truncated))
    }

    /// The listing of `tree_ish` (a tree, or a commit whose tree GitHub peels): the root
    /// tree's SHA as GitHub names it, the trees, and whether GitHub truncated them.
    async fn tree_listing_of(
        &self,
        owner: &str,
        repo: &str,
        tree_ish: Sha,
        recursive: bool,
    ) -> Result<(Sha, Vec<Tree>, bool), RemoteError> {
        let mut path = format!("/repos/{}/{}/git/trees/{}", seg(owner), seg(repo), tree_ish);
        if recursive {
            path.push_str("?recursive=1");
        }
        let page = self
            .get_immutable(path.clone(), MAX_TREE_JSON_BYTES)
            .await?;
        let what = format!("GET {}", path.split('?').next().unwrap_or(&path));
        let response: wire::TreeResponse = parse_json(&page.body, &what)?;
        let sha = Sha::parse(&response.sha).map_err(|_| RemoteError::Corrupt {
            what: what.clone(),
            why: format!("`{}` is not a tree SHA", response.sha),
        })?;
        let split = split_listing(sha, &response, recursive);
        let mut trees = split.trees;
        // Root first, for callers that want it.
        if let Some(pos) = trees.iter().position(|t| t.sha == sha) {
            trees.swap(0, pos);
        }
        Ok((sha, trees, response.truncated))
    }

    fn complete_trees<'a>(
        &'a self,
        owner: &'a str,
        repo: &'a str,
        sha: Sha,
    ) -> futures_util::future::BoxFuture<'a, Result<Vec<Tree>, RemoteError>> {
        Box::pin(async move {
            let (trees, truncated) = self.tree_listing(owner, repo, sha, true).await?;
            if !truncated {
                return Ok(trees);
            }
            self.expand_truncated(owner, repo, sha).await
        })
    }

    /// The trees of `sha` whose recursive listing GitHub truncated: its own entries, then
    /// each subtree's trees ([`HttpClient::complete_trees`]).
    async fn expand_truncated(
        &self,
        owner: &str,
        repo: &str,
        sha: Sha,
    ) -> Result<Vec<Tree>, RemoteError> {
        tracing::info!(owner, repo, tree = %sha, "tree listing truncated; fetching subtrees one by one");
        let root = self.tree(owner, repo, sha).await?;
        let children: Vec<Sha> = root
            .entries
            .iter()
            .filter(|e| e.mode == super::Mode::Tree)
            .map(|e| e.sha)
            .collect();
        let mut all = vec![root];
        let mut results = futures_util::stream::iter(children)
            .map(|child| self.complete_trees(owner, repo, child))
            .buffer_unordered(self.inner.concurrency);
        while let Some(result) = results.next().await {
            all.extend(result?);
        }
        Ok(all)
    }
}

#[async_trait]
impl GitHubClient for HttpClient {
    async fn owner(&self, login: &str) -> Result<Owner, RemoteError> {
        let path = format!("/users/{}", seg(login));
        let page = self.get_revalidated(path.clone()).await?;
        parse_json(&page.body, &format!("GET {path}"))
    }

    async fn list_repos(&self, owner: &Owner) -> Result<Vec<RepoInfo>, RemoteError> {
        let first = if owner.kind.eq_ignore_ascii_case("user") {
            format!(
                "/users/{}/repos?per_page={PER_PAGE}&type=owner",
                seg(&owner.login)
            )
        } else {
            format!(
                "/orgs/{}/repos?per_page={PER_PAGE}&type=all",
                seg(&owner.login)
            )
        };
        let mut repos = Vec::new();
        let mut next = Some(first);
        let mut pages = 0;
        while let Some(target) = next.take() {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(RemoteError::Corrupt {
                    what: format!("GET /orgs/{}/repos", owner.login),
                    why: format!("more than {MAX_PAGES} pages"),
                });
            }
            let page = self.get_revalidated(target).await?;
            let batch: Vec<RepoInfo> =
                parse_json(&page.body, &format!("GET repos of {}", owner.login))?;
            repos.extend(batch);
            next = page.next;
        }
        Ok(repos)
    }

    async fn repo(&self, owner: &str, repo: &str) -> Result<RepoInfo, RemoteError> {
        let path = format!("/repos/{}/{}", seg(owner), seg(repo));
        let page = self.get_revalidated(path.clone()).await?;
        parse_json(&page.body, &format!("GET {path}"))
    }

    async fn poll_ref(
        &self,
        owner: &str,
        repo: &str,
        reference: &str,
        known: Option<Sha>,
    ) -> Result<RefPoll, RemoteError> {
        let path = format!(
            "/repos/{}/{}/commits/{}",
            seg(owner),
            seg(repo),
            seg(reference)
        );
        let mut spec = self.inner.spec(&path, ACCEPT_SHA);
        spec.if_none_match = known.map(|sha| format!("\"{sha}\""));
        let page = match self.inner.fetch(&spec, 1024).await {
            Ok(page) => page,
            // GitHub answers 422 "No commit found for SHA" for an unknown ref.
            Err(RemoteError::Unexpected {
                what, status: 422, ..
            }) => return Err(RemoteError::NotFound { what }),
            Err(e) => return Err(e),
        };
        if page.not_modified {
            return if known.is_some() {
                Ok(RefPoll::Unchanged)
            } else {
                Err(RemoteError::Unexpected {
                    what: spec.what,
                    status: 304,
                    message: "not modified without a known commit".into(),
                })
            };
        }
        let text = String::from_utf8_lossy(&page.body);
        let sha = Sha::parse(text.trim()).map_err(|e| RemoteError::Corrupt {
            what: spec.what,
            why: e.to_string(),
        })?;
        Ok(if Some(sha) == known {
            RefPoll::Unchanged
        } else {
            RefPoll::Moved(sha)
        })
    }

    async fn commit(&self, owner: &str, repo: &str, sha: Sha) -> Result<CommitInfo, RemoteError> {
        let path = format!("/repos/{}/{}/git/commits/{}", seg(owner), seg(repo), sha);
        let page = self.get_immutable(path.clone(), MAX_JSON_BYTES).await?;
        let what = format!("GET {path}");
        let commit: wire::GitCommit = parse_json(&page.body, &what)?;
        let corrupt = |why: String| RemoteError::Corrupt {
            what: what.clone(),
            why,
        };
        if Sha::parse(&commit.sha).ok() != Some(sha) {
            return Err(corrupt(format!(
                "asked for commit {sha}, got {}",
                commit.sha
            )));
        }
        let tree = Sha::parse(&commit.tree.sha).map_err(|e| corrupt(e.to_string()))?;
        let date = commit
            .committer
            .as_ref()
            .or(commit.author.as_ref())
            .and_then(|s| s.date.as_deref());
        let time = date.and_then(parse_timestamp).unwrap_or(0);
        Ok(CommitInfo { sha, tree, time })
    }

    async fn trees(&self, owner: &str, repo: &str, sha: Sha) -> Result<Vec<Tree>, RemoteError> {
        self.complete_trees(owner, repo, sha).await
    }

    async fn commit_trees(
        &self,
        owner: &str,
        repo: &str,
        commit: Sha,
    ) -> Result<(Sha, Vec<Tree>), RemoteError> {
        let (root, trees, truncated) = self.tree_listing_of(owner, repo, commit, true).await?;
        if truncated {
            // The recursive listing was just refused whole: go straight to the subtrees.
            return Ok((root, self.expand_truncated(owner, repo, root).await?));
        }
        Ok((root, trees))
    }

    async fn tree(&self, owner: &str, repo: &str, sha: Sha) -> Result<Tree, RemoteError> {
        let (mut trees, _) = self.tree_listing(owner, repo, sha, false).await?;
        let root = trees
            .iter()
            .position(|t| t.sha == sha)
            .ok_or_else(|| RemoteError::Corrupt {
                what: format!("GET /repos/{owner}/{repo}/git/trees/{sha}"),
                why: "the listing lacks the tree asked for".into(),
            })?;
        Ok(trees.swap_remove(root))
    }

    async fn blob(&self, owner: &str, repo: &str, sha: Sha) -> Result<ByteStream, RemoteError> {
        let path = format!("/repos/{}/{}/git/blobs/{}", seg(owner), seg(repo), sha);
        self.inner.stream(self.inner.spec(&path, ACCEPT_RAW)).await
    }

    async fn tarball(
        &self,
        owner: &str,
        repo: &str,
        commit: Sha,
    ) -> Result<ByteStream, RemoteError> {
        let path = format!("/repos/{}/{}/tarball/{}", seg(owner), seg(repo), commit);
        self.inner.stream(self.inner.spec(&path, ACCEPT_JSON)).await
    }

    async fn fetch_rate_limits(&self) -> Result<Vec<RateLimit>, RemoteError> {
        let spec = self.inner.spec("/rate_limit", ACCEPT_JSON);
        let page = self.inner.fetch(&spec, MAX_JSON_BYTES).await?;
        let response: wire::RateLimitResponse = parse_json(&page.body, &spec.what)?;
        let limits: Vec<RateLimit> = response
            .resources
            .into_iter()
            .map(|(resource, r)| RateLimit {
                resource,
                limit: r.limit,
                remaining: r.remaining,
                used: r.used,
                reset: r.reset,
            })
            .collect();
        for limit in &limits {
            self.inner.governor.record(limit.clone());
        }
        Ok(limits)
    }

    fn rate_limits(&self) -> Vec<RateLimit> {
        self.inner.governor.snapshot()
    }

    fn counts(&self) -> RequestCounts {
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

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:10Z"), Some(10));
        assert_eq!(parse_timestamp("2011-04-14T16:00:49Z"), Some(1302796849));
        assert_eq!(
            parse_timestamp("2011-04-14T18:00:49+02:00"),
            Some(1302796849)
        );
        assert_eq!(
            parse_timestamp("2011-04-14T16:00:49.000Z"),
            Some(1302796849)
        );
        assert_eq!(parse_timestamp("garbage"), None);
    }

    #[test]
    fn segments_cannot_change_the_path() {
        assert_eq!(seg("feature/x"), "feature%2Fx");
        assert_eq!(seg("../x?y#z"), "..%2Fx%3Fy%23z");
    }
}
