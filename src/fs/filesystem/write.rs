//! Changes: everything a tool writes in a working copy goes to its layer, never to the
//! store or to GitHub.
//!
//! A directory of the commit is materialized (with its ancestors) before a name in it
//! changes; a file of the commit is copied up (copied, never linked) before its first
//! write or attribute change; both keep their inode (see `inode`). `/`, `/<owner>`, the
//! control tree and read-only mounts answer EROFS. The kernel serializes changes within
//! one directory (and both directories of a rename), so a check and its change cannot be
//! separated by another change of the same names; the core serializes materializations
//! and copy-ups itself.

use std::sync::Arc;
use std::time::Duration;

use super::base::FsCore;
use crate::changes::{Entry, Layer, LayerError, LocalKind, NodeId, ROOT, valid_name};
use crate::fs::attr::{Attr, IMMUTABLE_TTL, commit_time};
use crate::fs::errno::{Errno, FsResult, fail, fail_layer};
use crate::fs::inode::{Identity, Ino, Node, NodeKey, NodeKind, ROOT_INO};
use crate::fs::worktree::WorkingCopy;
use crate::namespace::RepoContext;
use crate::remote::{Mode, TreeEntry};

/// `rename(2)` flags (Linux).
const RENAME_NOREPLACE: u32 = 1;
const RENAME_EXCHANGE: u32 = 2;

/// A directory of the layer, ready for a change.
pub(super) struct LocalDir {
    pub(super) layer: Arc<Layer>,
    pub(super) node: NodeId,
    pub(super) wc: Arc<WorkingCopy>,
    pub(super) repo: Arc<RepoContext>,
    pub(super) path: String,
}

fn child_path(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

fn check_name(name: &str) -> FsResult<()> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(Errno(libc::EINVAL))
    }
}

fn entry_identity(entry: &Entry, wc: &WorkingCopy) -> Identity {
    match entry {
        Entry::Lower { mode, sha, .. } => Identity::Object(*sha, *mode),
        Entry::Local { node, .. } => Identity::Local(wc.id(), *node),
    }
}

impl FsCore {
    /// Whether `ino` may be written (it is in a working copy).
    pub fn may_write(&self, ino: Ino) -> bool {
        self.inodes.get(ino).is_some_and(|n| self.wc_of(&n).is_ok())
    }

    /// Whether `ino` is a node of a working copy's layer.
    pub fn is_local(&self, ino: Ino) -> bool {
        self.inodes
            .get(ino)
            .is_some_and(|n| matches!(n.kind, NodeKind::Local { .. }))
    }

    /// The working copy `node` belongs to; EROFS where nothing may be written.
    pub(super) fn wc_of(&self, node: &Node) -> FsResult<Arc<WorkingCopy>> {
        let wc = match &node.kind {
            NodeKind::RepoRoot { .. } => self.root_wc(node),
            NodeKind::Content { wc, .. } => wc.clone(),
            NodeKind::Local { wc, .. } => Some(Arc::clone(wc)),
            NodeKind::Root
            | NodeKind::Owner { .. }
            | NodeKind::Control(_)
            | NodeKind::Snapshot { .. } => None,
        };
        wc.ok_or(Errno(libc::EROFS))
    }

    /// Directory `node` as a directory of its working copy's layer: the repository root
    /// makes the layer (the first change of a working copy), a directory of the commit is
    /// materialized (its ancestors first).
    pub(super) async fn ensure_dir(&self, node: &Node) -> FsResult<LocalDir> {
        if let Some(dir) = self.local_dir_now(node.ino) {
            return Ok(dir);
        }
        let _one = self.changing.lock().await;
        self.ensure_dir_locked(node.ino).await
    }

