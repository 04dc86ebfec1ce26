//! Blobs and trees over git's protocol: misses that arrive close together are gathered
//! and fetched together, many wants per request, into packs in the store.
//!
//! The rule (the README's "what is fetched"): a miss waits [`GATHER`] for company (a
//! tool's threads read in parallel, a scan asks for all of a repository's target files
//! at once), then its batch goes out as one `fetch` of at most [`MAX_BATCH_WANTS`] objects
//! and about [`MAX_BATCH_BYTES`]; later misses form the next batch, which goes out while
//! the last one streams (up to [`crate::remote::git::MAX_CONCURRENT_FETCHES`] at once). A
//! read waits only for its own batch. With `--transport auto`, a repository whose git
//! endpoint refuses (401/403/404) is served over REST as before.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use super::NamespaceError;
use crate::config::Transport;
use crate::oid::Sha;
use crate::remote::RemoteError;
use crate::remote::git::{FetchSpec, GitRemote};
use crate::store::{PackSummary, Store, StoreError};

/// How long a miss waits for others to join its batch.
pub const GATHER: Duration = Duration::from_millis(3);
/// Most objects wanted in one fetch.
pub const MAX_BATCH_WANTS: usize = 4096;
/// A batch is closed once its blobs add up to this many bytes (so a read does not wait
/// for a huge batch): smaller batches stream in parallel.
pub const MAX_BATCH_BYTES: u64 = 16 << 20;

/// An object queued for a batch; its readers wait in [`GitFetcher::waiting`].
struct Want {
    sha: Sha,
    size: u64,
}

type Waiters = Vec<oneshot::Sender<Result<(), NamespaceError>>>;

type RepoKey = (String, String);

/// A queue of misses: a repository and the commit they are read in.
type QueueKey = (RepoKey, Option<Sha>);

/// Git fetches for one namespace (shared by the views over it).
pub struct GitFetcher {
    remote: Arc<GitRemote>,
    store: Arc<Store>,
    transport: Transport,
    /// Misses waiting for their batch, per repository and the commit they are read in
    /// (which names the batch's pack in the shared cache).
    queues: Mutex<HashMap<QueueKey, Vec<Want>>>,
    /// Every blob queued or in flight, with the readers waiting for it: a blob is asked
    /// for once however many readers (or prefetches) want it.
    waiting: Mutex<HashMap<Sha, Waiters>>,
    /// Repositories whose git endpoint said 404 (served over REST with `auto`).
    refused: Mutex<std::collections::HashSet<RepoKey>>,
    /// (commit, extension) pairs whose files were prefetched commit-wide already.
    kinds: Mutex<std::collections::HashSet<(Sha, String)>>,
    /// Where fetched packs are offered for other machines.
    shared: Option<Arc<crate::shared::SharedCache>>,
}

impl GitFetcher {
    pub fn new(remote: Arc<GitRemote>, store: Arc<Store>, transport: Transport) -> GitFetcher {
        GitFetcher {
            remote,
            store,
            transport,
            queues: Mutex::default(),
            waiting: Mutex::default(),
            kinds: Mutex::default(),
            refused: Mutex::default(),
            shared: None,
        }
    }

    /// The same fetcher offering the packs it fetches for a commit to `shared`.
    pub fn with_shared(mut self, shared: Option<Arc<crate::shared::SharedCache>>) -> GitFetcher {
        self.shared = shared;
        self
    }

    pub fn remote(&self) -> &Arc<GitRemote> {
        &self.remote
    }

    pub fn transport(&self) -> Transport {
        self.transport
    }

    fn key(owner: &str, repo: &str) -> RepoKey {
        (owner.to_ascii_lowercase(), repo.to_ascii_lowercase())
    }

    /// Whether content of `owner/repo` should come over git now.
    pub fn serves(&self, owner: &str, repo: &str) -> bool {
        match self.transport {
            Transport::Rest => false,
            Transport::Git => true,
            Transport::Auto => {
                !self.remote.disabled()
                    && !self
                        .refused
                        .lock()
                        .expect("refused poisoned")
                        .contains(&Self::key(owner, repo))
            }
        }
    }

