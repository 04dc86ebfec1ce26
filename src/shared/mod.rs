//! A cache many machines share on object storage (`--shared-cache URL`): read after the
//! local store and before GitHub, filled in the background after GitHub answered.
//!
//! Everything in it is immutable and addressed by what it holds (keys under the URL's
//! path, see [`keys`]):
//! ```text
//! v1/packs/<commit>/pack-<sum>.pack   packs fetched over git for reads in that commit
//! v1/blobs/<sha>                      blobs downloaded over REST, raw
//! v1/commits/<sha>                    commit objects fetched over git, raw
//! v1/listings/<commit>.json           a commit's REST tree listing (sizes included)
//! v1/patterns/v<N>/<owner>/<repo>/<commit>.json   a scan's extracted patterns
//! ```
//! Nothing read from it is trusted: packs are indexed and every object hashed like a
//! pack from GitHub, blobs and commits are hashed, listings' trees hashed against their ids (the
//! root against the commit's tree), listings and patterns carry a SHA-256 of their body.
//! A bad object is deleted from the bucket, counted, and fetched from GitHub, whose
//! answer is uploaded in its place.
//!
//! Not shared: refs and ETags (mutable), tokens, errors and negative answers; content of
//! private repositories unless `--shared-cache-private` (see [`visibility`]).
//!
//! Faults never fail or stall a read: every request has a timeout, and a
//! [`breaker::Breaker`] skips the bucket for a while after failures in a row. Uploads
//! never make a read wait: an offer only queues (a bounded queue, [`UPLOAD_QUEUE`],
//! worked by a few tasks; when it is full an upload is dropped with a log line), and the
//! uploader tasks decide whether the repository may be shared. Big objects go up as
//! multipart uploads.

pub mod aws;
pub mod breaker;
pub mod items;
pub mod keys;
pub mod visibility;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde::Serialize;
use tokio::sync::mpsc;

use crate::config::SharedCacheConfig;
use crate::store::Store;

/// Uploads waiting at most; more are dropped (with a log line).
pub const UPLOAD_QUEUE: usize = 1024;
/// Uploads in flight at once.
const UPLOADERS: usize = 4;
/// Objects above this size go up as multipart uploads.
const MULTIPART_ABOVE: u64 = 8 << 20;
/// The slowest transfer rate a big download is given time for, beyond the timeout.
const MIN_RATE: u64 = 4 << 20;

/// Counter names in the index (`heimdall cache stats`, `/.status/cache.json`).
pub const COUNTERS: [&str; 8] = [
    "shared_hits",
    "shared_misses",
    "shared_uploads",
    "shared_upload_bytes",
    "shared_download_bytes",
    "shared_errors",
    "shared_corrupt",
    "shared_dropped",
];

/// What the shared cache did, from the index (durable, across daemons and commands).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct SharedStats {
    pub hits: u64,
    pub misses: u64,
    pub uploads: u64,
    pub upload_bytes: u64,
    pub download_bytes: u64,
    pub errors: u64,
    pub corrupt: u64,
    pub dropped: u64,
}

impl SharedStats {
    pub fn from_index(index: &crate::store::Index) -> SharedStats {
        let c = |name: &str| index.counter(name).unwrap_or(0);
        SharedStats {
            hits: c(COUNTERS[0]),
            misses: c(COUNTERS[1]),
            uploads: c(COUNTERS[2]),
            upload_bytes: c(COUNTERS[3]),
            download_bytes: c(COUNTERS[4]),
            errors: c(COUNTERS[5]),
            corrupt: c(COUNTERS[6]),
            dropped: c(COUNTERS[7]),
        }
    }
}

/// The live state, for `/.status/cache.json`.
#[derive(Debug, Clone, Serialize)]
pub struct SharedStatus {
    pub url: String,
    /// `closed` (in use) or `open` (skipped after failures).
    pub state: &'static str,
    pub pending_uploads: usize,
    pub private: bool,
    #[serde(flatten)]
    pub stats: SharedStats,
}

/// What an upload carries.
enum Body {
    Bytes(Bytes),
    File(PathBuf),
}

struct Upload {
    /// The repository the content came from (whether it may be shared is asked before
    /// the upload, in the uploader task).
    owner: String,
    repo: String,
    key: Key,
    body: Body,
}

pub struct SharedCache {
    objects: Arc<dyn ObjectStore>,
    prefix: Key,
    shown: String,
    private: bool,
    timeout: Duration,
    breaker: breaker::Breaker,
    store: Arc<Store>,
    queue: OnceLock<mpsc::Sender<Upload>>,
    pending: Arc<AtomicUsize>,
    dropped_logged: AtomicU64,
    /// Commits whose packs were already brought down (once per process).
    hydrated: Mutex<HashMap<crate::oid::Sha, Arc<tokio::sync::OnceCell<()>>>>,
    /// Whether a repository's content may be uploaded.
    visibility: Arc<visibility::Visibility>,
}

