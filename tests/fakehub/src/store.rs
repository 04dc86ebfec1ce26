//! The on-disk layout: `<root>/<owner>/<repo>.git`, optional `fakehub.json`
//! per repository and `owner.json` per owner.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use crate::util;

/// Per-repository metadata, read from `<repo>.git/fakehub.json`. Every field
/// is optional; absent fields get GitHub-like defaults.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct RepoMeta {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visibility: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archived: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fork: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_template: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub homepage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stargazers_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forks_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_issues_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topics: Option<Vec<String>>,
    /// SPDX id, e.g. `MIT`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// Overrides the size computed from the objects on disk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_kb: Option<u64>,
    /// Blocked repositories answer 451 (e.g. DMCA takedown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pushed_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

/// Kind of account, from `<root>/<owner>/owner.json`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum OwnerType {
    #[default]
    Organization,
    User,
}

impl OwnerType {
    pub fn as_str(self) -> &'static str {
        match self {
            OwnerType::Organization => "Organization",
            OwnerType::User => "User",
        }
    }
}

/// `<root>/<owner>/owner.json`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct OwnerMeta {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<OwnerType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Owner {
    pub login: String,
    pub dir: PathBuf,
    pub meta: OwnerMeta,
}

impl Owner {
    pub fn kind(&self) -> OwnerType {
        self.meta.kind.unwrap_or_default()
    }
    pub fn id(&self) -> u64 {
        self.meta.id.unwrap_or_else(|| {
            1000 + util::fnv64(self.login.to_lowercase().as_bytes()) % 90_000_000
        })
    }
}

#[derive(Clone, Debug)]
pub struct RepoRef {
    pub owner: Owner,
    pub name: String,
    pub git_dir: PathBuf,
    pub meta: RepoMeta,
}

impl RepoRef {
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner.login, self.name)
    }
    pub fn id(&self) -> u64 {
        self.meta.id.unwrap_or_else(|| {
            100_000 + util::fnv64(self.full_name().to_lowercase().as_bytes()) % 900_000_000
        })
    }
    pub fn private(&self) -> bool {
        self.meta.private.unwrap_or(false)
            || matches!(
                self.meta.visibility.as_deref(),
                Some("private" | "internal")
            )
    }
    pub fn visibility(&self) -> String {
        match &self.meta.visibility {
            Some(v) => v.clone(),
            None if self.private() => "private".into(),
            None => "public".into(),
        }
    }
    pub fn blocked(&self) -> bool {
        self.meta.blocked.unwrap_or(false)
    }
    pub fn fork(&self) -> bool {
        self.meta.fork.unwrap_or(false)
    }

    /// Seconds since epoch when refs last changed (the analogue of a push).
    pub fn pushed_at(&self) -> i64 {
        if let Some(t) = self.meta.pushed_at.as_deref().and_then(util::parse_iso8601) {
            return t;
        }
        let mut latest = mtime(&self.git_dir.join("packed-refs")).unwrap_or(0);
        latest = latest.max(mtime(&self.git_dir.join("HEAD")).unwrap_or(0));
        walk_mtime(&self.git_dir.join("refs"), &mut latest, 0);
        if latest == 0 {
            self.created_at()
        } else {
            latest
        }
    }

    /// The override, or a fixed 2020-01-01T00:00:00Z: GitHub's default
    /// listing order is by creation, and a time taken from the disk would
    /// make that order depend on test timing.
    pub fn created_at(&self) -> i64 {
        self.meta
            .created_at
            .as_deref()
            .and_then(util::parse_iso8601)
            .unwrap_or(DEFAULT_CREATED_AT)
    }

    pub fn updated_at(&self) -> i64 {
        if let Some(t) = self
            .meta
            .updated_at
            .as_deref()
            .and_then(util::parse_iso8601)
        {
            return t;
        }
        let meta_t = mtime(&self.git_dir.join("fakehub.json")).unwrap_or(0);
        self.pushed_at().max(self.created_at()).max(meta_t)
    }

    /// Size in KB: the override, or the size of the object store.
    pub fn size_kb(&self) -> u64 {
        if let Some(s) = self.meta.size_kb {
            return s;
        }
        let mut total = 0u64;
        dir_size(&self.git_dir.join("objects"), &mut total, 0);
        total / 1024
    }
}

