//! Content over git's own smart HTTP protocol (v2), what `git clone` speaks: GitHub
//! serves it at `https://github.com/<owner>/<repo>.git` and does not count it against
//! the REST budget. [`GitRemote`] sends protocol v2 `fetch` commands (shallow, with
//! partial-clone filters, wanting any object id) and hands back the answer's pack as a
//! stream; the store indexes and verifies it ([`crate::store::Store::put_pack`]).
//!
//! The token goes in an `Authorization: Basic` header (`x-access-token:<token>`, marked
//! sensitive), never in a URL or on a command line. Fetches are bounded in number
//! ([`MAX_CONCURRENT_FETCHES`]) and back off on 429/503, git's own dynamic limits.
//! gix-packetline frames the requests and demultiplexes the answer's side bands; the
//! request itself is built here because high-level gix has no partial-clone filters.

mod wire;

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use futures_util::TryStreamExt;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use url::Url;

pub use crate::config::Transport;
pub use wire::{FetchSpec, RefLine, WireError, fetch_request, read_pack};

use super::error::RemoteError;
use super::ratelimit::{MAX_ATTEMPTS, backoff_delay, retry_after};
use crate::config::{Settings, Token};
use crate::logging::error_chain;
use crate::remote::app::Credentials;

/// Fetches in flight at once, per client (git's limits are dynamic: stay modest).
pub const MAX_CONCURRENT_FETCHES: usize = 4;
/// `ls-refs` in flight at once, per client: a few hundred bytes each way, so tools probing
/// for a dozen config files up the tree are answered in one round trip, not three.
pub const MAX_CONCURRENT_LS_REFS: usize = 48;
/// The agent we announce; GitHub treats clients whose agent starts with `git/` as git.
const AGENT: &str = concat!("git/heimdall-", env!("CARGO_PKG_VERSION"));
/// Longest a 429/503 `Retry-After` we wait out before failing the fetch.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The git base URL GitHub serves repositories under for API base `api`:
/// `https://api.github.com` -> `https://github.com`, GitHub Enterprise's
/// `https://HOST/api/v3` -> `https://HOST`, anything else (an emulator) its origin.
pub fn git_base_for(api: &Url) -> Url {
    let mut base = api.clone();
    if api.host_str() == Some("api.github.com") {
        let _ = base.set_host(Some("github.com"));
    }
    base.set_path("");
    base.set_query(None);
    base
}

/// Git requests sent by one client, for `/.status/rate_limit.json` and `scan-status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct GitCounts {
    /// `git-upload-pack` requests sent, retries included.
    pub requests: u64,
    /// Pack bytes received.
    pub bytes: u64,
    /// Objects wanted in those requests.
    pub wants: u64,
    /// Answers 429/503 that made us back off.
    pub backoffs: u64,
    /// Repositories whose git endpoint refused (served over REST instead).
    pub refused: u64,
    /// The last fetch got no answer at all (the endpoint unreachable, or a timeout).
    pub unreachable: bool,
    /// Requests answered 200: the endpoint serves git (so its 404 means "no such
    /// repository", not "no git here").
    pub answered: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    bytes: AtomicU64,
    wants: AtomicU64,
    backoffs: AtomicU64,
    refused: AtomicU64,
    unreachable: AtomicBool,
    answered: AtomicU64,
}

/// A client of GitHub's git endpoint.
pub struct GitRemote {
    http: reqwest::Client,
    base: Url,
    credentials: Credentials,
    permits: Arc<Semaphore>,
    ref_permits: Arc<Semaphore>,
    counters: Arc<Counters>,
    no_delay: bool,
    /// Set once the endpoint answered in a way that says it does not serve us at all
    /// (with `auto`, content then comes over REST for the rest of the run).
    disabled: AtomicBool,
}

/// A fetch's answer, streaming: [`PackAnswer::read_pack`] reads it (blocking).
pub struct PackAnswer {
    body: Box<dyn Read + Send>,
    what: String,
    counters: Arc<Counters>,
    _permit: OwnedSemaphorePermit,
}

