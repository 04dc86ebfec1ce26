//! Heimdall: GitHub as a lazy, content-addressed filesystem whose repositories are
//! working copies (writes stay local, in [`changes`]).
//!
//! Data flows one way, and each layer imports only from the ones below it:
//!
//! ```text
//! cli                        what the user typed -> config::Settings -> one fn per command
//! alloc                      allocations, the per-user daemon and its socket protocol
//! fs                         the FUSE mount: session, adapter, filesystem core, errno map
//! scan  webhook  hydrate     org scans, push webhooks, the hydration policy,
//! changes                    working copies' local changes (layers, status, diffs)
//! namespace                  owner/repo@ref/path -> commit, tree, blob (lazily)
//! store                      verified objects on disk + the SQLite index
//! remote  patterns  codex    GitHub's REST API and git endpoint, per-repo extraction, the org export
//! config  oid  clock  logging  flight
//! ```
//!
//! [`remote`] fetches from GitHub (content over git's protocol v2 where the endpoint
//! serves it, REST otherwise); [`store`] verifies every object against its git id
//! before it is visible and keeps it (loose objects, and packs kept whole); [`namespace`] is the one place that maps GitHub's
//! paths onto git objects; the views ([`fs`], [`scan`], [`alloc`], [`cli`]) read through
//! it, so a blob fetched by any of them is a cache hit for the others. Errors are typed
//! per module and become errno values only in [`fs::errno`]. `tests/layers.rs` checks
//! that no import runs upward and no two files import each other.

pub mod alloc;
pub mod changes;
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
pub mod shared;
pub mod store;
pub mod webhook;
