//! What kind of failure an error is, for programs rather than people: the daemon sends it
//! beside the message ([`super::protocol::Response::Error`]), and the Python SDK raises
//! one exception class per kind. The message stays the CLI's one-line error.

use std::error::Error;

use serde::{Deserialize, Serialize};

use super::AllocError;
use crate::config::ConfigError;
use crate::hydrate::HydrateError;
use crate::namespace::NamespaceError;
use crate::remote::RemoteError;
use crate::scan::run::ScanError;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// A repository, ref, path, owner, scan or allocation that does not exist (or that
    /// the token cannot see: GitHub answers 404 for both).
    NotFound,
    /// GitHub's budget is spent until `reset_at` (epoch seconds).
    RateLimited { reset_at: u64 },
    /// The token was rejected (401) or lacks the permission (403).
    Auth,
    /// GitHub could not be reached.
    Offline,
    /// What was asked for is not a valid `owner/repo[@ref][/path]` (or names a
    /// directory where a file is needed, or the other way round).
    InvalidPath,
    #[default]
    Other,
}

impl ErrorKind {
    /// The kind of the first error in `error`'s chain that has one.
    pub fn of(error: &(dyn Error + 'static)) -> ErrorKind {
        let mut next = Some(error);
        while let Some(e) = next {
            if let Some(kind) = direct(e) {
                return kind;
            }
            next = e.source();
        }
        ErrorKind::Other
    }
}

/// A failure the daemon reported: its one-line message and its kind.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct DaemonError {
    pub message: String,
    pub kind: ErrorKind,
}

fn direct(e: &(dyn Error + 'static)) -> Option<ErrorKind> {
    if let Some(e) = e.downcast_ref::<DaemonError>() {
        return Some(e.kind);
    }
    if let Some(e) = e.downcast_ref::<RemoteError>() {
        return Some(remote(e));
    }
    if let Some(e) = e.downcast_ref::<NamespaceError>() {
        return namespace(e);
    }
    if let Some(e) = e.downcast_ref::<AllocError>() {
        return match e {
            AllocError::Namespace(e) => namespace(e),
            AllocError::Invalid(_) => Some(ErrorKind::InvalidPath),
            AllocError::NotAllocated(_) => Some(ErrorKind::NotFound),
            AllocError::Hydrate { source, .. } => hydrate(source),
            AllocError::Store(_) | AllocError::Mount { .. } => None,
        };
    }
    if let Some(e) = e.downcast_ref::<HydrateError>() {
        return hydrate(e);
    }
    if let Some(e) = e.downcast_ref::<ScanError>() {
        return match e {
            ScanError::Namespace(e) => namespace(e),
            ScanError::NoScan(_) => Some(ErrorKind::NotFound),
            ScanError::Store(_) => None,
        };
    }
    if e.downcast_ref::<ConfigError>().is_some() {
        return Some(ErrorKind::Other);
    }
    None
}

fn remote(e: &RemoteError) -> ErrorKind {
    match e {
        RemoteError::NotFound { .. } | RemoteError::EmptyRepo { .. } => ErrorKind::NotFound,
        RemoteError::BadCredentials { .. } | RemoteError::Forbidden { .. } => ErrorKind::Auth,
        RemoteError::RateLimited { reset, .. } => ErrorKind::RateLimited { reset_at: *reset },
        RemoteError::Network { .. } => ErrorKind::Offline,
        RemoteError::Blocked { .. }
        | RemoteError::Server { .. }
        | RemoteError::Corrupt { .. }
        | RemoteError::Unexpected { .. }
        | RemoteError::Local { .. } => ErrorKind::Other,
    }
}

fn namespace(e: &NamespaceError) -> Option<ErrorKind> {
    match e {
        NamespaceError::Remote(e) => Some(remote(e)),
        NamespaceError::NoSuchPath { .. } => Some(ErrorKind::NotFound),
        NamespaceError::NotAFile { .. }
        | NamespaceError::NotADirectory { .. }
        | NamespaceError::InvalidSpec(_) => Some(ErrorKind::InvalidPath),
        NamespaceError::Store(_) => None,
    }
}

fn hydrate(e: &HydrateError) -> Option<ErrorKind> {
    match e {
        HydrateError::Namespace(e) => namespace(e),
        HydrateError::Remote(e) => Some(remote(e)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_found_through_wrappers_and_context() {
        let limited = NamespaceError::Remote(RemoteError::RateLimited {
            what: "x".into(),
            resource: "core".into(),
            reset: 42,
        });
        let wrapped = anyhow::Error::new(AllocError::Namespace(limited)).context("cannot mount");
        assert_eq!(
            ErrorKind::of(wrapped.as_ref()),
            ErrorKind::RateLimited { reset_at: 42 }
        );
        let missing = ScanError::NoScan("acme".into());
        assert_eq!(ErrorKind::of(&missing), ErrorKind::NotFound);
        let invalid = AllocError::Invalid("bad".into());
        assert_eq!(ErrorKind::of(&invalid), ErrorKind::InvalidPath);
        let io = std::io::Error::other("disk");
        assert_eq!(ErrorKind::of(&io), ErrorKind::Other);
        let wire = serde_json::to_string(&ErrorKind::RateLimited { reset_at: 7 }).unwrap();
        assert_eq!(wire, r#"{"rate_limited":{"reset_at":7}}"#);
        assert_eq!(
            serde_json::to_string(&ErrorKind::NotFound).unwrap(),
            r#""not_found""#
        );
    }
}
