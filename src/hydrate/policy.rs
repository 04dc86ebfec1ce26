//! The hydration policy: when to fetch a whole commit as one tarball instead of one
//! request per file. One rule for the mount and for allocations.
//!
//! Mounts (per commit, over a sliding window of [`WINDOW`]):
//! - reading one or two files fetches just those blobs;
//! - more than `threshold` blob misses in the window hydrate the rest as a tarball;
//! - a blob miss right after a walk (at least [`WALK_DIRS`] directories of the commit
//!   listed in the window, as `ruff`, `rg` or `find -exec` do before reading) hydrates at
//!   once when the commit has more than `threshold` files. A walk alone (`ls -lR`,
//!   `find`) reads no file and fetches nothing.
//!
//! A hydration that fails is logged and readers fall back to single blobs.
//!
//! Over git's protocol (where the endpoint serves the repository) a mount never fetches
//! a whole commit: misses are batched instead ([`crate::namespace::git`]), so what moves
//! is what tools read. `allocate --hydrate` fetches the commit whole as one pack.
//!
//! Allocations (`allocate --hydrate`, [`Hydrator::fetch_all`]): more than `threshold`
//! missing files come as one tarball of the commit, fewer (and whatever the tarball did
//! not bring) blob by blob.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::error::HydrateError;
use super::tarball::{self, Expected, expected_blobs};
use crate::namespace::{Namespace, RepoContext};
use crate::oid::Sha;
use crate::remote::TreeEntry;

/// How far back activity counts.
pub const WINDOW: Duration = Duration::from_secs(10);
/// Directories listed in the window that make a walk.
pub const WALK_DIRS: usize = 8;
/// Blob misses in the window after which a commit is fetched whole (`--hydrate-threshold`
/// on mounts; allocations use it too): 64 single requests at 20 ms latency cost about as
/// much as one tarball of a mid-sized repository (scripts/bench-mount.sh).
pub const DEFAULT_THRESHOLD: usize = 64;
/// Blobs fetched at once when fetching blob by blob.
const BLOB_FETCHES: usize = 16;
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
    counters: Arc<HydrationCounters>,
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

impl Hydrator {
    pub fn new(threshold: usize) -> Hydrator {
        Hydrator {
            threshold,
            runtime: tokio::runtime::Handle::try_current().ok(),
            activity: Mutex::new(HashMap::new()),
            running: Mutex::new(HashMap::new()),
            counters: Arc::new(HydrationCounters::default()),
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
        if self.threshold == 0 || git_serves(ns, repo) {
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

    /// Fetches every blob in `blobs` of `repo`'s commit now (`allocate --hydrate`): the
    /// commit's tarball when more than `threshold` of them are missing, then blob by blob
    /// whatever is still missing. The first failure is returned as it is.
    pub async fn fetch_all(
        &self,
        ns: &Arc<Namespace>,
        repo: &Arc<RepoContext>,
        blobs: &[TreeEntry],
    ) -> Result<(), HydrateError> {
        use futures_util::StreamExt;
        let missing = |entries: Vec<TreeEntry>| -> Vec<TreeEntry> {
            entries
                .into_iter()
                .filter(|e| !ns.store().has_blob(e.sha, e.size))
                .collect()
        };
        let mut left = missing(blobs.to_vec());
        let mut tarball = self.threshold > 0 && left.len() > self.threshold;
        if let Some(git) = ns.git().filter(|_| git_serves(ns, repo))
            && tarball
        {
            tarball = false;
            // The whole commit in one pack (depth 1, no filter).
            let spec = crate::remote::git::FetchSpec::whole(repo.commit.sha);
            match git.fetch(&repo.spec.owner, &repo.spec.repo, spec).await {
                Ok(pack) => {
                    self.counters.hydrations.fetch_add(1, Ordering::Relaxed);
                    self.counters
                        .files
                        .fetch_add(pack.blobs.len() as u64, Ordering::Relaxed);
                    self.counters.bytes.fetch_add(pack.bytes, Ordering::Relaxed);
                }
                // Over REST instead: the tarball, as without git.
                Err(e) if git.falls_back(&repo.spec.owner, &repo.spec.repo, &e) => tarball = true,
                Err(e) => return Err(e.into()),
            }
            left = missing(left);
        }
        if tarball {
            let expected = expected_blobs(ns, repo).await?;
            let total: u64 = expected.values().map(|e| e.size).sum();
            if total > MAX_HYDRATE_BYTES {
                return Err(HydrateError::TooBig {
                    repo: repo.spec.to_string(),
                    bytes: total,
                    max: MAX_HYDRATE_BYTES,
                });
            }
            let running = Arc::new(Running::default());
            self.counters
                .run_checked(ns, repo, expected, total, &running)
                .await?;
            left = missing(left);
        }
        let mut fetches = futures_util::stream::iter(left)
            .map(|entry| async move {
                ns.fetch_blob(&repo.spec, Some(repo.commit.sha), &entry)
                    .await
            })
            .buffer_unordered(BLOB_FETCHES);
        while let Some(result) = fetches.next().await {
            result?;
        }
        Ok(())
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
struct HydrationCounters {
    hydrations: AtomicU64,
    failed: AtomicU64,
    files: AtomicU64,
    bytes: AtomicU64,
}

impl HydrationCounters {
    /// A background hydration (the mount's): its failure is logged and readers fall back
    /// to single blobs.
    async fn run(
        &self,
        ns: &Arc<Namespace>,
        repo: &Arc<RepoContext>,
        expected: HashMap<String, Expected>,
        total: u64,
        progress: &Arc<Running>,
    ) {
        if let Err(e) = self.run_checked(ns, repo, expected, total, progress).await {
            tracing::warn!(repo = %repo.spec, error = %e, "hydration failed; reading files one by one");
        }
    }

    /// Fetches the commit's tarball into the store and counts what it did.
    async fn run_checked(
        &self,
        ns: &Arc<Namespace>,
        repo: &Arc<RepoContext>,
        expected: HashMap<String, Expected>,
        total: u64,
        progress: &Arc<Running>,
    ) -> Result<(u64, u64), HydrateError> {
        let started = Instant::now();
        let progress = Arc::clone(progress);
        let on_stored = Arc::new(move |sha| progress.stored(sha));
        match tarball::fetch(ns, repo, expected, total, on_stored).await {
            Ok((files, bytes)) => {
                self.hydrations.fetch_add(1, Ordering::Relaxed);
                self.files.fetch_add(files, Ordering::Relaxed);
                self.bytes.fetch_add(bytes, Ordering::Relaxed);
                tracing::info!(repo = %repo.spec, files, bytes, ms = started.elapsed().as_millis() as u64, "hydrated from a tarball");
                Ok((files, bytes))
            }
            Err(e) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                Err(e)
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

/// Whether `repo`'s content comes over git (batched misses: no whole-commit fetches).
fn git_serves(ns: &Namespace, repo: &RepoContext) -> bool {
    ns.git()
        .is_some_and(|g| g.serves(&repo.spec.owner, &repo.spec.repo))
}
