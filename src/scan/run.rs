//! The scan pipeline.
//!
//! For each selected repository: resolve its default branch (a conditional poll, free
//! when nothing moved); if a result for that commit and extractor version is stored,
//! reuse it (no file is read); otherwise list its trees (one request naming the commit), read the target files through the
//! store (anything the mount already fetched is free, and the scan warms the mount),
//! follow requirement includes, extract, and store the result keyed by commit. Each
//! repo's outcome is logged in the index as it finishes, so a killed scan resumes where it
//! stopped; failures are recorded with their reason and never stop the scan.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::Serialize;

use super::filter::RepoFilter;
use crate::codex::{self, Codex};
use crate::namespace::{Namespace, NamespaceError, RepoSpec};
use crate::oid::Sha;
use crate::patterns::{self, EXTRACTOR_VERSION, FileError, FileFilter, RepoInput, RepoPatterns};
use crate::remote::{Mode, RepoInfo};
use crate::store::{RepoScanRow, StoreError};

/// Target files larger than this are not read (no config file is this large).
/// Where a scan's trees came from.
pub(super) enum Listing {
    /// The REST recursive listing, in the index, from this root tree.
    Rest(Sha),
    /// Every tree of the commit over git, with the root's id.
    Git {
        root: Sha,
        trees: std::collections::HashMap<Sha, crate::store::PackedTree>,
    },
}

pub const MAX_SCAN_FILE: u64 = 1 << 20;
/// Rounds of following requirement includes (`-r other.txt`).
const MAX_FOLLOW_ROUNDS: usize = 5;
/// Repositories scanned at once by default (`--parallel`): with `--concurrency` 16, the
/// requests of 16 repos (a poll, a tree, a few blobs each) keep the bound busy.
pub const DEFAULT_PARALLEL: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error(transparent)]
    Namespace(#[from] NamespaceError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("`{0}` has not been scanned yet: run `heimdall github scan-org {0}`")]
    NoScan(String),
}

impl ScanError {
    /// The cache's disk (or quota) is full: a local failure, not the repository's.
    pub fn is_disk_full(&self) -> bool {
        match self {
            ScanError::Namespace(NamespaceError::Store(e)) => e.is_disk_full(),
            ScanError::Store(e) => e.is_disk_full(),
            ScanError::Namespace(_) | ScanError::NoScan(_) => false,
        }
    }
}

/// What to scan and how.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    pub org: String,
    pub filter: RepoFilter,
    /// Only target files matching these globs (`--files`).
    pub files: Option<FileFilter>,
    pub parallel: usize,
    /// Reuse stored per-repo results only when younger than this (`--cache-days`);
    /// `None` reuses any result for the same commit.
    pub max_result_age: Option<Duration>,
}

/// Progress, for a bar on a terminal or log lines.
#[derive(Debug, Clone)]
pub enum ScanEvent {
    Started {
        total: usize,
        resumed: bool,
        offline: bool,
    },
    Repo {
        repo: String,
        done: usize,
        total: usize,
        cached: bool,
        error: Option<String>,
        /// Requests sent by this scan so far.
        requests: u64,
        /// The core rate limit left, as GitHub last reported it.
        rate_limit_remaining: Option<u64>,
    },
}

/// A repo that could not be scanned, and why.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FailedRepo {
    pub repo: String,
    pub reason: String,
}

/// `scan-status --json` and `/.status/<org>.json`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ScanStatus {
    pub organization: String,
    /// `running` (or interrupted: the next scan resumes it), `finished`.
    pub state: String,
    pub run: i64,
    pub repos_total: u64,
    pub repos_done: u64,
    pub repos_failed: u64,
    pub failed: Vec<FailedRepo>,
    /// Repos whose files partly failed to parse: (repo, files).
    pub parse_errors: BTreeMap<String, Vec<String>>,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    /// Requests sent to GitHub by this run (304 revalidations included).
    pub requests_used: u64,
    /// Share of successfully scanned repos whose result came from the cache.
    pub cache_hit_rate: f64,
    pub rate_limit_remaining: Option<u64>,
    /// The API was unreachable: results are the last ones cached.
    pub offline: bool,
}

