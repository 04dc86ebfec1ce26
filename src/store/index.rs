//! The SQLite index: what is known about repos, refs, commits, trees and stored blobs.
//!
//! Invariants:
//! - Rows keyed by a SHA (commits, trees, blobs) are immutable facts; they are written
//!   once and never updated except for access bookkeeping.
//! - A `blobs` row is written only after its object file was verified and renamed into
//!   place. The object file is the truth: a row without a file means "evicted or lost"
//!   and the blob is fetched again; a file without a row (a crash between rename and
//!   insert) is still a verified object.
//! - The schema version is SQLite's `user_version`; migrations run in order, each in a
//!   transaction, and an index written by a newer Heimdall is refused, not guessed at.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use super::error::StoreError;
use crate::clock::now;
use crate::oid::Sha;
use crate::remote::{CachedResponse, CommitInfo, Owner, RepoInfo, ResponseCache, Tree, TreeEntry};

/// Each entry upgrades the schema by one version.
const MIGRATIONS: &[&str] = &[
    // v1
    "CREATE TABLE owners (
         login TEXT PRIMARY KEY, kind TEXT NOT NULL, fetched_at INTEGER NOT NULL);
     CREATE TABLE repos (
         owner TEXT NOT NULL, name TEXT NOT NULL, info TEXT NOT NULL, fetched_at INTEGER NOT NULL,
         PRIMARY KEY (owner, name));
     CREATE TABLE refs (
         owner TEXT NOT NULL, repo TEXT NOT NULL, name TEXT NOT NULL,
         commit_sha TEXT NOT NULL, fetched_at INTEGER NOT NULL,
         PRIMARY KEY (owner, repo, name));
     CREATE TABLE commits (
         sha TEXT PRIMARY KEY, tree_sha TEXT NOT NULL, time INTEGER NOT NULL);
     CREATE TABLE trees (sha TEXT PRIMARY KEY, entries TEXT NOT NULL);
     CREATE TABLE blobs (
         sha TEXT PRIMARY KEY, size INTEGER NOT NULL, stored_at INTEGER NOT NULL,
         last_access INTEGER NOT NULL);
     CREATE INDEX blobs_by_access ON blobs (last_access);
     CREATE TABLE http_cache (
         key TEXT PRIMARY KEY, etag TEXT NOT NULL, next TEXT, body BLOB NOT NULL,
         fetched_at INTEGER NOT NULL);
     CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);",
    // v2: org scans. Per-repo results are keyed by commit and extractor version, so an
    // unchanged repo is never read again; scan_repos is the resume log of the current run.
    "CREATE TABLE repo_patterns (
         owner TEXT NOT NULL, repo TEXT NOT NULL, commit_sha TEXT NOT NULL, version INTEGER NOT NULL,
         patterns TEXT NOT NULL, scanned_at INTEGER NOT NULL,
         PRIMARY KEY (owner, repo, commit_sha, version));
     CREATE TABLE scans (
         org TEXT PRIMARY KEY, run INTEGER NOT NULL, state TEXT NOT NULL,
         started_at INTEGER NOT NULL, finished_at INTEGER, total INTEGER NOT NULL DEFAULT 0,
         requests INTEGER NOT NULL DEFAULT 0, offline INTEGER NOT NULL DEFAULT 0, options TEXT);
     CREATE TABLE scan_repos (
         org TEXT NOT NULL, repo TEXT NOT NULL, run INTEGER NOT NULL, state TEXT NOT NULL,
         commit_sha TEXT, error TEXT, cached INTEGER NOT NULL DEFAULT 0, updated_at INTEGER NOT NULL,
         PRIMARY KEY (org, repo));",
    // v3: allocations (mounts of one resource handed to a client for a while).
    "CREATE TABLE allocations (
         id INTEGER PRIMARY KEY AUTOINCREMENT, resource TEXT NOT NULL, path TEXT NOT NULL,
         client TEXT NOT NULL, commit_sha TEXT NOT NULL, ttl INTEGER NOT NULL,
         explicit_ttl INTEGER NOT NULL, bytes INTEGER NOT NULL, files INTEGER NOT NULL,
         created_at INTEGER NOT NULL, state TEXT NOT NULL, released_at INTEGER, reason TEXT);
     CREATE INDEX allocations_live ON allocations (state, path);",
    // v4: when an allocation was last read through.
    "ALTER TABLE allocations ADD COLUMN last_access INTEGER;",
    // v5: whole-namespace mounts the daemon serves, to clean up and restore after a crash.
    "CREATE TABLE mounts (
         path TEXT PRIMARY KEY, options TEXT NOT NULL, created_at INTEGER NOT NULL);",
    // v6: writable allocations (working copies), and those whose changes outlive release.
    "ALTER TABLE allocations ADD COLUMN read_only INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE allocations ADD COLUMN keep_changes INTEGER NOT NULL DEFAULT 0;",
    // v7: packs fetched over git (packs-v1) and the objects each holds.
    "CREATE TABLE packs (
         name TEXT PRIMARY KEY, bytes INTEGER NOT NULL, objects INTEGER NOT NULL,
         stored_at INTEGER NOT NULL, last_access INTEGER NOT NULL);
     CREATE TABLE pack_objects (
         sha TEXT PRIMARY KEY, pack TEXT NOT NULL, kind INTEGER NOT NULL, size INTEGER NOT NULL);
     CREATE INDEX pack_objects_by_pack ON pack_objects (pack);",
];

