//! `owner/repo@ref/path` -> commits, trees and blobs, resolved lazily through the store.
//!
//! This is the one place that knows how GitHub paths map onto git objects. Everything
//! addressed by a SHA (commits, trees, blobs) is cached forever; only refs expire, after
//! `ref_ttl`, and are then revalidated with a conditional request. When GitHub cannot be
//! reached, the last known commit of a ref is used and the caller is told so in the log.
//! Blob misses go over git's protocol, batched ([`git`]), where the endpoint serves it,
//! and over REST otherwise.

pub mod git;
mod listing;
mod open;
pub mod probes;

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use lru::LruCache;

use crate::flight::SingleFlight;
use crate::oid::Sha;
use crate::remote::{CommitInfo, GitHubClient, Mode, Owner, RefPoll, RemoteError, Tree, TreeEntry};
use crate::store::{BlobData, Store, StoreError};

/// How long a resolved branch is trusted before it is polled again (`--ref-ttl`).
pub const DEFAULT_REF_TTL: Duration = Duration::from_secs(60);
/// Parsed trees kept in memory; each is one directory level, so this is cheap.
const TREE_CACHE_ENTRIES: usize = 4096;
/// Attempts at downloading one blob when the bytes break off or do not hash right.
const BLOB_ATTEMPTS: u32 = 3;
/// The name GitHub resolves to the default branch.
pub const DEFAULT_REF: &str = "HEAD";

#[derive(Debug, Clone, thiserror::Error)]
pub enum NamespaceError {
    #[error(transparent)]
    Remote(#[from] RemoteError),
    #[error(transparent)]
    Store(Arc<StoreError>),
    #[error("`{path}` does not exist in {repo}")]
    NoSuchPath { repo: String, path: String },
    #[error("`{path}` in {repo} is not a file")]
    NotAFile { repo: String, path: String },
    #[error("`{path}` in {repo} is not a directory")]
    NotADirectory { repo: String, path: String },
    #[error("{0}")]
    InvalidSpec(String),
}

impl From<StoreError> for NamespaceError {
    /// A pack's answer that failed on the network is the remote failure it is (so it is
    /// retried and mapped as one), not a store failure.
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Remote(e) => NamespaceError::Remote(e),
            other => NamespaceError::Store(Arc::new(other)),
        }
    }
}

/// `owner/repo[@ref]`, validated.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepoSpec {
    pub owner: String,
    pub repo: String,
    /// `None` means the default branch.
    pub reference: Option<String>,
}

impl std::fmt::Display for RepoSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.owner, self.repo)?;
        if let Some(reference) = &self.reference {
            write!(f, "@{reference}")?;
        }
        Ok(())
    }
}

