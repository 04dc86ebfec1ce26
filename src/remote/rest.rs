//! GitHub's REST endpoints as the [`GitHubClient`] of [`HttpClient`]: owners, repository
//! listings (paginated), ref polls (conditional, free when nothing moved), commits, tree
//! listings (recursive, split per directory and expanded where GitHub truncates), blobs
//! and tarballs. The request life (budgets, retries, revalidation) is [`super::http`]'s.

use async_trait::async_trait;
use futures_util::StreamExt;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use super::client::{ByteStream, GitHubClient, RefPoll, RequestCounts};
use super::error::RemoteError;
use super::http::{ACCEPT_JSON, HttpClient, MAX_JSON_BYTES, parse_json};
use super::tree::split_listing;
use super::types::{CommitInfo, Mode, Owner, RateLimit, RepoInfo, Tree, wire};
use crate::oid::Sha;

/// Raw blob bytes.
const ACCEPT_RAW: &str = "application/vnd.github.raw+json";
/// A commit's SHA alone (ref polls: 40 bytes, and a free 304 when unchanged).
const ACCEPT_SHA: &str = "application/vnd.github.sha";
/// GitHub's largest page.
const PER_PAGE: u32 = 100;
/// Pages followed for one listing: 100,000 repositories.
const MAX_PAGES: usize = 1000;
/// Largest tree listing: GitHub truncates at 100,000 entries (~25 MB of JSON).
const MAX_TREE_JSON_BYTES: usize = 128 << 20;

/// Characters escaped in one path segment (owner, repo, ref): everything that could
/// change the path's meaning.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'\\');

fn seg(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT).to_string()
}

/// Parses GitHub's `2011-04-14T16:00:49Z` (and offsets such as `+02:00`) to epoch seconds.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.len() < 19 {
        return None;
    }
    let (civil, zone) = text.split_at(19);
    let base = humantime::parse_rfc3339_weak(civil).ok()?;
    let base = base.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs() as i64;
    let zone = zone.trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    let offset = match zone {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = match zone.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (h, m) = zone[1..].split_once(':')?;
            sign * (h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60)
        }
    };
    Some(base - offset)
}

impl HttpClient {
    async fn tree_listing(
        &self,
        owner: &str,
        repo: &str,
        sha: Sha,
        recursive: bool,
    ) -> Result<(Vec<Tree>, bool), RemoteError> {
        let (root, trees, truncated) = self
            .tree_listing_of(owner, repo, &sha.to_string(), recursive)
            .await?;
        if root != sha {
            return Err(RemoteError::Corrupt {
                what: format!("GET /repos/{owner}/{repo}/git/trees/{sha}"),
                why: format!("asked for tree {sha}, got {root}"),
            });
        }
        Ok((trees, truncated))
    }

    /// The listing of `tree_ish` (a tree, or a commit whose tree GitHub peels): the root
    /// tree's SHA as GitHub names it, the trees, and whether GitHub truncated them.
    async fn tree_listing_of(
        &self,
        owner: &str,
        repo: &str,
        tree_ish: &str,
        recursive: bool,
    ) -> Result<(Sha, Vec<Tree>, bool), RemoteError> {
        let mut path = format!(
            "/repos/{}/{}/git/trees/{}",
            seg(owner),
            seg(repo),
            seg(tree_ish)
        );
        if recursive {
            path.push_str("?recursive=1");
        }
        let page = self
            .get_immutable(path.clone(), MAX_TREE_JSON_BYTES)
            .await?;
        let what = format!("GET {}", path.split('?').next().unwrap_or(&path));
        let response: wire::TreeResponse = parse_json(&page.body, &what)?;
        let sha = Sha::parse(&response.sha).map_err(|_| RemoteError::Corrupt {
            what: what.clone(),
            why: format!("`{}` is not a tree SHA", response.sha),
        })?;
        let split = split_listing(sha, &response, recursive);
        let mut trees = split.trees;
        // Root first, for callers that want it.
        if let Some(pos) = trees.iter().position(|t| t.sha == sha) {
            trees.swap(0, pos);
        }
        Ok((sha, trees, response.truncated))
    }

    /// The recursive listing of a tree-ish (a commit id or a ref name): its root tree and
    /// every tree below; a truncated answer is completed subtree by subtree.
    async fn listing_of(
        &self,
        owner: &str,
        repo: &str,
        tree_ish: &str,
    ) -> Result<(Sha, Vec<Tree>), RemoteError> {
        let (root, trees, truncated) = self.tree_listing_of(owner, repo, tree_ish, true).await?;
        if truncated {
            // The recursive listing was just refused whole: go straight to the subtrees.
            return Ok((root, self.expand_truncated(owner, repo, root).await?));
        }
        Ok((root, trees))
    }