    /// Whether asking about a repository that may not exist costs nothing counted: git
    /// serves, with a token (GitHub answers a missing repository with 404 then, which
    /// [`GitFetcher::falls_back`] does not take to REST once the endpoint has served git).
    pub fn missing_repos_are_free(&self) -> bool {
        self.transport != Transport::Rest
            && !self.remote.disabled()
            && self.remote.authenticated()
            && (self.transport == Transport::Git || self.remote.counts().answered > 0)
    }

    /// Whether `error` means "ask REST instead" (only with `auto`).
    pub fn falls_back(&self, owner: &str, repo: &str, error: &NamespaceError) -> bool {
        if self.transport != Transport::Auto {
            return false;
        }
        // An endpoint that cannot be reached at all (a proxy that lets only the API
        // through) is worth asking REST for this one request, without giving up on git.
        if matches!(error, NamespaceError::Remote(RemoteError::Network { .. })) {
            tracing::info!(%owner, %repo, %error, "the git endpoint is unreachable; trying REST");
            return true;
        }
        // From an endpoint that has served git, a 404 means the repository does not exist
        // (or the token cannot see it): REST would say the same, at a counted request.
        if matches!(error, NamespaceError::Remote(RemoteError::NotFound { .. }))
            && self.remote.counts().answered > 0
        {
            return false;
        }
        let refusal = matches!(
            error,
            NamespaceError::Remote(
                RemoteError::NotFound { .. }
                    | RemoteError::BadCredentials { .. }
                    | RemoteError::Forbidden { .. }
            )
        );
        if refusal {
            tracing::info!(%owner, %repo, %error, "the git endpoint refused; using REST");
            self.refused
                .lock()
                .expect("refused poisoned")
                .insert(Self::key(owner, repo));
        }
        refusal
    }

    /// Fetches blob `sha` (of `size` bytes) of `owner/repo`, read in `commit` where known,
    /// into the store, batched with other misses of the same repository and commit.
    pub async fn blob(
        self: &Arc<Self>,
        owner: &str,
        repo: &str,
        commit: Option<Sha>,
        sha: Sha,
        size: u64,
    ) -> Result<(), NamespaceError> {
        if size > crate::store::packs::LOOSE_ABOVE {
            return retrying(owner, repo, || self.big_blob(owner, repo, sha, size)).await;
        }
        let (done, wait) = oneshot::channel();
        self.enqueue(owner, repo, commit, &[(sha, size)], Some(done));
        wait.await.unwrap_or_else(|_| {
            Err(NamespaceError::Remote(RemoteError::Local {
                what: format!("git fetch {owner}/{repo}"),
                message: "the fetch was abandoned".into(),
            }))
        })
    }

    /// Queues blobs of `owner/repo` that a reader is likely to want next (no one waits for
    /// them): they join the batch now gathering.
    pub fn prefetch(
        self: &Arc<Self>,
        owner: &str,
        repo: &str,
        commit: Option<Sha>,
        blobs: &[(Sha, u64)],
    ) {
        let blobs: Vec<(Sha, u64)> = blobs
            .iter()
            .copied()
            .filter(|&(sha, size)| {
                size > 0
                    && size <= crate::store::packs::LOOSE_ABOVE
                    && !self.store.has_blob(sha, size)
            })
            .collect();
        if !blobs.is_empty() {
            self.enqueue(owner, repo, commit, &blobs, None);
        }
    }

    /// Whether this is the first miss of a file ending in `.ext` under `commit` (so its
    /// kind is worth prefetching commit-wide); later calls say no.
    pub fn first_of_kind(&self, commit: Sha, ext: &str) -> bool {
        self.kinds
            .lock()
            .expect("kinds poisoned")
            .insert((commit, ext.to_string()))
    }