impl PackAnswer {
    /// What was asked, for messages (`git fetch acme/api (3 wants)`).
    pub fn what(&self) -> &str {
        &self.what
    }

    /// Reads the answer up to its pack and calls `use_pack` with a reader of the pack
    /// bytes. Blocking: call it from a blocking thread.
    pub fn read_pack<T>(
        self,
        use_pack: impl FnOnce(&mut dyn std::io::BufRead) -> T,
    ) -> Result<T, RemoteError> {
        let what = self.what.clone();
        let counting = CountingRead {
            inner: self.body,
            counters: self.counters,
        };
        read_pack(counting, use_pack).map_err(|e| match e {
            WireError::Io(message) => RemoteError::Network {
                what,
                message,
                attempts: 1,
            },
            other => RemoteError::Corrupt {
                what,
                why: other.to_string(),
            },
        })
    }
}

struct CountingRead {
    inner: Box<dyn Read + Send>,
    counters: Arc<Counters>,
}

impl Read for CountingRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counters.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl GitRemote {
    /// A client for `base` (see [`git_base_for`]), with the settings' token and timeouts.
    pub fn new(settings: &Settings, base: Url) -> Result<GitRemote, RemoteError> {
        Self::with_credentials(settings, base, Credentials::from_settings(settings)?)
    }

    /// With `credentials` shared with the REST client (one App's tokens serve both).
    pub fn with_credentials(
        settings: &Settings,
        base: Url,
        credentials: Credentials,
    ) -> Result<GitRemote, RemoteError> {
        let http = reqwest::Client::builder()
            .user_agent(AGENT)
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(settings.read_timeout)
            .build()
            .map_err(|e| RemoteError::Network {
                what: "building the git HTTP client".into(),
                message: error_chain(&e),
                attempts: 0,
            })?;
        Ok(GitRemote {
            http,
            base,
            credentials,
            permits: Arc::new(Semaphore::new(MAX_CONCURRENT_FETCHES)),
            ref_permits: Arc::new(Semaphore::new(MAX_CONCURRENT_LS_REFS)),
            counters: Arc::default(),
            no_delay: settings.no_retry_delay,
            disabled: AtomicBool::new(false),
        })
    }

    /// Whether requests carry a token (GitHub answers a missing repository with 404 then,
    /// with 401 to anonymous clients).
    pub fn authenticated(&self) -> bool {
        !matches!(self.credentials, Credentials::Anonymous)
    }

    /// Whether the endpoint refused us outright (see [`GitRemote::fetch`]).
    pub fn disabled(&self) -> bool {
        self.disabled.load(Ordering::Relaxed)
    }

    pub fn counts(&self) -> GitCounts {
        let c = &self.counters;
        GitCounts {
            requests: c.requests.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
            wants: c.wants.load(Ordering::Relaxed),
            backoffs: c.backoffs.load(Ordering::Relaxed),
            refused: c.refused.load(Ordering::Relaxed),
            unreachable: c.unreachable.load(Ordering::Relaxed),
            answered: c.answered.load(Ordering::Relaxed),
        }
    }

    fn url(&self, owner: &str, repo: &str) -> String {
        format!(
            "{}/{owner}/{repo}.git/git-upload-pack",
            self.base.as_str().trim_end_matches('/')
        )
    }

    fn request(
        &self,
        owner: &str,
        repo: &str,
        body: Vec<u8>,
        token: Option<&Token>,
    ) -> reqwest::RequestBuilder {
        let mut request = self
            .http
            .post(self.url(owner, repo))
            .header(CONTENT_TYPE, "application/x-git-upload-pack-request")
            .header(ACCEPT, "application/x-git-upload-pack-result")
            .header("git-protocol", "version=2")
            .body(body);
        if let Some(token) = token
            && let Ok(mut value) = HeaderValue::from_str(&basic_auth(token.expose()))
        {
            value.set_sensitive(true);
            request = request.header(AUTHORIZATION, value);
        }
        request
    }

