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

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::num::NonZeroUsize;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lru::LruCache;
use rusqlite::{Connection, OptionalExtension, params};

use crate::oid::Sha;
use crate::remote::{Mode, TreeEntry};

/// A node of the layer: a local file, symlink or directory.
pub type NodeId = i64;
/// The root directory's node.
pub const ROOT: NodeId = 1;
/// Longest name, as tree names.
pub const MAX_NAME_BYTES: usize = 255;
/// Materialized directories whose listings are kept in memory (the rest are read back
/// from SQLite when needed).
const CACHED_DIRS: usize = 4096;
/// How long a writer waits for SQLite's lock (only `changes diff` reads beside us).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

const SCHEMA: &str = "
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE nodes (
        id INTEGER PRIMARY KEY, kind INTEGER NOT NULL, perm INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL, target BLOB);
    CREATE TABLE entries (
        dir INTEGER NOT NULL, name TEXT NOT NULL,
        node INTEGER, mode INTEGER, sha TEXT, size INTEGER,
        PRIMARY KEY (dir, name)) WITHOUT ROWID;
    CREATE TABLE xattrs (
        node INTEGER NOT NULL, name TEXT NOT NULL, value BLOB NOT NULL,
        PRIMARY KEY (node, name)) WITHOUT ROWID;";

#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("`{name}` is not a valid file name (no `/`, NUL, `.` or `..`, at most 255 bytes)")]
    BadName { name: String },
    #[error("`{0}` exists")]
    Exists(String),
    #[error("`{0}` does not exist")]
    Missing(String),
    #[error("`{0}` is a directory")]
    IsDirectory(String),
    #[error("`{0}` is not a directory")]
    NotADirectory(String),
    #[error("`{0}` is not empty")]
    NotEmpty(String),
    #[error("the layer at `{path}` is served by another process")]
    Locked { path: PathBuf },
    #[error("layer `{path}`: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("layer index: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("layer `{path}` is unreadable: {why}")]
    Corrupt { path: PathBuf, why: String },
}

impl LayerError {
    fn io(path: &Path, source: io::Error) -> LayerError {
        LayerError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// The disk (or quota) is full.
    pub fn is_disk_full(&self) -> bool {
        match self {
            LayerError::Io { source, .. } => {
                matches!(source.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
            }
            LayerError::Sqlite(e) => e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull),
            _ => false,
        }
    }
}

type Result<T> = std::result::Result<T, LayerError>;

/// What a local node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LocalKind {
    File,
    Symlink,
    Dir,
}

impl LocalKind {
    fn code(self) -> i64 {
        match self {
            LocalKind::File => 1,
            LocalKind::Symlink => 2,
            LocalKind::Dir => 3,
        }
    }

    fn from_code(code: i64) -> Option<LocalKind> {
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

fn check_name(name: &str) -> Result<()> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(LayerError::BadName {
            name: name.chars().take(80).collect(),
        })
    }
}

fn to_ns(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos().min(i64::MAX as u128) as i64)
}

fn from_ns(ns: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(ns.max(0) as u64)
}

fn mode_code(mode: Mode) -> i64 {
    match mode {
        Mode::File => 0o100644,
        Mode::Executable => 0o100755,
        Mode::Symlink => 0o120000,
        Mode::Submodule => 0o160000,
        Mode::Tree => 0o040000,
    }
}

fn mode_from_code(code: i64) -> Option<Mode> {
    Mode::parse(&format!("{code:o}"))
}

type Listing = Arc<BTreeMap<String, Entry>>;

struct State {
    conn: Connection,
    dirs: LruCache<NodeId, Listing>,
    next_id: NodeId,
}

/// An open layer. Every method is synchronous and short (SQLite and local files).
pub struct Layer {
    dir: PathBuf,
    data: PathBuf,
    meta: LayerMeta,
    state: Mutex<State>,
    /// Held (flock) while open: one writer per layer.
    _lock: File,
}

impl std::fmt::Debug for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Layer").field("dir", &self.dir).finish()
    }
}

