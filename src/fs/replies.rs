//! Replies to the kernel: the core's answers (attributes, entries, listings, data,
//! errors) written into fuser's reply objects, for the adapter.

use std::sync::atomic::Ordering;
use std::time::Duration;

use fuser::{
    Errno, FileAttr, FileType, Generation, INodeNo, ReplyAttr, ReplyData, ReplyDirectory,
    ReplyDirectoryPlus, ReplyEmpty, ReplyEntry, ReplyXattr,
};

use super::attr::{Attr, DirEntry, Kind, PlusEntry};
use super::errno::Errno as CoreErrno;
use super::filesystem::FsCore;

pub(super) fn to_file_type(kind: Kind) -> FileType {
    match kind {
        Kind::Directory => FileType::Directory,
        Kind::File => FileType::RegularFile,
        Kind::Symlink => FileType::Symlink,
    }
}

pub(super) fn to_attr(attr: &Attr) -> FileAttr {
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

pub(super) fn errno(e: CoreErrno) -> Errno {
    Errno::from_i32(e.0)
}

pub(super) fn reply_entry(
    core: &FsCore,
    parent: INodeNo,
    result: Result<(Attr, Duration), CoreErrno>,
    reply: ReplyEntry,
) {
    match result {
        Ok((attr, ttl)) => reply.entry(&ttl, &to_attr(&attr), Generation(0)),
        // A negative entry (inode 0): the kernel caches the miss, so tools probing for the
        // same config files in every directory ask once, not every time.
        Err(e) if e.0 == libc::ENOENT => {
            let mut attr = to_attr(&Attr {
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
            reply.entry(&core.negative_ttl(parent.0), &attr, Generation(0));
        }
        Err(e) => reply.error(errno(e)),
    }
}

pub(super) fn reply_attr(result: Result<(Attr, Duration), CoreErrno>, reply: ReplyAttr) {
    match result {
        Ok((attr, ttl)) => reply.attr(&ttl, &to_attr(&attr)),
        Err(e) => reply.error(errno(e)),
    }
}

pub(super) fn reply_read(core: &FsCore, result: Result<Vec<u8>, CoreErrno>, reply: ReplyData) {
    match result {
        Ok(data) => {
            core.ops()
                .read_bytes
                .fetch_add(data.len() as u64, Ordering::Relaxed);
            reply.data(&data)
        }
        Err(e) => reply.error(errno(e)),
    }
}

pub(super) fn reply_dir(
    result: Result<Vec<DirEntry>, CoreErrno>,
    offset: u64,
    mut reply: ReplyDirectory,
) {
    match result {
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
}

/// Adds `entry` to `reply`; `true` if it did not fit.
pub(super) fn add_plus(reply: &mut ReplyDirectoryPlus, entry: &PlusEntry) -> bool {
    reply.add(
        INodeNo(entry.attr.ino),
        entry.offset,
        &entry.name,
        &entry.ttl,
        &to_attr(&entry.attr),
        Generation(0),
    )
}

pub(super) fn reply_empty(result: Result<(), CoreErrno>, reply: ReplyEmpty) {
    match result {
        Ok(()) => reply.ok(),
        Err(e) => reply.error(errno(e)),
    }
}

pub(super) fn reply_written(result: Result<u32, CoreErrno>, reply: fuser::ReplyWrite) {
    match result {
        Ok(n) => reply.written(n),
        Err(e) => reply.error(errno(e)),
    }
}

/// getxattr/listxattr protocol: size 0 asks for the length.
pub(super) fn reply_xattr(reply: ReplyXattr, value: &[u8], size: u32) {
    if size == 0 {
        reply.size(value.len() as u32);
    } else if value.len() > size as usize {
        reply.error(Errno::ERANGE);
    } else {
        reply.data(value);
    }
}
