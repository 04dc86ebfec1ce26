//! The circuit breaker in front of the shared cache: after [`TRIPS_AFTER`] failures in a
//! row (errors or timeouts), the shared cache is skipped for [`OPEN_FOR`], and that is
//! logged once; then one request is let through to try again. A success closes it.
//!
//! Invariant: a read never waits on a shared cache that is known to be down for longer
//! than one request's timeout.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures in a row that open the breaker.
pub const TRIPS_AFTER: u32 = 3;
/// How long an open breaker skips the shared cache.
pub const OPEN_FOR: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
struct State {
    failures: u32,
    open_until: Option<Instant>,
    /// Whether the current outage was logged.
    logged: bool,
}

#[derive(Debug, Default)]
pub struct Breaker {
    state: Mutex<State>,
}

impl Breaker {
    /// Whether a request may go to the shared cache now.
    pub fn allows(&self) -> bool {
        let state = self.state.lock().expect("breaker poisoned");
        state.open_until.is_none_or(|until| Instant::now() >= until)
    }

    pub fn succeeded(&self) {
        let mut state = self.state.lock().expect("breaker poisoned");
        if state.logged {
            tracing::info!("the shared cache answers again");
        }
        *state = State::default();
    }

    /// Records a failure; returns whether this one opened the breaker.
    pub fn failed(&self, what: &str, why: &str) -> bool {
        let mut state = self.state.lock().expect("breaker poisoned");
        state.failures += 1;
        if state.failures < TRIPS_AFTER {
            tracing::debug!(request = what, error = why, "shared cache request failed");
            return false;
        }
        state.open_until = Some(Instant::now() + OPEN_FOR);
        if !state.logged {
            state.logged = true;
            tracing::warn!(
                request = what,
                error = why,
                skip_secs = OPEN_FOR.as_secs(),
                "the shared cache fails; skipping it for a while (reads go to GitHub)"
            );
        }
        true
    }

    /// `closed` (in use) or `open` (skipped for now).
    pub fn state(&self) -> &'static str {
        if self.allows() { "closed" } else { "open" }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_failures_in_a_row_and_a_success_closes_it() {
        let b = Breaker::default();
        assert!(b.allows());
        for _ in 0..TRIPS_AFTER - 1 {
            assert!(!b.failed("get", "timeout"));
        }
        assert!(b.allows(), "not yet");
        assert!(b.failed("get", "timeout"));
        assert!(!b.allows());
        assert_eq!(b.state(), "open");
        b.succeeded();
        assert!(b.allows());
        // A success in between resets the count.
        b.failed("get", "x");
        b.succeeded();
        for _ in 0..TRIPS_AFTER - 1 {
            b.failed("get", "x");
        }
        assert!(b.allows());
    }
}