fn open_conn(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    crate::store::persist_wal(&conn);
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

fn lock(dir: &Path) -> Result<File> {
    let path = dir.join("lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| LayerError::io(&path, e))?;
    // SAFETY: flock on a descriptor we own.
    if unsafe {
        libc::flock(
            std::os::fd::AsRawFd::as_raw_fd(&file),
            libc::LOCK_EX | libc::LOCK_NB,
        )
    } != 0
    {
        return Err(LayerError::Locked {
            path: dir.to_path_buf(),
        });
    }
    Ok(file)
}

/// Whether another process serves the layer at `dir` now.
pub fn is_locked(dir: &Path) -> bool {
    let Ok(file) = OpenOptions::new().write(true).open(dir.join("lock")) else {
        return false;
    };
    // SAFETY: flock on a descriptor we own; released when `file` closes.
    unsafe {
        libc::flock(
            std::os::fd::AsRawFd::as_raw_fd(&file),
            libc::LOCK_EX | libc::LOCK_NB,
        ) != 0
    }
}

fn read_meta(conn: &Connection, dir: &Path) -> Result<LayerMeta> {
    let get = |key: &str| -> Result<String> {
        conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?
            .ok_or_else(|| LayerError::Corrupt {
                path: dir.to_path_buf(),
                why: format!("no `{key}` in its meta table"),
            })
    };
    let sha = |key: &str| -> Result<Sha> {
        Sha::parse(&get(key)?).map_err(|e| LayerError::Corrupt {
            path: dir.to_path_buf(),
            why: format!("`{key}`: {e}"),
        })
    };
    Ok(LayerMeta {
        path: get("path")?,
        repo: get("repo")?,
        commit: sha("commit")?,
        tree: sha("tree")?,
        kind: get("kind")?,
        created_at: get("created_at")?.parse().unwrap_or(0),
    })
}

/// Reads a layer's meta without opening it for writing (`changes list` while it is
/// served, or not).
pub fn peek_meta(dir: &Path) -> Result<LayerMeta> {
    let conn = Connection::open_with_flags(
        dir.join("layer.sqlite"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    read_meta(&conn, dir)
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
                tx.execute("INSERT INTO meta VALUES (?1, ?2)", params![key, value])?;
            }
            tx.execute(
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
        let lock = lock(dir)?;
        let conn = open_conn(&dir.join("layer.sqlite"))?;
        let meta = read_meta(&conn, dir)?;
        let next_id: NodeId =
            conn.query_row("SELECT COALESCE(MAX(id), 1) + 1 FROM nodes", [], |r| {
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
            }),
            _lock: lock,
        };
        layer.sweep()?;
        Ok(layer)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn meta(&self) -> &LayerMeta {
        &self.meta
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("layer poisoned")
    }

    /// Where local file `node`'s bytes are.
    pub fn data_path(&self, node: NodeId) -> PathBuf {
        self.data.join(node.to_string())
    }

    /// Deletes data files that no node names (a crash mid-create, files removed while
    /// open).
    fn sweep(&self) -> Result<()> {
        let state = self.state();
        let mut query = state.conn.prepare("SELECT id FROM nodes WHERE kind = ?1")?;
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
        tx.execute(
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
        state.dirs.pop(&dir);
        Ok(id)
    }

    fn insert_node(
        &self,
        dir: NodeId,
        name: &str,
        kind: LocalKind,
        perm: u32,
        target: Option<&[u8]>,
        data: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<NodeId> {
        check_name(name)?;
        let mut state = self.state();
        if listing(&mut state, dir)?.contains_key(name) {
            return Err(LayerError::Exists(name.to_string()));
        }
        let id = Self::allocate(&mut state);
        let path = self.data_path(id);
        if kind == LocalKind::File {
            data(&path)?;
        }
        let result = (|| {
            let tx = state.conn.transaction()?;
            tx.execute(
                "INSERT INTO nodes (id, kind, perm, mtime_ns, target) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, kind.code(), perm, to_ns(SystemTime::now()), target],
            )?;
            set_entry(&tx, dir, name, &Entry::Local { node: id, kind })?;
            touch_dir(&tx, dir)?;
            tx.commit()?;
            Ok::<_, LayerError>(())
        })();
        if let Err(e) = result {
            if kind == LocalKind::File {
                let _ = fs::remove_file(&path);
            }
            return Err(e);
        }
        state.dirs.pop(&dir);
        Ok(id)
    }

    /// A new empty file `name` in `dir`.
    pub fn create_file(&self, dir: NodeId, name: &str, perm: u32) -> Result<NodeId> {
        self.insert_node(dir, name, LocalKind::File, perm, None, |path| {
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(perm & 0o7777)
                .open(path)
                .map(drop)
                .map_err(|e| LayerError::io(path, e))
        })
    }

    /// A new directory `name` in `dir`.
    pub fn mkdir(&self, dir: NodeId, name: &str, perm: u32) -> Result<NodeId> {
        self.insert_node(dir, name, LocalKind::Dir, perm, None, |_| Ok(()))
    }

    /// A new symlink `name` in `dir` pointing at `target` (stored, never followed).
    pub fn symlink(&self, dir: NodeId, name: &str, target: &[u8]) -> Result<NodeId> {
        self.insert_node(dir, name, LocalKind::Symlink, 0o777, Some(target), |_| {
            Ok(())
        })
    }

    /// Replaces the commit's file `name` in `dir` by a local copy of `source` (the stored
    /// blob's file, copied, never linked) with permission bits `perm`.
    pub fn copy_up(&self, dir: NodeId, name: &str, source: &Path, perm: u32) -> Result<NodeId> {
        let mut state = self.state();
        if !matches!(
            listing(&mut state, dir)?.get(name),
            Some(Entry::Lower { .. })
        ) {
            return Err(LayerError::Missing(name.to_string()));
        }
        let id = Self::allocate(&mut state);
        let path = self.data_path(id);
        let copied = (|| {
            fs::copy(source, &path).map_err(|e| LayerError::io(&path, e))?;
            fs::set_permissions(&path, fs::Permissions::from_mode(perm & 0o7777))
                .map_err(|e| LayerError::io(&path, e))
        })();
        if let Err(e) = copied {
            let _ = fs::remove_file(&path);
            return Err(e);
        }
        let result = (|| {
            let tx = state.conn.transaction()?;
            tx.execute(
                "INSERT INTO nodes (id, kind, perm, mtime_ns) VALUES (?1, ?2, ?3, ?4)",
                params![id, LocalKind::File.code(), perm, to_ns(SystemTime::now())],
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
        state.dirs.pop(&dir);
        Ok(id)
    }

    /// Removes `name` from `dir` (the caller has checked that a directory is empty) and
    /// returns what it was. A local file's data stays until [`Layer::discard`].
    pub fn remove(&self, dir: NodeId, name: &str) -> Result<Entry> {
        let mut state = self.state();
        let entry = listing(&mut state, dir)?
            .get(name)
            .cloned()
            .ok_or_else(|| LayerError::Missing(name.to_string()))?;
        let tx = state.conn.transaction()?;
        tx.execute(
            "DELETE FROM entries WHERE dir = ?1 AND name = ?2",
            params![dir, name],
        )?;
        if let Entry::Local { node, .. } = &entry {
            delete_node(&tx, *node)?;
        }
        touch_dir(&tx, dir)?;
        tx.commit()?;
        state.dirs.pop(&dir);
        if let Entry::Local { node, .. } = &entry {
            state.dirs.pop(node);
        }
        Ok(entry)
    }

    /// Moves `name` in `dir` to `to_name` in `to_dir`, replacing what was there (the
    /// caller has checked kinds and emptiness), or swapping the two with `exchange`.
    /// Returns what was replaced.
    pub fn rename(
        &self,
        dir: NodeId,
        name: &str,
        to_dir: NodeId,
        to_name: &str,
        exchange: bool,
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
        let tx = state.conn.transaction()?;
        tx.execute(
            "DELETE FROM entries WHERE dir = ?1 AND name = ?2",
            params![dir, name],
        )?;
        set_entry(&tx, to_dir, to_name, &moving)?;
        match (&replaced, exchange) {
            (Some(other), true) => set_entry(&tx, dir, name, other)?,
            (Some(Entry::Local { node, .. }), false) => delete_node(&tx, *node)?,
            _ => {}
        }
        touch_dir(&tx, dir)?;
        touch_dir(&tx, to_dir)?;
        tx.commit()?;
        state.dirs.pop(&dir);
        state.dirs.pop(&to_dir);
        Ok(if exchange { None } else { replaced })
    }

    /// Sets a directory's or symlink's permission bits and/or mtime (a file's are set on
    /// its data file).
    pub fn set_node(
        &self,
        node: NodeId,
        perm: Option<u32>,
        mtime: Option<SystemTime>,
    ) -> Result<()> {
        let state = self.state();
        if let Some(perm) = perm {
            state.conn.execute(
                "UPDATE nodes SET perm = ?2 WHERE id = ?1",
                params![node, perm],
            )?;
        }
        if let Some(mtime) = mtime {
            state.conn.execute(
                "UPDATE nodes SET mtime_ns = ?2 WHERE id = ?1",
                params![node, to_ns(mtime)],
            )?;
        }
        Ok(())
    }

    /// Deletes a removed file's bytes (once nothing can read them any more).
    pub fn discard(&self, node: NodeId) {
        let _ = fs::remove_file(self.data_path(node));
    }

    pub fn xattr(&self, node: NodeId, name: &str) -> Result<Option<Vec<u8>>> {
        let state = self.state();
        Ok(state
            .conn
            .query_row(
                "SELECT value FROM xattrs WHERE node = ?1 AND name = ?2",
                params![node, name],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn xattr_names(&self, node: NodeId) -> Result<Vec<String>> {
        let state = self.state();
        let mut query = state
            .conn
            .prepare("SELECT name FROM xattrs WHERE node = ?1 ORDER BY name")?;
        let names = query
            .query_map([node], |r| r.get(0))?
            .collect::<std::result::Result<_, _>>()?;
        Ok(names)
    }

    /// Sets (`Some`) or removes (`None`) an extended attribute. Returns whether it existed.
    pub fn set_xattr(&self, node: NodeId, name: &str, value: Option<&[u8]>) -> Result<bool> {
        let state = self.state();
        let existed = state
            .conn
            .query_row(
                "SELECT 1 FROM xattrs WHERE node = ?1 AND name = ?2",
                params![node, name],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        match value {
            Some(value) => state.conn.execute(
                "INSERT OR REPLACE INTO xattrs VALUES (?1, ?2, ?3)",
                params![node, name, value],
            )?,
            None => state.conn.execute(
                "DELETE FROM xattrs WHERE node = ?1 AND name = ?2",
                params![node, name],
            )?,
        };
        Ok(existed)
    }

    /// Makes the layer's last transactions and `node`'s bytes durable (fsync).
    pub fn sync(&self, node: Option<NodeId>) -> Result<()> {
        if let Some(node) = node {
            let path = self.data_path(node);
            File::open(&path)
                .and_then(|f| f.sync_all())
                .map_err(|e| LayerError::io(&path, e))?;
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

fn listing(state: &mut State, dir: NodeId) -> Result<Listing> {
    if let Some(listing) = state.dirs.get(&dir) {
        return Ok(Arc::clone(listing));
    }
    let mut query = state.conn.prepare_cached(
        "SELECT name, node, mode, sha, size, (SELECT kind FROM nodes WHERE id = entries.node)
         FROM entries WHERE dir = ?1",
    )?;
    let rows = query.query_map([dir], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, Option<i64>>(1)?,
            r.get::<_, Option<i64>>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, Option<i64>>(4)?,
            r.get::<_, Option<i64>>(5)?,
        ))
    })?;
    let mut out = BTreeMap::new();
    for row in rows {
        let (name, node, mode, sha, size, kind) = row?;
        let entry = match (node, kind, mode, sha) {
            (Some(node), Some(kind), _, _) => {
                LocalKind::from_code(kind).map(|kind| Entry::Local { node, kind })
            }
            (None, _, Some(mode), Some(sha)) => match (mode_from_code(mode), Sha::parse(&sha)) {
                (Some(mode), Ok(sha)) => Some(Entry::Lower {
                    mode,
                    sha,
                    size: size.unwrap_or(0).max(0) as u64,
                }),
                _ => None,
            },
            _ => None,
        };
        match entry {
            Some(entry) => {
                out.insert(name, entry);
            }
            None => tracing::warn!(dir, name, "unreadable layer entry; left out"),
        }
    }
    drop(query);
    let listing = Arc::new(out);
    state.dirs.put(dir, Arc::clone(&listing));
    Ok(listing)
}

fn node_meta(conn: &Connection, node: NodeId) -> Result<Option<NodeMeta>> {
    let row = conn
        .query_row(
            "SELECT kind, perm, mtime_ns, target FROM nodes WHERE id = ?1",
            [node],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Option<Vec<u8>>>(3)?,
                ))
            },
        )
        .optional()?;
    Ok(row.and_then(|(kind, perm, mtime, target)| {
        Some(NodeMeta {
            kind: LocalKind::from_code(kind)?,
            perm: (perm as u32) & 0o7777,
            mtime: from_ns(mtime),
            target,
        })
    }))
}

fn insert_lower(tx: &rusqlite::Transaction<'_>, dir: NodeId, entries: &[TreeEntry]) -> Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT OR REPLACE INTO entries (dir, name, node, mode, sha, size) VALUES (?1, ?2, NULL, ?3, ?4, ?5)",
    )?;
    for entry in entries {
        insert.execute(params![
            dir,
            entry.name,
            mode_code(entry.mode),
            entry.sha.to_hex(),
            entry.size as i64
        ])?;
    }
    Ok(())
}

fn set_entry(tx: &rusqlite::Transaction<'_>, dir: NodeId, name: &str, entry: &Entry) -> Result<()> {
    match entry {
        Entry::Lower { mode, sha, size } => tx.execute(
            "INSERT OR REPLACE INTO entries (dir, name, node, mode, sha, size) VALUES (?1, ?2, NULL, ?3, ?4, ?5)",
            params![dir, name, mode_code(*mode), sha.to_hex(), *size as i64],
        )?,
        Entry::Local { node, .. } => tx.execute(
            "INSERT OR REPLACE INTO entries (dir, name, node, mode, sha, size) VALUES (?1, ?2, ?3, NULL, NULL, NULL)",
            params![dir, name, node],
        )?,
    };
    Ok(())
}

/// Deletes a node and, for a directory, everything under it.
fn delete_node(tx: &rusqlite::Transaction<'_>, node: NodeId) -> Result<()> {
    let mut stack = vec![node];
    while let Some(node) = stack.pop() {
        {
            let mut children =
                tx.prepare_cached("SELECT node FROM entries WHERE dir = ?1 AND node IS NOT NULL")?;
            let found: Vec<NodeId> = children
                .query_map([node], |r| r.get(0))?
                .collect::<std::result::Result<_, _>>()?;
            stack.extend(found);
        }
        tx.execute("DELETE FROM entries WHERE dir = ?1", [node])?;
        tx.execute("DELETE FROM xattrs WHERE node = ?1", [node])?;
        tx.execute("DELETE FROM nodes WHERE id = ?1", [node])?;
    }
    Ok(())
}

fn touch_dir(tx: &rusqlite::Transaction<'_>, dir: NodeId) -> Result<()> {
    tx.execute(
        "UPDATE nodes SET mtime_ns = ?2 WHERE id = ?1",
        params![dir, to_ns(SystemTime::now())],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oid::blob_sha;

    fn lower(name: &str, mode: Mode, content: &[u8]) -> TreeEntry {
        TreeEntry {
            name: name.into(),
            mode,
            sha: blob_sha(content),
            size: content.len() as u64,
        }
    }

    fn meta() -> LayerMeta {
        LayerMeta {
            path: "/mnt/acme/api".into(),
            repo: "acme/api".into(),
            commit: blob_sha(b"commit"),
            tree: blob_sha(b"tree"),
            kind: "mount".into(),
            created_at: 1,
        }
    }

    fn layer(dir: &Path) -> Layer {
        let root = [
            lower("a.txt", Mode::File, b"a\n"),
            lower("src", Mode::Tree, b"src"),
        ];
        Layer::create(&dir.join("changes-v1").join("k"), &meta(), &root, 0o755).unwrap()
    }

    #[test]
    fn a_new_layer_shows_the_commit_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let l = layer(dir.path());
        assert_eq!(l.entries(ROOT).unwrap().len(), 2);
        let f = l.create_file(ROOT, "new.txt", 0o644).unwrap();
        std::fs::write(l.data_path(f), b"hello").unwrap();
        let path = l.dir().to_path_buf();
        drop(l);
        let l = Layer::open(&path).unwrap();
        assert_eq!(l.meta(), &meta());
        assert_eq!(
            l.entry(ROOT, "new.txt").unwrap(),
            Some(Entry::Local {
                node: f,
                kind: LocalKind::File
            })
        );
        assert_eq!(std::fs::read(l.data_path(f)).unwrap(), b"hello");
        assert!(matches!(Layer::open(&path), Err(LayerError::Locked { .. })));
        assert!(is_locked(&path));
        assert_eq!(peek_meta(&path).unwrap(), meta());
    }

    #[test]
    fn renames_move_entries_whole_and_replace_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let l = layer(dir.path());
        let src = l
            .materialize(
                ROOT,
                "src",
                &[lower("m.py", Mode::File, b"x")],
                0o755,
                SystemTime::now(),
            )
            .unwrap();
        // A directory of the commit moves without copying.
        l.rename(ROOT, "src", ROOT, "lib", false).unwrap();
        assert!(l.entry(ROOT, "src").unwrap().is_none());
        assert_eq!(
            l.entry(ROOT, "lib").unwrap(),
            Some(Entry::Local {
                node: src,
                kind: LocalKind::Dir
            })
        );
        assert!(matches!(
            l.entry(src, "m.py").unwrap(),
            Some(Entry::Lower { .. })
        ));
        // Over an existing file: the target is replaced, its node gone.
        let tmp = l.create_file(ROOT, "tmp", 0o644).unwrap();
        let target = l.create_file(ROOT, "target", 0o644).unwrap();
        let replaced = l.rename(ROOT, "tmp", ROOT, "target", false).unwrap();
        assert_eq!(
            replaced,
            Some(Entry::Local {
                node: target,
                kind: LocalKind::File
            })
        );
        assert_eq!(
            l.entry(ROOT, "target").unwrap(),
            Some(Entry::Local {
                node: tmp,
                kind: LocalKind::File
            })
        );
        assert!(l.node(target).unwrap().is_none());
        // Exchange swaps.
        l.rename(ROOT, "a.txt", ROOT, "target", true).unwrap();
        assert!(matches!(
            l.entry(ROOT, "target").unwrap(),
            Some(Entry::Lower { .. })
        ));
        assert!(matches!(
            l.entry(ROOT, "a.txt").unwrap(),
            Some(Entry::Local { .. })
        ));
    }

    #[test]
    fn removal_is_a_whiteout_and_an_orphan_is_swept() {
        let dir = tempfile::tempdir().unwrap();
        let l = layer(dir.path());
        assert!(matches!(
            l.remove(ROOT, "a.txt").unwrap(),
            Entry::Lower { .. }
        ));
        assert!(l.entry(ROOT, "a.txt").unwrap().is_none());
        let f = l.create_file(ROOT, "gone", 0o644).unwrap();
        l.remove(ROOT, "gone").unwrap();
        assert!(l.data_path(f).exists(), "kept for readers until discarded");
        let path = l.dir().to_path_buf();
        drop(l);
        let l = Layer::open(&path).unwrap();
        assert!(!l.data_path(f).exists(), "swept at open");
        assert!(
            l.entry(ROOT, "a.txt").unwrap().is_none(),
            "the whiteout persists"
        );
    }

    #[test]
    fn names_are_checked_and_duplicates_refused() {
        let dir = tempfile::tempdir().unwrap();
        let l = layer(dir.path());
        for bad in ["", ".", "..", "a/b", "nul\0", &"x".repeat(256)] {
            assert!(
                matches!(
                    l.create_file(ROOT, bad, 0o644),
                    Err(LayerError::BadName { .. })
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            l.mkdir(ROOT, "a.txt", 0o755),
            Err(LayerError::Exists(_))
        ));
        let link = l.symlink(ROOT, "l", b"../../etc/passwd").unwrap();
        assert_eq!(
            l.node(link).unwrap().unwrap().target.as_deref(),
            Some(&b"../../etc/passwd"[..])
        );
    }

    #[test]
    fn copy_up_copies_and_never_links() {
        let dir = tempfile::tempdir().unwrap();
        let l = layer(dir.path());
        let blob = dir.path().join("blob");
        std::fs::write(&blob, b"a\n").unwrap();
        let f = l.copy_up(ROOT, "a.txt", &blob, 0o644).unwrap();
        std::fs::write(l.data_path(f), b"changed\n").unwrap();
        assert_eq!(
            std::fs::read(&blob).unwrap(),
            b"a\n",
            "the stored object is untouched"
        );
        use std::os::unix::fs::MetadataExt;
        assert_eq!(std::fs::metadata(&blob).unwrap().nlink(), 1);
    }

    #[test]
    fn xattrs_live_with_their_node() {
        let dir = tempfile::tempdir().unwrap();
        let l = layer(dir.path());
        let f = l.create_file(ROOT, "f", 0o644).unwrap();
        assert!(!l.set_xattr(f, "user.x", Some(b"1")).unwrap());
        assert_eq!(l.xattr(f, "user.x").unwrap().as_deref(), Some(&b"1"[..]));
        assert_eq!(l.xattr_names(f).unwrap(), ["user.x"]);
        l.remove(ROOT, "f").unwrap();
        assert!(l.xattr(f, "user.x").unwrap().is_none());
    }
}
