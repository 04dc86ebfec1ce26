//! What a mount reports about itself in `/.status/mount.json`: the FUSE operations it
//! answered, how files are opened, whether GitHub answers, what hydrations did.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde::Serialize;

use crate::hydrate::HydrationStats;

/// FUSE operations this mount has answered, by kind: how a tool's run looks from here (a
/// warm run in page-cache mode sends no open and no read).
#[derive(Debug, Default)]
pub struct OpCounters {
    pub lookup: AtomicU64,
    pub getattr: AtomicU64,
    pub open: AtomicU64,
    pub read: AtomicU64,
    pub read_bytes: AtomicU64,
    pub opendir: AtomicU64,
    pub readdir: AtomicU64,
    /// Listings whose entries came with their nodes (each saves the entries' lookups).
    pub readdirplus: AtomicU64,
    pub readlink: AtomicU64,
    pub xattr: AtomicU64,
    pub forget: AtomicU64,
    /// Writes, attribute changes, and creations, removals and renames.
    pub write: AtomicU64,
    pub setattr: AtomicU64,
    pub change: AtomicU64,
}

/// A copy of the counters, for the status file.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct OpCounts {
    pub lookup: u64,
    pub getattr: u64,
    pub open: u64,
    pub read: u64,
    pub read_bytes: u64,
    pub opendir: u64,
    pub readdir: u64,
    pub readdirplus: u64,
    pub readlink: u64,
    pub xattr: u64,
    pub forget: u64,
    pub write: u64,
    pub setattr: u64,
    pub change: u64,
}

impl OpCounters {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn counts(&self) -> OpCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        OpCounts {
            lookup: get(&self.lookup),
            getattr: get(&self.getattr),
            open: get(&self.open),
            read: get(&self.read),
            read_bytes: get(&self.read_bytes),
            opendir: get(&self.opendir),
            readdir: get(&self.readdir),
            readdirplus: get(&self.readdirplus),
            readlink: get(&self.readlink),
            xattr: get(&self.xattr),
            forget: get(&self.forget),
            write: get(&self.write),
            setattr: get(&self.setattr),
            change: get(&self.change),
        }
    }
}

/// FUSE passthrough: whether the mount asked for it (`--passthrough`) and whether the
/// kernel granted it at init and has not refused a backing file since. One owner (the
/// core), read by the adapter for every open and by the status file.
#[derive(Debug)]
pub struct Passthrough {
    wanted: bool,
    granted: AtomicBool,
}

impl Passthrough {
    pub fn new(wanted: bool) -> Passthrough {
        Passthrough {
            wanted,
            granted: AtomicBool::new(false),
        }
    }

    pub fn wanted(&self) -> bool {
        self.wanted
    }

    /// Whether files are opened with a backing file now.
    pub fn on(&self) -> bool {
        self.granted.load(Ordering::Relaxed)
    }

    /// What the kernel answered at init (only what was wanted can be granted).
    pub fn set_granted(&self, granted: bool) {
        self.granted
            .store(self.wanted && granted, Ordering::Relaxed);
    }

    /// The kernel refused a backing file: reads go through Heimdall from now on.
    pub fn refuse(&self) {
        self.granted.store(false, Ordering::Relaxed);
    }

    pub fn open_mode(&self) -> &'static str {
        if self.on() {
            "passthrough"
        } else {
            "page-cache"
        }
    }
}

/// A repository root with local changes, held at the commit they were made on.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct HeldRoot {
    pub path: String,
    pub commit: String,
}

/// What `/.status/mount.json` reports besides the cache.
#[derive(Debug, Clone, Serialize)]
pub struct MountStatus {
    /// `page-cache` (no open requests; the kernel caches file pages) or `passthrough`.
    pub open_mode: &'static str,
    /// Repository roots are working copies (false: `--read-only`).
    pub writable: bool,
    /// GitHub did not answer the last request: what is cached is served, the rest fails.
    pub offline: bool,
    pub mounted_at: String,
    pub inodes: usize,
    /// Roots with local changes, which do not follow their ref until the changes go.
    pub held_roots: Vec<HeldRoot>,
    pub requests: OpCounts,
    pub hydrations: HydrationStats,
}
