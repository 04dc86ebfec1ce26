//! The core's state and what every operation uses: the inode table, working copies,
//! attributes, repo roots (held or following their ref), forgetting.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::changes::{LocalKind, NodeId};
use crate::fs::attr::{Attr, Attrs, IMMUTABLE_TTL, Invalidation, MUTABLE_TTL, commit_time};
use crate::fs::control::{Control, ControlFiles};
use crate::fs::errno::{Errno, FsResult, fail, fail_layer};
use crate::fs::inode::{Identity, Ino, Inodes, Node, NodeKey, NodeKind, ROOT_INO};
use crate::fs::owners::Owners;
use crate::fs::roots::{Roots, is_pinned};
use crate::fs::status::{HeldRoot, MountStatus, OpCounters, Passthrough};
use crate::fs::worktree::{ChangesOptions, WorkingCopy};
use crate::hydrate::{DEFAULT_THRESHOLD, Hydrator};
use crate::namespace::{DEFAULT_REF_TTL, Namespace, RepoContext, RepoSpec};
use crate::oid::Sha;
use crate::remote::Mode;

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
    /// Where working copies keep their changes; `None`: a read-only mount (EROFS).
    pub changes: Option<ChangesOptions>,
}

impl FsOptions {
    /// The whole namespace as the current user sees it, with the defaults of
    /// `heimdall mount`, read-only; callers change what they were asked for.
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
            changes: None,
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
    /// The glob that chose them.
    pub glob: Option<String>,
}

pub struct FsCore {
    pub(super) ns: Arc<Namespace>,
    pub(super) opts: FsOptions,
    pub(super) inodes: Inodes,
    pub(super) owners: Arc<Owners>,
    pub(super) roots: Roots,
    /// Working copies of the repo roots, by `owner/name` as looked up (lowercase owner).
    pub(super) worktrees: Mutex<HashMap<String, Arc<WorkingCopy>>>,
    /// Removed local files the kernel still holds: their bytes go when it forgets them.
    pub(super) orphans: Mutex<HashSet<Ino>>,
    /// One materialization or copy-up at a time (they may wait for the network).
    pub(super) changing: tokio::sync::Mutex<()>,
    /// The newest snapshot inode of each control file, by (directory, name): readdir's
    /// `d_ino` for it.
    pub(super) snapshots: Mutex<HashMap<(Ino, String), Ino>>,
    pub(super) control: ControlFiles,
    pub(super) ops: OpCounters,
    /// When a file was last read through this mount (epoch seconds), for allocations.
    pub(super) last_read: AtomicI64,
    pub(super) passthrough: Passthrough,
    pub(super) hydrator: Arc<Hydrator>,
    pub(super) invalidate: Box<dyn Fn(Invalidation) + Send + Sync>,
    /// Waits until the invalidations sent so far reached the kernel (set by the session).
    pub(super) invalidations_wait: std::sync::OnceLock<Box<dyn Fn(Duration) + Send + Sync>>,
    pub(super) mounted_at: SystemTime,
}

/// The key of a node identified by its name alone (owners, repo roots, control files).
pub(super) fn named(parent: Ino, name: &str) -> NodeKey {
    NodeKey {
        parent,
        name: name.to_string(),
        identity: Identity::Named,
    }
}

