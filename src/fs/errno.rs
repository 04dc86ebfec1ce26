//! The one place errors become errno values. Exhaustive matches, no catch-all arm: a new
//! error variant must be mapped here deliberately.

use super::control::ControlError;
use crate::changes::LayerError;
use crate::namespace::NamespaceError;
use crate::remote::RemoteError;
use crate::scan::ScanError;
use crate::store::StoreError;

/// An errno, positive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub i32);

pub type FsResult<T> = Result<T, Errno>;

impl From<&NamespaceError> for Errno {
    fn from(e: &NamespaceError) -> Self {
        Errno(from_namespace(e))
    }
}

impl From<&ControlError> for Errno {
    fn from(e: &ControlError) -> Self {
        Errno(from_control(e))
    }
}

impl From<std::io::Error> for Errno {
    fn from(e: std::io::Error) -> Self {
        Errno(from_io(&e))
    }
}

/// Logs a failed operation (at debug level for a plain ENOENT, a warning otherwise) and
/// returns its errno.
pub fn fail(context: &str, error: NamespaceError) -> Errno {
    let errno = Errno::from(&error);
    if errno.0 == libc::ENOENT {
        tracing::debug!(%error, "{context}");
    } else {
        tracing::warn!(%error, "{context}");
    }
    errno
}

/// [`fail`] for a change to a working copy's layer.
pub fn fail_layer(context: &str, error: &LayerError) -> Errno {
    let errno = Errno(from_layer(error));
    match errno.0 {
        libc::ENOENT | libc::EEXIST | libc::ENOTEMPTY | libc::EISDIR | libc::ENOTDIR => {
            tracing::debug!(%error, "{context}")
        }
        _ => tracing::warn!(%error, "{context}"),
    }
    errno
}

pub fn from_layer(error: &LayerError) -> i32 {
    match error {
        LayerError::BadName { .. } => libc::EINVAL,
        LayerError::Exists(_) => libc::EEXIST,
        LayerError::Missing(_) => libc::ENOENT,
        LayerError::IsDirectory(_) => libc::EISDIR,
        LayerError::NotADirectory(_) => libc::ENOTDIR,
        LayerError::NotEmpty(_) => libc::ENOTEMPTY,
        LayerError::Locked { .. } => libc::EBUSY,
        LayerError::Io { source, .. } => from_io(source),
        LayerError::Sqlite(_) if error.is_disk_full() => libc::ENOSPC,
        LayerError::Sqlite(_) | LayerError::Corrupt { .. } => libc::EIO,
    }
}

/// A local file operation's error as it is (a stored object, the layer's files).
pub fn from_io(error: &std::io::Error) -> i32 {
    error.raw_os_error().unwrap_or(libc::EIO)
}

pub fn from_remote(error: &RemoteError) -> i32 {
    match error {
        RemoteError::NotFound { .. } | RemoteError::EmptyRepo { .. } => libc::ENOENT,
        RemoteError::BadCredentials { .. }
        | RemoteError::Blocked { .. }
        | RemoteError::Forbidden { .. } => libc::EACCES,
        RemoteError::RateLimited { .. } => libc::EAGAIN,
        RemoteError::Server { .. }
        | RemoteError::Network { .. }
        | RemoteError::Corrupt { .. }
        | RemoteError::Unexpected { .. }
        | RemoteError::Local { .. } => libc::EIO,
    }
}

/// A full disk is ENOSPC whether the object file or the index hit it.
pub fn from_store(error: &StoreError) -> i32 {
    match error {
        StoreError::Io { source, .. } => match source.raw_os_error() {
            Some(libc::ENOSPC) => libc::ENOSPC,
            Some(libc::EDQUOT) => libc::EDQUOT,
            _ => libc::EIO,
        },
        StoreError::Index { .. } | StoreError::Sqlite(_) if error.is_disk_full() => libc::ENOSPC,
        StoreError::Index { .. } | StoreError::Sqlite(_) => libc::EIO,
        StoreError::NewerSchema { .. }
        | StoreError::CorruptIndex { .. }
        | StoreError::HashMismatch { .. }
        | StoreError::BadPack { .. }
        | StoreError::Config(_) => libc::EIO,
        StoreError::Remote(e) => from_remote(e),
    }
}

pub fn from_namespace(error: &NamespaceError) -> i32 {
    match error {
        NamespaceError::Remote(e) => from_remote(e),
        NamespaceError::Store(e) => from_store(e),
        NamespaceError::NoSuchPath { .. } | NamespaceError::InvalidSpec(_) => libc::ENOENT,
        NamespaceError::NotAFile { .. } => libc::EISDIR,
        NamespaceError::NotADirectory { .. } => libc::ENOTDIR,
    }
}

pub fn from_scan(error: &ScanError) -> i32 {
    match error {
        ScanError::Namespace(e) => from_namespace(e),
        ScanError::Store(e) => from_store(e),
        ScanError::NoScan(_) => libc::ENOENT,
    }
}

pub fn from_control(error: &ControlError) -> i32 {
    match error {
        ControlError::Scan(e) => from_scan(e),
        ControlError::Store(e) => from_store(e),
        ControlError::NotScanned(_) | ControlError::NoSuchFile => libc::ENOENT,
        ControlError::IsDirectory => libc::EISDIR,
        ControlError::NotADirectory => libc::ENOTDIR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_enospc_from_the_objects_and_from_the_index() {
        let full = StoreError::Io {
            what: "cannot write",
            path: "/cache/objects-v1/ab/x".into(),
            source: std::io::Error::from_raw_os_error(libc::ENOSPC),
        };
        assert_eq!(from_store(&full), libc::ENOSPC);
        let sqlite = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            None,
        );
        assert_eq!(from_store(&StoreError::Sqlite(sqlite)), libc::ENOSPC);
        let scan = ScanError::Store(full);
        assert_eq!(
            from_control(&ControlError::Scan(std::sync::Arc::new(scan))),
            libc::ENOSPC
        );
    }
}
