//! What the filesystem core answers the kernel with, independent of fuser: attributes,
//! directory entries, how long the kernel may keep them, and what it must forget.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::inode::Ino;
use crate::remote::{CommitInfo, Mode};

/// Attribute and entry lifetime for content under a commit: it never changes.
pub const IMMUTABLE_TTL: Duration = Duration::from_secs(24 * 3600);
/// Lifetime of `/`, `/<owner>`, repo roots and the entries directly in a repo root, so a
/// moved branch is noticed within the ref TTL.
pub const MUTABLE_TTL: Duration = Duration::from_secs(1);

/// Size reported for directories, as most local filesystems do.
const DIR_SIZE: u64 = 4096;
/// Preferred I/O size reported to readers (`st_blksize`): large reads are fastest.
const BLOCK_SIZE: u32 = 128 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Directory,
    File,
    Symlink,
}

/// What `stat` shows.
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

/// Attributes as a mount shows them: everything belongs to the mounting user; content
/// under a commit has git's exec bit, and is writable by its owner where the mount is.
#[derive(Debug, Clone, Copy)]
pub struct Attrs {
    pub uid: u32,
    pub gid: u32,
    /// The mount's repository roots are working copies.
    pub writable: bool,
}

impl Attrs {
    /// A directory of a repository (or of a working copy, which sets its own bits).
    pub fn dir(&self, ino: Ino, mtime: SystemTime, nlink: u32) -> Attr {
        Attr {
            ino,
            kind: Kind::Directory,
            size: DIR_SIZE,
            perm: if self.writable { 0o755 } else { 0o555 },
            nlink,
            mtime,
            uid: self.uid,
            gid: self.gid,
            blksize: BLOCK_SIZE,
        }
    }

    /// A file or symlink under a commit (`mode` is a blob's).
    pub fn blob(&self, ino: Ino, mode: Mode, size: u64, mtime: SystemTime) -> Attr {
        Attr {
            ino,
            kind: if mode == Mode::Symlink {
                Kind::Symlink
            } else {
                Kind::File
            },
            size,
            perm: match (mode, self.writable) {
                (Mode::Symlink, _) => 0o777,
                (Mode::Executable, true) => 0o755,
                (Mode::Executable, false) => 0o555,
                (_, true) => 0o644,
                (_, false) => 0o444,
            },
            nlink: 1,
            mtime,
            uid: self.uid,
            gid: self.gid,
            blksize: BLOCK_SIZE,
        }
    }

    /// `/`, `/<owner>` and the control directories: never writable.
    pub fn read_only_dir(&self, ino: Ino, mtime: SystemTime) -> Attr {
        let mut attr = self.dir(ino, mtime, 2);
        attr.perm = 0o555;
        attr
    }

    /// A file of a working copy's layer, as its data file is.
    pub fn local_file(&self, ino: Ino, meta: &crate::changes::FileMeta) -> Attr {
        Attr {
            ino,
            kind: Kind::File,
            size: meta.size,
            perm: meta.perm as u16,
            nlink: 1,
            mtime: meta.mtime,
            uid: self.uid,
            gid: self.gid,
            blksize: BLOCK_SIZE,
        }
    }

    /// A symlink of a working copy's layer.
    pub fn local_symlink(&self, ino: Ino, meta: &crate::changes::NodeMeta) -> Attr {
        Attr {
            ino,
            kind: Kind::Symlink,
            size: meta.target.as_ref().map_or(0, |t| t.len() as u64),
            perm: 0o777,
            nlink: 1,
            mtime: meta.mtime,
            uid: self.uid,
            gid: self.gid,
            blksize: BLOCK_SIZE,
        }
    }

    /// A control file as of now.
    pub fn snapshot(&self, ino: Ino, size: u64) -> Attr {
        Attr {
            ino,
            kind: Kind::File,
            size,
            perm: 0o444,
            nlink: 1,
            mtime: SystemTime::now(),
            uid: self.uid,
            gid: self.gid,
            blksize: BLOCK_SIZE,
        }
    }
}

/// A commit's time as an mtime.
pub fn commit_time(commit: &CommitInfo) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(commit.time.max(0) as u64)
}

#[derive(Debug, Clone)]
pub struct DirEntry {
    pub ino: Ino,
    pub kind: Kind,
    pub name: String,
}

/// One entry of a READDIRPLUS reply, its node holding one new kernel reference (except
/// `.` and `..`, which the kernel does not link).
#[derive(Debug, Clone)]
pub struct PlusEntry {
    pub name: String,
    /// The cookie the kernel passes back to continue after this entry.
    pub offset: u64,
    pub attr: Attr,
    /// How long the kernel may keep the name and the attributes (one TTL, as a lookup's
    /// reply has).
    pub ttl: Duration,
}

/// Something the kernel must forget: sent by the session, never from inside a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalidation {
    /// The directory's listing and attributes.
    Inode(Ino),
    /// One name in a directory.
    Entry(Ino, String),
}
