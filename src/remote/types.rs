//! What Heimdall needs from GitHub's answers, in git's and GitHub's words.
//!
//! Wire structs are lenient: every field a real response may omit is optional or
//! defaulted, so a field GitHub drops or adds never fails deserialization.

use serde::{Deserialize, Serialize};

use crate::oid::Sha;

/// An organization or user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub login: String,
    /// `Organization` or `User`.
    #[serde(rename = "type", default)]
    pub kind: String,
}

/// A repository as listed under an owner or fetched alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoInfo {
    pub name: String,
    #[serde(default)]
    pub full_name: Option<String>,
    #[serde(default)]
    pub default_branch: Option<String>,
    #[serde(default)]
    pub pushed_at: Option<String>,
    #[serde(default)]
    pub archived: bool,
    #[serde(default)]
    pub fork: bool,
    #[serde(default)]
    pub private: bool,
    #[serde(default)]
    pub visibility: Option<String>,
    /// Size in KB, as GitHub reports it.
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub stargazers_count: u64,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub topics: Vec<String>,
    #[serde(default)]
    pub license: Option<License>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct License {
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub spdx_id: Option<String>,
}

/// A commit's place in history: what a ref points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitInfo {
    pub sha: Sha,
    pub tree: Sha,
    /// Committer time, seconds since the epoch: the mtime of everything under the commit.
    pub time: i64,
}

/// Git's file modes, exactly the five git writes in trees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Mode {
    /// 100644
    File,
    /// 100755
    Executable,
    /// 120000: the blob's content is the link target.
    Symlink,
    /// 160000: a gitlink (submodule); the sha is a commit in another repository.
    Submodule,
    /// 040000
    Tree,
}

impl Mode {
    /// Parses the mode as GitHub prints it (`"040000"`) or git does (`"40000"`).
    pub fn parse(text: &str) -> Option<Mode> {
        match text {
            "100644" | "100664" | "100640" => Some(Mode::File),
            "100755" => Some(Mode::Executable),
            "120000" => Some(Mode::Symlink),
            "160000" => Some(Mode::Submodule),
            "040000" | "40000" => Some(Mode::Tree),
            _ => None,
        }
    }

    pub fn as_git(&self) -> &'static str {
        match self {
            Mode::File => "100644",
            Mode::Executable => "100755",
            Mode::Symlink => "120000",
            Mode::Submodule => "160000",
            Mode::Tree => "040000",
        }
    }

    /// The git object type an entry of this mode names.
    pub fn object_type(&self) -> &'static str {
        match self {
            Mode::File | Mode::Executable | Mode::Symlink => "blob",
            Mode::Submodule => "commit",
            Mode::Tree => "tree",
        }
    }

    pub fn is_blob(&self) -> bool {
        matches!(self, Mode::File | Mode::Executable | Mode::Symlink)
    }
}

/// One entry of one tree object (a single directory level).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeEntry {
    /// One path component: never empty, `.`, `..`, and never holds `/` or NUL.
    pub name: String,
    pub mode: Mode,
    pub sha: Sha,
    /// Blob size in bytes; 0 for trees and submodules.
    pub size: u64,
}

/// A tree object: the entries of one directory, sorted by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tree {
    pub sha: Sha,
    pub entries: Vec<TreeEntry>,
}

impl Tree {
    pub fn get(&self, name: &str) -> Option<&TreeEntry> {
        self.entries
            .binary_search_by(|e| e.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.entries[i])
    }
}

/// The state of one rate-limit resource as GitHub last reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RateLimit {
    pub resource: String,
    pub limit: u64,
    pub remaining: u64,
    pub used: u64,
    /// Epoch seconds when the window resets.
    pub reset: u64,
}

/// Wire shapes, private to the client and its parser tests.
pub(crate) mod wire {
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    pub struct TreeResponse {
        pub sha: String,
        #[serde(default)]
        pub tree: Vec<TreeItem>,
        #[serde(default)]
        pub truncated: bool,
    }

    #[derive(Debug, Deserialize)]
    pub struct TreeItem {
        pub path: String,
        pub mode: String,
        #[serde(rename = "type")]
        pub kind: String,
        pub sha: String,
        #[serde(default)]
        pub size: Option<u64>,
    }

    #[derive(Debug, Deserialize)]
    pub struct GitCommit {
        pub sha: String,
        pub tree: ShaRef,
        pub committer: Option<Signature>,
        pub author: Option<Signature>,
    }

    #[derive(Debug, Deserialize)]
    pub struct ShaRef {
        pub sha: String,
    }

    #[derive(Debug, Deserialize)]
    pub struct Signature {
        #[serde(default)]
        pub date: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    pub struct RateLimitResponse {
        pub resources: std::collections::BTreeMap<String, RateLimitResource>,
    }

    #[derive(Debug, Deserialize)]
    pub struct RateLimitResource {
        pub limit: u64,
        pub remaining: u64,
        pub reset: u64,
        #[serde(default)]
        pub used: u64,
    }

    #[derive(Debug, Deserialize)]
    pub struct ErrorBody {
        #[serde(default)]
        pub message: Option<String>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repo_with_only_a_name_still_parses() {
        let repo: RepoInfo =
            serde_json::from_str(r#"{"name": "x", "license": null, "language": null}"#).unwrap();
        assert_eq!(repo.name, "x");
        assert_eq!((repo.size, repo.archived, repo.topics.len()), (0, false, 0));
        let owner: Owner = serde_json::from_str(r#"{"login": "acme"}"#).unwrap();
        assert_eq!(owner.kind, "");
    }

    #[test]
    fn modes_round_trip_as_git_prints_them() {
        for text in ["100644", "100755", "120000", "160000", "040000"] {
            assert_eq!(Mode::parse(text).unwrap().as_git(), text);
        }
        assert_eq!(Mode::parse("40000"), Some(Mode::Tree));
        assert_eq!(Mode::parse("100600"), None);
    }
}
