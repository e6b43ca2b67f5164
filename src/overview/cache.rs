//! A few minutes' memory of each user's overview per device group, forgotten by any change.
//!
//! An overview costs one export of the whole group, so the page, its selections and its CSVs
//! reuse it for [`TTL`]. Entries are per user (each sees what their own token may read).
//! Any change sent through the console forgets them all (a device-group move changes two
//! groups), and an overview computed while a change ran is not stored (the generation check).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Overview;

/// How long an overview is reused.
pub const TTL: Duration = Duration::from_secs(300);
/// Overviews kept at most (each up to a few MB); past that the oldest goes.
const MAX_ENTRIES: usize = 16;

type Key = (String, String);

#[derive(Debug, Default)]
struct Inner {
    /// Bumped by every change: an overview begun before it is stale when it ends.
    generation: u64,
    entries: HashMap<Key, (Instant, Arc<Overview>)>,
}

/// Overviews by (subject, corpId).
#[derive(Debug, Default)]
pub struct OverviewCache {
    inner: Mutex<Inner>,
}

impl OverviewCache {
    /// The current generation: pass it to [`OverviewCache::put`] with what was computed after it.
    pub fn generation(&self) -> u64 {
        self.inner.lock().map(|i| i.generation).unwrap_or(u64::MAX)
    }

    /// The overview computed less than [`TTL`] ago for this user and group.
    pub fn get(&self, subject: &str, corp: &str) -> Option<Arc<Overview>> {
        let inner = self.inner.lock().ok()?;
        inner
            .entries
            .get(&(subject.to_owned(), corp.to_owned()))
            .filter(|(at, _)| at.elapsed() < TTL)
            .map(|(_, o)| Arc::clone(o))
    }

    /// Keeps `ov` unless a change came since `generation`.
    pub fn put(&self, subject: &str, corp: &str, generation: u64, ov: Arc<Overview>) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if inner.generation != generation {
            return;
        }
        let map = &mut inner.entries;
        map.retain(|_, (at, _)| at.elapsed() < TTL);
        if map.len() >= MAX_ENTRIES {
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        map.insert((subject.to_owned(), corp.to_owned()), (Instant::now(), ov));
    }

    /// Forgets every overview: called when any change is sent (whatever its outcome).
    pub fn forget_all(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.generation = inner.generation.wrapping_add(1);
            inner.entries.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::overview::{Aggregator, IdleMb};

    #[test]
    fn per_user_forgotten_by_a_change_and_not_stored_when_stale() {
        let c = OverviewCache::default();
        let ov = Arc::new(Aggregator::new(IdleMb::default()).finish().unwrap());
        let g = c.generation();
        c.put("tech", "A", g, Arc::clone(&ov));
        assert!(c.get("tech", "A").is_some());
        assert!(c.get("super", "A").is_none());
        c.forget_all();
        assert!(c.get("tech", "A").is_none());
        // Computed before the change, finished after it: not kept.
        c.put("tech", "A", g, ov);
        assert!(c.get("tech", "A").is_none());
    }
}
