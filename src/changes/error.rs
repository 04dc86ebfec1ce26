//! Why a change to a layer failed.

use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("`{name}` is not a valid file name (no `/`, NUL, `.` or `..`, at most 255 bytes)")]
    BadName { name: String },
    #[error("`{0}` exists")]
    Exists(String),
    #[error("`{0}` does not exist")]
    Missing(String),
    #[error("`{0}` is a directory")]
    IsDirectory(String),
    #[error("`{0}` is not a directory")]
    NotADirectory(String),
    #[error("`{0}` is not empty")]
    NotEmpty(String),
    #[error("the layer at `{path}` is served by another process")]
    Locked { path: PathBuf },
    #[error("layer `{path}`: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("layer index: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("layer `{path}` is unreadable: {why}")]
    Corrupt { path: PathBuf, why: String },
}

impl LayerError {
    pub(super) fn io(path: &Path, source: io::Error) -> LayerError {
        LayerError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// The disk (or quota) is full.
    pub fn is_disk_full(&self) -> bool {
        match self {
            LayerError::Io { source, .. } => {
                matches!(source.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
            }
            LayerError::Sqlite(e) => e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull),
            _ => false,
        }
    }
}

pub type Result<T> = std::result::Result<T, LayerError>;
