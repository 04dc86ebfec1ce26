//! `heimdall changes list|diff|reset`: the working copies with local changes, what they
//! changed, and discarding them. A working copy served by the daemon is reset through it
//! (so the mount forgets what it showed); one nobody serves is reset on disk.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use serde::Serialize;

use crate::alloc::protocol::{Request, Response};
use crate::changes::{self, Change, Layer, Side, Source, Summary, dir_bytes, is_locked, peek_meta};
use crate::config::Settings;
use crate::fs::CHANGES_DIR;
use crate::namespace::{Namespace, RepoSpec};
use crate::remote::{Mode, TreeEntry};

#[derive(Debug, Subcommand)]
pub enum ChangesCommand {
    /// Working copies with local changes: path, commit, files added, modified and deleted,
    /// and the bytes they keep
    List {
        #[arg(long)]
        json: bool,
    },
    /// The changes of a working copy as a unified diff against its commit, in
    /// `git diff`'s format (renames show as a deletion and an addition)
    Diff {
        /// The working copy's path (`<mountpoint>/<owner>/<repo>`, or an allocation's)
        path: PathBuf,
    },
    /// Discard a working copy's changes: it shows its commit again (and a mounted root
    /// follows its ref again)
    Reset { path: PathBuf },
}

/// One line of `changes list`.
#[derive(Debug, Serialize)]
struct Listed {
    path: String,
    repo: String,
    commit: String,
    kind: String,
    #[serde(flatten)]
    summary: Summary,
    bytes: u64,
    /// A mount serves it now.
    mounted: bool,
}

/// Whether the working copy shows now: its mount (a mount's root is
/// `<mountpoint>/<owner>/<repo>`) or its allocation is mounted.
fn mounted(meta: &crate::changes::LayerMeta) -> bool {
    let path = Path::new(&meta.path);
    let mountpoint = if meta.kind == "mount" {
        path.parent().and_then(Path::parent)
    } else {
        Some(path)
    };
    mountpoint.is_some_and(crate::fs::is_mountpoint)
}

/// The layers under the cache, with their directories.
fn layers(settings: &Settings) -> Vec<(PathBuf, crate::changes::LayerMeta)> {
    let root = settings.cache_dir.join(CHANGES_DIR);
    let Ok(dirs) = std::fs::read_dir(&root) else {
        return Vec::new();
    };
    let mut out: Vec<_> = dirs
        .flatten()
        .filter(|d| !d.file_name().to_string_lossy().starts_with('.'))
        .filter_map(|d| {
            let dir = d.path();
            match peek_meta(&dir) {
                Ok(meta) => Some((dir, meta)),
                Err(e) => {
                    tracing::warn!(dir = %dir.display(), error = %e, "unreadable working copy; left out");
                    None
                }
            }
        })
        .collect();
    out.sort_by(|a, b| a.1.path.cmp(&b.1.path));
    out
}

/// The layer shown at `path`.
fn find(settings: &Settings, path: &Path) -> Result<(PathBuf, crate::changes::LayerMeta)> {
    let wanted: Vec<String> = [
        std::fs::canonicalize(path).ok(),
        std::path::absolute(path).ok(),
    ]
    .into_iter()
    .flatten()
    .map(|p| p.to_string_lossy().trim_end_matches('/').to_string())
    .collect();
    layers(settings)
        .into_iter()
        .find(|(_, meta)| wanted.contains(&meta.path))
        .with_context(|| format!("`{}` has no local changes", path.display()))
}

fn spec(meta: &crate::changes::LayerMeta) -> Result<RepoSpec> {
    RepoSpec::parse(&meta.repo)
        .with_context(|| format!("the working copy at `{}` names no repository", meta.path))
}

pub async fn run(ns: Arc<Namespace>, settings: &Settings, command: ChangesCommand) -> Result<()> {
    match command {
        ChangesCommand::List { json } => list(&ns, settings, json).await,
        ChangesCommand::Diff { path } => diff(&ns, settings, &path).await,
        ChangesCommand::Reset { path } => reset(settings, &path),
    }
}

