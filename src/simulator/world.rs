//! The simulator's device groups in memory: lazily generated base lines, per-line overrides, sort and result caches.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use super::data::{self, GroupKind, Line};
use super::filter::Filter;
use super::generate;
use super::validate::{SortDir, SortField};
use super::wire::Totals;

/// One device group. Line ids `0..base_n` are generated lines, `base_n..` lines moved in.
#[derive(Debug)]
pub struct Group {
    pub kind: GroupKind,
    base_n: u32,
    /// A changed base line, or `None` when it was moved out.
    overrides: HashMap<u32, Option<Line>>,
    extras: Vec<Option<Line>>,
    extra_index: HashMap<String, u32>,
    /// MDN digits → base index, for the small groups (the large one inverts its MDN formula).
    base_index: Option<HashMap<String, u32>>,
    sort_cache: HashMap<(SortField, SortDir), Arc<Vec<u32>>>,
    /// Recent filtered results (a console pages through the same search), cleared on any write.
    filter_cache: HashMap<(SortField, SortDir, String), Arc<Vec<u32>>>,
    totals_cache: Option<Totals>,
    /// Lines whose writes Sentinel refuses, with its reason (tests: a bulk answer's `failed`).
    refusals: HashMap<u32, String>,
}

/// How many filtered results a group keeps.
const FILTER_CACHE_SIZE: usize = 32;

impl Group {
    pub fn new(kind: GroupKind, size: u32) -> Self {
        let base_index = (kind != GroupKind::Fleet).then(|| {
            (0..size)
                .map(|i| (generate::base_mdn(kind, i).replace('-', ""), i))
                .collect()
        });
        Self {
            kind,
            base_n: size,
            overrides: HashMap::new(),
            extras: Vec::new(),
            extra_index: HashMap::new(),
            base_index,
            sort_cache: HashMap::new(),
            filter_cache: HashMap::new(),
            totals_cache: None,
            refusals: HashMap::new(),
        }
    }

    /// Why a write to line `id` is refused, if it is.
    pub fn refusal(&self, id: u32) -> Option<&str> {
        self.refusals.get(&id).map(String::as_str)
    }

    /// Refuses writes to line `id` with `reason`, or accepts them again (`None`).
    pub fn set_refusal(&mut self, id: u32, reason: Option<String>) {
        match reason {
            Some(r) => self.refusals.insert(id, r),
            None => self.refusals.remove(&id),
        };
    }

