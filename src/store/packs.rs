//! Packs fetched over git's protocol, kept whole with their index (`packs-v1`), and the
//! blobs and trees served from them.
//!
//! Layout, beside `objects-v1`:
//! ```text
//! <cache>/packs-v1/pack-<checksum>.pack   pack data as the server sent it (no thin packs)
//! <cache>/packs-v1/pack-<checksum>.idx    the index we computed from it (never the server's)
//! <cache>/packs-v1/.tmp-*/                fetches in progress
//! ```
//! A pack becomes visible only through its rows in the index (`packs`, `pack_objects`),
//! written after the pack was indexed by gix-pack (which inflates every entry, checks its
//! size against its header, resolves every delta and hashes every object to compute the
//! ids it writes: an object id in the index is always the hash of the object's bytes),
//! every object decoded once more in one delta-tree traversal (each object inflated
//! once; ids recomputed there for `cache verify`), every tree parsed with hostile names
//! refused, and the files renamed into place. That traversal also puts a fresh pack's
//! small blobs into the decoded cache, so the reads that asked for them do not inflate
//! delta chains again. A kill
//! at any point leaves a `.tmp-*` directory or a pack without rows, never read and swept
//! after an hour. Sizes are bounded: no object over `MAX_OBJECT_BYTES` (512 MiB), no pack over
//! `MAX_PACK_BYTES` (8 GiB).
//!
//! Blobs are read out of the pack on demand (decoded blobs are kept in a small LRU, by
//! bytes); a blob over `LOOSE_ABOVE` (4 MiB) is also written as a loose object when the pack is
//! stored, so big files are read from a file, not from memory.

use std::io::{self, BufRead, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::SystemTime;

use super::error::StoreError;
pub use super::packdir::LOOSE_ABOVE;
use super::packdir::{
    KIND_BLOB, MAX_OBJECT_BYTES, MAX_PACK_BYTES, PackSummary, PackedEntry, PackedTree, oid_of,
    sha_of,
};
use super::{STALE_TEMP_AGE, Store};
use crate::oid::Sha;
use crate::remote::Mode;
use crate::remote::git::PackAnswer;

/// The id, root tree and committer time of commit object `data` (its bytes without the
/// object header), which must hash to `id`.
pub fn verified_commit(id: Sha, data: &[u8]) -> Result<crate::remote::CommitInfo, String> {
    let actual = gix_object::compute_hash(gix_hash::Kind::Sha1, gix_object::Kind::Commit, data)
        .map_err(|e| e.to_string())?;
    if sha_of(&actual) != id {
        return Err(format!("commit {id} hashes to {}", sha_of(&actual)));
    }
    commit_info(id, data)
}

/// Commit object `data` (already hashed to `id`), parsed.
fn commit_info(id: Sha, data: &[u8]) -> Result<crate::remote::CommitInfo, String> {
    let commit = gix_object::CommitRef::from_bytes(data, gix_hash::Kind::Sha1)
        .map_err(|e| format!("commit {id}: {e}"))?;
    Ok(crate::remote::CommitInfo {
        sha: id,
        tree: sha_of(&commit.tree()),
        time: commit.time().map(|t| t.seconds).unwrap_or(0),
    })
}

fn bad(what: &str, why: impl std::fmt::Display) -> StoreError {
    StoreError::BadPack {
        what: what.to_string(),
        why: why.to_string(),
    }
}

/// Delta bases each thread keeps from the pack it read last.
const READ_CACHE_BYTES: usize = 2 << 20;

/// What a thread keeps between reads out of one pack: decoded delta bases (keyed by
/// offset in that pack, so they are dropped when the thread reads another pack), the
/// inflate state and the output buffer.
struct Decoder {
    pack: String,
    bases: gix_pack::cache::lru::StaticLinkedList<64>,
    inflate: gix_zlib::Inflate,
    buf: Vec<u8>,
}

thread_local! {
    static DECODER: std::cell::RefCell<Option<Decoder>> = const { std::cell::RefCell::new(None) };
}

/// A pack write that failed because the disk (or quota) is full, as the I/O error it is
/// (gix-pack's errors carry the cause only as text: `... (os error 28)`).
fn disk_full(dir: &Path, why: &str) -> Option<StoreError> {
    let code = [libc::ENOSPC, libc::EDQUOT]
        .into_iter()
        .find(|code| why.contains(&format!("(os error {code})")))?;
    Some(StoreError::io(
        "cannot write the pack in",
        dir,
        io::Error::from_raw_os_error(code),
    ))
}

/// A reader that fails once more than `max` bytes came through.
struct Bounded<'a> {
    inner: &'a mut dyn BufRead,
    left: u64,
}

