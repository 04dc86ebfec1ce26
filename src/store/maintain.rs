//! Cache maintenance: `heimdall cache verify` (re-hash every object, drop corrupt ones) and
//! `heimdall cache gc` (evict least-recently-accessed objects down to a size budget).
//!
//! Both first reconcile the index with the objects on disk: a row whose object is gone is
//! dropped, an object without a row (a crash between storing and indexing a hydration
//! batch) gets one, dated by the file's mtime. Partial downloads (`.tmp-*`) are never
//! touched here; opening the store sweeps the stale ones.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::Serialize;

use super::{Store, StoreError};
use crate::oid::{BlobHasher, Sha};

/// An object that failed verification and was removed.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CorruptObject {
    pub sha: String,
    pub path: PathBuf,
    pub why: String,
}

/// What `cache verify` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    /// Objects re-hashed and found intact.
    pub verified: u64,
    pub bytes: u64,
    /// Removed: their bytes do not hash to their name.
    pub corrupt: Vec<CorruptObject>,
    /// Files in the objects directory that are not objects (left alone).
    pub foreign: Vec<PathBuf>,
    /// Index rows without an object, dropped.
    pub missing_rows: u64,
    /// Objects without an index row, recorded.
    pub unindexed: u64,
    /// SQLite's `PRAGMA integrity_check` of the index: `ok`, or what it found.
    pub index: String,
    /// Packs whose every object was decoded and re-hashed, and those objects.
    pub packs: u64,
    pub pack_objects: u64,
    /// Packs removed: an object in them did not decode or hash to its id.
    pub corrupt_packs: Vec<String>,
}

/// What `cache gc` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GcReport {
    pub max_bytes: u64,
    pub before_bytes: u64,
    pub after_bytes: u64,
    pub evicted: u64,
    pub evicted_bytes: u64,
    /// Objects kept over the budget because something uses them.
    pub pinned_kept: u64,
}

/// An object file found on disk.
struct OnDisk {
    path: PathBuf,
    size: u64,
    mtime: i64,
}

impl Store {
    /// Every object file under `objects-v1/`, by SHA; files that are not objects (not
    /// `ab/<40 hex>` with the right fan-out) are returned apart.
    fn scan_objects(&self) -> Result<(HashMap<Sha, OnDisk>, Vec<PathBuf>), StoreError> {
        let mut objects = HashMap::new();
        let mut foreign = Vec::new();
        let dirs = std::fs::read_dir(&self.objects)
            .map_err(|e| StoreError::io("cannot list", &self.objects, e))?;
        for dir in dirs {
            let dir = dir.map_err(|e| StoreError::io("cannot list", &self.objects, e))?;
            let fanout = dir.file_name().to_string_lossy().into_owned();
            if !dir.file_type().is_ok_and(|t| t.is_dir()) {
                foreign.push(dir.path());
                continue;
            }
            let files = std::fs::read_dir(dir.path())
                .map_err(|e| StoreError::io("cannot list", &dir.path(), e))?;
            for file in files {
                let file = file.map_err(|e| StoreError::io("cannot list", &dir.path(), e))?;
                let name = file.file_name().to_string_lossy().into_owned();
                if name.starts_with(".tmp-") {
                    continue;
                }
                let sha = Sha::parse(&name)
                    .ok()
                    .filter(|_| name.len() == 40 && name[..2] == fanout);
                let meta = file.metadata();
                match (sha, meta) {
                    (Some(sha), Ok(meta)) if meta.is_file() => {
                        let mtime = meta
                            .modified()
                            .ok()
                            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                            .map_or(0, |d| d.as_secs() as i64);
                        objects.insert(
                            sha,
                            OnDisk {
                                path: file.path(),
                                size: meta.len(),
                                mtime,
                            },
                        );
                    }
                    _ => foreign.push(file.path()),
                }
            }
        }
        Ok((objects, foreign))
    }

