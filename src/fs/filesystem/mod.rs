//! The filesystem core: every operation as an async function over the namespace, with
//! no fuser types, so it is testable without a mount.
//!
//! Layout: `/` lists owners; `/<owner>` lists repositories; `/<owner>/<repo>` is the
//! default branch's head commit and `/<owner>/<repo>@<ref>` any branch, tag or commit,
//! found by lookup without being listed. Everything below a repo root is a git object
//! under one commit, immutable, identified by SHA (see `inode`).
//!
//! Consistency: a repo root re-resolves its ref at most every `ref_ttl` (`roots`). When
//! the commit moves, the root's children change inode (their identity is their SHA), the
//! kernel is told to drop the root's cached entries, and files opened before keep
//! reading the content they opened. Owners and their listings are `owners`' concern, the
//! control files `control`'s; blobs missing locally are fetched through the hydration
//! policy ([`crate::hydrate`]).

mod read;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::attr::{
    Attr, Attrs, DirEntry, IMMUTABLE_TTL, Invalidation, Kind, MUTABLE_TTL, commit_time,
};
use super::control::{self, Control, ControlFiles};
use super::errno::{Errno, FsResult, fail};
use super::inode::{Identity, Ino, Inodes, Node, NodeKey, NodeKind, ROOT_INO};
use super::owners::Owners;
use super::roots::{Roots, is_pinned};
use super::status::{MountStatus, OpCounters, Passthrough};
use super::xattr;
use crate::hydrate::{DEFAULT_THRESHOLD, Hydrator};
use crate::namespace::{self, DEFAULT_REF_TTL, Namespace, RepoContext, RepoSpec};
use crate::oid::Sha;
use crate::remote::{Mode, Tree, TreeEntry};

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
    /// Open files with FUSE passthrough when the kernel offers it, instead of the default
    /// open-less, page-cached mode (see the README's "Semantics").
    pub passthrough: bool,
}

impl FsOptions {
    /// The whole namespace as the current user sees it, with the defaults of
    /// `heimdall mount`; callers change what they were asked for.
    pub fn new(web_url: String) -> FsOptions {
        FsOptions {
            owners: Vec::new(),
            ref_ttl: DEFAULT_REF_TTL,
            hydrate_threshold: DEFAULT_THRESHOLD,
            // SAFETY: getuid and getgid cannot fail.
            uid: unsafe { libc::getuid() },
            gid: unsafe { libc::getgid() },
            web_url,
            view: None,
            passthrough: false,
        }
    }
}

/// What a mount of one resource shows at its root: a tree of a commit, and when a glob
/// chose the files, only those and the directories leading to them.
#[derive(Debug, Clone)]
pub struct View {
    pub repo: Arc<RepoContext>,
    /// The tree shown at the root, and its path in the repository.
    pub tree: Sha,
    pub path: String,
    /// Repository paths that may be shown (files and their ancestor directories); `None`
    /// shows everything under `path`.
    pub visible: Option<Arc<std::collections::HashSet<String>>>,
}

