//! Allocations: a mount of one resource (`owner/repo[@ref][/path | /glob]`) handed to a
//! client for a while. The daemon ([`daemon`]) holds the mounts; the CLI asks it over a
//! Unix socket ([`protocol`]). Each allocation shows the commit its ref named when it was
//! made (it does not move for its life), is recorded in the index, and is released by its
//! client, by `cleanup`, or by the cleaner when its TTL runs out.

pub mod client;
pub mod daemon;
pub mod kind;
pub mod mounts;
pub mod protocol;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use globset::{GlobBuilder, GlobMatcher};

use crate::clock::now;
use crate::fs::worktree::discard_dir;
use crate::fs::{
    CHANGES_DIR, ChangesOptions, FsOptions, Mount, MountOptions, Scope, View, is_mountpoint,
};
use crate::hydrate::{DEFAULT_THRESHOLD, HydrateError, Hydrator};
use crate::namespace::{Namespace, NamespaceError, RepoContext, RepoSpec, parse_target};
use crate::oid::Sha;
use crate::remote::Mode;
use crate::store::{AllocationRow, NewAllocation};

/// Longest TTL a client may ask for.
pub const MAX_TTL: Duration = Duration::from_secs(7 * 86400);
/// Allocations without an explicit TTL are released after this, whatever happens.
pub const FORCE_RELEASE_AGE: Duration = Duration::from_secs(48 * 3600);

