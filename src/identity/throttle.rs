//! Password sign-in throttling: growing delays per (user name, client) and per client after
//! failed attempts, never a lock, and a global ceiling on attempts sent to Sentinel that still
//! lets a client without failures through.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// How the throttle counts (the defaults in [`Policy::default`]).
#[derive(Debug, Clone)]
pub struct Policy {
    /// Failures of one user name from one client before the first delay.
    pub pair_free: u32,
    /// Failures from one client (any user names) before the first delay.
    pub client_free: u32,
    /// The first delay; each further failure doubles it.
    pub first_delay: Duration,
    /// The longest delay.
    pub max_delay: Duration,
    /// Failures are forgotten this long after the last one.
    pub forget_after: Duration,
    /// Attempts sent to Sentinel by everyone together.
    pub global: Quota,
    /// When those are spent: attempts of clients that have not failed lately.
    pub reserve: Quota,
}

impl Default for Policy {
    fn default() -> Self {
        let per_sec = |n: u32, burst: u32| {
            Quota::per_second(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
                .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN))
        };
        Self {
            pair_free: 3,
            client_free: 20,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(300),
            forget_after: Duration::from_secs(900),
            global: per_sec(10, 100),
            reserve: per_sec(2, 20),
        }
    }
}

/// Who an attempt was held back for, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    pub retry_after_secs: u64,
    pub by: HeldBy,
}

/// Which count held an attempt back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeldBy {
    /// This user name from this client.
    UserHere,
    /// This client, whatever the user name.
    Client,
    /// Everyone together (the ceiling that protects Sentinel).
    Everyone,
}

impl Throttled {
    /// What the sign-in form says.
    pub fn message(&self) -> String {
        let what = match self.by {
            HeldBy::UserHere => "Too many failed sign-ins for this user name from your address",
            HeldBy::Client => "Too many failed sign-ins from your address",
            HeldBy::Everyone => "The console is receiving too many sign-in attempts",
        };
        format!("{what}: try again in {} s.", self.retry_after_secs)
    }
}

/// Failed attempts of one key.
#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

/// Failures per key, each adding a delay once past `free`.
#[derive(Debug)]
struct Delays<K> {
    free: u32,
    map: Mutex<HashMap<K, Failures>>,
}

/// Most keys remembered (older ones are dropped first; past this, new ones are not recorded).
const MAX_KEYS: usize = 100_000;

impl<K: Hash + Eq + Clone> Delays<K> {
    fn new(free: u32) -> Self {
        Self {
            free,
            map: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Failures>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How long `key` must still wait now; `None`: it may try, or it has no failures.
    fn wait(&self, key: &K, now: Instant, p: &Policy) -> Option<Duration> {
        let f = *self.lock().get(key)?;
        let past = f.count.checked_sub(self.free)?;
        let delay = p
            .first_delay
            .saturating_mul(2u32.saturating_pow(past))
            .min(p.max_delay);
        (f.last + delay)
            .checked_duration_since(now)
            .filter(|d| !d.is_zero())
    }

    /// Has `key` failed lately?
    fn has_failed(&self, key: &K, now: Instant, p: &Policy) -> bool {
        self.lock()
            .get(key)
            .is_some_and(|f| now.duration_since(f.last) < p.forget_after)
    }

    fn failed(&self, key: K, now: Instant, p: &Policy) {
        let mut map = self.lock();
        if map.len() >= MAX_KEYS / 10 && !map.contains_key(&key) {
            map.retain(|_, f| now.duration_since(f.last) < p.forget_after);
            if map.len() >= MAX_KEYS {
                return;
            }
        }
        let f = map.entry(key).or_insert(Failures {
            count: 0,
            last: now,
        });
        if now.duration_since(f.last) >= p.forget_after {
            f.count = 0;
        }
        f.count = f.count.saturating_add(1);
        f.last = now;
    }

    fn forget(&self, key: &K) {
        self.lock().remove(key);
    }
}

/// The client as counted: an IPv4 address, or an IPv6 address's /64 (one subscriber's network).
fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let mut seg = v6.segments();
            seg[4..].fill(0);
            IpAddr::from(seg)
        }
        v4 => v4,
    }
}

/// One console's sign-in throttle. User names come case-folded (the person, not the spelling).
#[derive(Debug)]
pub struct LoginThrottle {
    policy: Policy,
    pairs: Delays<(String, IpAddr)>,
    clients: Delays<IpAddr>,
    global: DefaultDirectRateLimiter,
    reserve: DefaultDirectRateLimiter,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self::new(Policy::default())
    }
}