impl std::fmt::Debug for SharedCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedCache")
            .field("url", &self.shown)
            .finish()
    }
}

/// Why a shared cache could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("shared cache `{url}`: {why}")]
pub struct SharedCacheError {
    url: String,
    why: String,
}

impl SharedCache {
    /// Opens the bucket `config` names (no request is made yet). `anonymous` is a git
    /// client without credentials, to tell public repositories from private ones.
    pub fn open(
        config: &SharedCacheConfig,
        store: Arc<Store>,
        anonymous: Option<Arc<crate::remote::git::GitRemote>>,
    ) -> Result<SharedCache, SharedCacheError> {
        let shown = config.url.to_string();
        let fail = |why: String| SharedCacheError {
            url: shown.clone(),
            why,
        };
        let (objects, prefix) = keys::open_store(&config.url, config.timeout).map_err(fail)?;
        Ok(SharedCache {
            objects,
            prefix,
            shown: shown.clone(),
            private: config.private,
            timeout: config.timeout,
            breaker: breaker::Breaker::default(),
            queue: OnceLock::new(),
            pending: Arc::new(AtomicUsize::new(0)),
            dropped_logged: AtomicU64::new(0),
            hydrated: Mutex::new(HashMap::new()),
            visibility: Arc::new(visibility::Visibility::new(
                config.private,
                Arc::clone(&store),
                anonymous,
            )),
            store,
        })
    }

    pub fn status(&self) -> SharedStatus {
        SharedStatus {
            url: self.shown.clone(),
            state: self.breaker.state(),
            pending_uploads: self.pending.load(Ordering::Relaxed),
            private: self.private,
            stats: SharedStats::from_index(self.store.index()),
        }
    }

    fn bump(&self, counter: usize, by: u64) {
        if let Err(e) = self.store.index().bump(COUNTERS[counter], by) {
            tracing::debug!(error = %e, "cannot count a shared cache event");
        }
    }

    fn key(&self, rel: &str) -> Key {
        let mut key = self.prefix.clone();
        for part in rel.split('/') {
            key = key.clone().join(part);
        }
        key
    }

    /// One request with the timeout and the breaker: `None` when skipped, failed or
    /// timed out (counted as an error), `Some(Err(NotFound))`-style answers are the
    /// caller's to read.
    async fn guarded<T>(
        &self,
        what: &str,
        timeout: Duration,
        request: impl std::future::Future<Output = object_store::Result<T>>,
    ) -> Option<object_store::Result<T>> {
        if !self.breaker.allows() {
            return None;
        }
        match tokio::time::timeout(timeout, request).await {
            Ok(Err(object_store::Error::NotFound { .. })) => {
                self.breaker.succeeded();
                Some(Err(object_store::Error::NotFound {
                    path: what.to_string(),
                    source: "not found".into(),
                }))
            }
            Ok(Err(e)) => {
                self.bump(5, 1);
                self.breaker.failed(what, &keys::quiet_error(&e));
                None
            }
            Ok(Ok(v)) => {
                self.breaker.succeeded();
                Some(Ok(v))
            }
            Err(_) => {
                self.bump(5, 1);
                self.breaker.failed(what, "timed out");
                None
            }
        }
    }

    /// The whole object at `rel`, if the bucket has it (at most `max` bytes).
    async fn get(&self, rel: &str, max: u64) -> Option<Bytes> {
        let key = self.key(rel);
        let what = format!("GET {rel}");
        let got = self
            .guarded(&what, self.timeout, self.objects.get(&key))
            .await?;
        let got = match got {
            Ok(g) => g,
            Err(_) => {
                self.bump(1, 1);
                return None;
            }
        };
        let size = got.meta.size;
        if size > max {
            tracing::warn!(
                key = rel,
                size,
                max,
                "a shared cache object is too big; ignored"
            );
            self.bump(6, 1);
            return None;
        }
        let budget = self.timeout + Duration::from_secs(size / MIN_RATE);
        let bytes = self.guarded(&what, budget, got.bytes()).await?.ok()?;
        self.bump(4, bytes.len() as u64);
        Some(bytes)
    }

    /// Names and sizes of the objects under `rel/`.
    async fn list(&self, rel: &str) -> Option<Vec<(String, u64)>> {
        let key = self.key(rel);
        let what = format!("LIST {rel}");
        let listing = async {
            let mut out = Vec::new();
            let mut stream = self.objects.list(Some(&key));
            while let Some(meta) = stream.next().await {
                let meta = meta?;
                if let Some(name) = meta.location.filename() {
                    out.push((name.to_string(), meta.size));
                }
            }
            Ok(out)
        };
        self.guarded(&what, self.timeout, listing).await?.ok()
    }

    /// Removes a bad object (so no machine reads it again); best effort.
    async fn delete(&self, rel: &str) {
        let key = self.key(rel);
        let _ = self
            .guarded(
                &format!("DELETE {rel}"),
                self.timeout,
                self.objects.delete(&key),
            )
            .await;
    }