    /// The refs of `owner/repo` starting with `prefixes` (`ls-refs`: not counted against
    /// the REST budget). Bounded: an answer over 1 MiB is refused.
    pub async fn ls_refs(
        &self,
        owner: &str,
        repo: &str,
        prefixes: &[String],
    ) -> Result<Vec<RefLine>, RemoteError> {
        const MAX_REFS_BYTES: usize = 1 << 20;
        let what = format!("git ls-refs {owner}/{repo}");
        let answer = self
            .send(
                owner,
                repo,
                wire::ls_refs_request(prefixes, AGENT),
                &what,
                0,
            )
            .await?;
        let bytes = tokio::task::spawn_blocking(move || {
            let mut body = Vec::new();
            let mut limited = answer.body.take(MAX_REFS_BYTES as u64 + 1);
            limited.read_to_end(&mut body).map(|_| body)
        })
        .await
        .map_err(|e| RemoteError::Local {
            what: what.clone(),
            message: e.to_string(),
        })?
        .map_err(|e| RemoteError::Network {
            what: what.clone(),
            message: e.to_string(),
            attempts: 1,
        })?;
        if bytes.len() > MAX_REFS_BYTES {
            return Err(RemoteError::Corrupt {
                what,
                why: format!("the ref list is larger than {MAX_REFS_BYTES} bytes"),
            });
        }
        wire::parse_ls_refs(&bytes).map_err(|e| RemoteError::Corrupt {
            what,
            why: e.to_string(),
        })
    }

    /// Sends one `fetch` for `spec` to `owner/repo` and returns the streaming answer.
    /// 429 and 503 are waited out (`Retry-After`, else backoff) and retried; 401, 403
    /// and 404 fail at once (the caller may fall back to REST).
    pub async fn fetch(
        &self,
        owner: &str,
        repo: &str,
        spec: &FetchSpec,
    ) -> Result<PackAnswer, RemoteError> {
        let what = format!("git fetch {owner}/{repo} ({} wants)", spec.wants.len());
        self.send(
            owner,
            repo,
            fetch_request(spec, AGENT),
            &what,
            spec.wants.len(),
        )
        .await
    }

