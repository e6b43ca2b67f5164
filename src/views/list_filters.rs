//! A tracked group's list filters (CONTRACT §6): the controls in the list's `#list-filters` slot
//! (the snapshot's values with their counts), the removable chips and the "as of" note of a
//! filtered list, and a snapshot line drawn as a row of the list.

use askama::Template;
use time::OffsetDateTime;

use crate::domain::{CorpId, FilterField, ListQuery, TableColumns};
use crate::paths::{self, Href};
use crate::storage::usage::LatestRow;
use crate::upstream::wire::Device;
use crate::usage::snapshot::Snapshot;
use crate::usage::{Zone, mdn_text};

/// One field's choice in the controls.
#[derive(Debug, Clone)]
pub struct FilterSelect {
    pub key: &'static str,
    pub label: &'static str,
    /// `(value, text with its count, selected)`.
    pub options: Vec<(String, String, bool)>,
    /// Values kept as they are when a field has several (their chips remove them).
    pub kept: Vec<String>,
}

/// The filter controls of a tracked group's list.
#[derive(Template, Debug, Clone)]
#[template(path = "fragments/list_filters.html")]
pub struct ListFilters {
    pub selects: Vec<FilterSelect>,
    /// "as of …": when the snapshot the filters read was taken.
    pub as_of: String,
    pub as_of_iso: String,
}

/// A filter in force, with the link that removes it.
#[derive(Debug, Clone)]
pub struct FilterChip {
    pub label: &'static str,
    pub value: String,
    pub remove_href: Href,
}

/// What a filtered list shows above its table.
#[derive(Debug, Clone)]
pub struct SnapshotNote {
    pub as_of: String,
    pub as_of_iso: String,
    pub chips: Vec<FilterChip>,
}

/// `as of 14:00 UTC` today, else with its date, in `USAGE_TIME_ZONE`.
pub fn as_of(t: OffsetDateTime, zone: &Zone) -> (String, String) {
    let iso = t
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let Ok(ts) = jiff::Timestamp::from_second(t.unix_timestamp()) else {
        return (iso.clone(), iso);
    };
    let z = ts.to_zoned(zone.0.clone());
    let today = jiff::Timestamp::now().to_zoned(zone.0.clone()).date();
    let fmt = if z.date() == today {
        "%H:%M %Z"
    } else {
        "%Y-%m-%d %H:%M %Z"
    };
    (z.strftime(fmt).to_string(), iso)
}

impl ListFilters {
    pub fn new(s: &Snapshot, q: &ListQuery, zone: &Zone) -> Self {
        let selects = FilterField::ALL
            .into_iter()
            .filter(|f| !s.values_of(*f).is_empty())
            .map(|f| {
                let chosen: Vec<&str> = q.filter.values(f).collect();
                let one = (chosen.len() == 1).then(|| chosen[0]);
                let options = s
                    .values_of(f)
                    .iter()
                    .filter(|(n, _, _)| !n.is_empty())
                    .map(|(n, _, lines)| {
                        let selected = one.is_some_and(|c| c.eq_ignore_ascii_case(n));
                        (
                            n.clone(),
                            format!("{n} ({})", super::format::count(*lines as u64)),
                            selected,
                        )
                    })
                    .collect();
                FilterSelect {
                    key: f.key(),
                    label: f.label(),
                    options,
                    kept: if chosen.len() > 1 {
                        chosen.iter().map(|v| (*v).to_owned()).collect()
                    } else {
                        Vec::new()
                    },
                }
            })
            .collect();
        let (as_of, as_of_iso) = as_of(s.taken_at, zone);
        Self {
            selects,
            as_of,
            as_of_iso,
        }
    }
}

impl SnapshotNote {
    pub fn new(
        s: &Snapshot,
        corp: &CorpId,
        q: &ListQuery,
        columns: &TableColumns,
        zone: &Zone,
    ) -> Self {
        let chips = q
            .filter
            .entries()
            .iter()
            .enumerate()
            .map(|(i, (f, v))| {
                let mut nq = q.clone();
                nq.filter = q.filter.without(i);
                nq.offset = 0;
                FilterChip {
                    label: f.label(),
                    value: v.clone(),
                    remove_href: paths::devices_showing(corp, &nq, columns),
                }
            })
            .collect();
        let (as_of, as_of_iso) = as_of(s.taken_at, zone);
        Self {
            as_of,
            as_of_iso,
            chips,
        }
    }
}

/// A snapshot line as the list draws a line (usage in MB, limits as the export gave them).
pub fn device_of(s: &Snapshot, corp: &CorpId, r: &LatestRow) -> Device {
    let mb = |v: i64| Some(v as f64 / 100.0);
    let name = |f: FilterField, id: i32| {
        let n = s.name(f, id);
        (!n.is_empty()).then(|| n.to_owned())
    };
    let text = |v: &str| (!v.is_empty()).then(|| v.to_owned());
    Device {
        key: r.mdn.to_string(),
        mdn: mdn_text(r.mdn as u64),
        status: name(FilterField::Status, r.status),
        network: name(FilterField::Network, r.network),
        device_name: name(FilterField::Device, r.device),
        filter_group: name(FilterField::FilterGroup, r.filter_group),
        corp_id: Some(corp.to_string()),
        nickname: text(&r.nickname),
        summer_status: text(&r.summer_status),
        media_center_status: text(&r.media_center_status),
        monthly_limit: r.monthly_limit.and_then(mb),
        daily_limit: r.daily_limit.and_then(mb),
        monthly_amount_used: mb(r.month_used),
        day_amount_used: mb(r.day_used),
        last30_days_used: mb(r.last30_used),
        ..Device::default()
    }
}
