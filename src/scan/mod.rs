//! Org scanning: list an organization's repositories, read each one's target files
//! through the store, extract patterns, and keep per-repo results keyed by commit.

pub mod files;
pub mod filter;
pub mod run;

pub use files::{FileGlobs, FoundFile};
pub use filter::RepoFilter;
pub use run::{ScanError, ScanEvent, ScanOptions, ScanStatus, Scanner};
