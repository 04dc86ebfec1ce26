//! A local file's bytes and attributes.
//!
//! A small file (up to [`INLINE_MAX`] bytes) lives in its node's row of the layer's
//! index: its bytes in `nodes.content`, its permission bits and mtime in the row. A larger
//! one lives in `data/<id>`, whose size, mode bits and mtime are the file's. A file starts
//! inline and moves to a data file when a write or a truncation makes it larger (never
//! back). Creating thousands of small files (`__pycache__`, `node_modules`, build output)
//! then costs one SQLite row each instead of a file on the scratch disk, where creating
//! an inode cost more than everything else Heimdall does for a new file.
//!
//! Invariants:
//! - `content` is NULL exactly when the bytes are in `data/<id>`; a data file beside a
//!   non-NULL `content` (a crash mid-move) is stale and swept when the layer is opened.
//! - Every inline change is one SQLite statement or transaction: a write either is in the
//!   file after a crash or is not, whole.
//! - A file removed while open keeps its row (and bytes) until [`Layer::discard`].

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{OptionalExtension, params};

use super::entry::{INLINE_MAX, NodeId};
use super::error::{LayerError, Result};
use super::layer::Layer;
use super::sql::{Cached, State, from_ns, to_ns};

/// A local file's attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileMeta {
    pub size: u64,
    /// Permission bits (`0o7777`).
    pub perm: u32,
    pub mtime: SystemTime,
}

/// A local file's bytes, as they are stored (for hashing and diffs).
#[derive(Debug)]
pub enum FileBytes {
    Inline(Vec<u8>),
    Data(PathBuf),
}

impl FileBytes {
    /// The whole content.
    pub fn read(self) -> std::io::Result<Vec<u8>> {
        match self {
            FileBytes::Inline(bytes) => Ok(bytes),
            FileBytes::Data(path) => fs::read(path),
        }
    }
}

/// Where a file's bytes are now.
enum Stored {
    Inline {
        bytes: Vec<u8>,
        perm: u32,
        mtime: SystemTime,
    },
    /// In `data/<id>` (or the node has no row: a detached copy).
    Data,
}

