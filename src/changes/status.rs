//! What a working copy's changes are, path by path, against its commit: the walk behind
//! `heimdall changes list` (counts) and `heimdall changes diff` (contents).
//!
//! Both sides are flattened to `path -> (mode, blob id)`: the commit's tree (through the
//! namespace: trees are in the index once the working copy showed them), and the working
//! copy (the layer's directories, the commit's trees it still points to, and the layer's
//! own files, hashed). A path whose mode and id agree is unchanged, however it got there
//! (a file edited and edited back, a rename undone). Renames are a deletion and an
//! addition, as `git diff --no-renames` shows them. Gitlinks are left out.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;

use super::entry::{Entry, LocalKind, NodeId, ROOT};
use super::error::LayerError;
use super::files::FileBytes;
use super::layer::Layer;
use crate::namespace::{Namespace, NamespaceError, RepoSpec};
use crate::oid::{BlobHasher, Sha, blob_sha};
use crate::remote::Mode;

#[derive(Debug, thiserror::Error)]
pub enum ChangesError {
    #[error(transparent)]
    Layer(#[from] LayerError),
    #[error(transparent)]
    Namespace(#[from] NamespaceError),
    #[error("cannot read `{path}`: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Where a path's bytes are in the working copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The commit's blob, of this many bytes.
    Blob { size: u64 },
    /// A file of the layer.
    File(NodeId),
    /// A symlink of the layer.
    Link(Vec<u8>),
}

/// One side of a path: git's mode and the blob id of its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Side {
    pub mode: Mode,
    pub sha: Sha,
    pub source: Source,
}

/// A path that differs from the commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: String,
    /// `None`: added.
    pub old: Option<Side>,
    /// `None`: deleted.
    pub new: Option<Side>,
}

/// Counts for `changes list`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub added: u64,
    pub modified: u64,
    pub deleted: u64,
}

impl Summary {
    pub fn of(changes: &[Change]) -> Summary {
        let mut summary = Summary::default();
        for change in changes {
            match (&change.old, &change.new) {
                (None, Some(_)) => summary.added += 1,
                (Some(_), None) => summary.deleted += 1,
                _ => summary.modified += 1,
            }
        }
        summary
    }
}

type Files = BTreeMap<String, Side>;

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}/{name}")
    }
}

/// What of the commit a working copy shows: everything, or what its glob matches.
struct Shown(Option<globset::GlobMatcher>);

impl Shown {
    fn of(layer: &Layer) -> Shown {
        Shown(layer.meta().filter.as_deref().and_then(|glob| {
            globset::GlobBuilder::new(glob)
                .literal_separator(true)
                .build()
                .ok()
                .map(|g| g.compile_matcher())
        }))
    }

    fn shows(&self, path: &str) -> bool {
        self.0.as_ref().is_none_or(|m| m.is_match(path))
    }
}

/// Every file under tree `tree` of the commit, at `prefix`, that the working copy shows.
async fn commit_files(
    ns: &Namespace,
    spec: &RepoSpec,
    tree: Sha,
    prefix: &str,
    shown: &Shown,
    out: &mut Files,
) -> Result<(), ChangesError> {
    let mut stack = vec![(tree, prefix.to_string())];
    while let Some((sha, prefix)) = stack.pop() {
        let tree = ns.tree(spec, sha).await?;
        for entry in &tree.entries {
            let path = join(&prefix, &entry.name);
            match entry.mode {
                Mode::Tree => stack.push((entry.sha, path)),
                Mode::Submodule => {}
                Mode::File | Mode::Executable | Mode::Symlink if shown.shows(&path) => {
                    out.insert(
                        path,
                        Side {
                            mode: entry.mode,
                            sha: entry.sha,
                            source: Source::Blob { size: entry.size },
                        },
                    );
                }
                Mode::File | Mode::Executable | Mode::Symlink => {}
            }
        }
    }
    Ok(())
}

/// The blob id of a layer file's bytes.
fn hash_file(path: &std::path::Path) -> Result<Sha, ChangesError> {
    let io = |source| ChangesError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut hasher = BlobHasher::new(len);
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    hasher.finish().ok_or_else(|| ChangesError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other("the file changed while it was read"),
    })
}