    /// [`FsCore::ensure_dir`] when nothing needs making: a directory of the layer, or a
    /// root whose layer exists.
    fn local_dir_now(&self, ino: Ino) -> Option<LocalDir> {
        let node = self.inodes.get(ino)?;
        match &node.kind {
            NodeKind::Local {
                repo,
                path,
                wc,
                node: id,
                kind: LocalKind::Dir,
            } => Some(LocalDir {
                layer: wc.layer().ok()??,
                node: *id,
                wc: Arc::clone(wc),
                repo: Arc::clone(repo),
                path: path.clone(),
            }),
            NodeKind::RepoRoot { .. } => {
                let wc = self.root_wc(&node)?;
                Some(LocalDir {
                    layer: wc.layer().ok()??,
                    node: ROOT,
                    repo: wc.held()?,
                    wc,
                    path: String::new(),
                })
            }
            _ => None,
        }
    }

    fn ensure_dir_locked(
        &self,
        ino: Ino,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = FsResult<LocalDir>> + Send + '_>> {
        Box::pin(async move {
            // The node as it is now: another change may have materialized it.
            let node = self.node(ino)?;
            let wc = self.wc_of(&node)?;
            match &node.kind {
                NodeKind::Local {
                    repo,
                    path,
                    node: id,
                    kind: LocalKind::Dir,
                    ..
                } => Ok(LocalDir {
                    layer: self.layer_of(&wc)?,
                    node: *id,
                    wc,
                    repo: Arc::clone(repo),
                    path: path.clone(),
                }),
                NodeKind::RepoRoot { spec } => {
                    let repo = self
                        .repo_root(&node, spec)
                        .await?
                        .ok_or(Errno(libc::EROFS))?;
                    let tree = self
                        .ns
                        .tree(spec, repo.commit.tree)
                        .await
                        .map_err(|e| fail("fetching a tree", e))?;
                    let layer = wc
                        .layer_or_create(&repo, repo.commit.tree, &tree.entries)
                        .map_err(|e| fail_layer("starting a working copy's changes", &e))?;
                    Ok(LocalDir {
                        layer,
                        node: ROOT,
                        wc,
                        repo,
                        path: String::new(),
                    })
                }
                NodeKind::Content {
                    repo,
                    path,
                    mode: Mode::Tree,
                    sha,
                    ..
                } => {
                    let tree = self
                        .ns
                        .tree(&repo.spec, *sha)
                        .await
                        .map_err(|e| fail("fetching a tree", e))?;
                    let shown: Vec<TreeEntry> = tree
                        .entries
                        .iter()
                        .filter(|e| self.shown(path, &e.name))
                        .cloned()
                        .collect();
                    let id = if ino == ROOT_INO {
                        // An allocation's root: its first change makes the layer.
                        wc.layer_or_create(repo, *sha, &shown)
                            .map_err(|e| fail_layer("starting a working copy's changes", &e))?;
                        ROOT
                    } else {
                        let parent = self.ensure_dir_locked(node.parent).await?;
                        parent
                            .layer
                            .materialize(
                                parent.node,
                                &node.name,
                                &shown,
                                0o755,
                                commit_time(&repo.commit),
                            )
                            .map_err(|e| fail_layer("making a directory local", &e))?
                    };
                    self.inodes.rebind(
                        ino,
                        NodeKind::Local {
                            repo: Arc::clone(repo),
                            path: path.clone(),
                            wc: Arc::clone(&wc),
                            node: id,
                            kind: LocalKind::Dir,
                        },
                    );
                    Ok(LocalDir {
                        layer: self.layer_of(&wc)?,
                        node: id,
                        wc,
                        repo: Arc::clone(repo),
                        path: path.clone(),
                    })
                }
                NodeKind::Content {
                    mode: Mode::Submodule,
                    ..
                } => Err(Errno(libc::EROFS)),
                NodeKind::Content { .. } | NodeKind::Local { .. } => Err(Errno(libc::ENOTDIR)),
                NodeKind::Root
                | NodeKind::Owner { .. }
                | NodeKind::Control(_)
                | NodeKind::Snapshot { .. } => Err(Errno(libc::EROFS)),
            }
        })
    }

