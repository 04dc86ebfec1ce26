//! What a working copy's layer records: nodes, directory entries, and the layer's meta.

use std::time::SystemTime;

use crate::oid::Sha;
use crate::remote::Mode;

/// A node of the layer: a local file, symlink or directory.
pub type NodeId = i64;

/// The largest file kept in the layer's index rather than in a data file (see `files`).
pub const INLINE_MAX: usize = 32 * 1024;
/// The root directory's node.
pub const ROOT: NodeId = 1;
/// Longest name, as tree names.
pub const MAX_NAME_BYTES: usize = 255;

/// What a local node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LocalKind {
    File,
    Symlink,
    Dir,
}

impl LocalKind {
    pub(super) fn code(self) -> i64 {
        match self {
            LocalKind::File => 1,
            LocalKind::Symlink => 2,
            LocalKind::Dir => 3,
        }
    }

    pub(super) fn from_code(code: i64) -> Option<LocalKind> {
        match code {
            1 => Some(LocalKind::File),
            2 => Some(LocalKind::Symlink),
            3 => Some(LocalKind::Dir),
            _ => None,
        }
    }
}

/// What a name in a materialized directory is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// Unchanged from the commit: a git object.
    Lower { mode: Mode, sha: Sha, size: u64 },
    /// A node of this layer.
    Local { node: NodeId, kind: LocalKind },
}

impl Entry {
    pub fn is_dir(&self) -> bool {
        match self {
            Entry::Lower { mode, .. } => matches!(mode, Mode::Tree | Mode::Submodule),
            Entry::Local { kind, .. } => *kind == LocalKind::Dir,
        }
    }
}

/// A materialized directory's listing, name to entry, with its count of
/// subdirectories kept as it changes (a directory's link count is asked for after every
/// change in it; counting a 10,000-entry listing each time made creating many files
/// quadratic).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dir {
    entries: std::collections::BTreeMap<String, Entry>,
    subdirs: u32,
}

impl Dir {
    /// Subdirectories (commit trees, submodules and local directories).
    pub fn subdirs(&self) -> u32 {
        self.subdirs
    }

    pub fn insert(&mut self, name: String, entry: Entry) -> Option<Entry> {
        self.subdirs += u32::from(entry.is_dir());
        let old = self.entries.insert(name, entry);
        if old.as_ref().is_some_and(Entry::is_dir) {
            self.subdirs -= 1;
        }
        old
    }

    pub fn remove(&mut self, name: &str) -> Option<Entry> {
        let old = self.entries.remove(name);
        if old.as_ref().is_some_and(Entry::is_dir) {
            self.subdirs -= 1;
        }
        old
    }
}

impl std::ops::Deref for Dir {
    type Target = std::collections::BTreeMap<String, Entry>;

    fn deref(&self) -> &Self::Target {
        &self.entries
    }
}

/// Attributes of a directory or symlink node (a file's are its data file's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeMeta {
    pub kind: LocalKind,
    /// Permission bits (`0o7777`).
    pub perm: u32,
    pub mtime: SystemTime,
    /// A symlink's target.
    pub target: Option<Vec<u8>>,
}

/// What the layer was made for: recorded once, shown by `changes list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerMeta {
    /// Where the working copy shows: `<mountpoint>/<owner>/<repo>[@<ref>]` or an
    /// allocation's path.
    pub path: String,
    /// `owner/repo[@ref]`, as written.
    pub repo: String,
    /// The commit the changes were made on, and the tree the working copy's root shows
    /// (the commit's, or a subtree's for an allocation of a path).
    pub commit: Sha,
    pub tree: Sha,
    /// `mount` or `allocation`.
    pub kind: String,
    /// An allocation of a glob shows only the commit's files it matches (repository
    /// paths, `*` not crossing `/`).
    pub filter: Option<String>,
    /// Epoch seconds.
    pub created_at: i64,
}

/// Checks a name from the kernel before it enters the layer.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains('/')
        && !name.contains('\0')
        && name.len() <= MAX_NAME_BYTES
}