impl Read for Bounded<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.consumed(n)
    }
}

impl Bounded<'_> {
    fn consumed(&mut self, n: usize) -> io::Result<usize> {
        if n as u64 > self.left {
            return Err(io::Error::other(format!(
                "the pack is larger than {MAX_PACK_BYTES} bytes"
            )));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

impl BufRead for Bounded<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        // Counted here too: the pack reader consumes through the buffer.
        let _ = self.consumed(amt);
        self.inner.consume(amt);
    }
}

impl Store {
    /// Stores the pack of a fetch answer: streamed to a temp directory, indexed by
    /// gix-pack, every object decoded and its id recomputed, trees parsed (hostile names
    /// refused), big blobs written loose; only then moved into `packs-v1` and recorded.
    /// Blocking: call it from a blocking thread.
    /// A pack that lacks any of `expect` (the objects the fetch wanted) is refused whole.
    pub fn put_pack(&self, answer: PackAnswer, expect: &[Sha]) -> Result<PackSummary, StoreError> {
        let what = answer.what().to_string();
        let mut outcome = None;
        let read = answer.read_pack(|pack| {
            outcome = Some(self.put_pack_from(pack, &what, expect));
        });
        read.map_err(StoreError::Remote)?;
        outcome.expect("read_pack calls its reader")
    }

    /// The pack file `name` (`pack-<sum>`) if it is stored.
    pub fn pack_file(&self, name: &str) -> Option<std::path::PathBuf> {
        let path = self.packs.path(name, "pack");
        path.is_file().then_some(path)
    }

