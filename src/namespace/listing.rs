//! A commit's tree listing for a view about to show it: sent beside the ref's first
//! resolution, from the shared cache when another machine listed the commit, verified
//! against the commit's tree before anything of it is kept.

use super::{Namespace, NamespaceError, RepoSpec, full_sha, probes, verify_listing};
use crate::oid::Sha;
use crate::remote::{CommitInfo, Tree};

impl Namespace {
    /// [`Namespace::resolve`] for a view about to list the commit (a mount's repo root):
    /// where the commit object comes over git, the REST listing of its trees (by commit
    /// id, which GitHub accepts as a tree-ish) goes out at the same time instead of after
    /// it. A listing that fails or disagrees is dropped; the tree is asked for again later.
    ///
    /// A ref's first resolution (an `ls-refs`) goes out with the listing asked for by the
    /// ref's name, and the commit object is fetched as soon as `ls-refs` answered, so the
    /// listing costs no round trip of its own; it is kept only when the
    /// commit `ls-refs` named has the same root tree (a ref that moved in between gets
    /// the listing by commit id instead). Not for names tools probe for in parent
    /// directories ([`probes`]), which are almost never repositories.
    pub async fn resolve_listed(&self, spec: &RepoSpec) -> Result<CommitInfo, NamespaceError> {
        let name = spec.ref_name();
        // With a shared cache the listing may be there, by commit id: no REST request
        // before the commit is known.
        let speculate = self.shared.is_none()
            && full_sha(name).is_none()
            && !name.contains('/')
            && !probes::commonly_probed(&spec.repo)
            && self.git_for(&spec.owner, &spec.repo).is_some()
            && self
                .store
                .index()
                .ref_commit(&spec.owner, &spec.repo, name)?
                .is_none();
        if speculate {
            // The commit object goes out as soon as `ls-refs` answered, while the listing
            // is still on its way (a big tree's listing takes longer than both).
            let resolved = async {
                let sha = self.resolve_sha(spec).await?;
                match self.store.index().commit(sha)? {
                    Some(known) => Ok::<_, NamespaceError>((known, true)),
                    None => Ok((self.commit(spec, sha).await?, false)),
                }
            };
            let (resolved, listed) = tokio::join!(
                resolved,
                self.client.ref_trees(&spec.owner, &spec.repo, name)
            );
            let (commit, known) = resolved?;
            if known {
                return Ok(commit);
            }
            let listed = match listed {
                Ok((root, trees)) if root == commit.tree => {
                    verify_listing(self.git.as_deref(), &spec.owner, &spec.repo, &trees)
                        .await
                        .map(|()| (root, trees))
                }
                Ok((root, _)) => {
                    tracing::info!(repo = %spec, commit = %commit.sha, listed = %root, tree = %commit.tree, "the ref moved between ls-refs and its listing; listing the commit");
                    self.commit_listing(spec, commit.sha).await
                }
                Err(_) => self.commit_listing(spec, commit.sha).await,
            };
            self.keep_listing(spec, &commit, listed)?;
            return Ok(commit);
        }
        let sha = self.resolve_sha(spec).await?;
        if let Some(known) = self.store.index().commit(sha)? {
            return Ok(known);
        }
        if self.shared.is_some() {
            // The commit object first (over git, free), then its listing from the shared
            // cache, checked against the commit's tree; GitHub only when it is not there.
            let commit = self.commit(spec, sha).await?;
            if !self.shared_listing(sha, commit.tree).await? {
                self.keep_listing(spec, &commit, self.commit_listing(spec, sha).await)?;
            }
            return Ok(commit);
        }
        if self.git_for(&spec.owner, &spec.repo).is_none() {
            return self.commit(spec, sha).await;
        }
        let (commit, listed) = tokio::join!(self.commit(spec, sha), self.commit_listing(spec, sha));
        let commit = commit?;
        self.keep_listing(spec, &commit, listed)?;
        Ok(commit)
    }

    /// Stores a listing of `commit` that names its root tree; logs and drops any other.
    fn keep_listing(
        &self,
        spec: &RepoSpec,
        commit: &CommitInfo,
        listed: Result<(Sha, Vec<Tree>), NamespaceError>,
    ) -> Result<(), NamespaceError> {
        match listed {
            Ok((root, trees)) if root == commit.tree => self.store.index().put_trees(&trees)?,
            Ok((root, _)) => {
                tracing::warn!(repo = %spec, commit = %commit.sha, listed = %root, tree = %commit.tree, "the listing of a commit names another root tree; dropped");
            }
            Err(e) => tracing::debug!(repo = %spec, error = %e, "listing with the commit failed"),
        }
        Ok(())
    }

    /// The REST recursive listing of `commit` (by commit id, which GitHub accepts as a
    /// tree-ish): its root tree and every tree below, verified, not yet stored.
    pub(super) async fn commit_listing(
        &self,
        spec: &RepoSpec,
        commit: Sha,
    ) -> Result<(Sha, Vec<Tree>), NamespaceError> {
        let (root, trees) = self
            .client
            .commit_trees(&spec.owner, &spec.repo, commit)
            .await?;
        verify_listing(self.git.as_deref(), &spec.owner, &spec.repo, &trees).await?;
        if let Some(shared) = &self.shared {
            shared.offer_listing(&spec.owner, &spec.repo, commit, root, &trees);
        }
        Ok((root, trees))
    }

    /// The listing of `commit` (whose root tree is `root`, from its commit object) from
    /// the shared cache, stored; whether it was there and good.
    async fn shared_listing(&self, commit: Sha, root: Sha) -> Result<bool, NamespaceError> {
        let Some(shared) = &self.shared else {
            return Ok(false);
        };
        match shared.listing(commit, root).await {
            Some(trees) => {
                self.store.index().put_trees(&trees)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}