/// How long a writer waits for another process's lock (the daemon and a CLI share it).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Index {
    conn: Mutex<Connection>,
}

/// Keeps the WAL and shared-memory files when the last connection closes
/// (`SQLITE_FCNTL_PERSIST_WAL`). Otherwise every process re-creates them, which fails on
/// a full disk, and then not even cached content could be read.
pub(crate) fn persist_wal(conn: &Connection) {
    let mut on: std::ffi::c_int = 1;
    // SAFETY: a live connection's handle, the "main" schema, and a pointer to an int, as
    // SQLITE_FCNTL_PERSIST_WAL expects.
    let rc = unsafe {
        rusqlite::ffi::sqlite3_file_control(
            conn.handle(),
            c"main".as_ptr(),
            rusqlite::ffi::SQLITE_FCNTL_PERSIST_WAL,
            (&mut on as *mut std::ffi::c_int).cast(),
        )
    };
    if rc != rusqlite::ffi::SQLITE_OK {
        tracing::debug!(rc, "SQLITE_FCNTL_PERSIST_WAL not applied");
    }
}

/// One stored pack as the index records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackRow {
    pub name: String,
    pub bytes: u64,
    pub objects: u64,
    pub last_access: i64,
}

/// One stored blob as the index records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRow {
    pub sha: Sha,
    pub size: u64,
    /// Epoch seconds of the last read through the namespace (or of storing it).
    pub last_access: i64,
}

impl Index {
    pub fn open(path: &Path) -> Result<Index, StoreError> {
        let conn = Connection::open(path).map_err(|e| StoreError::index(path, e))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| StoreError::index(path, e))?;
        persist_wal(&conn);
        // Switching a new database to WAL takes an exclusive lock, and SQLite reports BUSY
        // there without waiting: retry while another process sets it up.
        let started = std::time::Instant::now();
        loop {
            match conn
                .pragma_update(None, "journal_mode", "WAL")
                .and_then(|_| conn.pragma_update(None, "synchronous", "NORMAL"))
            {
                Ok(()) => break,
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::DatabaseBusy
                        && started.elapsed() < BUSY_TIMEOUT =>
                {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(StoreError::index(path, e)),
            }
        }
        let index = Index {
            conn: Mutex::new(conn),
        };
        index.migrate(path)?;
        Ok(index)
    }

