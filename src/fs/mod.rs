//! The FUSE mount: a thin adapter from fuser's callbacks to the async [`core::FsCore`].
//!
//! The adapter never blocks fuser's thread on the network: each request's reply object
//! moves into a tokio task, which completes it when the core answers, so many lookups
//! and reads are in flight at once. Files whose blob is local are opened with FUSE
//! passthrough where the kernel allows it (reads then go straight to the cache file);
//! otherwise reads are served from the same file by the adapter.
//! Kernel cache invalidations are sent from a separate thread, never from inside a
//! request (the kernel may hold the directory's lock while the request is pending).

pub mod control;
pub mod core;
pub mod errno;
pub mod hydrate;
pub mod inode;

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use fuser::{
    AccessFlags, BackingId, Config, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags,
    Generation, INodeNo, InitFlags, KernelConfig, LockOwner, MountOption, OpenAccMode, OpenFlags,
    ReplyAttr, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs,
    ReplyXattr, Request, SessionACL,
};

use self::core::{Attr, FsCore, FsOptions, Invalidation, Kind};
use crate::namespace::Namespace;

/// fuser threads reading requests; replies come from tokio, so few are needed.
const FUSE_THREADS: usize = 2;

fn to_file_type(kind: Kind) -> FileType {
    match kind {
        Kind::Directory => FileType::Directory,
        Kind::File => FileType::RegularFile,
        Kind::Symlink => FileType::Symlink,
    }
}

fn to_attr(attr: &Attr) -> FileAttr {
    FileAttr {
        ino: INodeNo(attr.ino),
        size: attr.size,
        blocks: attr.blocks(),
        atime: attr.mtime,
        mtime: attr.mtime,
        ctime: attr.mtime,
        crtime: attr.mtime,
        kind: to_file_type(attr.kind),
        perm: attr.perm,
        nlink: attr.nlink,
        uid: attr.uid,
        gid: attr.gid,
        rdev: 0,
        flags: 0,
        blksize: attr.blksize,
    }
}

fn errno(e: core::Errno) -> Errno {
    Errno::from_i32(e.0)
}

struct Adapter {
    core: Arc<FsCore>,
    rt: tokio::runtime::Handle,
    passthrough: Arc<AtomicBool>,
    /// One backing id per inode, shared by all its opens (the kernel requires it) and
    /// kept until the inode is forgotten, so reopening costs no registration.
    backing: Arc<Mutex<HashMap<u64, Arc<BackingId>>>>,
}

impl Adapter {
    fn spawn<F>(&self, work: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.rt.spawn(work);
    }
}

impl Filesystem for Adapter {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> io::Result<()> {
        let wanted = self.passthrough.load(Ordering::Relaxed);
        let granted = wanted
            && config.add_capabilities(InitFlags::FUSE_PASSTHROUGH).is_ok()
            && config.set_max_stack_depth(2).is_ok();
        if wanted && !granted {
            tracing::info!("the kernel does not offer FUSE passthrough; reads go through heimdall");
        }
        self.passthrough.store(granted, Ordering::Relaxed);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let Some(name) = name.to_str().map(str::to_string) else {
            reply.error(Errno::ENOENT);
            return;
        };
        let core = Arc::clone(&self.core);
        self.spawn(async move {
            match core.lookup(parent.0, &name).await {
                Ok((attr, ttl)) => reply.entry(&ttl, &to_attr(&attr), Generation(0)),
                // A negative entry (inode 0): the kernel caches the miss, so tools probing
                // for the same config files in every directory ask once, not every time.
                Err(e) if e.0 == libc::ENOENT => {
                    let ttl = core.negative_ttl(parent.0);
                    let mut attr = to_attr(&core::Attr {
                        ino: 0,
                        kind: Kind::File,
                        size: 0,
                        perm: 0,
                        nlink: 0,
                        mtime: std::time::UNIX_EPOCH,
                        uid: 0,
                        gid: 0,
                        blksize: 0,
                    });
                    attr.ino = INodeNo(0);
                    reply.entry(&ttl, &attr, Generation(0));
                }
                Err(e) => reply.error(errno(e)),
            }
        });
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        self.core.forget(ino.0, nlookup);
        if self.core.inodes().get(ino.0).is_none() {
            self.backing
                .lock()
                .expect("backing poisoned")
                .remove(&ino.0);
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
        let core = Arc::clone(&self.core);
        self.spawn(async move {
            match core.getattr(ino.0, fh.map(|f| f.0)).await {
                Ok((attr, ttl)) => reply.attr(&ttl, &to_attr(&attr)),
                Err(e) => reply.error(errno(e)),
            }
        });
    }

    fn setattr(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        _size: Option<u64>,
        _atime: Option<fuser::TimeOrNow>,
        _mtime: Option<fuser::TimeOrNow>,
        _ctime: Option<std::time::SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<std::time::SystemTime>,
        _chgtime: Option<std::time::SystemTime>,
        _bkuptime: Option<std::time::SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        reply.error(Errno::EROFS);
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        let core = Arc::clone(&self.core);
        self.spawn(async move {
            match core.readlink(ino.0).await {
                Ok(target) => reply.data(&target),
                Err(e) => reply.error(errno(e)),
            }
        });
    }

