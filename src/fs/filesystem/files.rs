//! A local file's bytes and attributes: writes, `setattr`, `fsync`, and `statfs` of the
//! disk changes live on. A file of the commit is copied up (see `write`) before its first
//! write or attribute change, and keeps its inode.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::base::FsCore;
use crate::changes::{LocalKind, ROOT};
use crate::fs::attr::Attr;
use crate::fs::errno::{Errno, FsResult, fail_layer};
use crate::fs::inode::{Ino, Node, NodeKind};

/// What `setattr` asks to change.
#[derive(Debug, Clone, Copy, Default)]
pub struct SetAttr {
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub size: Option<u64>,
    pub atime: Option<SystemTime>,
    pub mtime: Option<SystemTime>,
}

/// `statfs` of the disk the changes live on.
#[derive(Debug, Clone, Copy)]
pub struct Statfs {
    pub blocks: u64,
    pub bfree: u64,
    pub bavail: u64,
    pub files: u64,
    pub ffree: u64,
    pub bsize: u32,
    pub namelen: u32,
    pub frsize: u32,
}

impl FsCore {
    /// `setattr`: size, mode bits and times; a file of the commit is copied up first.
    /// Ownership cannot change (EPERM).
    pub async fn setattr(&self, ino: Ino, set: SetAttr) -> FsResult<(Attr, Duration)> {
        let node = self.node(ino)?;
        if set.uid.is_some_and(|u| u != self.opts.uid)
            || set.gid.is_some_and(|g| g != self.opts.gid)
        {
            return Err(Errno(libc::EPERM));
        }
        let changes =
            set.mode.is_some() || set.size.is_some() || set.atime.is_some() || set.mtime.is_some();
        if !changes {
            return self.attr(&node).await;
        }
        self.wc_of(&node)?;
        let node = if node.is_dir() {
            if set.size.is_some() {
                return Err(Errno(libc::EISDIR));
            }
            match &node.kind {
                NodeKind::RepoRoot { .. } => {
                    let dir = self.ensure_dir(&node).await?;
                    dir.layer
                        .set_node(ROOT, set.mode.map(|m| m & 0o7777), set.mtime)
                        .map_err(|e| fail_layer("changing a directory", &e))?;
                    return self.attr(&node).await;
                }
                _ => {
                    self.ensure_dir(&node).await?;
                    self.node(ino)?
                }
            }
        } else {
            self.ensure_local(ino, set.size == Some(0)).await?
        };
        let NodeKind::Local {
            wc, node: id, kind, ..
        } = &node.kind
        else {
            return Err(Errno(libc::EIO));
        };
        let layer = self.layer_of(wc)?;
        match kind {
            LocalKind::File => layer
                .set_file(*id, set.size, set.mode, set.atime, set.mtime)
                .map_err(|e| fail_layer("changing a file", &e))?,
            LocalKind::Dir | LocalKind::Symlink => {
                if set.size.is_some() {
                    return Err(Errno(libc::EISDIR));
                }
                let perm = if *kind == LocalKind::Dir {
                    set.mode.map(|m| m & 0o7777)
                } else {
                    None
                };
                layer
                    .set_node(*id, perm, set.mtime)
                    .map_err(|e| fail_layer("changing attributes", &e))?;
            }
        }
        self.touch_local();
        self.made(&node)
    }

    /// Writes `data` at `offset` of a file (copied up first if it is the commit's).
    pub async fn write(&self, ino: Ino, offset: u64, data: &[u8]) -> FsResult<u32> {
        let node = match self.write_target(ino) {
            Some(node) => node,
            None => self.ensure_local(ino, false).await?,
        };
        let NodeKind::Local {
            wc,
            node: id,
            kind: LocalKind::File,
            ..
        } = &node.kind
        else {
            return Err(Errno(if node.is_dir() {
                libc::EISDIR
            } else {
                libc::EINVAL
            }));
        };
        let layer = self.layer_of(wc)?;
        layer
            .write_file(*id, offset, data)
            .map_err(|e| fail_layer("writing a file", &e))?;
        self.touch_local();
        Ok(data.len() as u32)
    }