pub struct Scanner {
    pub(super) ns: Arc<Namespace>,
}

struct Outcome {
    commit: Sha,
    cached: bool,
}

impl Scanner {
    /// `ns` should poll refs on every scan (a ref TTL of zero): a scan wants today's commits.
    pub fn new(ns: Arc<Namespace>) -> Scanner {
        Scanner { ns }
    }

    /// Scans an organization (resuming an interrupted scan of it) and returns its status.
    pub async fn scan_organization(
        &self,
        options: &ScanOptions,
        progress: &(dyn Fn(ScanEvent) + Send + Sync),
    ) -> Result<ScanStatus, ScanError> {
        let org = options.org.to_ascii_lowercase();
        let index = self.ns.store().index();
        let sent_before = self.ns.client().counts().sent;
        let (repos, offline) = self.list(&org).await?;
        let now = crate::clock::now();
        let selected: Vec<RepoInfo> = repos
            .into_iter()
            .filter(|r| options.filter.accepts(r, now))
            .collect();
        let (run, resumed) = index.begin_scan(&org, &format!("{options:?}"))?;
        index.set_scan_total(&org, selected.len() as u64, offline)?;
        let already: std::collections::HashSet<String> = if resumed {
            index
                .repo_scans(&org)?
                .into_iter()
                .filter(|r| r.state == "done")
                .map(|r| r.repo)
                .collect()
        } else {
            Default::default()
        };
        progress(ScanEvent::Started {
            total: selected.len(),
            resumed,
            offline,
        });
        let total = selected.len();
        let done = AtomicU64::new(already.len() as u64);
        // A full cache disk is nothing the repositories did: it stops the scan (which
        // stays resumable) instead of marking every repository after it failed.
        let stopped: std::sync::Mutex<Option<ScanError>> = std::sync::Mutex::new(None);
        let todo: Vec<&RepoInfo> = selected
            .iter()
            .filter(|r| !already.contains(&r.name))
            .collect();
        futures_util::stream::iter(todo)
            .for_each_concurrent(options.parallel.max(1), |repo| {
                let (org, done, stopped) = (&org, &done, &stopped);
                async move {
                    if stopped.lock().expect("scan poisoned").is_some() {
                        return;
                    }
                    let started = Instant::now();
                    let result = self.scan_repo(org, repo, options).await;
                    let result = match result {
                        Err(e) if e.is_disk_full() => {
                            tracing::warn!(repo = %repo.name, error = %e, "the cache disk is full; the scan stops");
                            stopped.lock().expect("scan poisoned").get_or_insert(e);
                            return;
                        }
                        other => other.map_err(|e| reason(&e)),
                    };
                    let (row, error) = match &result {
                        Ok(outcome) => (
                            RepoScanRow {
                                repo: repo.name.clone(),
                                state: "done".into(),
                                commit: Some(outcome.commit.to_hex()),
                                error: None,
                                cached: outcome.cached,
                            },
                            None,
                        ),
                        Err(reason) => (
                            RepoScanRow {
                                repo: repo.name.clone(),
                                state: "failed".into(),
                                commit: None,
                                error: Some(reason.clone()),
                                cached: false,
                            },
                            Some(reason.clone()),
                        ),
                    };
                    if let Err(e) = index.record_repo_scan(org, run, &row) {
                        tracing::warn!(repo = %repo.name, error = %e, "cannot record the repo's scan");
                    }
                    let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                    tracing::debug!(repo = %repo.name, ms = started.elapsed().as_millis() as u64, ?error, "scanned");
                    progress(ScanEvent::Repo {
                        repo: repo.name.clone(),
                        done: n as usize,
                        total,
                        cached: row.cached,
                        error,
                        requests: self.ns.client().counts().sent - sent_before,
                        rate_limit_remaining: self.core_remaining(),
                    });
                }
            })
            .await;
        index.add_scan_requests(&org, self.ns.client().counts().sent - sent_before)?;
        if let Some(e) = stopped.into_inner().expect("scan poisoned") {
            return Err(e);
        }
        index.finish_scan(&org)?;
        self.status(&org)?.ok_or(ScanError::NoScan(org))
    }

