//! Adaptive hydration: fetch a whole commit as one tarball when a tool is clearly going
//! to read most of it, instead of one request per file.
//!
//! Rule (per commit, over a sliding window of [`WINDOW`]):
//! - reading one or two files fetches just those blobs;
//! - more than `threshold` blob misses in the window hydrate the rest as a tarball;
//! - a blob miss right after a walk (at least [`WALK_DIRS`] directories of the commit
//!   listed in the window, as `ruff`, `rg` or `find -exec` do before reading) hydrates at
//!   once when the commit has more than `threshold` files. A walk alone (`ls -lR`,
//!   `find`) reads no file and fetches nothing.
//!
//! Every file from the tarball is verified against the tree: its content must hash to
//! the blob SHA the tree gives for its path. Paths are only used to find that SHA; the
//! store writes by SHA, so a tarball with `../` paths or links cannot write anywhere
//! else. A hydration that fails is logged and readers fall back to single blobs.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::inode::RepoContext;
use crate::namespace::Namespace;
use crate::oid::Sha;
use crate::remote::Mode;
use crate::store::StoreError;

/// How far back activity counts.
pub const WINDOW: Duration = Duration::from_secs(10);
/// Directories listed in the window that make a walk.
pub const WALK_DIRS: usize = 8;
/// Tar headers and padding on top of the content: 1.5 KB per file plus slack.
const TAR_OVERHEAD_PER_FILE: u64 = 1536;
const TAR_OVERHEAD_SLACK: u64 = 1 << 20;
/// Commits larger than this are never hydrated whole.
pub const MAX_HYDRATE_BYTES: u64 = 2 << 30;

#[derive(Default)]
struct Activity {
    misses: VecDeque<Instant>,
    listings: VecDeque<Instant>,
    /// Hydration ran (or failed) for this commit: do not try again.
    done: bool,
}

impl Activity {
    fn prune(&mut self, now: Instant) {
        for queue in [&mut self.misses, &mut self.listings] {
            while queue
                .front()
                .is_some_and(|t| now.duration_since(*t) > WINDOW)
            {
                queue.pop_front();
            }
        }
    }
}

/// What hydrations did, for `/.status` and tests.
#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct HydrationStats {
    pub hydrations: u64,
    pub failed: u64,
    pub files_stored: u64,
    pub bytes_stored: u64,
}

pub struct Hydrator {
    threshold: usize,
    /// Where walk-started hydrations run (the mount's runtime).
    runtime: Option<tokio::runtime::Handle>,
    activity: Mutex<HashMap<Sha, Activity>>,
    /// Hydrations under way, by commit.
    running: Mutex<HashMap<Sha, Arc<Running>>>,
    counters: Arc<Counters>,
}

/// A hydration in progress: readers wait on it for their own blob, not for the whole
/// archive. Each waited-for blob has its own `Notify`, fired when that blob is stored or
/// the hydration ends, so storing a file wakes only its readers.
#[derive(Default)]
struct Running {
    waiters: Mutex<HashMap<Sha, Arc<tokio::sync::Notify>>>,
    done: std::sync::atomic::AtomicBool,
}

impl Running {
    fn waiter(&self, sha: Sha) -> Arc<tokio::sync::Notify> {
        let mut waiters = self.waiters.lock().expect("waiters poisoned");
        Arc::clone(waiters.entry(sha).or_default())
    }

    fn stored(&self, sha: Sha) {
        let waiter = self.waiters.lock().expect("waiters poisoned").remove(&sha);
        if let Some(waiter) = waiter {
            waiter.notify_waiters();
        }
    }

    fn finish(&self) {
        self.done.store(true, Ordering::SeqCst);
        let waiters = std::mem::take(&mut *self.waiters.lock().expect("waiters poisoned"));
        for waiter in waiters.into_values() {
            waiter.notify_waiters();
        }
    }
}

/// One blob of the commit, by path.
struct Expected {
    sha: Sha,
    size: u64,
    mode: Mode,
}

impl Hydrator {
    pub fn new(threshold: usize) -> Hydrator {
        Hydrator {
            threshold,
            runtime: tokio::runtime::Handle::try_current().ok(),
            activity: Mutex::new(HashMap::new()),
            running: Mutex::new(HashMap::new()),
            counters: Arc::new(Counters::default()),
        }
    }

