//! Names and listings: what a directory shows (a tree of the commit, or a directory of a
//! working copy's layer), lookups, readdir, and the fast paths the FUSE thread answers
//! itself when everything needed is local.

use std::sync::Arc;
use std::time::Duration;

use super::base::{FsCore, named, owner_key};
use crate::changes::{Entry, Layer, LocalKind, NodeId};
use crate::fs::attr::{Attr, DirEntry, Kind, MUTABLE_TTL};
use crate::fs::control::{self, Control};
use crate::fs::errno::{Errno, FsResult, fail};
use crate::fs::inode::{Identity, Ino, Node, NodeKey, NodeKind};
use crate::fs::roots::is_pinned;
use crate::fs::worktree::WorkingCopy;
use crate::namespace::{self, RepoContext, RepoSpec};
use crate::remote::{Mode, Tree, TreeEntry};

/// How long the kernel may keep a name of `dir` whose node lives `ttl`: entries directly
/// in a mutable root expire soon, so lookups come back and notice a moved branch (a root
/// held by its changes does not move).
pub(super) fn entry_ttl(dir: &Node, view: &DirView, ttl: Duration) -> Duration {
    match &dir.kind {
        NodeKind::RepoRoot { spec }
            if !is_pinned(spec) && matches!(view.listing, Listing::Tree(_)) =>
        {
            MUTABLE_TTL
        }
        _ => ttl,
    }
}

/// What a directory lists.
pub(super) enum Listing {
    /// A tree of the commit (in a glob view, only the entries shown).
    Tree(Arc<Tree>),
    /// A directory of the working copy's layer.
    Layer(Arc<crate::changes::Dir>),
}

/// A directory as it shows now.
pub(super) struct DirView {
    pub(super) repo: Arc<RepoContext>,
    /// Its path in the repository at the commit (for glob views and links).
    pub(super) path: String,
    pub(super) wc: Option<Arc<WorkingCopy>>,
    pub(super) listing: Listing,
}

/// One name of a directory.
pub(super) enum Child {
    Lower(TreeEntry),
    Local { node: NodeId, kind: LocalKind },
}

impl Child {
    fn from_entry(name: &str, entry: &Entry) -> Child {
        match entry {
            Entry::Lower { mode, sha, size } => Child::Lower(TreeEntry {
                name: name.to_string(),
                mode: *mode,
                sha: *sha,
                size: *size,
            }),
            Entry::Local { node, kind } => Child::Local {
                node: *node,
                kind: *kind,
            },
        }
    }

    pub(super) fn kind(&self) -> Kind {
        match self {
            Child::Lower(entry) => match entry.mode {
                Mode::Tree | Mode::Submodule => Kind::Directory,
                Mode::Symlink => Kind::Symlink,
                Mode::File | Mode::Executable => Kind::File,
            },
            Child::Local { kind, .. } => match kind {
                LocalKind::Dir => Kind::Directory,
                LocalKind::Symlink => Kind::Symlink,
                LocalKind::File => Kind::File,
            },
        }
    }

    pub(super) fn identity(&self, wc: Option<&WorkingCopy>) -> Identity {
        match (self, wc) {
            (Child::Lower(entry), _) => Identity::Object(entry.sha, entry.mode),
            (Child::Local { node, .. }, Some(wc)) => Identity::Local(wc.id(), node.to_owned()),
            (Child::Local { node, .. }, None) => Identity::Local(0, node.to_owned()),
        }
    }
}

impl DirView {
    /// The child called `name`, if shown.
    pub(super) fn child(&self, core: &FsCore, name: &str) -> Option<Child> {
        match &self.listing {
            Listing::Tree(tree) => tree
                .get(name)
                .filter(|_| core.shown(&self.path, name))
                .map(|e| Child::Lower(e.clone())),
            Listing::Layer(entries) => entries.get(name).map(|e| Child::from_entry(name, e)),
        }
    }

    /// Every child shown, in name order.
    pub(super) fn children(&self, core: &FsCore) -> Vec<(String, Child)> {
        match &self.listing {
            Listing::Tree(tree) => tree
                .entries
                .iter()
                .filter(|e| core.shown(&self.path, &e.name))
                .map(|e| (e.name.clone(), Child::Lower(e.clone())))
                .collect(),
            Listing::Layer(entries) => entries
                .iter()
                .map(|(name, e)| (name.clone(), Child::from_entry(name, e)))
                .collect(),
        }
    }