/// GitHub logins: alphanumerics and single hyphens, at most 39 characters.
pub fn valid_owner(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 39
        && !name.starts_with('-')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// GitHub repository names: alphanumerics, `-`, `_`, `.`; at most 100; not `.` or `..`.
pub fn valid_repo(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

/// A branch, tag or commit name as git allows it (`git check-ref-format`, loosely).
pub fn valid_ref(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('-')
        && !name.starts_with('/')
        && !name.ends_with('/')
        && !name.ends_with(".lock")
        && !name.contains("..")
        && !name.contains("//")
        && !name.contains("@{")
        && !name
            .chars()
            .any(|c| c.is_control() || matches!(c, ' ' | '~' | '^' | ':' | '?' | '*' | '[' | '\\'))
}

impl RepoSpec {
    /// Parses `owner/repo` or `owner/repo@ref` (a `/` in a ref is written `%2F`).
    pub fn parse(text: &str) -> Result<RepoSpec, NamespaceError> {
        let (owner, rest) = text.split_once('/').ok_or_else(|| {
            NamespaceError::InvalidSpec(format!("`{text}` is not OWNER/REPO[@REF]"))
        })?;
        let (repo, reference) = split_repo_name(rest);
        Self::new(owner, repo, reference)
    }

    pub fn new(
        owner: &str,
        repo: &str,
        reference: Option<String>,
    ) -> Result<RepoSpec, NamespaceError> {
        if !valid_owner(owner) {
            return Err(NamespaceError::InvalidSpec(format!(
                "`{owner}` is not a valid GitHub owner name"
            )));
        }
        if !valid_repo(repo) {
            return Err(NamespaceError::InvalidSpec(format!(
                "`{repo}` is not a valid repository name"
            )));
        }
        if let Some(reference) = reference.as_deref().filter(|r| !valid_ref(r)) {
            return Err(NamespaceError::InvalidSpec(format!(
                "`{reference}` is not a valid git ref"
            )));
        }
        Ok(RepoSpec {
            owner: owner.to_string(),
            repo: repo.to_string(),
            reference,
        })
    }

    /// The ref as sent to GitHub.
    pub fn ref_name(&self) -> &str {
        self.reference.as_deref().unwrap_or(DEFAULT_REF)
    }
}

/// A repository at one commit: what the content under a repo root or an allocation
/// belongs to (for mtimes, github.com links and hydration).
#[derive(Debug, Clone)]
pub struct RepoContext {
    pub spec: RepoSpec,
    pub commit: CommitInfo,
}

/// Splits a repo name as written in a path, `repo` or `repo@ref` (a `/` in the ref written
/// `%2F`), into the repo and the decoded ref.
pub fn split_repo_name(name: &str) -> (&str, Option<String>) {
    match name.split_once('@') {
        Some((repo, reference)) => (
            repo,
            Some(reference.replace("%2F", "/").replace("%2f", "/")),
        ),
        None => (name, None),
    }
}

/// Splits `owner/repo[@ref][/path]` into the repo and the path components.
pub fn parse_target(text: &str) -> Result<(RepoSpec, Vec<String>), NamespaceError> {
    let mut parts = text.splitn(3, '/');
    let owner = parts.next().unwrap_or_default();
    let repo = parts.next().ok_or_else(|| {
        NamespaceError::InvalidSpec(format!("`{text}` is not OWNER/REPO[@REF][/PATH]"))
    })?;
    let spec = RepoSpec::parse(&format!("{owner}/{repo}"))?;
    let path = parts
        .next()
        .map(split_path)
        .transpose()?
        .unwrap_or_default();
    Ok((spec, path))
}

/// Splits a repository path into components, refusing `..` and empty components.
pub fn split_path(path: &str) -> Result<Vec<String>, NamespaceError> {
    let mut out = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => continue,
            ".." => {
                return Err(NamespaceError::InvalidSpec(format!(
                    "`{path}`: `..` is not allowed"
                )));
            }
            p if p.contains('\0') => {
                return Err(NamespaceError::InvalidSpec(
                    "a path must not contain NUL".into(),
                ));
            }
            p => out.push(p.to_string()),
        }
    }
    Ok(out)
}

/// Whether a ref names a commit by its full id (immutable, never polled).
fn full_sha(reference: &str) -> Option<Sha> {
    Sha::parse(reference).ok()
}

/// Cache hit/miss counter names in the index.
pub const BLOB_HITS: &str = "blob_hits";
pub const BLOB_MISSES: &str = "blob_misses";

pub struct Namespace {
    client: Arc<dyn GitHubClient>,
    store: Arc<Store>,
    ref_ttl: Duration,
    trees: Mutex<LruCache<Sha, Arc<Tree>>>,
    tree_flights: SingleFlight<Sha, Result<(), NamespaceError>>,
    ref_flights: SingleFlight<(String, String, String), Result<Sha, NamespaceError>>,
    blob_flights: SingleFlight<Sha, Result<(), NamespaceError>>,
    git: Option<Arc<git::GitFetcher>>,
    shared: Option<Arc<crate::shared::SharedCache>>,
}

impl Namespace {
    pub fn new(client: Arc<dyn GitHubClient>, store: Arc<Store>, ref_ttl: Duration) -> Namespace {
        Namespace {
            client,
            store,
            ref_ttl,
            trees: Mutex::new(LruCache::new(
                NonZeroUsize::new(TREE_CACHE_ENTRIES).expect("non-zero"),
            )),
            tree_flights: SingleFlight::default(),
            ref_flights: SingleFlight::default(),
            blob_flights: SingleFlight::default(),
            git: None,
            shared: None,
        }
    }

    /// The same namespace reading `shared` before GitHub and filling it after.
    pub fn with_shared(mut self, shared: Option<Arc<crate::shared::SharedCache>>) -> Namespace {
        self.shared = shared;
        self
    }

