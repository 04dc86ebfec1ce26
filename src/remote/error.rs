//! Typed failures of talking to GitHub.
//!
//! `what` is always a request description such as `GET /repos/acme/api/git/trees/<sha>`:
//! a method and a path, never a header, so no token can appear in a message.
//! The enum is `Clone` so one coalesced request can hand its failure to every waiter.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemoteError {
    #[error(
        "{what}: not found (GitHub also answers 404 for private repositories the token cannot see)"
    )]
    NotFound { what: String },
    #[error("{what}: the repository is empty (409)")]
    EmptyRepo { what: String },
    #[error("{what}: bad credentials: GitHub rejected the token (401)")]
    BadCredentials { what: String },
    #[error("{what}: access blocked for legal reasons (451)")]
    Blocked { what: String },
    #[error("{what}: forbidden (403): {message}")]
    Forbidden { what: String, message: String },
    #[error("{what}: rate limited on `{resource}` until {} (in {}s)", format_epoch(*reset), seconds_until(*reset))]
    RateLimited {
        what: String,
        resource: String,
        /// Epoch seconds when the budget refills.
        reset: u64,
    },
    #[error("{what}: GitHub server error {status} after {attempts} attempts")]
    Server {
        what: String,
        status: u16,
        attempts: u32,
    },
    #[error("{what}: network error after {attempts} attempts: {message}")]
    Network {
        what: String,
        message: String,
        attempts: u32,
    },
    #[error("{what}: corrupt data: {why}")]
    Corrupt { what: String, why: String },
    #[error("{what}: unexpected answer {status}: {message}")]
    Unexpected {
        what: String,
        status: u16,
        message: String,
    },
    #[error("{what}: cannot write the download: {message}")]
    Local { what: String, message: String },
}

impl RemoteError {
    /// Worth retrying the same request later (not a property of the request itself).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            RemoteError::Server { .. }
                | RemoteError::Network { .. }
                | RemoteError::RateLimited { .. }
        )
    }
}

fn seconds_until(epoch: u64) -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    epoch.saturating_sub(now)
}

fn format_epoch(epoch: u64) -> String {
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(epoch))
}