    /// Bytes of every object on disk, and how many objects.
    pub(super) fn scan_objects_sizes(&self) -> Result<(u64, u64), StoreError> {
        let (objects, _) = self.scan_objects()?;
        Ok((objects.values().map(|o| o.size).sum(), objects.len() as u64))
    }

    /// Makes the index agree with the objects on disk. Returns (rows dropped, rows added).
    fn reconcile(&self, on_disk: &HashMap<Sha, OnDisk>) -> Result<(u64, u64), StoreError> {
        let rows = self.index.blob_rows()?;
        let mut dropped = 0;
        for row in &rows {
            match on_disk.get(&row.sha) {
                Some(object) if object.size == row.size => {}
                _ => {
                    self.index.forget_blob(row.sha)?;
                    dropped += 1;
                }
            }
        }
        let indexed: std::collections::HashSet<Sha> = rows.iter().map(|r| r.sha).collect();
        let missing: Vec<(Sha, u64, i64)> = on_disk
            .iter()
            .filter(|(sha, _)| !indexed.contains(sha))
            .map(|(sha, o)| (*sha, o.size, o.mtime))
            .collect();
        self.index.put_blobs_at(&missing)?;
        Ok((dropped, missing.len() as u64))
    }

    /// Re-hashes every stored object; removes those whose bytes do not match their name
    /// (the next read fetches them again) and reconciles the index.
    pub fn verify(&self) -> Result<VerifyReport, StoreError> {
        let (mut on_disk, foreign) = self.scan_objects()?;
        let mut report = VerifyReport {
            foreign,
            index: self.index.integrity_check()?,
            ..VerifyReport::default()
        };
        let mut shas: Vec<Sha> = on_disk.keys().copied().collect();
        shas.sort();
        for sha in shas {
            let object = &on_disk[&sha];
            match hash_file(&object.path, object.size) {
                Ok(actual) if actual == sha => {
                    report.verified += 1;
                    report.bytes += object.size;
                }
                outcome => {
                    let why = match outcome {
                        Ok(actual) => format!("the bytes hash to {actual}"),
                        Err(e) => format!("cannot read it: {e}"),
                    };
                    tracing::warn!(blob = %sha, %why, "corrupt object removed");
                    let _ = std::fs::remove_file(&object.path);
                    report.corrupt.push(CorruptObject {
                        sha: sha.to_hex(),
                        path: object.path.clone(),
                        why,
                    });
                    on_disk.remove(&sha);
                }
            }
        }
        let (dropped, added) = self.reconcile(&on_disk)?;
        report.missing_rows = dropped;
        report.unindexed = added;
        let (packs, objects, corrupt) = self.verify_packs()?;
        report.packs = packs;
        report.pack_objects = objects;
        report.corrupt_packs = corrupt;
        Ok(report)
    }

    /// Evicts the least recently accessed objects until the store holds at most
    /// `max_bytes`; objects for which `pinned` is true are kept whatever their age.
    pub fn gc(&self, max_bytes: u64, pinned: &dyn Fn(Sha) -> bool) -> Result<GcReport, StoreError> {
        let (on_disk, _) = self.scan_objects()?;
        self.reconcile(&on_disk)?;
        self.flush_access_times();
        let rows = self.index.blob_rows()?;
        let packs = self.index.pack_rows()?;
        let before: u64 =
            rows.iter().map(|r| r.size).sum::<u64>() + packs.iter().map(|p| p.bytes).sum::<u64>();
        let mut report = GcReport {
            max_bytes,
            before_bytes: before,
            after_bytes: before,
            ..GcReport::default()
        };
        // Oldest access first (ties: oldest stored first).
        for row in rows {
            if report.after_bytes <= max_bytes {
                break;
            }
            if pinned(row.sha) {
                report.pinned_kept += 1;
                continue;
            }
            if let Some(object) = on_disk.get(&row.sha) {
                match std::fs::remove_file(&object.path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(StoreError::io("cannot remove", &object.path, e)),
                }
            }
            self.index.forget_blob(row.sha)?;
            report.evicted += 1;
            report.evicted_bytes += row.size;
            report.after_bytes -= row.size;
        }
        // Then whole packs, least recently read first (a pack's blobs are not pinned one
        // by one: an allocation's blobs in a pack come back with one fetch).
        for pack in packs {
            if report.after_bytes <= max_bytes {
                break;
            }
            self.forget_pack(&pack.name);
            report.evicted += pack.objects;
            report.evicted_bytes += pack.bytes;
            report.after_bytes = report.after_bytes.saturating_sub(pack.bytes);
        }
        Ok(report)
    }
}