    pub fn corp_id(&self) -> &'static str {
        self.kind.corp_id()
    }

    fn id_space(&self) -> u32 {
        self.base_n + self.extras.len() as u32
    }

    /// The current line with this id, if it is still in the group.
    pub fn line(&self, id: u32) -> Option<Line> {
        self.line_ref(id).map(Cow::into_owned)
    }

    /// The current line with this id, borrowed where it is stored (only a base line never
    /// changed is generated): reads over 100,000 changed lines do not copy each one.
    pub fn line_ref(&self, id: u32) -> Option<Cow<'_, Line>> {
        if id < self.base_n {
            match self.overrides.get(&id) {
                Some(o) => o.as_ref().map(Cow::Borrowed),
                None => Some(Cow::Owned(generate::generate(self.kind, id))),
            }
        } else {
            self.extras
                .get((id - self.base_n) as usize)
                .and_then(Option::as_ref)
                .map(Cow::Borrowed)
        }
    }

    fn live(&self, id: u32) -> bool {
        if id < self.base_n {
            !matches!(self.overrides.get(&id), Some(None))
        } else {
            matches!(self.extras.get((id - self.base_n) as usize), Some(Some(_)))
        }
    }

    /// Every line id still in the group.
    pub fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.id_space()).filter(|id| self.live(*id))
    }

    /// The id of the line with this MDN (dashed or not).
    pub fn find_mdn(&self, mdn: &str) -> Option<u32> {
        let digits: String = mdn.chars().filter(char::is_ascii_digit).collect();
        if let Some(id) = self.extra_index.get(&digits) {
            return self.live(*id).then_some(*id);
        }
        let base = match &self.base_index {
            Some(map) => map.get(&digits).copied(),
            None => generate::fleet_index_of(&digits, self.base_n),
        }?;
        self.live(base).then_some(base)
    }

    /// Replaces a line (after a write). Sort orders whose key did not change are kept, so a
    /// write to one line of a large group does not re-sort it.
    pub fn set(&mut self, id: u32, line: Line) {
        let kept = self.line_ref(id).map(|old| {
            let same_order: Vec<(SortField, SortDir)> = self
                .sort_cache
                .keys()
                .filter(|(sort, _)| sort_key(&old, *sort) == sort_key(&line, *sort))
                .copied()
                .collect();
            (same_order, old.status == line.status)
        });
        match kept {
            Some((same_order, same_status)) => {
                self.sort_cache.retain(|k, _| same_order.contains(k));
                if !same_status {
                    self.totals_cache = None;
                }
            }
            None => {
                self.sort_cache.clear();
                self.totals_cache = None;
            }
        }
        self.filter_cache.clear();
        if id < self.base_n {
            self.overrides.insert(id, Some(line));
        } else if let Some(slot) = self.extras.get_mut((id - self.base_n) as usize) {
            *slot = Some(line);
        }
    }

    /// Takes a line out of the group (moved to another group).
    pub fn remove(&mut self, id: u32) -> Option<Line> {
        let line = self.line(id)?;
        if id < self.base_n {
            self.overrides.insert(id, None);
        } else if let Some(slot) = self.extras.get_mut((id - self.base_n) as usize) {
            *slot = None;
        }
        self.invalidate();
        Some(line)
    }

    /// Adds a line moved in from another group.
    pub fn add(&mut self, mut line: Line) {
        line.corp_id = self.corp_id();
        let id = self.id_space();
        self.extra_index.insert(line.mdn_digits(), id);
        self.extras.push(Some(line));
        self.invalidate();
    }

    fn invalidate(&mut self) {
        self.sort_cache.clear();
        self.filter_cache.clear();
        self.totals_cache = None;
    }

    /// Whether base line `id` is unchanged (so its cheap fields can be computed from the index).
    fn pristine(&self, id: u32) -> bool {
        id < self.base_n && !self.overrides.contains_key(&id)
    }

    /// The sort key and MDN of a line, without generating the whole line where the key is cheap.
    fn keyed(
        &self,
        id: u32,
        sort: SortField,
        filter: Option<&Filter>,
    ) -> Option<(SortKey, String)> {
        if filter.is_none() && self.pristine(id) {
            let mdn = generate::base_mdn(self.kind, id);
            match sort {
                SortField::Mdn => return Some((SortKey::Text(Some(mdn.clone())), mdn)),
                SortField::Status => {
                    let st = generate::base_status(self.kind, id).to_owned();
                    return Some((SortKey::Text(Some(st)), mdn));
                }
                _ => {}
            }
        }
        let l = self.line_ref(id)?;
        if filter.is_some_and(|f| !f.matches(&l)) {
            return None;
        }
        Some((sort_key(&l, sort), l.mdn.clone()))
    }

    /// The ids (matching `filter`, if any), sorted by `sort`/`dir` with the MDN as tie-break.
    fn sort_ids(&self, sort: SortField, dir: SortDir, filter: Option<&Filter>) -> Vec<u32> {
        let mut keyed: Vec<(SortKey, String, u32)> = self
            .ids()
            .filter_map(|id| self.keyed(id, sort, filter).map(|(k, m)| (k, m, id)))
            .collect();
        keyed.sort_by(|a, b| {
            let primary = a.0.cmp(&b.0);
            let primary = if dir == SortDir::Desc {
                primary.reverse()
            } else {
                primary
            };
            primary.then_with(|| a.1.cmp(&b.1))
        });
        keyed.into_iter().map(|(_, _, id)| id).collect()
    }

    /// Every live id, sorted by `sort`/`dir` with the MDN as tie-break; cached until a write changes the order.
    pub fn sorted(&mut self, sort: SortField, dir: SortDir) -> Arc<Vec<u32>> {
        if let Some(v) = self.sort_cache.get(&(sort, dir)) {
            return v.clone();
        }
        let order = Arc::new(self.sort_ids(sort, dir, None));
        self.sort_cache.insert((sort, dir), order.clone());
        order
    }

    /// The ids matching `filter`, in the order `sort`/`dir`.
    pub fn query(&mut self, sort: SortField, dir: SortDir, filter: &Filter) -> Arc<Vec<u32>> {
        if filter.is_empty() {
            return self.sorted(sort, dir);
        }
        let key = (sort, dir, filter.cache_key());
        if let Some(v) = self.filter_cache.get(&key) {
            return v.clone();
        }
        // With the order cached, filter it; otherwise filter and sort in one pass over the lines.
        let ids: Arc<Vec<u32>> = match self.sort_cache.get(&(sort, dir)) {
            Some(order) => Arc::new(
                order
                    .iter()
                    .copied()
                    .filter(|id| self.line_ref(*id).is_some_and(|l| filter.matches(&l)))
                    .collect(),
            ),
            None => Arc::new(self.sort_ids(sort, dir, Some(filter))),
        };
        if self.filter_cache.len() >= FILTER_CACHE_SIZE {
            self.filter_cache.clear();
        }
        self.filter_cache.insert(key, ids.clone());
        ids
    }

    /// Counts by status of the lines matching `filter`.
    pub fn totals(&mut self, filter: &Filter) -> Totals {
        if filter.is_empty() {
            if let Some(t) = self.totals_cache {
                return t;
            }
        }
        let mut t = Totals::default();
        // A filtered count reuses (and fills) the filtered-result cache.
        let ids: Arc<Vec<u32>> = if filter.is_empty() {
            Arc::new(self.ids().collect())
        } else {
            self.query(SortField::Mdn, SortDir::Asc, filter)
        };
        for id in ids.iter() {
            let status = if self.pristine(*id) {
                generate::base_status(self.kind, *id).to_owned()
            } else {
                let Some(l) = self.line_ref(*id) else {
                    continue;
                };
                l.status.clone()
            };
            t.total += 1;
            match status.as_str() {
                "active" => t.active += 1,
                "suspended" => t.suspended += 1,
                _ => {}
            }
        }
        if filter.is_empty() {
            self.totals_cache = Some(t);
        }
        t
    }

    /// The ids of lines with this IMEI.
    pub fn find_imei(&self, imei: &str) -> Vec<u32> {
        let has = |id: &u32| self.line_ref(*id).is_some_and(|l| l.imei == imei);
        if self.kind != GroupKind::Fleet {
            return self.ids().filter(has).collect();
        }
        // The large group: the IMEI formula gives the candidates; changed lines are checked too.
        let mut ids: Vec<u32> = generate::fleet_indexes_of_imei(imei, self.base_n)
            .into_iter()
            .filter(|id| !self.overrides.contains_key(id))
            .chain(self.overrides.keys().copied())
            .chain(self.base_n..self.id_space())
            .filter(has)
            .collect();
        ids.sort_unstable();
        ids
    }
}