    /// Adds blobs to `owner/repo`'s queue (those not already queued or in flight), and
    /// `reader` to the first one's waiters; starts the gather timer for a new batch.
    fn enqueue(
        self: &Arc<Self>,
        owner: &str,
        repo: &str,
        commit: Option<Sha>,
        blobs: &[(Sha, u64)],
        reader: Option<oneshot::Sender<Result<(), NamespaceError>>>,
    ) {
        let key = (Self::key(owner, repo), commit);
        let mut fresh = Vec::new();
        let read = reader.is_some();
        {
            let mut waiting = self.waiting.lock().expect("waiting poisoned");
            let mut reader = reader;
            for &(sha, size) in blobs {
                let new = !waiting.contains_key(&sha);
                let waiters = waiting.entry(sha).or_default();
                if let Some(r) = reader.take() {
                    waiters.push(r);
                }
                if new {
                    fresh.push(Want { sha, size });
                }
            }
        }
        let first = {
            let mut queues = self.queues.lock().expect("queues poisoned");
            let queue = queues.entry(key.clone()).or_default();
            let was_empty = queue.is_empty();
            if read {
                // A reader waits: its blob goes first (out of a prefetch queued before).
                if let Some(&(sha, _)) = blobs.first()
                    && let Some(at) = queue.iter().position(|w| w.sha == sha)
                {
                    let want = queue.remove(at);
                    queue.insert(0, want);
                }
                queue.splice(0..0, fresh);
            } else {
                queue.extend(fresh);
            }
            was_empty && !queue.is_empty()
        };
        if first {
            let me = Arc::clone(self);
            let (owner, repo) = (owner.to_string(), repo.to_string());
            tokio::spawn(async move {
                tokio::time::sleep(GATHER).await;
                let wants = me
                    .queues
                    .lock()
                    .expect("queues poisoned")
                    .remove(&key)
                    .unwrap_or_default();
                for batch in batches(wants) {
                    let me = Arc::clone(&me);
                    let (owner, repo) = (owner.clone(), repo.clone());
                    tokio::spawn(async move { me.fetch_batch(&owner, &repo, commit, batch).await });
                }
            });
        }
    }

    /// The commit `reference` (a branch, a tag, or `HEAD`) names, from `ls-refs` (free);
    /// `None` when git does not know it by that name (REST may: a short SHA).
    pub async fn resolve(
        &self,
        owner: &str,
        repo: &str,
        reference: &str,
    ) -> Result<Option<Sha>, NamespaceError> {
        let wanted: Vec<String> = if reference == super::DEFAULT_REF {
            vec!["HEAD".into()]
        } else {
            vec![
                format!("refs/heads/{reference}"),
                format!("refs/tags/{reference}"),
            ]
        };
        let refs = self.remote.ls_refs(owner, repo, &wanted).await?;
        Ok(wanted.iter().find_map(|name| {
            refs.iter()
                .find(|r| &r.name == name)
                .map(|r| r.peeled.unwrap_or(r.id))
        }))
    }

    /// Every tree of `commit` (one fetch: `deepen 1`, `filter blob:none`), verified, with
    /// its root tree's id. Blob sizes are unknown (no blob came): for scans, which learn a
    /// file's size when they read it, not for mounts.
    pub async fn listing(
        &self,
        owner: &str,
        repo: &str,
        commit: Sha,
    ) -> Result<(Sha, HashMap<Sha, crate::store::PackedTree>), NamespaceError> {
        let pack = self.fetch(owner, repo, FetchSpec::trees_of(commit)).await?;
        let root = pack
            .commits
            .iter()
            .find(|c| c.sha == commit)
            .map(|c| c.tree)
            .ok_or_else(|| {
                NamespaceError::Remote(RemoteError::Corrupt {
                    what: format!("git fetch {owner}/{repo}"),
                    why: format!("the pack does not hold commit {commit}"),
                })
            })?;
        let trees: HashMap<Sha, crate::store::PackedTree> =
            pack.trees.into_iter().map(|t| (t.sha, t)).collect();
        if !trees.contains_key(&root) {
            return Err(NamespaceError::Remote(RemoteError::Corrupt {
                what: format!("git fetch {owner}/{repo}"),
                why: format!("the pack does not hold root tree {root}"),
            }));
        }
        Ok((root, trees))
    }

