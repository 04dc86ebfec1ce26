//! A mount session: mounting (one function for `heimdall mount`, the daemon's mounts and
//! allocations), serving, unmounting and detaching, and what the kernel's mount table
//! says.
//!
//! Kernel cache invalidations are sent from a thread of the session, never from inside a
//! request (the kernel may hold the directory's lock while the request is pending).
//! Mounts are `nosuid,nodev,noatime` with default permissions, `rw` where the repository
//! roots are working copies and `ro` with `--read-only`, for the mounting user alone
//! unless `allow_other`.

use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use fuser::{Config, INodeNo, MountOption, SessionACL};

use super::adapter::Adapter;
use super::attr::Invalidation;
use super::filesystem::{FsCore, FsOptions};
use crate::namespace::Namespace;

/// How often the blobs read through a mount get their access time in the index.
const TOUCH_FLUSH_INTERVAL: Duration = Duration::from_secs(30);

/// fuser threads reading requests; replies come from tokio, so few are needed.
const FUSE_THREADS: usize = 2;

/// Longest a new mount waits for its `--org` listings before it is reported ready (they
/// go on in the background).
const PRELOAD_TIMEOUT: Duration = Duration::from_secs(10);

/// Invalidations sent and delivered, so the core can wait until the kernel has heard
/// what it was told (a push announced, changes discarded: the next access must see it).
#[derive(Default)]
struct Delivery {
    sent: std::sync::atomic::AtomicU64,
    done: Mutex<u64>,
    changed: std::sync::Condvar,
}

impl Delivery {
    fn delivered(&self) {
        *self.done.lock().expect("delivery poisoned") += 1;
        self.changed.notify_all();
    }

    /// Waits (at most `within`) until every invalidation sent so far is delivered.
    fn wait(&self, within: Duration) {
        let target = self.sent.load(std::sync::atomic::Ordering::SeqCst);
        let done = self.done.lock().expect("delivery poisoned");
        let _ = self
            .changed
            .wait_timeout_while(done, within, |done| *done < target);
    }
}

/// What to mount and how: the core's options, and whether other local users may read it.
#[derive(Debug, Clone)]
pub struct MountOptions {
    pub fs: FsOptions,
    /// Every local user can read the mount, including the private repositories the
    /// token can read (a warning says so).
    pub allow_other: bool,
}

/// A live mount; dropping it unmounts.
pub struct Mount {
    pub core: Arc<FsCore>,
    pub mountpoint: PathBuf,
    session: Option<fuser::BackgroundSession>,
}

impl Mount {
    /// Whether the session is still serving (false once unmounted from outside).
    pub fn is_serving(&self) -> bool {
        self.session
            .as_ref()
            .is_some_and(|s| !s.guard.is_finished())
    }

    /// Unmounts; if that fails (the mount is busy), detaches it instead, so nothing is left
    /// mounted either way.
    pub fn unmount_or_detach(self) {
        let path = self.mountpoint.clone();
        if let Err(e) = self.unmount() {
            tracing::warn!(mountpoint = %path.display(), error = %e, "unmount failed; detaching");
            let _ = unmount_lazy(&path);
        }
    }

