//! The control tree: `/.patterns/<org>.json` (the codex export) and `/.status/...`
//! (scan progress, rate limits, cache), as read-only files.
//!
//! A control file's content is made when its name is looked up, which the kernel does on
//! every open (entry TTL 0), and kept in an inode keyed by the content's hash: every read
//! of one open sees the same complete JSON with its true size, the next open a newer one
//! in a new inode, and the kernel may cache each inode's pages like a blob's.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::status::MountStatus;
use crate::flight::SingleFlight;
use crate::namespace::{BLOB_HITS, BLOB_MISSES, Namespace};
use crate::scan::{RepoFilter, ScanError, ScanOptions, Scanner};
use crate::store::StoreError;

pub const PATTERNS_DIR: &str = ".patterns";
pub const STATUS_DIR: &str = ".status";
pub const RATE_LIMIT_FILE: &str = "rate_limit.json";
pub const CACHE_FILE: &str = "cache.json";
pub const MOUNT_FILE: &str = "mount.json";
/// A codex export older than this is refreshed by a scan when read (`--cache-days` 7).
pub const PATTERNS_MAX_AGE: Duration = Duration::from_secs(7 * 86400);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Control {
    PatternsDir,
    StatusDir,
    Patterns(String),
    Status(String),
    RateLimit,
    Cache,
    Mount,
}

/// The control directories at the mount's root.
pub const DIRS: [&str; 2] = [PATTERNS_DIR, STATUS_DIR];

impl Control {
    pub fn is_dir(&self) -> bool {
        matches!(self, Control::PatternsDir | Control::StatusDir)
    }

    /// The control directory called `name` at the root, if it is one.
    pub fn dir_named(name: &str) -> Option<Control> {
        match name {
            PATTERNS_DIR => Some(Control::PatternsDir),
            STATUS_DIR => Some(Control::StatusDir),
            _ => None,
        }
    }
}

/// `<org>.json` -> `org`, for valid owner names only.
pub fn org_of(file: &str) -> Option<String> {
    let org = file.strip_suffix(".json")?;
    crate::namespace::valid_owner(org).then(|| org.to_ascii_lowercase())
}

#[derive(Debug, Serialize)]
struct CacheStatus {
    objects: u64,
    bytes: u64,
    hits: u64,
    misses: u64,
    hit_rate: f64,
    /// Blob reads served per stored object: how much each download was reused.
    dedup_ratio: f64,
    hydrations: crate::hydrate::HydrationStats,
    /// The shared cache, when one is configured: its state and what it served.
    #[serde(skip_serializing_if = "Option::is_none")]
    shared: Option<crate::shared::SharedStatus>,
}

#[derive(Debug, Serialize)]
struct RateLimitStatus {
    resources: Vec<crate::remote::RateLimit>,
    requests: crate::remote::RequestCounts,
    /// Requests to the git endpoint (not counted against the REST budget), if content
    /// comes over git.
    git: Option<crate::remote::git::GitCounts>,
    transport: crate::config::Transport,
}

/// Why a control file has no content (its errno is in [`super::errno::from_control`]).
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The scan behind `/.patterns/<org>.json`, or reading its results. Shared: one scan
    /// serves every reader that joined it.
    #[error(transparent)]
    Scan(Arc<ScanError>),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("`{0}` has not been scanned")]
    NotScanned(String),
    #[error("no such control file")]
    NoSuchFile,
    #[error("a directory")]
    IsDirectory,
    #[error("not a directory")]
    NotADirectory,
}

impl From<ScanError> for ControlError {
    fn from(e: ScanError) -> Self {
        ControlError::Scan(Arc::new(e))
    }
}

/// Makes control files' content; joins concurrent scans of one org.
pub struct ControlFiles {
    ns: Arc<Namespace>,
    scans: SingleFlight<String, Result<(), Arc<ScanError>>>,
}

fn pretty(value: &impl Serialize) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(value).expect("control JSON serializes");
    out.push(b'\n');
    out
}

impl ControlFiles {
    pub fn new(ns: Arc<Namespace>) -> ControlFiles {
        ControlFiles {
            ns,
            scans: SingleFlight::default(),
        }
    }

    /// Orgs with scan results, for listing `/.patterns` and `/.status`.
    pub fn scanned_orgs(&self) -> Vec<String> {
        self.ns.store().index().scanned_orgs().unwrap_or_default()
    }

