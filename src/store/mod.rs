//! The content-addressed store: verified git blobs on disk plus the SQLite index.
//!
//! Layout (versioned, so a future layout can live beside this one):
//! ```text
//! <cache>/CACHEDIR.TAG
//! <cache>/index.sqlite             the index (WAL)
//! <cache>/objects-v1/ab/<sha1>     blob content, named by its git blob id
//! <cache>/objects-v1/ab/.tmp-*     downloads in progress (same directory: atomic rename)
//! <cache>/packs-v1/pack-<sum>.pack  packs fetched over git, with the index we computed
//! ```
//! (`packs-v1` is described in [`packs`]: a blob is served from a loose object when there
//! is one, else decoded from the pack that holds it.)
//! Invariant: a file named `objects-v1/ab/<sha>` always holds exactly the blob `<sha>`.
//! Content is streamed to a temp file beside its final place and hashed on the way; only
//! when `sha1("blob <len>\0" + bytes)` equals the expected id is it renamed into place.
//! A crash at any point leaves at most a `.tmp-*` file, which is never read and is swept
//! on a later open. Identical content from any repo or ref has one id, so it is stored once.

mod allocations;
mod error;
mod index;
pub mod maintain;
mod packdir;
pub mod packs;
mod scans;

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncWriteExt, BufWriter};

pub use allocations::{AllocationRow, NewAllocation};
pub use error::StoreError;
pub(crate) use index::persist_wal;
pub use index::{BlobRow, Index, PackRow};
pub use packdir::{PACKS_DIR, PackSummary, PackedEntry, PackedTree};
pub use scans::{RepoScanRow, ScanRow};

use crate::config::prepare_cache_dir;
use crate::oid::{BlobHasher, Sha};

/// The object layout version in the directory name.
pub const OBJECTS_DIR: &str = "objects-v1";
pub const INDEX_FILE: &str = "index.sqlite";
/// Temp files older than this are leftovers of a crash, not a download in progress.
const STALE_TEMP_AGE: Duration = Duration::from_secs(3600);
/// Write buffer for blob downloads.
const WRITE_BUFFER: usize = 256 << 10;

/// A unique temp name beside the object's final place (same directory: atomic rename).
fn temp_path(dir: &Path, sha: Sha) -> PathBuf {
    dir.join(format!(
        ".tmp-{}-{}-{:08x}",
        sha,
        std::process::id(),
        rand::random::<u32>()
    ))
}

/// The one check between a download and the store: the bytes are blob `sha`.
fn verify(hasher: BlobHasher, sha: Sha, size: u64) -> Result<(), StoreError> {
    let seen = hasher.seen();
    match hasher.finish() {
        Some(actual) if actual == sha => Ok(()),
        Some(actual) => Err(StoreError::HashMismatch {
            expected: sha,
            why: format!("the bytes hash to {actual}"),
        }),
        None => Err(StoreError::HashMismatch {
            expected: sha,
            why: format!("got {seen} bytes, the tree announced {size}"),
        }),
    }
}

/// The cache: objects on disk and their index.
pub struct Store {
    root: PathBuf,
    objects: PathBuf,
    index: Index,
    /// A size budget held as objects are stored (the daemon sets one).
    budget: std::sync::OnceLock<Budget>,
    /// Blobs read since access times were last written: a read costs a set insert, and
    /// [`Store::flush_access_times`] writes them in one transaction (a mount every 30 s,
    /// before every eviction, and when the store is dropped).
    accessed: std::sync::Mutex<std::collections::HashSet<Sha>>,
    packs: packdir::Packs,
}

/// A stored blob opened for reading: a loose object's file, or bytes decoded from a pack.
#[derive(Debug)]
pub enum BlobData {
    File(std::fs::File),
    Bytes(std::sync::Arc<[u8]>),
}

