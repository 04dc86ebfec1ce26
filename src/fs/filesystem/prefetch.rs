//! What the mount fetches before anyone asks (over git only; nobody waits for it): the
//! rule that makes a lazy mount move what tools read, not what the repository holds.
//!
//! - The first miss in a commit brings its tool files with it: the root directory's
//!   small files (configuration: `pyproject.toml`, `package.json`, `setup.cfg`, ...) and
//!   every ignore file in the commit (`.gitignore`, `.ignore`, `.rgignore`), which every
//!   walker (ruff, rg, fd, mypy) reads as it enters each directory. One batch instead of a
//!   round trip per directory. A listing alone (`ls -l`, `find`, `du`) fetches nothing.
//! - A miss brings its siblings of the same kind and the directory's small files.
//! - The first miss of a kind (an extension, or a family of them that tools read
//!   together: `.py` with `.pyi`, `.js` with `.ts`, ...) in a commit brings that kind
//!   commit-wide.

use std::ops::ControlFlow;
use std::sync::Arc;

use super::base::FsCore;
use crate::fs::inode::{Node, NodeKind};
use crate::namespace::git::GitFetcher;
use crate::namespace::{Namespace, RepoContext};
use crate::oid::Sha;
use crate::remote::{Mode, TreeEntry};

/// A miss's siblings of another kind are prefetched up to this size each, and this
/// many bytes in all; the same bounds hold for a root's tool files.
const PREFETCH_OTHER_MAX: u64 = 64 << 10;
const PREFETCH_OTHER_BYTES: u64 = 1 << 20;
/// A kind of file is prefetched commit-wide up to this many bytes.
const PREFETCH_KIND_BYTES: u64 = 64 << 20;
/// The files every walker reads in each directory it enters.
const IGNORE_FILES: [&str; 3] = [".gitignore", ".ignore", ".rgignore"];
/// The pseudo kind that marks a commit's tool files as prefetched.
const TOOL_FILES: &str = "/tool-files";

impl FsCore {
    /// The first miss in a commit also asks for its tool files (see the module note),
    /// in the same batch.
    pub(super) fn prefetch_tool_files(&self, repo: &Arc<RepoContext>) {
        let Some(git) = self.ns.git_for(&repo.spec.owner, &repo.spec.repo) else {
            return;
        };
        if git.first_of_kind(repo.commit.sha, TOOL_FILES) {
            let wants = tool_files(&self.ns, repo.commit.tree);
            git.prefetch(
                &repo.spec.owner,
                &repo.spec.repo,
                Some(repo.commit.sha),
                &wants,
            );
        }
    }

    /// Over git: a miss also asks for the file's missing siblings of the same kind (the
    /// same extension in the same directory), which a tool that reads one `.py` file of a
    /// package reads next, and the directory's small files of other kinds (up to 1 MiB);
    /// they join the same batch, so a directory costs one fetch instead of one per file.
    /// Nobody waits for them.
    pub(super) fn prefetch_siblings(&self, node: &Node, repo: &Arc<RepoContext>) {
        let Some(git) = self.ns.git_for(&repo.spec.owner, &repo.spec.repo) else {
            return;
        };
        let Some(ext) = kind(&node.name) else {
            return;
        };
        let dir = match self.inodes.get(node.parent).map(|p| p.kind.clone()) {
            Some(NodeKind::Content {
                mode: Mode::Tree,
                sha,
                ..
            }) => sha,
            Some(NodeKind::RepoRoot { .. }) => repo.commit.tree,
            _ => return,
        };
        let Ok(Some(tree)) = self.ns.cached_tree(dir) else {
            return;
        };
        // Files of the same kind, then small files of other kinds up to a byte budget
        // (a sequential reader such as `diff -r` or `cat *` reads those too; a tool that
        // does not costs bytes, never requests).
        let mut other_bytes = 0u64;
        let siblings: Vec<_> = tree
            .entries
            .iter()
            .filter(|e| matches!(e.mode, Mode::File | Mode::Executable) && e.name != node.name)
            .filter(|e| {
                if kind(&e.name) == Some(ext) {
                    return true;
                }
                if e.size <= PREFETCH_OTHER_MAX && other_bytes + e.size <= PREFETCH_OTHER_BYTES {
                    other_bytes += e.size;
                    return true;
                }
                false
            })
            .map(|e| (e.sha, e.size))
            .collect();
        git.prefetch(
            &repo.spec.owner,
            &repo.spec.repo,
            Some(repo.commit.sha),
            &siblings,
        );
        if git.first_of_kind(repo.commit.sha, ext) {
            self.prefetch_kind(git, repo, ext);
        }
    }