    /// These blobs of `owner/repo` in one fetch (those not stored yet), with their bytes.
    pub async fn read_blobs(
        &self,
        owner: &str,
        repo: &str,
        shas: &[Sha],
    ) -> Result<HashMap<Sha, Vec<u8>>, NamespaceError> {
        let mut sizes: HashMap<Sha, u64> = HashMap::new();
        let mut missing = Vec::new();
        for &sha in shas {
            match self.store.index().pack_object(sha) {
                Ok(Some((_, _, size))) => {
                    sizes.insert(sha, size);
                }
                _ => missing.push(sha),
            }
        }
        missing.sort_unstable();
        missing.dedup();
        if !missing.is_empty() {
            let pack = self.fetch(owner, repo, FetchSpec::objects(missing)).await?;
            sizes.extend(pack.blobs);
        }
        let mut out = HashMap::new();
        for &sha in shas {
            let read = sizes
                .get(&sha)
                .and_then(|&size| self.store.read_blob(sha, size))
                .and_then(|blob| blob.read_all().ok());
            match read {
                Some(bytes) => {
                    out.insert(sha, bytes);
                }
                None => {
                    return Err(NamespaceError::Remote(RemoteError::Corrupt {
                        what: format!("git fetch {owner}/{repo}"),
                        why: format!("blob {sha} is not readable after its fetch"),
                    }));
                }
            }
        }
        Ok(out)
    }

    /// Checks trees that came from a REST listing against their ids: each tree's entries
    /// are serialized as git would store them and hashed. A tree whose listing does not
    /// hash to its id is fetched as a git object (`want <tree>`, `filter blob:none`) and
    /// compared entry by entry: the same entries (a tree git stores with a non-canonical
    /// mode, such as `100664`) pass, different ones mean the listing lied, and the
    /// listing is refused.
    pub async fn verify_listing(
        &self,
        owner: &str,
        repo: &str,
        trees: &[crate::remote::Tree],
    ) -> Result<(), NamespaceError> {
        let doubtful: Vec<&crate::remote::Tree> =
            trees.iter().filter(|t| tree_id(t) != t.sha).collect();
        if doubtful.is_empty() {
            return Ok(());
        }
        let wants: Vec<Sha> = doubtful.iter().map(|t| t.sha).collect();
        let spec = FetchSpec {
            wants,
            depth: None,
            filter: Some("blob:none"),
        };
        let pack = self.fetch(owner, repo, spec).await?;
        for listed in doubtful {
            let object = pack.trees.iter().find(|t| t.sha == listed.sha);
            let same = object.is_some_and(|object| {
                let mut a: Vec<_> = object
                    .entries
                    .iter()
                    .map(|e| (&e.name, e.mode.as_git(), e.sha))
                    .collect();
                let mut b: Vec<_> = listed
                    .entries
                    .iter()
                    .map(|e| (&e.name, e.mode.as_git(), e.sha))
                    .collect();
                a.sort();
                b.sort();
                a == b
            });
            if !same {
                return Err(NamespaceError::Remote(RemoteError::Corrupt {
                    what: format!("the tree listing of {owner}/{repo}"),
                    why: format!(
                        "tree {} lists entries its git object does not hold",
                        listed.sha
                    ),
                }));
            }
        }
        Ok(())
    }

    /// Commit `sha` of `owner/repo`, from its object (no tree, no blob).
    pub async fn commit(
        &self,
        owner: &str,
        repo: &str,
        sha: Sha,
    ) -> Result<crate::remote::CommitInfo, NamespaceError> {
        let pack = self.fetch(owner, repo, FetchSpec::commit_only(sha)).await?;
        let commit = pack.commits.iter().find(|c| c.sha == sha).cloned();
        let raw = pack.raw_commits.into_iter().find(|(id, _)| *id == sha);
        if let (Some(shared), Some((_, data))) = (&self.shared, raw) {
            shared.offer_commit(owner, repo, sha, data);
        }
        commit.ok_or_else(|| {
            NamespaceError::Remote(RemoteError::Corrupt {
                what: format!("git fetch {owner}/{repo}"),
                why: format!("the pack does not hold commit {sha}"),
            })
        })
    }

