//! A few seconds' memory of device totals per user, so a page of the list costs one upstream call.
//!
//! Totals are summary counts shown beside the list; every list page asked for them again,
//! doubling the upstream load of browsing. They are kept for [`TTL`] per (user, device group,
//! search), and forgotten whenever this console sends a change.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::wire::Totals;

/// How long totals are reused.
pub const TTL: Duration = Duration::from_secs(5);
/// Entries kept at most; past that the cache starts over (it is only an optimisation).
const MAX_ENTRIES: usize = 10_000;

type Key = (String, String, String);

/// Totals by (subject, corpId, search), each with the time it was fetched.
#[derive(Debug, Default)]
pub struct TotalsCache {
    entries: Mutex<HashMap<Key, (Instant, Totals)>>,
}

impl TotalsCache {
    fn key(subject: &str, corp: &str, search: &str) -> Key {
        (subject.to_owned(), corp.to_owned(), search.to_owned())
    }

    /// Totals fetched less than [`TTL`] ago for this user, group and search.
    pub fn get(&self, subject: &str, corp: &str, search: &str) -> Option<Totals> {
        let map = self.entries.lock().ok()?;
        map.get(&Self::key(subject, corp, search))
            .filter(|(at, _)| at.elapsed() < TTL)
            .map(|(_, t)| *t)
    }

    pub fn put(&self, subject: &str, corp: &str, search: &str, totals: Totals) {
        if let Ok(mut map) = self.entries.lock() {
            if map.len() >= MAX_ENTRIES {
                map.retain(|_, (at, _)| at.elapsed() < TTL);
                if map.len() >= MAX_ENTRIES {
                    map.clear();
                }
            }
            map.insert(Self::key(subject, corp, search), (Instant::now(), totals));
        }
    }

    /// Forgets everything: a change (even one whose outcome is unknown) may move any count,
    /// in the source group and, for a device-group move, in the target.
    pub fn invalidate(&self) {
        if let Ok(mut map) = self.entries.lock() {
            map.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_per_user_and_forgets_on_change() {
        let c = TotalsCache::default();
        let t = Totals {
            active: 1,
            suspended: 2,
            total: 3,
        };
        c.put("tech", "A", "", t);
        assert_eq!(c.get("tech", "A", ""), Some(t));
        assert_eq!(c.get("super", "A", ""), None);
        assert_eq!(c.get("tech", "A", "Bus"), None);
        c.invalidate();
        assert_eq!(c.get("tech", "A", ""), None);
    }
}
