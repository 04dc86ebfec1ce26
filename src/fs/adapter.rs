//! The FUSE adapter: fuser's callbacks translated into calls on the filesystem core
//! ([`FsCore`]), with no logic of its own.
//!
//! The adapter never blocks fuser's thread on the network: each request's reply object
//! moves into a tokio task, which completes it when the core answers, so many lookups
//! and reads are in flight at once; what the core can answer from local state
//! (`*_local`) is answered on fuser's thread. Files whose blob is local are opened with
//! FUSE passthrough where the kernel granted it (reads then go straight to the cache
//! file); otherwise reads are served from the same file by the adapter.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};

use fuser::{
    AccessFlags, BackingId, Errno, FileHandle, Filesystem, FopenFlags, Generation, INodeNo,
    InitFlags, KernelConfig, LockOwner, OpenAccMode, OpenFlags, ReplyAttr, ReplyData,
    ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyXattr,
    Request,
};

use super::attr::PlusEntry;
use super::filesystem::{FsCore, SetAttr};
use super::replies::{
    add_plus, errno, reply_attr, reply_dir, reply_empty, reply_entry, reply_read, reply_written,
    reply_xattr, to_attr,
};
use super::status::OpCounters;

pub(super) struct Adapter {
    core: Arc<FsCore>,
    rt: tokio::runtime::Handle,
    /// One backing id per inode, shared by all its opens (the kernel requires it) and
    /// kept until the inode is forgotten, so reopening costs no registration.
    backing: Arc<Mutex<HashMap<u64, Arc<BackingId>>>>,
}

impl Adapter {
    /// Runs `work` on fuser's thread as far as it goes without waiting (a change to a
    /// local directory, a write to a local file: SQLite and a local file, microseconds),
    /// and hands the rest, if it must wait (the network, a lock), to the runtime.
    fn run<F>(&self, work: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        use std::task::Context;
        let _runtime = self.rt.enter();
        let mut work = Box::pin(work);
        let waker = std::task::Waker::noop();
        if work
            .as_mut()
            .poll(&mut Context::from_waker(waker))
            .is_pending()
        {
            self.rt.spawn(work);
        }
    }

    /// Serves `core`, running its work on the runtime `rt`.
    pub(super) fn new(core: Arc<FsCore>, rt: tokio::runtime::Handle) -> Adapter {
        Adapter {
            core,
            rt,
            backing: Arc::default(),
        }
    }

    fn spawn<F>(&self, work: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.rt.spawn(work);
    }
}

