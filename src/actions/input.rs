//! What every action reads: the posted form as ordered pairs ([`RawForm`]), the lines a change
//! applies to ([`Target`]) and per-field messages ([`FieldErrors`]). Below the catalogue.

use serde::{Deserialize, Serialize};

use super::error::ChangeError;
use crate::domain::{Imei, LabelIds, Mdn, form_pairs};
use crate::upstream::wire::{BulkSelection, DeviceSelection};

/// Above this many lines the user must tick "Yes, change these N lines".
pub const ACK_ABOVE: u64 = 10;

/// The checkbox of a value none of the group's lines has.
pub const VALUE_CHECK: &str = "new_value_confirmed";

/// The form body as ordered pairs (keys repeat: `mdns`, `excluded_mdns`, `imeis`).
#[derive(Debug, Clone, Default)]
pub struct RawForm {
    pub(super) pairs: Vec<(String, String)>,
}

impl RawForm {
    /// Parses an `application/x-www-form-urlencoded` body (or query string); a control
    /// character in it is a 400 naming the field.
    pub fn parse(body: &[u8]) -> Result<Self, ChangeError> {
        Ok(Self {
            pairs: form_pairs::decode(body)?,
        })
    }

    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        Self { pairs }
    }

    /// The first value of `key`, trimmed of nothing (callers decide).
    pub fn first(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The first value, or "".
    pub fn value(&self, key: &str) -> &str {
        self.first(key).unwrap_or_default()
    }

    pub fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A checkbox or boolean field: `true`, `on`, `yes`, `1`.
    pub fn flag(&self, key: &str) -> bool {
        self.first(key).is_some_and(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "true" | "on" | "yes" | "1"
            )
        })
    }
}

/// Which lines a change applies to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// An explicit list of lines.
    Lines(Vec<Mdn>),
    /// Everything matching the list's search and labels, less exclusions.
    Bulk(BulkSelection),
    /// SmartSpot devices by IMEI.
    Imeis(Vec<Imei>),
}

impl Target {
    /// The number of lines when the console knows it without asking the upstream.
    pub fn known_count(&self) -> Option<u64> {
        match self {
            Target::Lines(l) => Some(l.len() as u64),
            Target::Imeis(l) => Some(l.len() as u64),
            Target::Bulk(_) => None,
        }
    }

    /// Must the user tick "Yes, change these N lines"? A bulk selection can grow between preview
    /// and confirmation, so it always must.
    pub fn needs_ack(&self) -> bool {
        self.known_count().is_none_or(|n| n > ACK_ABOVE)
    }

    /// The upstream's "list or bulk selection" (SmartSpot IMEIs are not one).
    pub fn selection(&self) -> Option<DeviceSelection> {
        match self {
            Target::Lines(m) => Some(DeviceSelection::Mdns { mdns: m.clone() }),
            Target::Bulk(b) => Some(DeviceSelection::Bulk {
                bulk_selection: b.clone(),
            }),
            Target::Imeis(_) => None,
        }
    }

    /// The selection as the audit log records it.
    pub fn audit_json(&self) -> serde_json::Value {
        match self {
            Target::Lines(m) => serde_json::json!({ "mdns": m }),
            Target::Bulk(b) => serde_json::json!({ "bulkSelection": b }),
            Target::Imeis(i) => serde_json::json!({ "imeis": i }),
        }
    }

    /// The form pairs that select the same lines again (links to the form, previews).
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        match self {
            Target::Lines(m) => m
                .iter()
                .map(|m| ("mdns".to_owned(), m.to_string()))
                .collect(),
            Target::Imeis(i) => i
                .iter()
                .map(|i| ("imeis".to_owned(), i.to_string()))
                .collect(),
            Target::Bulk(b) => {
                let mut p = vec![("select_all".to_owned(), "true".to_owned())];
                if let Some(s) = &b.search_value {
                    p.push(("searchValue".into(), s.clone()));
                }
                if let Some(ids) = &b.label_ids {
                    p.push((
                        "labelIds".into(),
                        LabelIds::from_ids(ids.clone()).to_param(),
                    ));
                }
                for m in b.excluded_mdns.iter().flatten() {
                    p.push(("excluded_mdns".into(), m.to_string()));
                }
                p
            }
        }
    }

    /// One line of description: "3 lines", "all lines matching “Bus” except 2".
    pub fn describe(&self) -> String {
        match self {
            Target::Lines(m) => plural(m.len() as u64, "line"),
            Target::Imeis(i) => plural(i.len() as u64, "SmartSpot device"),
            Target::Bulk(b) => {
                let mut s = "all lines".to_owned();
                if let Some(q) = &b.search_value {
                    s.push_str(&format!(" matching “{q}”"));
                }
                if let Some(ids) = b.label_ids.as_ref().filter(|i| !i.is_empty()) {
                    s.push_str(&format!(
                        " with label {}",
                        LabelIds::from_ids(ids.clone()).to_param()
                    ));
                }
                let ex = b.excluded_mdns.as_ref().map_or(0, Vec::len);
                if ex > 0 {
                    s.push_str(&format!(" except {ex}"));
                }
                s
            }
        }
    }
}

/// "1 line", "3 lines".
pub fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Per-field messages, in form order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(pub Vec<(String, String)>);

impl FieldErrors {
    pub fn add(&mut self, field: &str, msg: impl Into<String>) {
        self.0.push((field.to_owned(), msg.into()));
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The message for `field`, or "".
    pub fn get(&self, field: &str) -> &str {
        self.0
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
            .unwrap_or_default()
    }
}
