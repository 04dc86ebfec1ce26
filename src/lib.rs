//! Heimdall: GitHub as a lazy, read-only, content-addressed filesystem.
//!
//! Data flows one way: [`remote`] (GitHub's REST API) -> [`store`] (verified blobs on disk
//! and a SQLite index) -> [`namespace`] (`owner/repo@ref/path` resolved lazily) -> views
//! (the CLI today; the FUSE mount, the org scanner and allocations build on the same
//! pieces).

pub mod alloc;
pub mod cli;
pub mod clock;
pub mod codex;
pub mod config;
pub mod flight;
pub mod fs;
pub mod hydrate;
pub mod logging;
pub mod namespace;
pub mod oid;
pub mod patterns;
pub mod remote;
pub mod scan;
pub mod store;
pub mod webhook;
