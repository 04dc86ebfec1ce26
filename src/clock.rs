//! Wall-clock time as the index and GitHub count it: whole seconds since the Unix epoch.
//! One place, so the store, the scanner and allocations do not each wrap the system clock
//! (and none imports the rate limiter for the time).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since the epoch (0 if the clock is before it).
pub fn epoch_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

/// [`epoch_secs`] as the index stores it (SQLite integers are signed).
pub fn now() -> i64 {
    epoch_secs() as i64
}

/// Today's date in UTC, `YYYY-MM-DD` (the codex export's `scan_date`).
pub fn today() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()[..10].to_string()
}