/// Every file the working copy shows.
async fn working_files(
    ns: &Namespace,
    spec: &RepoSpec,
    layer: &Layer,
    shown: &Shown,
) -> Result<Files, ChangesError> {
    let mut out = Files::new();
    let mut stack: Vec<(NodeId, String)> = vec![(ROOT, String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        for (name, entry) in layer.entries(dir)?.iter() {
            let path = join(&prefix, name);
            match entry {
                Entry::Lower {
                    mode: Mode::Tree,
                    sha,
                    ..
                } => commit_files(ns, spec, *sha, &path, shown, &mut out).await?,
                Entry::Lower {
                    mode: Mode::Submodule,
                    ..
                } => {}
                // Listed in a layer directory: shown (it was when materialized).
                Entry::Lower { mode, sha, size } => {
                    out.insert(
                        path,
                        Side {
                            mode: *mode,
                            sha: *sha,
                            source: Source::Blob { size: *size },
                        },
                    );
                }
                Entry::Local {
                    node,
                    kind: LocalKind::Dir,
                } => stack.push((*node, path)),
                Entry::Local {
                    node,
                    kind: LocalKind::File,
                } => {
                    let perm = layer.file_meta(*node)?.perm;
                    // Git records one bit: executable by the owner.
                    let mode = if perm & 0o100 != 0 {
                        Mode::Executable
                    } else {
                        Mode::File
                    };
                    out.insert(
                        path,
                        Side {
                            mode,
                            sha: match layer.file_bytes(*node)? {
                                FileBytes::Inline(bytes) => blob_sha(&bytes),
                                FileBytes::Data(path) => hash_file(&path)?,
                            },
                            source: Source::File(*node),
                        },
                    );
                }
                Entry::Local {
                    node,
                    kind: LocalKind::Symlink,
                } => {
                    let target = layer
                        .node(*node)?
                        .and_then(|m| m.target)
                        .unwrap_or_default();
                    out.insert(
                        path,
                        Side {
                            mode: Mode::Symlink,
                            sha: blob_sha(&target),
                            source: Source::Link(target),
                        },
                    );
                }
            }
        }
    }
    Ok(out)
}

/// The `.gitignore` files of the working copy, by directory: what git would leave out of
/// `git add -A`, so what `changes diff` leaves out of the added files (a tool's cache
/// directory usually ignores itself).
struct Ignores(Vec<(String, ignore::gitignore::Gitignore)>);

impl Ignores {
    async fn of(
        ns: &Namespace,
        spec: &RepoSpec,
        layer: &Layer,
        work: &Files,
    ) -> Result<Ignores, ChangesError> {
        let mut out = Vec::new();
        for (path, side) in work {
            let dir = match path.rsplit_once('/') {
                Some((dir, ".gitignore")) => dir.to_string(),
                None if path == ".gitignore" => String::new(),
                _ => continue,
            };
            let text = match &side.source {
                Source::File(node) => layer
                    .file_bytes(*node)
                    .ok()
                    .and_then(|bytes| bytes.read().ok())
                    .unwrap_or_default(),
                Source::Blob { size } => {
                    let entry = crate::remote::TreeEntry {
                        name: ".gitignore".into(),
                        mode: side.mode,
                        sha: side.sha,
                        size: *size,
                    };
                    ns.blob(spec, &entry).await?.read_all().unwrap_or_default()
                }
                Source::Link(_) => continue,
            };
            let mut builder = ignore::gitignore::GitignoreBuilder::new(format!("/{dir}"));
            for line in String::from_utf8_lossy(&text).lines() {
                let _ = builder.add_line(None, line);
            }
            if let Ok(matcher) = builder.build() {
                out.push((dir, matcher));
            }
        }
        // Deepest first: a nearer .gitignore decides over a farther one.
        out.sort_by_key(|(dir, _)| {
            std::cmp::Reverse(if dir.is_empty() {
                0
            } else {
                dir.matches('/').count() + 1
            })
        });
        Ok(Ignores(out))
    }

    fn ignores(&self, path: &str) -> bool {
        for (dir, matcher) in &self.0 {
            if !(dir.is_empty() || path.starts_with(&format!("{dir}/"))) {
                continue;
            }
            let matched = matcher.matched_path_or_any_parents(format!("/{path}"), false);
            if matched.is_ignore() {
                return true;
            }
            if matched.is_whitelist() {
                return false;
            }
        }
        false
    }
}

/// The paths where the working copy differs from its commit, in path order. Added files
/// that the working copy's `.gitignore` files ignore are left out, as `git add -A` would.
pub async fn changes(
    ns: &Namespace,
    spec: &RepoSpec,
    layer: &Layer,
) -> Result<Vec<Change>, ChangesError> {
    let shown = Shown::of(layer);
    let mut base = Files::new();
    commit_files(ns, spec, layer.meta().tree, "", &shown, &mut base).await?;
    let work = working_files(ns, spec, layer, &shown).await?;
    let mut out = Vec::new();
    for (path, old) in &base {
        match work.get(path) {
            Some(new) if new.mode == old.mode && new.sha == old.sha => {}
            new => out.push(Change {
                path: path.clone(),
                old: Some(old.clone()),
                new: new.cloned(),
            }),
        }
    }
    let ignores = Ignores::of(ns, spec, layer, &work).await?;
    for (path, new) in work {
        if !base.contains_key(&path) && !ignores.ignores(&path) {
            out.push(Change {
                path,
                old: None,
                new: Some(new),
            });
        }
    }
    // Git's order: by path bytes.
    out.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    Ok(out)
}
