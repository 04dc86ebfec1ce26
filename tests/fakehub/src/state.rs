//! Configuration, statistics, fault rules and rate-limit buckets.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::git;
use crate::rng::Rng;

/// Server configuration. Everything here can also be changed at run time
/// through [`crate::FakeHub`] or the `/_fakehub/` control endpoints.
#[derive(Clone, Debug)]
pub struct Config {
    /// Tokens accepted in `Authorization: Bearer T` / `token T`.
    pub tokens: Vec<String>,
    /// Primary rate limit per accepted token (GitHub: 5000/h).
    pub rate_limit: u32,
    /// Primary rate limit for anonymous requests (GitHub: 60/h).
    pub anon_rate_limit: u32,
    /// Length of a rate-limit window; the window starts with its first request.
    pub rate_window: Duration,
    /// Answer an exhausted primary rate limit with 429 instead of 403.
    pub rate_limit_status_429: bool,
    /// Fixed delay before every response (API and codeload).
    pub latency: Duration,
    /// Extra random delay in `0..jitter` added to `latency`.
    pub jitter: Duration,
    /// Maximum entries in a tree response before `"truncated": true`.
    pub truncate_threshold: usize,
    /// Compress responses with gzip when the request accepts it, as GitHub
    /// does (archives, already gzip, are never compressed again).
    pub gzip: bool,
    /// A GitHub App installed on every owner (see [`crate::app`]).
    pub app: Option<AppConfig>,
}

/// A GitHub App: JWTs signed with the key whose public half this is are accepted, and
/// the installation tokens they are exchanged for last `token_ttl`.
#[derive(Clone, Debug)]
pub struct AppConfig {
    pub id: String,
    pub public_key_pem: String,
    pub token_ttl: Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            tokens: Vec::new(),
            rate_limit: 5000,
            anon_rate_limit: 60,
            rate_window: Duration::from_secs(3600),
            rate_limit_status_429: false,
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
            truncate_threshold: 100_000,
            gzip: true,
            app: None,
        }
    }
}

/// Request counters, so tests can assert request budgets.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Every request to the API or codeload (control endpoints excluded).
    pub requests: u64,
    /// Requests that consumed primary rate limit.
    pub counted: u64,
    /// 304 Not Modified answers.
    pub not_modified: u64,
    /// Requests per route name (see [`ROUTES`]).
    pub routes: BTreeMap<String, u64>,
    /// 304 answers per route name.
    pub not_modified_routes: BTreeMap<String, u64>,
    /// git protocol v2 `fetch` commands by what they asked for: `trees` (`filter
    /// blob:none`), `commit` (`filter tree:0`), `whole` (a commit, no filter), `objects`
    /// (object ids alone: blobs); `wants` counts the objects wanted in all of them.
    #[serde(default)]
    pub git_fetches: BTreeMap<String, u64>,
    /// Installation tokens a GitHub App was given (`POST .../access_tokens`).
    #[serde(default)]
    pub app_tokens_issued: u64,
    /// Requests refused because their installation token had expired.
    #[serde(default)]
    pub expired_tokens: u64,
}

impl Stats {
    /// Requests seen for `route` (0 if none).
    pub fn route(&self, name: &str) -> u64 {
        self.routes.get(name).copied().unwrap_or(0)
    }
    /// git fetches of `kind` (see [`Stats::git_fetches`]).
    pub fn git_fetches(&self, kind: &str) -> u64 {
        self.git_fetches.get(kind).copied().unwrap_or(0)
    }
    /// 304 answers for `route` (0 if none).
    pub fn not_modified_route(&self, name: &str) -> u64 {
        self.not_modified_routes.get(name).copied().unwrap_or(0)
    }
}

/// The route names used in [`Stats`] and fault rules.
pub const ROUTES: &[&str] = &[
    "owner",
    "repo_list",
    "repo",
    "commit",
    "branch",
    "ref",
    "git_commit",
    "tree",
    "blob",
    "contents",
    "tarball",
    "codeload",
    "rate_limit",
    "tags",
    "git_http",
    "other",
];