    /// The shared cache, if one is configured.
    pub fn shared(&self) -> Option<&Arc<crate::shared::SharedCache>> {
        self.shared.as_ref()
    }

    /// The same namespace with blob misses fetched over git where `fetcher` serves them.
    pub fn with_git(mut self, fetcher: Option<Arc<git::GitFetcher>>) -> Namespace {
        self.git = fetcher;
        self
    }

    /// Whether GitHub is out of reach: the last REST request got no answer, and so did the
    /// last git fetch (or none was made).
    pub fn offline(&self) -> bool {
        let rest = self.client.counts().unreachable;
        match &self.git {
            Some(git) if git.remote().counts().requests > 0 => {
                rest && git.remote().counts().unreachable
            }
            _ => rest,
        }
    }

    /// The git fetcher, if content may come over git.
    pub fn git(&self) -> Option<&Arc<git::GitFetcher>> {
        self.git.as_ref()
    }

    /// The git fetcher, if content of `owner/repo` comes over git (it serves the
    /// repository: the endpoint has not refused it).
    pub fn git_for(&self, owner: &str, repo: &str) -> Option<&Arc<git::GitFetcher>> {
        self.git.as_ref().filter(|g| g.serves(owner, repo))
    }

    pub fn client(&self) -> &Arc<dyn GitHubClient> {
        &self.client
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// An owner (organization or user), from the index when known.
    pub async fn owner(&self, login: &str) -> Result<Owner, NamespaceError> {
        if !valid_owner(login) {
            return Err(NamespaceError::InvalidSpec(format!(
                "`{login}` is not a valid GitHub owner name"
            )));
        }
        if let Some(owner) = self.store.index().owner(login)? {
            return Ok(owner);
        }
        let owner = self.client.owner(login).await?;
        self.store.index().put_owner(&owner)?;
        Ok(owner)
    }

    /// The commit `spec` names now (within `ref_ttl`).
    pub async fn resolve(&self, spec: &RepoSpec) -> Result<CommitInfo, NamespaceError> {
        let sha = self.resolve_sha(spec).await?;
        self.commit(spec, sha).await
    }

    /// The commit SHA `spec` names now (within `ref_ttl`): a conditional poll, free when
    /// nothing moved.
    pub async fn resolve_sha(&self, spec: &RepoSpec) -> Result<Sha, NamespaceError> {
        let name = spec.ref_name().to_string();
        if let Some(sha) = full_sha(&name) {
            return Ok(sha);
        }
        let client = Arc::clone(&self.client);
        let store = Arc::clone(&self.store);
        let ttl = self.ref_ttl;
        let spec = spec.clone();
        let git = self.git.clone();
        let key = (
            spec.owner.to_ascii_lowercase(),
            spec.repo.to_ascii_lowercase(),
            name,
        );
        self.ref_flights
            .run(key, move || async move {
                resolve_ref(&*client, git.as_deref(), &store, &spec, ttl).await
            })
            .await
    }

    /// Makes the next resolution of `reference` (and of the default branch, which it may
    /// be) in `owner/repo` poll GitHub instead of trusting the index for `ref_ttl`: what a
    /// push webhook announces.
    pub fn expire_ref(
        &self,
        owner: &str,
        repo: &str,
        reference: &str,
    ) -> Result<(), NamespaceError> {
        Ok(self
            .store
            .index()
            .expire_refs(owner, repo, &[reference, DEFAULT_REF])?)
    }

    /// A commit's tree and time, cached forever.
    pub async fn commit(&self, spec: &RepoSpec, sha: Sha) -> Result<CommitInfo, NamespaceError> {
        if let Some(commit) = self.store.index().commit(sha)? {
            return Ok(commit);
        }
        if let Some(shared) = &self.shared
            && let Some(commit) = shared.commit(sha).await
        {
            self.store.index().put_commit(&commit)?;
            return Ok(commit);
        }
        if let Some(git) = self.git_for(&spec.owner, &spec.repo) {
            // The commit object over git (free), verified by its id like any object.
            match git.commit(&spec.owner, &spec.repo, sha).await {
                Ok(commit) => {
                    self.store.index().put_commit(&commit)?;
                    return Ok(commit);
                }
                Err(e) if git.falls_back(&spec.owner, &spec.repo, &e) => {}
                Err(e) => return Err(e),
            }
        }
        let commit = self.client.commit(&spec.owner, &spec.repo, sha).await?;
        self.store.index().put_commit(&commit)?;
        Ok(commit)
    }

    /// The root tree of `commit`: from its stored commit object, or with one trees request
    /// that brings every tree of the commit (and no commit object: its time is unknown, so
    /// nothing is stored for the commit itself).
    pub async fn commit_root(&self, spec: &RepoSpec, commit: Sha) -> Result<Sha, NamespaceError> {
        if let Some(known) = self.store.index().commit(commit)? {
            return Ok(known.tree);
        }
        let (root, trees) = self.commit_listing(spec, commit).await?;
        self.store.index().put_trees(&trees)?;
        Ok(root)
    }

    /// Tree `sha` of `spec`'s repository: from memory, the index, or GitHub (which
    /// brings every tree below it in the same request, when GitHub does not truncate).
    pub async fn tree(&self, spec: &RepoSpec, sha: Sha) -> Result<Arc<Tree>, NamespaceError> {
        if let Some(tree) = self.cached_tree(sha)? {
            return Ok(tree);
        }
        let client = Arc::clone(&self.client);
        let store = Arc::clone(&self.store);
        let git = self.git.clone();
        let (owner, repo) = (spec.owner.clone(), spec.repo.clone());
        self.tree_flights
            .run(sha, move || async move {
                let trees = client.trees(&owner, &repo, sha).await?;
                verify_listing(git.as_deref(), &owner, &repo, &trees).await?;
                store.index().put_trees(&trees)?;
                Ok(())
            })
            .await?;
        self.cached_tree(sha)?.ok_or_else(|| {
            NamespaceError::Remote(RemoteError::Corrupt {
                what: format!("tree {sha} of {spec}"),
                why: "GitHub's listing did not include it".into(),
            })
        })
    }

    /// A tree already known locally.
    pub fn cached_tree(&self, sha: Sha) -> Result<Option<Arc<Tree>>, NamespaceError> {
        if let Some(tree) = self.trees.lock().expect("tree cache poisoned").get(&sha) {
            return Ok(Some(Arc::clone(tree)));
        }
        let Some(tree) = self.store.index().tree(sha)? else {
            return Ok(None);
        };
        let tree = Arc::new(tree);
        self.trees
            .lock()
            .expect("tree cache poisoned")
            .put(sha, Arc::clone(&tree));
        Ok(Some(tree))
    }

    /// The entry at `path` under tree `root` (`None` for the root itself).
    pub async fn lookup(
        &self,
        spec: &RepoSpec,
        root: Sha,
        path: &[String],
    ) -> Result<Option<TreeEntry>, NamespaceError> {
        let mut tree = self.tree(spec, root).await?;
        let mut found = None;
        for (i, name) in path.iter().enumerate() {
            let no_such = || NamespaceError::NoSuchPath {
                repo: spec.to_string(),
                path: path.join("/"),
            };
            let entry = tree.get(name).cloned().ok_or_else(no_such)?;
            if i + 1 < path.len() {
                if entry.mode != Mode::Tree {
                    return Err(NamespaceError::NotADirectory {
                        repo: spec.to_string(),
                        path: path[..=i].join("/"),
                    });
                }
                tree = self.tree(spec, entry.sha).await?;
            }
            found = Some(entry);
        }
        Ok(found)
    }

    /// Blob `entry`, opened from the store, fetching and verifying it on a miss (over
    /// git, batched with other misses, where the endpoint serves it; else over REST).
    /// Concurrent callers for the same blob share one fetch.
    pub async fn blob(
        &self,
        spec: &RepoSpec,
        entry: &TreeEntry,
    ) -> Result<BlobData, NamespaceError> {
        self.fetch_blob(spec, None, entry).await?;
        self.store.read_blob(entry.sha, entry.size).ok_or_else(|| {
            NamespaceError::Remote(RemoteError::Local {
                what: format!("blob {} of {spec}", entry.sha),
                message: "stored, then gone (evicted at once?)".into(),
            })
        })
    }

    /// [`Namespace::blob`]'s bytes, in memory (`path` names it in an error).
    pub async fn blob_bytes(
        &self,
        spec: &RepoSpec,
        entry: &TreeEntry,
        path: &str,
    ) -> Result<Vec<u8>, NamespaceError> {
        let stored = self.blob(spec, entry).await?;
        stored.read_all().map_err(|e| {
            NamespaceError::from(StoreError::Io {
                what: "cannot read",
                path: path.into(),
                source: e,
            })
        })
    }

    /// Makes blob `entry` local (loose or in a pack), fetching it on a miss.
    pub async fn fetch_blob(
        &self,
        spec: &RepoSpec,
        commit: Option<Sha>,
        entry: &TreeEntry,
    ) -> Result<(), NamespaceError> {
        let (sha, size) = (entry.sha, entry.size);
        if self.store.has_blob(sha, size) {
            self.store.note_access(sha);
            bookkeeping(self.store.index().bump(BLOB_HITS, 1), "hit counter");
            return Ok(());
        }
        if size == 0 {
            // The empty blob's content is known; storing it verifies the id all the same.
            self.store.put_blob(sha, b"").await?;
            bookkeeping(self.store.index().bump(BLOB_MISSES, 1), "miss counter");
            return Ok(());
        }
        let client = Arc::clone(&self.client);
        let store = Arc::clone(&self.store);
        let git = self.git.clone();
        let shared = self.shared.clone();
        let (owner, repo) = (spec.owner.clone(), spec.repo.clone());
        self.blob_flights
            .run(sha, move || async move {
                // Another flight may have finished between our check and this one.
                if store.has_blob(sha, size) {
                    return Ok(());
                }
                if let Some(git) = git.filter(|g| g.serves(&owner, &repo)) {
                    match git.blob(&owner, &repo, commit, sha, size).await {
                        Ok(()) => {
                            bookkeeping(store.index().bump(BLOB_MISSES, 1), "miss counter");
                            return Ok(());
                        }
                        Err(e) if git.falls_back(&owner, &repo, &e) => {}
                        Err(e) => return Err(e),
                    }
                }
                // Over REST, blob by blob: the shared cache first, then GitHub (whose
                // answer goes to the shared cache).
                if let Some(shared) = &shared
                    && shared.blob(sha, size).await
                {
                    bookkeeping(store.index().bump(BLOB_MISSES, 1), "miss counter");
                    return Ok(());
                }
                let path = download_blob(&*client, &store, &owner, &repo, sha, size).await?;
                if let Some(shared) = &shared {
                    shared.offer_blob(&owner, &repo, sha, size, path);
                }
                bookkeeping(store.index().bump(BLOB_MISSES, 1), "miss counter");
                Ok(())
            })
            .await
    }
}

/// A REST listing's trees checked against their ids (see
/// [`git::GitFetcher::verify_listing`]) where git can settle a doubt; without git, a tree
/// that does not hash to its id is logged and kept (REST alone cannot tell a lie from a
/// non-canonical mode).
async fn verify_listing(
    git: Option<&git::GitFetcher>,
    owner: &str,
    repo: &str,
    trees: &[Tree],
) -> Result<(), NamespaceError> {
    match git.filter(|g| g.serves(owner, repo)) {
        Some(git) => match git.verify_listing(owner, repo, trees).await {
            Err(e) if git.falls_back(owner, repo, &e) => Ok(()),
            other => other,
        },
        None => {
            for tree in trees.iter().filter(|t| git::tree_id(t) != t.sha) {
                tracing::warn!(%owner, %repo, tree = %tree.sha, "a listed tree does not hash to its id (unverifiable without git)");
            }
            Ok(())
        }
    }
}

/// Index writes that only keep books (counters, access times, when a ref was checked): a
/// full disk or a busy index must not fail the read they accompany.
fn bookkeeping(result: Result<(), StoreError>, what: &str) {
    if let Err(e) = result {
        tracing::debug!(error = %e, "cannot record the {what}");
    }
}

/// The commit a (non-SHA) ref points at: the index's answer while younger than `ttl`,
/// else a conditional poll; the last known commit when GitHub cannot be reached.
async fn resolve_ref(
    client: &dyn GitHubClient,
    git: Option<&git::GitFetcher>,
    store: &Store,
    spec: &RepoSpec,
    ttl: Duration,
) -> Result<Sha, NamespaceError> {
    let name = spec.ref_name();
    let index = store.index();
    let known = index.ref_commit(&spec.owner, &spec.repo, name)?;
    if let Some((sha, at)) = known {
        let age = crate::clock::now() - at;
        if age >= 0 && (age as u64) < ttl.as_secs() {
            return Ok(sha);
        }
    }
    let known_sha = known.map(|(sha, _)| sha);
    // A first resolution costs a counted REST request, `ls-refs` none; a later poll is a
    // conditional REST request, free when nothing moved (and cheaper than a git request).
    if known_sha.is_none()
        && let Some(git) = git.filter(|g| g.serves(&spec.owner, &spec.repo))
    {
        match git.resolve(&spec.owner, &spec.repo, name).await {
            Ok(Some(sha)) => {
                bookkeeping(index.put_ref(&spec.owner, &spec.repo, name, sha), "ref");
                return Ok(sha);
            }
            Ok(None) => {}
            Err(e) if git.falls_back(&spec.owner, &spec.repo, &e) => {}
            Err(e) => return Err(e),
        }
    }
    match client
        .poll_ref(&spec.owner, &spec.repo, name, known_sha)
        .await
    {
        Ok(RefPoll::Unchanged) => {
            let sha = known_sha.expect("unchanged implies known");
            bookkeeping(index.put_ref(&spec.owner, &spec.repo, name, sha), "ref");
            Ok(sha)
        }
        Ok(RefPoll::Moved(sha)) => {
            bookkeeping(index.put_ref(&spec.owner, &spec.repo, name, sha), "ref");
            Ok(sha)
        }
        Err(e) if e.is_transient() && known_sha.is_some() => {
            tracing::warn!(repo = %spec, error = %e, "GitHub unreachable; using the last known commit");
            Ok(known_sha.expect("checked"))
        }
        Err(e) => Err(e.into()),
    }
}

/// Streams blob `sha` into the store, retrying when the bytes break off or are wrong.
pub async fn download_blob(
    client: &dyn GitHubClient,
    store: &Store,
    owner: &str,
    repo: &str,
    sha: Sha,
    size: u64,
) -> Result<PathBuf, NamespaceError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result: Result<PathBuf, NamespaceError> = async {
            let mut stream = client.blob(owner, repo, sha).await?;
            let mut writer = store.blob_writer(sha, size).await?;
            while let Some(chunk) = stream.next().await {
                writer.write(&chunk?).await?;
            }
            Ok(writer.commit().await?)
        }
        .await;
        match result {
            Ok(path) => return Ok(path),
            Err(e) if attempt < BLOB_ATTEMPTS && retryable(&e) => {
                tracing::warn!(blob = %sha, %owner, %repo, error = %e, "blob download failed; retrying");
            }
            Err(e) => return Err(e),
        }
    }
}

