//! A commit's tarball streamed into the store, every file verified against the tree.
//!
//! Every file from the tarball is verified against the tree: its content must hash to
//! the blob SHA the tree gives for its path. Paths are only used to find that SHA; the
//! store writes by SHA, so a tarball with `../` paths or links cannot write anywhere
//! else. The archive is read at most up to the commit's size plus tar's overhead.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::error::HydrateError;
use crate::namespace::{Namespace, RepoContext};
use crate::oid::Sha;
use crate::remote::Mode;
use crate::store::StoreError;

/// Tar headers and padding on top of the content: 1.5 KB per file plus slack.
const TAR_OVERHEAD_PER_FILE: u64 = 1536;
const TAR_OVERHEAD_SLACK: u64 = 1 << 20;

/// One blob of the commit, by path.
pub(super) struct Expected {
    pub(super) sha: Sha,
    pub(super) size: u64,
    pub(super) mode: Mode,
}

/// Every blob reachable from the commit's root tree, by repository path.
pub(super) async fn expected_blobs(
    ns: &Namespace,
    repo: &RepoContext,
) -> Result<HashMap<String, Expected>, HydrateError> {
    let mut out = HashMap::new();
    let mut stack = vec![(repo.commit.tree, String::new())];
    while let Some((sha, prefix)) = stack.pop() {
        let tree = ns.tree(&repo.spec, sha).await?;
        for entry in &tree.entries {
            let path = format!("{prefix}{}", entry.name);
            match entry.mode {
                Mode::Tree => stack.push((entry.sha, format!("{path}/"))),
                Mode::Submodule => {}
                Mode::File | Mode::Executable | Mode::Symlink => {
                    out.insert(
                        path,
                        Expected {
                            sha: entry.sha,
                            size: entry.size,
                            mode: entry.mode,
                        },
                    );
                }
            }
        }
    }
    Ok(out)
}

/// Hydrated blobs recorded in the index per transaction.
const INDEX_BATCH: usize = 512;
/// Threads writing a tarball's files into the store.
const WRITERS: usize = 2;
/// Files read ahead of the writers (each at most [`INLINE_ABOVE`] bytes).
const QUEUE_FILES: usize = 64;
/// Files larger than this are written by the extracting thread itself, streamed.
const INLINE_ABOVE: u64 = 1 << 20;

/// Streams the commit's tarball into the store, calling `on_stored` for each blob as it
/// lands. Returns (files stored, bytes stored).
pub(super) async fn fetch(
    ns: &Arc<Namespace>,
    repo: &RepoContext,
    expected: HashMap<String, Expected>,
    total: u64,
    on_stored: Arc<dyn Fn(Sha) + Send + Sync>,
) -> Result<(u64, u64), HydrateError> {
    use futures_util::TryStreamExt;
    let stream = ns
        .client()
        .tarball(&repo.spec.owner, &repo.spec.repo, repo.commit.sha)
        .await?;
    let reader = tokio_util::io::StreamReader::new(stream.map_err(std::io::Error::other));
    let bridge = tokio_util::io::SyncIoBridge::new(reader);
    let limit = total + expected.len() as u64 * TAR_OVERHEAD_PER_FILE + TAR_OVERHEAD_SLACK;
    let store = Arc::clone(ns.store());
    let name = repo.spec.to_string();
    let task_name = name.clone();
    tokio::task::spawn_blocking(move || {
        extract(&store, &task_name, bridge, expected, limit, &|sha| {
            on_stored(sha)
        })
    })
    .await
    .map_err(|e| HydrateError::Extraction {
        repo: name,
        why: format!("the extraction task failed: {e}"),
    })?
}

/// Index rows of stored blobs, written one transaction per [`INDEX_BATCH`] (a transaction
/// per file cost more than writing the file) and on drop, so an extraction that fails
/// halfway still records what it stored.
struct IndexBatch<'a> {
    store: &'a crate::store::Store,
    rows: Vec<(Sha, u64)>,
}

