//! Working copies: every repository root of a writable mount, and every writable
//! allocation, is its commit plus a layer of local changes ([`crate::changes::Layer`]).
//!
//! A working copy has no layer until its first change; the change makes one (under
//! `<cache>/changes-v1/<key>/`) and from then on the root is *held* at the commit the
//! changes were made on: it does not move when its branch does, until the changes are
//! discarded. A mount's layers are named by mountpoint and root (`acme/api`,
//! `acme/api@v2` are two working copies), so they are found again after an unmount, a
//! remount or a daemon restart; an allocation's by its id.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha1::Digest;

use crate::changes::{Layer, LayerError, LayerMeta};
use crate::namespace::RepoContext;
use crate::oid::Sha;
use crate::remote::TreeEntry;

/// The layer directory's version in its parent's name.
pub const CHANGES_DIR: &str = "changes-v1";

/// Where a mount keeps its working copies, and whose they are.
#[derive(Debug, Clone)]
pub struct ChangesOptions {
    /// `<cache>/changes-v1`.
    pub dir: PathBuf,
    pub scope: Scope,
}

#[derive(Debug, Clone)]
pub enum Scope {
    /// `heimdall mount`: one working copy per repository root, kept per mountpoint.
    Mount { mountpoint: PathBuf },
    /// An allocation: one working copy, its root, shown at `path`.
    Allocation { id: i64, path: PathBuf },
}

pub struct WorkingCopy {
    /// Numbers the identities of this working copy's nodes (see `inode`).
    id: u64,
    dir: PathBuf,
    /// Where it shows, and what it is a copy of (`owner/repo[@ref]`).
    path: String,
    repo: String,
    kind: &'static str,
    filter: Option<String>,
    layer: Mutex<Option<Arc<Layer>>>,
    /// Whether the disk was looked at for a layer left by an earlier mount (only this
    /// working copy makes one after that).
    probed: std::sync::atomic::AtomicBool,
    /// The commit the root is held at while there are changes.
    held: Mutex<Option<Arc<RepoContext>>>,
}

impl std::fmt::Debug for WorkingCopy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkingCopy")
            .field("path", &self.path)
            .finish()
    }
}

fn digest(text: &str) -> [u8; 20] {
    sha1::Sha1::digest(text.as_bytes()).into()
}

impl WorkingCopy {
    fn new(
        dir: PathBuf,
        path: String,
        repo: String,
        kind: &'static str,
        filter: Option<String>,
    ) -> WorkingCopy {
        let key = dir.to_string_lossy().into_owned();
        let d = digest(&key);
        WorkingCopy {
            id: u64::from_be_bytes(d[..8].try_into().expect("8 bytes")),
            dir,
            path,
            repo,
            kind,
            filter,
            layer: Mutex::new(None),
            probed: std::sync::atomic::AtomicBool::new(false),
            held: Mutex::new(None),
        }
    }

    /// The working copy of root `name` (`repo` or `repo@ref`, as looked up) of `owner` in
    /// a mount.
    pub fn for_root(options: &ChangesOptions, owner: &str, name: &str) -> Option<WorkingCopy> {
        let Scope::Mount { mountpoint } = &options.scope else {
            return None;
        };
        let (repo, reference) = crate::namespace::split_repo_name(name);
        let root = match &reference {
            Some(r) => format!(
                "{}/{}@{r}",
                owner.to_ascii_lowercase(),
                repo.to_ascii_lowercase()
            ),
            None => format!(
                "{}/{}",
                owner.to_ascii_lowercase(),
                repo.to_ascii_lowercase()
            ),
        };
        let d = digest(&format!("{}\0{root}", mountpoint.display()));
        let key = format!(
            "m-{}-{}-{}",
            owner.to_ascii_lowercase(),
            repo.to_ascii_lowercase(),
            &hex::encode(d)[..12]
        );
        Some(WorkingCopy::new(
            options.dir.join(key),
            mountpoint
                .join(owner)
                .join(name)
                .to_string_lossy()
                .into_owned(),
            root,
            "mount",
            None,
        ))
    }

    /// An allocation's working copy (`repo`: what it is of; `filter`: its glob).
    pub fn for_allocation(
        options: &ChangesOptions,
        repo: &str,
        filter: Option<String>,
    ) -> Option<WorkingCopy> {
        let Scope::Allocation { id, path } = &options.scope else {
            return None;
        };
        Some(WorkingCopy::new(
            options.dir.join(format!("a-{id}")),
            path.to_string_lossy().into_owned(),
            repo.to_string(),
            "allocation",
            filter,
        ))
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// Where the working copy shows (`<mountpoint>/<owner>/<repo>`, an allocation's path).
    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The layer, if there are changes (opening one left by an earlier mount).
    pub fn layer(&self) -> Result<Option<Arc<Layer>>, LayerError> {
        use std::sync::atomic::Ordering;
        let mut layer = self.layer.lock().expect("working copy poisoned");
        if layer.is_none() && !self.probed.load(Ordering::Relaxed) {
            if self.dir.join("layer.sqlite").exists() {
                *layer = Some(Arc::new(Layer::open(&self.dir)?));
            }
            self.probed.store(true, Ordering::Relaxed);
        }
        Ok(layer.clone())
    }

    /// The layer, made now if there is none: the first change holds the root at
    /// `repo`'s commit, showing `tree` (its root tree, or a subtree for an allocation)
    /// with entries `root`.
    pub fn layer_or_create(
        &self,
        repo: &Arc<RepoContext>,
        tree: Sha,
        root: &[TreeEntry],
    ) -> Result<Arc<Layer>, LayerError> {
        if let Some(layer) = self.layer()? {
            return Ok(layer);
        }
        let mut slot = self.layer.lock().expect("working copy poisoned");
        if let Some(layer) = slot.as_ref() {
            return Ok(Arc::clone(layer));
        }
        let meta = LayerMeta {
            path: self.path.clone(),
            repo: self.repo.clone(),
            commit: repo.commit.sha,
            tree,
            kind: self.kind.to_string(),
            created_at: crate::clock::now(),
            filter: self.filter.clone(),
        };
        let layer = Arc::new(Layer::create(&self.dir, &meta, root, 0o755)?);
        tracing::info!(path = %self.path, commit = %repo.commit.sha, "first local change: the root is held at its commit");
        *slot = Some(Arc::clone(&layer));
        *self.held.lock().expect("working copy poisoned") = Some(Arc::clone(repo));
        Ok(layer)
    }

    /// The commit the root is held at, once known.
    pub fn held(&self) -> Option<Arc<RepoContext>> {
        self.held.lock().expect("working copy poisoned").clone()
    }

    pub fn set_held(&self, repo: Arc<RepoContext>) {
        *self.held.lock().expect("working copy poisoned") = Some(repo);
    }

    /// Discards every change: the layer is closed and deleted, the root follows its ref
    /// again.
    pub fn discard(&self) -> std::io::Result<()> {
        let layer = self.layer.lock().expect("working copy poisoned").take();
        self.held.lock().expect("working copy poisoned").take();
        drop(layer);
        discard_dir(&self.dir)
    }
}

/// Deletes a layer directory (renamed aside first, so a crash midway leaves no half of
/// it where a working copy would find it).
pub fn discard_dir(dir: &Path) -> std::io::Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    let parent = dir.parent().expect("a layer has a parent");
    let aside = parent.join(format!(
        ".discarded-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::rename(dir, &aside)?;
    std::fs::remove_dir_all(&aside)
}