fn retryable(error: &NamespaceError) -> bool {
    match error {
        NamespaceError::Remote(e) => {
            e.is_transient() && !matches!(e, RemoteError::RateLimited { .. })
        }
        NamespaceError::Store(e) => matches!(**e, StoreError::HashMismatch { .. }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_validate() {
        let spec = RepoSpec::parse("acme/api").unwrap();
        assert_eq!(
            (spec.owner.as_str(), spec.repo.as_str(), spec.reference),
            ("acme", "api", None)
        );
        let spec = RepoSpec::parse("acme/api@feature%2Fx").unwrap();
        assert_eq!(spec.reference.as_deref(), Some("feature/x"));
        assert_eq!(spec.to_string(), "acme/api@feature/x");
        for bad in [
            "acme",
            "acme/",
            "/api",
            "ac me/api",
            "acme/..",
            "acme/api@-rf",
            "acme/api@a..b",
            "-x/api",
        ] {
            assert!(RepoSpec::parse(bad).is_err(), "{bad} should be refused");
        }
        let (spec, path) = parse_target("acme/api@v1/src/lib.rs").unwrap();
        assert_eq!(spec.reference.as_deref(), Some("v1"));
        assert_eq!(path, ["src", "lib.rs"]);
        assert!(parse_target("acme/api/../etc").is_err());
    }
}
