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

use crate::flight::SingleFlight;
use crate::namespace::{BLOB_HITS, BLOB_MISSES, Namespace};
use crate::scan::{RepoFilter, ScanOptions, Scanner};

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

impl Control {
    pub fn is_dir(&self) -> bool {
        matches!(self, Control::PatternsDir | Control::StatusDir)
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
    hydrations: crate::fs::hydrate::HydrationStats,
}

#[derive(Debug, Serialize)]
struct RateLimitStatus {
    resources: Vec<crate::remote::RateLimit>,
    requests: crate::remote::RequestCounts,
}

/// Makes control files' content; joins concurrent scans of one org.
pub struct ControlFiles {
    ns: Arc<Namespace>,
    scans: SingleFlight<String, Result<(), String>>,
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

    /// The content of a control file now. Reading `/.patterns/<org>.json` runs (or
    /// joins) a scan when there is no finished scan younger than [`PATTERNS_MAX_AGE`].
    pub async fn content(
        &self,
        file: &Control,
        mount: crate::fs::core::MountStatus,
    ) -> Result<Vec<u8>, String> {
        let scanner = Scanner::new(Arc::clone(&self.ns));
        match file {
            Control::Patterns(org) => {
                if self.needs_scan(org) {
                    self.scan(org).await?;
                }
                let date =
                    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
                let codex = scanner
                    .export_codex(org, &date[..10])
                    .map_err(|e| e.to_string())?;
                Ok(pretty(&codex))
            }
            Control::Status(org) => match scanner.status(org).map_err(|e| e.to_string())? {
                Some(status) => Ok(pretty(&status)),
                None => Err(format!("`{org}` has not been scanned")),
            },
            Control::RateLimit => Ok(pretty(&RateLimitStatus {
                resources: self.ns.client().rate_limits(),
                requests: self.ns.client().counts(),
            })),
            Control::Cache => {
                let index = self.ns.store().index();
                let (objects, bytes) = index.blob_totals().map_err(|e| e.to_string())?;
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
                }))
            }
            Control::Mount => Ok(pretty(&mount)),
            Control::PatternsDir | Control::StatusDir => Err("a directory".into()),
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

    async fn scan(&self, org: &str) -> Result<(), String> {
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
                    .map_err(|e| e.to_string())
            })
            .await
    }
}
