//! One working copy's local changes: a copy-on-write layer over a commit's tree.
//!
//! Layout (`<cache>/changes-v1/<key>/`, 0700):
//! ```text
//! layer.sqlite    what the working copy's directories hold (WAL)
//! data/<id>       the bytes of local file <id> (created here, or copied up from a blob)
//! lock            flock'd by the one process serving the layer
//! ```
//! The model is EdenFS's: a directory is either still the commit's tree (nothing here
//! names it) or *materialized*: its complete listing is in `entries`, each name either a
//! pointer to a git object of the commit (unchanged: no bytes are copied) or a local node
//! (a file, symlink or directory of this layer). Removing a name from a materialized
//! directory is the whiteout; a directory removed and made again is a new local directory
//! with nothing of the commit in it (opaque). Renaming moves an entry, whatever it points
//! to, so renaming a directory of the commit copies nothing.
//!
//! Invariants:
//! - Node 1 is the root directory, materialized when the layer is made.
//! - Every metadata change (create, remove, rename, materialize, mode, xattr) is one
//!   SQLite transaction: after a crash a rename or removal is applied whole or not at all.
//! - A local file's bytes, size, mode bits and mtime live in its data file, written in
//!   place; a data file exists before the entry naming it, and one no entry names (a crash
//!   between the two, or a file removed while open) is deleted when the layer is next
//!   opened. Data files are never hard links to stored objects: a copy-up copies.
//! - Names are validated as tree names are (no `/`, NUL, `.`, `..`, at most 255 bytes).
//! - Only the process holding `lock` writes the layer.

use std::fs::{self, File};
use std::io;
use std::num::NonZeroUsize;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use lru::LruCache;
use rusqlite::params;

use super::entry::{
    Dir, Entry, INLINE_MAX, LayerMeta, LocalKind, NodeId, NodeMeta, ROOT, valid_name,
};
use super::error::{LayerError, Result};
use super::sql::{
    self, Cached, Listing, SCHEMA, State, delete_node, insert_lower, listing, node_meta, open_conn,
    read_meta, set_entry, to_ns, touch_dir, transact,
};
use crate::oid::Sha;
use crate::remote::{Mode, TreeEntry};

/// Materialized directories whose listings are kept in memory (the rest are read back
/// from SQLite when needed).
const CACHED_DIRS: usize = 4096;

/// Removed files whose rows are deleted in one transaction (see [`Layer::discard`]).
pub const DISCARD_BATCH: usize = 256;

fn check_name(name: &str) -> Result<()> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(LayerError::BadName {
            name: name.chars().take(80).collect(),
        })
    }
}

/// Applies `change` to `dir`'s cached listing, if it is cached (one that is not is read
/// back from SQLite, where the change already is, when next needed). Editing in place
/// rather than dropping the listing keeps a run of creates in one directory linear.
fn edit(state: &mut State, dir: NodeId, change: impl FnOnce(&mut Dir)) {
    if let Some(listing) = state.dirs.get_mut(&dir) {
        change(Arc::make_mut(listing));
    }
}

/// An open layer. Every method is synchronous and short (SQLite and local files).
pub struct Layer {
    dir: PathBuf,
    data: PathBuf,
    meta: LayerMeta,
    state: Mutex<State>,
    /// `nodes.content` exists (a layer made before small files were kept inline has it
    /// once opened for writing; read-only, it is read as if every file had a data file).
    inline: bool,
    /// Held (flock) while open for writing: one writer per layer.
    _lock: Option<File>,
}

impl Drop for Layer {
    fn drop(&mut self) {
        if self._lock.is_some() {
            Self::flush_discarded(&mut self.state());
        }
    }
}

impl std::fmt::Debug for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Layer").field("dir", &self.dir).finish()
    }
}

