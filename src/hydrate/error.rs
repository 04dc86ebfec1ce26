//! Why a hydration failed, typed: a network failure stays the network failure it is.

use crate::namespace::NamespaceError;
use crate::remote::RemoteError;

#[derive(Debug, thiserror::Error)]
pub enum HydrateError {
    /// Listing the commit's trees, or fetching a blob one by one.
    #[error(transparent)]
    Namespace(#[from] NamespaceError),
    /// Asking for the tarball, or its body breaking off.
    #[error(transparent)]
    Remote(#[from] RemoteError),
    #[error("{repo} is {bytes} bytes, more than a tarball may bring ({max})")]
    TooBig { repo: String, bytes: u64, max: u64 },
    #[error("the tarball of {repo} is unreadable: {why}")]
    Archive { repo: String, why: String },
    #[error("the tarball of {repo}: {why}")]
    Extraction { repo: String, why: String },
}

impl HydrateError {
    /// An error reading the archive: the network failure inside it when there is one
    /// (the stream's errors reach the tar reader wrapped in `io::Error`).
    pub(crate) fn archive(repo: &str, error: std::io::Error) -> HydrateError {
        match error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<RemoteError>())
        {
            Some(remote) => HydrateError::Remote(remote.clone()),
            None => HydrateError::Archive {
                repo: repo.to_string(),
                why: error.to_string(),
            },
        }
    }
}