impl BlobData {
    /// Up to `buf.len()` bytes at `offset` (fewer only at the end).
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        match self {
            BlobData::File(file) => {
                use std::os::unix::fs::FileExt;
                let mut filled = 0;
                while filled < buf.len() {
                    match file.read_at(&mut buf[filled..], offset + filled as u64) {
                        Ok(0) => break,
                        Ok(n) => filled += n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(e),
                    }
                }
                Ok(filled)
            }
            BlobData::Bytes(bytes) => {
                let start = usize::try_from(offset).map_or(bytes.len(), |o| o.min(bytes.len()));
                let n = buf.len().min(bytes.len() - start);
                buf[..n].copy_from_slice(&bytes[start..start + n]);
                Ok(n)
            }
        }
    }

    /// A reader of the whole content, from the start.
    pub fn reader(&self) -> Box<dyn Read + '_> {
        match self {
            BlobData::File(file) => Box::new(file),
            BlobData::Bytes(bytes) => Box::new(&bytes[..]),
        }
    }

    /// The whole content.
    pub fn read_all(&self) -> io::Result<Vec<u8>> {
        match self {
            BlobData::File(file) => {
                let mut out = Vec::new();
                (&*file).read_to_end(&mut out)?;
                Ok(out)
            }
            BlobData::Bytes(bytes) => Ok(bytes.to_vec()),
        }
    }
}

/// A cache size budget: after each stored object, the least recently accessed objects
/// that nothing pins are evicted until the store fits again.
struct Budget {
    max: u64,
    pinned: Box<dyn Fn(Sha) -> bool + Send + Sync>,
    /// Bytes stored, kept as objects come and go (resynchronized from disk at start).
    total: std::sync::atomic::AtomicU64,
    evicting: std::sync::Mutex<()>,
}

impl Store {
    /// Opens (creating if needed) the cache at `root`.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        prepare_cache_dir(root)?;
        let objects = root.join(OBJECTS_DIR);
        std::fs::create_dir_all(&objects)
            .map_err(|e| StoreError::io("cannot create", &objects, e))?;
        let index = Index::open(&root.join(INDEX_FILE))?;
        let store = Store {
            root: root.to_path_buf(),
            objects,
            index,
            budget: std::sync::OnceLock::new(),
            accessed: std::sync::Mutex::default(),
            packs: packdir::Packs::open(root)?,
        };
        store.sweep_stale_temps();
        store.sweep_packs();
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn index(&self) -> &Index {
        &self.index
    }

    /// Where blob `sha` lives (whether or not it is there).
    pub fn object_path(&self, sha: Sha) -> PathBuf {
        let hex = sha.to_hex();
        self.objects.join(&hex[..2]).join(&hex)
    }

    /// The stored blob's path if it is present with the expected size.
    ///
    /// The size check catches an object truncated by a power loss (we do not fsync
    /// every object, for speed); such an object is removed and fetched again.
    pub fn blob_path(&self, sha: Sha, size: u64) -> Option<PathBuf> {
        let path = self.object_path(sha);
        match std::fs::metadata(&path) {
            Ok(meta) if meta.len() == size => Some(path),
            Ok(_) => {
                tracing::warn!(blob = %sha, "stored object has the wrong size; dropping it");
                let _ = std::fs::remove_file(&path);
                let _ = self.index.forget_blob(sha);
                None
            }
            Err(_) => None,
        }
    }

    /// Holds the store under `max` bytes from now on: after each stored object, the least
    /// recently accessed objects for which `pinned` is false are evicted until it fits
    /// (so it never exceeds `max` by more than the object just stored, unless pinned
    /// objects alone exceed it). Set once; later calls are ignored.
    pub fn set_budget(
        &self,
        max: u64,
        pinned: Box<dyn Fn(Sha) -> bool + Send + Sync>,
    ) -> Result<(), StoreError> {
        let (on_disk, _) = self.scan_objects_sizes()?;
        let on_disk = on_disk + self.index.pack_totals()?.1;
        let budget = Budget {
            max,
            pinned,
            total: std::sync::atomic::AtomicU64::new(on_disk),
            evicting: std::sync::Mutex::new(()),
        };
        if self.budget.set(budget).is_ok() {
            self.enforce_budget(None);
        }
        Ok(())
    }