impl Filesystem for Adapter {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> io::Result<()> {
        let wanted = self.core.passthrough().wanted();
        let granted = wanted
            && config.add_capabilities(InitFlags::FUSE_PASSTHROUGH).is_ok()
            && config.set_max_stack_depth(2).is_ok();
        if wanted && !granted {
            tracing::info!("the kernel does not offer FUSE passthrough; reads go through heimdall");
        }
        self.core.passthrough().set_granted(granted);
        // Set-user-ID bits are cleared here on writes (see `write`), so the kernel need
        // not ask for security.capability before each one.
        let _ = config.add_capabilities(InitFlags::FUSE_HANDLE_KILLPRIV_V2);
        // Listings answer their names' lookups too, on a directory's first listing and
        // where lookups followed the last one (the kernel's own choice, AUTO).
        let _ = config
            .add_capabilities(InitFlags::FUSE_DO_READDIRPLUS | InitFlags::FUSE_READDIRPLUS_AUTO);
        // No writeback cache: with it a write(2) only fills the page cache, and a full
        // scratch disk would show at close (which most programs ignore) instead of at the
        // write that did not fit. Writes come through in requests of up to 1 MiB.
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        OpCounters::bump(&self.core.ops().lookup);
        let Some(name) = name.to_str().map(str::to_string) else {
            reply.error(Errno::ENOENT);
            return;
        };
        // Names in a tree that is already local are answered here, without a task.
        if let Some(result) = self.core.lookup_local(parent.0, &name) {
            return reply_entry(&self.core, parent, result, reply);
        }
        let core = Arc::clone(&self.core);
        self.spawn(async move {
            let result = core.lookup(parent.0, &name).await;
            reply_entry(&core, parent, result, reply);
        });
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        OpCounters::bump(&self.core.ops().forget);
        self.core.forget(ino.0, nlookup);
        if self.core.inodes().get(ino.0).is_none() {
            self.backing
                .lock()
                .expect("backing poisoned")
                .remove(&ino.0);
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        OpCounters::bump(&self.core.ops().getattr);
        if let Some(result) = self.core.getattr_local(ino.0) {
            return reply_attr(result, reply);
        }
        let core = Arc::clone(&self.core);
        self.spawn(async move { reply_attr(core.getattr(ino.0).await, reply) });
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<fuser::TimeOrNow>,
        mtime: Option<fuser::TimeOrNow>,
        _ctime: Option<std::time::SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<std::time::SystemTime>,
        _chgtime: Option<std::time::SystemTime>,
        _bkuptime: Option<std::time::SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        OpCounters::bump(&self.core.ops().setattr);
        let time = |t: fuser::TimeOrNow| match t {
            fuser::TimeOrNow::SpecificTime(t) => t,
            fuser::TimeOrNow::Now => std::time::SystemTime::now(),
        };
        let set = SetAttr {
            mode,
            uid,
            gid,
            size,
            atime: atime.map(time),
            mtime: mtime.map(time),
        };
        let core = Arc::clone(&self.core);
        self.run(async move { reply_attr(core.setattr(ino.0, set).await, reply) });
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        OpCounters::bump(&self.core.ops().readlink);
        let core = Arc::clone(&self.core);
        self.spawn(async move {
            match core.readlink(ino.0).await {
                Ok(target) => reply.data(&target),
                Err(e) => reply.error(errno(e)),
            }
        });
    }

    /// Regular files only (FIFOs, sockets and devices have no place in a working copy).
    fn mknod(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        if mode & libc::S_IFMT != libc::S_IFREG {
            return reply.error(Errno::EPERM);
        }
        let Some(name) = utf8(name) else {
            return reply.error(Errno::EINVAL);
        };
        let core = Arc::clone(&self.core);
        self.run(async move {
            match core.create(parent.0, &name, mode, umask).await {
                Ok((attr, ttl)) => reply.entry(&ttl, &to_attr(&attr), Generation(0)),
                Err(e) => reply.error(errno(e)),
            }
        });
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        OpCounters::bump(&self.core.ops().change);
        let Some(name) = utf8(name) else {
            return reply.error(Errno::EINVAL);
        };
        let core = Arc::clone(&self.core);
        self.run(async move {
            match core.mkdir(parent.0, &name, mode, umask).await {
                Ok((attr, ttl)) => reply.entry(&ttl, &to_attr(&attr), Generation(0)),
                Err(e) => reply.error(errno(e)),
            }
        });
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        OpCounters::bump(&self.core.ops().change);
        let Some(name) = utf8(name) else {
            return reply.error(Errno::ENOENT);
        };
        let core = Arc::clone(&self.core);
        self.run(async move { reply_empty(core.unlink(parent.0, &name).await, reply) });
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        OpCounters::bump(&self.core.ops().change);
        let Some(name) = utf8(name) else {
            return reply.error(Errno::ENOENT);
        };
        let core = Arc::clone(&self.core);
        self.run(async move { reply_empty(core.rmdir(parent.0, &name).await, reply) });
    }