    /// [`Store::put_pack`] from a bare pack stream (a pack from the shared cache): the
    /// same checks, nothing trusted.
    pub fn put_pack_from(
        &self,
        pack: &mut dyn BufRead,
        what: &str,
        expect: &[Sha],
    ) -> Result<PackSummary, StoreError> {
        let staging = self.packs.dir().join(format!(
            ".tmp-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir(&staging).map_err(|e| StoreError::io("cannot create", &staging, e))?;
        let result = self.put_pack_in(pack, what, &staging, expect);
        let _ = std::fs::remove_dir_all(&staging);
        result
    }

    fn put_pack_in(
        &self,
        pack: &mut dyn BufRead,
        what: &str,
        staging: &Path,
        expect: &[Sha],
    ) -> Result<PackSummary, StoreError> {
        let interrupt = AtomicBool::new(false);
        let outcome = {
            let mut bounded = Bounded {
                inner: pack,
                left: MAX_PACK_BYTES,
            };
            let options = gix_pack::bundle::write::Options {
                thread_limit: Some(1),
                iteration_mode: gix_pack::data::input::Mode::Verify,
                alloc_limit_bytes: Some(MAX_OBJECT_BYTES),
                ..Default::default()
            };
            let result = gix_pack::Bundle::write_to_directory(
                &mut bounded,
                Some(staging),
                &mut gix_utils::progress::Discard,
                &interrupt,
                None::<gix_object::find::Never>,
                gix_hash::Kind::Sha1,
                options,
            );
            // Whatever follows the pack in the answer (the final flush) is drained so
            // a truncated answer is seen as one.
            result.map_err(|e| e.to_string())
        }
        .map_err(|why| disk_full(staging, &why).unwrap_or_else(|| bad(what, why)))?;
        let (Some(data), Some(index)) = (&outcome.data_path, &outcome.index_path) else {
            return Err(bad(what, "the pack was empty"));
        };
        if let Some(keep) = &outcome.keep_path {
            let _ = std::fs::remove_file(keep);
        }
        let name = format!("pack-{}", outcome.index.data_hash);
        let bundle = gix_pack::Bundle::at(index, gix_hash::Kind::Sha1).map_err(|e| bad(what, e))?;
        for &want in expect {
            if bundle.index.lookup(oid_of(want)).is_none() {
                return Err(bad(
                    what,
                    format!("it does not hold {want}, which was wanted"),
                ));
            }
        }
        let mut summary = self.check_pack(&bundle, what, false)?;
        summary.name = name.clone();
        summary.bytes = file_len(data) + file_len(index);
        drop(bundle);
        // Into place: the index first (a pack file is what marks a pack as present), both
        // before any row names them.
        let (final_pack, final_index) = (
            self.packs.path(&name, "pack"),
            self.packs.path(&name, "idx"),
        );
        std::fs::rename(index, &final_index)
            .map_err(|e| StoreError::io("cannot move into place", &final_index, e))?;
        std::fs::rename(data, &final_pack)
            .map_err(|e| StoreError::io("cannot move into place", &final_pack, e))?;
        self.packs.close(&name);
        self.index.put_pack(&summary)?;
        self.stored_pack(summary.bytes);
        Ok(summary)
    }

    /// Goes over every object of a pack once, in gix-pack's delta-tree order (each object
    /// inflated once, bases before their deltas): trees parsed, commits read, big blobs
    /// written loose, every blob sized. `rehash` (a pack on disk, `cache verify`)
    /// recomputes every object's id against the index too; a pack just indexed from the
    /// wire was hashed by the indexing. A fresh pack's small blobs go into the decoded
    /// cache on the way: they were fetched because a reader wants them now, and a read
    /// out of a deep delta chain would inflate the whole chain again.
    fn check_pack(
        &self,
        bundle: &gix_pack::Bundle,
        what: &str,
        rehash: bool,
    ) -> Result<PackSummary, StoreError> {
        #[derive(Default)]
        struct Seen {
            blobs: Vec<(Sha, u64)>,
            raw_trees: Vec<(Sha, Vec<u8>)>,
            commits: Vec<(Sha, Vec<u8>)>,
            failed: Option<StoreError>,
        }
        let seen = std::sync::Mutex::new(Seen::default());
        let warm = !rehash;
        let processor = |kind: gix_object::Kind,
                         data: &[u8],
                         entry: &gix_pack::index::Entry,
                         _: &dyn gix_utils::progress::Progress| {
            let id = sha_of(&entry.oid);
            let mut seen = seen.lock().expect("seen poisoned");
            if seen.failed.is_some() {
                return Ok(());
            }
            match kind {
                gix_object::Kind::Blob => {
                    let size = data.len() as u64;
                    if size > LOOSE_ABOVE && self.blob_path(id, size).is_none() {
                        let stored = self
                            .write_blob_from_reader(id, size, &mut &data[..])
                            .and_then(|_| self.index.put_blob(id, size));
                        if let Err(e) = stored {
                            seen.failed = Some(e);
                            return Ok(());
                        }
                    } else if warm && size <= LOOSE_ABOVE {
                        self.packs.remember(id, Arc::from(data));
                    }
                    seen.blobs.push((id, size));
                }
                gix_object::Kind::Tree => seen.raw_trees.push((id, data.to_vec())),
                gix_object::Kind::Commit => seen.commits.push((id, data.to_vec())),
                gix_object::Kind::Tag => {}
            }
            Ok(())
        };
        let interrupt = AtomicBool::new(false);
        let options = gix_pack::index::traverse::Options {
            traversal: gix_pack::index::traverse::Algorithm::DeltaTreeLookup,
            thread_limit: Some(1),
            check: if rehash {
                gix_pack::index::traverse::SafetyCheck::All
            } else {
                gix_pack::index::traverse::SafetyCheck::SkipFileAndObjectChecksumVerification
            },
            alloc_limit_bytes: Some(MAX_OBJECT_BYTES),
            make_pack_lookup_cache: || gix_pack::cache::Never,
        };
        bundle
            .index
            .traverse(
                &bundle.pack,
                &mut gix_utils::progress::Discard,
                &interrupt,
                processor,
                options,
            )
            .map_err(|e| bad(what, e))?;
        let seen = seen.into_inner().expect("seen poisoned");
        if let Some(e) = seen.failed {
            return Err(e);
        }
        let mut summary = PackSummary {
            objects: bundle.index.num_objects() as usize,
            ..Default::default()
        };
        let sizes: std::collections::HashMap<Sha, u64> = seen.blobs.iter().copied().collect();
        summary.blobs = seen.blobs;
        for (id, data) in seen.commits {
            let commit = commit_info(id, &data).map_err(|e| bad(what, e))?;
            summary.commits.push(commit);
            summary.raw_commits.push((id, data));
        }
        let raw_trees = seen.raw_trees;
        for (id, bytes) in raw_trees {
            let tree = gix_object::TreeRef::from_bytes(&bytes, gix_hash::Kind::Sha1)
                .map_err(|e| bad(what, format!("tree {id}: {e}")))?;
            let mut entries = Vec::with_capacity(tree.entries.len());
            for entry in &tree.entries {
                let name = std::str::from_utf8(entry.filename)
                    .ok()
                    .filter(|n| crate::remote::tree::valid_name(n))
                    .ok_or_else(|| {
                        bad(
                            what,
                            format!("tree {id} has an entry named {:?}", entry.filename),
                        )
                    })?;
                let mode = match entry.mode.kind() {
                    gix_object::tree::EntryKind::Tree => Mode::Tree,
                    gix_object::tree::EntryKind::Blob => Mode::File,
                    gix_object::tree::EntryKind::BlobExecutable => Mode::Executable,
                    gix_object::tree::EntryKind::Link => Mode::Symlink,
                    gix_object::tree::EntryKind::Commit => Mode::Submodule,
                };
                let sha = sha_of(entry.oid);
                entries.push(PackedEntry {
                    name: name.to_string(),
                    mode,
                    sha,
                    size: sizes.get(&sha).copied(),
                });
            }
            summary.trees.push(PackedTree { sha: id, entries });
        }
        Ok(summary)
    }

    /// Stores the one blob of a single-object pack (a fetch of one big blob) as a loose
    /// object, streamed: inflated straight into the object file and verified there, so
    /// memory stays flat whatever the size. Blocking.
    pub fn put_single_blob(
        &self,
        answer: PackAnswer,
        sha: Sha,
        size: u64,
    ) -> Result<std::path::PathBuf, StoreError> {
        let what = answer.what().to_string();
        answer
            .read_pack(|pack| {
                let mut header = [0u8; 12];
                pack.read_exact(&mut header)
                    .map_err(|e| bad(&what, format!("no pack header: {e}")))?;
                let count = u32::from_be_bytes([header[8], header[9], header[10], header[11]]);
                if &header[..4] != b"PACK" || !matches!(header[7], 2 | 3) || header[4..7] != [0; 3]
                {
                    return Err(bad(&what, "not a version 2 pack"));
                }
                if count != 1 {
                    return Err(bad(&what, format!("{count} objects where one was wanted")));
                }
                // Type and size: 3 bits of type, then the size in little-endian 7-bit groups.
                let mut byte = [0u8; 1];
                pack.read_exact(&mut byte).map_err(|e| bad(&what, e))?;
                let kind = (byte[0] >> 4) & 7;
                let mut announced = u64::from(byte[0] & 15);
                let mut shift = 4;
                while byte[0] & 0x80 != 0 {
                    pack.read_exact(&mut byte).map_err(|e| bad(&what, e))?;
                    if shift > 56 {
                        return Err(bad(&what, "an object size past 64 bits"));
                    }
                    announced |= u64::from(byte[0] & 0x7f) << shift;
                    shift += 7;
                }
                if kind != 3 {
                    return Err(bad(
                        &what,
                        format!("object type {kind} where a blob was wanted"),
                    ));
                }
                if announced != size {
                    return Err(bad(
                        &what,
                        format!("a blob of {announced} bytes where the tree says {size}"),
                    ));
                }
                let mut inflated = flate2::bufread::ZlibDecoder::new(&mut *pack);
                let path = self.write_blob_from_reader(sha, size, &mut inflated)?;
                // The trailing checksum and the answer's end.
                let mut rest = Vec::new();
                let _ = pack.take(64).read_to_end(&mut rest);
                Ok(path)
            })
            .map_err(StoreError::Remote)?
            .inspect(|_| {
                let _ = self.index.put_blob(sha, size);
            })
    }

    /// Blob `sha` decoded from its pack, if a stored pack holds it with `size` bytes.
    pub fn packed_blob(&self, sha: Sha, size: u64) -> Option<Arc<[u8]>> {
        if let Some(data) = self.packs.cached(sha) {
            return (data.len() as u64 == size).then_some(data);
        }
        let (pack, kind, stored_size) = self.index.pack_object(sha).ok()??;
        if kind != KIND_BLOB || stored_size != size {
            return None;
        }
        match self.decode(&pack, sha) {
            Ok(Some(data)) if data.len() as u64 == size => {
                self.packs.note_access(&pack);
                let data: Arc<[u8]> = data.into();
                self.packs.remember(sha, Arc::clone(&data));
                Some(data)
            }
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(%pack, blob = %sha, error = %e, "a stored pack cannot be read; forgetting it");
                self.forget_pack(&pack);
                None
            }
        }
    }

    /// Blob `sha` out of `pack`, with this thread's [`Decoder`]: reads of one pack follow
    /// each other (a tool reading a directory), and their delta chains share bases.
    fn decode(&self, pack: &str, sha: Sha) -> io::Result<Option<Vec<u8>>> {
        let bundle = self.packs.bundle(pack)?;
        DECODER.with(|decoder| {
            let mut decoder = decoder.borrow_mut();
            let decoder = match &mut *decoder {
                Some(d) if d.pack == pack => d,
                slot => slot.insert(Decoder {
                    pack: pack.to_string(),
                    bases: gix_pack::cache::lru::StaticLinkedList::new(READ_CACHE_BYTES),
                    inflate: gix_zlib::Inflate::default(),
                    buf: Vec::new(),
                }),
            };
            let found = bundle
                .find(
                    &oid_of(sha),
                    &mut decoder.buf,
                    &mut decoder.inflate,
                    &mut decoder.bases,
                )
                .map_err(|e| io::Error::other(e.to_string()))?;
            let out = match found {
                Some((data, _)) if data.kind == gix_object::Kind::Blob => Some(data.data.to_vec()),
                _ => None,
            };
            // A big blob's buffer is not kept for the next read.
            if decoder.buf.capacity() > READ_CACHE_BYTES {
                decoder.buf = Vec::new();
            }
            Ok(out)
        })
    }

    /// Removes pack `name`: its rows first (so nothing reads it), then its files.
    pub fn forget_pack(&self, name: &str) {
        let _ = self.index.forget_pack(name);
        self.packs.close(name);
        let mut freed = 0;
        for ext in ["idx", "pack"] {
            let path = self.packs.path(name, ext);
            freed += file_len(&path);
            let _ = std::fs::remove_file(&path);
        }
        self.freed(freed);
    }

    /// Removes `.tmp-*` directories of crashed fetches and packs no row names, once they
    /// are older than an hour (a younger one may be another process's fetch finishing).
    pub(super) fn sweep_packs(&self) {
        let Ok(entries) = std::fs::read_dir(self.packs.dir()) else {
            return;
        };
        let known: std::collections::HashSet<String> = self
            .index
            .pack_rows()
            .map(|rows| rows.into_iter().map(|r| r.name).collect())
            .unwrap_or_default();
        let now = SystemTime::now();
        for entry in entries.flatten() {
            let file_name = entry.file_name().to_string_lossy().into_owned();
            let stale = entry
                .metadata()
                .and_then(|m| m.modified())
                .map(|m| now.duration_since(m).unwrap_or_default() > STALE_TEMP_AGE)
                .unwrap_or(false);
            if !stale {
                continue;
            }
            let stem = file_name
                .strip_suffix(".pack")
                .or_else(|| file_name.strip_suffix(".idx"));
            let orphan = match stem {
                Some(stem) => !known.contains(stem),
                None => file_name.starts_with(".tmp-"),
            };
            if orphan {
                tracing::info!(path = %entry.path().display(), "removing a partial or unrecorded pack");
                let _ = std::fs::remove_dir_all(entry.path())
                    .or_else(|_| std::fs::remove_file(entry.path()));
            }
        }
    }

    /// Recomputes the id of every object of every stored pack; a pack that fails is
    /// removed (its objects are fetched again when read). Returns the packs and objects
    /// verified and the names of the packs removed.
    pub fn verify_packs(&self) -> Result<(u64, u64, Vec<String>), StoreError> {
        let mut totals = (0, 0, Vec::new());
        for row in self.index.pack_rows()? {
            totals.0 += 1;
            let index = self.packs.path(&row.name, "idx");
            let ok = gix_pack::Bundle::at(&index, gix_hash::Kind::Sha1)
                .map_err(|e| bad(&row.name, e))
                .and_then(|bundle| self.check_pack(&bundle, &row.name, true));
            match ok {
                Ok(summary) => totals.1 += summary.objects as u64,
                Err(e) => {
                    tracing::warn!(pack = %row.name, error = %e, "a stored pack is corrupt; removing it");
                    totals.2.push(row.name.clone());
                    self.forget_pack(&row.name);
                }
            }
        }
        Ok(totals)
    }
}

pub(super) fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}
