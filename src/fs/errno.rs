//! The one place errors become errno values. Exhaustive matches, no catch-all arm: a new
//! error variant must be mapped here deliberately.

use crate::namespace::NamespaceError;
use crate::remote::RemoteError;
use crate::store::StoreError;

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

pub fn from_store(error: &StoreError) -> i32 {
    match error {
        StoreError::Io { source, .. } => match source.raw_os_error() {
            Some(libc::ENOSPC) => libc::ENOSPC,
            Some(libc::EDQUOT) => libc::EDQUOT,
            _ => libc::EIO,
        },
        StoreError::Index { .. }
        | StoreError::Sqlite(_)
        | StoreError::NewerSchema { .. }
        | StoreError::CorruptIndex { .. }
        | StoreError::HashMismatch { .. }
        | StoreError::Config(_) => libc::EIO,
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