impl Layer {
    /// Makes a new layer at `dir` whose root shows `root` (the entries of `meta.tree`,
    /// as the working copy shows them) until something changes.
    pub fn create(dir: &Path, meta: &LayerMeta, root: &[TreeEntry], perm: u32) -> Result<Layer> {
        let parent = dir.parent().expect("a layer has a parent directory");
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(|e| LayerError::io(parent, e))?;
        // Built aside and renamed into place: a crash leaves no half-made layer.
        let temp = parent.join(format!(
            ".new-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        let built = (|| {
            fs::DirBuilder::new()
                .mode(0o700)
                .create(&temp)
                .map_err(|e| LayerError::io(&temp, e))?;
            fs::DirBuilder::new()
                .mode(0o700)
                .create(temp.join("data"))
                .map_err(|e| LayerError::io(&temp, e))?;
            let mut conn = open_conn(&temp.join("layer.sqlite"))?;
            let tx = conn.transaction()?;
            tx.execute_batch(SCHEMA)?;
            for (key, value) in [
                ("path", meta.path.clone()),
                ("repo", meta.repo.clone()),
                ("commit", meta.commit.to_hex()),
                ("tree", meta.tree.to_hex()),
                ("kind", meta.kind.clone()),
                ("created_at", meta.created_at.to_string()),
            ] {
                tx.exec("INSERT INTO meta VALUES (?1, ?2)", params![key, value])?;
            }
            if let Some(filter) = &meta.filter {
                tx.exec("INSERT INTO meta VALUES ('filter', ?1)", params![filter])?;
            }
            tx.exec(
                "INSERT INTO nodes (id, kind, perm, mtime_ns) VALUES (?1, ?2, ?3, ?4)",
                params![ROOT, LocalKind::Dir.code(), perm, to_ns(SystemTime::now())],
            )?;
            insert_lower(&tx, ROOT, root)?;
            tx.commit()?;
            Ok::<_, LayerError>(())
        })();
        if let Err(e) = built {
            let _ = fs::remove_dir_all(&temp);
            return Err(e);
        }
        fs::rename(&temp, dir).map_err(|e| {
            let _ = fs::remove_dir_all(&temp);
            LayerError::io(dir, e)
        })?;
        Layer::open(dir)
    }

    /// Opens the layer at `dir` for writing, sweeping data files no entry names.
    pub fn open(dir: &Path) -> Result<Layer> {
        let lock = sql::lock(dir)?;
        let conn = open_conn(&dir.join("layer.sqlite"))?;
        let layer = Self::with(dir, conn, Some(lock))?;
        layer.sweep()?;
        Ok(layer)
    }