    fn complete_trees<'a>(
        &'a self,
        owner: &'a str,
        repo: &'a str,
        sha: Sha,
    ) -> futures_util::future::BoxFuture<'a, Result<Vec<Tree>, RemoteError>> {
        Box::pin(async move {
            let (trees, truncated) = self.tree_listing(owner, repo, sha, true).await?;
            if !truncated {
                return Ok(trees);
            }
            self.expand_truncated(owner, repo, sha).await
        })
    }

    /// The trees of `sha` whose recursive listing GitHub truncated: its own entries, then
    /// each subtree's trees ([`HttpClient::complete_trees`]).
    async fn expand_truncated(
        &self,
        owner: &str,
        repo: &str,
        sha: Sha,
    ) -> Result<Vec<Tree>, RemoteError> {
        tracing::info!(owner, repo, tree = %sha, "tree listing truncated; fetching subtrees one by one");
        let root = self.tree(owner, repo, sha).await?;
        let children: Vec<Sha> = root
            .entries
            .iter()
            .filter(|e| e.mode == Mode::Tree)
            .map(|e| e.sha)
            .collect();
        let mut all = vec![root];
        let mut results = futures_util::stream::iter(children)
            .map(|child| self.complete_trees(owner, repo, child))
            .buffer_unordered(self.concurrency());
        while let Some(result) = results.next().await {
            all.extend(result?);
        }
        Ok(all)
    }
}

#[async_trait]
impl GitHubClient for HttpClient {
    async fn owner(&self, login: &str) -> Result<Owner, RemoteError> {
        let path = format!("/users/{}", seg(login));
        let page = self.get_revalidated(path.clone()).await?;
        parse_json(&page.body, &format!("GET {path}"))
    }