fn stored(layer: &Layer, state: &State, node: NodeId) -> Result<Stored> {
    let row = state
        .conn
        .row(
            if layer.inline_column() {
                "SELECT content, perm, mtime_ns FROM nodes WHERE id = ?1"
            } else {
                "SELECT NULL, perm, mtime_ns FROM nodes WHERE id = ?1"
            },
            [node],
            |r| {
                Ok((
                    r.get::<_, Option<Vec<u8>>>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            },
        )
        .optional()?;
    Ok(match row {
        Some((Some(bytes), perm, mtime)) => Stored::Inline {
            bytes,
            perm: (perm as u32) & 0o7777,
            mtime: from_ns(mtime),
        },
        _ => Stored::Data,
    })
}

fn splice(bytes: &mut Vec<u8>, offset: usize, data: &[u8]) {
    let end = offset + data.len();
    if bytes.len() < end {
        bytes.resize(end, 0);
    }
    bytes[offset..end].copy_from_slice(data);
}

impl Layer {
    /// A local file's size, permission bits and mtime.
    pub fn file_meta(&self, node: NodeId) -> Result<FileMeta> {
        let state = self.state();
        match stored(self, &state, node)? {
            Stored::Inline { bytes, perm, mtime } => Ok(FileMeta {
                size: bytes.len() as u64,
                perm,
                mtime,
            }),
            Stored::Data => {
                drop(state);
                let path = self.data_path(node);
                let meta = fs::metadata(&path).map_err(|e| LayerError::io(&path, e))?;
                Ok(FileMeta {
                    size: meta.len(),
                    perm: meta.mode() & 0o7777,
                    mtime: meta.modified().unwrap_or(UNIX_EPOCH),
                })
            }
        }
    }

    /// A local file's bytes as stored.
    pub fn file_bytes(&self, node: NodeId) -> Result<FileBytes> {
        let state = self.state();
        Ok(match stored(self, &state, node)? {
            Stored::Inline { bytes, .. } => FileBytes::Inline(bytes),
            Stored::Data => FileBytes::Data(self.data_path(node)),
        })
    }

    /// Up to `size` bytes of a local file from `offset` (fewer at its end).
    pub fn read_file(&self, node: NodeId, offset: u64, size: u32) -> Result<Vec<u8>> {
        let state = self.state();
        match stored(self, &state, node)? {
            Stored::Inline { bytes, .. } => {
                let start = (offset as usize).min(bytes.len());
                let end = start.saturating_add(size as usize).min(bytes.len());
                Ok(bytes[start..end].to_vec())
            }
            Stored::Data => {
                drop(state);
                let path = self.data_path(node);
                let file = File::open(&path).map_err(|e| LayerError::io(&path, e))?;
                let mut buf = vec![0; size as usize];
                let mut done = 0;
                while done < buf.len() {
                    match file.read_at(&mut buf[done..], offset + done as u64) {
                        Ok(0) => break,
                        Ok(n) => done += n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(LayerError::io(&path, e)),
                    }
                }
                buf.truncate(done);
                Ok(buf)
            }
        }
    }

    /// Writes `data` at `offset` of a local file (past its end: the gap reads as zeros).
    pub fn write_file(&self, node: NodeId, offset: u64, data: &[u8]) -> Result<()> {
        let state = self.state();
        match stored(self, &state, node)? {
            Stored::Inline {
                mut bytes, perm, ..
            } => {
                let end = offset.checked_add(data.len() as u64).ok_or_else(|| {
                    LayerError::io(
                        &self.data_path(node),
                        std::io::Error::from_raw_os_error(libc::EFBIG),
                    )
                })?;
                if end <= INLINE_MAX as u64 {
                    splice(&mut bytes, offset as usize, data);
                    state.conn.exec(
                        "UPDATE nodes SET content = ?2, mtime_ns = ?3 WHERE id = ?1",
                        params![node, bytes, to_ns(SystemTime::now())],
                    )?;
                    Ok(())
                } else {
                    self.spill(&state, node, &bytes, perm)?;
                    drop(state);
                    self.write_data(node, offset, data)
                }
            }
            Stored::Data => {
                drop(state);
                self.write_data(node, offset, data)
            }
        }
    }

    fn write_data(&self, node: NodeId, offset: u64, data: &[u8]) -> Result<()> {
        let path = self.data_path(node);
        OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|file| file.write_all_at(data, offset))
            .map_err(|e| LayerError::io(&path, e))
    }

    /// Moves an inline file's bytes to its data file (made first, so a crash leaves the
    /// row as it was and a stale data file the next open sweeps).
    fn spill(&self, state: &State, node: NodeId, bytes: &[u8], perm: u32) -> Result<()> {
        let path = self.data_path(node);
        let written = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(perm & 0o7777)
                .open(&path)?;
            std::io::Write::write_all(&mut file, bytes)?;
            file.set_permissions(fs::Permissions::from_mode(perm & 0o7777))
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&path);
            return Err(LayerError::io(&path, e));
        }
        state.conn.exec(
            "UPDATE nodes SET content = NULL WHERE id = ?1",
            params![node],
        )?;
        Ok(())
    }

    /// Changes a local file's size (truncating or extending with zeros), permission bits
    /// and times (an inline file keeps no atime).
    pub fn set_file(
        &self,
        node: NodeId,
        size: Option<u64>,
        perm: Option<u32>,
        atime: Option<SystemTime>,
        mtime: Option<SystemTime>,
    ) -> Result<()> {
        let state = self.state();
        let (bytes, old_perm) = match stored(self, &state, node)? {
            Stored::Inline { bytes, perm, .. } => (Some(bytes), perm),
            Stored::Data => (None, 0),
        };
        if let Some(mut bytes) = bytes {
            let perm = perm.map_or(old_perm, |p| p & 0o7777);
            match size {
                Some(size) if size > INLINE_MAX as u64 => {
                    bytes.resize(bytes.len().min(size as usize), 0);
                    self.spill(&state, node, &bytes, perm)?;
                }
                _ => {
                    if let Some(size) = size {
                        bytes.resize(size as usize, 0);
                    }
                    // A truncation changes the mtime, as ftruncate(2) does.
                    let mtime = mtime.or(size.map(|_| SystemTime::now()));
                    state.conn.exec(
                        "UPDATE nodes SET content = ?2, perm = ?3,
                             mtime_ns = COALESCE(?4, mtime_ns) WHERE id = ?1",
                        params![node, bytes, perm, mtime.map(to_ns)],
                    )?;
                    return Ok(());
                }
            }
        }
        drop(state);
        let path = self.data_path(node);
        let set = (|| {
            let file = OpenOptions::new().write(true).open(&path)?;
            if let Some(size) = size {
                file.set_len(size)?;
            }
            if let Some(perm) = perm {
                file.set_permissions(fs::Permissions::from_mode(perm & 0o7777))?;
            }
            if atime.is_some() || mtime.is_some() {
                let mut times = fs::FileTimes::new();
                if let Some(t) = atime {
                    times = times.set_accessed(t);
                }
                if let Some(t) = mtime {
                    times = times.set_modified(t);
                }
                file.set_times(times)?;
            }
            Ok(())
        })();
        set.map_err(|e| LayerError::io(&path, e))
    }
}
