//! The daemon's protocol: one JSON request per line on its Unix socket, one JSON response
//! line back. The socket lives in the user's runtime directory (0700), so only the user
//! who started the daemon can talk to it.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::Allocation;
pub use super::kind::ErrorKind;
use crate::fs::{CHANGES_DIR, ChangesOptions, FsOptions, MountOptions, Scope};

/// Longest request or response line accepted.
pub const MAX_LINE: u64 = 4 << 20;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    Allocate {
        resource: String,
        ttl_secs: Option<u64>,
        client: String,
        hydrate: bool,
        /// No writes (EROFS), as before working copies.
        #[serde(default)]
        read_only: bool,
        /// Keep the allocation's changes after its release.
        #[serde(default)]
        keep_changes: bool,
    },
    List,
    Release {
        path: String,
    },
    ReleaseAll {
        client: Option<String>,
    },
    Cleanup {
        expired: bool,
        older_than_secs: Option<u64>,
    },
    Status,
    Stop,
    /// Mount the whole namespace (`heimdall mount` without `--foreground`).
    Mount(MountRequest),
    /// Unmount a mount this daemon serves (`heimdall unmount`).
    Unmount {
        mountpoint: String,
    },
    /// Discard the changes of the working copy shown at `path` (`heimdall changes reset`).
    ResetChanges {
        path: String,
    },
    /// A push moved `reference` (a branch or tag name) of `owner/repo` (from
    /// `heimdall webhook`): mounts showing it re-resolve it now.
    RefPushed {
        owner: String,
        repo: String,
        reference: String,
    },
}

/// `heimdall mount`'s options: what the daemon serves (and records, to restore the
/// mount after a crash), and what a `--foreground` mount serves itself.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MountRequest {
    /// Absolute.
    pub mountpoint: String,
    pub orgs: Vec<String>,
    /// Fractions allowed (`--ref-ttl 500ms`); records of whole seconds read the same.
    pub ref_ttl_secs: f64,
    pub hydrate_threshold: usize,
    pub allow_other: bool,
    pub passthrough: bool,
    /// `--read-only`: no working copies, every write EROFS.
    #[serde(default)]
    pub read_only: bool,
}

impl MountRequest {
    /// The mount this asks for; `web_url` is where `user.heimdall.url` links point,
    /// `cache` the cache directory its working copies keep their changes under.
    pub fn options(&self, web_url: String, cache: &Path) -> MountOptions {
        let mut fs = FsOptions::new(web_url);
        fs.owners = self.orgs.clone();
        fs.ref_ttl = Duration::try_from_secs_f64(self.ref_ttl_secs).unwrap_or(Duration::ZERO);
        fs.hydrate_threshold = self.hydrate_threshold;
        fs.passthrough = self.passthrough;
        if !self.read_only {
            fs.changes = Some(ChangesOptions {
                dir: cache.join(CHANGES_DIR),
                scope: Scope::Mount {
                    mountpoint: PathBuf::from(&self.mountpoint),
                },
            });
        }
        MountOptions {
            fs,
            allow_other: self.allow_other,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Response {
    Mounted {
        mountpoint: String,
        pid: u32,
    },
    /// Whether the daemon served (and has now unmounted) the mount asked for.
    Unmounted {
        served: bool,
    },
    /// Whether the daemon served (and has now reset) the working copy asked for.
    Reset {
        served: bool,
    },
    Allocated {
        allocation: Allocation,
    },
    Allocations {
        allocations: Vec<Allocation>,
    },
    Status(DaemonStatus),
    Stopping,
    /// Repo roots re-resolved after a push.
    Refreshed {
        roots: usize,
    },
    Error {
        message: String,
        /// For programs (the Python SDK's exception classes); absent from older daemons.
        #[serde(default)]
        kind: ErrorKind,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DaemonStatus {
    pub pid: u32,
    pub started_at: i64,
    pub socket: PathBuf,
    pub cache_dir: PathBuf,
    pub api_url: String,
    pub alloc_root: PathBuf,
    pub allocations: usize,
    /// Whole-namespace mounts it serves.
    pub mounts: Vec<String>,
}

/// The user's runtime directory for Heimdall ([`crate::config::Settings::runtime_dir`]),
/// created 0700 and refused if another user owns it.
pub fn prepare_runtime_dir(dir: &Path) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    let dir = dir.to_path_buf();
    std::fs::create_dir_all(&dir)?;
    let meta = std::fs::metadata(&dir)?;
    if meta.uid() != uid {
        return Err(std::io::Error::other(format!(
            "`{}` belongs to another user",
            dir.display()
        )));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(dir)
}

/// The socket of the daemon serving `cache`: one daemon per user and cache directory
/// (`daemon-<8 hex digits of the cache path's SHA-1>.sock`), so commands run with another
/// `--cache-dir` get their own daemon instead of one that reads another cache.
pub fn socket_path(runtime: &Path, cache: &Path) -> PathBuf {
    use sha1::Digest;
    let cache = std::fs::canonicalize(cache).unwrap_or_else(|_| cache.to_path_buf());
    let digest = sha1::Sha1::digest(cache.as_os_str().as_encoded_bytes());
    runtime.join(format!("daemon-{}.sock", &hex::encode(digest)[..8]))
}

/// Sends one request and reads the response. `timeout` bounds the whole exchange.
pub fn call(socket: &Path, request: &Request, timeout: Duration) -> std::io::Result<Response> {
    let stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let mut line = serde_json::to_vec(request).map_err(std::io::Error::other)?;
    line.push(b'\n');
    (&stream).write_all(&line)?;
    let mut reader = BufReader::new(std::io::Read::take(&stream, MAX_LINE));
    let mut answer = String::new();
    reader.read_line(&mut answer)?;
    if answer.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the daemon closed the connection without answering",
        ));
    }
    serde_json::from_str(&answer).map_err(std::io::Error::other)
}

/// Waits until something accepts connections on `socket`.
pub fn wait_for(socket: &Path, within: Duration) -> bool {
    let started = Instant::now();
    while started.elapsed() < within {
        if UnixStream::connect(socket).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}