/// What an injected fault does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer with this status and a GitHub-style JSON error body.
    Status {
        status: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// Close the connection without sending anything.
    DropConnection,
    /// Send the status line and headers (with the full Content-Length, if any),
    /// then part of the body, then abort the connection.
    TruncateBody {
        /// Bytes sent before aborting (default: half the body, at least 1 if possible).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after_bytes: Option<u64>,
    },
    /// Wait this long before handling the request normally.
    Stall { ms: u64 },
    /// Flip bytes of the body (same length).
    Corrupt,
    /// GitHub's secondary rate limit: 403 with `retry-after`.
    SecondaryRateLimit {
        #[serde(default = "default_retry_after")]
        retry_after: u64,
    },
    /// Answer with this body instead of the real one, keeping the status and
    /// GitHub's headers (Content-Length follows the new body): for hostile
    /// content that git itself cannot store, such as tree entries named `..`.
    ReplaceBody {
        #[serde(with = "base64_bytes")]
        body: Vec<u8>,
    },
    /// Answer with a generated body of `length` bytes (Content-Length:
    /// `length`), streamed and never held in memory: `prefix`, then `fill`.
    /// With `gzip`, the same bytes wrapped as one gzip member of stored
    /// (uncompressed) deflate blocks, so the body inflates to `prefix` + fill
    /// and never ends within `length`: a tarball that claims to be huge.
    HugeBody {
        length: u64,
        #[serde(default, with = "base64_bytes")]
        prefix: Vec<u8>,
        #[serde(default)]
        fill: Fill,
        #[serde(default)]
        gzip: bool,
    },
}

/// What a [`FaultKind::HugeBody`] is made of after its prefix.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fill {
    #[default]
    Zeros,
    /// Deterministic pseudo-random bytes.
    Garbage,
}

/// Bytes as base64 text in the control API's JSON.
mod base64_bytes {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(serde::de::Error::custom)
    }
}

fn default_retry_after() -> u64 {
    60
}

fn default_times() -> u32 {
    1
}

/// A fault rule: applies to the next `times` requests matching `route`
/// (a route name from [`ROUTES`]) and/or whose path contains `path_contains`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_contains: Option<String>,
    /// How many matching requests are affected (`u32::MAX` ~ forever).
    #[serde(default = "default_times")]
    pub times: u32,
    #[serde(flatten)]
    pub kind: FaultKind,
}

impl Fault {
    fn new(kind: FaultKind) -> Fault {
        Fault {
            route: None,
            path_contains: None,
            times: 1,
            kind,
        }
    }
    /// Reply with `status` (e.g. 500, 502, 503).
    pub fn status(status: u16) -> Fault {
        Fault::new(FaultKind::Status {
            status,
            message: None,
        })
    }
    /// Close the connection before responding.
    pub fn drop_connection() -> Fault {
        Fault::new(FaultKind::DropConnection)
    }
    /// Send headers and half of the body, then abort.
    pub fn truncate() -> Fault {
        Fault::new(FaultKind::TruncateBody { after_bytes: None })
    }
    /// Send headers and `n` body bytes, then abort.
    pub fn truncate_after(n: u64) -> Fault {
        Fault::new(FaultKind::TruncateBody {
            after_bytes: Some(n),
        })
    }
    /// Wait `d` before responding normally.
    pub fn stall(d: Duration) -> Fault {
        Fault::new(FaultKind::Stall {
            ms: d.as_millis() as u64,
        })
    }
    /// Flip body bytes, keeping the length.
    pub fn corrupt() -> Fault {
        Fault::new(FaultKind::Corrupt)
    }
    /// 403 secondary rate limit with `retry-after: secs`.
    pub fn secondary_rate_limit(secs: u64) -> Fault {
        Fault::new(FaultKind::SecondaryRateLimit { retry_after: secs })
    }
    /// Answer with `body` instead of the real body (status and headers kept).
    pub fn replace_body(body: impl Into<Vec<u8>>) -> Fault {
        Fault::new(FaultKind::ReplaceBody { body: body.into() })
    }
    /// Answer with `length` generated bytes: `prefix`, then `fill`; with
    /// `gzip`, wrapped as a gzip stream that inflates to them (see
    /// [`FaultKind::HugeBody`]).
    pub fn huge_body(length: u64, prefix: &[u8], fill: Fill, gzip: bool) -> Fault {
        Fault::new(FaultKind::HugeBody {
            length,
            prefix: prefix.to_vec(),
            fill,
            gzip,
        })
    }
    /// Only requests counted under this route name.
    pub fn on_route(mut self, route: &str) -> Fault {
        self.route = Some(route.to_string());
        self
    }
    /// Only requests whose path (with query) contains `s`.
    pub fn path_contains(mut self, s: &str) -> Fault {
        self.path_contains = Some(s.to_string());
        self
    }
    /// Apply to the next `n` matching requests.
    pub fn times(mut self, n: u32) -> Fault {
        self.times = n;
        self
    }
    /// Apply to every matching request until cleared.
    pub fn always(self) -> Fault {
        self.times(u32::MAX)
    }