fn secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl LoginThrottle {
    pub fn new(policy: Policy) -> Self {
        Self {
            pairs: Delays::new(policy.pair_free),
            clients: Delays::new(policy.client_free),
            global: RateLimiter::direct(policy.global),
            reserve: RateLimiter::direct(policy.reserve),
            policy,
        }
    }

    /// May `user` try from `client` now? Counts the attempt against the global ceiling.
    pub fn check(&self, user: &str, client: IpAddr) -> Result<(), Throttled> {
        let now = Instant::now();
        let client = client_key(client);
        let p = &self.policy;
        if let Some(w) = self.pairs.wait(&(user.to_owned(), client), now, p) {
            return Err(Throttled {
                retry_after_secs: secs(w),
                by: HeldBy::UserHere,
            });
        }
        if let Some(w) = self.clients.wait(&client, now, p) {
            return Err(Throttled {
                retry_after_secs: secs(w),
                by: HeldBy::Client,
            });
        }
        let spent = match self.global.check() {
            Ok(()) => return Ok(()),
            Err(nu) => nu,
        };
        // The ceiling is reached: a client that has not failed lately still gets through, up
        // to the reserve, so that a right password from a fresh client is not locked out.
        if !self.clients.has_failed(&client, now, p) && self.reserve.check().is_ok() {
            return Ok(());
        }
        Err(Throttled {
            retry_after_secs: secs(spent.wait_time_from(DefaultClock::default().now())).max(1),
            by: HeldBy::Everyone,
        })
    }

    /// Sentinel refused `user`'s password from `client`.
    pub fn failed(&self, user: &str, client: IpAddr) {
        let now = Instant::now();
        let client = client_key(client);
        self.pairs
            .failed((user.to_owned(), client), now, &self.policy);
        self.clients.failed(client, now, &self.policy);
    }

    /// `user` signed in from `client`: that pair starts afresh (the client's count stays).
    pub fn succeeded(&self, user: &str, client: IpAddr) {
        self.pairs.forget(&(user.to_owned(), client_key(client)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn fail(t: &LoginThrottle, user: &str, client: IpAddr, times: u32) {
        for _ in 0..times {
            assert!(t.check(user, client).is_ok());
            t.failed(user, client);
        }
    }

    #[test]
    fn delays_per_user_and_client_grow_and_end() {
        let t = LoginThrottle::new(Policy {
            first_delay: Duration::from_millis(40),
            ..Policy::default()
        });
        let (a, b) = (ip("192.0.2.1"), ip("192.0.2.2"));
        fail(&t, "ann", a, 3);
        let held = t.check("ann", a).unwrap_err();
        assert_eq!(held.by, HeldBy::UserHere);
        assert_eq!(held.retry_after_secs, 1);
        assert!(held.message().contains("try again in 1 s"));
        // Another client, or another name from this client: not held.
        assert!(t.check("ann", b).is_ok());
        assert!(t.check("bob", a).is_ok());
        std::thread::sleep(Duration::from_millis(50));
        fail(&t, "ann", a, 1);
        let w1 = t.pairs.wait(&("ann".into(), a), Instant::now(), &t.policy);
        assert!(w1.unwrap() > Duration::from_millis(40), "{w1:?}");
        // A success clears the pair.
        t.succeeded("ann", a);
        assert!(t.check("ann", a).is_ok());
    }

    #[test]
    fn many_names_from_one_client_hold_that_client_only() {
        let t = LoginThrottle::default();
        let a = ip("2001:db8:1:2::10");
        for i in 0..20 {
            fail(&t, &format!("u{i}"), a, 1);
        }
        // The same /64 is the same client.
        let held = t.check("someone", ip("2001:db8:1:2::99")).unwrap_err();
        assert_eq!(held.by, HeldBy::Client);
        assert!(t.check("someone", ip("2001:db8:1:3::10")).is_ok());
    }

    #[test]
    fn the_ceiling_still_lets_a_fresh_client_in() {
        let one = NonZeroU32::MIN;
        let t = LoginThrottle::new(Policy {
            global: Quota::per_hour(one).allow_burst(NonZeroU32::new(3).unwrap()),
            reserve: Quota::per_hour(one).allow_burst(NonZeroU32::new(2).unwrap()),
            ..Policy::default()
        });
        let attacker = ip("198.51.100.1");
        fail(&t, "u1", attacker, 1);
        fail(&t, "u2", attacker, 1);
        fail(&t, "u3", attacker, 1);
        let held = t.check("u4", attacker).unwrap_err();
        assert_eq!(held.by, HeldBy::Everyone);
        assert!(held.retry_after_secs >= 1);
        // Fresh clients draw on the reserve; it has a ceiling too.
        assert!(t.check("admin", ip("203.0.113.1")).is_ok());
        assert!(t.check("admin", ip("203.0.113.2")).is_ok());
        assert_eq!(
            t.check("admin", ip("203.0.113.3")).unwrap_err().by,
            HeldBy::Everyone
        );
    }
}
