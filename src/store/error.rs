//! The store's one error type: what failed, on which file, and why.

use std::io;
use std::path::{Path, PathBuf};

use crate::oid::Sha;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{what} `{path}`: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cache index `{path}`: {source}")]
    Index {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cache index: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error(
        "cache index `{path}` has schema version {found}, newer than this heimdall supports ({supported}); upgrade heimdall or use another --cache-dir"
    )]
    NewerSchema {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("cache index: {what} is unreadable: {why}")]
    CorruptIndex { what: String, why: String },
    #[error("blob {expected}: content does not match its id ({why}); nothing was stored")]
    HashMismatch { expected: Sha, why: String },
    #[error("{what}: refused the pack: {why}; nothing was stored")]
    BadPack { what: String, why: String },
    #[error(transparent)]
    Remote(#[from] crate::remote::RemoteError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
}

impl StoreError {
    pub(crate) fn io(what: &'static str, path: &Path, source: io::Error) -> Self {
        StoreError::Io {
            what,
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn index(path: &Path, source: rusqlite::Error) -> Self {
        StoreError::Index {
            path: path.to_path_buf(),
            source,
        }
    }

    /// The disk (or the user's quota) is full: the object file or the index could not
    /// grow. Nothing the data did; freeing space fixes it.
    pub fn is_disk_full(&self) -> bool {
        match self {
            StoreError::Io { source, .. } => {
                matches!(source.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
            }
            StoreError::Index { source, .. } | StoreError::Sqlite(source) => {
                source.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull)
            }
            StoreError::NewerSchema { .. }
            | StoreError::CorruptIndex { .. }
            | StoreError::HashMismatch { .. }
            | StoreError::BadPack { .. }
            | StoreError::Remote(_)
            | StoreError::Config(_) => false,
        }
    }
}
