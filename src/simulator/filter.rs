//! Device filters: the search (whose fields differ between the list and the totals), labels, filter group, status, exclusions.

use std::collections::HashSet;

use super::data::Line;

/// Which fields a search looks at: the vendor text names different ones for the list and for totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchScope {
    List,
    Totals,
}

/// A device filter: search, labels (any of), filter group, status, exclusions.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    search: Option<(String, String)>,
    scope: Option<SearchScope>,
    pub labels: Vec<i64>,
    pub filter_group: Option<String>,
    pub status: Option<String>,
    pub excluded: HashSet<String>,
}

impl Filter {
    pub fn search(mut self, value: Option<&str>, scope: SearchScope) -> Self {
        if let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) {
            let lower = v.to_lowercase();
            let digits: String = v.chars().filter(|c| *c != '-').collect();
            self.search = Some((lower, digits));
            self.scope = Some(scope);
        }
        self
    }

    /// A string that identifies the filter, for the result cache.
    pub fn cache_key(&self) -> String {
        let mut excluded: Vec<&String> = self.excluded.iter().collect();
        excluded.sort();
        format!(
            "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
            self.search, self.scope, self.labels, self.filter_group, self.status, excluded
        )
    }

    pub fn is_empty(&self) -> bool {
        self.search.is_none()
            && self.labels.is_empty()
            && self.filter_group.is_none()
            && self.status.is_none()
            && self.excluded.is_empty()
    }

    pub fn matches(&self, l: &Line) -> bool {
        if !self.labels.is_empty() && !l.labels.iter().any(|id| self.labels.contains(id)) {
            return false;
        }
        if let Some(fg) = &self.filter_group {
            if !l.filter_group.eq_ignore_ascii_case(fg) {
                return false;
            }
        }
        if let Some(st) = &self.status {
            if !l.status.eq_ignore_ascii_case(st) {
                return false;
            }
        }
        if !self.excluded.is_empty() && self.excluded.contains(&l.mdn_digits()) {
            return false;
        }
        match (&self.search, self.scope) {
            (Some((lower, digits)), Some(scope)) => search_matches(l, lower, digits, scope),
            _ => true,
        }
    }
}

/// Case-insensitive `contains` without allocating for ASCII text.
fn contains_ci(hay: &str, lower_needle: &str) -> bool {
    if !hay.is_ascii() || !lower_needle.is_ascii() {
        return hay.to_lowercase().contains(lower_needle);
    }
    let (h, n) = (hay.as_bytes(), lower_needle.as_bytes());
    n.is_empty()
        || h.windows(n.len())
            .any(|w| w.iter().zip(n).all(|(a, b)| a.to_ascii_lowercase() == *b))
}

fn search_matches(l: &Line, lower: &str, digits: &str, scope: SearchScope) -> bool {
    let has = |s: &str| contains_ci(s, lower);
    let opt = |s: &Option<String>| s.as_deref().is_some_and(has);
    // The MDN matches with or without dashes.
    if has(&l.mdn) || (!digits.is_empty() && l.mdn_digits().contains(digits)) {
        return true;
    }
    // Only a search of digits can match the all-digit fields.
    let numeric = lower.bytes().all(|b| b.is_ascii_digit());
    let common = has(&l.esn_hex)
        || opt(&l.nickname)
        || (numeric && (has(&l.imei) || has(&l.iccid) || has(&l.imsi) || has(&l.msisdn)));
    match scope {
        SearchScope::Totals => common,
        SearchScope::List => common || opt(&l.mac) || opt(&l.serial) || (numeric && opt(&l.eid)),
    }
}
