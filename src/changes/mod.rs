//! Local changes of working copies: every repository root of a mount and every
//! allocation is the commit plus a copy-on-write layer ([`layer`]) of what tools wrote.
//! Changes never go to GitHub and never touch the content-addressed store.

pub mod diff;
mod entry;
mod error;
mod files;
pub mod layer;
mod sql;
pub mod status;
mod xattrs;

pub use entry::{
    Dir, Entry, LayerMeta, LocalKind, MAX_NAME_BYTES, NodeId, NodeMeta, ROOT, valid_name,
};
pub use error::LayerError;
pub use files::{FileBytes, FileMeta};
pub use layer::{DISCARD_BATCH, Layer, dir_bytes};
pub use sql::{is_locked, peek_meta};
pub use status::{Change, ChangesError, Side, Source, Summary, changes};

#[cfg(test)]
mod tests;