    /// After a write the kernel flagged (`kill`): clears a local file's set-user-ID and
    /// set-group-ID bits, as a write by anyone without CAP_FSETID does on a local disk.
    pub fn kill_suid(&self, ino: Ino, kill: bool) -> FsResult<()> {
        if !kill {
            return Ok(());
        }
        let Some(node) = self.write_target(ino) else {
            return Ok(());
        };
        let NodeKind::Local { wc, node: id, .. } = &node.kind else {
            return Ok(());
        };
        let layer = self.layer_of(wc)?;
        let perm = layer
            .file_meta(*id)
            .map_err(|e| fail_layer("reading a file's attributes", &e))?
            .perm;
        if perm & 0o6000 != 0 {
            layer
                .set_file(*id, None, Some(perm & !0o6000), None, None)
                .map_err(|e| fail_layer("changing a file", &e))?;
        }
        Ok(())
    }

    /// The local file `ino` is, if it already is one (a write needs no copy-up).
    fn write_target(&self, ino: Ino) -> Option<Arc<Node>> {
        self.inodes.get(ino).filter(|n| {
            matches!(
                n.kind,
                NodeKind::Local {
                    kind: LocalKind::File,
                    ..
                }
            )
        })
    }

    /// [`FsCore::write`] when the file is already local: what the FUSE thread may do
    /// itself, without a task.
    pub fn write_local(&self, ino: Ino, offset: u64, data: &[u8]) -> Option<FsResult<u32>> {
        let node = self.write_target(ino)?;
        let NodeKind::Local { wc, node: id, .. } = &node.kind else {
            return None;
        };
        let layer = wc.layer().ok()??;
        self.touch_local();
        Some(
            layer
                .write_file(*id, offset, data)
                .map(|()| data.len() as u32)
                .map_err(|e| fail_layer("writing a file", &e)),
        )
    }

    /// `fsync`: a local file's bytes and the layer's last changes reach the disk.
    pub fn fsync(&self, ino: Ino) -> FsResult<()> {
        let node = self.node(ino)?;
        let (wc, file) = match &node.kind {
            NodeKind::Local { wc, node, kind, .. } => {
                (Arc::clone(wc), (*kind == LocalKind::File).then_some(*node))
            }
            NodeKind::Content { wc: Some(wc), .. } => (Arc::clone(wc), None),
            NodeKind::RepoRoot { .. } => match self.root_wc(&node) {
                Some(wc) => (wc, None),
                None => return Ok(()),
            },
            _ => return Ok(()),
        };
        match wc.layer() {
            Ok(Some(layer)) => layer.sync(file).map_err(|e| fail_layer("fsync", &e)),
            Ok(None) => Ok(()),
            Err(e) => Err(fail_layer("fsync", &e)),
        }
    }

    /// The free space where changes are written (the cache's disk).
    pub fn statfs(&self) -> FsResult<Statfs> {
        let dir = self
            .opts
            .changes
            .as_ref()
            .map(|c| c.dir.clone())
            .filter(|d| d.exists())
            .unwrap_or_else(|| self.ns.store().root().to_path_buf());
        let path = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes())
            .map_err(|_| Errno(libc::EINVAL))?;
        let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: a valid NUL-terminated path and a zeroed out-parameter.
        if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        Ok(Statfs {
            blocks: stat.f_blocks as u64,
            bfree: stat.f_bfree as u64,
            bavail: stat.f_bavail as u64,
            files: stat.f_files as u64,
            ffree: stat.f_ffree as u64,
            bsize: stat.f_bsize as u32,
            namelen: crate::changes::MAX_NAME_BYTES as u32,
            frsize: stat.f_frsize as u32,
        })
    }
}
