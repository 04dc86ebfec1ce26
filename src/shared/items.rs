//! What goes into the shared cache and how each kind is checked on the way out of it.

use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sha2::Digest;

use super::{Body, SharedCache, keys};
use crate::oid::Sha;
use crate::remote::Tree;

/// Packs of one commit brought down at most.
const MAX_PACKS_PER_COMMIT: usize = 256;
/// A pack from the bucket is refused above this size (as one from GitHub would be).
const MAX_PACK_BYTES: u64 = 8 << 30;
/// Listings and pattern files are refused above this size.
const MAX_JSON_BYTES: u64 = 256 << 20;
/// Commit objects are refused above this size (GitHub's are a few hundred bytes).
const MAX_COMMIT_BYTES: u64 = 1 << 20;
/// Blobs over REST are shared up to this size (bigger ones come from GitHub each time).
const MAX_SHARED_BLOB: u64 = 512 << 20;

/// A commit's tree listing as the shared cache holds it.
#[derive(Debug, Serialize, Deserialize)]
pub struct SharedListing {
    pub root: Sha,
    pub trees: Vec<Tree>,
}

/// A JSON body and the SHA-256 of its text: what listings and patterns are stored as.
#[derive(Serialize, Deserialize)]
struct Envelope {
    sha256: String,
    body: String,
}

