//! Talking to GitHub: the [`GitHubClient`] trait (`client`) and its REST implementation,
//! [`HttpClient`]: the request life in `http`, the endpoints in `rest`, rate-limit
//! budgets in [`ratelimit`], tree listings turned into verified-shape trees in [`tree`];
//! and git's own protocol in [`git`] (fetches of packs and `ls-refs`, not counted
//! against the REST budget).
//!
//! Every request goes through one client that knows the rate-limit budget, bounds
//! concurrency, coalesces identical in-flight requests, retries what is transient and
//! revalidates with ETags wherever one is known. Blob and tarball bodies are streams, so
//! no content is ever held whole in memory.

pub mod app;
mod client;
mod error;
pub mod git;
mod http;
pub mod ratelimit;
mod rest;
pub mod tree;
pub mod types;

pub use client::{ByteStream, CachedResponse, GitHubClient, RefPoll, RequestCounts, ResponseCache};
pub use error::RemoteError;
pub use http::HttpClient;
pub use rest::parse_timestamp;
pub use types::{CommitInfo, License, Mode, Owner, RateLimit, RepoInfo, Tree, TreeEntry};

#[cfg(test)]
mod fixture_tests;