    /// A big blob alone, streamed into a loose object (memory stays flat).
    async fn big_blob(
        &self,
        owner: &str,
        repo: &str,
        sha: Sha,
        size: u64,
    ) -> Result<(), NamespaceError> {
        let answer = self
            .remote
            .fetch(owner, repo, &FetchSpec::objects(vec![sha]))
            .await?;
        self.store_answer(owner, repo, move |store| {
            store.put_single_blob(answer, sha, size).map(|_| ())
        })
        .await
    }

    /// Runs `work` (storing a fetch's answer: blocking I/O and hashing) on a blocking
    /// thread.
    async fn store_answer<T: Send + 'static>(
        &self,
        owner: &str,
        repo: &str,
        work: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, NamespaceError> {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || work(&store))
            .await
            .map_err(|e| {
                NamespaceError::Remote(RemoteError::Local {
                    what: format!("git fetch {owner}/{repo}"),
                    message: e.to_string(),
                })
            })?
            .map_err(NamespaceError::from)
    }

    async fn fetch_batch(&self, owner: &str, repo: &str, commit: Option<Sha>, batch: Vec<Want>) {
        let mut shas: Vec<Sha> = batch.iter().map(|w| w.sha).collect();
        shas.sort_unstable();
        shas.dedup();
        let result = self.fetch(owner, repo, FetchSpec::objects(shas)).await;
        if let (Ok(pack), Some(shared), Some(commit)) = (&result, &self.shared, commit) {
            shared.offer_pack(owner, repo, commit, &pack.name);
        }
        for want in batch {
            let waiters = self
                .waiting
                .lock()
                .expect("waiting poisoned")
                .remove(&want.sha)
                .unwrap_or_default();
            let outcome = match &result {
                Ok(_) if self.store.has_blob(want.sha, want.size) => Ok(()),
                Ok(_) => Err(NamespaceError::Remote(RemoteError::Corrupt {
                    what: format!("git fetch {owner}/{repo}"),
                    why: format!(
                        "the pack does not hold blob {} of {} bytes",
                        want.sha, want.size
                    ),
                })),
                Err(e) => Err(e.clone()),
            };
            for waiter in waiters {
                let _ = waiter.send(outcome.clone());
            }
        }
    }

    /// One fetch, its pack stored (indexed, verified) before this returns. An answer that
    /// breaks off or does not verify is asked for again, up to [`FETCH_ATTEMPTS`] times.
    pub async fn fetch(
        &self,
        owner: &str,
        repo: &str,
        spec: FetchSpec,
    ) -> Result<PackSummary, NamespaceError> {
        retrying(owner, repo, || self.fetch_once(owner, repo, &spec)).await
    }

    async fn fetch_once(
        &self,
        owner: &str,
        repo: &str,
        spec: &FetchSpec,
    ) -> Result<PackSummary, NamespaceError> {
        let started = std::time::Instant::now();
        let answer = self.remote.fetch(owner, repo, spec).await?;
        let answered = started.elapsed();
        let wants = spec.wants.clone();
        let stored = self
            .store_answer(owner, repo, move |store| store.put_pack(answer, &wants))
            .await;
        tracing::debug!(
            %owner, %repo, wants = spec.wants.len(),
            answered_ms = answered.as_millis() as u64,
            stored_ms = (started.elapsed() - answered).as_millis() as u64,
            ok = stored.is_ok(),
            "fetched"
        );
        stored
    }
}

pub use crate::remote::tree::tree_id;