/// The TTL of an allocation of `bytes` without `--ttl`: small (< 1 MB) 1 h, medium
/// (< 100 MB) 12 h, larger 24 h.
pub fn default_ttl(bytes: u64) -> Duration {
    match bytes {
        b if b < 1_000_000 => Duration::from_secs(3600),
        b if b < 100_000_000 => Duration::from_secs(12 * 3600),
        _ => Duration::from_secs(24 * 3600),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AllocError {
    #[error(transparent)]
    Namespace(#[from] NamespaceError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("{0}")]
    Invalid(String),
    #[error("cannot fetch `{resource}` before handing it out: {source}")]
    Hydrate {
        resource: String,
        #[source]
        source: HydrateError,
    },
    #[error("cannot mount `{path}`: {source}")]
    Mount {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{0}` is not an allocation")]
    NotAllocated(String),
}

/// What a client asked for.
#[derive(Debug, Clone)]
pub struct Resource {
    pub text: String,
    pub spec: RepoSpec,
    /// Path components inside the repository (a subtree, or the file a glob is made of).
    pub path: Vec<String>,
    /// A glob over repository paths: only matching files (and their directories) show.
    pub glob: Option<String>,
}

fn is_glob(component: &str) -> bool {
    component.contains(['*', '?', '[', '{'])
}

impl Resource {
    /// `owner/repo[@ref][/path]` or `owner/repo[@ref]/glob` (`**/*.py`, `src/*.toml`).
    pub fn parse(text: &str) -> Result<Resource, AllocError> {
        let (spec, path) = parse_target(text)?;
        let glob = path.iter().any(|c| is_glob(c)).then(|| path.join("/"));
        Ok(Resource {
            text: text.to_string(),
            spec,
            path: if glob.is_some() { Vec::new() } else { path },
            glob,
        })
    }
}

/// A resolved resource: the view a mount shows, and its size.
struct Planned {
    view: View,
    bytes: u64,
    files: u64,
    /// Every blob the view shows, for `--hydrate`.
    blobs: Vec<crate::remote::TreeEntry>,
}

/// Every file under tree `root` (at repository path `prefix`), recursively.
async fn files_under(
    ns: &Namespace,
    spec: &RepoSpec,
    root: Sha,
    prefix: &str,
) -> Result<Vec<(String, crate::remote::TreeEntry)>, NamespaceError> {
    let mut out = Vec::new();
    let mut stack = vec![(root, prefix.to_string())];
    while let Some((sha, dir)) = stack.pop() {
        let tree = ns.tree(spec, sha).await?;
        for entry in &tree.entries {
            let path = if dir.is_empty() {
                entry.name.clone()
            } else {
                format!("{dir}/{}", entry.name)
            };
            match entry.mode {
                Mode::Tree => stack.push((entry.sha, path)),
                Mode::Submodule => {}
                Mode::File | Mode::Executable | Mode::Symlink => out.push((path, entry.clone())),
            }
        }
    }
    Ok(out)
}

/// The matching files of a view chosen by `glob`, and their ancestor directories.
fn visible_paths(
    files: &[(String, crate::remote::TreeEntry)],
    glob: &GlobMatcher,
) -> HashSet<String> {
    let mut visible = HashSet::new();
    for (path, _) in files.iter().filter(|(p, _)| glob.is_match(p)) {
        let mut at = path.as_str();
        visible.insert(at.to_string());
        while let Some((parent, _)) = at.rsplit_once('/') {
            if !visible.insert(parent.to_string()) {
                break;
            }
            at = parent;
        }
    }
    visible
}

async fn plan(ns: &Arc<Namespace>, resource: &Resource) -> Result<Planned, AllocError> {
    let commit = ns.resolve(&resource.spec).await?;
    let repo = Arc::new(RepoContext {
        spec: resource.spec.clone(),
        commit,
    });
    // A path names a subtree (shown at the root) or one file (shown alone, as a glob of
    // exactly that path would).
    let mut glob = resource.glob.clone();
    let mut tree = repo.commit.tree;
    let mut path = String::new();
    if !resource.path.is_empty() {
        let entry = ns
            .lookup(&resource.spec, repo.commit.tree, &resource.path)
            .await?
            .ok_or_else(|| AllocError::Invalid(format!("`{}` has no such path", resource.text)))?;
        if entry.mode == Mode::Tree {
            tree = entry.sha;
            path = resource.path.join("/");
        } else {
            glob = Some(globset::escape(&resource.path.join("/")));
        }
    }
    let files = files_under(ns, &resource.spec, tree, &path).await?;
    let (visible, shown): (Option<Arc<HashSet<String>>>, Vec<_>) = match &glob {
        Some(pattern) => {
            let matcher = GlobBuilder::new(pattern)
                .literal_separator(true)
                .build()
                .map_err(|e| AllocError::Invalid(format!("`{pattern}` is not a glob: {e}")))?
                .compile_matcher();
            let shown: Vec<_> = files
                .into_iter()
                .filter(|(p, _)| matcher.is_match(p))
                .collect();
            if shown.is_empty() {
                return Err(AllocError::Invalid(format!(
                    "`{}` matches no file",
                    resource.text
                )));
            }
            (Some(Arc::new(visible_paths(&shown, &matcher))), shown)
        }
        None => (None, files),
    };
    let blobs: Vec<_> = shown.into_iter().map(|(_, e)| e).collect();
    Ok(Planned {
        bytes: blobs.iter().map(|e| e.size).sum(),
        files: blobs.len() as u64,
        blobs,
        view: View {
            repo,
            tree,
            path,
            visible,
            glob,
        },
    })
}

/// What `allocate` asks for.
#[derive(Debug, Clone)]
pub struct AllocateRequest {
    pub resource: String,
    pub ttl: Option<Duration>,
    pub client: String,
    pub hydrate: bool,
    /// No working copy: every write fails with EROFS.
    pub read_only: bool,
    /// The working copy's changes outlive the release (`heimdall changes` shows them).
    pub keep_changes: bool,
}

/// An allocation as listed.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Allocation {
    pub path: String,
    pub resource: String,
    pub client: String,
    pub commit: String,
    pub created_at: i64,
    pub age_secs: i64,
    pub ttl_secs: i64,
    pub bytes: u64,
    pub files: u64,
    pub expired: bool,
    /// When a file was last read through it (epoch seconds), if ever.
    pub last_access: Option<i64>,
}

impl Allocation {
    fn from_row(row: &AllocationRow, now: i64) -> Allocation {
        Allocation {
            path: row.path.clone(),
            resource: row.resource.clone(),
            client: row.client.clone(),
            commit: row.commit.clone(),
            created_at: row.created_at,
            age_secs: now - row.created_at,
            ttl_secs: row.ttl,
            bytes: row.bytes,
            files: row.files,
            expired: now >= row.created_at + row.ttl,
            last_access: row.last_access,
        }
    }
}

/// The daemon's allocations and their live mounts.
pub struct Allocator {
    ns: Arc<Namespace>,
    root: PathBuf,
    web_url: String,
    mounts: Mutex<HashMap<i64, Mount>>,
    /// Blobs of live allocations, counted per allocation showing them: never evicted.
    pins: Arc<Mutex<HashMap<Sha, usize>>>,
    /// Each live allocation's pinned blobs.
    pinned_by: Mutex<HashMap<i64, Vec<Sha>>>,
    /// One allocation or release at a time: paths and mounts stay consistent.
    serial: tokio::sync::Mutex<()>,
    /// What `--hydrate` fetches before an allocation is handed out, and how.
    hydrator: Hydrator,
}

impl Allocator {
    /// `root` is where allocations are mounted (`<alloc-root>/<owner>_<repo>`).
    pub fn new(ns: Arc<Namespace>, root: PathBuf, web_url: String) -> Allocator {
        Allocator {
            ns,
            root,
            web_url,
            mounts: Mutex::new(HashMap::new()),
            pins: Arc::default(),
            pinned_by: Mutex::new(HashMap::new()),
            serial: tokio::sync::Mutex::new(()),
            hydrator: Hydrator::new(DEFAULT_THRESHOLD),
        }
    }

    /// Allocations mounted now.
    pub fn mounted(&self) -> usize {
        self.mounts.lock().expect("mounts poisoned").len()
    }

    /// Whether a blob belongs to a live allocation (for the cache budget).
    pub fn pin_check(&self) -> Box<dyn Fn(Sha) -> bool + Send + Sync> {
        let pins = Arc::clone(&self.pins);
        Box::new(move |sha| pins.lock().expect("pins poisoned").contains_key(&sha))
    }

    fn pin(&self, blobs: &[crate::remote::TreeEntry]) -> Vec<Sha> {
        let shas: Vec<Sha> = blobs
            .iter()
            .map(|e| e.sha)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let mut pins = self.pins.lock().expect("pins poisoned");
        for sha in &shas {
            *pins.entry(*sha).or_default() += 1;
        }
        shas
    }

    fn unpin(&self, shas: &[Sha]) {
        let mut pins = self.pins.lock().expect("pins poisoned");
        for sha in shas {
            if let Some(n) = pins.get_mut(sha) {
                *n -= 1;
                if *n == 0 {
                    pins.remove(sha);
                }
            }
        }
    }

    /// Where allocation `id`'s changes live.
    fn changes_dir(&self, id: i64) -> PathBuf {
        self.ns
            .store()
            .root()
            .join(CHANGES_DIR)
            .join(format!("a-{id}"))
    }

    /// Mounts allocation `id` (a working copy unless `read_only`, for this user only).
    async fn mount(
        &self,
        path: &Path,
        view: View,
        id: i64,
        read_only: bool,
    ) -> Result<Mount, AllocError> {
        let mut fs = FsOptions::new(self.web_url.clone());
        fs.view = Some(view);
        if !read_only {
            fs.changes = Some(ChangesOptions {
                dir: self.ns.store().root().join(CHANGES_DIR),
                scope: Scope::Allocation {
                    id,
                    path: path.to_path_buf(),
                },
            });
        }
        let options = MountOptions {
            fs,
            allow_other: false,
        };
        crate::fs::mount(Arc::clone(&self.ns), options, path)
            .await
            .map_err(|source| AllocError::Mount {
                path: path.to_path_buf(),
                source,
            })
    }

    /// A fresh mountpoint for `spec`: `<root>/<owner>_<repo>`, then `_2`, `_3`, ...
    fn fresh_path(&self, spec: &RepoSpec) -> Result<PathBuf, AllocError> {
        let live: HashSet<String> = self
            .ns
            .store()
            .index()
            .live_allocations()?
            .into_iter()
            .map(|r| r.path)
            .collect();
        let base = format!("{}_{}", spec.owner, spec.repo).to_ascii_lowercase();
        for n in 1.. {
            let name = if n == 1 {
                base.clone()
            } else {
                format!("{base}_{n}")
            };
            let path = self.root.join(&name);
            let taken = live.contains(path.to_string_lossy().as_ref())
                || std::fs::read_dir(&path).is_ok_and(|mut d| d.next().is_some())
                || is_mountpoint(&path);
            if !taken {
                std::fs::create_dir_all(&path).map_err(|source| AllocError::Mount {
                    path: path.clone(),
                    source,
                })?;
                return Ok(path);
            }
        }
        unreachable!("some suffix is free")
    }

    /// Mounts a new allocation and records it.
    pub async fn allocate(&self, request: &AllocateRequest) -> Result<Allocation, AllocError> {
        let resource = Resource::parse(&request.resource)?;
        if let Some(ttl) = request.ttl.filter(|t| *t > MAX_TTL || t.is_zero()) {
            return Err(AllocError::Invalid(format!(
                "a TTL of {} is outside 1s..7d",
                humantime::format_duration(ttl)
            )));
        }
        let planned = plan(&self.ns, &resource).await?;
        // Pinned before anything is fetched: the budget never evicts this allocation's
        // blobs to make room for its other blobs.
        let pinned = self.pin(&planned.blobs);
        let result = self.allocate_pinned(request, &resource, &planned).await;
        match &result {
            Ok((id, _)) => {
                self.pinned_by
                    .lock()
                    .expect("pins poisoned")
                    .insert(*id, pinned);
            }
            Err(_) => self.unpin(&pinned),
        }
        result.map(|(_, allocation)| allocation)
    }

    async fn allocate_pinned(
        &self,
        request: &AllocateRequest,
        resource: &Resource,
        planned: &Planned,
    ) -> Result<(i64, Allocation), AllocError> {
        if request.hydrate {
            self.hydrator
                .fetch_all(&self.ns, &planned.view.repo, &planned.blobs)
                .await
                .map_err(|source| AllocError::Hydrate {
                    resource: resource.text.clone(),
                    source,
                })?;
        }
        let ttl = request.ttl.unwrap_or_else(|| default_ttl(planned.bytes));
        let _serial = self.serial.lock().await;
        let path = self.fresh_path(&resource.spec)?;
        let path_text = path.to_string_lossy().into_owned();
        let commit = planned.view.repo.commit.sha.to_hex();
        // Recorded first: its id names its working copy.
        let id = self.ns.store().index().add_allocation(&NewAllocation {
            resource: &resource.text,
            path: &path_text,
            client: &request.client,
            commit: &commit,
            ttl: ttl.as_secs() as i64,
            explicit_ttl: request.ttl.is_some(),
            bytes: planned.bytes,
            files: planned.files,
            read_only: request.read_only,
            keep_changes: request.keep_changes,
        })?;
        let mount = match self
            .mount(&path, planned.view.clone(), id, request.read_only)
            .await
        {
            Ok(mount) => mount,
            Err(e) => {
                let _ =
                    self.ns
                        .store()
                        .index()
                        .end_allocation(id, "released", "could not be mounted");
                let _ = std::fs::remove_dir(&path);
                return Err(e);
            }
        };
        self.mounts
            .lock()
            .expect("mounts poisoned")
            .insert(id, mount);
        tracing::info!(path = %path_text, resource = %resource.text, client = %request.client, ttl_secs = ttl.as_secs(), "allocated");
        let row = self
            .live_row(|r| r.id == id)?
            .ok_or_else(|| AllocError::NotAllocated(path_text.clone()))?;
        Ok((id, Allocation::from_row(&row, now())))
    }

    /// Several allocations at once; each succeeds or fails on its own.
    pub async fn allocate_many(
        &self,
        requests: &[AllocateRequest],
    ) -> Vec<Result<Allocation, AllocError>> {
        futures_util::future::join_all(requests.iter().map(|r| self.allocate(r))).await
    }

    /// Releases every live allocation, or those of `client`.
    pub async fn release_all(&self, client: Option<&str>) -> Result<Vec<Allocation>, AllocError> {
        self.release_where(|row, _| client.is_none_or(|c| c == row.client), "released")
            .await
    }

    /// Releases what `cleanup` selects: expired ones, and/or those older than `older_than`.
    pub async fn cleanup(
        &self,
        expired: bool,
        older_than: Option<Duration>,
    ) -> Result<Vec<Allocation>, AllocError> {
        self.release_where(
            |row, now| {
                (expired && now >= row.created_at + row.ttl)
                    || older_than.is_some_and(|age| now - row.created_at >= age.as_secs() as i64)
            },
            if expired {
                "expired"
            } else {
                "cleanup --older-than"
            },
        )
        .await
    }

    /// Live allocations (those past their TTL are marked expired until the cleaner runs).
    pub fn list(&self) -> Result<Vec<Allocation>, AllocError> {
        self.record_reads()?;
        let now = now();
        Ok(self
            .ns
            .store()
            .index()
            .live_allocations()?
            .iter()
            .map(|r| Allocation::from_row(r, now))
            .collect())
    }

    /// Unmounts one allocation and records why.
    async fn end(&self, row: &AllocationRow, reason: &str) -> Result<(), AllocError> {
        let mount = self.mounts.lock().expect("mounts poisoned").remove(&row.id);
        match mount {
            Some(mount) => mount.unmount_or_detach(),
            None if is_mountpoint(Path::new(&row.path)) => {
                let _ = crate::fs::unmount_lazy(Path::new(&row.path));
            }
            None => {}
        }
        let _ = std::fs::remove_dir(&row.path);
        let pinned = self
            .pinned_by
            .lock()
            .expect("pins poisoned")
            .remove(&row.id)
            .unwrap_or_default();
        self.unpin(&pinned);
        // Releasing discards the changes, unless they were to be kept.
        if !row.keep_changes
            && let Err(e) = discard_dir(&self.changes_dir(row.id))
        {
            tracing::warn!(path = %row.path, error = %e, "cannot discard the allocation's changes");
        }
        self.ns
            .store()
            .index()
            .end_allocation(row.id, "released", reason)?;
        tracing::info!(path = %row.path, client = %row.client, age_secs = now() - row.created_at, reason, "released");
        Ok(())
    }

    /// The live allocation `pick` chooses, if any.
    fn live_row(
        &self,
        pick: impl Fn(&AllocationRow) -> bool,
    ) -> Result<Option<AllocationRow>, AllocError> {
        Ok(self
            .ns
            .store()
            .index()
            .live_allocations()?
            .into_iter()
            .find(|r| pick(r)))
    }

    /// Releases the allocation mounted at `path`.
    pub async fn release(&self, path: &str) -> Result<Allocation, AllocError> {
        let _serial = self.serial.lock().await;
        let wanted = std::fs::canonicalize(path)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| path.trim_end_matches('/').to_string());
        let row = self
            .live_row(|r| r.path == wanted || r.path == path.trim_end_matches('/'))?
            .ok_or_else(|| AllocError::NotAllocated(path.to_string()))?;
        let listed = Allocation::from_row(&row, now());
        self.end(&row, "released").await?;
        Ok(listed)
    }

    /// Releases every live allocation that `select` picks, with `reason`.
    pub async fn release_where(
        &self,
        select: impl Fn(&AllocationRow, i64) -> bool,
        reason: &str,
    ) -> Result<Vec<Allocation>, AllocError> {
        let _serial = self.serial.lock().await;
        let now = now();
        let mut out = Vec::new();
        for row in self.ns.store().index().live_allocations()? {
            if select(&row, now) {
                out.push(Allocation::from_row(&row, now));
                self.end(&row, reason).await?;
            }
        }
        Ok(out)
    }

    /// Writes each live mount's last read time to its allocation's row.
    fn record_reads(&self) -> Result<(), AllocError> {
        let reads: Vec<(i64, i64)> = self
            .mounts
            .lock()
            .expect("mounts poisoned")
            .iter()
            .map(|(id, mount)| (*id, mount.core.last_read()))
            .filter(|(_, at)| *at > 0)
            .collect();
        for (id, at) in reads {
            self.ns.store().index().touch_allocation(id, at)?;
        }
        Ok(())
    }

    /// The cleaner's pass: releases expired allocations, and any older than 48 h that
    /// had no explicit TTL.
    pub async fn clean(&self) -> Result<Vec<Allocation>, AllocError> {
        self.record_reads()?;
        let mut out = self.cleanup(true, None).await?;
        out.extend(
            self.release_where(
                |r, now| {
                    !r.explicit_ttl && now - r.created_at >= FORCE_RELEASE_AGE.as_secs() as i64
                },
                "older than 48 h without an explicit TTL",
            )
            .await?,
        );
        Ok(out)
    }

    /// At daemon start: clears mounts left by a daemon that died, then mounts again every
    /// live, unexpired allocation; one that cannot be restored is recorded as lost.
    pub async fn restore(&self) -> Result<(u64, u64), AllocError> {
        let _serial = self.serial.lock().await;
        let (mut restored, mut lost) = (0, 0);
        let now = now();
        for row in self.ns.store().index().live_allocations()? {
            let path = PathBuf::from(&row.path);
            crate::fs::detach_leftover(&path);
            if now >= row.created_at + row.ttl {
                let _ = std::fs::remove_dir(&path);
                self.ns.store().index().end_allocation(
                    row.id,
                    "released",
                    "expired while the daemon was down",
                )?;
                continue;
            }
            match self.remount(&row).await {
                Ok((mount, blobs)) => {
                    self.mounts
                        .lock()
                        .expect("mounts poisoned")
                        .insert(row.id, mount);
                    let pinned = self.pin(&blobs);
                    self.pinned_by
                        .lock()
                        .expect("pins poisoned")
                        .insert(row.id, pinned);
                    restored += 1;
                }
                Err(e) => {
                    tracing::warn!(path = %row.path, error = %e, "allocation lost");
                    self.ns.store().index().end_allocation(
                        row.id,
                        "lost",
                        &format!("lost: {e}"),
                    )?;
                    lost += 1;
                }
            }
        }
        Ok((restored, lost))
    }

    async fn remount(
        &self,
        row: &AllocationRow,
    ) -> Result<(Mount, Vec<crate::remote::TreeEntry>), AllocError> {
        let resource = Resource::parse(&row.resource)?;
        // The allocation keeps the commit it was made with.
        let mut pinned = resource.clone();
        pinned.spec.reference = Some(row.commit.clone());
        let planned = plan(&self.ns, &pinned).await?;
        std::fs::create_dir_all(&row.path).map_err(|source| AllocError::Mount {
            path: PathBuf::from(&row.path),
            source,
        })?;
        let mount = self
            .mount(Path::new(&row.path), planned.view, row.id, row.read_only)
            .await?;
        Ok((mount, planned.blobs))
    }

    /// Discards the changes of the allocation shown at `path`, if it is one of these.
    pub fn reset_changes(&self, path: &str) -> bool {
        let cores: Vec<_> = self
            .mounts
            .lock()
            .expect("mounts poisoned")
            .values()
            .map(|mount| Arc::clone(&mount.core))
            .collect();
        cores.iter().any(|core| core.reset_changes(path))
    }

    /// Unmounts everything (the daemon is stopping); allocations stay recorded and are
    /// restored by the next daemon.
    pub fn unmount_all(&self) {
        let mounts: Vec<Mount> = self
            .mounts
            .lock()
            .expect("mounts poisoned")
            .drain()
            .map(|(_, m)| m)
            .collect();
        for mount in mounts {
            mount.unmount_or_detach();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_parse_into_repo_path_and_glob() {
        let r = Resource::parse("acme/api").unwrap();
        assert_eq!(
            (r.spec.repo.as_str(), r.path.len(), r.glob),
            ("api", 0, None)
        );
        let r = Resource::parse("acme/api@v1.0/src/pkg").unwrap();
        assert_eq!(r.spec.reference.as_deref(), Some("v1.0"));
        assert_eq!(r.path, ["src", "pkg"]);
        let r = Resource::parse("acme/api/**/*.py").unwrap();
        assert_eq!(r.glob.as_deref(), Some("**/*.py"));
        assert!(r.path.is_empty());
        assert!(Resource::parse("acme").is_err());
        assert!(Resource::parse("acme/api/../etc").is_err());
    }

    #[test]
    fn default_ttls_follow_size_classes() {
        assert_eq!(default_ttl(10), Duration::from_secs(3600));
        assert_eq!(default_ttl(5_000_000), Duration::from_secs(12 * 3600));
        assert_eq!(default_ttl(500_000_000), Duration::from_secs(24 * 3600));
    }

    #[test]
    fn a_glob_shows_matching_files_and_their_directories() {
        let entry = |name: &str| crate::remote::TreeEntry {
            name: name.into(),
            mode: Mode::File,
            sha: crate::oid::blob_sha(name.as_bytes()),
            size: 1,
        };
        let files: Vec<_> = [
            "a.py",
            "src/b.py",
            "src/c.txt",
            "src/deep/d.py",
            "docs/e.md",
        ]
        .iter()
        .map(|p| (p.to_string(), entry(p)))
        .collect();
        let glob = GlobBuilder::new("src/**/*.py")
            .literal_separator(true)
            .build()
            .unwrap()
            .compile_matcher();
        let mut visible: Vec<String> = visible_paths(&files, &glob).into_iter().collect();
        visible.sort();
        assert_eq!(visible, ["src", "src/b.py", "src/deep", "src/deep/d.py"]);
    }
}
