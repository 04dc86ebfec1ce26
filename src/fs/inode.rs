//! The inode table.
//!
//! Invariants:
//! - Inode 1 is the mount root and is never forgotten.
//! - A node is identified by its [`NodeKey`]: (parent inode, name, identity). For content
//!   under a commit the identity is the git object's SHA and mode, so a path whose content
//!   changed when a branch moved gets a new inode, while unchanged subtrees keep theirs
//!   (and the kernel's caches of them stay valid). Owners and repo roots are identified by
//!   their name alone. A control file's identity is the hash of its content as of the
//!   lookup that made it. A node of a working copy's layer is identified by its layer node.
//! - In a working copy, a node changes in place and keeps its number: a file of the commit
//!   copied up on its first write, or a directory materialized, is *rebound* to its layer
//!   node ([`Inodes::rebind`]), and a rename moves the node to its new parent and name
//!   ([`Inodes::rename`]); a removed name stops finding its node ([`Inodes::unlink`]),
//!   which lives on until the kernel forgets it (open files keep reading it).
//! - Every `ReplyEntry` sent for a node adds one kernel reference (`lookups`); `forget`
//!   removes references, and a node with none left is dropped from the table, so memory
//!   follows what the kernel holds, not what was ever visited.
//! - Inode numbers are a hash of the key, so the same path with the same content gets the
//!   same number for the life of the mount even after the kernel forgot it, and readdir's
//!   `d_ino` agrees with `stat`. On the (2^-62) chance of a collision with a live node the
//!   next free number is taken.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::control::Control;
use super::worktree::WorkingCopy;
use crate::changes::{LocalKind, NodeId};
use crate::namespace::{RepoContext, RepoSpec};
use crate::oid::Sha;
use crate::remote::Mode;

pub type Ino = u64;
pub const ROOT_INO: Ino = 1;

#[derive(Debug, Clone)]
pub enum NodeKind {
    Root,
    Owner {
        login: String,
    },
    /// `owner/repo` or `owner/repo@ref`: mutable, re-resolved after the ref TTL.
    RepoRoot {
        spec: RepoSpec,
    },
    /// `/.patterns` and `/.status`.
    Control(Control),
    /// A control file as of one lookup: its inode is keyed by the content's hash, so a
    /// newer content is a new inode and the kernel may cache each one like a blob.
    Snapshot {
        file: Control,
        content: Arc<Vec<u8>>,
    },
    /// A tree, blob or gitlink under a commit: immutable. In a working copy (`wc`), the
    /// first change makes it local (a rebind to [`NodeKind::Local`]).
    Content {
        repo: Arc<RepoContext>,
        /// Path inside the repository at the commit (for links and logs).
        path: String,
        mode: Mode,
        sha: Sha,
        size: u64,
        wc: Option<Arc<WorkingCopy>>,
    },
    /// A file, symlink or directory of a working copy's layer.
    Local {
        repo: Arc<RepoContext>,
        /// Its path when it was made local (for links and logs; a rename does not change it).
        path: String,
        wc: Arc<WorkingCopy>,
        node: NodeId,
        kind: LocalKind,
    },
}

impl NodeKind {
    /// What identifies a node of this kind under its name (see the invariants).
    pub fn identity(&self) -> Identity {
        match self {
            NodeKind::Content { sha, mode, .. } => Identity::Object(*sha, *mode),
            NodeKind::Local { wc, node, .. } => Identity::Local(wc.id(), *node),
            NodeKind::Root
            | NodeKind::Owner { .. }
            | NodeKind::RepoRoot { .. }
            | NodeKind::Control(_)
            | NodeKind::Snapshot { .. } => Identity::Named,
        }
    }
}

#[derive(Debug)]
pub struct Node {
    pub ino: Ino,
    pub parent: Ino,
    pub name: String,
    pub kind: NodeKind,
    lookups: AtomicU64,
}

impl Node {
    pub fn is_dir(&self) -> bool {
        match &self.kind {
            NodeKind::Root | NodeKind::Owner { .. } | NodeKind::RepoRoot { .. } => true,
            NodeKind::Control(control) => control.is_dir(),
            NodeKind::Snapshot { .. } => false,
            NodeKind::Content { mode, .. } => matches!(mode, Mode::Tree | Mode::Submodule),
            NodeKind::Local { kind, .. } => *kind == LocalKind::Dir,
        }
    }

