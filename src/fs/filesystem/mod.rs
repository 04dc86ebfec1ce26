//! The filesystem core: every operation as an async function over the namespace, with
//! no fuser types, so it is testable without a mount.
//!
//! Layout: `/` lists owners; `/<owner>` lists repositories; `/<owner>/<repo>` is the
//! default branch's head commit and `/<owner>/<repo>@<ref>` any branch, tag or commit,
//! found by lookup without being listed. Everything below a repo root is a git object
//! under one commit, identified by SHA (see `inode`), or, in a working copy, a node of
//! its layer of local changes (see [`super::worktree`]).
//!
//! Consistency: a repo root re-resolves its ref at most every `ref_ttl` (`roots`), unless
//! it has local changes (then it is held at their commit). When the commit moves, the
//! root's children change inode (their identity is their SHA), the kernel is told to drop
//! the root's cached entries, and files opened before keep reading the content they
//! opened. Every local change is made through the kernel, which keeps its caches right
//! itself; discarding changes invalidates what the root showed.
//!
//! The operations live by kind: `lookup` (names and listings), `plus` (listings that
//! answer their names' lookups too, READDIRPLUS), `read`, `write` (changes
//! to names: create, remove, rename, copy-up), `files` (a local file's bytes and
//! attributes), `xattrs`. Owners and their listings are `owners`' concern, the control files
//! `control`'s; blobs missing locally are fetched through the hydration policy
//! ([`crate::hydrate`]).

mod base;
mod files;
mod lookup;
mod plus;
mod prefetch;
mod read;
mod write;
mod xattrs;

pub use base::{FsCore, FsOptions, View};
pub use files::{SetAttr, Statfs};
