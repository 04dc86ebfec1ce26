//! The rate-limit budget as GitHub reports it, and the retry policy.
//!
//! Every response's `x-ratelimit-*` headers update the budget of their resource. Before a
//! request, a resource known to be exhausted makes the caller wait for its reset (or fail
//! with `RateLimited` if the reset is further away than the configured limit).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;

use super::types::RateLimit;
use crate::clock::epoch_secs;

/// First retry delay for 5xx and connection errors; doubles each attempt, with full jitter.
pub const BACKOFF_BASE: Duration = Duration::from_millis(500);
/// Cap on one backoff delay.
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Attempts for one request on transient failures (5xx, connection errors, secondary
/// limits): enough to ride out a blip, bounded so nothing waits forever.
pub const MAX_ATTEMPTS: u32 = 5;
/// GitHub: after a secondary limit without `retry-after`, wait at least one minute.
pub const SECONDARY_LIMIT_MIN_WAIT: Duration = Duration::from_secs(60);
/// Slack after a primary reset, since clocks differ.
const RESET_SLACK: Duration = Duration::from_secs(1);

/// The resource most REST endpoints count against.
pub const CORE: &str = "core";

#[derive(Debug, Default)]
pub struct Governor {
    budgets: Mutex<BTreeMap<String, RateLimit>>,
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// Reads `x-ratelimit-{limit,remaining,reset,used,resource}`.
pub fn parse_headers(headers: &HeaderMap) -> Option<RateLimit> {
    let limit = header_u64(headers, "x-ratelimit-limit")?;
    let remaining = header_u64(headers, "x-ratelimit-remaining")?;
    let reset = header_u64(headers, "x-ratelimit-reset").unwrap_or(0);
    let used = header_u64(headers, "x-ratelimit-used").unwrap_or(limit.saturating_sub(remaining));
    let resource = headers
        .get("x-ratelimit-resource")
        .and_then(|v| v.to_str().ok())
        .unwrap_or(CORE)
        .to_string();
    Some(RateLimit {
        resource,
        limit,
        remaining,
        used,
        reset,
    })
}

/// `retry-after` in seconds (GitHub sends seconds; an HTTP date is accepted too).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get("retry-after")?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

impl Governor {
    /// Records the budget a response reported.
    pub fn observe(&self, headers: &HeaderMap) -> Option<RateLimit> {
        let limit = parse_headers(headers)?;
        self.record(limit.clone());
        Some(limit)
    }

    pub fn record(&self, limit: RateLimit) {
        let mut budgets = self.budgets.lock().expect("rate-limit map poisoned");
        budgets.insert(limit.resource.clone(), limit);
    }

    pub fn snapshot(&self) -> Vec<RateLimit> {
        self.budgets
            .lock()
            .expect("rate-limit map poisoned")
            .values()
            .cloned()
            .collect()
    }

    /// If `resource` is exhausted and its reset is still ahead, how long until it refills.
    pub fn wait_before_request(&self, resource: &str) -> Option<(Duration, u64)> {
        let budgets = self.budgets.lock().expect("rate-limit map poisoned");
        let budget = budgets.get(resource)?;
        if budget.remaining > 0 {
            return None;
        }
        let now = epoch_secs();
        if budget.reset <= now {
            return None;
        }
        Some((
            Duration::from_secs(budget.reset - now) + RESET_SLACK,
            budget.reset,
        ))
    }

    /// After a wait for the reset, forget the exhausted state so the next request probes.
    pub fn mark_reset(&self, resource: &str) {
        let mut budgets = self.budgets.lock().expect("rate-limit map poisoned");
        if let Some(budget) = budgets.get_mut(resource)
            && budget.remaining == 0
            && budget.reset <= epoch_secs()
        {
            budget.remaining = budget.limit;
        }
    }
}

/// Exponential backoff with full jitter (AWS architecture blog's "full jitter").
pub fn backoff_delay(attempt: u32, no_delay: bool) -> Duration {
    if no_delay {
        return Duration::ZERO;
    }
    let exp = BACKOFF_BASE.saturating_mul(1u32 << attempt.min(16));
    let cap = exp.min(BACKOFF_MAX);
    let jitter: f64 = rand::random();
    cap.mul_f64(jitter.max(0.1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(
                HeaderName::from_static(k),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    #[test]
    fn exhausted_budget_waits_until_reset() {
        let governor = Governor::default();
        let reset = epoch_secs() + 30;
        governor.observe(&headers(&[
            ("x-ratelimit-limit", "60"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", &reset.to_string()),
            ("x-ratelimit-resource", "core"),
        ]));
        let (wait, at) = governor.wait_before_request(CORE).unwrap();
        assert_eq!(at, reset);
        assert!(wait >= Duration::from_secs(29) && wait <= Duration::from_secs(32));
        assert!(governor.wait_before_request("search").is_none());
    }

    #[test]
    fn past_reset_or_remaining_budget_does_not_wait() {
        let governor = Governor::default();
        governor.observe(&headers(&[
            ("x-ratelimit-limit", "60"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1"),
        ]));
        assert!(governor.wait_before_request(CORE).is_none());
        governor.observe(&headers(&[
            ("x-ratelimit-limit", "60"),
            ("x-ratelimit-remaining", "3"),
            ("x-ratelimit-reset", &(epoch_secs() + 100).to_string()),
        ]));
        assert!(governor.wait_before_request(CORE).is_none());
        assert_eq!(governor.snapshot()[0].used, 57);
    }

    #[test]
    fn retry_after_seconds_and_date() {
        assert_eq!(
            retry_after(&headers(&[("retry-after", "7")])),
            Some(Duration::from_secs(7))
        );
        let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
        let parsed = retry_after(&headers(&[("retry-after", &date)])).unwrap();
        assert!(parsed > Duration::from_secs(100));
        assert_eq!(retry_after(&headers(&[])), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff_delay(3, true), Duration::ZERO);
        for attempt in 0..20 {
            assert!(backoff_delay(attempt, false) <= BACKOFF_MAX);
        }
    }
}