    pub fn unmount(mut self) -> io::Result<()> {
        self.core.namespace().store().flush_access_times();
        match self.session.take() {
            Some(session) if !session.guard.is_finished() => session.umount_and_join(),
            Some(session) => session.join(),
            None => Ok(()),
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        self.core.namespace().store().flush_access_times();
        if let Some(session) = self.session.take() {
            let _ = session.umount_and_join();
        }
    }
}

/// Mounts at `mountpoint` and serves it from fuser's threads and the current tokio
/// runtime: the one way a mount starts (`heimdall mount`, the daemon's mounts and
/// allocations). Returns once the mount answers and its `--org` listings are in (or
/// `PRELOAD_TIMEOUT` passed; they go on in the background).
pub async fn mount(
    ns: Arc<Namespace>,
    options: MountOptions,
    mountpoint: &Path,
) -> io::Result<Mount> {
    if let Some(org) = options
        .fs
        .owners
        .iter()
        .find(|org| !crate::namespace::valid_owner(org))
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("`{org}` is not a valid GitHub owner name"),
        ));
    }
    if !mountpoint.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotADirectory,
            format!(
                "cannot mount at `{}`: not a directory",
                mountpoint.display()
            ),
        ));
    }
    let (tx, rx) = mpsc::channel::<Invalidation>();
    let tx = Mutex::new(tx);
    let delivery = Arc::new(Delivery::default());
    let sent = Arc::clone(&delivery);
    let core = Arc::new(FsCore::new(
        ns,
        options.fs,
        Box::new(move |inv| {
            sent.sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let _ = tx.lock().expect("invalidation channel poisoned").send(inv);
        }),
    ));
    let waiting = Arc::clone(&delivery);
    core.set_invalidations_wait(Box::new(move |within| waiting.wait(within)));
    let adapter = Adapter::new(Arc::clone(&core), tokio::runtime::Handle::current());
    let mut config = Config::default();
    config.mount_options = vec![
        MountOption::FSName("heimdall".into()),
        MountOption::Subtype("heimdall".into()),
        if core.writable() {
            MountOption::RW
        } else {
            MountOption::RO
        },
        MountOption::NoSuid,
        MountOption::NoDev,
        MountOption::NoAtime,
        MountOption::DefaultPermissions,
    ];
    config.acl = if options.allow_other {
        SessionACL::All
    } else {
        SessionACL::Owner
    };
    config.n_threads = Some(FUSE_THREADS);
    let session = fuser::Session::new(adapter, mountpoint, &config)
        .map_err(|e| explain_mount_error(e, mountpoint))?;
    raise_readahead(mountpoint);
    let notifier = session.notifier();
    std::thread::Builder::new()
        .name("heimdall-invalidate".into())
        .spawn(move || {
            for inv in rx {
                let result = match &inv {
                    Invalidation::Inode(ino) => notifier.inval_inode(INodeNo(*ino), 0, 0),
                    Invalidation::Entry(parent, name) => {
                        notifier.inval_entry(INodeNo(*parent), OsStr::new(name))
                    }
                };
                if let Err(e) = result {
                    tracing::debug!(?inv, error = %e, "kernel invalidation not applied");
                }
                delivery.delivered();
            }
        })?;
    let session = session.spawn()?;
    // Access times reach the index in batches, not one write per read.
    let weak = Arc::downgrade(&core);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(TOUCH_FLUSH_INTERVAL).await;
            match weak.upgrade() {
                Some(core) => core.namespace().store().flush_access_times(),
                None => break,
            }
        }
    });
    let mount = Mount {
        core,
        mountpoint: mountpoint.to_path_buf(),
        session: Some(session),
    };
    if options.allow_other {
        tracing::warn!(mountpoint = %mountpoint.display(), "--allow-other: every local user can read this mount, including private repositories");
    }
    if tokio::time::timeout(PRELOAD_TIMEOUT, mount.core.preload_owners())
        .await
        .is_err()
    {
        tracing::warn!("listing the --org owners takes long; continuing in the background");
    }
    Ok(mount)
}

/// Read-ahead for the mount, in KiB. The kernel gives a FUSE mount 128 KiB, so a file not
/// yet in the page cache is read in 128 KiB requests; 1 MiB requests read a stored 200 MB
/// file through the mount at ~1.8 GB/s instead of ~1.45 GB/s (measured on Linux 6.18).
const READ_AHEAD_KB: u32 = 1024;

/// Raises the mount's read-ahead through sysfs (`/sys/class/bdi/<dev>/read_ahead_kb`).
/// Only root may; anyone else keeps the kernel's default, which is correct, just slower
/// for big files.
fn raise_readahead(mountpoint: &Path) {
    let Some(dev) = mount_device(mountpoint) else {
        tracing::debug!("mount not found in /proc/self/mountinfo; read-ahead unchanged");
        return;
    };
    let knob = format!("/sys/class/bdi/{dev}/read_ahead_kb");
    match std::fs::write(&knob, READ_AHEAD_KB.to_string()) {
        Ok(()) => tracing::debug!(knob, kb = READ_AHEAD_KB, "read-ahead raised"),
        Err(e) => tracing::debug!(knob, error = %e, "read-ahead unchanged"),
    }
}

/// The `major:minor` of the Heimdall mount at `mountpoint`, from /proc/self/mountinfo.
fn mount_device(mountpoint: &Path) -> Option<String> {
    let target = std::fs::canonicalize(mountpoint).ok()?;
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    device_in_mountinfo(&info, target.to_str()?)
}