    fn key(&self) -> NodeKey {
        NodeKey {
            parent: self.parent,
            name: self.name.clone(),
            identity: self.kind.identity(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Identity {
    Named,
    Object(Sha, Mode),
    /// A layer node of the working copy numbered as given (see [`WorkingCopy::id`]).
    Local(u64, NodeId),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NodeKey {
    pub parent: Ino,
    pub name: String,
    pub identity: Identity,
}

#[derive(Default)]
struct Table {
    nodes: HashMap<Ino, Arc<Node>>,
    keys: HashMap<NodeKey, Ino>,
}

/// The inode number a key hashes to: never 0 or 1, below 2^63.
pub fn key_ino(key: &NodeKey) -> Ino {
    use std::hash::{Hash, Hasher};
    // SipHash with fixed keys: the same number in every run of the mount.
    let mut hasher = std::hash::DefaultHasher::new();
    key.hash(&mut hasher);
    let ino = hasher.finish() >> 1;
    if ino <= ROOT_INO { ino + 2 } else { ino }
}

pub struct Inodes {
    table: Mutex<Table>,
}

impl Default for Inodes {
    fn default() -> Self {
        Inodes::with_root(NodeKind::Root)
    }
}

impl Inodes {
    /// A table whose root (inode 1) is `root`: [`NodeKind::Root`] for the whole namespace,
    /// or a tree under a commit for a mount of one resource (an allocation).
    pub fn with_root(root: NodeKind) -> Inodes {
        let root = Arc::new(Node {
            ino: ROOT_INO,
            parent: ROOT_INO,
            name: String::new(),
            kind: root,
            lookups: AtomicU64::new(1),
        });
        let mut nodes = HashMap::new();
        nodes.insert(ROOT_INO, root);
        Inodes {
            table: Mutex::new(Table {
                nodes,
                keys: HashMap::new(),
            }),
        }
    }
    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().expect("inode table poisoned")
    }

    pub fn get(&self, ino: Ino) -> Option<Arc<Node>> {
        self.table().nodes.get(&ino).cloned()
    }

    /// The node for `key`, created with `kind` if new. The caller then sends one entry
    /// reply for it, which is counted here.
    pub fn lookup(&self, key: NodeKey, kind: impl FnOnce() -> NodeKind) -> Arc<Node> {
        let mut table = self.table();
        if let Some(node) = table.keys.get(&key).and_then(|ino| table.nodes.get(ino)) {
            node.lookups.fetch_add(1, Ordering::Relaxed);
            return Arc::clone(node);
        }
        let ino = Self::free_ino(&table, &key);
        let node = Arc::new(Node {
            ino,
            parent: key.parent,
            name: key.name.clone(),
            kind: kind(),
            lookups: AtomicU64::new(1),
        });
        table.nodes.insert(ino, Arc::clone(&node));
        table.keys.insert(key, ino);
        node
    }

    /// One more kernel reference to the live node `ino` (for an entry the caller then
    /// sends), or `None` if it is gone.
    pub fn add_ref(&self, ino: Ino) -> Option<Arc<Node>> {
        let table = self.table();
        let node = table.nodes.get(&ino)?;
        node.lookups.fetch_add(1, Ordering::Relaxed);
        Some(Arc::clone(node))
    }

    /// The inode a key has, or would get from a lookup now, without adding a reference
    /// (for readdir: its `d_ino` is never another live node's number).
    pub fn peek(&self, key: &NodeKey) -> Ino {
        let table = self.table();
        if let Some(ino) = table.keys.get(key) {
            return *ino;
        }
        Self::free_ino(&table, key)
    }

    /// The number a new node for `key` gets: its hash, or the next one no live node has.
    fn free_ino(table: &Table, key: &NodeKey) -> Ino {
        let mut ino = key_ino(key);
        while table.nodes.contains_key(&ino) || ino <= ROOT_INO {
            ino = ino.wrapping_add(1) & (u64::MAX >> 1);
        }
        ino
    }

    /// Drops `n` kernel references; a node left with none is removed and returned.
    pub fn forget(&self, ino: Ino, n: u64) -> Option<Arc<Node>> {
        if ino == ROOT_INO {
            return None;
        }
        let mut table = self.table();
        let node = table.nodes.get(&ino)?;
        let before = node.lookups.fetch_sub(
            n.min(node.lookups.load(Ordering::Relaxed)),
            Ordering::Relaxed,
        );
        if before > n {
            return None;
        }
        let node = table.nodes.remove(&ino).expect("present");
        let key = node.key();
        if table.keys.get(&key) == Some(&ino) {
            table.keys.remove(&key);
        }
        Some(node)
    }

    /// Replaces what node `ino` is (a copy-up or a materialization), keeping its number,
    /// name and kernel references: the kernel's inode now reads the layer.
    pub fn rebind(&self, ino: Ino, kind: NodeKind) -> Option<Arc<Node>> {
        let mut table = self.table();
        let old = table.nodes.get(&ino)?.clone();
        let node = Arc::new(Node {
            ino,
            parent: old.parent,
            name: old.name.clone(),
            kind,
            lookups: AtomicU64::new(old.lookups.load(Ordering::Relaxed)),
        });
        Self::replace(&mut table, &old, &node);
        Some(node)
    }

    /// Node `ino` now shows as `name` in directory `parent` (a rename).
    pub fn rename(&self, ino: Ino, parent: Ino, name: &str) {
        self.rename_all(&[(ino, parent, name)]);
    }

    /// Several renames at once (an exchange swaps two names, which may hold the same
    /// object: each node's old key is let go before any new one is taken, so neither
    /// takes the other's).
    pub fn rename_all(&self, moves: &[(Ino, Ino, &str)]) {
        let mut table = self.table();
        let mut moved = Vec::with_capacity(moves.len());
        for &(ino, parent, name) in moves {
            let Some(old) = table.nodes.get(&ino).cloned() else {
                continue;
            };
            let old_key = old.key();
            let named = table.keys.get(&old_key) == Some(&ino);
            if named {
                table.keys.remove(&old_key);
            }
            let node = Arc::new(Node {
                ino,
                parent,
                name: name.to_string(),
                kind: old.kind.clone(),
                lookups: AtomicU64::new(old.lookups.load(Ordering::Relaxed)),
            });
            moved.push((node, named));
        }
        for (node, named) in moved {
            if named {
                table.keys.insert(node.key(), node.ino);
            }
            table.nodes.insert(node.ino, node);
        }
    }

    /// Puts `new` in `old`'s place; its name finds it if `old`'s did (an unlinked node
    /// stays nameless).
    fn replace(table: &mut Table, old: &Arc<Node>, new: &Arc<Node>) {
        let old_key = old.key();
        let named = table.keys.get(&old_key) == Some(&old.ino);
        if named {
            table.keys.remove(&old_key);
            table.keys.insert(new.key(), new.ino);
        }
        table.nodes.insert(new.ino, Arc::clone(new));
    }

    /// Whether node `ino`'s name still finds it (false once unlinked or renamed over).
    pub fn is_named(&self, ino: Ino) -> bool {
        let table = self.table();
        table
            .nodes
            .get(&ino)
            .is_some_and(|node| ino == ROOT_INO || table.keys.get(&node.key()) == Some(&ino))
    }

    /// `name` in `parent`, which was `identity`, is gone (unlinked, or replaced by a
    /// rename): lookups no longer find its node, which stays until the kernel forgets it.
    /// Returns the node, if the kernel holds one.
    pub fn unlink(&self, parent: Ino, name: &str, identity: Identity) -> Option<Arc<Node>> {
        let mut table = self.table();
        let key = NodeKey {
            parent,
            name: name.to_string(),
            identity,
        };
        let ino = table.keys.remove(&key)?;
        table.nodes.get(&ino).cloned()
    }

    /// The live node `key` names, if any.
    pub fn find(&self, key: &NodeKey) -> Option<Arc<Node>> {
        let table = self.table();
        table
            .keys
            .get(key)
            .and_then(|ino| table.nodes.get(ino))
            .cloned()
    }

    /// Names of the children of `parent` the kernel currently knows (for invalidation).
    pub fn child_names(&self, parent: Ino) -> Vec<String> {
        self.table()
            .nodes
            .values()
            .filter(|n| n.parent == parent && n.ino != ROOT_INO)
            .map(|n| n.name.clone())
            .collect()
    }

    /// Nodes in the table (for status and the memory-bound test).
    pub fn len(&self) -> usize {
        self.table().nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(parent: Ino, name: &str, sha: u8) -> NodeKey {
        NodeKey {
            parent,
            name: name.into(),
            identity: Identity::Object(Sha::from_bytes([sha; 20]), Mode::File),
        }
    }

    fn owner() -> NodeKind {
        NodeKind::Owner { login: "x".into() }
    }

    #[test]
    fn same_key_same_inode_and_forget_frees() {
        let inodes = Inodes::default();
        let a = inodes.lookup(key(1, "a", 1), owner);
        let again = inodes.lookup(key(1, "a", 1), owner);
        assert_eq!(a.ino, again.ino);
        let changed = inodes.lookup(key(1, "a", 2), owner);
        assert_ne!(a.ino, changed.ino, "new content, new inode");
        assert_eq!(inodes.len(), 3);
        inodes.forget(a.ino, 1);
        assert!(inodes.get(a.ino).is_some(), "one reference left");
        inodes.forget(a.ino, 1);
        assert!(inodes.get(a.ino).is_none());
        let fresh = inodes.lookup(key(1, "a", 1), owner);
        assert_eq!(
            fresh.ino, a.ino,
            "the same key gets the same number after a forget"
        );
        assert_eq!(inodes.peek(&key(1, "b", 1)), key_ino(&key(1, "b", 1)));
        inodes.forget(ROOT_INO, 100);
        assert!(inodes.get(ROOT_INO).is_some());
    }
}