    /// Records that blob `sha` was read now, for eviction (least recently read first).
    pub fn note_access(&self, sha: Sha) {
        self.accessed
            .lock()
            .expect("access log poisoned")
            .insert(sha);
    }

    /// Writes the access times recorded since the last call. Bookkeeping: a failure (a
    /// full disk) is logged, never passed to the read it accompanies.
    pub fn flush_access_times(&self) {
        let shas: Vec<Sha> = self
            .accessed
            .lock()
            .expect("access log poisoned")
            .drain()
            .collect();
        if !shas.is_empty()
            && let Err(e) = self.index.touch_blobs(&shas)
        {
            tracing::debug!(error = %e, "cannot record access times");
        }
        let packs = self.packs.take_accessed();
        if !packs.is_empty()
            && let Err(e) = self.index.touch_packs(&packs)
        {
            tracing::debug!(error = %e, "cannot record pack access times");
        }
    }

    /// Whether blob `sha` of `size` bytes is here (loose or in a pack).
    pub fn has_blob(&self, sha: Sha, size: u64) -> bool {
        self.blob_path(sha, size).is_some()
            || matches!(self.index.pack_object(sha), Ok(Some((_, packdir::KIND_BLOB, s))) if s == size)
    }

    /// Blob `sha` opened for reading: its loose object, else decoded from its pack.
    pub fn read_blob(&self, sha: Sha, size: u64) -> Option<BlobData> {
        if let Some(file) = self.open_blob(sha, size) {
            return Some(BlobData::File(file));
        }
        self.packed_blob(sha, size).map(BlobData::Bytes)
    }

    /// A real file holding blob `sha` (for passthrough, where the kernel reads a file):
    /// its loose object, written from its pack first if that is where it is.
    pub fn blob_file(&self, sha: Sha, size: u64) -> Option<PathBuf> {
        if let Some(path) = self.blob_path(sha, size) {
            return Some(path);
        }
        let bytes = self.packed_blob(sha, size)?;
        let path = self
            .write_blob_from_reader(sha, size, &mut &bytes[..])
            .ok()?;
        let _ = self.index.put_blob(sha, size);
        Some(path)
    }

    /// Called after a pack is in place.
    fn stored_pack(&self, bytes: u64) {
        if let Some(budget) = self.budget.get() {
            budget
                .total
                .fetch_add(bytes, std::sync::atomic::Ordering::Relaxed);
            self.enforce_budget(None);
        }
    }

    /// Called after stored bytes were removed outside the budget's own eviction.
    fn freed(&self, bytes: u64) {
        use std::sync::atomic::Ordering;
        if let Some(budget) = self.budget.get() {
            let total = budget.total.load(Ordering::Relaxed);
            budget
                .total
                .store(total.saturating_sub(bytes), Ordering::Relaxed);
        }
    }

    /// Called after an object is in place.
    fn stored(&self, sha: Sha, size: u64) {
        if let Some(budget) = self.budget.get() {
            budget
                .total
                .fetch_add(size, std::sync::atomic::Ordering::Relaxed);
            self.enforce_budget(Some(sha));
        }
    }