    /// The first miss of a kind of file (an extension) in a commit prefetches every
    /// file of that kind in the commit, up to [`PREFETCH_KIND_BYTES`]: a tool that walked
    /// the tree and reads one `.py` file reads them all (ruff, mypy, compileall), and
    /// batches of up to 16 MiB going out 4 at a time bring them far sooner than a round trip per
    /// directory. A tool that reads one kind does not pay for the others (a JavaScript
    /// monorepo's `.js` stay on GitHub while ruff reads its few `.py`). In the background,
    /// from the trees already listed; nobody waits for it.
    fn prefetch_kind(&self, git: &Arc<GitFetcher>, repo: &Arc<RepoContext>, ext: &str) {
        let (ns, git, repo) = (Arc::clone(&self.ns), Arc::clone(git), Arc::clone(repo));
        let ext = ext.to_string();
        tokio::spawn(async move {
            let mut wants = Vec::new();
            let mut bytes = 0u64;
            walk_files(&ns, repo.commit.tree, |_, e| {
                if kind(&e.name) != Some(ext.as_str()) {
                    return ControlFlow::Continue(());
                }
                if bytes + e.size > PREFETCH_KIND_BYTES {
                    return ControlFlow::Break(());
                }
                bytes += e.size;
                wants.push((e.sha, e.size));
                ControlFlow::Continue(())
            });
            git.prefetch(
                &repo.spec.owner,
                &repo.spec.repo,
                Some(repo.commit.sha),
                &wants,
            );
        });
    }
}

/// A file's kind for prefetching: its extension, with the extensions tools read
/// together folded into one (ruff and mypy read `.pyi` stubs beside `.py`; JavaScript
/// tools read `.ts`, `.jsx`, `.mjs` alike; C compilers read `.h` with `.c`). `None`
/// without an extension (or for a dotfile's name alone).
fn kind(name: &str) -> Option<&str> {
    let (stem, ext) = name.rsplit_once('.')?;
    if stem.is_empty() {
        return None;
    }
    Some(match ext {
        "py" | "pyi" | "pyx" | "pxd" => "py",
        "js" | "mjs" | "cjs" | "jsx" | "ts" | "mts" | "cts" | "tsx" => "js",
        "c" | "h" => "c",
        "cc" | "cpp" | "cxx" | "hh" | "hpp" | "hxx" => "cpp",
        "yml" | "yaml" => "yaml",
        other => other,
    })
}

/// The root's small files (up to [`PREFETCH_OTHER_BYTES`]) and every ignore file of the
/// commit whose trees are listed below `root` (ignore files within the same bound again).
fn tool_files(ns: &Namespace, root: Sha) -> Vec<(Sha, u64)> {
    let mut wants = Vec::new();
    let (mut bytes, mut ignore_bytes) = (0u64, 0u64);
    walk_files(ns, root, |tree, e| {
        if e.size > PREFETCH_OTHER_MAX {
            return ControlFlow::Continue(());
        }
        let budget = if tree == root {
            &mut bytes
        } else if IGNORE_FILES.contains(&e.name.as_str()) {
            &mut ignore_bytes
        } else {
            return ControlFlow::Continue(());
        };
        if *budget + e.size <= PREFETCH_OTHER_BYTES {
            *budget += e.size;
            wants.push((e.sha, e.size));
        }
        ControlFlow::Continue(())
    });
    wants
}

/// Every file (regular or executable) in `root` and the trees below it that are listed
/// locally, with the tree it is in; `root`'s own entries first, then depth first, until
/// `visit` breaks. Trees not listed yet are skipped: a prefetch never lists.
fn walk_files(
    ns: &Namespace,
    root: Sha,
    mut visit: impl FnMut(Sha, &TreeEntry) -> ControlFlow<()>,
) {
    let mut stack = vec![root];
    while let Some(sha) = stack.pop() {
        let Ok(Some(tree)) = ns.cached_tree(sha) else {
            continue;
        };
        for e in &tree.entries {
            if e.mode == Mode::Tree {
                stack.push(e.sha);
            } else if matches!(e.mode, Mode::File | Mode::Executable) && visit(sha, e).is_break() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::kind;

    #[test]
    fn kinds_fold_what_tools_read_together() {
        assert_eq!(kind("a.py"), kind("_core.pyi"));
        assert_eq!(kind("x.ts"), kind("y.mjs"));
        assert_eq!(kind("z.h"), Some("c"));
        assert_ne!(kind("a.py"), kind("a.rs"));
        assert_eq!(kind("Makefile"), None);
        assert_eq!(kind(".gitignore"), None);
        assert_eq!(kind("archive.tar.gz"), Some("gz"));
    }
}