impl IndexBatch<'_> {
    fn push(&mut self, sha: Sha, size: u64) {
        self.rows.push((sha, size));
        if self.rows.len() >= INDEX_BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.rows.is_empty() {
            return;
        }
        if let Err(e) = self.store.index().put_blobs(&self.rows) {
            tracing::warn!(error = %e, "cannot record hydrated blobs in the index");
        }
        self.rows.clear();
    }
}

impl Drop for IndexBatch<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}

/// One file of the tarball, read into memory, for a writer thread.
struct Job {
    path: String,
    sha: Sha,
    size: u64,
    content: Vec<u8>,
}

/// Stores what a [`Job`] or an inline file produced and counts it.
struct Sink<'a> {
    batch: Mutex<IndexBatch<'a>>,
    files: AtomicU64,
    bytes: AtomicU64,
    on_stored: &'a (dyn Fn(Sha) + Sync),
}

impl Sink<'_> {
    fn done(&self, path: &str, sha: Sha, size: u64, result: Result<PathBuf, StoreError>) {
        match result {
            Ok(_) => {
                self.files.fetch_add(1, Ordering::Relaxed);
                self.bytes.fetch_add(size, Ordering::Relaxed);
                self.batch.lock().expect("batch poisoned").push(sha, size);
                (self.on_stored)(sha);
            }
            Err(e) => tracing::warn!(path, error = %e, "tarball file refused"),
        }
    }
}