    /// File or symlink `ino` as a node of its layer: a file of the commit is copied up
    /// first (empty when `truncate`: its bytes are about to go). Returns the node now.
    pub(super) async fn ensure_local(&self, ino: Ino, truncate: bool) -> FsResult<Arc<Node>> {
        let node = self.node(ino)?;
        if let NodeKind::Local { .. } = &node.kind {
            return Ok(node);
        }
        let NodeKind::Content {
            repo,
            path,
            mode,
            sha,
            wc: Some(wc),
            ..
        } = &node.kind
        else {
            return match &node.kind {
                NodeKind::Content { wc: Some(_), .. } => Err(Errno(libc::EISDIR)),
                _ if node.is_dir() => Err(Errno(libc::EISDIR)),
                _ => Err(Errno(libc::EROFS)),
            };
        };
        if matches!(mode, Mode::Tree | Mode::Submodule) {
            return Err(Errno(libc::EISDIR));
        }
        // The bytes first (perhaps a download), outside the lock.
        let blob = if truncate && *mode != Mode::Symlink {
            None
        } else {
            Some(self.local_blob(&node).await?)
        };
        let _one = self.changing.lock().await;
        let fresh = self.node(ino)?;
        if let NodeKind::Local { .. } = &fresh.kind {
            return Ok(fresh);
        }
        let perm = if *mode == Mode::Executable {
            0o755
        } else {
            0o644
        };
        let (id, kind) = if !self.inodes.is_named(ino) {
            // Removed (or renamed over) while the kernel held it: an open file stays
            // writable, as on any filesystem, into a copy no name shows.
            if *mode == Mode::Symlink {
                return Err(Errno(libc::ENOENT));
            }
            let layer = self.layer_of(wc)?;
            let id = layer
                .detached_copy(blob.as_deref(), perm)
                .map_err(|e| fail_layer("copying a removed file", &e))?;
            self.orphans.lock().expect("orphans poisoned").insert(ino);
            (id, LocalKind::File)
        } else {
            let dir = self.ensure_dir_locked(node.parent).await?;
            if *mode == Mode::Symlink {
                let target = std::fs::read(blob.as_ref().expect("read for a symlink"))?;
                let id = dir
                    .layer
                    .copy_up_link(dir.node, &node.name, *sha, &target)
                    .map_err(|e| fail_layer("copying a symlink up", &e))?;
                (id, LocalKind::Symlink)
            } else {
                let id = dir
                    .layer
                    .copy_up(dir.node, &node.name, *sha, blob.as_deref(), perm)
                    .map_err(|e| fail_layer("copying a file up", &e))?;
                (id, LocalKind::File)
            }
        };
        let kind = NodeKind::Local {
            repo: Arc::clone(repo),
            path: path.clone(),
            wc: Arc::clone(wc),
            node: id,
            kind,
        };
        self.inodes.rebind(ino, kind).ok_or(Errno(libc::ESTALE))
    }

    /// Attributes of a node just made, with its entry's lifetime.
    pub(super) fn made(&self, node: &Node) -> FsResult<(Attr, Duration)> {
        let (attr, _) = self.attr_now(node).unwrap_or(Err(Errno(libc::EIO)))?;
        Ok((attr, IMMUTABLE_TTL))
    }

    /// A new node `name` in directory `parent`, with one kernel reference.
    async fn insert(
        &self,
        parent: Ino,
        name: &str,
        make: impl FnOnce(&Layer, NodeId) -> Result<(NodeId, LocalKind), LayerError>,
    ) -> FsResult<(Attr, Duration)> {
        check_name(name)?;
        let dir_node = self.node(parent)?;
        let dir = self.ensure_dir(&dir_node).await?;
        let (id, kind) = make(&dir.layer, dir.node).map_err(|e| fail_layer("making a file", &e))?;
        let key = NodeKey {
            parent,
            name: name.to_string(),
            identity: Identity::Local(dir.wc.id(), id),
        };
        let node = self.inodes.lookup(key, || NodeKind::Local {
            repo: Arc::clone(&dir.repo),
            path: child_path(&dir.path, name),
            wc: Arc::clone(&dir.wc),
            node: id,
            kind,
        });
        self.touch_local();
        self.made(&node)
    }

