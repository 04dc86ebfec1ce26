//! Reading content: blobs (local, or fetched through the hydration policy and verified
//! first), files and symlinks of a working copy's layer, and control snapshots. The inode fixes the content (a blob
//! SHA or a snapshot), so a file opened before a branch moved keeps reading the old
//! content.

use std::fs::File;
use std::path::PathBuf;

use super::base::FsCore;
use crate::changes::LocalKind;
use crate::fs::errno::{Errno, FsResult, fail};
use crate::fs::inode::{Ino, Node, NodeKind};
use crate::remote::{Mode, TreeEntry};

/// Longest symlink target we read (Linux's PATH_MAX).
const MAX_LINK_BYTES: u64 = 4096;

impl FsCore {
    /// [`FsCore::read`] when the content is local (a stored blob, a file of a working
    /// copy's layer, or a control snapshot).
    pub fn read_local(&self, ino: Ino, offset: u64, size: u32) -> Option<FsResult<Vec<u8>>> {
        let node = self.inodes.get(ino)?;
        match &node.kind {
            NodeKind::Snapshot { content, .. } => Some(Ok(slice(content, offset, size))),
            NodeKind::Local {
                wc,
                node: id,
                kind: LocalKind::File,
                ..
            } => {
                let layer = match self.layer_of(wc) {
                    Ok(layer) => layer,
                    Err(e) => return Some(Err(e)),
                };
                self.touch_local();
                Some(
                    layer
                        .read_file(*id, offset, size)
                        .map_err(|e| crate::fs::errno::fail_layer("reading a file", &e)),
                )
            }
            NodeKind::Content {
                mode,
                sha,
                size: len,
                ..
            } if mode.is_blob() => {
                let blob = self.ns.store().read_blob(*sha, *len)?;
                self.touch(*sha);
                let mut buf = vec![0u8; size as usize];
                Some(match blob.read_at(&mut buf, offset) {
                    Ok(n) => {
                        buf.truncate(n);
                        Ok(buf)
                    }
                    Err(e) => Err(e.into()),
                })
            }
            _ => None,
        }
    }

    /// Makes the blob behind a file or symlink node local (fetched and verified if
    /// needed): a loose object or an object in a stored pack.
    pub(super) async fn ensure_blob(&self, node: &Node) -> FsResult<()> {
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
        if self.ns.store().has_blob(*sha, *size) {
            return Ok(());
        }
        // Another machine may have fetched this commit's files: its packs come from the
        // shared cache first (once per commit), then only what they lack from GitHub.
        if let Some(shared) = self.ns.shared()
            && self.ns.git_for(&repo.spec.owner, &repo.spec.repo).is_some()
        {
            shared.hydrate_commit(repo.commit.sha).await;
            if self.ns.store().has_blob(*sha, *size) {
                return Ok(());
            }
        }
        self.hydrator.before_miss(&self.ns, repo, *sha, *size).await;
        self.prefetch_tool_files(repo);
        self.prefetch_siblings(node, repo);
        let entry = TreeEntry {
            name: node.name.clone(),
            mode: *mode,
            sha: *sha,
            size: *size,
        };
        self.ns
            .fetch_blob(&repo.spec, Some(repo.commit.sha), &entry)
            .await
            .map_err(|e| fail("fetching a blob", e))
    }

    /// A real file holding the blob behind a file or symlink node (for a copy-up or a
    /// passthrough open): its loose object, written from its pack if need be.
    pub(super) async fn local_blob(&self, node: &Node) -> FsResult<PathBuf> {
        self.ensure_blob(node).await?;
        let NodeKind::Content { sha, size, .. } = &node.kind else {
            return Err(Errno(libc::EISDIR));
        };
        self.ns
            .store()
            .blob_file(*sha, *size)
            .ok_or(Errno(libc::EIO))
    }

    pub async fn readlink(&self, ino: Ino) -> FsResult<Vec<u8>> {
        let node = self.node(ino)?;
        if let NodeKind::Local {
            wc,
            node: id,
            kind: LocalKind::Symlink,
            ..
        } = &node.kind
        {
            let layer = self.layer_of(wc)?;
            let meta = layer
                .node(*id)
                .map_err(|e| crate::fs::errno::fail_layer("reading a symlink", &e))?
                .ok_or(Errno(libc::ESTALE))?;
            return meta.target.ok_or(Errno(libc::EIO));
        }
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
        self.ensure_blob(&node).await?;
        let NodeKind::Content { sha, size, .. } = &node.kind else {
            return Err(Errno(libc::EINVAL));
        };
        let blob = self
            .ns
            .store()
            .read_blob(*sha, *size)
            .ok_or(Errno(libc::EIO))?;
        Ok(blob.read_all()?)
    }

    /// The stored file holding a blob-backed inode's content, fetched first if needed
    /// (for a passthrough open: the kernel then reads it directly).
    pub async fn open_blob(&self, ino: Ino) -> FsResult<File> {
        let node = self.node(ino)?;
        let path = self.local_blob(&node).await?;
        if let NodeKind::Content { sha, .. } = &node.kind {
            self.touch(*sha);
        }
        Ok(File::open(&path)?)
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
        if let Some(local) = self.read_local(ino, offset, size) {
            return local;
        }
        let node = self.node(ino)?;
        self.ensure_blob(&node).await?;
        self.read_local(ino, offset, size)
            .unwrap_or(Err(Errno(libc::EIO)))
    }
}

/// Up to `size` bytes of `content` at `offset`.
fn slice(content: &[u8], offset: u64, size: u32) -> Vec<u8> {
    let start = usize::try_from(offset).map_or(content.len(), |o| o.min(content.len()));
    let end = start.saturating_add(size as usize).min(content.len());
    content[start..end].to_vec()
}