    fn mknod(
        &self,
        _req: &Request,
        _p: INodeNo,
        _n: &OsStr,
        _m: u32,
        _u: u32,
        _r: u32,
        reply: ReplyEntry,
    ) {
        reply.error(Errno::EROFS);
    }

    fn mkdir(&self, _req: &Request, _p: INodeNo, _n: &OsStr, _m: u32, _u: u32, reply: ReplyEntry) {
        reply.error(Errno::EROFS);
    }

    fn unlink(&self, _req: &Request, _p: INodeNo, _n: &OsStr, reply: ReplyEmpty) {
        reply.error(Errno::EROFS);
    }

    fn rmdir(&self, _req: &Request, _p: INodeNo, _n: &OsStr, reply: ReplyEmpty) {
        reply.error(Errno::EROFS);
    }

    fn symlink(&self, _req: &Request, _p: INodeNo, _n: &OsStr, _l: &Path, reply: ReplyEntry) {
        reply.error(Errno::EROFS);
    }

    fn rename(
        &self,
        _req: &Request,
        _p: INodeNo,
        _n: &OsStr,
        _np: INodeNo,
        _nn: &OsStr,
        _f: fuser::RenameFlags,
        reply: ReplyEmpty,
    ) {
        reply.error(Errno::EROFS);
    }

    fn link(&self, _req: &Request, _i: INodeNo, _np: INodeNo, _nn: &OsStr, reply: ReplyEntry) {
        reply.error(Errno::EROFS);
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        if flags.acc_mode() != OpenAccMode::O_RDONLY || flags.0 & libc::O_TRUNC != 0 {
            reply.error(Errno::EROFS);
            return;
        }
        // Warm path: the inode already has a backing file registered with the kernel, so
        // the reply needs nothing else (no task, no stat, no open).
        if self.passthrough.load(Ordering::Relaxed) {
            let existing = self
                .backing
                .lock()
                .expect("backing poisoned")
                .get(&ino.0)
                .cloned();
            if let Some(id) = existing {
                let fh = self.core.next_handle();
                reply.opened_passthrough(FileHandle(fh), FopenFlags::FOPEN_NOFLUSH, &id);
                return;
            }
        }
        let core = Arc::clone(&self.core);
        let passthrough = Arc::clone(&self.passthrough);
        let backing = Arc::clone(&self.backing);
        self.spawn(async move {
            let (fh, open) = match core.open(ino.0).await {
                Ok(core::Opened::Blob(fh, open)) => (fh, open),
                // Control files: content fixed at open, read with direct I/O.
                Ok(core::Opened::Control(fh)) => {
                    return reply.opened(FileHandle(fh), FopenFlags::FOPEN_DIRECT_IO);
                }
                Err(e) => return reply.error(errno(e)),
            };
            if passthrough.load(Ordering::Relaxed) {
                // Look up and register under one lock: two first opens of an inode must
                // share one id. Replacing a registered id would drop it, and the kernel
                // then fails reads through the handle opened with it (EIO).
                let id = {
                    let mut ids = backing.lock().expect("backing poisoned");
                    match ids.get(&ino.0) {
                        Some(id) => Ok(Arc::clone(id)),
                        None => reply.open_backing(&*open.file).map(|id| {
                            let id = Arc::new(id);
                            ids.insert(ino.0, Arc::clone(&id));
                            id
                        }),
                    }
                };
                match id {
                    Ok(id) => {
                        // With passthrough the kernel reads the backing file itself; the
                        // handle's own file is not needed.
                        core.release(fh);
                        // No FOPEN_KEEP_CACHE here: the kernel refuses it with passthrough
                        // (EIO on read); the page cache is the backing file's own.
                        reply.opened_passthrough(FileHandle(fh), FopenFlags::FOPEN_NOFLUSH, &id);
                        return;
                    }
                    Err(e) => {
                        tracing::info!(error = %e, "passthrough refused; serving reads from heimdall");
                        passthrough.store(false, Ordering::Relaxed);
                    }
                }
            }
            reply.opened(FileHandle(fh), FopenFlags::FOPEN_KEEP_CACHE | FopenFlags::FOPEN_NOFLUSH);
        });
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let core = Arc::clone(&self.core);
        self.spawn(async move {
            match core.read(fh.0, offset, size) {
                Ok(data) => reply.data(&data),
                Err(e) => reply.error(errno(e)),
            }
        });
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _offset: u64,
        _data: &[u8],
        _write_flags: fuser::WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: fuser::ReplyWrite,
    ) {
        reply.error(Errno::EROFS);
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.core.release(fh.0);
        reply.ok();
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let core = Arc::clone(&self.core);
        self.spawn(async move {
            match core.readdir(ino.0).await {
                Ok(entries) => {
                    for (i, entry) in entries.iter().enumerate().skip(offset as usize) {
                        if reply.add(
                            INodeNo(entry.ino),
                            (i + 1) as u64,
                            to_file_type(entry.kind),
                            &entry.name,
                        ) {
                            break;
                        }
                    }
                    reply.ok();
                }
                Err(e) => reply.error(errno(e)),
            }
        });
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        reply.statfs(0, 0, 0, 0, 0, 4096, 255, 4096);
    }