pub(super) fn owner_key(name: &str) -> NodeKey {
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
            Some(view) => {
                let wc = opts
                    .changes
                    .as_ref()
                    .and_then(|c| {
                        WorkingCopy::for_allocation(
                            c,
                            &view.repo.spec.to_string(),
                            view.glob.clone(),
                        )
                    })
                    .map(Arc::new);
                Inodes::with_root(NodeKind::Content {
                    repo: Arc::clone(&view.repo),
                    path: view.path.clone(),
                    mode: Mode::Tree,
                    sha: view.tree,
                    size: 0,
                    wc,
                })
            }
            None => Inodes::default(),
        };
        let core = FsCore {
            hydrator: Arc::new(Hydrator::new(opts.hydrate_threshold)),
            owners: Arc::new(Owners::new(&opts.owners, opts.ref_ttl)),
            roots: Roots::new(opts.ref_ttl),
            passthrough: Passthrough::new(opts.passthrough),
            ns,
            opts,
            inodes,
            worktrees: Mutex::new(HashMap::new()),
            orphans: Mutex::new(HashSet::new()),
            changing: tokio::sync::Mutex::new(()),
            snapshots: Mutex::new(HashMap::new()),
            control,
            ops: OpCounters::default(),
            last_read: AtomicI64::new(0),
            invalidate,
            invalidations_wait: std::sync::OnceLock::new(),
            mounted_at: SystemTime::now(),
        };
        core.reopen_view_layer();
        core
    }

    /// An allocation remounted (after a daemon restart, or kept changes): its layer, if
    /// it has one, shows at the root at once.
    pub(super) fn reopen_view_layer(&self) {
        let Some(root) = self.inodes.get(ROOT_INO) else {
            return;
        };
        let NodeKind::Content {
            repo, wc: Some(wc), ..
        } = &root.kind
        else {
            return;
        };
        match wc.layer() {
            Ok(Some(_)) => {
                let kind = NodeKind::Local {
                    repo: Arc::clone(repo),
                    path: self
                        .opts
                        .view
                        .as_ref()
                        .map(|v| v.path.clone())
                        .unwrap_or_default(),
                    wc: Arc::clone(wc),
                    node: crate::changes::ROOT,
                    kind: LocalKind::Dir,
                };
                self.inodes.rebind(ROOT_INO, kind);
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(path = wc.path(), error = %e, "cannot open the allocation's changes")
            }
        }
    }

    /// How the core waits for its invalidations to reach the kernel (the session's).
    pub fn set_invalidations_wait(&self, wait: Box<dyn Fn(Duration) + Send + Sync>) {
        let _ = self.invalidations_wait.set(wait);
    }

    /// Waits (briefly) until the kernel has been told everything sent so far: after a
    /// push or a reset the next access must see the change, not a cached entry.
    fn wait_invalidations(&self) {
        /// Longest wait: the kernel answers notifications in microseconds.
        const DELIVERY_WAIT: Duration = Duration::from_secs(2);
        if let Some(wait) = self.invalidations_wait.get() {
            wait(DELIVERY_WAIT);
        }
    }

    /// A blob was read through this mount: for eviction (the store's access times) and
    /// for the allocation's last access.
    pub(super) fn touch(&self, sha: Sha) {
        self.ns.store().note_access(sha);
        self.touch_local();
    }

    /// A local file was read or written through this mount.
    pub(super) fn touch_local(&self) {
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

    /// Whether the mount takes writes (its repository roots are working copies).
    pub fn writable(&self) -> bool {
        self.opts.changes.is_some()
    }

    pub fn status(&self) -> MountStatus {
        let mut held: Vec<HeldRoot> = self
            .worktrees
            .lock()
            .expect("worktrees poisoned")
            .values()
            .filter_map(|wc| {
                wc.held().map(|repo| HeldRoot {
                    path: wc.path().to_string(),
                    commit: repo.commit.sha.to_hex(),
                })
            })
            .collect();
        held.sort_by(|a, b| a.path.cmp(&b.path));
        MountStatus {
            open_mode: self.passthrough.open_mode(),
            writable: self.writable(),
            offline: self.ns.offline(),
            mounted_at: humantime::format_rfc3339_seconds(self.mounted_at).to_string(),
            inodes: self.inodes.len(),
            held_roots: held,
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

    pub(super) fn node(&self, ino: Ino) -> FsResult<Arc<Node>> {
        self.inodes.get(ino).ok_or(Errno(libc::ESTALE))
    }

    pub(super) fn attrs(&self) -> Attrs {
        Attrs {
            uid: self.opts.uid,
            gid: self.opts.gid,
            writable: self.writable(),
        }
    }

    /// Attributes of a node, resolving a repo root if its TTL ran out.
    pub async fn attr(&self, node: &Node) -> FsResult<(Attr, Duration)> {
        let NodeKind::RepoRoot { spec } = &node.kind else {
            return self.attr_now(node).expect("only repo roots wait");
        };
        let repo = self.repo_root(node, spec).await?;
        Ok(self.root_attr(node, spec, repo.as_ref()))
    }

    /// A repo root's attributes and TTL when it shows `repo` (`None`: empty).
    pub(super) fn root_attr(
        &self,
        node: &Node,
        spec: &RepoSpec,
        repo: Option<&Arc<RepoContext>>,
    ) -> (Attr, Duration) {
        let held = self.held_layer(node);
        let mtime = match (&held, &repo) {
            (Some((layer, _)), _) => layer
                .node(crate::changes::ROOT)
                .ok()
                .flatten()
                .map_or(self.mounted_at, |m| m.mtime),
            (None, Some(r)) => commit_time(&r.commit),
            (None, None) => self.mounted_at,
        };
        let nlink = match (&held, &repo) {
            (Some((layer, _)), _) => self.local_nlink(layer, crate::changes::ROOT),
            (None, Some(r)) => self.nlink(r.commit.tree),
            (None, None) => 2,
        };
        let ttl = if is_pinned(spec) || held.is_some() {
            IMMUTABLE_TTL
        } else {
            MUTABLE_TTL
        };
        let perm = held
            .as_ref()
            .and_then(|(layer, _)| layer.node(crate::changes::ROOT).ok().flatten())
            .map(|m| m.perm);
        let mut attr = self.attrs().dir(node.ino, mtime, nlink);
        if let Some(perm) = perm {
            attr.perm = perm as u16;
        }
        (attr, ttl)
    }

    /// [`FsCore::attr`] of a repo root when it needs no wait: held by its changes,
    /// pinned, or resolved within the ref TTL.
    pub(super) fn root_attr_now(&self, node: &Node, spec: &RepoSpec) -> Option<(Attr, Duration)> {
        let repo = match self.root_wc(node) {
            Some(wc) if wc.held().is_some() => wc.held(),
            // Changes left by an earlier mount, not loaded yet (or unreadable): ask `attr`.
            Some(wc) if !matches!(wc.layer(), Ok(None)) => return None,
            _ => self.roots.fresh(node.ino, spec)?,
        };
        Some(self.root_attr(node, spec, repo.as_ref()))
    }

    /// Attributes known without waiting: those of every node but a repo root (`None`),
    /// whose commit may need resolving.
    pub fn attr_now(&self, node: &Node) -> Option<FsResult<(Attr, Duration)>> {
        let attrs = self.attrs();
        Some(Ok(match &node.kind {
            NodeKind::RepoRoot { .. } => return None,
            NodeKind::Root | NodeKind::Owner { .. } | NodeKind::Control(_) => {
                (attrs.read_only_dir(node.ino, self.mounted_at), MUTABLE_TTL)
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
                wc,
                ..
            } => {
                let mtime = commit_time(&repo.commit);
                let attr = match mode {
                    Mode::Tree => attrs.dir(node.ino, mtime, self.nlink(*sha)),
                    Mode::Submodule => attrs.dir(node.ino, mtime, 2),
                    Mode::File | Mode::Executable | Mode::Symlink => {
                        let mut attr = attrs.blob(node.ino, *mode, *size, mtime);
                        if wc.is_some() && !self.inodes.is_named(node.ino) {
                            attr.nlink = 0; // removed from the working copy while open
                        }
                        attr
                    }
                };
                (attr, IMMUTABLE_TTL)
            }
            NodeKind::Local {
                wc, node: id, kind, ..
            } => {
                let attr = match self.local_attr(wc, node.ino, *id, *kind) {
                    Ok(attr) => attr,
                    Err(e) => return Some(Err(e)),
                };
                (attr, IMMUTABLE_TTL)
            }
        }))
    }

    /// A layer node's attributes: a file's from its data file, a directory's or
    /// symlink's from the layer.
    pub(super) fn local_attr(
        &self,
        wc: &WorkingCopy,
        ino: Ino,
        id: NodeId,
        kind: LocalKind,
    ) -> FsResult<Attr> {
        let layer = wc
            .layer()
            .map_err(|e| fail_layer("reading a local node", &e))?
            .ok_or(Errno(libc::ESTALE))?;
        let attrs = self.attrs();
        match kind {
            LocalKind::File => {
                let meta = layer
                    .file_meta(id)
                    .map_err(|e| fail_layer("reading a file's attributes", &e))?;
                let mut attr = attrs.local_file(ino, &meta);
                if self
                    .orphans
                    .lock()
                    .expect("orphans poisoned")
                    .contains(&ino)
                {
                    attr.nlink = 0; // removed while open
                }
                Ok(attr)
            }
            LocalKind::Dir | LocalKind::Symlink => {
                let meta = layer
                    .node(id)
                    .map_err(|e| fail_layer("reading a local node", &e))?;
                let Some(meta) = meta else {
                    // A directory removed while a process was in it (a shell's cwd):
                    // it stats as an empty, unlinked directory, as on a local disk.
                    return match kind {
                        LocalKind::Dir if !self.inodes.is_named(ino) => {
                            Ok(attrs.dir(ino, SystemTime::now(), 0))
                        }
                        _ => Err(Errno(libc::ESTALE)),
                    };
                };
                Ok(match kind {
                    LocalKind::Dir => {
                        let mut attr = attrs.dir(ino, meta.mtime, self.local_nlink(&layer, id));
                        attr.perm = meta.perm as u16;
                        attr
                    }
                    _ => attrs.local_symlink(ino, &meta),
                })
            }
        }
    }

    /// 2 + subdirectories, when the tree is known locally (it almost always is).
    pub(super) fn nlink(&self, tree: Sha) -> u32 {
        match self.ns.cached_tree(tree) {
            Ok(Some(tree)) => {
                2 + tree.entries.iter().filter(|e| e.mode == Mode::Tree).count() as u32
            }
            _ => 2,
        }
    }

    pub(super) fn local_nlink(&self, layer: &crate::changes::Layer, dir: NodeId) -> u32 {
        match layer.entries(dir) {
            Ok(entries) => 2 + entries.subdirs(),
            Err(_) => 2,
        }
    }

    pub async fn getattr(&self, ino: Ino) -> FsResult<(Attr, Duration)> {
        let node = self.node(ino)?;
        self.attr(&node).await
    }

    /// The working copy of repo root `node` (`None` on a read-only mount).
    pub(super) fn root_wc(&self, node: &Node) -> Option<Arc<WorkingCopy>> {
        let options = self.opts.changes.as_ref()?;
        let NodeKind::RepoRoot { spec } = &node.kind else {
            return None;
        };
        let key = format!("{}/{}", spec.owner.to_ascii_lowercase(), node.name);
        let mut worktrees = self.worktrees.lock().expect("worktrees poisoned");
        if let Some(wc) = worktrees.get(&key) {
            return Some(Arc::clone(wc));
        }
        let wc = Arc::new(WorkingCopy::for_root(
            options,
            &spec.owner.to_ascii_lowercase(),
            &node.name,
        )?);
        worktrees.insert(key, Arc::clone(&wc));
        Some(wc)
    }

    /// A repo root's layer and the commit it holds the root at, if it has changes.
    pub(super) fn held_layer(
        &self,
        node: &Node,
    ) -> Option<(Arc<crate::changes::Layer>, Arc<RepoContext>)> {
        let wc = self.root_wc(node)?;
        let layer = wc.layer().ok()??;
        Some((layer, wc.held()?))
    }

    /// The commit a repo root shows now: the one its changes hold it at, else its ref's,
    /// re-resolved after `ref_ttl` (see [`Roots`]).
    pub(super) async fn repo_root(
        &self,
        node: &Node,
        spec: &RepoSpec,
    ) -> FsResult<Option<Arc<RepoContext>>> {
        if let Some(wc) = self.root_wc(node) {
            if let Some(held) = wc.held() {
                return Ok(Some(held));
            }
            match wc.layer() {
                Ok(Some(layer)) => {
                    // Changes left by an earlier mount: the root shows their commit.
                    let commit = self
                        .ns
                        .commit(spec, layer.meta().commit)
                        .await
                        .map_err(|e| fail("reading the held commit", e))?;
                    let repo = Arc::new(RepoContext {
                        spec: spec.clone(),
                        commit,
                    });
                    wc.set_held(Arc::clone(&repo));
                    return Ok(Some(repo));
                }
                Ok(None) => {}
                Err(e) => return Err(fail_layer("opening the root's changes", &e)),
            }
        }
        self.roots
            .resolve(
                &self.ns,
                &self.inodes,
                &*self.invalidate,
                node.ino,
                spec,
                false,
            )
            .await
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
        self.wait_invalidations();
        refreshed
    }

    /// Lists the `--org` owners' repositories, so lookups under them are answered
    /// without a request.
    pub async fn preload_owners(&self) {
        self.owners.preload(&self.ns, &self.opts.owners).await;
    }

    /// How long the kernel may remember that a name is missing in `parent`: a day inside
    /// a commit or a working copy (a tree never changes; a working copy changes only
    /// through the kernel), briefly where a branch or listing can change.
    pub fn negative_ttl(&self, parent: Ino) -> Duration {
        if self.is_immutable_dir(parent) {
            IMMUTABLE_TTL
        } else {
            MUTABLE_TTL
        }
    }

    /// A directory whose listing changes only through the kernel: a tree under a commit,
    /// a working copy's directory, or a repo root pinned to a commit SHA or held by its
    /// changes.
    pub fn is_immutable_dir(&self, ino: Ino) -> bool {
        self.inodes.get(ino).is_some_and(|n| match &n.kind {
            NodeKind::Content { .. } | NodeKind::Local { .. } => true,
            NodeKind::RepoRoot { spec } => is_pinned(spec) || self.held_layer(&n).is_some(),
            NodeKind::Root
            | NodeKind::Owner { .. }
            | NodeKind::Control(_)
            | NodeKind::Snapshot { .. } => false,
        })
    }

    pub fn forget(&self, ino: Ino, n: u64) {
        let Some(gone) = self.inodes.forget(ino, n) else {
            return;
        };
        self.roots.forget(ino);
        self.snapshots
            .lock()
            .expect("snapshots poisoned")
            .retain(|_, latest| *latest != ino);
        if self.orphans.lock().expect("orphans poisoned").remove(&ino)
            && let NodeKind::Local { wc, node, .. } = &gone.kind
            && let Ok(Some(layer)) = wc.layer()
        {
            layer.discard(*node);
        }
    }

    /// Makes a control file's content now and returns the inode holding it. Reading
    /// `/.patterns/<org>.json` may run a scan first (see [`ControlFiles::content`]).
    pub(super) async fn snapshot(
        &self,
        parent: Ino,
        name: &str,
        file: Control,
    ) -> FsResult<(Attr, Duration)> {
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

    /// Discards the changes of the working copy shown at `path` (`heimdall changes
    /// reset`): its layer goes, the kernel forgets what its root showed, and the root
    /// shows its commit again (a repo root follows its ref again). `false`: no working
    /// copy of this mount is shown there.
    pub fn reset_changes(&self, path: &str) -> bool {
        let path = path.trim_end_matches('/');
        let root_wc = self
            .worktrees
            .lock()
            .expect("worktrees poisoned")
            .iter()
            .find(|(_, wc)| wc.path() == path)
            .map(|(key, wc)| (key.clone(), Arc::clone(wc)));
        let (root, wc) = match root_wc {
            Some((key, wc)) => {
                let (owner, name) = key.split_once('/').expect("owner/name");
                let root = self.inodes.peek(&NodeKey {
                    parent: self.inodes.peek(&owner_key(owner)),
                    name: name.to_string(),
                    identity: Identity::Named,
                });
                (root, wc)
            }
            None => match self.view_wc() {
                Some(wc) if wc.path() == path => (ROOT_INO, wc),
                _ => return false,
            },
        };
        if let Err(e) = wc.discard() {
            tracing::warn!(path, error = %e, "cannot discard the changes");
            return false;
        }
        tracing::info!(path, "changes discarded");
        if root == ROOT_INO
            && let Some(view) = &self.opts.view
        {
            self.inodes.rebind(
                ROOT_INO,
                NodeKind::Content {
                    repo: Arc::clone(&view.repo),
                    path: view.path.clone(),
                    mode: Mode::Tree,
                    sha: view.tree,
                    size: 0,
                    wc: Some(Arc::clone(&wc)),
                },
            );
        }
        self.roots.forget(root);
        (self.invalidate)(Invalidation::Inode(root));
        for name in self.inodes.child_names(root) {
            (self.invalidate)(Invalidation::Entry(root, name));
        }
        self.wait_invalidations();
        true
    }

    /// An allocation's working copy (the view root's).
    fn view_wc(&self) -> Option<Arc<WorkingCopy>> {
        match &self.inodes.get(ROOT_INO)?.kind {
            NodeKind::Content { wc, .. } => wc.clone(),
            NodeKind::Local { wc, .. } => Some(Arc::clone(wc)),
            _ => None,
        }
    }
}