    pub fn stats(&self) -> HydrationStats {
        let c = &self.counters;
        HydrationStats {
            hydrations: c.hydrations.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            files_stored: c.files.load(Ordering::Relaxed),
            bytes_stored: c.bytes.load(Ordering::Relaxed),
        }
    }

    /// A directory of `repo`'s commit was listed. A walk (many listings) after a file
    /// was read starts the hydration at once, before the walker's first read: tools read
    /// their config, walk the tree, then read every file.
    pub fn note_listing(self: &Arc<Self>, ns: &Arc<Namespace>, repo: &Arc<RepoContext>) {
        let now = Instant::now();
        let start = {
            let mut activity = self.activity.lock().expect("activity poisoned");
            let entry = activity.entry(repo.commit.sha).or_default();
            entry.prune(now);
            entry.listings.push_back(now);
            self.threshold > 0
                && !entry.done
                && entry.listings.len() == WALK_DIRS
                && !entry.misses.is_empty()
        };
        if let (true, Some(runtime)) = (start, &self.runtime) {
            let (me, ns, repo) = (Arc::clone(self), Arc::clone(ns), Arc::clone(repo));
            runtime.spawn(async move { me.start(&ns, &repo, false).await });
        }
    }

    /// Called before fetching missing blob `sha` of `repo`: records the miss and, when the
    /// rule says so, starts hydrating the commit; while a hydration runs, waits until this
    /// blob is stored (or the hydration ends), so the caller usually finds it local.
    pub async fn before_miss(
        &self,
        ns: &Arc<Namespace>,
        repo: &Arc<RepoContext>,
        sha: Sha,
        size: u64,
    ) {
        if self.threshold == 0 {
            return;
        }
        let commit = repo.commit.sha;
        if let Some(running) = self.running_for(commit) {
            return wait_for(ns, &running, sha, size).await;
        }
        let (misses, listings) = {
            let now = Instant::now();
            let mut activity = self.activity.lock().expect("activity poisoned");
            let entry = activity.entry(commit).or_default();
            entry.prune(now);
            entry.misses.push_back(now);
            if entry.done {
                return;
            }
            (entry.misses.len(), entry.listings.len())
        };
        let burst = misses > self.threshold;
        if !burst && listings < WALK_DIRS {
            return;
        }
        if let Some(running) = self.start(ns, repo, burst).await {
            wait_for(ns, &running, sha, size).await;
        }
    }

    /// Starts hydrating `repo`'s commit (or joins the hydration under way), unless the
    /// commit is too big, or, for a walk rather than a burst of misses, too small to be
    /// worth a tarball.
    async fn start(
        &self,
        ns: &Arc<Namespace>,
        repo: &Arc<RepoContext>,
        burst: bool,
    ) -> Option<Arc<Running>> {
        let commit = repo.commit.sha;
        if let Some(running) = self.running_for(commit) {
            return Some(running);
        }
        let expected = match expected_blobs(ns, repo).await {
            Ok(expected) => expected,
            Err(e) => {
                tracing::warn!(repo = %repo.spec, error = %e, "cannot list the commit for hydration");
                return None;
            }
        };
        let total: u64 = expected.values().map(|e| e.size).sum();
        if (!burst && expected.len() <= self.threshold) || total > MAX_HYDRATE_BYTES {
            return None;
        }
        let mut running = self.running.lock().expect("running poisoned");
        if let Some(existing) = running.get(&commit) {
            return Some(Arc::clone(existing));
        }
        if self.is_done(commit) {
            return None;
        }
        self.mark_done(commit);
        let fresh = Arc::new(Running::default());
        running.insert(commit, Arc::clone(&fresh));
        let (ns, repo, counters, progress) = (
            Arc::clone(ns),
            Arc::clone(repo),
            Arc::clone(&self.counters),
            Arc::clone(&fresh),
        );
        tokio::spawn(async move {
            counters.run(&ns, &repo, expected, total, &progress).await;
            progress.finish();
        });
        Some(fresh)
    }

    fn is_done(&self, commit: Sha) -> bool {
        self.activity
            .lock()
            .expect("activity poisoned")
            .get(&commit)
            .is_some_and(|a| a.done)
    }

    fn running_for(&self, commit: Sha) -> Option<Arc<Running>> {
        let mut running = self.running.lock().expect("running poisoned");
        match running.get(&commit) {
            Some(r) if r.done.load(Ordering::SeqCst) => {
                running.remove(&commit);
                None
            }
            Some(r) => Some(Arc::clone(r)),
            None => None,
        }
    }

