//! Files matching globs across an owner's repositories (`heimdall github files`, the
//! Python SDK's `get_files_by_pattern`), by the rules of a shell glob over a mount at each
//! repository's root: `*` stays within one directory, `**` spans any number of them, and
//! a name starting with `.` is matched only by a pattern component that starts with `.`.
//! Each repository's trees come in one fetch (over git) and its matching files in one more.

use std::collections::BTreeMap;
use std::sync::Mutex;

use futures_util::StreamExt;
use globset::{GlobBuilder, GlobMatcher};

use super::run::{Listing, ScanError, Scanner};
use crate::namespace::{NamespaceError, RepoSpec};
use crate::oid::Sha;
use crate::remote::{Mode, RemoteError, TreeEntry};

/// Longest pattern accepted, and most patterns in one call.
const MAX_PATTERN: usize = 1024;
const MAX_PATTERNS: usize = 256;

/// Glob patterns over repository paths.
#[derive(Debug, Clone)]
pub struct FileGlobs(Vec<Vec<Component>>);

#[derive(Debug, Clone)]
enum Component {
    /// `**`: zero or more directories.
    AnyDepth,
    /// One name; `dot`: the pattern starts with `.`, so it may match hidden names.
    Name { matcher: GlobMatcher, dot: bool },
}

impl FileGlobs {
    /// `**/*.toml`, `pyproject.toml`, `.github/workflows/*.yml`, `src/**/*.py`.
    pub fn parse<S: AsRef<str>>(patterns: &[S]) -> Result<FileGlobs, NamespaceError> {
        let invalid = |why: String| NamespaceError::InvalidSpec(why);
        if patterns.is_empty() || patterns.len() > MAX_PATTERNS {
            return Err(invalid(format!(
                "give between 1 and {MAX_PATTERNS} glob patterns"
            )));
        }
        let mut globs = Vec::new();
        for pattern in patterns {
            let pattern = pattern.as_ref();
            if pattern.is_empty() || pattern.len() > MAX_PATTERN || pattern.contains('\0') {
                return Err(invalid(format!("`{pattern}` is not a glob pattern")));
            }
            let mut components = Vec::new();
            for part in pattern.trim_start_matches('/').split('/') {
                match part {
                    "" | "." => continue,
                    ".." => {
                        return Err(invalid(format!("`{pattern}`: `..` leaves the repository")));
                    }
                    "**" => components.push(Component::AnyDepth),
                    _ => {
                        let glob = GlobBuilder::new(part)
                            .literal_separator(true)
                            .backslash_escape(true)
                            .build()
                            .map_err(|e| invalid(format!("`{pattern}`: {e}")))?;
                        components.push(Component::Name {
                            matcher: glob.compile_matcher(),
                            dot: part.starts_with('.'),
                        });
                    }
                }
            }
            if components.is_empty() {
                return Err(invalid(format!("`{pattern}` names no file")));
            }
            globs.push(components);
        }
        Ok(FileGlobs(globs))
    }
}

/// One matching file, read.
#[derive(Debug, Clone)]
pub struct FoundFile {
    pub repository: String,
    pub path: String,
    pub sha: Sha,
    pub mode: Mode,
    pub content: Vec<u8>,
}

impl Scanner {
    /// Every file of `org`'s repositories (their default branches) that one of `globs`
    /// matches, with its content, sorted by repository and path. Empty repositories
    /// have no files.
    pub async fn find_files(
        &self,
        org: &str,
        globs: &FileGlobs,
        parallel: usize,
    ) -> Result<Vec<FoundFile>, ScanError> {
        let (repos, _offline) = self.list(org).await?;
        let found = Mutex::new(Vec::new());
        let failed: Mutex<Option<ScanError>> = Mutex::new(None);
        futures_util::stream::iter(&repos)
            .for_each_concurrent(parallel.max(1), |repo| {
                let (found, failed) = (&found, &failed);
                async move {
                    match self.find_in(org, &repo.name, globs).await {
                        Ok(files) => found.lock().expect("poisoned").extend(files),
                        Err(e) => {
                            failed.lock().expect("poisoned").get_or_insert(e);
                        }
                    }
                }
            })
            .await;
        if let Some(e) = failed.into_inner().expect("poisoned") {
            return Err(e);
        }
        let mut found = found.into_inner().expect("poisoned");
        found.sort_by(|a, b| (&a.repository, &a.path).cmp(&(&b.repository, &b.path)));
        Ok(found)
    }