async fn list(ns: &Namespace, settings: &Settings, json: bool) -> Result<()> {
    let mut listed = Vec::new();
    for (dir, meta) in layers(settings) {
        let layer = Layer::open_read_only(&dir)?;
        let found = changes::changes(ns, &spec(&meta)?, &layer)
            .await
            .with_context(|| format!("cannot compare `{}` with its commit", meta.path))?;
        listed.push(Listed {
            summary: Summary::of(&found),
            bytes: dir_bytes(&dir),
            mounted: mounted(&meta),
            path: meta.path,
            repo: meta.repo,
            commit: meta.commit.to_hex(),
            kind: meta.kind,
        });
    }
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &listed)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(out, "PATH\tCOMMIT\tADDED\tMODIFIED\tDELETED\tSIZE")?;
    for l in &listed {
        writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}\t{}{}",
            l.path,
            &l.commit[..12],
            l.summary.added,
            l.summary.modified,
            l.summary.deleted,
            super::alloc::human_bytes(l.bytes),
            if l.mounted { "" } else { "\t[unmounted]" }
        )?;
    }
    Ok(())
}

/// A side's bytes: the commit's blob (through the cache), a layer file, a link target.
async fn content(
    ns: &Namespace,
    spec: &RepoSpec,
    layer: &Layer,
    path: &str,
    side: &Side,
) -> Result<Vec<u8>> {
    Ok(match &side.source {
        Source::Blob { size } => {
            let entry = TreeEntry {
                name: path.rsplit('/').next().unwrap_or(path).to_string(),
                mode: side.mode,
                sha: side.sha,
                size: *size,
            };
            let stored = ns
                .blob(spec, &entry)
                .await
                .with_context(|| format!("cannot fetch `{path}` of {spec}"))?;
            stored.read_all()?
        }
        Source::File(node) => layer.file_bytes(*node)?.read()?,
        Source::Link(target) => target.clone(),
    })
}

fn diff_side<'a>(side: &'a Option<(&Side, Vec<u8>)>) -> Option<changes::diff::Side<'a>> {
    side.as_ref().map(|(side, bytes)| changes::diff::Side {
        mode: git_mode(side.mode),
        sha: side.sha,
        content: bytes,
    })
}

fn git_mode(mode: Mode) -> u32 {
    match mode {
        Mode::Executable => 0o100755,
        Mode::Symlink => 0o120000,
        _ => 0o100644,
    }
}

async fn diff(ns: &Namespace, settings: &Settings, path: &Path) -> Result<()> {
    let (dir, meta) = find(settings, path)?;
    let spec = spec(&meta)?;
    let layer = Layer::open_read_only(&dir)?;
    let found: Vec<Change> = changes::changes(ns, &spec, &layer).await?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for change in &found {
        let old = match &change.old {
            Some(side) => Some((side, content(ns, &spec, &layer, &change.path, side).await?)),
            None => None,
        };
        let new = match &change.new {
            Some(side) => Some((side, content(ns, &spec, &layer, &change.path, side).await?)),
            None => None,
        };
        let file = changes::diff::FileChange {
            path: &change.path,
            old: diff_side(&old),
            new: diff_side(&new),
        };
        changes::diff::write_change(&mut out, &file)?;
    }
    out.flush()?;
    Ok(())
}

fn reset(settings: &Settings, path: &Path) -> Result<()> {
    let (dir, meta) = find(settings, path)?;
    if is_locked(&dir) {
        let client = super::alloc::connect(settings, false)?;
        let served = matches!(
            client.call_running(&Request::ResetChanges {
                path: meta.path.clone()
            }),
            Ok(Response::Reset { served: true })
        );
        if !served {
            bail!(
                "`{}` is served by another process (a --foreground mount?): unmount it, then reset",
                meta.path
            );
        }
    } else {
        crate::fs::worktree::discard_dir(&dir)
            .with_context(|| format!("cannot discard `{}`", dir.display()))?;
    }
    eprintln!(
        "discarded the changes of {} (at {})",
        meta.path,
        &meta.commit.to_hex()[..12]
    );
    Ok(())
}
