//! The layer's SQLite side: its schema, and reading and writing entries and nodes inside
//! one transaction.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lru::LruCache;
use rusqlite::{Connection, OptionalExtension, params};

use super::entry::{Dir, Entry, LayerMeta, LocalKind, NodeId, NodeMeta};
use super::error::{LayerError, Result};
use crate::oid::Sha;
use crate::remote::{Mode, TreeEntry};

/// How long a writer waits for SQLite's lock (only `changes diff` reads beside us).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) const SCHEMA: &str = "
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE nodes (
        id INTEGER PRIMARY KEY, kind INTEGER NOT NULL, perm INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL, target BLOB, content BLOB);
    CREATE TABLE entries (
        dir INTEGER NOT NULL, name TEXT NOT NULL,
        node INTEGER, mode INTEGER, sha TEXT, size INTEGER,
        PRIMARY KEY (dir, name)) WITHOUT ROWID;
    CREATE TABLE xattrs (
        node INTEGER NOT NULL, name TEXT NOT NULL, value BLOB NOT NULL,
        PRIMARY KEY (node, name)) WITHOUT ROWID;";

/// Statements through SQLite's prepared-statement cache: a layer runs the same few
/// statements for every change, and parsing them again cost more than running them.
pub(super) trait Cached {
    fn exec<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
    fn row<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>;
}

impl Cached for Connection {
    fn exec<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    fn row<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    {
        self.prepare_cached(sql)?.query_row(params, f)
    }
}

pub(super) type Listing = Arc<Dir>;

pub(super) struct State {
    pub(super) conn: Connection,
    pub(super) dirs: LruCache<NodeId, Listing>,
    pub(super) next_id: NodeId,
    /// Removed files whose rows are still to be deleted (see [`Layer::discard`]).
    pub(super) discarded: Vec<NodeId>,
}

pub(super) fn to_ns(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos().min(i64::MAX as u128) as i64)
}

pub(super) fn from_ns(ns: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(ns.max(0) as u64)
}

pub(super) fn mode_code(mode: Mode) -> i64 {
    match mode {
        Mode::File => 0o100644,
        Mode::Executable => 0o100755,
        Mode::Symlink => 0o120000,
        Mode::Submodule => 0o160000,
        Mode::Tree => 0o040000,
    }
}

pub(super) fn mode_from_code(code: i64) -> Option<Mode> {
    Mode::parse(&format!("{code:o}"))
}

pub(super) fn open_conn(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    crate::store::persist_wal(&conn);
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

pub(super) fn lock(dir: &Path) -> Result<File> {
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

pub(super) fn read_meta(conn: &Connection, dir: &Path) -> Result<LayerMeta> {
    let get = |key: &str| -> Result<String> {
        conn.row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
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
        filter: get("filter").ok(),
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

pub(super) fn listing(state: &mut State, dir: NodeId) -> Result<Listing> {
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
    let mut out = Dir::default();
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

pub(super) fn node_meta(conn: &Connection, node: NodeId) -> Result<Option<NodeMeta>> {
    let row = conn
        .row(
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

pub(super) fn insert_lower(
    tx: &rusqlite::Transaction<'_>,
    dir: NodeId,
    entries: &[TreeEntry],
) -> Result<()> {
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

pub(super) fn set_entry(
    tx: &rusqlite::Transaction<'_>,
    dir: NodeId,
    name: &str,
    entry: &Entry,
) -> Result<()> {
    match entry {
        Entry::Lower { mode, sha, size } => tx.exec(
            "INSERT OR REPLACE INTO entries (dir, name, node, mode, sha, size) VALUES (?1, ?2, NULL, ?3, ?4, ?5)",
            params![dir, name, mode_code(*mode), sha.to_hex(), *size as i64],
        )?,
        Entry::Local { node, .. } => tx.exec(
            "INSERT OR REPLACE INTO entries (dir, name, node, mode, sha, size) VALUES (?1, ?2, ?3, NULL, NULL, NULL)",
            params![dir, name, node],
        )?,
    };
    Ok(())
}

/// Deletes a node and, for a directory, everything under it.
pub(super) fn delete_node(tx: &rusqlite::Transaction<'_>, node: NodeId) -> Result<()> {
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
        tx.exec("DELETE FROM entries WHERE dir = ?1", [node])?;
        tx.exec("DELETE FROM xattrs WHERE node = ?1", [node])?;
        tx.exec("DELETE FROM nodes WHERE id = ?1", [node])?;
    }
    Ok(())
}

pub(super) fn touch_dir(tx: &rusqlite::Transaction<'_>, dir: NodeId) -> Result<()> {
    tx.exec(
        "UPDATE nodes SET mtime_ns = ?2 WHERE id = ?1",
        params![dir, to_ns(SystemTime::now())],
    )?;
    Ok(())
}

/// Runs `work` in one transaction. On a full disk, SQLite's log is checkpointed and
/// restarted, so that the next transaction overwrites the log's old pages instead of
/// growing it, and `work` runs once more: removing files must work on a full disk.
pub(super) fn transact<T>(
    conn: &mut Connection,
    mut work: impl FnMut(&rusqlite::Transaction<'_>) -> Result<T>,
) -> Result<T> {
    let mut attempt = 0;
    loop {
        let result = {
            let tx = conn.transaction()?;
            work(&tx).and_then(|value| {
                tx.commit()?;
                Ok(value)
            })
        };
        match result {
            Err(e) if attempt == 0 && e.is_disk_full() => {
                attempt += 1;
                let _ = conn.row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()));
            }
            other => return other,
        }
    }
}
