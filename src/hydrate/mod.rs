//! Hydration: fetching many blobs of a commit at once instead of one request per file.
//!
//! One policy ([`Hydrator`], in `policy`) decides between blob by blob and one tarball of
//! the whole commit, for the mount (adaptively, from what tools do) and for allocations
//! (`allocate --hydrate`, everything at once); `tarball` streams and verifies the archive
//! into the store. Both work on a [`crate::namespace::RepoContext`] (a repository at one
//! commit), so nothing here depends on the filesystem.

mod error;
mod policy;
mod tarball;

pub use error::HydrateError;
pub use policy::{
    DEFAULT_THRESHOLD, HydrationStats, Hydrator, MAX_HYDRATE_BYTES, WALK_DIRS, WINDOW,
};