    fn matches(&self, route: &str, path: &str) -> bool {
        self.route.as_deref().is_none_or(|r| r == route)
            && self
                .path_contains
                .as_deref()
                .is_none_or(|p| path.contains(p))
    }
}

#[derive(Debug)]
pub(crate) struct Bucket {
    pub used: u32,
    pub reset_at: SystemTime,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct RateView {
    pub limit: u32,
    pub used: u32,
    pub reset: i64,
}

impl RateView {
    pub fn remaining(&self) -> u32 {
        self.limit.saturating_sub(self.used)
    }
}

pub(crate) struct Runtime {
    pub tokens: HashSet<String>,
    pub rate_limit: u32,
    pub anon_rate_limit: u32,
    pub rate_window: Duration,
    pub status_429: bool,
    pub latency: Duration,
    pub jitter: Duration,
    /// Draws the jitter of each response.
    pub jitter_rng: Rng,
    pub truncate_threshold: usize,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub stats: Stats,
}

/// Everything shared between the handlers and the [`crate::FakeHub`] handle.
pub(crate) struct Shared {
    pub root: PathBuf,
    pub rt: Mutex<Runtime>,
    pub counters: Mutex<Counters>,
    pub faults: Mutex<Vec<Fault>>,
    pub buckets: Mutex<HashMap<String, Bucket>>,
    pub repos: Mutex<HashMap<PathBuf, Arc<git::Repo>>>,
    pub codeload_tokens: Mutex<HashMap<String, String>>,
    pub request_seq: std::sync::atomic::AtomicU64,
    pub gzip: std::sync::atomic::AtomicBool,
    pub app: Mutex<Option<AppConfig>>,
    /// Installation tokens and when they expire.
    pub app_tokens: Mutex<HashMap<String, SystemTime>>,
    /// Installation ids by owner, given out as asked.
    pub installations: Mutex<HashMap<String, u64>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn epoch_ceil(t: SystemTime) -> i64 {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)) as i64
}

impl Shared {
    pub fn new(root: PathBuf, cfg: Config) -> Shared {
        let gzip = cfg.gzip;
        Shared {
            root,
            rt: Mutex::new(Runtime {
                tokens: cfg.tokens.into_iter().collect(),
                rate_limit: cfg.rate_limit,
                anon_rate_limit: cfg.anon_rate_limit,
                rate_window: cfg.rate_window,
                status_429: cfg.rate_limit_status_429,
                latency: cfg.latency,
                jitter: cfg.jitter,
                jitter_rng: Rng::new(0, 0),
                truncate_threshold: cfg.truncate_threshold,
            }),
            counters: Mutex::new(Counters::default()),
            faults: Mutex::new(Vec::new()),
            buckets: Mutex::new(HashMap::new()),
            repos: Mutex::new(HashMap::new()),
            codeload_tokens: Mutex::new(HashMap::new()),
            request_seq: std::sync::atomic::AtomicU64::new(1),
            gzip: std::sync::atomic::AtomicBool::new(gzip),
            app: Mutex::new(cfg.app),
            app_tokens: Mutex::new(HashMap::new()),
            installations: Mutex::new(HashMap::new()),
        }
    }