pub struct FsCore {
    ns: Arc<Namespace>,
    opts: FsOptions,
    inodes: Inodes,
    owners: Owners,
    roots: Roots,
    /// The newest snapshot inode of each control file, by (directory, name): readdir's
    /// `d_ino` for it.
    snapshots: Mutex<HashMap<(Ino, String), Ino>>,
    control: ControlFiles,
    ops: OpCounters,
    /// When a file was last read through this mount (epoch seconds), for allocations.
    last_read: AtomicI64,
    passthrough: Passthrough,
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
    /// `invalidate` is how the core asks the kernel to drop cached entries; the session
    /// delivers it off the request path.
    pub fn new(
        ns: Arc<Namespace>,
        opts: FsOptions,
        invalidate: Box<dyn Fn(Invalidation) + Send + Sync>,
    ) -> FsCore {
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
            owners: Owners::new(&opts.owners, opts.ref_ttl),
            roots: Roots::new(opts.ref_ttl),
            passthrough: Passthrough::new(opts.passthrough),
            ns,
            opts,
            inodes,
            snapshots: Mutex::new(HashMap::new()),
            control,
            ops: OpCounters::default(),
            last_read: AtomicI64::new(0),
            invalidate,
            mounted_at: SystemTime::now(),
        }
    }

    /// A blob was read through this mount: for eviction (the store's access times) and
    /// for the allocation's last access.
    fn touch(&self, sha: Sha) {
        self.ns.store().note_access(sha);
        self.last_read.store(crate::clock::now(), Ordering::Relaxed);
    }

    /// When a file was last read through this mount (epoch seconds; 0: never).
    pub fn last_read(&self) -> i64 {
        self.last_read.load(Ordering::Relaxed)
    }

    /// FUSE operations answered, by kind (the adapter counts them).
    pub fn ops(&self) -> &OpCounters {
        &self.ops
    }

    pub fn passthrough(&self) -> &Passthrough {
        &self.passthrough
    }

    pub fn status(&self) -> MountStatus {
        MountStatus {
            open_mode: self.passthrough.open_mode(),
            offline: self.ns.client().counts().unreachable,
            mounted_at: humantime::format_rfc3339_seconds(self.mounted_at).to_string(),
            inodes: self.inodes.len(),
            requests: self.ops.counts(),
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

    fn attrs(&self) -> Attrs {
        Attrs {
            uid: self.opts.uid,
            gid: self.opts.gid,
        }
    }

    /// Attributes of a node, resolving a repo root if its TTL ran out.
    pub async fn attr(&self, node: &Node) -> FsResult<(Attr, Duration)> {
        let NodeKind::RepoRoot { spec } = &node.kind else {
            return Ok(self.attr_now(node).expect("only repo roots wait"));
        };
        let repo = self.repo_root(node.ino, spec).await?;
        let mtime = repo
            .as_ref()
            .map_or(self.mounted_at, |r| commit_time(&r.commit));
        let nlink = match &repo {
            Some(r) => self.nlink(r.commit.tree),
            None => 2,
        };
        let ttl = if is_pinned(spec) {
            IMMUTABLE_TTL
        } else {
            MUTABLE_TTL
        };
        Ok((self.attrs().dir(node.ino, mtime, nlink), ttl))
    }

    /// Attributes known without waiting: those of every node but a repo root (`None`),
    /// whose commit may need resolving.
    pub fn attr_now(&self, node: &Node) -> Option<(Attr, Duration)> {
        let attrs = self.attrs();
        Some(match &node.kind {
            NodeKind::RepoRoot { .. } => return None,
            NodeKind::Root | NodeKind::Owner { .. } | NodeKind::Control(_) => {
                (attrs.dir(node.ino, self.mounted_at, 2), MUTABLE_TTL)
            }
            // This inode's content never changes; the name is looked up every time.
            NodeKind::Snapshot { content, .. } => (
                attrs.snapshot(node.ino, content.len() as u64),
                IMMUTABLE_TTL,
            ),
            NodeKind::Content {
                repo,
                mode,
                sha,
                size,
                ..
            } => {
                let mtime = commit_time(&repo.commit);
                let attr = match mode {
                    Mode::Tree => attrs.dir(node.ino, mtime, self.nlink(*sha)),
                    Mode::Submodule => attrs.dir(node.ino, mtime, 2),
                    Mode::File | Mode::Executable | Mode::Symlink => {
                        attrs.blob(node.ino, *mode, *size, mtime)
                    }
                };
                (attr, IMMUTABLE_TTL)
            }
        })
    }

    /// 2 + subdirectories, when the tree is known locally (it almost always is).
    fn nlink(&self, tree: Sha) -> u32 {
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

    /// The commit a repo root shows now; re-resolved after `ref_ttl` (see [`Roots`]).
    async fn repo_root(&self, ino: Ino, spec: &RepoSpec) -> FsResult<Option<Arc<RepoContext>>> {
        self.roots
            .resolve(&self.ns, &self.inodes, &*self.invalidate, ino, spec, false)
            .await
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
            NodeKind::Root if Control::dir_named(name).is_some() => {
                let which = Control::dir_named(name).expect("checked");
                let node = self
                    .inodes
                    .lookup(named(parent, name), || NodeKind::Control(which));
                self.attr(&node).await
            }
            NodeKind::Control(dir_kind) => {
                let file = self
                    .control
                    .file_in(dir_kind, name)
                    .map_err(|e| Errno::from(&e))?;
                self.snapshot(parent, name, file).await
            }
            NodeKind::Root => {
                let login = name.to_ascii_lowercase();
                if !namespace::valid_owner(&login) {
                    return Err(Errno(libc::ENOENT));
                }
                self.owners.look_up(&self.ns, &login).await?;
                let node = self.inodes.lookup(owner_key(&login), || NodeKind::Owner {
                    login: login.clone(),
                });
                Ok((self.attr(&node).await?.0, MUTABLE_TTL))
            }
            NodeKind::Owner { login } => {
                let (repo, reference) = namespace::split_repo_name(name);
                let spec =
                    RepoSpec::new(login, repo, reference).map_err(|_| Errno(libc::ENOENT))?;
                if self.owners.known_missing(login, name, repo) {
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
                            self.owners.note_missing(login, name);
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
        let affected = self.roots.pushed(owner, repo, reference);
        if let Err(e) = self.ns.expire_ref(owner, repo, reference) {
            tracing::warn!(%owner, %repo, error = %e, "cannot mark the pushed ref for a poll");
        }
        for (login, name) in self.owners.forget_missing(owner, repo, reference) {
            let parent = self.inodes.peek(&owner_key(&login));
            (self.invalidate)(Invalidation::Entry(parent, name));
        }
        let mut refreshed = 0;
        for (ino, spec) in affected {
            let result = self
                .roots
                .resolve(&self.ns, &self.inodes, &*self.invalidate, ino, &spec, true)
                .await;
            match result {
                Ok(_) => refreshed += 1,
                Err(e) => {
                    tracing::warn!(repo = %spec, errno = e.0, "cannot re-resolve after a push")
                }
            }
        }
        refreshed
    }

    /// Lists the `--org` owners' repositories, so lookups under them are answered
    /// without a request.
    pub async fn preload_owners(&self) {
        self.owners.preload(&self.ns, &self.opts.owners).await;
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
            self.roots.forget(ino);
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
            .map_err(|e| {
                tracing::warn!(file = name, error = %e, "control file unavailable");
                Errno::from(&e)
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
                for login in self.owners.logins() {
                    let ino = self.inodes.peek(&owner_key(&login));
                    out.push(DirEntry {
                        ino,
                        kind: Kind::Directory,
                        name: login,
                    });
                }
                for name in control::DIRS {
                    out.push(DirEntry {
                        ino: self.inodes.peek(&named(ino, name)),
                        kind: Kind::Directory,
                        name: name.to_string(),
                    });
                }
            }
            NodeKind::Control(which) => {
                let names = self.control.names_in(which);
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
                for name in self.owners.repo_names(&self.ns, login, true).await?.iter() {
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
        let object = xattr::Object {
            repo: &repo,
            sha,
            path: &path,
            is_dir,
        };
        xattr::value(name, &self.opts.web_url, &object)
    }

    pub fn listxattr(&self, ino: Ino) -> FsResult<Vec<u8>> {
        let node = self.node(ino)?;
        match node.kind {
            NodeKind::Root
            | NodeKind::Owner { .. }
            | NodeKind::Control(_)
            | NodeKind::Snapshot { .. } => Ok(Vec::new()),
            NodeKind::RepoRoot { .. } | NodeKind::Content { .. } => Ok(xattr::names()),
        }
    }
}