    fn setxattr(
        &self,
        _req: &Request,
        _i: INodeNo,
        _n: &OsStr,
        _v: &[u8],
        _f: i32,
        _p: u32,
        reply: ReplyEmpty,
    ) {
        reply.error(Errno::EROFS);
    }

    fn getxattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        let Some(name) = name.to_str().map(str::to_string) else {
            reply.error(Errno::ENODATA);
            return;
        };
        let core = Arc::clone(&self.core);
        self.spawn(async move {
            match core.getxattr(ino.0, &name).await {
                Ok(value) => reply_xattr(reply, &value, size),
                Err(e) => reply.error(errno(e)),
            }
        });
    }

    fn listxattr(&self, _req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        match self.core.listxattr(ino.0) {
            Ok(names) => reply_xattr(reply, &names, size),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn removexattr(&self, _req: &Request, _i: INodeNo, _n: &OsStr, reply: ReplyEmpty) {
        reply.error(Errno::EROFS);
    }

    fn access(&self, _req: &Request, _ino: INodeNo, mask: AccessFlags, reply: ReplyEmpty) {
        if mask.contains(AccessFlags::W_OK) {
            reply.error(Errno::EROFS);
        } else {
            reply.ok();
        }
    }

    fn create(
        &self,
        _req: &Request,
        _p: INodeNo,
        _n: &OsStr,
        _m: u32,
        _u: u32,
        _f: i32,
        reply: fuser::ReplyCreate,
    ) {
        reply.error(Errno::EROFS);
    }
}

/// getxattr/listxattr protocol: size 0 asks for the length.
fn reply_xattr(reply: ReplyXattr, value: &[u8], size: u32) {
    if size == 0 {
        reply.size(value.len() as u32);
    } else if value.len() > size as usize {
        reply.error(Errno::ERANGE);
    } else {
        reply.data(value);
    }
}

/// Mount-level options (the core's are in [`FsOptions`]).
#[derive(Debug, Clone)]
pub struct MountOptions {
    pub allow_other: bool,
    /// Use FUSE passthrough when the kernel offers it.
    pub passthrough: bool,
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

    pub fn unmount(mut self) -> io::Result<()> {
        match self.session.take() {
            Some(session) if !session.guard.is_finished() => session.umount_and_join(),
            Some(session) => session.join(),
            None => Ok(()),
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            let _ = session.umount_and_join();
        }
    }
}

/// Mounts the namespace at `mountpoint` (read-only, nosuid, nodev) and serves it from
/// fuser's threads and the current tokio runtime.
pub fn mount(
    ns: Arc<Namespace>,
    fs: FsOptions,
    options: &MountOptions,
    mountpoint: &Path,
) -> io::Result<Mount> {
    let (tx, rx) = mpsc::channel::<Invalidation>();
    let tx = Mutex::new(tx);
    let core = Arc::new(FsCore::new(
        ns,
        fs,
        Box::new(move |inv| {
            let _ = tx.lock().expect("invalidation channel poisoned").send(inv);
        }),
    ));
    let adapter = Adapter {
        core: Arc::clone(&core),
        rt: tokio::runtime::Handle::current(),
        passthrough: Arc::new(AtomicBool::new(options.passthrough)),
        backing: Arc::default(),
    };
    let mut config = Config::default();
    config.mount_options = vec![
        MountOption::FSName("heimdall".into()),
        MountOption::Subtype("heimdall".into()),
        MountOption::RO,
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
            }
        })?;
    let session = session.spawn()?;
    Ok(Mount {
        core,
        mountpoint: mountpoint.to_path_buf(),
        session: Some(session),
    })
}

fn explain_mount_error(error: io::Error, mountpoint: &Path) -> io::Error {
    let why = if !Path::new("/dev/fuse").exists() {
        "/dev/fuse does not exist (load the fuse module, or run where FUSE is available)"
            .to_string()
    } else if which("fusermount3").is_none() && which("fusermount").is_none() {
        "fusermount3 is not installed (apt-get install fuse3)".to_string()
    } else {
        error.to_string()
    };
    io::Error::new(
        error.kind(),
        format!("cannot mount at `{}`: {why}", mountpoint.display()),
    )
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|p| p.exists())
}

/// Unmounts a Heimdall mount by path (from another process).
pub fn unmount(mountpoint: &Path) -> io::Result<()> {
    let attempts: [(&str, &[&str]); 3] = [
        ("fusermount3", &["-u"]),
        ("fusermount", &["-u"]),
        ("umount", &[]),
    ];
    let mut last = String::from("no unmount tool found (install fuse3)");
    for (tool, args) in attempts {
        if which(tool).is_none() {
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

/// How often a foreground mount checks whether it was unmounted from outside.
pub const SERVE_POLL: Duration = Duration::from_millis(200);