/// 2020-01-01T00:00:00Z.
pub const DEFAULT_CREATED_AT: i64 = 1_577_836_800;

fn mtime(p: &Path) -> Option<i64> {
    let m = std::fs::metadata(p).ok()?.modified().ok()?;
    Some(m.duration_since(UNIX_EPOCH).ok()?.as_secs() as i64)
}

fn walk_mtime(p: &Path, latest: &mut i64, depth: usize) {
    if depth > 32 {
        return;
    }
    let Ok(rd) = std::fs::read_dir(p) else { return };
    for e in rd.flatten() {
        let path = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => walk_mtime(&path, latest, depth + 1),
            Ok(_) => *latest = (*latest).max(mtime(&path).unwrap_or(0)),
            Err(_) => {}
        }
    }
}

fn dir_size(p: &Path, total: &mut u64, depth: usize) {
    if depth > 8 {
        return;
    }
    let Ok(rd) = std::fs::read_dir(p) else { return };
    for e in rd.flatten() {
        match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path(), total, depth + 1),
            Ok(_) => *total += e.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => {}
        }
    }
}

fn read_json<T: for<'de> Deserialize<'de> + Default>(p: &Path) -> T {
    match std::fs::read(p) {
        Ok(b) => serde_json::from_slice(&b).unwrap_or_else(|e| {
            tracing::warn!("ignoring malformed {}: {e}", p.display());
            T::default()
        }),
        Err(_) => T::default(),
    }
}

fn valid_component(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && !name.contains('/')
        && !name.contains('\\')
        && !name.contains('\0')
}

/// Owners on disk, sorted by name.
pub fn owners(root: &Path) -> Vec<Owner> {
    let mut v: Vec<Owner> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| valid_component(n) && !n.starts_with('_'))
        .map(|login| load_owner(root, &login))
        .collect();
    v.sort_by(|a, b| a.login.cmp(&b.login));
    v
}

fn load_owner(root: &Path, login: &str) -> Owner {
    let dir = root.join(login);
    Owner {
        login: login.to_string(),
        meta: read_json(&dir.join("owner.json")),
        dir,
    }
}

/// Finds an owner by login, case-insensitively like GitHub.
pub fn find_owner(root: &Path, login: &str) -> Option<Owner> {
    if !valid_component(login) {
        return None;
    }
    if root.join(login).is_dir() {
        return Some(load_owner(root, login));
    }
    let lower = login.to_lowercase();
    owners(root)
        .into_iter()
        .find(|o| o.login.to_lowercase() == lower)
}

fn load_repo(owner: &Owner, name: &str) -> RepoRef {
    let git_dir = owner.dir.join(format!("{name}.git"));
    RepoRef {
        owner: owner.clone(),
        name: name.to_string(),
        meta: read_json(&git_dir.join("fakehub.json")),
        git_dir,
    }
}

/// Repositories of an owner, sorted by name.
pub fn repos_of(owner: &Owner) -> Vec<RepoRef> {
    let mut v: Vec<RepoRef> = std::fs::read_dir(&owner.dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".git").map(|s| s.to_string()))
        .filter(|n| valid_component(n))
        .map(|n| load_repo(owner, &n))
        .collect();
    v.sort_by_key(|r| r.name.to_lowercase());
    v
}

/// Finds a repository, case-insensitively like GitHub.
pub fn find_repo(root: &Path, owner: &str, name: &str) -> Option<RepoRef> {
    let owner = find_owner(root, owner)?;
    if !valid_component(name) {
        return None;
    }
    if owner.dir.join(format!("{name}.git")).is_dir() {
        return Some(load_repo(&owner, name));
    }
    let lower = name.to_lowercase();
    repos_of(&owner)
        .into_iter()
        .find(|r| r.name.to_lowercase() == lower)
}

/// Finds a repository by its numeric id (for `/repositories/{id}` URLs).
pub fn repo_by_id(root: &Path, id: u64) -> Option<RepoRef> {
    owners(root)
        .iter()
        .flat_map(repos_of)
        .find(|r| r.id() == id)
}

/// Finds an owner by its numeric id (for `/organizations/{id}` URLs).
pub fn owner_by_id(root: &Path, id: u64) -> Option<Owner> {
    owners(root).into_iter().find(|o| o.id() == id)
}