/// A sort key: text compares case-insensitively, numbers numerically; missing values sort first.
#[derive(Debug, Clone, PartialEq)]
enum SortKey {
    Text(Option<String>),
    Num(Option<f64>),
}

impl Eq for SortKey {}

impl PartialOrd for SortKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SortKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        use std::cmp::Ordering;
        match (self, other) {
            (SortKey::Text(a), SortKey::Text(b)) => a.cmp(b),
            (SortKey::Num(a), SortKey::Num(b)) => match (a, b) {
                (Some(x), Some(y)) => x.total_cmp(y),
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
            },
            (SortKey::Text(_), SortKey::Num(_)) => Ordering::Less,
            (SortKey::Num(_), SortKey::Text(_)) => Ordering::Greater,
        }
    }
}

fn sort_key(l: &Line, sort: SortField) -> SortKey {
    let text = |s: &str| SortKey::Text(Some(s.to_lowercase()));
    match sort {
        SortField::Mdn => text(&l.mdn),
        SortField::Status => text(&l.status),
        SortField::MediaCenterStatus => text(&l.media_center_status),
        SortField::EsnHex => text(&l.esn_hex),
        SortField::Uicc => text(&l.iccid),
        SortField::DeviceName => text(&l.device_name),
        SortField::FilterGroup => text(&l.filter_group),
        SortField::MonthlyLimit => SortKey::Num(l.monthly_limit),
        SortField::DailyLimit => SortKey::Num(l.daily_limit),
        SortField::MonthlyAmountUsed => SortKey::Num(Some(l.monthly_used)),
        SortField::DayAmountUsed => SortKey::Num(Some(l.day_used)),
        SortField::Last30DaysUsed => SortKey::Num(Some(l.last30_used)),
    }
}

/// All device groups.
#[derive(Debug)]
pub struct World {
    pub groups: Vec<Group>,
}

impl World {
    pub fn new(large_group_size: u64) -> Self {
        let large = u32::try_from(large_group_size.min(7_999_999)).unwrap_or(7_999_999);
        Self {
            groups: vec![
                Group::new(GroupKind::Northstar, data::NORTHSTAR_LINES),
                Group::new(GroupKind::NorthstarHs, data::HS_LINES),
                Group::new(GroupKind::Fleet, large),
            ],
        }
    }

    pub fn group(&self, corp: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.corp_id() == corp)
    }

    pub fn group_mut(&mut self, corp: &str) -> Option<&mut Group> {
        self.groups.iter_mut().find(|g| g.corp_id() == corp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_and_moves() {
        let mut w = World::new(1000);
        let g = w.group_mut("NORTHSTAR-ISD").unwrap();
        let t = g.totals(&Filter::default());
        assert_eq!((t.active, t.suspended, t.total), (487, 12, 499));
        let id = g.find_mdn("5212671508").unwrap();
        let line = g.remove(id).unwrap();
        assert!(g.find_mdn("521-267-1508").is_none());
        let hs = w.group_mut("NORTHSTAR-ISD-HS").unwrap();
        hs.add(line);
        assert!(hs.find_mdn("521-267-1508").is_some());
        let f = w.group_mut("FLEET-LARGE").unwrap();
        assert_eq!(f.find_mdn("610-200-0999"), Some(999));
        assert_eq!(f.find_mdn("610-200-1000"), None);
    }

    #[test]
    fn sorts_are_stable_and_complete() {
        let mut w = World::new(10);
        let g = w.group_mut("NORTHSTAR-ISD").unwrap();
        for s in &SortField::ALL {
            for d in &SortDir::ALL {
                assert_eq!(g.sorted(*s, *d).len(), 499);
            }
        }
    }
}
