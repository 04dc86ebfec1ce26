//! Org scanning: list an organization's repositories, read each one's target files
//! through the store, extract patterns, and keep per-repo results keyed by commit.

pub mod filter;

pub use filter::RepoFilter;
