//! Extended attributes: `user.heimdall.sha` and `user.heimdall.url` on what is the
//! commit's; `user.*` attributes of a working copy's own files, kept in its layer (a
//! file of the commit is copied up first). `user.heimdall.*` is Heimdall's: reserved.

use std::sync::Arc;

use super::base::FsCore;
use crate::changes::LocalKind;
use crate::fs::errno::{Errno, FsResult};
use crate::fs::inode::{Ino, NodeKind};
use crate::fs::xattr;
use crate::remote::Mode;

/// `setxattr` flags.
const XATTR_CREATE: i32 = 1;
const XATTR_REPLACE: i32 = 2;
/// Largest attribute value kept (Linux's own limit).
const MAX_VALUE_BYTES: usize = 64 * 1024;

impl FsCore {
    /// `user.heimdall.sha` and `user.heimdall.url`.
    /// [`FsCore::getxattr`] when it needs no waiting: a name outside `user.` (the
    /// kernel asks for `security.capability` before every write; none is ever stored),
    /// or any name of a layer node.
    pub fn getxattr_now(&self, ino: Ino, name: &str) -> Option<FsResult<Vec<u8>>> {
        if !name.starts_with("user.") {
            return Some(Err(Errno(libc::ENODATA)));
        }
        let node = match self.node(ino) {
            Ok(node) => node,
            Err(e) => return Some(Err(e)),
        };
        match &node.kind {
            NodeKind::Local { wc, node: id, .. } => Some(
                self.layer_of(wc)
                    .and_then(|layer| {
                        layer
                            .xattr(*id, name)
                            .map_err(|e| crate::fs::errno::fail_layer("reading an attribute", &e))
                    })
                    .and_then(|value| value.ok_or(Errno(libc::ENODATA))),
            ),
            _ => None,
        }
    }

    pub async fn getxattr(&self, ino: Ino, name: &str) -> FsResult<Vec<u8>> {
        if let Some(result) = self.getxattr_now(ino, name) {
            return result;
        }
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
            NodeKind::RepoRoot { spec } => match self.repo_root(&node, spec).await? {
                Some(repo) => {
                    let tree = repo.commit.tree;
                    (repo, tree, String::new(), true)
                }
                None => return Err(Errno(libc::ENODATA)),
            },
            NodeKind::Local { wc, node: id, .. } => {
                let layer = self.layer_of(wc)?;
                return layer
                    .xattr(*id, name)
                    .map_err(|e| crate::fs::errno::fail_layer("reading an attribute", &e))?
                    .ok_or(Errno(libc::ENODATA));
            }
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
        match &node.kind {
            NodeKind::Root
            | NodeKind::Owner { .. }
            | NodeKind::Control(_)
            | NodeKind::Snapshot { .. } => Ok(Vec::new()),
            NodeKind::RepoRoot { .. } | NodeKind::Content { .. } => Ok(xattr::names()),
            NodeKind::Local { wc, node: id, .. } => {
                let layer = self.layer_of(wc)?;
                let mut out = Vec::new();
                for name in layer
                    .xattr_names(*id)
                    .map_err(|e| crate::fs::errno::fail_layer("listing attributes", &e))?
                {
                    out.extend_from_slice(name.as_bytes());
                    out.push(0);
                }
                Ok(out)
            }
        }
    }

    /// Sets (`Some`) or removes (`None`) `user.*` attribute `name` of a working copy's
    /// file or directory.
    pub async fn set_xattr(
        &self,
        ino: Ino,
        name: &str,
        value: Option<&[u8]>,
        flags: i32,
    ) -> FsResult<()> {
        if !name.starts_with("user.") || name.len() > 255 {
            return Err(Errno(libc::EOPNOTSUPP));
        }
        if name.starts_with("user.heimdall.") {
            return Err(Errno(libc::EPERM));
        }
        if value.is_some_and(|v| v.len() > MAX_VALUE_BYTES) {
            return Err(Errno(libc::E2BIG));
        }
        let node = self.node(ino)?;
        self.wc_of(&node)?;
        let node = match &node.kind {
            NodeKind::Local { .. } => node,
            NodeKind::RepoRoot { .. } => {
                // The root is layer node 1.
                let dir = self.ensure_dir(&node).await?;
                return self.store_xattr(&dir.layer, crate::changes::ROOT, name, value, flags);
            }
            NodeKind::Content {
                mode: Mode::Tree, ..
            } => {
                self.ensure_dir(&node).await?;
                self.node(ino)?
            }
            _ => self.ensure_local_for_xattr(ino).await?,
        };
        let NodeKind::Local { wc, node: id, .. } = &node.kind else {
            return Err(Errno(libc::EIO));
        };
        let layer = self.layer_of(wc)?;
        self.store_xattr(&layer, *id, name, value, flags)
    }

    fn store_xattr(
        &self,
        layer: &Arc<crate::changes::Layer>,
        id: crate::changes::NodeId,
        name: &str,
        value: Option<&[u8]>,
        flags: i32,
    ) -> FsResult<()> {
        let exists = layer
            .xattr(id, name)
            .map_err(|e| crate::fs::errno::fail_layer("reading an attribute", &e))?
            .is_some();
        match (value, exists) {
            (Some(_), true) if flags & XATTR_CREATE != 0 => return Err(Errno(libc::EEXIST)),
            (Some(_), false) if flags & XATTR_REPLACE != 0 => return Err(Errno(libc::ENODATA)),
            (None, false) => return Err(Errno(libc::ENODATA)),
            _ => {}
        }
        layer
            .set_xattr(id, name, value)
            .map_err(|e| crate::fs::errno::fail_layer("setting an attribute", &e))?;
        Ok(())
    }

    async fn ensure_local_for_xattr(&self, ino: Ino) -> FsResult<Arc<crate::fs::inode::Node>> {
        let node = self.node(ino)?;
        if let NodeKind::Local {
            kind: LocalKind::Dir,
            ..
        } = &node.kind
        {
            return Ok(node);
        }
        self.ensure_local(ino, false).await
    }
}