    /// Opens the layer at `dir` to read it (`changes list` and `diff`), whether or not
    /// another process serves it; every change through it fails.
    pub fn open_read_only(dir: &Path) -> Result<Layer> {
        let conn = rusqlite::Connection::open_with_flags(
            dir.join("layer.sqlite"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        Self::with(dir, conn, None)
    }

    fn with(dir: &Path, conn: rusqlite::Connection, lock: Option<File>) -> Result<Layer> {
        let meta = read_meta(&conn, dir)?;
        let mut inline = conn.prepare("SELECT content FROM nodes LIMIT 0").is_ok();
        if !inline && lock.is_some() {
            conn.execute_batch("ALTER TABLE nodes ADD COLUMN content BLOB")?;
            inline = true;
        }
        let next_id: NodeId = conn.row("SELECT COALESCE(MAX(id), 1) + 1 FROM nodes", [], |r| {
            r.get(0)
        })?;
        let layer = Layer {
            dir: dir.to_path_buf(),
            data: dir.join("data"),
            meta,
            state: Mutex::new(State {
                conn,
                dirs: LruCache::new(NonZeroUsize::new(CACHED_DIRS).expect("non-zero")),
                next_id,
                discarded: Vec::new(),
            }),
            inline,
            _lock: lock,
        };
        Ok(layer)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn meta(&self) -> &LayerMeta {
        &self.meta
    }

    /// Whether files may be inline (see [`Layer::inline`]).
    pub(super) fn inline_column(&self) -> bool {
        self.inline
    }

    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("layer poisoned")
    }

    /// Where local file `node`'s bytes are.
    pub fn data_path(&self, node: NodeId) -> PathBuf {
        self.data.join(node.to_string())
    }

    /// Deletes the files no entry names (removed while open, or a crash mid-create)
    /// and data files no file's bytes are in (those, and a crash mid-move to a data file).
    fn sweep(&self) -> Result<()> {
        let mut state = self.state();
        transact(&mut state.conn, |tx| {
            tx.exec(
                "DELETE FROM xattrs WHERE node IN (SELECT id FROM nodes WHERE kind = ?1
                     AND id NOT IN (SELECT node FROM entries WHERE node IS NOT NULL))",
                [LocalKind::File.code()],
            )?;
            tx.exec(
                "DELETE FROM nodes WHERE kind = ?1
                     AND id NOT IN (SELECT node FROM entries WHERE node IS NOT NULL)",
                [LocalKind::File.code()],
            )?;
            Ok(())
        })?;
        let mut query = state
            .conn
            .prepare("SELECT id FROM nodes WHERE kind = ?1 AND content IS NULL")?;
        let live: std::collections::HashSet<NodeId> = query
            .query_map([LocalKind::File.code()], |r| r.get(0))?
            .collect::<std::result::Result<_, _>>()?;
        let files = fs::read_dir(&self.data).map_err(|e| LayerError::io(&self.data, e))?;
        for file in files.flatten() {
            let name = file.file_name();
            let keep = name
                .to_str()
                .and_then(|n| n.parse::<NodeId>().ok())
                .is_some_and(|id| live.contains(&id));
            if !keep {
                let _ = fs::remove_file(file.path());
            }
        }
        Ok(())
    }

    /// The listing of local directory `dir`.
    pub fn entries(&self, dir: NodeId) -> Result<Listing> {
        let mut state = self.state();
        listing(&mut state, dir)
    }

    pub fn entry(&self, dir: NodeId, name: &str) -> Result<Option<Entry>> {
        Ok(self.entries(dir)?.get(name).cloned())
    }

    /// A directory's or symlink's attributes (`None` for a node that is gone).
    pub fn node(&self, node: NodeId) -> Result<Option<NodeMeta>> {
        let state = self.state();
        node_meta(&state.conn, node)
    }

    fn allocate(state: &mut State) -> NodeId {
        let id = state.next_id;
        state.next_id += 1;
        id
    }

    /// Makes a commit directory local: `dir` (a local directory) names `name` as a new
    /// local directory listing `lower` (the tree's entries as the working copy shows
    /// them), with permission bits `perm`. Returns the new node.
    pub fn materialize(
        &self,
        dir: NodeId,
        name: &str,
        lower: &[TreeEntry],
        perm: u32,
        mtime: SystemTime,
    ) -> Result<NodeId> {
        let mut state = self.state();
        let listing = listing(&mut state, dir)?;
        if !matches!(
            listing.get(name),
            Some(Entry::Lower {
                mode: Mode::Tree,
                ..
            })
        ) {
            return Err(LayerError::NotADirectory(name.to_string()));
        }
        let id = Self::allocate(&mut state);
        let tx = state.conn.transaction()?;
        tx.exec(
            "INSERT INTO nodes (id, kind, perm, mtime_ns) VALUES (?1, ?2, ?3, ?4)",
            params![id, LocalKind::Dir.code(), perm, to_ns(mtime)],
        )?;
        insert_lower(&tx, id, lower)?;
        set_entry(
            &tx,
            dir,
            name,
            &Entry::Local {
                node: id,
                kind: LocalKind::Dir,
            },
        )?;
        tx.commit()?;
        edit(&mut state, dir, |entries| {
            entries.insert(
                name.to_string(),
                Entry::Local {
                    node: id,
                    kind: LocalKind::Dir,
                },
            );
        });
        Ok(id)
    }

    fn insert_node(
        &self,
        dir: NodeId,
        name: &str,
        kind: LocalKind,
        perm: u32,
        target: Option<&[u8]>,
        content: Option<&[u8]>,
    ) -> Result<NodeId> {
        check_name(name)?;
        let mut state = self.state();
        if listing(&mut state, dir)?.contains_key(name) {
            return Err(LayerError::Exists(name.to_string()));
        }
        let id = Self::allocate(&mut state);
        let tx = state.conn.transaction()?;
        tx.exec(
            "INSERT INTO nodes (id, kind, perm, mtime_ns, target, content)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                id,
                kind.code(),
                perm,
                to_ns(SystemTime::now()),
                target,
                content
            ],
        )?;
        set_entry(&tx, dir, name, &Entry::Local { node: id, kind })?;
        touch_dir(&tx, dir)?;
        tx.commit()?;
        edit(&mut state, dir, |entries| {
            entries.insert(name.to_string(), Entry::Local { node: id, kind });
        });
        Ok(id)
    }