fn extract(
    store: &crate::store::Store,
    repo: &str,
    source: impl std::io::Read,
    expected: HashMap<String, Expected>,
    limit: u64,
    on_stored: &(dyn Fn(Sha) + Sync),
) -> Result<(u64, u64), HydrateError> {
    use std::io::Read;
    let gz = flate2::read::GzDecoder::new(source);
    let mut archive = tar::Archive::new(gz.take(limit));
    let sink = Sink {
        batch: Mutex::new(IndexBatch {
            store,
            rows: Vec::with_capacity(INDEX_BATCH),
        }),
        files: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        on_stored,
    };
    // This thread inflates and parses the archive; small files go to writer threads,
    // which hash, write and rename them (creating files is most of the cost).
    let (jobs, queue) = std::sync::mpsc::sync_channel::<Job>(QUEUE_FILES);
    let queue = Mutex::new(queue);
    let result = std::thread::scope(|scope| {
        for _ in 0..WRITERS {
            scope.spawn(|| {
                loop {
                    let job = queue.lock().expect("queue poisoned").recv();
                    let Ok(job) = job else { break };
                    let result =
                        store.write_blob_from_reader(job.sha, job.size, &mut &job.content[..]);
                    sink.done(&job.path, job.sha, job.size, result);
                }
            });
        }
        let unreadable = |e| HydrateError::archive(repo, e);
        let result = (|| -> Result<(), HydrateError> {
            for entry in archive.entries().map_err(unreadable)? {
                let mut entry = entry.map_err(unreadable)?;
                let kind = entry.header().entry_type();
                if !(kind.is_file() || kind.is_symlink()) {
                    continue;
                }
                let raw = entry.path_bytes().into_owned();
                let raw = String::from_utf8_lossy(&raw);
                // GitHub's layout: `{owner}-{repo}-{sha7}/path`; the first component is dropped.
                let Some((_, path)) = raw.split_once('/') else {
                    continue;
                };
                let Some(want) = expected.get(path) else {
                    tracing::debug!(path, "tarball entry not in the tree; skipped");
                    continue;
                };
                if kind.is_symlink() != (want.mode == Mode::Symlink)
                    || store.blob_path(want.sha, want.size).is_some()
                {
                    continue;
                }
                let content = if kind.is_symlink() {
                    entry
                        .link_name_bytes()
                        .map(|l| l.into_owned())
                        .unwrap_or_default()
                } else if want.size > INLINE_ABOVE {
                    // Big files are streamed here, never held in memory.
                    let result = store.write_blob_from_reader(want.sha, want.size, &mut entry);
                    sink.done(path, want.sha, want.size, result);
                    continue;
                } else {
                    let mut content = Vec::with_capacity(want.size as usize);
                    // One byte more than announced, so a longer file fails verification.
                    (&mut entry)
                        .take(want.size + 1)
                        .read_to_end(&mut content)
                        .map_err(unreadable)?;
                    content
                };
                let job = Job {
                    path: path.to_string(),
                    sha: want.sha,
                    size: want.size,
                    content,
                };
                if jobs.send(job).is_err() {
                    return Err(HydrateError::Extraction {
                        repo: repo.to_string(),
                        why: "the writers stopped".into(),
                    });
                }
            }
            Ok(())
        })();
        // Closing the queue lets the writers finish what is queued and stop.
        drop(jobs);
        result
    });
    result?;
    Ok((
        sink.files.load(Ordering::Relaxed),
        sink.bytes.load(Ordering::Relaxed),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oid::blob_sha;
    use crate::store::Store;

    fn tarball(entries: &[(&str, &[u8], Option<&str>)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (path, content, link) in entries {
            let mut header = tar::Header::new_gnu();
            match link {
                Some(target) => {
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_size(0);
                    header.set_cksum();
                    builder.append_link(&mut header, path, target).unwrap();
                }
                None => {
                    header.set_size(content.len() as u64);
                    header.set_mode(0o644);
                    header.set_cksum();
                    // Raw path bytes: `append_data` would refuse `..`, a hostile server won't.
                    let name = path.as_bytes();
                    header.as_old_mut().name[..name.len()].copy_from_slice(name);
                    header.set_cksum();
                    builder.append(&header, *content).unwrap();
                }
            }
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    fn expect(path: &str, content: &[u8], mode: Mode) -> (String, Expected) {
        (
            path.to_string(),
            Expected {
                sha: blob_sha(content),
                size: content.len() as u64,
                mode,
            },
        )
    }

    #[test]
    fn only_content_matching_the_tree_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let expected: HashMap<String, Expected> = [
            expect("a.txt", b"right\n", Mode::File),
            expect("b.txt", b"what the tree says\n", Mode::File),
            expect("link", b"a.txt", Mode::Symlink),
        ]
        .into_iter()
        .collect();
        let gz = tarball(&[
            ("acme-api-1234567/a.txt", b"right\n", None),
            ("acme-api-1234567/b.txt", b"tampered bytes!!!!\n", None),
            ("acme-api-1234567/../../escape", b"evil\n", None),
            ("acme-api-1234567/link", b"", Some("a.txt")),
        ]);
        let (files, bytes) =
            extract(&store, "acme/api", &gz[..], expected, 1 << 20, &|_| {}).unwrap();
        assert_eq!((files, bytes), (2, 6 + 5));
        assert!(store.blob_path(blob_sha(b"right\n"), 6).is_some());
        assert!(store.blob_path(blob_sha(b"a.txt"), 5).is_some());
        assert!(
            store
                .blob_path(blob_sha(b"what the tree says\n"), 19)
                .is_none()
        );
        assert!(
            store
                .blob_path(blob_sha(b"tampered bytes!!!!\n"), 19)
                .is_none()
        );
        assert!(store.blob_path(blob_sha(b"evil\n"), 5).is_none());
        assert!(
            !dir.path().join("escape").exists()
                && !dir.path().parent().unwrap().join("escape").exists()
        );
    }

    #[test]
    fn an_oversized_archive_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let big = vec![7u8; 200_000];
        let expected: HashMap<String, Expected> =
            [expect("big", &big, Mode::File)].into_iter().collect();
        let gz = tarball(&[("top/big", &big, None)]);
        // A limit below the archive's size: the read stops there and nothing is stored.
        let result = extract(&store, "acme/api", &gz[..], expected, 10_000, &|_| {});
        assert!(result.is_err() || result.unwrap().0 == 0);
        assert!(store.blob_path(blob_sha(&big), big.len() as u64).is_none());
    }
}