    /// Evicts until the budget holds; `keep` (the object just stored) is never evicted.
    fn enforce_budget(&self, keep: Option<Sha>) {
        use std::sync::atomic::Ordering;
        let Some(budget) = self.budget.get() else {
            return;
        };
        if budget.total.load(Ordering::Relaxed) <= budget.max {
            return;
        }
        let _one_at_a_time = budget.evicting.lock().expect("eviction lock poisoned");
        self.flush_access_times();
        let rows = match self.index.blob_rows() {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list objects to evict");
                return;
            }
        };
        for row in rows {
            if budget.total.load(Ordering::Relaxed) <= budget.max {
                return;
            }
            if Some(row.sha) == keep || (budget.pinned)(row.sha) {
                continue;
            }
            match std::fs::remove_file(self.object_path(row.sha)) {
                Ok(()) => {
                    budget.total.fetch_sub(
                        row.size.min(budget.total.load(Ordering::Relaxed)),
                        Ordering::Relaxed,
                    );
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(blob = %row.sha, error = %e, "cannot evict");
                    continue;
                }
            }
            let _ = self.index.forget_blob(row.sha);
            tracing::debug!(blob = %row.sha, size = row.size, "evicted (cache budget)");
        }
        // Then whole packs, least recently stored or read first.
        if let Ok(packs) = self.index.pack_rows() {
            for row in packs {
                if budget.total.load(Ordering::Relaxed) <= budget.max {
                    return;
                }
                tracing::debug!(pack = %row.name, bytes = row.bytes, "evicted (cache budget)");
                let _ = self.index.forget_pack(&row.name);
                self.packs.close(&row.name);
                for ext in ["idx", "pack"] {
                    let _ = std::fs::remove_file(self.packs.path(&row.name, ext));
                }
                budget.total.fetch_sub(
                    row.bytes.min(budget.total.load(Ordering::Relaxed)),
                    Ordering::Relaxed,
                );
            }
        }
        if budget.total.load(Ordering::Relaxed) > budget.max {
            tracing::warn!(
                bytes = budget.total.load(Ordering::Relaxed),
                max = budget.max,
                "the cache is over its budget: what is left is in use"
            );
        }
    }

    /// The stored blob opened for reading, if it is present with the expected size: one
    /// path lookup where [`Store::blob_path`] and an open take two.
    pub fn open_blob(&self, sha: Sha, size: u64) -> Option<std::fs::File> {
        let file = std::fs::File::open(self.object_path(sha)).ok()?;
        match file.metadata() {
            Ok(meta) if meta.len() == size => Some(file),
            Ok(_) => {
                drop(file);
                // Checks again and drops the truncated object.
                let _ = self.blob_path(sha, size);
                None
            }
            Err(_) => None,
        }
    }

    /// Starts writing blob `sha` of `size` bytes.
    pub async fn blob_writer(&self, sha: Sha, size: u64) -> Result<BlobWriter<'_>, StoreError> {
        let dir = self
            .object_path(sha)
            .parent()
            .expect("objects have a parent")
            .to_path_buf();
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| StoreError::io("cannot create", &dir, e))?;
        let temp = temp_path(&dir, sha);
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .await
            .map_err(|e| StoreError::io("cannot create", &temp, e))?;
        Ok(BlobWriter {
            store: self,
            sha,
            size,
            temp: Some(temp),
            file: BufWriter::with_capacity(WRITE_BUFFER, file),
            hasher: BlobHasher::new(size),
        })
    }

    /// Stores `content` as blob `sha` (verified), for callers that have it in memory.
    pub async fn put_blob(&self, sha: Sha, content: &[u8]) -> Result<PathBuf, StoreError> {
        let mut writer = self.blob_writer(sha, content.len() as u64).await?;
        writer.write(content).await?;
        writer.commit().await
    }

    /// Stores blob `sha` of `size` bytes read from `reader`, verified, on a blocking thread
    /// (tar extraction). Reads at most `size + 1` bytes, so a lying source is bounded.
    pub fn put_blob_from_reader(
        &self,
        sha: Sha,
        size: u64,
        reader: &mut dyn std::io::Read,
    ) -> Result<PathBuf, StoreError> {
        let path = self.write_blob_from_reader(sha, size, reader)?;
        self.index.put_blob(sha, size)?;
        Ok(path)
    }

    /// [`Store::put_blob_from_reader`] without the index row: for writers of many blobs
    /// at once, which record them with one [`Index::put_blobs`] per batch (one SQLite
    /// transaction instead of one per file). The object is in place and readable either
    /// way; a row missing after a crash only leaves it out of `cache stats`.
    pub fn write_blob_from_reader(
        &self,
        sha: Sha,
        size: u64,
        reader: &mut dyn std::io::Read,
    ) -> Result<PathBuf, StoreError> {
        use std::io::Write;
        let target = self.object_path(sha);
        let dir = target.parent().expect("objects have a parent");
        let temp = temp_path(dir, sha);
        let result = (|| {
            let create = || {
                std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&temp)
            };
            // The fan-out directory exists after its first object: create it only then.
            let file = match create() {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| StoreError::io("cannot create", dir, e))?;
                    create()
                }
                other => other,
            }
            .map_err(|e| StoreError::io("cannot create", &temp, e))?;
            let mut out = std::io::BufWriter::with_capacity(WRITE_BUFFER, file);
            let mut hasher = BlobHasher::new(size);
            let mut limited = reader.take(size + 1);
            let mut buf = vec![0u8; 64 << 10];
            loop {
                let n = limited
                    .read(&mut buf)
                    .map_err(|e| StoreError::io("cannot read", &temp, e))?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                out.write_all(&buf[..n])
                    .map_err(|e| StoreError::io("cannot write", &temp, e))?;
            }
            out.flush()
                .map_err(|e| StoreError::io("cannot write", &temp, e))?;
            verify(hasher, sha, size)?;
            std::fs::rename(&temp, &target)
                .map_err(|e| StoreError::io("cannot move into place", &target, e))?;
            self.stored(sha, size);
            Ok(target.clone())
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        result
    }

    /// Removes `.tmp-*` files left by crashed downloads.
    fn sweep_stale_temps(&self) {
        let Ok(dirs) = std::fs::read_dir(&self.objects) else {
            return;
        };
        let now = SystemTime::now();
        for dir in dirs.flatten() {
            let Ok(files) = std::fs::read_dir(dir.path()) else {
                continue;
            };
            for file in files.flatten() {
                if !file.file_name().to_string_lossy().starts_with(".tmp-") {
                    continue;
                }
                let stale = file
                    .metadata()
                    .and_then(|m| m.modified())
                    .map(|modified| {
                        now.duration_since(modified).unwrap_or_default() > STALE_TEMP_AGE
                    })
                    .unwrap_or(false);
                if stale {
                    tracing::info!(path = %file.path().display(), "removing a stale partial download");
                    let _ = std::fs::remove_file(file.path());
                }
            }
        }
    }
}

