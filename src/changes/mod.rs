//! Local changes of working copies: every repository root of a mount and every
//! allocation is the commit plus a copy-on-write layer ([`layer`]) of what tools wrote.
//! Changes never go to GitHub and never touch the content-addressed store.

pub mod layer;
