//! Repo roots (`/<owner>/<repo>` and `/<owner>/<repo>@<ref>`): the commit each shows now.
//!
//! A root re-resolves its ref at most every ref TTL (a conditional request, free when
//! nothing moved), or at once when a push is announced. When the commit moves, the
//! kernel is told to drop the root's entries (its children change inode: their identity
//! is their SHA); when the ref is gone (GitHub answers not found) the root goes and the
//! kernel forgets it; when GitHub cannot be reached the last known commit is served.
//! A root pinned to a full commit SHA never re-resolves.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::attr::Invalidation;
use super::errno::{FsResult, fail};
use super::inode::{Ino, Inodes};
use crate::namespace::{Namespace, NamespaceError, RepoContext, RepoSpec};
use crate::remote::RemoteError;

struct RootState {
    spec: RepoSpec,
    /// `None` for an empty repository.
    repo: Option<Arc<RepoContext>>,
    checked: Instant,
}

/// The roots the kernel holds, by inode.
pub struct Roots {
    ref_ttl: Duration,
    states: Mutex<HashMap<Ino, RootState>>,
}

/// A ref that names a commit by its full SHA never moves.
pub fn is_pinned(spec: &RepoSpec) -> bool {
    spec.reference
        .as_deref()
        .is_some_and(|r| crate::oid::Sha::parse(r).is_ok())
}

impl Roots {
    pub fn new(ref_ttl: Duration) -> Roots {
        Roots {
            ref_ttl,
            states: Mutex::new(HashMap::new()),
        }
    }

    fn states(&self) -> std::sync::MutexGuard<'_, HashMap<Ino, RootState>> {
        self.states.lock().expect("roots poisoned")
    }

    /// What root `ino` (showing `spec`) shows, if that is known without asking: resolved
    /// within the ref TTL, or pinned. `Some(None)`: an empty repository.
    pub fn fresh(&self, ino: Ino, spec: &RepoSpec) -> Option<Option<Arc<RepoContext>>> {
        let states = self.states();
        let state = states.get(&ino)?;
        (is_pinned(spec) || state.checked.elapsed() < self.ref_ttl).then(|| state.repo.clone())
    }

    /// The commit root `ino` (showing `spec`) shows now, re-resolved when its TTL ran out
    /// or `force` (a push was announced). Tells the kernel (`invalidate`) what to forget
    /// when the commit moved or the ref is gone.
    pub async fn resolve(
        &self,
        ns: &Namespace,
        inodes: &Inodes,
        invalidate: &(dyn Fn(Invalidation) + Send + Sync),
        ino: Ino,
        spec: &RepoSpec,
        force: bool,
    ) -> FsResult<Option<Arc<RepoContext>>> {
        if !force
            && let Some(state) = self.states().get(&ino)
            && (is_pinned(spec) || state.checked.elapsed() < self.ref_ttl)
        {
            return Ok(state.repo.clone());
        }
        let resolved = match ns.resolve_listed(spec).await {
            Ok(commit) => Some(commit),
            Err(NamespaceError::Remote(RemoteError::EmptyRepo { .. })) => None,
            Err(e @ NamespaceError::Remote(RemoteError::NotFound { .. })) => {
                // The branch or tag was deleted (or the repository went away): the root
                // goes too, and the kernel forgets it.
                let known = self.states().remove(&ino);
                if known.is_some() {
                    tracing::info!(repo = %spec, "the ref is gone; so is its root");
                    invalidate(Invalidation::Inode(ino));
                    if let Some(node) = inodes.get(ino) {
                        invalidate(Invalidation::Entry(node.parent, node.name.clone()));
                    }
                }
                return Err(fail("resolving a repository", e));
            }
            Err(e) => {
                // Offline or failing: keep showing what we had.
                if let Some(state) = self.states().get(&ino) {
                    tracing::warn!(repo = %spec, error = %e, "cannot re-resolve; serving the last known commit");
                    return Ok(state.repo.clone());
                }
                return Err(fail("resolving a repository", e));
            }
        };
        let mut states = self.states();
        let previous = states
            .get(&ino)
            .and_then(|s| s.repo.as_ref().map(|r| r.commit.sha));
        let repo = match (resolved, states.get(&ino)) {
            (
                Some(commit),
                Some(RootState {
                    repo: Some(repo), ..
                }),
            ) if repo.commit.sha == commit.sha => Some(Arc::clone(repo)),
            (Some(commit), _) => Some(Arc::new(RepoContext {
                spec: spec.clone(),
                commit,
            })),
            (None, _) => None,
        };
        let current = repo.as_ref().map(|r| r.commit.sha);
        states.insert(
            ino,
            RootState {
                spec: spec.clone(),
                repo: repo.clone(),
                checked: Instant::now(),
            },
        );
        drop(states);
        if previous.is_some() && previous != current {
            tracing::info!(repo = %spec, from = ?previous, to = ?current, "branch moved");
            invalidate(Invalidation::Inode(ino));
            for name in inodes.child_names(ino) {
                invalidate(Invalidation::Entry(ino, name));
            }
        }
        Ok(repo)
    }

    /// The roots of `owner/repo` a push to `reference` (a branch or tag name) may have
    /// moved: those showing it, and those showing the default branch.
    pub fn pushed(&self, owner: &str, repo: &str, reference: &str) -> Vec<(Ino, RepoSpec)> {
        self.states()
            .iter()
            .filter(|(_, state)| {
                let spec = &state.spec;
                spec.owner.eq_ignore_ascii_case(owner)
                    && spec.repo.eq_ignore_ascii_case(repo)
                    && spec.reference.as_deref().is_none_or(|r| r == reference)
            })
            .map(|(ino, state)| (*ino, state.spec.clone()))
            .collect()
    }

    /// The kernel forgot root `ino`.
    pub fn forget(&self, ino: Ino) {
        self.states().remove(&ino);
    }
}