/// A blob being written. Dropped without [`BlobWriter::commit`], it leaves nothing behind.
pub struct BlobWriter<'a> {
    store: &'a Store,
    sha: Sha,
    size: u64,
    temp: Option<PathBuf>,
    file: BufWriter<tokio::fs::File>,
    hasher: BlobHasher,
}

impl BlobWriter<'_> {
    /// Appends bytes; more bytes than announced is an error at once (bounded size).
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        if self.hasher.seen() + bytes.len() as u64 > self.size {
            return Err(StoreError::HashMismatch {
                expected: self.sha,
                why: format!("more than the {} bytes the tree announced", self.size),
            });
        }
        self.hasher.update(bytes);
        let temp = self.temp.as_deref().expect("temp exists until commit");
        self.file
            .write_all(bytes)
            .await
            .map_err(|e| StoreError::io("cannot write", temp, e))
    }

    /// Verifies the content against its id and moves it into place.
    pub async fn commit(mut self) -> Result<PathBuf, StoreError> {
        let temp = self.temp.take().expect("commit runs once");
        let result = self.finish(&temp).await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&temp).await;
        }
        result
    }

    async fn finish(&mut self, temp: &Path) -> Result<PathBuf, StoreError> {
        self.file
            .flush()
            .await
            .map_err(|e| StoreError::io("cannot write", temp, e))?;
        let hasher = std::mem::replace(&mut self.hasher, BlobHasher::new(0));
        verify(hasher, self.sha, self.size)?;
        let target = self.store.object_path(self.sha);
        tokio::fs::rename(temp, &target)
            .await
            .map_err(|e| StoreError::io("cannot move into place", &target, e))?;
        self.store.index.put_blob(self.sha, self.size)?;
        self.store.stored(self.sha, self.size);
        Ok(target)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.flush_access_times();
    }
}