    /// `create` (and `mknod` of a regular file): a new empty file.
    pub async fn create(
        &self,
        parent: Ino,
        name: &str,
        mode: u32,
        umask: u32,
    ) -> FsResult<(Attr, Duration)> {
        let perm = mode & !umask & 0o7777;
        self.insert(parent, name, |layer, dir| {
            layer
                .create_file(dir, name, perm)
                .map(|id| (id, LocalKind::File))
        })
        .await
    }

    pub async fn mkdir(
        &self,
        parent: Ino,
        name: &str,
        mode: u32,
        umask: u32,
    ) -> FsResult<(Attr, Duration)> {
        let perm = mode & !umask & 0o7777;
        self.insert(parent, name, |layer, dir| {
            layer.mkdir(dir, name, perm).map(|id| (id, LocalKind::Dir))
        })
        .await
    }

    /// A symlink is stored as a link to `target`; Heimdall never follows it.
    pub async fn symlink(
        &self,
        parent: Ino,
        name: &str,
        target: &[u8],
    ) -> FsResult<(Attr, Duration)> {
        if target.is_empty() || target.len() > 4096 || target.contains(&0) {
            return Err(Errno(libc::EINVAL));
        }
        self.insert(parent, name, |layer, dir| {
            layer
                .symlink(dir, name, target)
                .map(|id| (id, LocalKind::Symlink))
        })
        .await
    }

    /// Whether `entry` (a directory) has nothing in it, as the working copy shows it.
    async fn is_empty(&self, dir: &LocalDir, name: &str, entry: &Entry) -> FsResult<bool> {
        match entry {
            Entry::Local { node, .. } => Ok(dir
                .layer
                .entries(*node)
                .map_err(|e| fail_layer("listing a directory", &e))?
                .is_empty()),
            Entry::Lower {
                mode: Mode::Tree,
                sha,
                ..
            } => {
                let tree = self
                    .ns
                    .tree(&dir.repo.spec, *sha)
                    .await
                    .map_err(|e| fail("fetching a tree", e))?;
                let path = child_path(&dir.path, name);
                Ok(!tree.entries.iter().any(|e| self.shown(&path, &e.name)))
            }
            Entry::Lower { .. } => Ok(true),
        }
    }

    /// Whether the kernel holds the node `name` in `parent` shows (`entry`): a local
    /// file's bytes then outlive its name (see [`Layer::remove`]).
    fn held(&self, dir: &LocalDir, parent: Ino, name: &str, entry: &Entry) -> bool {
        self.inodes
            .find(&NodeKey {
                parent,
                name: name.to_string(),
                identity: entry_identity(entry, &dir.wc),
            })
            .is_some()
    }

    /// What happens to a name's node when the name goes: lookups stop finding it; a
    /// local file the kernel holds is discarded when the kernel forgets it.
    fn drop_name(&self, dir: &LocalDir, parent: Ino, name: &str, entry: &Entry) {
        let node = self
            .inodes
            .unlink(parent, name, entry_identity(entry, &dir.wc));
        if let (
            Some(node),
            Entry::Local {
                kind: LocalKind::File,
                ..
            },
        ) = (node, entry)
        {
            self.orphans
                .lock()
                .expect("orphans poisoned")
                .insert(node.ino);
        }
    }

    pub async fn unlink(&self, parent: Ino, name: &str) -> FsResult<()> {
        let dir_node = self.node(parent)?;
        self.wc_of(&dir_node)?;
        let dir = self.ensure_dir(&dir_node).await?;
        let entry = dir
            .layer
            .entry(dir.node, name)
            .map_err(|e| fail_layer("looking a name up", &e))?
            .ok_or(Errno(libc::ENOENT))?;
        if entry.is_dir() {
            return Err(Errno(libc::EISDIR));
        }
        let held = self.held(&dir, parent, name, &entry);
        dir.layer
            .remove(dir.node, name, held)
            .map_err(|e| fail_layer("removing a file", &e))?;
        self.drop_name(&dir, parent, name, &entry);
        Ok(())
    }