    async fn find_in(
        &self,
        org: &str,
        repo: &str,
        globs: &FileGlobs,
    ) -> Result<Vec<FoundFile>, ScanError> {
        let spec = RepoSpec::new(org, repo, None)?;
        let commit = match self.ns.resolve_sha(&spec).await {
            Ok(commit) => commit,
            Err(NamespaceError::Remote(RemoteError::EmptyRepo { .. })) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let listing = self.listing(&spec, commit).await?;
        let root = match &listing {
            Listing::Rest(root) | Listing::Git { root, .. } => *root,
        };
        // (tree, its path with a trailing `/`, which component of which pattern is next)
        let mut stack: Vec<(Sha, String, usize, usize)> = (0..globs.0.len())
            .map(|g| (root, String::new(), g, 0))
            .collect();
        let mut matched: BTreeMap<String, TreeEntry> = BTreeMap::new();
        let mut seen = std::collections::HashSet::new();
        while let Some(state) = stack.pop() {
            if !seen.insert(state.clone()) {
                continue;
            }
            let (tree, prefix, g, c) = state;
            let pattern = &globs.0[g];
            let last = c + 1 == pattern.len();
            let entries = self.tree_of(&spec, &listing, tree).await?;
            match &pattern[c] {
                Component::AnyDepth => {
                    if last {
                        // A trailing `**` matches every (not hidden) file below.
                        for entry in entries.iter().filter(|e| !e.name.starts_with('.')) {
                            let path = format!("{prefix}{}", entry.name);
                            match entry.mode {
                                Mode::Tree => stack.push((entry.sha, format!("{path}/"), g, c)),
                                mode if mode.is_blob() => {
                                    matched.insert(path, entry.clone());
                                }
                                _ => {}
                            }
                        }
                        continue;
                    }
                    stack.push((tree, prefix.clone(), g, c + 1));
                    for entry in &entries {
                        if entry.mode == Mode::Tree && !entry.name.starts_with('.') {
                            stack.push((entry.sha, format!("{prefix}{}/", entry.name), g, c));
                        }
                    }
                }
                Component::Name { matcher, dot } => {
                    for entry in &entries {
                        if (entry.name.starts_with('.') && !dot) || !matcher.is_match(&entry.name) {
                            continue;
                        }
                        let path = format!("{prefix}{}", entry.name);
                        match entry.mode {
                            mode if last && mode.is_blob() => {
                                matched.insert(path, entry.clone());
                            }
                            Mode::Tree if !last => {
                                stack.push((entry.sha, format!("{path}/"), g, c + 1));
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
        let contents = self.read(&spec, &listing, &matched).await?;
        matched
            .into_iter()
            .map(|(path, entry)| {
                // Files with the same content share one id (and one read).
                let content = contents.get(&entry.sha).cloned().ok_or_else(|| {
                    NamespaceError::Remote(RemoteError::Corrupt {
                        what: format!("`{path}` in {spec}"),
                        why: format!("blob {} was not in the answer", entry.sha),
                    })
                })?;
                Ok(FoundFile {
                    repository: repo.to_string(),
                    path,
                    sha: entry.sha,
                    mode: entry.mode,
                    content,
                })
            })
            .collect()
    }

    /// The files' contents by id: over git in one fetch, else one by one through the store.
    async fn read(
        &self,
        spec: &RepoSpec,
        listing: &Listing,
        files: &BTreeMap<String, TreeEntry>,
    ) -> Result<std::collections::HashMap<Sha, Vec<u8>>, NamespaceError> {
        if let (Listing::Git { .. }, Some(git)) = (listing, self.ns.git()) {
            let shas: Vec<Sha> = files.values().map(|e| e.sha).collect();
            return git.read_blobs(&spec.owner, &spec.repo, &shas).await;
        }
        let mut contents = std::collections::HashMap::new();
        let reads = futures_util::future::join_all(files.iter().map(|(path, entry)| async move {
            let bytes = self.ns.blob_bytes(spec, entry, path).await?;
            Ok::<_, NamespaceError>((entry.sha, bytes))
        }))
        .await;
        for read in reads {
            let (sha, bytes) = read?;
            contents.insert(sha, bytes);
        }
        Ok(contents)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_parse_and_bad_ones_are_refused() {
        assert!(FileGlobs::parse(&["**/*.toml", ".github/workflows/*.yml", "a/[bc]d"]).is_ok());
        for bad in ["", "../x", "a/../b", "/", "a\0b", "[z-a]"] {
            assert!(FileGlobs::parse(&[bad]).is_err(), "{bad:?}");
        }
        assert!(FileGlobs::parse::<&str>(&[]).is_err());
    }
}