/// The newest FUSE mount at `target` in a mountinfo text (`id parent major:minor root
/// point options ... - fstype source ...`).
fn device_in_mountinfo(info: &str, target: &str) -> Option<String> {
    info.lines().rev().find_map(|line| {
        let fields: Vec<&str> = line.split(' ').collect();
        let separator = fields.iter().position(|f| *f == "-")?;
        let fstype = fields.get(separator + 1)?;
        let point = unescape_mountinfo(fields.get(4)?);
        (point == target && fstype.starts_with("fuse")).then(|| fields[2].to_string())
    })
}

/// Mount points in mountinfo escape space, tab, newline and backslash as `\ooo`.
fn unescape_mountinfo(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn explain_mount_error(error: io::Error, mountpoint: &Path) -> io::Error {
    let why = if !Path::new("/dev/fuse").exists() {
        "/dev/fuse does not exist (load the fuse module, or run where FUSE is available)"
            .to_string()
    } else if crate::config::program_on_path("fusermount3").is_none()
        && crate::config::program_on_path("fusermount").is_none()
    {
        "fusermount3 is not installed (apt-get install fuse3)".to_string()
    } else {
        error.to_string()
    };
    io::Error::new(
        error.kind(),
        format!("cannot mount at `{}`: {why}", mountpoint.display()),
    )
}

/// Unmounts a Heimdall mount by path (from another process).
pub fn unmount(mountpoint: &Path) -> io::Result<()> {
    unmount_with(
        mountpoint,
        [
            ("fusermount3", &["-u"]),
            ("fusermount", &["-u"]),
            ("umount", &[]),
        ],
    )
}

/// Detaches a mount even if it is busy or its server is gone (`fusermount3 -uz`): what
/// the daemon does with mounts a dead daemon left behind.
pub fn unmount_lazy(mountpoint: &Path) -> io::Result<()> {
    unmount_with(
        mountpoint,
        [
            ("fusermount3", &["-uz"]),
            ("fusermount", &["-uz"]),
            ("umount", &["-l"]),
        ],
    )
}

fn unmount_with(mountpoint: &Path, attempts: [(&str, &[&str]); 3]) -> io::Result<()> {
    let mut last = String::from("no unmount tool found (install fuse3)");
    for (tool, args) in attempts {
        if crate::config::program_on_path(tool).is_none() {
            continue;
        }
        let out = std::process::Command::new(tool)
            .args(args)
            .arg(mountpoint)
            .output()?;
        if out.status.success() {
            return Ok(());
        }
        last = String::from_utf8_lossy(&out.stderr).trim().to_string();
    }
    Err(io::Error::other(format!(
        "cannot unmount `{}`: {last}",
        mountpoint.display()
    )))
}

/// Whether `path` is a mount point (its device differs from its parent's).
pub fn is_mountpoint(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let (Ok(meta), Some(parent)) = (std::fs::metadata(path), path.parent()) else {
        return false;
    };
    std::fs::metadata(parent).is_ok_and(|p| p.dev() != meta.dev())
}

/// Detaches whatever is mounted at `path` (live, or dead with its daemon). Returns
/// whether something was there.
pub fn detach_leftover(path: &Path) -> bool {
    let there = is_stale_mount(path) || is_mountpoint(path);
    if there {
        let _ = unmount_lazy(path);
    }
    there
}

/// A FUSE mount whose server is gone: any access fails with ECONNABORTED, then ENOTCONN.
pub fn is_stale_mount(path: &Path) -> bool {
    matches!(
        std::fs::metadata(path),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOTCONN | libc::ECONNABORTED))
    )
}

/// How often a foreground mount checks whether it was unmounted from outside.
pub const SERVE_POLL: Duration = Duration::from_millis(200);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_newest_fuse_mount_at_a_path() {
        let info = "\
22 1 254:0 / / rw,relatime - ext4 /dev/vda rw
40 22 0:38 / /tmp/my\\040mnt ro,nosuid - fuse heimdall ro,user_id=0
41 22 0:39 / /tmp/x rw - tmpfs tmpfs rw
42 22 0:40 / /tmp/my\\040mnt ro,nosuid - fuse heimdall ro,user_id=0
";
        assert_eq!(
            device_in_mountinfo(info, "/tmp/my mnt").as_deref(),
            Some("0:40")
        );
        assert_eq!(device_in_mountinfo(info, "/tmp/x"), None, "not FUSE");
        assert_eq!(device_in_mountinfo(info, "/nowhere"), None);
    }
}