    /// The org's repositories, or the last known listing when GitHub is unreachable.
    /// The owner's repositories, and whether they came from the cache because GitHub is
    /// unreachable (the last listing is kept for that).
    pub async fn list(&self, org: &str) -> Result<(Vec<RepoInfo>, bool), ScanError> {
        let index = self.ns.store().index();
        let listed = async {
            let owner = self.ns.owner(org).await?;
            Ok::<_, NamespaceError>(self.ns.client().list_repos(&owner).await?)
        }
        .await;
        match listed {
            Ok(repos) => {
                index.put_repos(org, &repos)?;
                Ok((repos, false))
            }
            Err(NamespaceError::Remote(e)) if e.is_transient() => {
                let cached = index.repos(org)?;
                if cached.is_empty() {
                    return Err(NamespaceError::Remote(e).into());
                }
                tracing::warn!(org, error = %e, "GitHub is unreachable; serving the last scan results from cache");
                Ok((cached, true))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn scan_repo(
        &self,
        org: &str,
        repo: &RepoInfo,
        options: &ScanOptions,
    ) -> Result<Outcome, ScanError> {
        let spec = RepoSpec::new(org, &repo.name, None)?;
        let commit = self.ns.resolve_sha(&spec).await?;
        let index = self.ns.store().index();
        if let Some((_, at)) = index.repo_patterns(org, &repo.name, commit, EXTRACTOR_VERSION)? {
            let age = crate::clock::now() - at;
            let fresh = options
                .max_result_age
                .is_none_or(|max| age >= 0 && (age as u64) < max.as_secs());
            if fresh {
                return Ok(Outcome {
                    commit,
                    cached: true,
                });
            }
        }
        // Another machine may have scanned this commit: its patterns (checksum held)
        // cost no tree or blob request.
        if let Some(shared) = self.ns.shared()
            && let Some(json) = shared
                .patterns(org, &repo.name, commit, EXTRACTOR_VERSION)
                .await
        {
            index.put_repo_patterns(org, &repo.name, commit, EXTRACTOR_VERSION, &json)?;
            return Ok(Outcome {
                commit,
                cached: true,
            });
        }
        let listing = self.listing(&spec, commit).await?;
        let patterns = self.extract(&spec, repo, listing, options).await?;
        let json = serde_json::to_string(&patterns).expect("patterns serialize");
        index.put_repo_patterns(org, &repo.name, commit, EXTRACTOR_VERSION, &json)?;
        if let Some(shared) = self.ns.shared() {
            shared.offer_patterns(org, &repo.name, commit, EXTRACTOR_VERSION, &json);
        }
        Ok(Outcome {
            commit,
            cached: false,
        })
    }

    /// The commit's trees: over git, all of them in one fetch (free); else the REST
    /// recursive listing (one counted request), without the commit object (a scan needs
    /// no commit time).
    pub(super) async fn listing(
        &self,
        spec: &RepoSpec,
        commit: Sha,
    ) -> Result<Listing, NamespaceError> {
        if let Some(git) = self.ns.git_for(&spec.owner, &spec.repo) {
            match git.listing(&spec.owner, &spec.repo, commit).await {
                Ok((root, trees)) => return Ok(Listing::Git { root, trees }),
                Err(e) if git.falls_back(&spec.owner, &spec.repo, &e) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Listing::Rest(self.ns.commit_root(spec, commit).await?))
    }

    /// One tree of a listing, as entries with their sizes where known.
    pub(super) async fn tree_of(
        &self,
        spec: &RepoSpec,
        listing: &Listing,
        sha: Sha,
    ) -> Result<Vec<crate::remote::TreeEntry>, NamespaceError> {
        match listing {
            Listing::Rest(_) => Ok(self.ns.tree(spec, sha).await?.entries.clone()),
            Listing::Git { trees, .. } => {
                let tree = trees.get(&sha).ok_or_else(|| {
                    NamespaceError::Remote(crate::remote::RemoteError::Corrupt {
                        what: format!("the trees of {spec}"),
                        why: format!("tree {sha} is not among them"),
                    })
                })?;
                Ok(tree
                    .entries
                    .iter()
                    .map(|e| crate::remote::TreeEntry {
                        name: e.name.clone(),
                        mode: e.mode,
                        sha: e.sha,
                        // Unknown until read (no blob came with the trees).
                        size: e.size.unwrap_or(0),
                    })
                    .collect())
            }
        }
    }

    /// Lists the tree, reads the target files and extracts.
    async fn extract(
        &self,
        spec: &RepoSpec,
        repo: &RepoInfo,
        listing: Listing,
        options: &ScanOptions,
    ) -> Result<RepoPatterns, NamespaceError> {
        let mut blobs: BTreeMap<String, crate::remote::TreeEntry> = BTreeMap::new();
        let mut root_entries = Vec::new();
        let root = match &listing {
            Listing::Rest(root) | Listing::Git { root, .. } => *root,
        };
        let mut stack = vec![(root, String::new())];
        while let Some((sha, prefix)) = stack.pop() {
            let entries = self.tree_of(spec, &listing, sha).await?;
            for entry in &entries {
                let path = format!("{prefix}{}", entry.name);
                if prefix.is_empty() {
                    root_entries.push((
                        entry.name.clone(),
                        matches!(entry.mode, Mode::Tree | Mode::Submodule),
                    ));
                }
                match entry.mode {
                    Mode::Tree => stack.push((entry.sha, format!("{path}/"))),
                    Mode::File | Mode::Executable => {
                        blobs.insert(path, entry.clone());
                    }
                    Mode::Symlink | Mode::Submodule => {}
                }
            }
        }
        let all_paths: Vec<String> = blobs.keys().cloned().collect();
        let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        let mut skipped = Vec::new();
        let mut wanted = patterns::target_paths(&all_paths, options.files.as_ref());
        // Every path tried once (read or skipped as too large), so follow-ups that name
        // an already tried file do not read or report it again.
        let mut tried = std::collections::HashSet::new();
        fn input<'a>(
            root_entries: &'a [(String, bool)],
            all_paths: &'a [String],
            files: &'a BTreeMap<String, Vec<u8>>,
            repo: &'a RepoInfo,
        ) -> RepoInput<'a> {
            RepoInput {
                root_entries,
                all_paths,
                files,
                license_spdx: repo.license.as_ref().and_then(|l| l.spdx_id.as_deref()),
                language: repo.language.as_deref(),
            }
        }
        for _ in 0..=MAX_FOLLOW_ROUNDS {
            let new: Vec<String> = wanted
                .into_iter()
                .filter(|p| blobs.contains_key(p) && tried.insert(p.clone()))
                .collect();
            if new.is_empty() {
                break;
            }
            if let Listing::Git { .. } = &listing {
                // Over git: the round's files in one fetch; sizes are known once they came.
                let shas: Vec<Sha> = new.iter().map(|p| blobs[p].sha).collect();
                let git = self.ns.git().expect("a git listing came from git");
                let mut read = git.read_blobs(&spec.owner, &spec.repo, &shas).await?;
                for path in &new {
                    match read.remove(&blobs[path].sha) {
                        Some(bytes) if bytes.len() as u64 <= MAX_SCAN_FILE => {
                            files.insert(path.clone(), bytes);
                        }
                        _ => skipped.push(path.clone()),
                    }
                }
                wanted = patterns::follow_ups(&input(&root_entries, &all_paths, &files, repo));
                continue;
            }
            let reads = futures_util::future::join_all(new.iter().map(|path| {
                let entry = &blobs[path];
                async move {
                    if entry.size > MAX_SCAN_FILE {
                        return Ok((path.clone(), None));
                    }
                    let bytes = self.ns.blob_bytes(spec, entry, path).await?;
                    Ok::<_, NamespaceError>((path.clone(), Some(bytes)))
                }
            }))
            .await;
            for read in reads {
                match read? {
                    (path, Some(bytes)) => {
                        files.insert(path, bytes);
                    }
                    (path, None) => skipped.push(path),
                }
            }
            wanted = patterns::follow_ups(&input(&root_entries, &all_paths, &files, repo));
        }
        let mut patterns = patterns::extract(&input(&root_entries, &all_paths, &files, repo));
        for path in skipped {
            patterns.errors.push(FileError {
                path,
                message: format!("larger than {MAX_SCAN_FILE} bytes; not read"),
            });
        }
        Ok(patterns)
    }

    /// The stored result of every repo done in the org's latest scan.
    pub fn cached_patterns(&self, org: &str) -> Result<Vec<(String, RepoPatterns)>, ScanError> {
        let index = self.ns.store().index();
        if index.scan(org)?.is_none() {
            return Err(ScanError::NoScan(org.to_string()));
        }
        let mut out = Vec::new();
        for row in index.repo_scans(org)? {
            let Some(commit) = row.commit.as_deref().and_then(|c| Sha::parse(c).ok()) else {
                continue;
            };
            if let Some((json, _)) =
                index.repo_patterns(org, &row.repo, commit, EXTRACTOR_VERSION)?
                && let Ok(patterns) = serde_json::from_str(&json)
            {
                out.push((row.repo, patterns));
            }
        }
        Ok(out)
    }

    /// The codex export of the org's latest scan, dated `scan_date` (YYYY-MM-DD).
    pub fn export_codex(&self, org: &str, scan_date: &str) -> Result<Codex, ScanError> {
        let repos = self.cached_patterns(org)?;
        Ok(codex::aggregate(org, scan_date, &repos))
    }

    fn core_remaining(&self) -> Option<u64> {
        self.ns
            .client()
            .rate_limits()
            .into_iter()
            .find(|l| l.resource == "core")
            .map(|l| l.remaining)
    }

    /// The org's latest scan, if any.
    pub fn status(&self, org: &str) -> Result<Option<ScanStatus>, ScanError> {
        let index = self.ns.store().index();
        let Some(scan) = index.scan(org)? else {
            return Ok(None);
        };
        let rows = index.repo_scans(org)?;
        let done: Vec<_> = rows.iter().filter(|r| r.state == "done").collect();
        let failed: Vec<FailedRepo> = rows
            .iter()
            .filter(|r| r.state == "failed")
            .map(|r| FailedRepo {
                repo: r.repo.clone(),
                reason: r.error.clone().unwrap_or_default(),
            })
            .collect();
        let mut parse_errors = BTreeMap::new();
        for (repo, patterns) in self.cached_patterns(org).unwrap_or_default() {
            if !patterns.errors.is_empty() {
                parse_errors.insert(
                    repo,
                    patterns.errors.iter().map(|e| e.path.clone()).collect(),
                );
            }
        }
        // Over repos scanned: a failure (an empty repo, say) is neither a hit nor a miss.
        let hits = done.iter().filter(|r| r.cached).count();
        let scanned = done.len();
        Ok(Some(ScanStatus {
            organization: scan.org,
            state: scan.state,
            run: scan.run,
            repos_total: scan.total,
            repos_done: done.len() as u64,
            repos_failed: failed.len() as u64,
            failed,
            parse_errors,
            started_at: scan.started_at,
            finished_at: scan.finished_at,
            requests_used: scan.requests,
            cache_hit_rate: if scanned == 0 {
                0.0
            } else {
                hits as f64 / scanned as f64
            },
            rate_limit_remaining: self.core_remaining(),
            offline: scan.offline,
        }))
    }
}

/// A failure reason for the status listing: the error's own words.
fn reason(error: &ScanError) -> String {
    error.to_string()
}