    fn mark_done(&self, commit: Sha) {
        self.activity
            .lock()
            .expect("activity poisoned")
            .entry(commit)
            .or_default()
            .done = true;
    }
}

/// What hydrations did, shared with the hydration tasks.
#[derive(Default)]
struct Counters {
    hydrations: AtomicU64,
    failed: AtomicU64,
    files: AtomicU64,
    bytes: AtomicU64,
}

impl Counters {
    async fn run(
        &self,
        ns: &Arc<Namespace>,
        repo: &Arc<RepoContext>,
        expected: HashMap<String, Expected>,
        total: u64,
        progress: &Arc<Running>,
    ) {
        let started = Instant::now();
        match hydrate(ns, repo, expected, total, Arc::clone(progress)).await {
            Ok((files, bytes)) => {
                self.hydrations.fetch_add(1, Ordering::Relaxed);
                self.files.fetch_add(files, Ordering::Relaxed);
                self.bytes.fetch_add(bytes, Ordering::Relaxed);
                tracing::info!(repo = %repo.spec, files, bytes, ms = started.elapsed().as_millis() as u64, "hydrated from a tarball");
            }
            Err(why) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(repo = %repo.spec, %why, "hydration failed; reading files one by one");
            }
        }
    }
}

/// Waits until blob `sha` is in the store or the hydration has ended.
async fn wait_for(ns: &Namespace, running: &Running, sha: Sha, size: u64) {
    loop {
        // Register before checking, so a file stored in between still wakes us.
        let waiter = running.waiter(sha);
        let notified = waiter.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if running.done.load(Ordering::SeqCst) || ns.store().blob_path(sha, size).is_some() {
            return;
        }
        notified.await;
    }
}

/// Every blob reachable from the commit's root tree, by repository path.
async fn expected_blobs(
    ns: &Namespace,
    repo: &RepoContext,
) -> Result<HashMap<String, Expected>, String> {
    let mut out = HashMap::new();
    let mut stack = vec![(repo.commit.tree, String::new())];
    while let Some((sha, prefix)) = stack.pop() {
        let tree = ns.tree(&repo.spec, sha).await.map_err(|e| e.to_string())?;
        for entry in &tree.entries {
            let path = format!("{prefix}{}", entry.name);
            match entry.mode {
                Mode::Tree => stack.push((entry.sha, format!("{path}/"))),
                Mode::Submodule => {}
                Mode::File | Mode::Executable | Mode::Symlink => {
                    out.insert(
                        path,
                        Expected {
                            sha: entry.sha,
                            size: entry.size,
                            mode: entry.mode,
                        },
                    );
                }
            }
        }
    }
    Ok(out)
}

/// Fetches a whole commit as one tarball now (for `allocate --hydrate`), outside the
/// adaptive rule. Returns (files stored, bytes stored).
pub async fn hydrate_commit(ns: &Arc<Namespace>, repo: &RepoContext) -> Result<(u64, u64), String> {
    let expected = expected_blobs(ns, repo).await?;
    let total: u64 = expected.values().map(|e| e.size).sum();
    if total > MAX_HYDRATE_BYTES {
        return Err(format!(
            "{} is {total} bytes, more than a tarball may bring ({MAX_HYDRATE_BYTES})",
            repo.spec
        ));
    }
    hydrate(ns, repo, expected, total, Arc::new(Running::default())).await
}

/// Hydrated blobs recorded in the index per transaction.
const INDEX_BATCH: usize = 512;
/// Threads writing a tarball's files into the store.
const WRITERS: usize = 2;
/// Files read ahead of the writers (each at most [`INLINE_ABOVE`] bytes).
const QUEUE_FILES: usize = 64;
/// Files larger than this are written by the extracting thread itself, streamed.
const INLINE_ABOVE: u64 = 1 << 20;