    pub fn rt(&self) -> std::sync::MutexGuard<'_, Runtime> {
        lock(&self.rt)
    }

    pub fn token_accepted(&self, t: &str) -> bool {
        if self.rt().tokens.contains(t) {
            return true;
        }
        match lock(&self.app_tokens).get(t) {
            Some(expires) if SystemTime::now() < *expires => true,
            Some(_) => {
                lock(&self.counters).stats.expired_tokens += 1;
                false
            }
            None => false,
        }
    }

    pub fn git(&self, path: &std::path::Path) -> Arc<git::Repo> {
        let mut m = lock(&self.repos);
        m.entry(path.to_path_buf())
            .or_insert_with(|| Arc::new(git::Repo::new(path.to_path_buf())))
            .clone()
    }

    pub fn stats(&self) -> Stats {
        lock(&self.counters).stats.clone()
    }

    pub fn reset_stats(&self) {
        lock(&self.counters).stats = Stats::default();
    }

    pub fn count_request(&self, route: &str) {
        let mut c = lock(&self.counters);
        c.stats.requests += 1;
        *c.stats.routes.entry(route.to_string()).or_default() += 1;
    }

    /// Records a git `fetch` command (see [`Stats::git_fetches`]).
    pub fn count_git_fetch(&self, kind: &str, wants: u64) {
        let mut c = lock(&self.counters);
        *c.stats.git_fetches.entry(kind.to_string()).or_default() += 1;
        *c.stats.git_fetches.entry("wants".to_string()).or_default() += wants;
    }

    pub fn count_outcome(&self, route: &str, counted: bool, not_modified: bool) {
        let mut c = lock(&self.counters);
        if counted {
            c.stats.counted += 1;
        }
        if not_modified {
            c.stats.not_modified += 1;
            *c.stats
                .not_modified_routes
                .entry(route.to_string())
                .or_default() += 1;
        }
    }

    pub fn inject(&self, f: Fault) {
        lock(&self.faults).push(f);
    }

    pub fn clear_faults(&self) {
        lock(&self.faults).clear();
    }

    /// Takes one application of the first fault matching this request.
    pub fn take_fault(&self, route: &str, path: &str) -> Option<FaultKind> {
        let mut faults = lock(&self.faults);
        let i = faults
            .iter()
            .position(|f| f.times > 0 && f.matches(route, path))?;
        let kind = faults[i].kind.clone();
        if faults[i].times != u32::MAX {
            faults[i].times -= 1;
        }
        if faults[i].times == 0 {
            faults.remove(i);
        }
        Some(kind)
    }

    fn limit_for(&self, key: &str) -> (u32, Duration) {
        let rt = self.rt();
        let limit = if key == "anon" {
            rt.anon_rate_limit
        } else {
            rt.rate_limit
        };
        (limit, rt.rate_window)
    }

    /// Current view of a bucket, refilling it if its window has passed.
    pub fn rate_view(&self, key: &str) -> RateView {
        let (limit, window) = self.limit_for(key);
        let mut b = lock(&self.buckets);
        let now = SystemTime::now();
        let bucket = b.entry(key.to_string()).or_insert(Bucket {
            used: 0,
            reset_at: now + window,
        });
        if now >= bucket.reset_at {
            bucket.used = 0;
            bucket.reset_at = now + window;
        }
        RateView {
            limit,
            used: bucket.used,
            reset: epoch_ceil(bucket.reset_at),
        }
    }

    /// Consumes one unit; `Err(view)` when exhausted.
    pub fn rate_take(&self, key: &str) -> Result<RateView, RateView> {
        let (limit, window) = self.limit_for(key);
        let mut b = lock(&self.buckets);
        let now = SystemTime::now();
        let bucket = b.entry(key.to_string()).or_insert(Bucket {
            used: 0,
            reset_at: now + window,
        });
        if now >= bucket.reset_at {
            bucket.used = 0;
            bucket.reset_at = now + window;
        }
        let view = |used| RateView {
            limit,
            used,
            reset: epoch_ceil(bucket.reset_at),
        };
        if bucket.used >= limit {
            return Err(view(bucket.used.min(limit)));
        }
        bucket.used += 1;
        Ok(view(bucket.used))
    }

    /// Gives back one unit (a 304 does not count).
    pub fn rate_refund(&self, key: &str) {
        if let Some(b) = lock(&self.buckets).get_mut(key) {
            b.used = b.used.saturating_sub(1);
        }
    }

    /// Sets the limit of every budget (authenticated and anonymous) and the
    /// window length, and starts a fresh window for all of them.
    pub fn set_rate_limit(&self, limit: u32, reset_after: Duration) {
        {
            let mut rt = self.rt();
            rt.rate_limit = limit;
            rt.anon_rate_limit = limit;
            rt.rate_window = reset_after;
        }
        lock(&self.buckets).clear();
    }

    pub fn set_anon_rate_limit(&self, limit: u32) {
        self.rt().anon_rate_limit = limit;
    }

    pub fn next_request_id(&self) -> String {
        let n = self
            .request_seq
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let h = crate::util::fnv64(&n.to_le_bytes());
        format!(
            "{:04X}:{:04X}:{:07X}:{:07X}:{:08X}",
            (h >> 48) & 0xFFFF,
            (h >> 32) & 0xFFFF,
            n & 0xFFF_FFFF,
            (h >> 4) & 0xFFF_FFFF,
            crate::util::now_epoch() as u32
        )
    }

    pub fn codeload_token(&self, full_name: &str) -> String {
        let seed = format!(
            "{full_name}:{}:{}",
            self.next_request_id(),
            crate::util::now_epoch()
        );
        let tok = crate::util::sha256_hex(seed.as_bytes())[..32].to_uppercase();
        let mut m = lock(&self.codeload_tokens);
        if m.len() > 100_000 {
            m.clear();
        }
        m.insert(tok.clone(), full_name.to_lowercase());
        tok
    }

    pub fn codeload_token_ok(&self, tok: &str, full_name: &str) -> bool {
        lock(&self.codeload_tokens)
            .get(tok)
            .is_some_and(|f| *f == full_name.to_lowercase())
    }
}