    /// Queues an upload of content from `owner/repo`; never waits. Left out when the
    /// repository is known not to be shareable; dropped (and logged) when the queue is
    /// full.
    fn offer(&self, owner: &str, repo: &str, rel: &str, body: Body) {
        if self.visibility.known(owner, repo) == Some(false) {
            return;
        }
        let sender = self.queue.get_or_init(|| self.start_uploaders());
        let upload = Upload {
            owner: owner.to_string(),
            repo: repo.to_string(),
            key: self.key(rel),
            body,
        };
        self.pending.fetch_add(1, Ordering::Relaxed);
        if sender.try_send(upload).is_err() {
            self.pending.fetch_sub(1, Ordering::Relaxed);
            self.bump(7, 1);
            let n = self.dropped_logged.fetch_add(1, Ordering::Relaxed);
            if n.is_power_of_two() || n == 0 {
                tracing::warn!(
                    key = rel,
                    dropped = n + 1,
                    "the shared cache upload queue is full; upload dropped"
                );
            }
        }
    }

    fn start_uploaders(&self) -> mpsc::Sender<Upload> {
        let (tx, rx) = mpsc::channel::<Upload>(UPLOAD_QUEUE);
        let objects = Arc::clone(&self.objects);
        let pending = Arc::clone(&self.pending);
        let store = Arc::clone(&self.store);
        let visibility = Arc::clone(&self.visibility);
        let timeout = self.timeout;
        tokio::spawn(async move {
            let stream = tokio_stream_from(rx);
            stream
                .for_each_concurrent(UPLOADERS, |upload| {
                    let objects = Arc::clone(&objects);
                    let pending = Arc::clone(&pending);
                    let store = Arc::clone(&store);
                    let visibility = Arc::clone(&visibility);
                    async move {
                        if !visibility.may_share(&upload.owner, &upload.repo).await {
                            pending.fetch_sub(1, Ordering::Relaxed);
                            return;
                        }
                        let what = upload.key.to_string();
                        match put(Arc::clone(&objects), upload, timeout).await {
                            Ok(bytes) => {
                                tracing::debug!(key = what, bytes, "uploaded to the shared cache");
                                let _ = store.index().bump(COUNTERS[2], 1);
                                let _ = store.index().bump(COUNTERS[3], bytes);
                            }
                            Err(why) => {
                                let _ = store.index().bump(COUNTERS[5], 1);
                                tracing::debug!(
                                    key = what,
                                    error = why,
                                    "shared cache upload failed"
                                );
                            }
                        }
                        pending.fetch_sub(1, Ordering::Relaxed);
                    }
                })
                .await;
        });
        tx
    }

    /// Waits (up to `limit`) for queued uploads to finish: before a command exits or a
    /// daemon stops.
    pub async fn flush(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while self.pending.load(Ordering::Relaxed) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let left = self.pending.load(Ordering::Relaxed);
        if left > 0 {
            tracing::warn!(
                left,
                "shared cache uploads still queued at exit; not uploaded"
            );
        }
    }
}

/// An mpsc receiver as a stream.
fn tokio_stream_from<T: Send + 'static>(
    mut rx: mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// One upload: a single PUT, or a multipart upload for a big file.
async fn put(
    objects: Arc<dyn ObjectStore>,
    upload: Upload,
    timeout: Duration,
) -> Result<u64, String> {
    match upload.body {
        Body::Bytes(bytes) => {
            let n = bytes.len() as u64;
            tokio::time::timeout(
                timeout * 4,
                objects.put(&upload.key, PutPayload::from(bytes)),
            )
            .await
            .map_err(|_| "timed out".to_string())?
            .map_err(|e| keys::quiet_error(&e))?;
            Ok(n)
        }
        Body::File(path) => {
            let size = std::fs::metadata(&path).map_err(|e| e.to_string())?.len();
            let budget = timeout * 4 + Duration::from_secs(size / MIN_RATE);
            let work = async {
                if size <= MULTIPART_ABOVE {
                    let bytes = tokio::fs::read(&path).await.map_err(|e| e.to_string())?;
                    objects
                        .put(&upload.key, PutPayload::from(bytes))
                        .await
                        .map_err(|e| keys::quiet_error(&e))?;
                } else {
                    let mut file = tokio::fs::File::open(&path)
                        .await
                        .map_err(|e| e.to_string())?;
                    let mut writer =
                        object_store::buffered::BufWriter::new(objects, upload.key.clone());
                    tokio::io::copy(&mut file, &mut writer)
                        .await
                        .map_err(|e| e.to_string())?;
                    tokio::io::AsyncWriteExt::shutdown(&mut writer)
                        .await
                        .map_err(|e| e.to_string())?;
                }
                Ok::<(), String>(())
            };
            tokio::time::timeout(budget, work)
                .await
                .map_err(|_| "timed out".to_string())??;
            Ok(size)
        }
    }
}
