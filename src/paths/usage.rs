//! The fleet history's URLs (CONTRACT §6): tracking, the usage page and its files, idle lines, drift.

use super::{Href, group_path};
use crate::domain::CorpId;

/// `POST /devices/{corpId}/tracking`
pub fn tracking(corp: &CorpId) -> Href {
    Href(format!("{}/tracking", group_path(corp)))
}

/// `GET /devices/{corpId}/usage`
pub fn usage(corp: &CorpId) -> Href {
    Href(format!("{}/usage", group_path(corp)))
}

/// `GET /devices/{corpId}/usage?from=&to=&by=&idle_days=` (empty values left out).
pub fn usage_at(corp: &CorpId, from: &str, to: &str, by: &str, idle_days: u32) -> Href {
    let pairs = [("from", from), ("to", to), ("by", by)]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k, v.to_owned()))
        .chain([("idle_days", idle_days.to_string())]);
    Href::with_query(usage(corp).0, pairs)
}

/// `GET /devices/{corpId}/usage.csv?from=&to=`: the proof of use.
pub fn usage_csv(corp: &CorpId, from: &str, to: &str) -> Href {
    Href::with_query(
        format!("{}/usage.csv", group_path(corp)),
        [("from", from), ("to", to)],
    )
}

/// `GET /devices/{corpId}/usage/idle?idle_days=`: the idle lines as a selection.
pub fn usage_idle(corp: &CorpId, idle_days: u32) -> Href {
    Href::with_query(
        format!("{}/usage/idle", group_path(corp)),
        [("idle_days", idle_days.to_string())],
    )
}

/// `GET /devices/{corpId}/drift`
pub fn drift(corp: &CorpId) -> Href {
    Href(format!("{}/drift", group_path(corp)))
}

/// `GET /devices/{corpId}/drift.csv`
pub fn drift_csv(corp: &CorpId) -> Href {
    Href(format!("{}/drift.csv", group_path(corp)))
}

/// `GET /devices/{corpId}?filterGroup=…`: a tracked group's list filtered by one snapshot field
/// (`by` as the usage page names it); a label has no list filter, so its group's list.
pub fn devices_where(corp: &CorpId, by: &str, value: &str) -> Href {
    let key = match by {
        "filter_group" => "filterGroup",
        "device" | "network" | "status" => by,
        _ => return super::group(corp),
    };
    Href::with_query(group_path(corp), [(key, value)])
}