impl Drop for BlobWriter<'_> {
    fn drop(&mut self) {
        if let Some(temp) = self.temp.take() {
            let _ = std::fs::remove_file(temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oid::blob_sha;

    #[tokio::test]
    async fn verified_blob_is_stored_once_and_mismatch_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let content = b"hello\n";
        let sha = blob_sha(content);
        let path = store.put_blob(sha, content).await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), content);
        assert!(path.ends_with(format!("objects-v1/ce/{sha}")));
        assert_eq!(store.blob_path(sha, 6), Some(path.clone()));
        // Storing identical content again is harmless and keeps one object.
        store.put_blob(sha, content).await.unwrap();
        assert_eq!(store.index().blob_totals().unwrap(), (1, 6));

        // Wrong bytes for an id: an error, and nothing at the id's path, no temp left.
        let other = blob_sha(b"other\n");
        let err = store.put_blob(other, b"evil!\n").await.unwrap_err();
        assert!(matches!(err, StoreError::HashMismatch { .. }), "{err}");
        assert!(store.blob_path(other, 6).is_none());
        let leftovers: Vec<_> = std::fs::read_dir(store.object_path(other).parent().unwrap())
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(leftovers.is_empty(), "left {leftovers:?}");
    }

    #[tokio::test]
    async fn oversize_and_short_writes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let sha = blob_sha(b"abc");
        let mut writer = store.blob_writer(sha, 3).await.unwrap();
        assert!(writer.write(b"abcd").await.is_err());
        drop(writer);
        let mut writer = store.blob_writer(sha, 3).await.unwrap();
        writer.write(b"ab").await.unwrap();
        assert!(writer.commit().await.is_err());
        assert!(store.blob_path(sha, 3).is_none());
    }

    #[tokio::test]
    async fn truncated_object_is_detected_and_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let sha = blob_sha(b"0123456789");
        let path = store.put_blob(sha, b"0123456789").await.unwrap();
        std::fs::write(&path, b"01234").unwrap();
        assert!(store.blob_path(sha, 10).is_none());
        assert!(!path.exists());
    }

    #[test]
    fn schema_is_versioned_and_newer_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            assert_eq!(store.index().schema_version().unwrap(), 7);
        }
        let conn = rusqlite::Connection::open(dir.path().join(INDEX_FILE)).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let err = Store::open(dir.path()).err().unwrap();
        assert!(
            err.to_string()
                .contains("newer than this heimdall supports"),
            "{err}"
        );
    }

    #[test]
    fn stale_temps_are_swept_fresh_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path()).unwrap());
        let sub = dir.path().join(OBJECTS_DIR).join("ab");
        std::fs::create_dir_all(&sub).unwrap();
        let stale = sub.join(".tmp-stale");
        let fresh = sub.join(".tmp-fresh");
        std::fs::write(&stale, b"x").unwrap();
        std::fs::write(&fresh, b"x").unwrap();
        let old = SystemTime::now() - Duration::from_secs(7200);
        std::fs::File::options()
            .write(true)
            .open(&stale)
            .unwrap()
            .set_modified(old)
            .unwrap();
        drop(Store::open(dir.path()).unwrap());
        assert!(!stale.exists());
        assert!(fresh.exists());
    }
}

#[cfg(test)]
mod concurrent_open_tests {
    use super::*;

    /// Regression: two processes opening a new cache at once both ran the migrations and
    /// one failed with "table owners already exists".
    #[test]
    fn concurrent_first_opens_migrate_once() {
        for _ in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    let root = dir.path().to_path_buf();
                    std::thread::spawn(move || Store::open(&root).map(|_| ()))
                })
                .collect();
            for handle in handles {
                handle.join().unwrap().unwrap();
            }
        }
    }
}