    /// The file called `name` in control directory `dir`. `/.patterns` has a file for
    /// every valid org name (reading it scans the org); `/.status` the mount's own files
    /// and one per scanned org.
    pub fn file_in(&self, dir: &Control, name: &str) -> Result<Control, ControlError> {
        Ok(match (dir, name) {
            (Control::StatusDir, RATE_LIMIT_FILE) => Control::RateLimit,
            (Control::StatusDir, CACHE_FILE) => Control::Cache,
            (Control::StatusDir, MOUNT_FILE) => Control::Mount,
            (Control::StatusDir, _) => {
                let org = org_of(name).ok_or(ControlError::NoSuchFile)?;
                if !self.scanned_orgs().contains(&org) {
                    return Err(ControlError::NoSuchFile);
                }
                Control::Status(org)
            }
            (Control::PatternsDir, _) => {
                Control::Patterns(org_of(name).ok_or(ControlError::NoSuchFile)?)
            }
            _ => return Err(ControlError::NotADirectory),
        })
    }

    /// The names a control directory lists.
    pub fn names_in(&self, dir: &Control) -> Vec<String> {
        let mut names: Vec<String> = self
            .scanned_orgs()
            .into_iter()
            .map(|o| format!("{o}.json"))
            .collect();
        if *dir == Control::StatusDir {
            names.push(CACHE_FILE.into());
            names.push(MOUNT_FILE.into());
            names.push(RATE_LIMIT_FILE.into());
        }
        names
    }

    /// The content of a control file now. Reading `/.patterns/<org>.json` runs (or
    /// joins) a scan when there is no finished scan younger than [`PATTERNS_MAX_AGE`].
    pub async fn content(
        &self,
        file: &Control,
        mount: MountStatus,
    ) -> Result<Vec<u8>, ControlError> {
        let scanner = Scanner::new(Arc::clone(&self.ns));
        match file {
            Control::Patterns(org) => {
                if self.needs_scan(org) {
                    self.scan(org).await?;
                }
                let date =
                    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
                let codex = scanner.export_codex(org, &date[..10])?;
                Ok(pretty(&codex))
            }
            Control::Status(org) => match scanner.status(org)? {
                Some(status) => Ok(pretty(&status)),
                None => Err(ControlError::NotScanned(org.clone())),
            },
            Control::RateLimit => Ok(pretty(&RateLimitStatus {
                resources: self.ns.client().rate_limits(),
                requests: self.ns.client().counts(),
                git: self.ns.git().map(|g| g.remote().counts()),
                transport: self
                    .ns
                    .git()
                    .map_or(crate::config::Transport::Rest, |g| g.transport()),
            })),
            Control::Cache => {
                let index = self.ns.store().index();
                let (loose, loose_bytes) = index.blob_totals()?;
                let (_, pack_bytes) = index.pack_totals()?;
                let objects = loose + index.packed_blobs()?;
                let bytes = loose_bytes + pack_bytes;
                let hits = index.counter(BLOB_HITS).unwrap_or(0);
                let misses = index.counter(BLOB_MISSES).unwrap_or(0);
                let reads = hits + misses;
                Ok(pretty(&CacheStatus {
                    objects,
                    bytes,
                    hits,
                    misses,
                    hit_rate: if reads == 0 {
                        0.0
                    } else {
                        hits as f64 / reads as f64
                    },
                    dedup_ratio: if objects == 0 {
                        0.0
                    } else {
                        reads as f64 / objects as f64
                    },
                    hydrations: mount.hydrations,
                    shared: self.ns.shared().map(|s| s.status()),
                }))
            }
            Control::Mount => Ok(pretty(&mount)),
            Control::PatternsDir | Control::StatusDir => Err(ControlError::IsDirectory),
        }
    }

    fn needs_scan(&self, org: &str) -> bool {
        match self.ns.store().index().scan(org) {
            Ok(Some(scan)) if scan.state == "finished" => {
                let age = crate::clock::now() - scan.finished_at.unwrap_or(0);
                age < 0 || age as u64 >= PATTERNS_MAX_AGE.as_secs()
            }
            _ => true,
        }
    }

    async fn scan(&self, org: &str) -> Result<(), ControlError> {
        let ns = Arc::clone(&self.ns);
        let org = org.to_string();
        self.scans
            .run(org.clone(), move || async move {
                let options = ScanOptions {
                    org: org.clone(),
                    filter: RepoFilter::default(),
                    files: None,
                    parallel: crate::scan::run::DEFAULT_PARALLEL,
                    max_result_age: None,
                };
                tracing::info!(org, "scanning for /.patterns");
                Scanner::new(ns)
                    .scan_organization(&options, &|_| {})
                    .await
                    .map(|_| ())
                    .map_err(Arc::new)
            })
            .await
            .map_err(ControlError::Scan)
    }
}
