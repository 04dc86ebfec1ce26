//! The packs directory (`packs-v1`, see [`super::packs`]): what a stored pack holds,
//! the open packs and the decoded-blob cache.

use std::io;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use lru::LruCache;

use super::error::StoreError;
use crate::oid::Sha;
use crate::remote::Mode;

pub const PACKS_DIR: &str = "packs-v1";
/// The largest object a pack may hold (decoded), and the largest delta buffer.
pub const MAX_OBJECT_BYTES: usize = 512 << 20;
/// The largest pack we accept from one fetch.
pub const MAX_PACK_BYTES: u64 = 8 << 30;
/// Blobs bigger than this are written loose too, when their pack is stored.
pub const LOOSE_ABOVE: u64 = 4 << 20;
/// Decoded blobs kept in memory, by bytes.
const DECODED_CACHE_BYTES: usize = 16 << 20;
/// Open packs kept mapped.
const OPEN_PACKS: usize = 64;

/// What a stored pack held.
#[derive(Debug, Clone, Default)]
pub struct PackSummary {
    /// `pack-<checksum>`.
    pub name: String,
    pub objects: usize,
    /// Bytes of the pack and its index on disk.
    pub bytes: u64,
    /// Every blob, with its size.
    pub blobs: Vec<(Sha, u64)>,
    /// Every tree, parsed. Blob sizes are known for blobs in the same pack only; the
    /// others are `None` (a `blob:none` fetch brings no blob).
    pub trees: Vec<PackedTree>,
    /// The commits in the pack: id, root tree, committer time.
    pub commits: Vec<crate::remote::CommitInfo>,
    /// The same commits' objects (bytes without the header), for the shared cache.
    pub raw_commits: Vec<(Sha, Vec<u8>)>,
}

/// A tree object from a pack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedTree {
    pub sha: Sha,
    pub entries: Vec<PackedEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedEntry {
    pub name: String,
    pub mode: Mode,
    pub sha: Sha,
    pub size: Option<u64>,
}

/// Object kinds as the index stores them.
pub(super) const KIND_COMMIT: i64 = 1;
pub(super) const KIND_TREE: i64 = 2;
pub(super) const KIND_BLOB: i64 = 3;

pub(super) struct Packs {
    dir: PathBuf,
    /// Packs read since access times were last written.
    accessed: Mutex<std::collections::HashSet<String>>,
    open: Mutex<LruCache<String, Arc<gix_pack::Bundle>>>,
    decoded: Mutex<Decoded>,
}

/// Decoded blobs, least recently used dropped first once over [`DECODED_CACHE_BYTES`].
struct Decoded {
    blobs: LruCache<Sha, Arc<[u8]>>,
    bytes: usize,
}

impl Packs {
    pub(super) fn open(root: &Path) -> Result<Packs, StoreError> {
        let dir = root.join(PACKS_DIR);
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::io("cannot create", &dir, e))?;
        Ok(Packs {
            dir,
            accessed: Mutex::default(),
            open: Mutex::new(LruCache::new(
                NonZeroUsize::new(OPEN_PACKS).expect("non-zero"),
            )),
            decoded: Mutex::new(Decoded {
                blobs: LruCache::unbounded(),
                bytes: 0,
            }),
        })
    }

    pub(super) fn note_access(&self, name: &str) {
        let mut accessed = self.accessed.lock().expect("packs poisoned");
        if !accessed.contains(name) {
            accessed.insert(name.to_string());
        }
    }

    pub(super) fn take_accessed(&self) -> Vec<String> {
        self.accessed
            .lock()
            .expect("packs poisoned")
            .drain()
            .collect()
    }

    pub(super) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(super) fn path(&self, name: &str, ext: &str) -> PathBuf {
        self.dir.join(format!("{name}.{ext}"))
    }

    pub(super) fn bundle(&self, name: &str) -> io::Result<Arc<gix_pack::Bundle>> {
        if let Some(b) = self.open.lock().expect("packs poisoned").get(name) {
            return Ok(Arc::clone(b));
        }
        let bundle = gix_pack::Bundle::at(self.path(name, "idx"), gix_hash::Kind::Sha1)
            .map_err(|e| io::Error::other(e.to_string()))?;
        let bundle = Arc::new(bundle);
        self.open
            .lock()
            .expect("packs poisoned")
            .put(name.to_string(), Arc::clone(&bundle));
        Ok(bundle)
    }

    /// Forgets the open map of `name` (before its files are removed).
    pub(super) fn close(&self, name: &str) {
        self.open.lock().expect("packs poisoned").pop(name);
    }

    pub(super) fn cached(&self, sha: Sha) -> Option<Arc<[u8]>> {
        self.decoded
            .lock()
            .expect("decoded poisoned")
            .blobs
            .get(&sha)
            .cloned()
    }

    pub(super) fn remember(&self, sha: Sha, data: Arc<[u8]>) {
        let mut d = self.decoded.lock().expect("decoded poisoned");
        if data.len() > DECODED_CACHE_BYTES / 4 {
            return;
        }
        d.bytes += data.len();
        if let Some(old) = d.blobs.put(sha, data) {
            d.bytes -= old.len();
        }
        while d.bytes > DECODED_CACHE_BYTES {
            match d.blobs.pop_lru() {
                Some((_, old)) => d.bytes -= old.len(),
                None => break,
            }
        }
    }
}

pub(super) fn sha_of(oid: &gix_hash::oid) -> Sha {
    let mut bytes = [0u8; 20];
    bytes.copy_from_slice(oid.as_bytes());
    Sha::from_bytes(bytes)
}

pub(super) fn oid_of(sha: Sha) -> gix_hash::ObjectId {
    gix_hash::ObjectId::from_bytes_or_panic(sha.as_bytes())
}
