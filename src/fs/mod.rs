//! The FUSE mount.
//!
//! - `session`: mounting, serving, unmounting ([`mount`], [`Mount`]);
//! - `adapter`: fuser's callbacks, translated into calls on the core; `replies`: the
//!   core's answers written into fuser's reply objects;
//! - [`filesystem`]: the filesystem core ([`FsCore`]), every operation as an async
//!   function with no fuser types, testable without a mount; it keeps the inode table
//!   ([`inode`]), owners and their listings (`owners`), repo roots (`roots`), the
//!   control tree ([`control`]) and extended attributes (`xattr`);
//! - `attr`, `status`, [`errno`]: what the core answers with, what a mount reports about
//!   itself, and the one map from errors to errno values.

mod adapter;
mod attr;
pub mod control;
pub mod errno;
pub mod filesystem;
pub mod inode;
mod owners;
mod replies;
mod roots;
mod session;
mod status;
pub mod worktree;
mod xattr;

pub use attr::{Attr, DirEntry, IMMUTABLE_TTL, Invalidation, Kind, MUTABLE_TTL, PlusEntry};
pub use errno::Errno;
pub use filesystem::{FsCore, FsOptions, SetAttr, Statfs, View};
pub use session::{
    Mount, MountOptions, SERVE_POLL, detach_leftover, is_mountpoint, is_stale_mount, mount,
    unmount, unmount_lazy,
};
pub use status::{HeldRoot, MountStatus, OpCounts};
pub use worktree::{CHANGES_DIR, ChangesOptions, Scope};
pub use xattr::{XATTR_SHA, XATTR_URL};
