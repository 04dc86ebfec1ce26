//! What Heimdall asks of GitHub, as a trait ([`GitHubClient`]), so the namespace, the
//! scanner and tests do not depend on how it is asked (REST today; the git protocol next).

use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::Stream;
use serde::Serialize;

use super::error::RemoteError;
use super::types::{CommitInfo, Owner, RateLimit, RepoInfo, Tree};
use crate::oid::Sha;

/// A streamed response body.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, RemoteError>> + Send>>;

/// What a conditional ref poll found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefPoll {
    /// The ref still points at the commit we knew (304: free on GitHub).
    Unchanged,
    /// The ref points at this commit.
    Moved(Sha),
}

/// Everything Heimdall asks of GitHub.
#[async_trait]
pub trait GitHubClient: Send + Sync {
    /// The owner (organization or user) named `login`.
    async fn owner(&self, login: &str) -> Result<Owner, RemoteError>;
    /// Every repository of `owner`, following pagination to the end.
    async fn list_repos(&self, owner: &Owner) -> Result<Vec<RepoInfo>, RemoteError>;
    async fn repo(&self, owner: &str, repo: &str) -> Result<RepoInfo, RemoteError>;
    /// The commit `reference` (branch, tag, SHA, or `HEAD` for the default branch)
    /// points at; with `known`, a conditional poll that is free when nothing moved.
    async fn poll_ref(
        &self,
        owner: &str,
        repo: &str,
        reference: &str,
        known: Option<Sha>,
    ) -> Result<RefPoll, RemoteError>;
    /// A commit's tree and time.
    async fn commit(&self, owner: &str, repo: &str, sha: Sha) -> Result<CommitInfo, RemoteError>;
    /// Every tree object reachable from tree `sha` (the root first), fetched with as few
    /// requests as GitHub allows: one recursive listing, or, when GitHub truncates it,
    /// per-subtree listings.
    async fn trees(&self, owner: &str, repo: &str, sha: Sha) -> Result<Vec<Tree>, RemoteError>;
    /// One tree object alone (non-recursive).
    async fn tree(&self, owner: &str, repo: &str, sha: Sha) -> Result<Tree, RemoteError>;
    /// The root tree of commit `commit` and every tree below it, without fetching the
    /// commit object (GitHub's trees endpoint takes a commit SHA): one request where
    /// `commit` then `trees` take two, for callers that need no commit time.
    async fn commit_trees(
        &self,
        owner: &str,
        repo: &str,
        commit: Sha,
    ) -> Result<(Sha, Vec<Tree>), RemoteError>;
    /// [`GitHubClient::commit_trees`] by a ref name (`HEAD`, a branch or a tag: GitHub's
    /// trees endpoint takes those too): the trees of whatever the ref names when GitHub
    /// answers. Nothing ties them to a commit: the caller trusts them only once a commit
    /// it resolved itself names the same root tree.
    async fn ref_trees(
        &self,
        owner: &str,
        repo: &str,
        reference: &str,
    ) -> Result<(Sha, Vec<Tree>), RemoteError>;
    /// The raw bytes of a blob, streamed.
    async fn blob(&self, owner: &str, repo: &str, sha: Sha) -> Result<ByteStream, RemoteError>;
    /// A gzipped tarball of a commit (GitHub's `{owner}-{repo}-{sha7}/` layout), streamed.
    async fn tarball(
        &self,
        owner: &str,
        repo: &str,
        commit: Sha,
    ) -> Result<ByteStream, RemoteError>;
    /// Asks GitHub for the current budgets (`/rate_limit`, which costs nothing).
    async fn fetch_rate_limits(&self) -> Result<Vec<RateLimit>, RemoteError>;
    /// The budgets as last reported by any response.
    fn rate_limits(&self) -> Vec<RateLimit>;
    /// Requests sent so far, for budgets and status.
    fn counts(&self) -> RequestCounts;
}

/// A response remembered for revalidation with `If-None-Match`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedResponse {
    pub etag: String,
    /// The `Link: rel="next"` URL, for paginated listings.
    pub next: Option<String>,
    pub body: Bytes,
}

/// Where the client keeps ETags and bodies between runs (the store implements it).
pub trait ResponseCache: Send + Sync {
    fn get(&self, key: &str) -> Option<CachedResponse>;
    fn put(&self, key: &str, response: &CachedResponse);
}

/// Requests sent by one client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RequestCounts {
    /// Requests sent, including retries and revalidations.
    pub sent: u64,
    /// Revalidations answered 304 (free on GitHub).
    pub not_modified: u64,
    /// Attempts that were retries.
    pub retries: u64,
    /// The last attempt got no answer at all (GitHub unreachable, or a timeout): the
    /// mount serves what it has and says so in `/.status`.
    pub unreachable: bool,
}