/// `attempt` again while it fails in a way the same fetch may not meet again, up to
/// [`FETCH_ATTEMPTS`] tries in all.
async fn retrying<T, F: std::future::Future<Output = Result<T, NamespaceError>>>(
    owner: &str,
    repo: &str,
    mut attempt: impl FnMut() -> F,
) -> Result<T, NamespaceError> {
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(e) if tries < FETCH_ATTEMPTS && retryable(&e) => {
                tracing::warn!(%owner, %repo, error = %e, "git fetch failed; retrying");
                tries += 1;
            }
            other => return other,
        }
    }
}

/// Fetches of one batch tried before its readers get the error.
pub const FETCH_ATTEMPTS: u32 = 3;

/// A failure the same fetch may not meet again: the answer broke off, or did not verify.
pub(super) fn retryable(error: &NamespaceError) -> bool {
    match error {
        NamespaceError::Remote(e) => e.is_transient() || matches!(e, RemoteError::Corrupt { .. }),
        NamespaceError::Store(e) => {
            matches!(
                **e,
                StoreError::BadPack { .. } | StoreError::HashMismatch { .. }
            ) || matches!(
                &**e,
                StoreError::Io {
                    what: "cannot read",
                    ..
                }
            )
        }
        _ => false,
    }
}

/// Splits wants into batches of at most [`MAX_BATCH_WANTS`] and about [`MAX_BATCH_BYTES`].
fn batches(wants: Vec<Want>) -> Vec<Vec<Want>> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    let mut bytes = 0u64;
    for want in wants {
        if !current.is_empty() && (current.len() >= MAX_BATCH_WANTS || bytes >= MAX_BATCH_BYTES) {
            out.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += want.size;
        current.push(want);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_ids_are_what_git_computes() {
        use crate::remote::{Mode, Tree, TreeEntry};
        let empty_blob = Sha::parse("e69de29bb2d1d6434b8b29ae775ad8c2e48c5391").unwrap();
        let empty_tree = Sha::parse("4b825dc642cb6eb9a060e54bf8d69288fbee4904").unwrap();
        let entry = |name: &str, mode, sha| TreeEntry {
            name: name.into(),
            mode,
            sha,
            size: 0,
        };
        // A file `a.txt` and a directory `a` (git sorts the directory as `a/`, after
        // `a.txt`), listed in the other order.
        let tree = Tree {
            sha: empty_tree,
            entries: vec![
                entry("a", Mode::Tree, empty_tree),
                entry("a.txt", Mode::File, empty_blob),
                entry("run", Mode::Executable, empty_blob),
            ],
        };
        let mktree = "040000 tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\ta\n\
                      100644 blob e69de29bb2d1d6434b8b29ae775ad8c2e48c5391\ta.txt\n\
                      100755 blob e69de29bb2d1d6434b8b29ae775ad8c2e48c5391\trun\n";
        let dir = tempfile::tempdir().unwrap();
        let git = |args: &[&str], input: &str| {
            use std::io::Write;
            let mut child = std::process::Command::new("git")
                .args(args)
                .current_dir(dir.path())
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
            String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap()
        };
        git(&["init", "-q"], "");
        let expected = Sha::parse(git(&["mktree", "--missing"], mktree).trim()).unwrap();
        assert_eq!(tree_id(&tree), expected);
        let empty = Tree {
            sha: empty_tree,
            entries: Vec::new(),
        };
        assert_eq!(tree_id(&empty), empty_tree);
    }

    #[test]
    fn batches_close_at_a_count_or_a_size() {
        let want = |size| Want {
            sha: Sha::from_bytes([0; 20]),
            size,
        };
        let sizes = |b: &Vec<Vec<Want>>| b.iter().map(Vec::len).collect::<Vec<_>>();
        let many = (0..MAX_BATCH_WANTS + 3).map(|_| want(1)).collect();
        assert_eq!(sizes(&batches(many)), [MAX_BATCH_WANTS, 3]);
        let big = vec![want(MAX_BATCH_BYTES), want(1), want(1)];
        assert_eq!(sizes(&batches(big)), [1, 2]);
        assert!(batches(Vec::new()).is_empty());
    }
}
