//! Password sign-in throttling (governor): attempts per user name and per client address.

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Attempts per user name: a burst of 5, then one every 12 s.
const PER_USER_PER_MINUTE: NonZeroU32 = NonZeroU32::new(5).unwrap();
/// Attempts per client address (several people behind one address): a burst of 20, then 20 a minute.
const PER_ADDR_PER_MINUTE: NonZeroU32 = NonZeroU32::new(20).unwrap();

/// Refused: who is throttled and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    pub retry_after_secs: u64,
    pub by_user: bool,
}

impl Throttled {
    /// What the sign-in form says.
    pub fn message(&self) -> String {
        let who = if self.by_user {
            "for this user name"
        } else {
            "from your address"
        };
        format!(
            "Too many sign-in attempts {who}: try again in {} s.",
            self.retry_after_secs
        )
    }
}

/// The two limiters of one console.
#[derive(Debug)]
pub struct LoginThrottle {
    per_user: DefaultKeyedRateLimiter<String>,
    per_addr: DefaultKeyedRateLimiter<IpAddr>,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self {
            per_user: RateLimiter::keyed(Quota::per_minute(PER_USER_PER_MINUTE)),
            per_addr: RateLimiter::keyed(Quota::per_minute(PER_ADDR_PER_MINUTE)),
        }
    }
}

impl LoginThrottle {
    /// Counts one attempt for `username` (case-insensitive) from `addr`.
    pub fn check(&self, username: &str, addr: IpAddr) -> Result<(), Throttled> {
        if self.per_user.len() > 10_000 {
            self.per_user.retain_recent();
        }
        if self.per_addr.len() > 10_000 {
            self.per_addr.retain_recent();
        }
        let wait = |nu: governor::NotUntil<_>| {
            nu.wait_time_from(DefaultClock::default().now())
                .as_secs()
                .max(1)
        };
        self.per_addr.check_key(&addr).map_err(|nu| Throttled {
            retry_after_secs: wait(nu),
            by_user: false,
        })?;
        self.per_user
            .check_key(&username.to_lowercase())
            .map_err(|nu| Throttled {
                retry_after_secs: wait(nu),
                by_user: true,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_user_then_per_address() {
        let t = LoginThrottle::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..5 {
            assert!(t.check("Ann", a).is_ok());
        }
        let refused = t.check("ann", a).unwrap_err();
        assert!(refused.by_user && refused.retry_after_secs >= 1);
        assert!(refused.message().contains("try again in"));
        // Another user from the same address still may, up to the address's quota.
        for i in 0..14 {
            assert!(t.check(&format!("u{i}"), a).is_ok(), "{i}");
        }
        assert!(!t.check("someone", a).unwrap_err().by_user);
        assert!(t.check("someone", "192.0.2.2".parse().unwrap()).is_ok());
    }
}
