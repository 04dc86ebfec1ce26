//! The filesystem core: every operation as an async function over the namespace, with
//! no fuser types, so it is testable without a mount.
//!
//! Layout: `/` lists owners; `/<owner>` lists repositories; `/<owner>/<repo>` is the
//! default branch's head commit and `/<owner>/<repo>@<ref>` any branch, tag or commit,
//! found by lookup without being listed. Everything below a repo root is a git object
//! under one commit, immutable, identified by SHA (see `inode`).
//!
//! Consistency: a repo root re-resolves its ref at most every `ref_ttl` (a conditional
//! request). When the commit moves, the root's children change inode (their identity is
//! their SHA), the kernel is told to drop the root's cached entries, and files opened
//! before keep reading the content they opened.

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::control::{self, Control, ControlFiles};
use super::errno;
use super::hydrate::Hydrator;
use super::inode::{Identity, Ino, Inodes, Node, NodeKey, NodeKind, ROOT_INO, RepoContext};
use crate::namespace::{self, Namespace, NamespaceError, RepoSpec};
use crate::remote::{CommitInfo, Mode, RemoteError, Tree, TreeEntry};

/// Attribute and entry lifetime for content under a commit: it never changes.
pub const IMMUTABLE_TTL: Duration = Duration::from_secs(24 * 3600);
/// Lifetime of `/`, `/<owner>`, repo roots and the entries directly in a repo root, so a
/// moved branch is noticed within the ref TTL.
pub const MUTABLE_TTL: Duration = Duration::from_secs(1);
/// Size reported for directories, as most local filesystems do.
const DIR_SIZE: u64 = 4096;
/// Preferred I/O size reported to readers (`st_blksize`): large reads are fastest.
const BLOCK_SIZE: u32 = 128 * 1024;
/// Root trees prefetched at once when an owner is listed.
const PREFETCH_CONCURRENCY: usize = 8;
/// Longest symlink target we read (Linux's PATH_MAX).
const MAX_LINK_BYTES: u64 = 4096;

pub const XATTR_SHA: &str = "user.heimdall.sha";
pub const XATTR_URL: &str = "user.heimdall.url";

/// An errno, positive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub i32);

impl From<&NamespaceError> for Errno {
    fn from(e: &NamespaceError) -> Self {
        Errno(errno::from_namespace(e))
    }
}

type FsResult<T> = Result<T, Errno>;

fn fail(context: &str, error: NamespaceError) -> Errno {
    let errno = Errno::from(&error);
    if errno.0 == libc::ENOENT {
        tracing::debug!(%error, "{context}");
    } else {
        tracing::warn!(%error, "{context}");
    }
    errno
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Directory,
    File,
    Symlink,
}

/// What `stat` shows, independent of fuser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr {
    pub ino: Ino,
    pub kind: Kind,
    pub size: u64,
    pub perm: u16,
    pub nlink: u32,
    pub mtime: SystemTime,
    pub uid: u32,
    pub gid: u32,
    pub blksize: u32,
}

impl Attr {
    pub fn blocks(&self) -> u64 {
        self.size.div_ceil(512)
    }
}

#[derive(Debug, Clone)]
pub struct DirEntry {
    pub ino: Ino,
    pub kind: Kind,
    pub name: String,
}

/// Mount options the core needs.
#[derive(Debug, Clone)]
pub struct FsOptions {
    /// Owners listed at `/` from the start (`--org`).
    pub owners: Vec<String>,
    pub ref_ttl: Duration,
    pub hydrate_threshold: usize,
    pub uid: u32,
    pub gid: u32,
    /// `https://github.com` or the Enterprise host, for `user.heimdall.url`.
    pub web_url: String,
    /// Mount one resource instead of the whole namespace (an allocation).
    pub view: Option<View>,
}

/// What a mount of one resource shows at its root: a tree of a commit, and when a glob
/// chose the files, only those and the directories leading to them.
#[derive(Debug, Clone)]
pub struct View {
    pub repo: Arc<RepoContext>,
    /// The tree shown at the root, and its path in the repository.
    pub tree: crate::oid::Sha,
    pub path: String,
    /// Repository paths that may be shown (files and their ancestor directories); `None`
    /// shows everything under `path`.
    pub visible: Option<Arc<std::collections::HashSet<String>>>,
}

/// Something the kernel must forget: sent by the adapter, never from inside a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalidation {
    /// The directory's listing and attributes.
    Inode(Ino),
    /// One name in a directory.
    Entry(Ino, String),
}

/// FUSE requests this mount has answered, by kind, for `/.status/mount.json`: how a
/// tool's run looks from here (a warm run in page-cache mode sends no open and no read).
#[derive(Debug, Default)]
pub struct RequestCounters {
    pub lookup: AtomicU64,
    pub getattr: AtomicU64,
    pub open: AtomicU64,
    pub read: AtomicU64,
    pub read_bytes: AtomicU64,
    pub opendir: AtomicU64,
    pub readdir: AtomicU64,
    pub readlink: AtomicU64,
    pub xattr: AtomicU64,
    pub forget: AtomicU64,
}

/// A copy of [`RequestCounters`].
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct RequestCounts {
    pub lookup: u64,
    pub getattr: u64,
    pub open: u64,
    pub read: u64,
    pub read_bytes: u64,
    pub opendir: u64,
    pub readdir: u64,
    pub readlink: u64,
    pub xattr: u64,
    pub forget: u64,
}

impl RequestCounters {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn counts(&self) -> RequestCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        RequestCounts {
            lookup: get(&self.lookup),
            getattr: get(&self.getattr),
            open: get(&self.open),
            read: get(&self.read),
            read_bytes: get(&self.read_bytes),
            opendir: get(&self.opendir),
            readdir: get(&self.readdir),
            readlink: get(&self.readlink),
            xattr: get(&self.xattr),
            forget: get(&self.forget),
        }
    }
}