    async fn list_repos(&self, owner: &Owner) -> Result<Vec<RepoInfo>, RemoteError> {
        let first = if owner.kind.eq_ignore_ascii_case("user") {
            format!(
                "/users/{}/repos?per_page={PER_PAGE}&type=owner",
                seg(&owner.login)
            )
        } else {
            format!(
                "/orgs/{}/repos?per_page={PER_PAGE}&type=all",
                seg(&owner.login)
            )
        };
        let mut repos = Vec::new();
        let mut next = Some(first);
        let mut pages = 0;
        while let Some(target) = next.take() {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(RemoteError::Corrupt {
                    what: format!("GET /orgs/{}/repos", owner.login),
                    why: format!("more than {MAX_PAGES} pages"),
                });
            }
            let page = self.get_revalidated(target).await?;
            let batch: Vec<RepoInfo> =
                parse_json(&page.body, &format!("GET repos of {}", owner.login))?;
            repos.extend(batch);
            next = page.next;
        }
        Ok(repos)
    }

    async fn repo(&self, owner: &str, repo: &str) -> Result<RepoInfo, RemoteError> {
        let path = format!("/repos/{}/{}", seg(owner), seg(repo));
        let page = self.get_revalidated(path.clone()).await?;
        parse_json(&page.body, &format!("GET {path}"))
    }

    async fn poll_ref(
        &self,
        owner: &str,
        repo: &str,
        reference: &str,
        known: Option<Sha>,
    ) -> Result<RefPoll, RemoteError> {
        let path = format!(
            "/repos/{}/{}/commits/{}",
            seg(owner),
            seg(repo),
            seg(reference)
        );
        let mut spec = self.spec(&path, ACCEPT_SHA);
        spec.if_none_match = known.map(|sha| format!("\"{sha}\""));
        let page = match self.fetch(&spec, 1024).await {
            Ok(page) => page,
            // GitHub answers 422 "No commit found for SHA" for an unknown ref.
            Err(RemoteError::Unexpected {
                what, status: 422, ..
            }) => return Err(RemoteError::NotFound { what }),
            Err(e) => return Err(e),
        };
        if page.not_modified {
            return if known.is_some() {
                Ok(RefPoll::Unchanged)
            } else {
                Err(RemoteError::Unexpected {
                    what: spec.what,
                    status: 304,
                    message: "not modified without a known commit".into(),
                })
            };
        }
        let text = String::from_utf8_lossy(&page.body);
        let sha = Sha::parse(text.trim()).map_err(|e| RemoteError::Corrupt {
            what: spec.what,
            why: e.to_string(),
        })?;
        Ok(if Some(sha) == known {
            RefPoll::Unchanged
        } else {
            RefPoll::Moved(sha)
        })
    }

    async fn commit(&self, owner: &str, repo: &str, sha: Sha) -> Result<CommitInfo, RemoteError> {
        let path = format!("/repos/{}/{}/git/commits/{}", seg(owner), seg(repo), sha);
        let page = self.get_immutable(path.clone(), MAX_JSON_BYTES).await?;
        let what = format!("GET {path}");
        let commit: wire::GitCommit = parse_json(&page.body, &what)?;
        let corrupt = |why: String| RemoteError::Corrupt {
            what: what.clone(),
            why,
        };
        if Sha::parse(&commit.sha).ok() != Some(sha) {
            return Err(corrupt(format!(
                "asked for commit {sha}, got {}",
                commit.sha
            )));
        }
        let tree = Sha::parse(&commit.tree.sha).map_err(|e| corrupt(e.to_string()))?;
        let date = commit
            .committer
            .as_ref()
            .or(commit.author.as_ref())
            .and_then(|s| s.date.as_deref());
        let time = date.and_then(parse_timestamp).unwrap_or(0);
        Ok(CommitInfo { sha, tree, time })
    }

    async fn trees(&self, owner: &str, repo: &str, sha: Sha) -> Result<Vec<Tree>, RemoteError> {
        self.complete_trees(owner, repo, sha).await
    }

    async fn commit_trees(
        &self,
        owner: &str,
        repo: &str,
        commit: Sha,
    ) -> Result<(Sha, Vec<Tree>), RemoteError> {
        self.listing_of(owner, repo, &commit.to_string()).await
    }

    async fn ref_trees(
        &self,
        owner: &str,
        repo: &str,
        reference: &str,
    ) -> Result<(Sha, Vec<Tree>), RemoteError> {
        self.listing_of(owner, repo, reference).await
    }

    async fn tree(&self, owner: &str, repo: &str, sha: Sha) -> Result<Tree, RemoteError> {
        let (mut trees, _) = self.tree_listing(owner, repo, sha, false).await?;
        let root = trees
            .iter()
            .position(|t| t.sha == sha)
            .ok_or_else(|| RemoteError::Corrupt {
                what: format!("GET /repos/{owner}/{repo}/git/trees/{sha}"),
                why: "the listing lacks the tree asked for".into(),
            })?;
        Ok(trees.swap_remove(root))
    }

    async fn blob(&self, owner: &str, repo: &str, sha: Sha) -> Result<ByteStream, RemoteError> {
        let path = format!("/repos/{}/{}/git/blobs/{}", seg(owner), seg(repo), sha);
        self.stream(self.spec(&path, ACCEPT_RAW)).await
    }

    async fn tarball(
        &self,
        owner: &str,
        repo: &str,
        commit: Sha,
    ) -> Result<ByteStream, RemoteError> {
        let path = format!("/repos/{}/{}/tarball/{}", seg(owner), seg(repo), commit);
        self.stream(self.spec(&path, ACCEPT_JSON)).await
    }

    async fn fetch_rate_limits(&self) -> Result<Vec<RateLimit>, RemoteError> {
        let spec = self.spec("/rate_limit", ACCEPT_JSON);
        let page = self.fetch(&spec, MAX_JSON_BYTES).await?;
        let response: wire::RateLimitResponse = parse_json(&page.body, &spec.what)?;
        let limits: Vec<RateLimit> = response
            .resources
            .into_iter()
            .map(|(resource, r)| RateLimit {
                resource,
                limit: r.limit,
                remaining: r.remaining,
                used: r.used,
                reset: r.reset,
            })
            .collect();
        for limit in &limits {
            self.governor().record(limit.clone());
        }
        Ok(limits)
    }

    fn rate_limits(&self) -> Vec<RateLimit> {
        self.governor().snapshot()
    }

    fn counts(&self) -> RequestCounts {
        self.request_counts()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:10Z"), Some(10));
        assert_eq!(parse_timestamp("2011-04-14T16:00:49Z"), Some(1302796849));
        assert_eq!(
            parse_timestamp("2011-04-14T18:00:49+02:00"),
            Some(1302796849)
        );
        assert_eq!(
            parse_timestamp("2011-04-14T16:00:49.000Z"),
            Some(1302796849)
        );
        assert_eq!(parse_timestamp("garbage"), None);
    }

    #[test]
    fn segments_cannot_change_the_path() {
        assert_eq!(seg("feature/x"), "feature%2Fx");
        assert_eq!(seg("../x?y#z"), "..%2Fx%3Fy%23z");
    }
}