/// Streams the commit's tarball into the store. Returns (files stored, bytes stored).
async fn hydrate(
    ns: &Arc<Namespace>,
    repo: &RepoContext,
    expected: HashMap<String, Expected>,
    total: u64,
    progress: Arc<Running>,
) -> Result<(u64, u64), String> {
    use futures_util::TryStreamExt;
    let stream = ns
        .client()
        .tarball(&repo.spec.owner, &repo.spec.repo, repo.commit.sha)
        .await
        .map_err(|e| e.to_string())?;
    let reader = tokio_util::io::StreamReader::new(stream.map_err(std::io::Error::other));
    let bridge = tokio_util::io::SyncIoBridge::new(reader);
    let limit = total + expected.len() as u64 * TAR_OVERHEAD_PER_FILE + TAR_OVERHEAD_SLACK;
    let store = Arc::clone(ns.store());
    tokio::task::spawn_blocking(move || {
        extract(&store, bridge, expected, limit, &|sha| progress.stored(sha))
    })
    .await
    .map_err(|e| format!("extraction task failed: {e}"))?
}

/// Index rows of stored blobs, written one transaction per [`INDEX_BATCH`] (a transaction
/// per file cost more than writing the file) and on drop, so an extraction that fails
/// halfway still records what it stored.
struct IndexBatch<'a> {
    store: &'a crate::store::Store,
    rows: Vec<(Sha, u64)>,
}

impl IndexBatch<'_> {
    fn push(&mut self, sha: Sha, size: u64) {
        self.rows.push((sha, size));
        if self.rows.len() >= INDEX_BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.rows.is_empty() {
            return;
        }
        if let Err(e) = self.store.index().put_blobs(&self.rows) {
            tracing::warn!(error = %e, "cannot record hydrated blobs in the index");
        }
        self.rows.clear();
    }
}

impl Drop for IndexBatch<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}

/// One file of the tarball, read into memory, for a writer thread.
struct Job {
    path: String,
    sha: Sha,
    size: u64,
    content: Vec<u8>,
}

/// Stores what a [`Job`] or an inline file produced and counts it.
struct Sink<'a> {
    batch: Mutex<IndexBatch<'a>>,
    files: AtomicU64,
    bytes: AtomicU64,
    on_stored: &'a (dyn Fn(Sha) + Sync),
}

impl Sink<'_> {
    fn done(&self, path: &str, sha: Sha, size: u64, result: Result<PathBuf, StoreError>) {
        match result {
            Ok(_) => {
                self.files.fetch_add(1, Ordering::Relaxed);
                self.bytes.fetch_add(size, Ordering::Relaxed);
                self.batch.lock().expect("batch poisoned").push(sha, size);
                (self.on_stored)(sha);
            }
            Err(e) => tracing::warn!(path, error = %e, "tarball file refused"),
        }
    }
}