    /// The path of child `name` in the repository.
    pub(super) fn child_path(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.path)
        }
    }
}

impl FsCore {
    /// Whether entry `name` of the directory at repository path `dir` is shown: always,
    /// except in a view chosen by a glob.
    pub(super) fn shown(&self, dir: &str, name: &str) -> bool {
        let Some(crate::fs::View {
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

    /// What directory `node` shows, with what it needs from the network. `None`: nothing
    /// (an empty repository, a gitlink).
    pub(super) async fn dir_view(&self, node: &Node) -> FsResult<Option<DirView>> {
        let (repo, tree_sha, path, wc) = match &node.kind {
            NodeKind::RepoRoot { spec } => {
                let Some(repo) = self.repo_root(node, spec).await? else {
                    return Ok(None);
                };
                let wc = self.root_wc(node);
                if let Some((layer, _)) = self.held_layer(node) {
                    return Ok(Some(self.layer_view(
                        repo,
                        String::new(),
                        wc,
                        layer,
                        crate::changes::ROOT,
                    )?));
                }
                let tree = repo.commit.tree;
                (repo, tree, String::new(), wc)
            }
            NodeKind::Content {
                repo,
                mode: Mode::Tree,
                sha,
                path,
                wc,
                ..
            } => (Arc::clone(repo), *sha, path.clone(), wc.clone()),
            NodeKind::Content {
                mode: Mode::Submodule,
                ..
            } => return Ok(None),
            NodeKind::Content { .. } => return Err(Errno(libc::ENOTDIR)),
            NodeKind::Local {
                repo,
                path,
                wc,
                node: id,
                kind: LocalKind::Dir,
            } => {
                let layer = self.layer_of(wc)?;
                return Ok(Some(self.layer_view(
                    Arc::clone(repo),
                    path.clone(),
                    Some(Arc::clone(wc)),
                    layer,
                    *id,
                )?));
            }
            NodeKind::Local { .. } => return Err(Errno(libc::ENOTDIR)),
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
        Ok(Some(DirView {
            repo,
            path,
            wc,
            listing: Listing::Tree(tree),
        }))
    }

    fn layer_view(
        &self,
        repo: Arc<RepoContext>,
        path: String,
        wc: Option<Arc<WorkingCopy>>,
        layer: Arc<Layer>,
        node: NodeId,
    ) -> FsResult<DirView> {
        let entries = layer
            .entries(node)
            .map_err(|e| crate::fs::errno::fail_layer("listing a local directory", &e))?;
        Ok(DirView {
            repo,
            path,
            wc,
            listing: Listing::Layer(entries),
        })
    }

    /// The layer a local node belongs to (gone only if its changes were discarded).
    pub(super) fn layer_of(&self, wc: &WorkingCopy) -> FsResult<Arc<Layer>> {
        wc.layer()
            .map_err(|e| crate::fs::errno::fail_layer("opening a working copy", &e))?
            .ok_or(Errno(libc::ESTALE))
    }

    /// [`FsCore::dir_view`] when it needs neither the network nor a wait: a tree whose
    /// listing is local, or a directory of a layer.
    pub(super) fn dir_view_now(&self, dir: &Node) -> Option<DirView> {
        match &dir.kind {
            NodeKind::Content {
                repo,
                mode: Mode::Tree,
                sha,
                path,
                wc,
                ..
            } => {
                let tree = self.ns.cached_tree(*sha).ok()??;
                Some(DirView {
                    repo: Arc::clone(repo),
                    path: path.clone(),
                    wc: wc.clone(),
                    listing: Listing::Tree(tree),
                })
            }
            NodeKind::Local {
                repo,
                path,
                wc,
                node,
                kind: LocalKind::Dir,
            } => {
                let layer = wc.layer().ok()??;
                self.layer_view(
                    Arc::clone(repo),
                    path.clone(),
                    Some(Arc::clone(wc)),
                    layer,
                    *node,
                )
                .ok()
            }
            _ => None,
        }
    }

    /// The node for `child` of `view` (directory inode `parent`), with a new kernel
    /// reference.
    pub(super) fn child_node(
        &self,
        parent: Ino,
        view: &DirView,
        name: &str,
        child: &Child,
    ) -> Arc<Node> {
        let key = NodeKey {
            parent,
            name: name.to_string(),
            identity: child.identity(view.wc.as_deref()),
        };
        match child {
            Child::Lower(entry) => self.inodes.lookup(key, || NodeKind::Content {
                repo: Arc::clone(&view.repo),
                path: view.child_path(name),
                mode: entry.mode,
                sha: entry.sha,
                size: entry.size,
                wc: view.wc.clone(),
            }),
            Child::Local { node, kind } => {
                let wc = view
                    .wc
                    .clone()
                    .expect("local entries live in a working copy");
                self.inodes.lookup(key, || NodeKind::Local {
                    repo: Arc::clone(&view.repo),
                    path: view.child_path(name),
                    wc,
                    node: *node,
                    kind: *kind,
                })
            }
        }
    }

    /// [`FsCore::lookup`] when it needs neither the network nor a wait: a name in a
    /// directory whose listing is local. `None`: ask [`FsCore::lookup`].
    pub fn lookup_local(&self, parent: Ino, name: &str) -> Option<FsResult<(Attr, Duration)>> {
        let dir = self.inodes.get(parent)?;
        let view = self.dir_view_now(&dir)?;
        let Some(child) = view.child(self, name) else {
            return Some(Err(Errno(libc::ENOENT)));
        };
        let node = self.child_node(parent, &view, name, &child);
        let result = self.attr_now(&node)?;
        if result.is_err() {
            self.inodes.forget(node.ino, 1);
        }
        Some(result)
    }

    /// [`FsCore::getattr`] without waiting, for every node but a repo root.
    pub fn getattr_local(&self, ino: Ino) -> Option<FsResult<(Attr, Duration)>> {
        match self.inodes.get(ino) {
            Some(node) => self.attr_now(&node),
            None => Some(Err(Errno(libc::ESTALE))),
        }
    }

    /// [`FsCore::readdir`] of a directory whose listing is local.
    pub fn readdir_local(&self, ino: Ino) -> Option<FsResult<Vec<DirEntry>>> {
        let dir = self.inodes.get(ino)?;
        let view = self.dir_view_now(&dir)?;
        let mut out = self.dots(&dir);
        self.push_children(&mut out, ino, &view);
        Some(Ok(out))
    }

    /// `.` and `..` of a directory listing.
    pub(super) fn dots(&self, dir: &Node) -> Vec<DirEntry> {
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

    fn push_children(&self, out: &mut Vec<DirEntry>, ino: Ino, view: &DirView) {
        if matches!(view.listing, Listing::Tree(_)) {
            self.hydrator.note_listing(&self.ns, &view.repo);
        }
        for (name, child) in view.children(self) {
            let key = NodeKey {
                parent: ino,
                name: name.clone(),
                identity: child.identity(view.wc.as_deref()),
            };
            out.push(DirEntry {
                ino: self.inodes.peek(&key),
                kind: child.kind(),
                name,
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
                // Tools probe parent directories for config files: the first probe asks
                // about all such names at once, and later probes are answered by that
                // batch instead of a round trip each. (Not before a tool probes: a mount
                // that is only read costs none of those requests.)
                // A listing younger than the ref TTL answers first (a mount with `--org`
                // lists its owners as it starts): then no probe goes out at all.
                if self.owners.known_missing(login, name, repo) {
                    return Err(Errno(libc::ENOENT));
                }
                if name == repo && namespace::probes::commonly_probed(repo) {
                    self.owners.probe_together(&self.ns, login).await;
                }
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
            NodeKind::RepoRoot { .. } | NodeKind::Content { .. } | NodeKind::Local { .. } => {
                let Some(view) = self.dir_view(&dir).await? else {
                    return Err(Errno(libc::ENOENT));
                };
                let child = view.child(self, name).ok_or(Errno(libc::ENOENT))?;
                let node = self.child_node(parent, &view, name, &child);
                let (attr, ttl) = match self.attr(&node).await {
                    Ok(found) => found,
                    Err(e) => {
                        self.inodes.forget(node.ino, 1);
                        return Err(e);
                    }
                };
                Ok((attr, entry_ttl(&dir, &view, ttl)))
            }
            NodeKind::Snapshot { .. } => Err(Errno(libc::ENOTDIR)),
        }
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
            NodeKind::RepoRoot { .. } | NodeKind::Content { .. } | NodeKind::Local { .. } => {
                if let Some(view) = self.dir_view(&dir).await? {
                    self.push_children(&mut out, ino, &view);
                }
            }
            NodeKind::Snapshot { .. } => return Err(Errno(libc::ENOTDIR)),
        }
        Ok(out)
    }
}