fn sha256_hex(text: &str) -> String {
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

fn seal(body: String) -> Bytes {
    let envelope = Envelope {
        sha256: sha256_hex(&body),
        body,
    };
    Bytes::from(serde_json::to_vec(&envelope).expect("an envelope serializes"))
}

/// The body of an envelope whose checksum holds.
fn open(bytes: &[u8]) -> Option<String> {
    let envelope: Envelope = serde_json::from_slice(bytes).ok()?;
    (sha256_hex(&envelope.body) == envelope.sha256).then_some(envelope.body)
}

impl SharedCache {
    /// Brings down the packs other machines stored for reads in `commit` (once per
    /// process; concurrent callers wait for the same attempt), each verified like a pack
    /// from GitHub. A bad pack is deleted from the bucket. Returns how many were stored.
    pub async fn hydrate_commit(self: &Arc<Self>, commit: Sha) -> usize {
        let cell = Arc::clone(
            self.hydrated
                .lock()
                .expect("hydrated poisoned")
                .entry(commit)
                .or_default(),
        );
        let mut stored = 0;
        cell.get_or_init(|| async {
            stored = self.hydrate_now(commit).await;
        })
        .await;
        stored
    }

    async fn hydrate_now(self: &Arc<Self>, commit: Sha) -> usize {
        let Some(listed) = self.list(&keys::packs_of(commit)).await else {
            return 0;
        };
        let names: Vec<(String, u64)> = listed
            .into_iter()
            .filter(|(name, size)| {
                name.starts_with("pack-") && name.ends_with(".pack") && *size <= MAX_PACK_BYTES
            })
            .take(MAX_PACKS_PER_COMMIT)
            .collect();
        if names.is_empty() {
            self.bump(1, 1);
            return 0;
        }
        let fetches = names.into_iter().map(|(file, _)| {
            let me = Arc::clone(self);
            async move { me.bring_pack(commit, &file).await }
        });
        let stored = futures_util::stream::iter(fetches)
            .buffer_unordered(4)
            .filter(|ok| std::future::ready(*ok))
            .count()
            .await;
        tracing::debug!(%commit, stored, "packs from the shared cache");
        stored
    }

    /// One pack: skipped when stored already, else downloaded and verified.
    async fn bring_pack(&self, commit: Sha, file: &str) -> bool {
        let name = file.trim_end_matches(".pack");
        if self.store.pack_file(name).is_some() {
            return true;
        }
        let rel = keys::pack(commit, file);
        let Some(bytes) = self.get(&rel, MAX_PACK_BYTES).await else {
            return false;
        };
        let store = Arc::clone(&self.store);
        let what = format!("shared cache {rel}");
        let checked = tokio::task::spawn_blocking(move || {
            let mut reader: &[u8] = &bytes;
            store.put_pack_from(&mut reader, &what, &[])
        })
        .await;
        match checked {
            Ok(Ok(summary)) if format!("{}.pack", summary.name) == file => {
                self.bump(0, 1);
                true
            }
            Ok(Ok(summary)) => {
                // Good objects under a wrong name: kept locally (verified), renamed in
                // the bucket by its next upload.
                tracing::debug!(
                    key = rel,
                    actual = summary.name,
                    "a shared pack under another name"
                );
                self.bump(0, 1);
                true
            }
            Ok(Err(e)) => {
                tracing::warn!(key = rel, error = %e, "a bad pack in the shared cache; deleted, GitHub instead");
                self.bump(6, 1);
                self.delete(&rel).await;
                false
            }
            Err(e) => {
                tracing::warn!(key = rel, error = %e, "checking a shared pack failed");
                false
            }
        }
    }

    /// Offers pack `name` (stored locally, fetched for reads in `commit` of
    /// `owner/repo`) to the shared cache.
    pub fn offer_pack(&self, owner: &str, repo: &str, commit: Sha, name: &str) {
        if let Some(path) = self.store.pack_file(name) {
            self.offer(
                owner,
                repo,
                &keys::pack(commit, &format!("{name}.pack")),
                Body::File(path),
            );
        }
    }

    /// Blob `sha` from the bucket into the local store; whether it is local now.
    pub async fn blob(&self, sha: Sha, size: u64) -> bool {
        if size > MAX_SHARED_BLOB {
            return false;
        }
        let rel = keys::blob(sha);
        let Some(bytes) = self.get(&rel, size).await else {
            return false;
        };
        match self.store.put_blob(sha, &bytes).await {
            Ok(_) if bytes.len() as u64 == size => {
                self.bump(0, 1);
                true
            }
            _ => {
                tracing::warn!(
                    key = rel,
                    "a bad blob in the shared cache; deleted, GitHub instead"
                );
                self.bump(6, 1);
                self.delete(&rel).await;
                false
            }
        }
    }

    /// Offers a blob downloaded from GitHub (stored at `path`).
    pub fn offer_blob(
        &self,
        owner: &str,
        repo: &str,
        sha: Sha,
        size: u64,
        path: std::path::PathBuf,
    ) {
        if size == 0 || size > MAX_SHARED_BLOB {
            return;
        }
        self.offer(owner, repo, &keys::blob(sha), Body::File(path));
    }

    /// Commit `sha` from its object in the bucket, hashed against its id.
    pub async fn commit(&self, sha: Sha) -> Option<crate::remote::CommitInfo> {
        let rel = keys::commit(sha);
        let bytes = self.get(&rel, MAX_COMMIT_BYTES).await?;
        match crate::store::packs::verified_commit(sha, &bytes) {
            Ok(commit) => {
                self.bump(0, 1);
                Some(commit)
            }
            Err(why) => {
                tracing::warn!(key = rel, %why, "a bad commit in the shared cache; deleted, GitHub instead");
                self.bump(6, 1);
                self.delete(&rel).await;
                None
            }
        }
    }

    /// Offers commit object `data` (bytes without the header, hashed to `sha` already).
    pub fn offer_commit(&self, owner: &str, repo: &str, sha: Sha, data: Vec<u8>) {
        if data.len() as u64 > MAX_COMMIT_BYTES {
            return;
        }
        self.offer(
            owner,
            repo,
            &keys::commit(sha),
            Body::Bytes(Bytes::from(data)),
        );
    }

    /// A listing of `commit` whose root is `root` (the commit's tree, from its verified
    /// commit object): every tree hashed against its id, the checksum over the sizes.
    pub async fn listing(&self, commit: Sha, root: Sha) -> Option<Vec<Tree>> {
        let rel = keys::listing(commit);
        let bytes = self.get(&rel, MAX_JSON_BYTES).await?;
        let good = open(&bytes)
            .and_then(|body| serde_json::from_str::<SharedListing>(&body).ok())
            .filter(|l| l.root == root && l.trees.iter().any(|t| t.sha == root))
            .filter(|l| {
                l.trees
                    .iter()
                    .all(|t| crate::remote::tree::tree_id(t) == t.sha)
            });
        match good {
            Some(listing) => {
                self.bump(0, 1);
                Some(listing.trees)
            }
            None => {
                tracing::warn!(
                    key = rel,
                    "a bad listing in the shared cache; deleted, GitHub instead"
                );
                self.bump(6, 1);
                self.delete(&rel).await;
                None
            }
        }
    }

    /// Offers a verified listing of `commit`.
    pub fn offer_listing(&self, owner: &str, repo: &str, commit: Sha, root: Sha, trees: &[Tree]) {
        // Only listings every tree of which hashes to its id: others could not be
        // checked by the machines that read them.
        if !trees
            .iter()
            .all(|t| crate::remote::tree::tree_id(t) == t.sha)
        {
            return;
        }
        let listing = SharedListing {
            root,
            trees: trees.to_vec(),
        };
        let body = serde_json::to_string(&listing).expect("a listing serializes");
        self.offer(owner, repo, &keys::listing(commit), Body::Bytes(seal(body)));
    }

    /// A scan's patterns of `owner/repo` at `commit` (extractor `version`), checksum held.
    pub async fn patterns(
        &self,
        owner: &str,
        repo: &str,
        commit: Sha,
        version: u32,
    ) -> Option<String> {
        let rel = keys::patterns(version, owner, repo, commit);
        let bytes = self.get(&rel, MAX_JSON_BYTES).await?;
        let good = open(&bytes)
            .filter(|body| serde_json::from_str::<crate::patterns::RepoPatterns>(body).is_ok());
        match good {
            Some(body) => {
                self.bump(0, 1);
                Some(body)
            }
            None => {
                tracing::warn!(
                    key = rel,
                    "bad patterns in the shared cache; deleted, extracted again"
                );
                self.bump(6, 1);
                self.delete(&rel).await;
                None
            }
        }
    }

    pub fn offer_patterns(&self, owner: &str, repo: &str, commit: Sha, version: u32, json: &str) {
        self.offer(
            owner,
            repo,
            &keys::patterns(version, owner, repo, commit),
            Body::Bytes(seal(json.to_string())),
        );
    }
}

use futures_util::StreamExt;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_refuse_a_changed_body() {
        let sealed = seal("{\"a\":1}".into());
        assert_eq!(open(&sealed).as_deref(), Some("{\"a\":1}"));
        let mut env: Envelope = serde_json::from_slice(&sealed).unwrap();
        env.body = "{\"a\":2}".into();
        assert_eq!(open(&serde_json::to_vec(&env).unwrap()), None);
        assert_eq!(open(b"not json"), None);
    }
}
