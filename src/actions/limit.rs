//! The per-session write rate limit (governor, keyed by session): a slip of the hand cannot fire changes in a loop.

use std::num::NonZeroU32;
use std::sync::LazyLock;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::error::ChangeError;

/// Confirmed changes per minute per session, with the same burst.
const PER_MINUTE: NonZeroU32 = match NonZeroU32::new(30) {
    Some(n) => n,
    None => NonZeroU32::MIN,
};

// Process-wide: keys are session ids (random, unique), so several consoles in one process never share a key.
static WRITES: LazyLock<DefaultKeyedRateLimiter<String>> =
    LazyLock::new(|| RateLimiter::keyed(Quota::per_minute(PER_MINUTE)));

/// Counts one confirmed change for `key`; refuses with `RateLimited` when the quota is spent.
pub fn check_write(key: &str) -> Result<(), ChangeError> {
    let limiter = &*WRITES;
    // Forget idle sessions now and then so the map does not grow without bound.
    if limiter.len() > 10_000 {
        limiter.retain_recent();
    }
    limiter.check_key(&key.to_owned()).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        ChangeError::RateLimited {
            retry_after: wait.as_secs().max(1),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_beyond_the_quota_is_refused() {
        let key = format!("test-{}", uuid::Uuid::new_v4());
        for _ in 0..PER_MINUTE.get() {
            assert!(check_write(&key).is_ok());
        }
        assert!(matches!(
            check_write(&key),
            Err(ChangeError::RateLimited { .. })
        ));
        // Another session is not affected.
        assert!(check_write(&format!("{key}-other")).is_ok());
    }
}