    fn symlink(
        &self,
        _req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        target: &Path,
        reply: ReplyEntry,
    ) {
        OpCounters::bump(&self.core.ops().change);
        let Some(name) = utf8(link_name) else {
            return reply.error(Errno::EINVAL);
        };
        let target = target.as_os_str().as_encoded_bytes().to_vec();
        let core = Arc::clone(&self.core);
        self.run(async move {
            match core.symlink(parent.0, &name, &target).await {
                Ok((attr, ttl)) => reply.entry(&ttl, &to_attr(&attr), Generation(0)),
                Err(e) => reply.error(errno(e)),
            }
        });
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        new_parent: INodeNo,
        new_name: &OsStr,
        flags: fuser::RenameFlags,
        reply: ReplyEmpty,
    ) {
        OpCounters::bump(&self.core.ops().change);
        let (Some(name), Some(new_name)) = (utf8(name), utf8(new_name)) else {
            return reply.error(Errno::EINVAL);
        };
        let core = Arc::clone(&self.core);
        self.run(async move {
            let result = core
                .rename(parent.0, &name, new_parent.0, &new_name, flags.bits())
                .await;
            reply_empty(result, reply)
        });
    }

    /// Hard links: not in a working copy (git has none).
    fn link(&self, _req: &Request, _i: INodeNo, _np: INodeNo, _nn: &OsStr, reply: ReplyEntry) {
        reply.error(Errno::EPERM);
    }

    /// Without passthrough, open is not implemented (ENOSYS): the kernel then stops
    /// sending OPEN and RELEASE for every file and caches all file pages (as if each open
    /// had FOPEN_KEEP_CACHE). That is right for Heimdall, whose file inodes never change
    /// content, and it makes a warm open cost no round trip to this process.
    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        OpCounters::bump(&self.core.ops().open);
        let writing = flags.acc_mode() != OpenAccMode::O_RDONLY || flags.0 & libc::O_TRUNC != 0;
        if !self.core.passthrough().wanted() {
            // The first OPEN answered ENOSYS is the last: the kernel opens by itself.
            return reply.error(Errno::ENOSYS);
        }
        if writing && !self.core.may_write(ino.0) {
            return reply.error(Errno::EROFS);
        }
        // Files being written, and a working copy's own files (written through the page
        // cache), are read and written here; only the commit's blobs pass through.
        if writing || self.core.is_local(ino.0) {
            return reply.opened(FileHandle(0), FopenFlags::FOPEN_KEEP_CACHE);
        }
        if !self.core.passthrough().on() || self.core.is_snapshot(ino.0) {
            if self.core.passthrough().wanted() {
                // Passthrough was asked for but not granted (or this is a control file):
                // reads come here, by inode, and the kernel may cache them.
                reply.opened(
                    FileHandle(0),
                    FopenFlags::FOPEN_KEEP_CACHE | FopenFlags::FOPEN_NOFLUSH,
                );
            } else {
                reply.error(Errno::ENOSYS);
            }
            return;
        }
        // Warm path: the inode already has a backing file registered with the kernel, so
        // the reply needs nothing else (no task, no stat, no open).
        let existing = self
            .backing
            .lock()
            .expect("backing poisoned")
            .get(&ino.0)
            .cloned();
        if let Some(id) = existing {
            reply.opened_passthrough(FileHandle(0), FopenFlags::FOPEN_NOFLUSH, &id);
            return;
        }
        let core = Arc::clone(&self.core);
        let backing = Arc::clone(&self.backing);
        self.spawn(async move {
            let file = match core.open_blob(ino.0).await {
                Ok(file) => file,
                Err(e) => return reply.error(errno(e)),
            };
            // Look up and register under one lock: two first opens of an inode must share
            // one id. Replacing a registered id would drop it, and the kernel then fails
            // reads through the handle opened with it (EIO).
            let id = {
                let mut ids = backing.lock().expect("backing poisoned");
                match ids.get(&ino.0) {
                    Some(id) => Ok(Arc::clone(id)),
                    None => reply.open_backing(&file).map(|id| {
                        let id = Arc::new(id);
                        ids.insert(ino.0, Arc::clone(&id));
                        id
                    }),
                }
            };
            match id {
                // No FOPEN_KEEP_CACHE here: the kernel refuses it with passthrough (EIO on
                // read); the page cache is the backing file's own.
                Ok(id) => reply.opened_passthrough(FileHandle(0), FopenFlags::FOPEN_NOFLUSH, &id),
                Err(e) => {
                    tracing::info!(error = %e, "passthrough refused; serving reads from heimdall");
                    core.passthrough().refuse();
                    reply.opened(
                        FileHandle(0),
                        FopenFlags::FOPEN_KEEP_CACHE | FopenFlags::FOPEN_NOFLUSH,
                    );
                }
            }
        });
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        OpCounters::bump(&self.core.ops().read);
        // Local content (a stored blob, a control snapshot) is read here, without a task.
        if let Some(result) = self.core.read_local(ino.0, offset, size) {
            return reply_read(&self.core, result, reply);
        }
        let core = Arc::clone(&self.core);
        self.spawn(async move {
            let result = core.read(ino.0, offset, size).await;
            reply_read(&core, result, reply);
        });
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        data: &[u8],
        write_flags: fuser::WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: fuser::ReplyWrite,
    ) {
        OpCounters::bump(&self.core.ops().write);
        // With FUSE_HANDLE_KILLPRIV_V2 the kernel leaves clearing set-user-ID and
        // set-group-ID bits on a write to us (and stops asking for security.capability
        // before every write).
        let kill = write_flags.contains(fuser::WriteFlags::FUSE_WRITE_KILL_SUIDGID);
        // A file that is already local is written here, without a task.
        if let Some(result) = self.core.write_local(ino.0, offset, data) {
            let result = result.and_then(|n| self.core.kill_suid(ino.0, kill).map(|()| n));
            return reply_written(result, reply);
        }
        let data = data.to_vec();
        let core = Arc::clone(&self.core);
        self.run(async move {
            let result = core.write(ino.0, offset, &data).await;
            let result = result.and_then(|n| core.kill_suid(ino.0, kill).map(|()| n));
            reply_written(result, reply)
        });
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let core = Arc::clone(&self.core);
        self.run(async move { reply_empty(core.fsync(ino.0), reply) });
    }

