//! Index rows for allocations: which resource is mounted where, for whom, until when.
//! They outlive the daemon, so a restarted daemon knows what to restore or clean up.

use rusqlite::params;
use serde::Serialize;

use super::error::StoreError;
use super::index::Index;
use crate::clock::now;

/// One allocation as recorded.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AllocationRow {
    pub id: i64,
    /// `owner/repo[@ref][/path or glob]`, as asked for.
    pub resource: String,
    /// Where it is mounted.
    pub path: String,
    pub client: String,
    /// The commit it shows (fixed for the allocation's life).
    pub commit: String,
    /// Seconds from creation to expiry.
    pub ttl: i64,
    /// The TTL was given (`--ttl`) rather than derived from the size.
    pub explicit_ttl: bool,
    /// Bytes and files of the resource (from its trees, nothing downloaded).
    pub bytes: u64,
    pub files: u64,
    pub created_at: i64,
    /// `live`, `released` or `lost` (its mount vanished and could not be restored).
    pub state: String,
    pub released_at: Option<i64>,
    /// Why it was released: `released`, `expired`, `older than ...`, `lost: ...`.
    pub reason: Option<String>,
    /// When something was last read through it (`None`: not yet).
    pub last_access: Option<i64>,
    /// `--read-only`: no working copy.
    pub read_only: bool,
    /// `--keep-changes`: its working copy's changes outlive its release.
    pub keep_changes: bool,
}

/// What a new allocation records.
pub struct NewAllocation<'a> {
    pub resource: &'a str,
    pub path: &'a str,
    pub client: &'a str,
    pub commit: &'a str,
    pub ttl: i64,
    pub explicit_ttl: bool,
    pub bytes: u64,
    pub files: u64,
    pub read_only: bool,
    pub keep_changes: bool,
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AllocationRow> {
    Ok(AllocationRow {
        id: r.get(0)?,
        resource: r.get(1)?,
        path: r.get(2)?,
        client: r.get(3)?,
        commit: r.get(4)?,
        ttl: r.get(5)?,
        explicit_ttl: r.get::<_, i64>(6)? != 0,
        bytes: r.get::<_, i64>(7)?.max(0) as u64,
        files: r.get::<_, i64>(8)?.max(0) as u64,
        created_at: r.get(9)?,
        state: r.get(10)?,
        released_at: r.get(11)?,
        reason: r.get(12)?,
        last_access: r.get(13)?,
        read_only: r.get::<_, i64>(14)? != 0,
        keep_changes: r.get::<_, i64>(15)? != 0,
    })
}

const COLUMNS: &str = "id, resource, path, client, commit_sha, ttl, explicit_ttl, bytes, files,
     created_at, state, released_at, reason, last_access, read_only, keep_changes";

impl Index {
    /// Records a live allocation; returns its id.
    pub fn add_allocation(&self, new: &NewAllocation<'_>) -> Result<i64, StoreError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO allocations (resource, path, client, commit_sha, ttl, explicit_ttl,
                 bytes, files, created_at, state, read_only, keep_changes)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'live', ?10, ?11)",
            params![
                new.resource,
                new.path,
                new.client,
                new.commit,
                new.ttl,
                new.explicit_ttl as i64,
                new.bytes as i64,
                new.files as i64,
                now(),
                new.read_only as i64,
                new.keep_changes as i64
            ],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// Live allocations, oldest first.
    pub fn live_allocations(&self) -> Result<Vec<AllocationRow>, StoreError> {
        let conn = self.conn();
        let mut query = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM allocations WHERE state = 'live' ORDER BY created_at, id"
        ))?;
        let rows = query.query_map([], row)?.collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Records when an allocation was last read through.
    pub fn touch_allocation(&self, id: i64, at: i64) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE allocations SET last_access = ?2 WHERE id = ?1",
            params![id, at],
        )?;
        Ok(())
    }

    /// Ends a live allocation (`released` or `lost`) with a reason.
    pub fn end_allocation(&self, id: i64, state: &str, reason: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE allocations SET state = ?2, released_at = ?3, reason = ?4
             WHERE id = ?1 AND state = 'live'",
            params![id, state, now(), reason],
        )?;
        Ok(())
    }
}

impl Index {
    /// Records a whole-namespace mount the daemon serves, with its options (JSON).
    pub fn put_mount(&self, path: &str, options: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT OR REPLACE INTO mounts (path, options, created_at) VALUES (?1, ?2, ?3)",
            params![path, options, now()],
        )?;
        Ok(())
    }

    pub fn remove_mount(&self, path: &str) -> Result<(), StoreError> {
        self.conn()
            .execute("DELETE FROM mounts WHERE path = ?1", params![path])?;
        Ok(())
    }

    /// (path, options) of the recorded mounts.
    pub fn mounts(&self) -> Result<Vec<(String, String)>, StoreError> {
        let conn = self.conn();
        let mut query = conn.prepare("SELECT path, options FROM mounts ORDER BY created_at")?;
        let rows = query
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }
}