    pub async fn rmdir(&self, parent: Ino, name: &str) -> FsResult<()> {
        let dir_node = self.node(parent)?;
        self.wc_of(&dir_node)?;
        let dir = self.ensure_dir(&dir_node).await?;
        let entry = dir
            .layer
            .entry(dir.node, name)
            .map_err(|e| fail_layer("looking a name up", &e))?
            .ok_or(Errno(libc::ENOENT))?;
        if !entry.is_dir() {
            return Err(Errno(libc::ENOTDIR));
        }
        if !self.is_empty(&dir, name, &entry).await? {
            return Err(Errno(libc::ENOTEMPTY));
        }
        dir.layer
            .remove(dir.node, name, false)
            .map_err(|e| fail_layer("removing a directory", &e))?;
        self.drop_name(&dir, parent, name, &entry);
        Ok(())
    }

    /// `rename(2)` within one working copy (EXDEV across working copies), honouring
    /// RENAME_NOREPLACE and RENAME_EXCHANGE. Over an existing name it replaces it in one
    /// transaction: tools that write a temp file and rename it into place never leave a
    /// half-written file or none at all.
    pub async fn rename(
        &self,
        parent: Ino,
        name: &str,
        new_parent: Ino,
        new_name: &str,
        flags: u32,
    ) -> FsResult<()> {
        if flags & !(RENAME_NOREPLACE | RENAME_EXCHANGE) != 0
            || flags == RENAME_NOREPLACE | RENAME_EXCHANGE
        {
            return Err(Errno(libc::EINVAL));
        }
        check_name(new_name)?;
        let from_node = self.node(parent)?;
        let to_node = self.node(new_parent)?;
        let (from_wc, to_wc) = (self.wc_of(&from_node)?, self.wc_of(&to_node)?);
        if !Arc::ptr_eq(&from_wc, &to_wc) {
            return Err(Errno(libc::EXDEV));
        }
        let from = self.ensure_dir(&from_node).await?;
        let to = self.ensure_dir(&to_node).await?;
        let lookup = |dir: &LocalDir, name: &str| {
            dir.layer
                .entry(dir.node, name)
                .map_err(|e| fail_layer("looking a name up", &e))
        };
        let moving = lookup(&from, name)?.ok_or(Errno(libc::ENOENT))?;
        let replaced = lookup(&to, new_name)?;
        let exchange = flags & RENAME_EXCHANGE != 0;
        if from.node == to.node && name == new_name {
            return if exchange || replaced.is_some() {
                Ok(())
            } else {
                Err(Errno(libc::ENOENT))
            };
        }
        match (&replaced, exchange) {
            (None, true) => return Err(Errno(libc::ENOENT)),
            (Some(_), false) if flags & RENAME_NOREPLACE != 0 => return Err(Errno(libc::EEXIST)),
            (Some(old), false) => {
                if moving.is_dir() && !old.is_dir() {
                    return Err(Errno(libc::ENOTDIR));
                }
                if !moving.is_dir() && old.is_dir() {
                    return Err(Errno(libc::EISDIR));
                }
                if old.is_dir() && !self.is_empty(&to, new_name, old).await? {
                    return Err(Errno(libc::ENOTEMPTY));
                }
            }
            _ => {}
        }
        let moved_node = self.inodes.find(&NodeKey {
            parent,
            name: name.to_string(),
            identity: entry_identity(&moving, &from.wc),
        });
        let other_node = replaced.as_ref().and_then(|old| {
            self.inodes.find(&NodeKey {
                parent: new_parent,
                name: new_name.to_string(),
                identity: entry_identity(old, &to.wc),
            })
        });
        from.layer
            .rename(
                from.node,
                name,
                to.node,
                new_name,
                exchange,
                other_node.is_some(),
            )
            .map_err(|e| fail_layer("renaming", &e))?;
        if let (Some(old), false) = (&replaced, exchange) {
            self.drop_name(&to, new_parent, new_name, old);
        }
        let mut moves = Vec::with_capacity(2);
        if let Some(moved) = &moved_node {
            moves.push((moved.ino, new_parent, new_name));
        }
        if let (Some(other), true) = (&other_node, exchange) {
            moves.push((other.ino, parent, name));
        }
        self.inodes.rename_all(&moves);
        Ok(())
    }
}