    pub(super) fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().expect("index connection poisoned")
    }

    /// SQLite's own check of the index file: `ok`, or the problems it found.
    pub fn integrity_check(&self) -> Result<String, StoreError> {
        let conn = self.conn();
        let mut statement = conn.prepare("PRAGMA integrity_check")?;
        let lines = statement
            .query_map([], |row| row.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(lines.join("; "))
    }

    pub fn schema_version(&self) -> Result<u32, StoreError> {
        Ok(self
            .conn()
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    /// Brings the schema up to date. The version is read inside an IMMEDIATE transaction
    /// (SQLite's write lock), so two processes opening a new cache at once cannot both
    /// migrate: the second waits, then finds the work done.
    fn migrate(&self, path: &Path) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let err = |e| StoreError::index(path, e);
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(err)?;
        let current: u32 = tx
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(err)?;
        let supported = MIGRATIONS.len() as u32;
        if current > supported {
            return Err(StoreError::NewerSchema {
                path: path.to_path_buf(),
                found: current,
                supported,
            });
        }
        for sql in MIGRATIONS.iter().skip(current as usize) {
            tx.execute_batch(sql).map_err(err)?;
        }
        if current < supported {
            tx.pragma_update(None, "user_version", supported)
                .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    // Owners and repos.

    pub fn put_owner(&self, owner: &Owner) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT OR REPLACE INTO owners (login, kind, fetched_at) VALUES (?1, ?2, ?3)",
            params![owner.login.to_ascii_lowercase(), owner.kind, now()],
        )?;
        Ok(())
    }

    pub fn owner(&self, login: &str) -> Result<Option<Owner>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT login, kind FROM owners WHERE login = ?1",
                params![login.to_ascii_lowercase()],
                |r| {
                    Ok(Owner {
                        login: r.get(0)?,
                        kind: r.get(1)?,
                    })
                },
            )
            .optional()?)
    }

    /// Replaces the listing of `owner`'s repos.
    pub fn put_repos(&self, owner: &str, repos: &[RepoInfo]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "DELETE FROM repos WHERE owner = ?1",
            params![owner.to_ascii_lowercase()],
        )?;
        {
            let mut insert =
                tx.prepare("INSERT OR REPLACE INTO repos (owner, name, info, fetched_at) VALUES (?1, ?2, ?3, ?4)")?;
            for repo in repos {
                let info = serde_json::to_string(repo).expect("RepoInfo serializes");
                insert.execute(params![owner.to_ascii_lowercase(), repo.name, info, now()])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    pub fn repos(&self, owner: &str) -> Result<Vec<RepoInfo>, StoreError> {
        let conn = self.conn();
        let mut query = conn.prepare("SELECT info FROM repos WHERE owner = ?1 ORDER BY name")?;
        let rows = query.query_map(params![owner.to_ascii_lowercase()], |r| {
            r.get::<_, String>(0)
        })?;
        let mut repos = Vec::new();
        for row in rows {
            if let Ok(info) = serde_json::from_str(&row?) {
                repos.push(info);
            }
        }
        Ok(repos)
    }

    pub fn repo(&self, owner: &str, name: &str) -> Result<Option<RepoInfo>, StoreError> {
        let info: Option<String> = self
            .conn()
            .query_row(
                "SELECT info FROM repos WHERE owner = ?1 AND name = ?2 COLLATE NOCASE",
                params![owner.to_ascii_lowercase(), name],
                |r| r.get(0),
            )
            .optional()?;
        Ok(info.and_then(|i| serde_json::from_str(&i).ok()))
    }

    // Refs and commits.

    pub fn put_ref(
        &self,
        owner: &str,
        repo: &str,
        name: &str,
        commit: Sha,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT OR REPLACE INTO refs (owner, repo, name, commit_sha, fetched_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![owner.to_ascii_lowercase(), repo.to_ascii_lowercase(), name, commit.to_hex(), now()],
        )?;
        Ok(())
    }

    /// Marks refs as never checked, so the next resolution polls GitHub (the commit they
    /// pointed at stays known, for offline use).
    pub fn expire_refs(&self, owner: &str, repo: &str, names: &[&str]) -> Result<(), StoreError> {
        let conn = self.conn();
        for name in names {
            conn.execute(
                "UPDATE refs SET fetched_at = 0 WHERE owner = ?1 AND repo = ?2 AND name = ?3",
                params![owner.to_ascii_lowercase(), repo.to_ascii_lowercase(), name],
            )?;
        }
        Ok(())
    }

    /// The commit a ref pointed at when last resolved, and when that was (epoch seconds).
    pub fn ref_commit(
        &self,
        owner: &str,
        repo: &str,
        name: &str,
    ) -> Result<Option<(Sha, i64)>, StoreError> {
        let row: Option<(String, i64)> = self
            .conn()
            .query_row(
                "SELECT commit_sha, fetched_at FROM refs WHERE owner = ?1 AND repo = ?2 AND name = ?3",
                params![owner.to_ascii_lowercase(), repo.to_ascii_lowercase(), name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(row.and_then(|(sha, at)| Sha::parse(&sha).ok().map(|s| (s, at))))
    }

    pub fn put_commit(&self, commit: &CommitInfo) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT OR IGNORE INTO commits (sha, tree_sha, time) VALUES (?1, ?2, ?3)",
            params![commit.sha.to_hex(), commit.tree.to_hex(), commit.time],
        )?;
        Ok(())
    }

    pub fn commit(&self, sha: Sha) -> Result<Option<CommitInfo>, StoreError> {
        let row: Option<(String, i64)> = self
            .conn()
            .query_row(
                "SELECT tree_sha, time FROM commits WHERE sha = ?1",
                params![sha.to_hex()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(row.and_then(|(tree, time)| {
            Sha::parse(&tree)
                .ok()
                .map(|tree| CommitInfo { sha, tree, time })
        }))
    }

    // Trees.

    pub fn put_trees(&self, trees: &[Tree]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut insert =
                tx.prepare("INSERT OR IGNORE INTO trees (sha, entries) VALUES (?1, ?2)")?;
            for tree in trees {
                let entries = serde_json::to_string(&tree.entries).expect("tree entries serialize");
                insert.execute(params![tree.sha.to_hex(), entries])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    pub fn tree(&self, sha: Sha) -> Result<Option<Tree>, StoreError> {
        let entries: Option<String> = self
            .conn()
            .query_row(
                "SELECT entries FROM trees WHERE sha = ?1",
                params![sha.to_hex()],
                |r| r.get(0),
            )
            .optional()?;
        let Some(entries) = entries else {
            return Ok(None);
        };
        let entries: Vec<TreeEntry> =
            serde_json::from_str(&entries).map_err(|e| StoreError::CorruptIndex {
                what: format!("tree {sha}"),
                why: e.to_string(),
            })?;
        Ok(Some(Tree { sha, entries }))
    }

    // Packs.

    /// Records a stored pack and its objects in one transaction (an object already in
    /// another pack keeps its row).
    pub fn put_pack(&self, pack: &super::packdir::PackSummary) -> Result<(), StoreError> {
        use super::packdir::{KIND_BLOB, KIND_COMMIT, KIND_TREE};
        let t = now();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            tx.execute(
                "INSERT INTO packs (name, bytes, objects, stored_at, last_access)
                 VALUES (?1, ?2, ?3, ?4, ?4)
                 ON CONFLICT (name) DO UPDATE SET last_access = excluded.last_access",
                params![pack.name, pack.bytes as i64, pack.objects as i64, t],
            )?;
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO pack_objects (sha, pack, kind, size) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (sha, size) in &pack.blobs {
                insert.execute(params![sha.to_hex(), pack.name, KIND_BLOB, *size as i64])?;
            }
            for tree in &pack.trees {
                insert.execute(params![tree.sha.to_hex(), pack.name, KIND_TREE, 0])?;
            }
            for commit in &pack.commits {
                insert.execute(params![commit.sha.to_hex(), pack.name, KIND_COMMIT, 0])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The pack holding object `sha`, its kind and size.
    pub fn pack_object(&self, sha: Sha) -> Result<Option<(String, i64, u64)>, StoreError> {
        Ok(self
            .conn()
            .prepare_cached("SELECT pack, kind, size FROM pack_objects WHERE sha = ?1")?
            .query_row(params![sha.to_hex()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)? as u64,
                ))
            })
            .optional()?)
    }

    /// Every stored pack, least recently accessed first.
    pub fn pack_rows(&self) -> Result<Vec<PackRow>, StoreError> {
        let conn = self.conn();
        let mut query = conn.prepare(
            "SELECT name, bytes, objects, last_access FROM packs ORDER BY last_access, stored_at, name",
        )?;
        let rows = query
            .query_map([], |r| {
                Ok(PackRow {
                    name: r.get(0)?,
                    bytes: r.get::<_, i64>(1)? as u64,
                    objects: r.get::<_, i64>(2)? as u64,
                    last_access: r.get(3)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Records that packs were read now.
    pub fn touch_packs(&self, names: &[String]) -> Result<(), StoreError> {
        let t = now();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut update =
                tx.prepare_cached("UPDATE packs SET last_access = ?2 WHERE name = ?1")?;
            for name in names {
                update.execute(params![name, t])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    pub fn forget_pack(&self, name: &str) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM pack_objects WHERE pack = ?1", params![name])?;
        tx.execute("DELETE FROM packs WHERE name = ?1", params![name])?;
        tx.commit()?;
        Ok(())
    }

    /// Blobs held in packs.
    pub fn packed_blobs(&self) -> Result<u64, StoreError> {
        Ok(self.conn().query_row(
            "SELECT COUNT(*) FROM pack_objects WHERE kind = ?1",
            params![super::packdir::KIND_BLOB],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    /// Packs stored and their bytes.
    pub fn pack_totals(&self) -> Result<(u64, u64), StoreError> {
        Ok(self.conn().query_row(
            "SELECT COUNT(*), COALESCE(SUM(bytes), 0) FROM packs",
            [],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
        )?)
    }

    // Blobs.

    pub fn put_blob(&self, sha: Sha, size: u64) -> Result<(), StoreError> {
        let t = now();
        self.conn().execute(
            "INSERT INTO blobs (sha, size, stored_at, last_access) VALUES (?1, ?2, ?3, ?3)
             ON CONFLICT (sha) DO UPDATE SET last_access = excluded.last_access",
            params![sha.to_hex(), size as i64, t],
        )?;
        Ok(())
    }

    /// [`Index::put_blob`] for many blobs in one transaction.
    pub fn put_blobs(&self, blobs: &[(Sha, u64)]) -> Result<(), StoreError> {
        let t = now();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO blobs (sha, size, stored_at, last_access) VALUES (?1, ?2, ?3, ?3)
                 ON CONFLICT (sha) DO UPDATE SET last_access = excluded.last_access",
            )?;
            for (sha, size) in blobs {
                insert.execute(params![sha.to_hex(), *size as i64, t])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Every blob row, least recently accessed first (ties: oldest stored first).
    pub fn blob_rows(&self) -> Result<Vec<BlobRow>, StoreError> {
        let conn = self.conn();
        let mut query = conn.prepare(
            "SELECT sha, size, last_access FROM blobs ORDER BY last_access, stored_at, sha",
        )?;
        let rows = query
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows
            .into_iter()
            .filter_map(|(sha, size, last_access)| {
                Some(BlobRow {
                    sha: Sha::parse(&sha).ok()?,
                    size: size.max(0) as u64,
                    last_access,
                })
            })
            .collect())
    }

    /// Rows for objects found on disk without one: (sha, size, when stored).
    pub fn put_blobs_at(&self, blobs: &[(Sha, u64, i64)]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO blobs (sha, size, stored_at, last_access)
                 VALUES (?1, ?2, ?3, ?3)",
            )?;
            for (sha, size, at) in blobs {
                insert.execute(params![sha.to_hex(), *size as i64, at])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Marks blobs as read now, in one transaction ([`super::Store::flush_access_times`]).
    pub fn touch_blobs(&self, shas: &[Sha]) -> Result<(), StoreError> {
        let t = now();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut update =
                tx.prepare_cached("UPDATE blobs SET last_access = ?2 WHERE sha = ?1")?;
            for sha in shas {
                update.execute(params![sha.to_hex(), t])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    pub fn set_last_access(&self, sha: Sha, at: i64) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE blobs SET last_access = ?2 WHERE sha = ?1",
            params![sha.to_hex(), at],
        )?;
        Ok(())
    }

    pub fn forget_blob(&self, sha: Sha) -> Result<(), StoreError> {
        self.conn()
            .execute("DELETE FROM blobs WHERE sha = ?1", params![sha.to_hex()])?;
        Ok(())
    }

    /// (objects, bytes) recorded in the index.
    pub fn blob_totals(&self) -> Result<(u64, u64), StoreError> {
        Ok(self.conn().query_row(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM blobs",
            [],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
        )?)
    }

    // Counters.

    pub fn bump(&self, name: &str, by: u64) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO counters (name, value) VALUES (?1, ?2)
             ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
            params![name, by as i64],
        )?;
        Ok(())
    }

    pub fn counter(&self, name: &str) -> Result<u64, StoreError> {
        let value: Option<i64> = self
            .conn()
            .query_row(
                "SELECT value FROM counters WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()?;
        Ok(value.unwrap_or(0) as u64)
    }
}

impl ResponseCache for Index {
    fn get(&self, key: &str) -> Option<CachedResponse> {
        let row = self
            .conn()
            .query_row(
                "SELECT etag, next, body FROM http_cache WHERE key = ?1",
                params![key],
                |r| {
                    Ok(CachedResponse {
                        etag: r.get(0)?,
                        next: r.get(1)?,
                        body: bytes::Bytes::from(r.get::<_, Vec<u8>>(2)?),
                    })
                },
            )
            .optional();
        match row {
            Ok(row) => row,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the response cache");
                None
            }
        }
    }

    fn put(&self, key: &str, response: &CachedResponse) {
        let result = self.conn().execute(
            "INSERT OR REPLACE INTO http_cache (key, etag, next, body, fetched_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![key, response.etag, response.next, response.body.as_ref(), now()],
        );
        if let Err(e) = result {
            tracing::warn!(error = %e, "cannot write the response cache");
        }
    }
}