    /// Posts one command to `git-upload-pack`, retrying what is transient.
    async fn send(
        &self,
        owner: &str,
        repo: &str,
        body: Vec<u8>,
        what: &str,
        wants: usize,
    ) -> Result<PackAnswer, RemoteError> {
        let what = what.to_string();
        let mut attempt = 0;
        loop {
            let token = self.credentials.token(Some(owner)).await?;
            // `ls-refs` (no wants) has its own, wider bound.
            let permits = if wants == 0 {
                &self.ref_permits
            } else {
                &self.permits
            };
            let permit = Arc::clone(permits)
                .acquire_owned()
                .await
                .expect("the semaphore is never closed");
            self.counters.requests.fetch_add(1, Ordering::Relaxed);
            self.counters
                .wants
                .fetch_add(wants as u64, Ordering::Relaxed);
            tracing::debug!(request = %what, attempt, "sending");
            let sent = self
                .request(owner, repo, body.clone(), token.as_ref())
                .send()
                .await;
            self.counters
                .unreachable
                .store(sent.is_err(), Ordering::Relaxed);
            let failure = match sent {
                Err(e) => RemoteError::Network {
                    what: what.clone(),
                    message: error_chain(&e.without_url()),
                    attempts: attempt + 1,
                },
                Ok(response) if response.status() == StatusCode::OK => {
                    self.counters.answered.fetch_add(1, Ordering::Relaxed);
                    let stream = response.bytes_stream().map_err(std::io::Error::other);
                    let reader = tokio_util::io::StreamReader::new(stream);
                    let body = tokio_util::io::SyncIoBridge::new(reader);
                    return Ok(PackAnswer {
                        body: Box::new(body),
                        what,
                        counters: Arc::clone(&self.counters),
                        _permit: permit,
                    });
                }
                Ok(response) => {
                    let status = response.status();
                    let wait = retry_after(response.headers());
                    match status.as_u16() {
                        401 => {
                            if let Some(token) = &token {
                                self.credentials.rejected(token);
                            }
                            return Err(self.refused(RemoteError::BadCredentials { what }));
                        }
                        404 => return Err(self.refused(RemoteError::NotFound { what })),
                        403 if wait.is_none() => {
                            let message = short_text(response).await;
                            if !message.to_ascii_lowercase().contains("rate limit") {
                                return Err(self.refused(RemoteError::Forbidden { what, message }));
                            }
                            self.counters.backoffs.fetch_add(1, Ordering::Relaxed);
                            drop(permit);
                            tokio::time::sleep(backoff_delay(attempt, self.no_delay)).await;
                            RemoteError::Server {
                                what: what.clone(),
                                status: 403,
                                attempts: attempt + 1,
                            }
                        }
                        // A limit with a `Retry-After` (GitHub's secondary limits): wait.
                        403 | 429 | 503 => {
                            self.counters.backoffs.fetch_add(1, Ordering::Relaxed);
                            let delay = wait
                                .unwrap_or_else(|| backoff_delay(attempt, self.no_delay))
                                .min(MAX_RETRY_AFTER);
                            let delay = if self.no_delay { Duration::ZERO } else { delay };
                            drop(permit);
                            tracing::warn!(request = %what, status = status.as_u16(), delay_ms = delay.as_millis() as u64, "git endpoint busy; backing off");
                            tokio::time::sleep(delay).await;
                            RemoteError::Server {
                                what: what.clone(),
                                status: status.as_u16(),
                                attempts: attempt + 1,
                            }
                        }
                        code @ 500..=599 => RemoteError::Server {
                            what: what.clone(),
                            status: code,
                            attempts: attempt + 1,
                        },
                        code => {
                            let message = short_text(response).await;
                            return Err(RemoteError::Unexpected {
                                what,
                                status: code,
                                message,
                            });
                        }
                    }
                }
            };
            attempt += 1;
            if attempt >= MAX_ATTEMPTS {
                return Err(failure);
            }
            if !matches!(
                failure,
                RemoteError::Server {
                    status: 429 | 503,
                    ..
                }
            ) {
                tokio::time::sleep(backoff_delay(attempt, self.no_delay)).await;
            }
        }
    }

    /// Counts a refusal. 401/403 of a whole host (git over HTTP disabled, a proxy) stop
    /// `auto` from trying git again in this run; a 404 is about one repository.
    fn refused(&self, error: RemoteError) -> RemoteError {
        self.counters.refused.fetch_add(1, Ordering::Relaxed);
        if matches!(
            error,
            RemoteError::Forbidden { .. } | RemoteError::BadCredentials { .. }
        ) {
            self.disabled.store(true, Ordering::Relaxed);
        }
        error
    }
}

/// The first line of an error answer, bounded.
async fn short_text(response: reqwest::Response) -> String {
    let bytes = response.bytes().await.unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]);
    text.lines().next().unwrap_or("").trim().to_string()
}

/// `Basic base64("x-access-token:" + token)`, what GitHub takes for git over HTTPS.
fn basic_auth(token: &str) -> String {
    use base64::Engine;
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{token}"));
    format!("Basic {encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_urls_derive_from_the_api_url() {
        let git = |api: &str| git_base_for(&Url::parse(api).unwrap()).to_string();
        assert_eq!(git("https://api.github.com"), "https://github.com/");
        assert_eq!(
            git("https://ghe.example.com/api/v3"),
            "https://ghe.example.com/"
        );
        assert_eq!(git("http://127.0.0.1:8080"), "http://127.0.0.1:8080/");
    }

    #[test]
    fn basic_auth_is_x_access_token() {
        // printf 'x-access-token:abc' | base64
        assert_eq!(basic_auth("abc"), "Basic eC1hY2Nlc3MtdG9rZW46YWJj");
    }
}