fn extract(
    store: &crate::store::Store,
    source: impl std::io::Read,
    expected: HashMap<String, Expected>,
    limit: u64,
    on_stored: &(dyn Fn(Sha) + Sync),
) -> Result<(u64, u64), String> {
    use std::io::Read;
    let gz = flate2::read::GzDecoder::new(source);
    let mut archive = tar::Archive::new(gz.take(limit));
    let sink = Sink {
        batch: Mutex::new(IndexBatch {
            store,
            rows: Vec::with_capacity(INDEX_BATCH),
        }),
        files: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        on_stored,
    };
    // This thread inflates and parses the archive; small files go to writer threads,
    // which hash, write and rename them (creating files is most of the cost).
    let (jobs, queue) = std::sync::mpsc::sync_channel::<Job>(QUEUE_FILES);
    let queue = Mutex::new(queue);
    let result = std::thread::scope(|scope| {
        for _ in 0..WRITERS {
            scope.spawn(|| {
                loop {
                    let job = queue.lock().expect("queue poisoned").recv();
                    let Ok(job) = job else { break };
                    let result =
                        store.write_blob_from_reader(job.sha, job.size, &mut &job.content[..]);
                    sink.done(&job.path, job.sha, job.size, result);
                }
            });
        }
        let result = (|| -> Result<(), String> {
            for entry in archive.entries().map_err(|e| e.to_string())? {
                let mut entry = entry.map_err(|e| e.to_string())?;
                let kind = entry.header().entry_type();
                if !(kind.is_file() || kind.is_symlink()) {
                    continue;
                }
                let raw = entry.path_bytes().into_owned();
                let raw = String::from_utf8_lossy(&raw);
                // GitHub's layout: `{owner}-{repo}-{sha7}/path`; the first component is dropped.
                let Some((_, path)) = raw.split_once('/') else {
                    continue;
                };
                let Some(want) = expected.get(path) else {
                    tracing::debug!(path, "tarball entry not in the tree; skipped");
                    continue;
                };
                if kind.is_symlink() != (want.mode == Mode::Symlink)
                    || store.blob_path(want.sha, want.size).is_some()
                {
                    continue;
                }
                let content = if kind.is_symlink() {
                    entry
                        .link_name_bytes()
                        .map(|l| l.into_owned())
                        .unwrap_or_default()
                } else if want.size > INLINE_ABOVE {
                    // Big files are streamed here, never held in memory.
                    let result = store.write_blob_from_reader(want.sha, want.size, &mut entry);
                    sink.done(path, want.sha, want.size, result);
                    continue;
                } else {
                    let mut content = Vec::with_capacity(want.size as usize);
                    // One byte more than announced, so a longer file fails verification.
                    (&mut entry)
                        .take(want.size + 1)
                        .read_to_end(&mut content)
                        .map_err(|e| e.to_string())?;
                    content
                };
                let job = Job {
                    path: path.to_string(),
                    sha: want.sha,
                    size: want.size,
                    content,
                };
                if jobs.send(job).is_err() {
                    return Err("the tarball writers stopped".into());
                }
            }
            Ok(())
        })();
        // Closing the queue lets the writers finish what is queued and stop.
        drop(jobs);
        result
    });
    result?;
    Ok((
        sink.files.load(Ordering::Relaxed),
        sink.bytes.load(Ordering::Relaxed),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oid::blob_sha;
    use crate::store::Store;

    fn tarball(entries: &[(&str, &[u8], Option<&str>)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (path, content, link) in entries {
            let mut header = tar::Header::new_gnu();
            match link {
                Some(target) => {
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_size(0);
                    header.set_cksum();
                    builder.append_link(&mut header, path, target).unwrap();
                }
                None => {
                    header.set_size(content.len() as u64);
                    header.set_mode(0o644);
                    header.set_cksum();
                    // Raw path bytes: `append_data` would refuse `..`, a hostile server won't.
                    let name = path.as_bytes();
                    header.as_old_mut().name[..name.len()].copy_from_slice(name);
                    header.set_cksum();
                    builder.append(&header, *content).unwrap();
                }
            }
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    fn expect(path: &str, content: &[u8], mode: Mode) -> (String, Expected) {
        (
            path.to_string(),
            Expected {
                sha: blob_sha(content),
                size: content.len() as u64,
                mode,
            },
        )
    }

    #[test]
    fn only_content_matching_the_tree_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let expected: HashMap<String, Expected> = [
            expect("a.txt", b"right\n", Mode::File),
            expect("b.txt", b"what the tree says\n", Mode::File),
            expect("link", b"a.txt", Mode::Symlink),
        ]
        .into_iter()
        .collect();
        let gz = tarball(&[
            ("acme-api-1234567/a.txt", b"right\n", None),
            ("acme-api-1234567/b.txt", b"tampered bytes!!!!\n", None),
            ("acme-api-1234567/../../escape", b"evil\n", None),
            ("acme-api-1234567/link", b"", Some("a.txt")),
        ]);
        let (files, bytes) = extract(&store, &gz[..], expected, 1 << 20, &|_| {}).unwrap();
        assert_eq!((files, bytes), (2, 6 + 5));
        assert!(store.blob_path(blob_sha(b"right\n"), 6).is_some());
        assert!(store.blob_path(blob_sha(b"a.txt"), 5).is_some());
        assert!(
            store
                .blob_path(blob_sha(b"what the tree says\n"), 19)
                .is_none()
        );
        assert!(
            store
                .blob_path(blob_sha(b"tampered bytes!!!!\n"), 19)
                .is_none()
        );
        assert!(store.blob_path(blob_sha(b"evil\n"), 5).is_none());
        assert!(
            !dir.path().join("escape").exists()
                && !dir.path().parent().unwrap().join("escape").exists()
        );
    }

    #[test]
    fn an_oversized_archive_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let big = vec![7u8; 200_000];
        let expected: HashMap<String, Expected> =
            [expect("big", &big, Mode::File)].into_iter().collect();
        let gz = tarball(&[("top/big", &big, None)]);
        // A limit below the archive's size: the read stops there and nothing is stored.
        let result = extract(&store, &gz[..], expected, 10_000, &|_| {});
        assert!(result.is_err() || result.unwrap().0 == 0);
        assert!(store.blob_path(blob_sha(&big), big.len() as u64).is_none());
    }
}