/// What `/.status/mount.json` reports besides the cache.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MountStatus {
    /// `page-cache` (no open requests; the kernel caches file pages) or `passthrough`.
    pub open_mode: &'static str,
    /// GitHub did not answer the last request: what is cached is served, the rest fails.
    pub offline: bool,
    pub mounted_at: String,
    pub inodes: usize,
    pub requests: RequestCounts,
    pub hydrations: super::hydrate::HydrationStats,
}

/// An owner's repository names and when they were listed.
type Listing = (Instant, Arc<Vec<String>>);

struct RootState {
    /// `None` for an empty repository.
    repo: Option<Arc<RepoContext>>,
    checked: Instant,
}

pub struct FsCore {
    ns: Arc<Namespace>,
    opts: FsOptions,
    inodes: Inodes,
    owners: Mutex<BTreeSet<String>>,
    listings: Mutex<HashMap<String, Listing>>,
    /// Names under an owner found not to exist, and when (negative cache for `ref_ttl`).
    missing: Mutex<HashMap<(Ino, String), Instant>>,
    roots: Mutex<HashMap<Ino, RootState>>,
    /// The newest snapshot inode of each control file, by (directory, name): readdir's
    /// `d_ino` for it.
    snapshots: Mutex<HashMap<(Ino, String), Ino>>,
    control: ControlFiles,
    requests: RequestCounters,
    /// Blobs read since the last flush: their access times are written to the index in
    /// batches ([`FsCore::flush_touches`]), so cache eviction knows what a mount uses.
    touched: Mutex<std::collections::HashSet<crate::oid::Sha>>,
    last_read: std::sync::atomic::AtomicI64,
    /// Whether files are opened with FUSE passthrough (set by the adapter at init).
    passthrough: AtomicBool,
    hydrator: Arc<Hydrator>,
    invalidate: Box<dyn Fn(Invalidation) + Send + Sync>,
    mounted_at: SystemTime,
}

/// The key of a node identified by its name alone (owners, repo roots, control files).
fn named(parent: Ino, name: &str) -> NodeKey {
    NodeKey {
        parent,
        name: name.to_string(),
        identity: Identity::Named,
    }
}

fn owner_key(name: &str) -> NodeKey {
    NodeKey {
        parent: ROOT_INO,
        name: name.to_string(),
        identity: Identity::Named,
    }
}

impl FsCore {
    /// `invalidate` is how the core asks the kernel to drop cached entries; the adapter
    /// delivers it off the request path.
    pub fn new(
        ns: Arc<Namespace>,
        opts: FsOptions,
        invalidate: Box<dyn Fn(Invalidation) + Send + Sync>,
    ) -> FsCore {
        let owners = opts.owners.iter().map(|o| o.to_ascii_lowercase()).collect();
        let control = ControlFiles::new(Arc::clone(&ns));
        let inodes = match &opts.view {
            Some(view) => Inodes::with_root(NodeKind::Content {
                repo: Arc::clone(&view.repo),
                path: view.path.clone(),
                mode: Mode::Tree,
                sha: view.tree,
                size: 0,
            }),
            None => Inodes::default(),
        };
        FsCore {
            hydrator: Arc::new(Hydrator::new(opts.hydrate_threshold)),
            ns,
            opts,
            inodes,
            owners: Mutex::new(owners),
            listings: Mutex::new(HashMap::new()),
            missing: Mutex::new(HashMap::new()),
            roots: Mutex::new(HashMap::new()),
            snapshots: Mutex::new(HashMap::new()),
            control,
            requests: RequestCounters::default(),
            touched: Mutex::new(std::collections::HashSet::new()),
            last_read: std::sync::atomic::AtomicI64::new(0),
            passthrough: AtomicBool::new(false),
            invalidate,
            mounted_at: SystemTime::now(),
        }
    }

    fn touch(&self, sha: crate::oid::Sha) {
        self.touched.lock().expect("touched poisoned").insert(sha);
        self.last_read.store(crate::clock::now(), Ordering::Relaxed);
    }

    /// When a file was last read through this mount (epoch seconds; 0: never).
    pub fn last_read(&self) -> i64 {
        self.last_read.load(Ordering::Relaxed)
    }

    /// Writes the access times of the blobs read since the last call.
    pub fn flush_touches(&self) {
        let shas: Vec<crate::oid::Sha> = self
            .touched
            .lock()
            .expect("touched poisoned")
            .drain()
            .collect();
        if !shas.is_empty()
            && let Err(e) = self.ns.store().index().touch_blobs(&shas)
        {
            tracing::debug!(error = %e, "cannot record access times");
        }
    }

    pub fn requests(&self) -> &RequestCounters {
        &self.requests
    }

    pub fn set_passthrough(&self, on: bool) {
        self.passthrough.store(on, Ordering::Relaxed);
    }

    /// Whether files are opened with FUSE passthrough now.
    pub fn passthrough(&self) -> bool {
        self.passthrough.load(Ordering::Relaxed)
    }

    pub fn status(&self) -> MountStatus {
        MountStatus {
            open_mode: if self.passthrough() {
                "passthrough"
            } else {
                "page-cache"
            },
            offline: self.ns.client().counts().unreachable,
            mounted_at: humantime::format_rfc3339_seconds(self.mounted_at).to_string(),
            inodes: self.inodes.len(),
            requests: self.requests.counts(),
            hydrations: self.hydrator.stats(),
        }
    }

    pub fn namespace(&self) -> &Arc<Namespace> {
        &self.ns
    }

    pub fn inodes(&self) -> &Inodes {
        &self.inodes
    }