/// The git blob id of the file at `path`, expected to be `size` bytes.
fn hash_file(path: &Path, size: u64) -> std::io::Result<Sha> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = BlobHasher::new(size);
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    hasher
        .finish()
        .ok_or_else(|| std::io::Error::other("the file changed size while it was read"))
}

/// The default cache budget: 10% of the cache's file system, at most 20 GiB.
pub fn default_budget(dir: &Path) -> u64 {
    const CAP: u64 = 20 << 30;
    let Ok(path) = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()) else {
        return CAP;
    };
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid NUL-terminated path and a zeroed out-parameter.
    if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
        return CAP;
    }
    let disk = stat.f_blocks as u64 * stat.f_frsize as u64;
    (disk / 10).min(CAP)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oid::blob_sha;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("cache")).unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn verify_removes_corrupt_objects_and_reconciles_the_index() {
        let (_dir, store) = store();
        let good = store
            .put_blob(blob_sha(b"good\n"), b"good\n")
            .await
            .unwrap();
        let bad = store
            .put_blob(blob_sha(b"bad!\n"), b"bad!\n")
            .await
            .unwrap();
        std::fs::write(&bad, b"BAD!\n").unwrap();
        // An object stored without its row (a crash before the index batch).
        let orphan = b"orphan\n";
        store
            .write_blob_from_reader(blob_sha(orphan), orphan.len() as u64, &mut &orphan[..])
            .unwrap();
        let report = store.verify().unwrap();
        assert_eq!(report.verified, 2);
        assert_eq!(report.corrupt.len(), 1);
        assert_eq!(report.corrupt[0].sha, blob_sha(b"bad!\n").to_hex());
        assert!(!bad.exists() && good.exists());
        assert_eq!(report.unindexed, 1);
        assert_eq!(report.missing_rows, 1, "the corrupt object's row");
        assert_eq!(store.index().blob_totals().unwrap(), (2, 12));
        assert_eq!(store.verify().unwrap().corrupt.len(), 0);
    }

    #[tokio::test]
    async fn gc_evicts_least_recently_accessed_first_and_keeps_pinned() {
        let (_dir, store) = store();
        let contents: Vec<Vec<u8>> = (0..4).map(|i| vec![b'a' + i; 100]).collect();
        let shas: Vec<Sha> = contents.iter().map(|c| blob_sha(c)).collect();
        for (i, c) in contents.iter().enumerate() {
            store.put_blob(shas[i], c).await.unwrap();
            // Accessed at 1000 + i seconds: 0 is the oldest.
            store
                .index()
                .set_last_access(shas[i], 1000 + i as i64)
                .unwrap();
        }
        let pinned = shas[0];
        let report = store.gc(250, &|sha| sha == pinned).unwrap();
        assert_eq!(report.before_bytes, 400);
        assert_eq!(report.evicted, 2, "{report:?}");
        assert_eq!(report.pinned_kept, 1);
        assert_eq!(report.after_bytes, 200);
        assert!(store.blob_path(shas[0], 100).is_some(), "pinned");
        assert!(store.blob_path(shas[1], 100).is_none());
        assert!(store.blob_path(shas[2], 100).is_none());
        assert!(store.blob_path(shas[3], 100).is_some(), "most recent");
        assert_eq!(store.index().blob_totals().unwrap(), (2, 200));
    }
}