    /// A new empty file `name` in `dir` (inline until it outgrows [`INLINE_MAX`]).
    pub fn create_file(&self, dir: NodeId, name: &str, perm: u32) -> Result<NodeId> {
        self.insert_node(dir, name, LocalKind::File, perm & 0o7777, None, Some(&[]))
    }

    /// A new directory `name` in `dir`.
    pub fn mkdir(&self, dir: NodeId, name: &str, perm: u32) -> Result<NodeId> {
        self.insert_node(dir, name, LocalKind::Dir, perm, None, None)
    }

    /// A new symlink `name` in `dir` pointing at `target` (stored, never followed).
    pub fn symlink(&self, dir: NodeId, name: &str, target: &[u8]) -> Result<NodeId> {
        self.insert_node(dir, name, LocalKind::Symlink, 0o777, Some(target), None)
    }

    /// Replaces the commit's file `name` in `dir`, which must still be blob `blob`, by a
    /// local copy of `source` (the stored blob's file, copied, never linked; `None`:
    /// empty, for a truncation) with permission bits `perm`.
    pub fn copy_up(
        &self,
        dir: NodeId,
        name: &str,
        blob: Sha,
        source: Option<&Path>,
        perm: u32,
    ) -> Result<NodeId> {
        // A small blob is copied into the index, a larger one to a data file (made
        // before the row naming it).
        let small = match source {
            None => Some(Vec::new()),
            Some(source) => {
                let len = fs::metadata(source)
                    .map_err(|e| LayerError::io(source, e))?
                    .len();
                if len <= INLINE_MAX as u64 {
                    Some(fs::read(source).map_err(|e| LayerError::io(source, e))?)
                } else {
                    None
                }
            }
        };
        let mut state = self.state();
        Self::check_lower(&listing(&mut state, dir)?, name, blob)?;
        let id = Self::allocate(&mut state);
        let path = self.data_path(id);
        if small.is_none() {
            Self::copy_data(&path, source, perm)?;
        }
        let result = (|| {
            let tx = state.conn.transaction()?;
            tx.exec(
                "INSERT INTO nodes (id, kind, perm, mtime_ns, content) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    id,
                    LocalKind::File.code(),
                    perm & 0o7777,
                    to_ns(SystemTime::now()),
                    small
                ],
            )?;
            set_entry(
                &tx,
                dir,
                name,
                &Entry::Local {
                    node: id,
                    kind: LocalKind::File,
                },
            )?;
            tx.commit()?;
            Ok::<_, LayerError>(())
        })();
        if let Err(e) = result {
            let _ = fs::remove_file(&path);
            return Err(e);
        }
        edit(&mut state, dir, |entries| {
            entries.insert(
                name.to_string(),
                Entry::Local {
                    node: id,
                    kind: LocalKind::File,
                },
            );
        });
        Ok(id)
    }

    /// `name` in a listing is still the commit's blob `blob` (not a tree, nor another
    /// object that took the name since the caller looked).
    fn check_lower(listing: &Listing, name: &str, blob: Sha) -> Result<()> {
        match listing.get(name) {
            Some(Entry::Lower { mode, sha, .. }) if *sha == blob && *mode != Mode::Tree => Ok(()),
            _ => Err(LayerError::Missing(name.to_string())),
        }
    }

    /// Writes a data file at `path`: a copy of `source` (or empty) with bits `perm`.
    fn copy_data(path: &Path, source: Option<&Path>, perm: u32) -> Result<()> {
        let copied = (|| {
            match source {
                Some(source) => fs::copy(source, path).map(drop),
                None => File::create(path).map(drop),
            }
            .map_err(|e| LayerError::io(path, e))?;
            fs::set_permissions(path, fs::Permissions::from_mode(perm & 0o7777))
                .map_err(|e| LayerError::io(path, e))
        })();
        if copied.is_err() {
            let _ = fs::remove_file(path);
        }
        copied
    }

    /// A local copy of `source` (or an empty file) that no name shows: for a file of the
    /// commit that was removed while the kernel held it open and is now written through
    /// that inode. Its data goes with [`Layer::discard`], or when the layer is next
    /// opened.
    pub fn detached_copy(&self, source: Option<&Path>, perm: u32) -> Result<NodeId> {
        let id = Self::allocate(&mut self.state());
        Self::copy_data(&self.data_path(id), source, perm)?;
        Ok(id)
    }

    /// Replaces the commit's symlink `name` in `dir`, which must still be blob `blob`, by
    /// a local one with the same target (so its attributes can change).
    pub fn copy_up_link(
        &self,
        dir: NodeId,
        name: &str,
        blob: Sha,
        target: &[u8],
    ) -> Result<NodeId> {
        let mut state = self.state();
        Self::check_lower(&listing(&mut state, dir)?, name, blob)?;
        let id = Self::allocate(&mut state);
        let tx = state.conn.transaction()?;
        tx.exec(
            "INSERT INTO nodes (id, kind, perm, mtime_ns, target) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                id,
                LocalKind::Symlink.code(),
                0o777,
                to_ns(SystemTime::now()),
                target
            ],
        )?;
        set_entry(
            &tx,
            dir,
            name,
            &Entry::Local {
                node: id,
                kind: LocalKind::Symlink,
            },
        )?;
        tx.commit()?;
        edit(&mut state, dir, |entries| {
            entries.insert(
                name.to_string(),
                Entry::Local {
                    node: id,
                    kind: LocalKind::Symlink,
                },
            );
        });
        Ok(id)
    }

    /// Removes `name` from `dir` (the caller has checked that a directory is empty) and
    /// returns what it was. A local file `held` open keeps its bytes and attributes until
    /// [`Layer::discard`]; any other goes now.
    pub fn remove(&self, dir: NodeId, name: &str, held: bool) -> Result<Entry> {
        let mut state = self.state();
        let entry = listing(&mut state, dir)?
            .get(name)
            .cloned()
            .ok_or_else(|| LayerError::Missing(name.to_string()))?;
        let gone = Self::going(&entry, held);
        transact(&mut state.conn, |tx| {
            tx.exec(
                "DELETE FROM entries WHERE dir = ?1 AND name = ?2",
                params![dir, name],
            )?;
            if let Some(node) = gone {
                delete_node(tx, node)?;
            }
            touch_dir(tx, dir)
        })?;
        edit(&mut state, dir, |entries| {
            entries.remove(name);
        });
        if let Some(node) = gone {
            state.dirs.pop(&node);
            let _ = fs::remove_file(self.data_path(node));
        }
        Ok(entry)
    }

    /// The node that goes with `entry`'s name: a local one, unless it is a file `held`
    /// open.
    fn going(entry: &Entry, held: bool) -> Option<NodeId> {
        match entry {
            Entry::Local {
                kind: LocalKind::File,
                ..
            } if held => None,
            Entry::Local { node, .. } => Some(*node),
            Entry::Lower { .. } => None,
        }
    }

    /// Moves `name` in `dir` to `to_name` in `to_dir`, replacing what was there (the
    /// caller has checked kinds and emptiness; a replaced file `held` open stays as
    /// [`Layer::remove`] leaves it), or swapping the two with `exchange`. Returns what was
    /// replaced.
    pub fn rename(
        &self,
        dir: NodeId,
        name: &str,
        to_dir: NodeId,
        to_name: &str,
        exchange: bool,
        held: bool,
    ) -> Result<Option<Entry>> {
        check_name(to_name)?;
        let mut state = self.state();
        let moving = listing(&mut state, dir)?
            .get(name)
            .cloned()
            .ok_or_else(|| LayerError::Missing(name.to_string()))?;
        let replaced = listing(&mut state, to_dir)?.get(to_name).cloned();
        if exchange && replaced.is_none() {
            return Err(LayerError::Missing(to_name.to_string()));
        }
        let gone = match (&replaced, exchange) {
            (Some(old), false) => Self::going(old, held),
            _ => None,
        };
        transact(&mut state.conn, |tx| {
            tx.exec(
                "DELETE FROM entries WHERE dir = ?1 AND name = ?2",
                params![dir, name],
            )?;
            set_entry(tx, to_dir, to_name, &moving)?;
            if let (Some(other), true) = (&replaced, exchange) {
                set_entry(tx, dir, name, other)?;
            }
            if let Some(node) = gone {
                delete_node(tx, node)?;
            }
            touch_dir(tx, dir)?;
            touch_dir(tx, to_dir)
        })?;
        edit(&mut state, dir, |entries| {
            entries.remove(name);
        });
        edit(&mut state, to_dir, |entries| {
            entries.insert(to_name.to_string(), moving.clone());
        });
        if let (Some(other), true) = (&replaced, exchange) {
            edit(&mut state, dir, |entries| {
                entries.insert(name.to_string(), other.clone());
            });
        }
        if let Some(node) = gone {
            state.dirs.pop(&node);
            let _ = fs::remove_file(self.data_path(node));
        }
        Ok(if exchange { None } else { replaced })
    }

    /// Sets a directory's or symlink's permission bits and/or mtime (a file's:
    /// [`Layer::set_file`]).
    pub fn set_node(
        &self,
        node: NodeId,
        perm: Option<u32>,
        mtime: Option<SystemTime>,
    ) -> Result<()> {
        let state = self.state();
        if let Some(perm) = perm {
            state.conn.exec(
                "UPDATE nodes SET perm = ?2 WHERE id = ?1",
                params![node, perm],
            )?;
        }
        if let Some(mtime) = mtime {
            state.conn.exec(
                "UPDATE nodes SET mtime_ns = ?2 WHERE id = ?1",
                params![node, to_ns(mtime)],
            )?;
        }
        Ok(())
    }

    /// Deletes a removed file's bytes (once nothing can read them any more). Its row
    /// goes with the next [`DISCARD_BATCH`] others, or at [`Layer::sync`] or when the
    /// layer is closed: `rm -rf` of files the kernel held would otherwise cost a second
    /// transaction per file, and a row left by a crash is swept at the next open.
    pub fn discard(&self, node: NodeId) {
        let _ = fs::remove_file(self.data_path(node));
        let mut state = self.state();
        state.discarded.push(node);
        if state.discarded.len() >= DISCARD_BATCH {
            Self::flush_discarded(&mut state);
        }
    }

    fn flush_discarded(state: &mut State) {
        if state.discarded.is_empty() {
            return;
        }
        let nodes = std::mem::take(&mut state.discarded);
        let deleted = transact(&mut state.conn, |tx| {
            for node in &nodes {
                tx.exec("DELETE FROM xattrs WHERE node = ?1", [node])?;
                tx.exec(
                    "DELETE FROM nodes WHERE id = ?1 AND kind = ?2",
                    params![node, LocalKind::File.code()],
                )?;
            }
            Ok(())
        });
        if let Err(e) = deleted {
            tracing::warn!(error = %e, "could not delete removed files' rows; the next open sweeps them");
        }
    }

    /// Makes the layer's last transactions and `node`'s bytes durable (fsync).
    pub fn sync(&self, node: Option<NodeId>) -> Result<()> {
        Self::flush_discarded(&mut self.state());
        if let Some(node) = node {
            let path = self.data_path(node);
            match File::open(&path) {
                Ok(f) => f.sync_all().map_err(|e| LayerError::io(&path, e))?,
                // Inline: its bytes are in the index, synced below.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(LayerError::io(&path, e)),
            }
        }
        for name in ["layer.sqlite-wal", "layer.sqlite"] {
            let path = self.dir.join(name);
            match File::open(&path) {
                Ok(f) => f.sync_all().map_err(|e| LayerError::io(&path, e))?,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(LayerError::io(&path, e)),
            }
        }
        Ok(())
    }

    /// Bytes the layer holds on disk (its index and data files).
    pub fn bytes(&self) -> u64 {
        dir_bytes(&self.dir)
    }
}

/// Bytes under `dir`, recursively (files only; links are not followed).
pub fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.metadata() {
                Ok(m) if m.is_dir() => stack.push(entry.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}
