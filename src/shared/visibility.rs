//! Whether a repository's content may go to the shared cache: always with
//! `--shared-cache-private`, otherwise only when it is known to be public (the index
//! lists it as public, or its git endpoint answers an anonymous `ls-refs`). Unknown
//! counts as private.
//!
//! The answer is asked by the uploader tasks, never on a read's path: an offer is
//! queued at once, and only an answer already known to be "private" keeps it out of the
//! queue. Concurrent questions about one repository share one anonymous request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use crate::remote::git::GitRemote;
use crate::store::Store;

type RepoKey = (String, String);

pub struct Visibility {
    /// `--shared-cache-private`: every repository may be shared.
    private_ok: bool,
    store: Arc<Store>,
    /// A git client without credentials (public or not); `None`: unknown is private.
    anonymous: Option<Arc<GitRemote>>,
    known: Mutex<HashMap<RepoKey, Arc<OnceCell<bool>>>>,
}

impl Visibility {
    pub fn new(private_ok: bool, store: Arc<Store>, anonymous: Option<Arc<GitRemote>>) -> Self {
        Visibility {
            private_ok,
            store,
            anonymous,
            known: Mutex::new(HashMap::new()),
        }
    }

    fn cell(&self, owner: &str, repo: &str) -> Arc<OnceCell<bool>> {
        let key = (owner.to_ascii_lowercase(), repo.to_ascii_lowercase());
        let mut known = self.known.lock().expect("visibility poisoned");
        Arc::clone(known.entry(key).or_default())
    }

    /// The answer if it is known without a request: `Some(false)` only when the
    /// repository was found to be private (or not public) already.
    pub fn known(&self, owner: &str, repo: &str) -> Option<bool> {
        if self.private_ok {
            return Some(true);
        }
        self.cell(owner, repo).get().copied()
    }

    /// Whether content of `owner/repo` may be uploaded; asks at most once per process.
    pub async fn may_share(&self, owner: &str, repo: &str) -> bool {
        if self.private_ok {
            return true;
        }
        let cell = self.cell(owner, repo);
        *cell
            .get_or_init(|| async {
                let public = match self.store.index().repo(owner, repo) {
                    Ok(Some(info)) => !info.private,
                    _ => match &self.anonymous {
                        Some(git) => git
                            .ls_refs(owner, repo, &["HEAD".to_string()])
                            .await
                            .is_ok(),
                        None => false,
                    },
                };
                if !public {
                    tracing::debug!(%owner, %repo, "not uploaded to the shared cache: not known to be public");
                }
                public
            })
            .await
    }
}