    /// Writes reach the layer as they come (the kernel writes its cached pages back before
    /// FLUSH), so there is nothing to flush: ENOSYS makes the kernel stop sending FLUSH
    /// on every close.
    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        reply.error(Errno::ENOSYS);
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    /// A directory under a commit never changes: the kernel may keep its listing
    /// (FOPEN_CACHE_DIR) across opens, so walking a tree twice lists it once.
    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        OpCounters::bump(&self.core.ops().opendir);
        let flags = if self.core.is_immutable_dir(ino.0) {
            FopenFlags::FOPEN_CACHE_DIR | FopenFlags::FOPEN_KEEP_CACHE
        } else {
            FopenFlags::empty()
        };
        reply.opened(FileHandle(0), flags);
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        reply: ReplyDirectory,
    ) {
        OpCounters::bump(&self.core.ops().readdir);
        if let Some(result) = self.core.readdir_local(ino.0) {
            return reply_dir(result, offset, reply);
        }
        let core = Arc::clone(&self.core);
        self.spawn(async move { reply_dir(core.readdir(ino.0).await, offset, reply) });
    }

    /// A listing whose entries come with their nodes (see [`FsCore::readdirplus`]).
    fn readdirplus(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectoryPlus,
    ) {
        OpCounters::bump(&self.core.ops().readdirplus);
        let mut add = |entry: &PlusEntry| add_plus(&mut reply, entry);
        match self.core.readdirplus_local(ino.0, offset, &mut add) {
            Some(Ok(())) => return reply.ok(),
            Some(Err(e)) => return reply.error(errno(e)),
            None => {}
        }
        let core = Arc::clone(&self.core);
        self.spawn(async move {
            let mut add = |entry: &PlusEntry| add_plus(&mut reply, entry);
            match core.readdirplus(ino.0, offset, &mut add).await {
                Ok(()) => reply.ok(),
                Err(e) => reply.error(errno(e)),
            }
        });
    }

    /// The free space of the disk the changes are written to.
    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        match self.core.statfs() {
            Ok(s) => reply.statfs(
                s.blocks, s.bfree, s.bavail, s.files, s.ffree, s.bsize, s.namelen, s.frsize,
            ),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn setxattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        name: &OsStr,
        value: &[u8],
        flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        let Some(name) = utf8(name) else {
            return reply.error(Errno::EOPNOTSUPP);
        };
        let value = value.to_vec();
        let core = Arc::clone(&self.core);
        self.run(async move {
            reply_empty(
                core.set_xattr(ino.0, &name, Some(&value), flags).await,
                reply,
            )
        });
    }

    fn getxattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        OpCounters::bump(&self.core.ops().xattr);
        let Some(name) = name.to_str().map(str::to_string) else {
            reply.error(Errno::ENODATA);
            return;
        };
        if let Some(result) = self.core.getxattr_now(ino.0, &name) {
            return match result {
                Ok(value) => reply_xattr(reply, &value, size),
                Err(e) => reply.error(errno(e)),
            };
        }
        let core = Arc::clone(&self.core);
        self.spawn(async move {
            match core.getxattr(ino.0, &name).await {
                Ok(value) => reply_xattr(reply, &value, size),
                Err(e) => reply.error(errno(e)),
            }
        });
    }

    fn listxattr(&self, _req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        OpCounters::bump(&self.core.ops().xattr);
        match self.core.listxattr(ino.0) {
            Ok(names) => reply_xattr(reply, &names, size),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn removexattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let Some(name) = utf8(name) else {
            return reply.error(Errno::ENODATA);
        };
        let core = Arc::clone(&self.core);
        self.run(async move { reply_empty(core.set_xattr(ino.0, &name, None, 0).await, reply) });
    }

    /// Only asked without `default_permissions` (Heimdall mounts with it).
    fn access(&self, _req: &Request, ino: INodeNo, mask: AccessFlags, reply: ReplyEmpty) {
        if mask.contains(AccessFlags::W_OK) && !self.core.may_write(ino.0) {
            reply.error(Errno::EROFS);
        } else {
            reply.ok();
        }
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _flags: i32,
        reply: fuser::ReplyCreate,
    ) {
        OpCounters::bump(&self.core.ops().change);
        let Some(name) = utf8(name) else {
            return reply.error(Errno::EINVAL);
        };
        let core = Arc::clone(&self.core);
        self.run(async move {
            match core.create(parent.0, &name, mode, umask).await {
                Ok((attr, ttl)) => reply.created(
                    &ttl,
                    &to_attr(&attr),
                    Generation(0),
                    FileHandle(0),
                    FopenFlags::FOPEN_KEEP_CACHE,
                ),
                Err(e) => reply.error(errno(e)),
            }
        });
    }

    /// Terminal ioctls (`isatty` asks TCGETS): none of these files is a terminal.
    fn ioctl(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _flags: fuser::IoctlFlags,
        _cmd: u32,
        _in_data: &[u8],
        _out_size: u32,
        reply: fuser::ReplyIoctl,
    ) {
        reply.error(Errno::ENOTTY);
    }

    /// The kernel copies by reading and writing instead (ENOSYS: it stops asking).
    fn copy_file_range(
        &self,
        _req: &Request,
        _ino_in: INodeNo,
        _fh_in: FileHandle,
        _offset_in: u64,
        _ino_out: INodeNo,
        _fh_out: FileHandle,
        _offset_out: u64,
        _len: u64,
        _flags: fuser::CopyFileRangeFlags,
        reply: fuser::ReplyWrite,
    ) {
        reply.error(Errno::ENOSYS);
    }

    /// The kernel seeks by itself (no holes to report).
    fn lseek(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _offset: i64,
        _whence: i32,
        reply: fuser::ReplyLseek,
    ) {
        reply.error(Errno::ENOSYS);
    }

    /// Preallocation is not offered (EOPNOTSUPP for the caller).
    fn fallocate(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _offset: u64,
        _length: u64,
        _mode: i32,
        reply: ReplyEmpty,
    ) {
        reply.error(Errno::ENOSYS);
    }
}

/// A name from the kernel as text; names that are not UTF-8 have no place in a tree.
fn utf8(name: &OsStr) -> Option<String> {
    name.to_str().map(str::to_string)
}