    fn node(&self, ino: Ino) -> FsResult<Arc<Node>> {
        self.inodes.get(ino).ok_or(Errno(libc::ESTALE))
    }

    fn dir_attr(&self, ino: Ino, mtime: SystemTime, nlink: u32) -> Attr {
        Attr {
            ino,
            kind: Kind::Directory,
            size: DIR_SIZE,
            perm: 0o555,
            nlink,
            mtime,
            uid: self.opts.uid,
            gid: self.opts.gid,
            blksize: BLOCK_SIZE,
        }
    }

    fn commit_time(commit: &CommitInfo) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(commit.time.max(0) as u64)
    }

    /// Attributes of a node, resolving a repo root if its TTL ran out.
    pub async fn attr(&self, node: &Node) -> FsResult<(Attr, Duration)> {
        let NodeKind::RepoRoot { spec } = &node.kind else {
            return Ok(self.attr_now(node).expect("only repo roots wait"));
        };
        let repo = self.repo_root(node.ino, spec).await?;
        let mtime = repo
            .as_ref()
            .map_or(self.mounted_at, |r| Self::commit_time(&r.commit));
        let nlink = match &repo {
            Some(r) => self.nlink(r.commit.tree),
            None => 2,
        };
        let ttl = if is_pinned(spec) {
            IMMUTABLE_TTL
        } else {
            MUTABLE_TTL
        };
        Ok((self.dir_attr(node.ino, mtime, nlink), ttl))
    }

    /// Attributes known without waiting: those of every node but a repo root (`None`),
    /// whose commit may need resolving.
    pub fn attr_now(&self, node: &Node) -> Option<(Attr, Duration)> {
        Some(match &node.kind {
            NodeKind::RepoRoot { .. } => return None,
            NodeKind::Root | NodeKind::Owner { .. } | NodeKind::Control(_) => {
                (self.dir_attr(node.ino, self.mounted_at, 2), MUTABLE_TTL)
            }
            NodeKind::Snapshot { content, .. } => (
                Attr {
                    ino: node.ino,
                    kind: Kind::File,
                    size: content.len() as u64,
                    perm: 0o444,
                    nlink: 1,
                    mtime: SystemTime::now(),
                    uid: self.opts.uid,
                    gid: self.opts.gid,
                    blksize: BLOCK_SIZE,
                },
                // This inode's content never changes; the name is looked up every time.
                IMMUTABLE_TTL,
            ),
            NodeKind::Content {
                repo,
                mode,
                sha,
                size,
                ..
            } => {
                let mtime = Self::commit_time(&repo.commit);
                let attr = match mode {
                    Mode::Tree => self.dir_attr(node.ino, mtime, self.nlink(*sha)),
                    Mode::Submodule => self.dir_attr(node.ino, mtime, 2),
                    Mode::File | Mode::Executable | Mode::Symlink => Attr {
                        ino: node.ino,
                        kind: if *mode == Mode::Symlink {
                            Kind::Symlink
                        } else {
                            Kind::File
                        },
                        size: *size,
                        perm: match mode {
                            Mode::Executable => 0o555,
                            Mode::Symlink => 0o777,
                            _ => 0o444,
                        },
                        nlink: 1,
                        mtime,
                        uid: self.opts.uid,
                        gid: self.opts.gid,
                        blksize: BLOCK_SIZE,
                    },
                };
                (attr, IMMUTABLE_TTL)
            }
        })
    }

    /// 2 + subdirectories, when the tree is known locally (it almost always is).
    fn nlink(&self, tree: crate::oid::Sha) -> u32 {
        match self.ns.cached_tree(tree) {
            Ok(Some(tree)) => {
                2 + tree.entries.iter().filter(|e| e.mode == Mode::Tree).count() as u32
            }
            _ => 2,
        }
    }

    pub async fn getattr(&self, ino: Ino) -> FsResult<(Attr, Duration)> {
        let node = self.node(ino)?;
        self.attr(&node).await
    }

    /// The commit a repo root shows now; re-resolved after `ref_ttl`.
    async fn repo_root(&self, ino: Ino, spec: &RepoSpec) -> FsResult<Option<Arc<RepoContext>>> {
        self.resolve_root(ino, spec, false).await
    }

    /// [`FsCore::repo_root`], re-resolving now when `force` (a push was announced).
    async fn resolve_root(
        &self,
        ino: Ino,
        spec: &RepoSpec,
        force: bool,
    ) -> FsResult<Option<Arc<RepoContext>>> {
        if !force {
            let roots = self.roots.lock().expect("roots poisoned");
            if let Some(state) = roots.get(&ino)
                && (is_pinned(spec) || state.checked.elapsed() < self.opts.ref_ttl)
            {
                return Ok(state.repo.clone());
            }
        }
        let resolved = match self.ns.resolve(spec).await {
            Ok(commit) => Some(commit),
            Err(NamespaceError::Remote(RemoteError::EmptyRepo { .. })) => None,
            Err(e @ NamespaceError::Remote(RemoteError::NotFound { .. })) => {
                // The branch or tag was deleted (or the repository went away): the root
                // goes too, and the kernel forgets it.
                let known = self.roots.lock().expect("roots poisoned").remove(&ino);
                if known.is_some() {
                    tracing::info!(repo = %spec, "the ref is gone; so is its root");
                    (self.invalidate)(Invalidation::Inode(ino));
                    if let Some(node) = self.inodes.get(ino) {
                        (self.invalidate)(Invalidation::Entry(node.parent, node.name.clone()));
                    }
                }
                return Err(fail("resolving a repository", e));
            }
            Err(e) => {
                // Offline or failing: keep showing what we had.
                let roots = self.roots.lock().expect("roots poisoned");
                if let Some(state) = roots.get(&ino) {
                    tracing::warn!(repo = %spec, error = %e, "cannot re-resolve; serving the last known commit");
                    return Ok(state.repo.clone());
                }
                return Err(fail("resolving a repository", e));
            }
        };
        let mut roots = self.roots.lock().expect("roots poisoned");
        let previous = roots
            .get(&ino)
            .and_then(|s| s.repo.as_ref().map(|r| r.commit.sha));
        let repo = match (resolved, roots.get(&ino)) {
            (
                Some(commit),
                Some(RootState {
                    repo: Some(repo), ..
                }),
            ) if repo.commit.sha == commit.sha => Some(Arc::clone(repo)),
            (Some(commit), _) => Some(Arc::new(RepoContext {
                spec: spec.clone(),
                commit,
            })),
            (None, _) => None,
        };
        let current = repo.as_ref().map(|r| r.commit.sha);
        roots.insert(
            ino,
            RootState {
                repo: repo.clone(),
                checked: Instant::now(),
            },
        );
        drop(roots);
        if previous.is_some() && previous != current {
            tracing::info!(repo = %spec, from = ?previous, to = ?current, "branch moved");
            (self.invalidate)(Invalidation::Inode(ino));
            for name in self.inodes.child_names(ino) {
                (self.invalidate)(Invalidation::Entry(ino, name));
            }
        }
        Ok(repo)
    }

    /// The tree a directory node shows, with the commit context of its content.
    async fn dir_tree(
        &self,
        node: &Node,
    ) -> FsResult<Option<(Arc<RepoContext>, Arc<Tree>, String)>> {
        let (repo, tree_sha, path) = match &node.kind {
            NodeKind::RepoRoot { spec } => match self.repo_root(node.ino, spec).await? {
                Some(repo) => {
                    let tree = repo.commit.tree;
                    (repo, tree, String::new())
                }
                None => return Ok(None),
            },
            NodeKind::Content {
                repo,
                mode: Mode::Tree,
                sha,
                path,
                ..
            } => (Arc::clone(repo), *sha, path.clone()),
            NodeKind::Content {
                mode: Mode::Submodule,
                ..
            } => return Ok(None),
            NodeKind::Content { .. } => return Err(Errno(libc::ENOTDIR)),
            NodeKind::Root
            | NodeKind::Owner { .. }
            | NodeKind::Control(_)
            | NodeKind::Snapshot { .. } => {
                return Err(Errno(libc::EINVAL));
            }
        };
        let tree = self
            .ns
            .tree(&repo.spec, tree_sha)
            .await
            .map_err(|e| fail("fetching a tree", e))?;
        Ok(Some((repo, tree, path)))
    }

    fn content_node(
        &self,
        parent: Ino,
        repo: &Arc<RepoContext>,
        dir_path: &str,
        entry: &TreeEntry,
    ) -> Arc<Node> {
        let key = NodeKey {
            parent,
            name: entry.name.clone(),
            identity: Identity::Object(entry.sha, entry.mode),
        };
        self.inodes.lookup(key, || NodeKind::Content {
            repo: Arc::clone(repo),
            path: if dir_path.is_empty() {
                entry.name.clone()
            } else {
                format!("{dir_path}/{}", entry.name)
            },
            mode: entry.mode,
            sha: entry.sha,
            size: entry.size,
        })
    }

    /// Whether entry `name` of the directory at repository path `dir` is shown: always,
    /// except in a view chosen by a glob.
    fn shown(&self, dir: &str, name: &str) -> bool {
        let Some(View {
            visible: Some(visible),
            ..
        }) = &self.opts.view
        else {
            return true;
        };
        if dir.is_empty() {
            visible.contains(name)
        } else {
            visible.contains(&format!("{dir}/{name}"))
        }
    }

    /// The listing of a tree under a commit, when it is local (memory or index): what the
    /// FUSE thread may answer itself, without a task or the network.
    fn local_tree(&self, dir: &Node) -> Option<(Arc<RepoContext>, Arc<Tree>, String)> {
        let NodeKind::Content {
            repo,
            mode: Mode::Tree,
            sha,
            path,
            ..
        } = &dir.kind
        else {
            return None;
        };
        let tree = self.ns.cached_tree(*sha).ok()??;
        Some((Arc::clone(repo), tree, path.clone()))
    }

    /// [`FsCore::lookup`] when it needs neither the network nor a wait: a name in a tree
    /// whose listing is local. `None`: ask [`FsCore::lookup`].
    pub fn lookup_local(&self, parent: Ino, name: &str) -> Option<FsResult<(Attr, Duration)>> {
        let dir = self.inodes.get(parent)?;
        let (repo, tree, path) = self.local_tree(&dir)?;
        let Some(entry) = tree.get(name).filter(|_| self.shown(&path, name)) else {
            return Some(Err(Errno(libc::ENOENT)));
        };
        let node = self.content_node(parent, &repo, &path, entry);
        self.attr_now(&node).map(Ok)
    }

    /// [`FsCore::getattr`] without waiting, for every node but a repo root.
    pub fn getattr_local(&self, ino: Ino) -> Option<FsResult<(Attr, Duration)>> {
        match self.inodes.get(ino) {
            Some(node) => self.attr_now(&node).map(Ok),
            None => Some(Err(Errno(libc::ESTALE))),
        }
    }

    /// [`FsCore::read`] when the content is local (a stored blob or a control snapshot).
    pub fn read_local(&self, ino: Ino, offset: u64, size: u32) -> Option<FsResult<Vec<u8>>> {
        let node = self.inodes.get(ino)?;
        match &node.kind {
            NodeKind::Snapshot { content, .. } => Some(Ok(slice(content, offset, size))),
            NodeKind::Content {
                mode,
                sha,
                size: len,
                ..
            } if mode.is_blob() => {
                let file = self.ns.store().open_blob(*sha, *len)?;
                self.touch(*sha);
                Some(read_file_at(&file, offset, size))
            }
            _ => None,
        }
    }

    /// [`FsCore::readdir`] of a tree under a commit whose listing is local.
    pub fn readdir_local(&self, ino: Ino) -> Option<FsResult<Vec<DirEntry>>> {
        let dir = self.inodes.get(ino)?;
        let (repo, tree, path) = self.local_tree(&dir)?;
        let mut out = self.dots(&dir);
        self.push_tree_entries(&mut out, ino, &repo, &tree, &path);
        Some(Ok(out))
    }

    /// `.` and `..` of a directory listing.
    fn dots(&self, dir: &Node) -> Vec<DirEntry> {
        vec![
            DirEntry {
                ino: dir.ino,
                kind: Kind::Directory,
                name: ".".into(),
            },
            DirEntry {
                ino: dir.parent,
                kind: Kind::Directory,
                name: "..".into(),
            },
        ]
    }

    fn push_tree_entries(
        &self,
        out: &mut Vec<DirEntry>,
        ino: Ino,
        repo: &Arc<RepoContext>,
        tree: &Tree,
        path: &str,
    ) {
        self.hydrator.note_listing(&self.ns, repo);
        for entry in tree.entries.iter().filter(|e| self.shown(path, &e.name)) {
            let key = NodeKey {
                parent: ino,
                name: entry.name.clone(),
                identity: Identity::Object(entry.sha, entry.mode),
            };
            out.push(DirEntry {
                ino: self.inodes.peek(&key),
                kind: match entry.mode {
                    Mode::Tree | Mode::Submodule => Kind::Directory,
                    Mode::Symlink => Kind::Symlink,
                    Mode::File | Mode::Executable => Kind::File,
                },
                name: entry.name.clone(),
            });
        }
    }

    /// Looks `name` up in directory `parent`; the returned node carries one new kernel
    /// reference. The TTL is the entry's lifetime in the kernel's cache.
    pub async fn lookup(&self, parent: Ino, name: &str) -> FsResult<(Attr, Duration)> {
        let dir = self.node(parent)?;
        match &dir.kind {
            NodeKind::Root if name == control::PATTERNS_DIR || name == control::STATUS_DIR => {
                let which = if name == control::PATTERNS_DIR {
                    Control::PatternsDir
                } else {
                    Control::StatusDir
                };
                let node = self
                    .inodes
                    .lookup(named(parent, name), || NodeKind::Control(which));
                self.attr(&node).await
            }
            NodeKind::Control(dir_kind) => {
                let file = match (dir_kind, name) {
                    (Control::StatusDir, control::RATE_LIMIT_FILE) => Control::RateLimit,
                    (Control::StatusDir, control::CACHE_FILE) => Control::Cache,
                    (Control::StatusDir, control::MOUNT_FILE) => Control::Mount,
                    (Control::StatusDir, _) => {
                        let org = control::org_of(name).ok_or(Errno(libc::ENOENT))?;
                        if !self.control.scanned_orgs().contains(&org) {
                            return Err(Errno(libc::ENOENT));
                        }
                        Control::Status(org)
                    }
                    (Control::PatternsDir, _) => {
                        Control::Patterns(control::org_of(name).ok_or(Errno(libc::ENOENT))?)
                    }
                    _ => return Err(Errno(libc::ENOTDIR)),
                };
                self.snapshot(parent, name, file).await
            }
            NodeKind::Root => {
                let login = name.to_ascii_lowercase();
                if !namespace::valid_owner(&login) {
                    return Err(Errno(libc::ENOENT));
                }
                let known = self
                    .owners
                    .lock()
                    .expect("owners poisoned")
                    .contains(&login);
                if !known {
                    self.ns
                        .owner(&login)
                        .await
                        .map_err(|e| fail("looking up an owner", e))?;
                    self.owners
                        .lock()
                        .expect("owners poisoned")
                        .insert(login.clone());
                }
                let node = self.inodes.lookup(owner_key(&login), || NodeKind::Owner {
                    login: login.clone(),
                });
                Ok((self.attr(&node).await?.0, MUTABLE_TTL))
            }
            NodeKind::Owner { login } => {
                let (repo, reference) = namespace::split_repo_name(name);
                let spec =
                    RepoSpec::new(login, repo, reference).map_err(|_| Errno(libc::ENOENT))?;
                if self.known_missing(parent, name, login, repo) {
                    return Err(Errno(libc::ENOENT));
                }
                let key = NodeKey {
                    parent,
                    name: name.to_string(),
                    identity: Identity::Named,
                };
                let node = self.inodes.lookup(key, || NodeKind::RepoRoot { spec });
                match self.attr(&node).await {
                    Ok(found) => Ok(found),
                    Err(e) => {
                        self.inodes.forget(node.ino, 1);
                        if e.0 == libc::ENOENT {
                            self.missing
                                .lock()
                                .expect("missing poisoned")
                                .insert((parent, name.to_string()), Instant::now());
                        }
                        Err(e)
                    }
                }
            }
            NodeKind::RepoRoot { .. } | NodeKind::Content { .. } => {
                let Some((repo, tree, path)) = self.dir_tree(&dir).await? else {
                    return Err(Errno(libc::ENOENT));
                };
                let entry = tree
                    .get(name)
                    .filter(|_| self.shown(&path, name))
                    .ok_or(Errno(libc::ENOENT))?;
                let node = self.content_node(parent, &repo, &path, entry);
                let (attr, ttl) = self.attr(&node).await?;
                // Entries directly in a mutable root expire soon, so lookups come back here
                // and notice a moved branch.
                let ttl = match &dir.kind {
                    NodeKind::RepoRoot { spec } if !is_pinned(spec) => MUTABLE_TTL,
                    _ => ttl,
                };
                Ok((attr, ttl))
            }
            NodeKind::Snapshot { .. } => Err(Errno(libc::ENOTDIR)),
        }
    }

    /// A push to `owner/repo` moved `reference` (a branch or tag name, without `refs/...`):
    /// every repo root of that repository showing it, or the default branch, is re-resolved
    /// now instead of after `ref_ttl`, and the kernel forgets what a moved root showed. A
    /// name found missing before (`repo@new-branch`) is forgotten too. Returns how many
    /// roots were re-resolved.
    pub async fn ref_pushed(&self, owner: &str, repo: &str, reference: &str) -> usize {
        let same_repo = |spec: &RepoSpec| {
            spec.owner.eq_ignore_ascii_case(owner) && spec.repo.eq_ignore_ascii_case(repo)
        };
        let affected: Vec<(Ino, RepoSpec)> = {
            let roots = self.roots.lock().expect("roots poisoned");
            roots
                .keys()
                .filter_map(|&ino| match &self.inodes.get(ino)?.kind {
                    NodeKind::RepoRoot { spec }
                        if same_repo(spec)
                            && spec.reference.as_deref().is_none_or(|r| r == reference) =>
                    {
                        Some((ino, spec.clone()))
                    }
                    _ => None,
                })
                .collect()
        };
        if let Err(e) = self.ns.expire_ref(owner, repo, reference) {
            tracing::warn!(%owner, %repo, error = %e, "cannot mark the pushed ref for a poll");
        }
        let mut forgotten = Vec::new();
        {
            let mut missing = self.missing.lock().expect("missing poisoned");
            missing.retain(|(parent, name), _| {
                let under_owner = self.inodes.get(*parent).is_some_and(|n| {
                    matches!(&n.kind, NodeKind::Owner { login } if login.eq_ignore_ascii_case(owner))
                });
                let (name_repo, name_ref) = namespace::split_repo_name(name);
                let hit = under_owner
                    && name_repo.eq_ignore_ascii_case(repo)
                    && name_ref.as_deref().is_none_or(|r| r == reference);
                if hit {
                    forgotten.push((*parent, name.clone()));
                }
                !hit
            });
        }
        for (parent, name) in forgotten {
            (self.invalidate)(Invalidation::Entry(parent, name));
        }
        let mut refreshed = 0;
        for (ino, spec) in affected {
            match self.resolve_root(ino, &spec, true).await {
                Ok(_) => refreshed += 1,
                Err(e) => {
                    tracing::warn!(repo = %spec, errno = e.0, "cannot re-resolve after a push")
                }
            }
        }
        refreshed
    }

    /// Whether `repo` under `login` is known not to exist: a recent failed lookup, or a
    /// listing that lacks it (a listing older than `ref_ttl` only vouches for presence).
    fn known_missing(&self, parent: Ino, name: &str, login: &str, repo: &str) -> bool {
        let ttl = self.opts.ref_ttl;
        {
            let mut missing = self.missing.lock().expect("missing poisoned");
            match missing.get(&(parent, name.to_string())) {
                Some(at) if at.elapsed() < ttl => return true,
                Some(_) => {
                    missing.remove(&(parent, name.to_string()));
                }
                None => {}
            }
        }
        let listings = self.listings.lock().expect("listings poisoned");
        match listings.get(&login.to_ascii_lowercase()) {
            Some((at, names)) if at.elapsed() < ttl => {
                !names.iter().any(|n| n.eq_ignore_ascii_case(repo))
            }
            _ => false,
        }
    }

    /// Lists the `--org` owners' repositories, so lookups under them (tools probing for
    /// `pyproject.toml` in every parent directory) are answered without a request.
    pub async fn preload_owners(&self) {
        for login in self.opts.owners.clone() {
            if let Err(e) = self.repo_names(&login.to_ascii_lowercase(), false).await {
                tracing::warn!(
                    owner = login,
                    errno = e.0,
                    "cannot list the owner's repositories at mount"
                );
            }
        }
    }

    /// How long the kernel may remember that a name is missing in `parent`: a day inside
    /// a commit (a tree never changes), briefly where a branch or listing can change.
    pub fn negative_ttl(&self, parent: Ino) -> Duration {
        if self.is_immutable_dir(parent) {
            IMMUTABLE_TTL
        } else {
            MUTABLE_TTL
        }
    }

    /// A directory whose listing never changes: a tree under a commit, or a repo root
    /// pinned to a commit SHA.
    pub fn is_immutable_dir(&self, ino: Ino) -> bool {
        self.inodes.get(ino).is_some_and(|n| match &n.kind {
            NodeKind::Content { .. } => true,
            NodeKind::RepoRoot { spec } => is_pinned(spec),
            NodeKind::Root
            | NodeKind::Owner { .. }
            | NodeKind::Control(_)
            | NodeKind::Snapshot { .. } => false,
        })
    }

    pub fn forget(&self, ino: Ino, n: u64) {
        self.inodes.forget(ino, n);
        if self.inodes.get(ino).is_none() {
            self.roots.lock().expect("roots poisoned").remove(&ino);
            self.snapshots
                .lock()
                .expect("snapshots poisoned")
                .retain(|_, latest| *latest != ino);
        }
    }

    /// Makes a control file's content now and returns the inode holding it. Reading
    /// `/.patterns/<org>.json` may run a scan first (see [`ControlFiles::content`]).
    async fn snapshot(&self, parent: Ino, name: &str, file: Control) -> FsResult<(Attr, Duration)> {
        let content = self
            .control
            .content(&file, self.status())
            .await
            .map_err(|why| {
                tracing::warn!(file = name, %why, "control file unavailable");
                Errno(libc::EIO)
            })?;
        let key = NodeKey {
            parent,
            name: name.to_string(),
            identity: Identity::Object(crate::oid::blob_sha(&content), Mode::File),
        };
        let content = Arc::new(content);
        let node = self
            .inodes
            .lookup(key, || NodeKind::Snapshot { file, content });
        self.snapshots
            .lock()
            .expect("snapshots poisoned")
            .insert((parent, name.to_string()), node.ino);
        // Control files are looked up every time (entry TTL 0), so each open sees the
        // content as of that open.
        let (attr, _) = self.attr(&node).await?;
        Ok((attr, Duration::ZERO))
    }

    /// Every entry of a directory, `.` and `..` first.
    pub async fn readdir(&self, ino: Ino) -> FsResult<Vec<DirEntry>> {
        let dir = self.node(ino)?;
        let mut out = self.dots(&dir);
        match &dir.kind {
            NodeKind::Root => {
                let owners: Vec<String> = self
                    .owners
                    .lock()
                    .expect("owners poisoned")
                    .iter()
                    .cloned()
                    .collect();
                for login in owners {
                    let ino = self.inodes.peek(&owner_key(&login));
                    out.push(DirEntry {
                        ino,
                        kind: Kind::Directory,
                        name: login,
                    });
                }
                for name in [control::PATTERNS_DIR, control::STATUS_DIR] {
                    out.push(DirEntry {
                        ino: self.inodes.peek(&named(ino, name)),
                        kind: Kind::Directory,
                        name: name.to_string(),
                    });
                }
            }
            NodeKind::Control(which) => {
                let mut names: Vec<String> = self
                    .control
                    .scanned_orgs()
                    .into_iter()
                    .map(|o| format!("{o}.json"))
                    .collect();
                if *which == Control::StatusDir {
                    names.push(control::CACHE_FILE.into());
                    names.push(control::MOUNT_FILE.into());
                    names.push(control::RATE_LIMIT_FILE.into());
                }
                let latest = self.snapshots.lock().expect("snapshots poisoned");
                for name in names {
                    out.push(DirEntry {
                        ino: latest
                            .get(&(ino, name.clone()))
                            .copied()
                            .unwrap_or_else(|| self.inodes.peek(&named(ino, &name))),
                        kind: Kind::File,
                        name,
                    });
                }
            }
            NodeKind::Owner { login } => {
                for name in self.repo_names(login, true).await?.iter() {
                    let key = NodeKey {
                        parent: ino,
                        name: name.clone(),
                        identity: Identity::Named,
                    };
                    out.push(DirEntry {
                        ino: self.inodes.peek(&key),
                        kind: Kind::Directory,
                        name: name.clone(),
                    });
                }
            }
            NodeKind::RepoRoot { .. } | NodeKind::Content { .. } => {
                if let Some((repo, tree, path)) = self.dir_tree(&dir).await? {
                    self.push_tree_entries(&mut out, ino, &repo, &tree, &path);
                }
            }
            NodeKind::Snapshot { .. } => return Err(Errno(libc::ENOTDIR)),
        }
        Ok(out)
    }

    /// Repository names of an owner: one revalidated listing per `ref_ttl`. With
    /// `prefetch`, a fresh listing starts a background prefetch of the repos' root trees.
    async fn repo_names(&self, login: &str, prefetch: bool) -> FsResult<Arc<Vec<String>>> {
        if let Some((at, names)) = self.listings.lock().expect("listings poisoned").get(login)
            && at.elapsed() < self.opts.ref_ttl
        {
            return Ok(Arc::clone(names));
        }
        let owner = self
            .ns
            .owner(login)
            .await
            .map_err(|e| fail("looking up an owner", e))?;
        let repos = match self.ns.client().list_repos(&owner).await {
            Ok(repos) => {
                let _ = self.ns.store().index().put_repos(login, &repos);
                repos
            }
            Err(e) if e.is_transient() => {
                tracing::warn!(owner = login, error = %e, "cannot list repositories; serving the last known listing");
                self.ns
                    .store()
                    .index()
                    .repos(login)
                    .map_err(|e| fail("reading the index", e.into()))?
            }
            Err(e) => return Err(fail("listing repositories", e.into())),
        };
        let names: Arc<Vec<String>> = Arc::new(repos.iter().map(|r| r.name.clone()).collect());
        self.listings
            .lock()
            .expect("listings poisoned")
            .insert(login.to_string(), (Instant::now(), Arc::clone(&names)));
        if prefetch {
            self.prefetch_roots(login, &names);
        }
        Ok(names)
    }

    /// Resolves each repo's default branch and fetches its trees in the background, so
    /// a glob over `/<owner>/*/file` finds them local.
    fn prefetch_roots(&self, login: &str, names: &[String]) {
        let ns = Arc::clone(&self.ns);
        let specs: Vec<RepoSpec> = names
            .iter()
            .filter_map(|name| RepoSpec::new(login, name, None).ok())
            .collect();
        tokio::spawn(async move {
            use futures_util::StreamExt;
            futures_util::stream::iter(specs)
                .for_each_concurrent(PREFETCH_CONCURRENCY, |spec| {
                    let ns = Arc::clone(&ns);
                    async move {
                        if let Ok(commit) = ns.resolve(&spec).await {
                            let _ = ns.tree(&spec, commit.tree).await;
                        }
                    }
                })
                .await;
        });
    }

    /// The blob behind a file or symlink node, local (downloaded and verified if needed).
    async fn local_blob(&self, node: &Node) -> FsResult<PathBuf> {
        let NodeKind::Content {
            repo,
            mode,
            sha,
            size,
            ..
        } = &node.kind
        else {
            return Err(Errno(libc::EISDIR));
        };
        if !mode.is_blob() {
            return Err(Errno(libc::EISDIR));
        }
        if let Some(path) = self.ns.store().blob_path(*sha, *size) {
            return Ok(path);
        }
        self.hydrator.before_miss(&self.ns, repo, *sha, *size).await;
        let entry = TreeEntry {
            name: node.name.clone(),
            mode: *mode,
            sha: *sha,
            size: *size,
        };
        self.ns
            .blob(&repo.spec, &entry)
            .await
            .map_err(|e| fail("fetching a blob", e))
    }

    pub async fn readlink(&self, ino: Ino) -> FsResult<Vec<u8>> {
        let node = self.node(ino)?;
        match &node.kind {
            NodeKind::Content {
                mode: Mode::Symlink,
                size,
                ..
            } if *size <= MAX_LINK_BYTES => {}
            NodeKind::Content {
                mode: Mode::Symlink,
                ..
            } => return Err(Errno(libc::ENAMETOOLONG)),
            _ => return Err(Errno(libc::EINVAL)),
        }
        let path = self.local_blob(&node).await?;
        std::fs::read(&path).map_err(|e| Errno(e.raw_os_error().unwrap_or(libc::EIO)))
    }

    /// The stored file holding a blob-backed inode's content, fetched first if needed
    /// (for a passthrough open: the kernel then reads it directly).
    pub async fn open_blob(&self, ino: Ino) -> FsResult<File> {
        let node = self.node(ino)?;
        let path = self.local_blob(&node).await?;
        if let NodeKind::Content { sha, .. } = &node.kind {
            self.touch(*sha);
        }
        File::open(&path).map_err(|e| Errno(e.raw_os_error().unwrap_or(libc::EIO)))
    }

    /// Whether `ino` is a control file (read from memory, never passed through).
    pub fn is_snapshot(&self, ino: Ino) -> bool {
        self.inodes
            .get(ino)
            .is_some_and(|n| matches!(n.kind, NodeKind::Snapshot { .. }))
    }

    /// Reads `size` bytes at `offset` of a file. The inode fixes the content (a blob SHA
    /// or a control snapshot), so a file opened before a branch moved keeps reading the
    /// old content. A blob not yet local is fetched first.
    pub async fn read(&self, ino: Ino, offset: u64, size: u32) -> FsResult<Vec<u8>> {
        let node = self.node(ino)?;
        if let NodeKind::Snapshot { content, .. } = &node.kind {
            return Ok(slice(content, offset, size));
        }
        let path = self.local_blob(&node).await?;
        let file = File::open(&path).map_err(|e| Errno(e.raw_os_error().unwrap_or(libc::EIO)))?;
        if let NodeKind::Content { sha, .. } = &node.kind {
            self.touch(*sha);
        }
        read_file_at(&file, offset, size)
    }

    /// `user.heimdall.sha` and `user.heimdall.url`.
    pub async fn getxattr(&self, ino: Ino, name: &str) -> FsResult<Vec<u8>> {
        let node = self.node(ino)?;
        let (repo, sha, path, is_dir) = match &node.kind {
            NodeKind::Content {
                repo,
                sha,
                path,
                mode,
                ..
            } => (
                Arc::clone(repo),
                *sha,
                path.clone(),
                matches!(mode, Mode::Tree | Mode::Submodule),
            ),
            NodeKind::RepoRoot { spec } => match self.repo_root(ino, spec).await? {
                Some(repo) => {
                    let tree = repo.commit.tree;
                    (repo, tree, String::new(), true)
                }
                None => return Err(Errno(libc::ENODATA)),
            },
            NodeKind::Root
            | NodeKind::Owner { .. }
            | NodeKind::Control(_)
            | NodeKind::Snapshot { .. } => {
                return Err(Errno(libc::ENODATA));
            }
        };
        match name {
            XATTR_SHA => Ok(sha.to_hex().into_bytes()),
            XATTR_URL => {
                let kind = if is_dir { "tree" } else { "blob" };
                let mut url = format!(
                    "{}/{}/{}/{kind}/{}",
                    self.opts.web_url, repo.spec.owner, repo.spec.repo, repo.commit.sha
                );
                if !path.is_empty() {
                    url.push('/');
                    url.push_str(&path);
                }
                Ok(url.into_bytes())
            }
            _ => Err(Errno(libc::ENODATA)),
        }
    }

    pub fn listxattr(&self, ino: Ino) -> FsResult<Vec<u8>> {
        let node = self.node(ino)?;
        match node.kind {
            NodeKind::Root
            | NodeKind::Owner { .. }
            | NodeKind::Control(_)
            | NodeKind::Snapshot { .. } => Ok(Vec::new()),
            NodeKind::RepoRoot { .. } | NodeKind::Content { .. } => {
                Ok(format!("{XATTR_SHA}\0{XATTR_URL}\0").into_bytes())
            }
        }
    }

    pub fn hydrator(&self) -> &Hydrator {
        &self.hydrator
    }
}

/// Up to `size` bytes of `content` at `offset`.
fn slice(content: &[u8], offset: u64, size: u32) -> Vec<u8> {
    let start = usize::try_from(offset).map_or(content.len(), |o| o.min(content.len()));
    let end = start.saturating_add(size as usize).min(content.len());
    content[start..end].to_vec()
}

/// Up to `size` bytes of `file` from `offset` (short only at the end).
fn read_file_at(file: &File, offset: u64, size: u32) -> FsResult<Vec<u8>> {
    let os_error = |e: std::io::Error| Errno(e.raw_os_error().unwrap_or(libc::EIO));
    let mut buf = vec![0u8; size as usize];
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(os_error(e)),
        }
    }
    buf.truncate(filled);
    Ok(buf)
}

/// A ref that names a commit by its full SHA never moves.
fn is_pinned(spec: &RepoSpec) -> bool {
    spec.reference
        .as_deref()
        .is_some_and(|r| crate::oid::Sha::parse(r).is_ok())
}
