//! The client's parsers against real api.github.com responses, recorded by
//! `@octokit/fixtures` or taken from GitHub's OpenAPI examples (`tests/fixtures/octokit`).

use std::path::PathBuf;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use super::http::next_link;
use super::ratelimit::{parse_headers, retry_after};
use super::rest::parse_timestamp;
use super::tree::split_listing;
use super::types::wire;
use super::{Mode, Owner, RepoInfo};
use crate::oid::Sha;

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/octokit")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn body_bytes(f: &Value) -> Vec<u8> {
    serde_json::to_vec(&f["body"]).unwrap()
}

fn headers(f: &Value) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in f["headers"].as_object().into_iter().flatten() {
        let value = v
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string());
        map.insert(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(&value).unwrap(),
        );
    }
    map
}

#[test]
fn repo_listings_and_repos_parse() {
    let repos: Vec<RepoInfo> =
        serde_json::from_slice(&body_bytes(&fixture("repos-list-page1.json"))).unwrap();
    assert!(!repos.is_empty());
    assert!(
        repos
            .iter()
            .all(|r| !r.name.is_empty() && r.default_branch.is_some())
    );
    for name in ["repo-get.json", "repo-get-example.json"] {
        let repo: RepoInfo = serde_json::from_slice(&body_bytes(&fixture(name))).unwrap();
        assert!(!repo.name.is_empty(), "{name}");
    }
    let org: Owner = serde_json::from_slice(&body_bytes(&fixture("org-get.json"))).unwrap();
    assert_eq!(org.kind, "Organization");
}

#[test]
fn recorded_link_headers_paginate() {
    let first = fixture("list-page1.json");
    let next = next_link(&headers(&first)).expect("page 1 has a next link");
    assert!(next.starts_with("https://api.github.com/"), "{next}");
    let last = fixture("list-last-page.json");
    assert_eq!(next_link(&headers(&last)), None, "the last page has none");
}

#[test]
fn trees_commits_and_shas_parse() {
    let f = fixture("git-tree-recursive.json");
    let tree: wire::TreeResponse = serde_json::from_slice(&body_bytes(&f)).unwrap();
    let root = Sha::parse(&tree.sha).unwrap();
    // GitHub's documented example is an excerpt: `subdir/file.txt` without the `subdir`
    // tree entry that real recursive listings always carry. Such an orphan is refused,
    // never placed in a directory we would have to invent.
    let split = split_listing(root, &tree, true);
    assert!(split.trees.iter().any(|t| t.sha == root));
    assert_eq!(
        split.refused,
        [super::tree::Refusal::Orphan("subdir/file.txt".into())]
    );
    let f = fixture("git-tree.json");
    let tree: wire::TreeResponse = serde_json::from_slice(&body_bytes(&f)).unwrap();
    let root = Sha::parse(&tree.sha).unwrap();
    let split = split_listing(root, &tree, false);
    assert!(split.refused.is_empty(), "{:?}", split.refused);
    assert_eq!(split.trees.len(), 1);
    assert_eq!(split.trees[0].entries.len(), tree.tree.len());
    assert!(split.trees[0].entries.iter().any(|e| e.mode == Mode::File));

    let f = fixture("git-commit.json");
    let commit: wire::GitCommit = serde_json::from_slice(&body_bytes(&f)).unwrap();
    Sha::parse(&commit.tree.sha).unwrap();
    let date = commit.committer.and_then(|c| c.date).unwrap();
    assert!(parse_timestamp(&date).unwrap() > 1_000_000_000, "{date}");

    let f = fixture("commit-sha.json");
    Sha::parse(f["body"].as_str().unwrap().trim()).unwrap();
}

#[test]
fn rate_limit_shapes_parse() {
    let f = fixture("rate-limit.json");
    let limits: wire::RateLimitResponse = serde_json::from_slice(&body_bytes(&f)).unwrap();
    assert!(limits.resources.contains_key("core"));

    let exceeded = fixture("rate-limit-exceeded.json");
    assert_eq!(exceeded["status"], 403);
    let limit = parse_headers(&headers(&exceeded)).unwrap();
    assert_eq!(limit.remaining, 0);
    assert!(limit.reset > 0);

    let secondary = fixture("secondary-rate-limit.json");
    let h = headers(&secondary);
    let message = secondary["body"]["message"]
        .as_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(retry_after(&h).is_some() || message.contains("secondary rate limit"));

    let recorded = fixture("repo-get.json");
    let limit = parse_headers(&headers(&recorded)).unwrap();
    assert_eq!(limit.resource, "core");
    assert!(limit.limit >= limit.remaining);
}

#[test]
fn error_bodies_parse() {
    let f = fixture("not-found.json");
    assert_eq!(f["status"], 404);
    let body: wire::ErrorBody = serde_json::from_slice(&body_bytes(&f)).unwrap();
    assert!(!body.message.unwrap().is_empty());
    let f = fixture("empty-repo-409.json");
    let body: wire::ErrorBody = serde_json::from_slice(&body_bytes(&f)).unwrap();
    assert!(body.message.unwrap().contains("empty"));
}
