//! The posted action form parsed into typed requests: the selection ([`Target`]) and the change ([`Change`]).
//!
//! A malformed selection (a bad MDN) is a 400 naming the value; a bad field is a per-field
//! message shown next to the field when the form is rendered again.

use serde::{Deserialize, Serialize};

pub use super::catalog::Change;
use super::catalog::Selection;
pub use super::catalog::field::REDACTED;
use super::catalog::field::{ParseCtx, secrets};
use super::{ActionKind, MAX_IMEIS, MAX_LIST};
use crate::domain::{CorpId, Imei, LabelIds, Mdn, SearchValue, form_pairs};
use crate::error::AppError;
use crate::upstream::wire::{BulkSelection, DeviceSelection};

/// The form body as ordered pairs (keys repeat: `mdns`, `excluded_mdns`, `imeis`).
#[derive(Debug, Clone, Default)]
pub struct RawForm {
    pairs: Vec<(String, String)>,
}

/// Fields that are never echoed back into a page: the confirmation itself and the reference to
/// a secret kept server-side (the catalogue's secret fields are never echoed either).
const NOT_ECHOED: &[&str] = &[
    "csrf_token",
    "confirmed",
    "acknowledged",
    "wifiPasswordRef",
    super::preview::VALUE_CHECK,
];

/// Is `key` a secret field of any action?
fn is_secret(key: &str) -> bool {
    ActionKind::all().any(|a| secrets(a.fields()).any(|s| s == key))
}

impl RawForm {
    /// Parses an `application/x-www-form-urlencoded` body (or query string); a control
    /// character in it is a 400 naming the field.
    pub fn parse(body: &[u8]) -> Result<Self, AppError> {
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

    /// The pairs a preview posts again (selection and fields), without secrets or confirmation.
    pub fn echo_pairs(&self) -> Vec<(String, String)> {
        self.pairs
            .iter()
            .filter(|(k, _)| !NOT_ECHOED.contains(&k.as_str()) && !is_secret(k))
            .cloned()
            .collect()
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
        self.known_count().is_none_or(|n| n > super::ACK_ABOVE)
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

fn parse_mdns<'a>(values: impl Iterator<Item = &'a str>) -> Result<Vec<Mdn>, AppError> {
    let mut out: Vec<Mdn> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for v in values.filter(|v| !v.trim().is_empty()) {
        let m = Mdn::parse(v)?;
        if seen.insert(m.clone()) {
            out.push(m);
        }
    }
    Ok(out)
}

/// Parses the selection. A malformed MDN or IMEI is a 400 naming it; an empty selection too.
pub fn parse_target(kind: ActionKind, form: &RawForm) -> Result<Target, AppError> {
    if kind.selection() == Selection::Imeis {
        // De-duplicated with a set, and refused at the first IMEI over the cap: a huge form
        // costs no more than the cap's worth of work.
        let mut imeis: Vec<Imei> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for v in form.all("imeis").filter(|v| !v.trim().is_empty()) {
            let i = Imei::parse(v)?;
            if seen.insert(i.clone()) {
                if imeis.len() == MAX_IMEIS {
                    return Err(AppError::BadRequest(format!(
                        "At most {MAX_IMEIS} SmartSpot devices can be changed at once."
                    )));
                }
                imeis.push(i);
            }
        }
        if imeis.is_empty() {
            return Err(AppError::BadRequest(
                "Choose at least one SmartSpot device (by IMEI).".into(),
            ));
        }
        return Ok(Target::Imeis(imeis));
    }
    if form.flag("select_all") {
        if !kind.accepts_bulk() {
            return Err(AppError::BadRequest(format!(
                "“{}” needs lines chosen one by one, not “all matching”. Select the lines individually.",
                kind.label()
            )));
        }
        let search = SearchValue::parse(form.value("searchValue"))?;
        let labels = LabelIds::parse(form.value("labelIds"))?;
        let excluded = parse_mdns(form.all("excluded_mdns"))?;
        return Ok(Target::Bulk(BulkSelection {
            select_all: true,
            search_value: (!search.is_empty()).then(|| search.as_str().to_owned()),
            label_ids: (!labels.is_empty()).then(|| labels.ids().to_vec()),
            excluded_mdns: (!excluded.is_empty()).then_some(excluded),
            ..Default::default()
        }));
    }
    let mdns = parse_mdns(form.all("mdns"))?;
    if mdns.is_empty() {
        return Err(AppError::BadRequest(
            "No lines were selected. Select lines in the list first.".into(),
        ));
    }
    if mdns.len() > MAX_LIST {
        return Err(AppError::BadRequest(format!(
            "At most {MAX_LIST} lines can be listed in one change; use “select all matching” instead."
        )));
    }
    Ok(Target::Lines(mdns))
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

/// Parses the action's own fields. `password` is the Wi-Fi password typed now or kept from the preview.
pub fn parse_change(
    kind: ActionKind,
    corp: &CorpId,
    form: &RawForm,
    password: Option<&str>,
) -> Result<Change, FieldErrors> {
    Change::parse(
        kind,
        form,
        &ParseCtx {
            corp,
            secret: password,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> RawForm {
        RawForm::from_pairs(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    fn kind(slug: &str) -> ActionKind {
        ActionKind::from_slug(slug).unwrap()
    }

    fn corp() -> CorpId {
        CorpId::parse("NORTHSTAR-ISD").unwrap()
    }

    #[test]
    fn repeated_mdns_become_a_list_and_bad_ones_are_named() {
        let f = form(&[
            ("mdns", "5212671508"),
            ("mdns", "521-267-1508"),
            ("mdns", "304-228-6302"),
        ]);
        let t = parse_target(kind("nickname"), &f).unwrap();
        assert_eq!(t.known_count(), Some(2));
        let f = form(&[("mdns", "521-267-150x")]);
        let err = parse_target(kind("nickname"), &f).unwrap_err();
        assert!(err.to_string().contains("521-267-150x"), "{err}");
    }

    #[test]
    fn select_all_becomes_bulk_selection() {
        let f = form(&[
            ("select_all", "true"),
            ("searchValue", "Bus"),
            ("labelIds", "12"),
            ("excluded_mdns", "304-228-6302"),
        ]);
        let t = parse_target(kind("status"), &f).unwrap();
        let v = serde_json::to_value(t.selection().unwrap()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"bulkSelection": {"selectAll": true, "searchValue": "Bus", "labelIds": [12], "excludedMdns": ["304-228-6302"]}})
        );
        assert!(parse_target(kind("imei"), &f).is_err());
    }

    #[test]
    fn fields_are_validated_per_field() {
        let f = form(&[("monthlyLimit", "-1"), ("dailyLimitNone", "true")]);
        let e = parse_change(kind("data-limits"), &corp(), &f, None).unwrap_err();
        assert!(!e.get("monthlyLimit").is_empty());
        assert!(e.get("dailyLimit").is_empty());
        let f = form(&[("monthlyLimit", "10240"), ("dailyLimitNone", "on")]);
        let c = parse_change(kind("data-limits"), &corp(), &f, None).unwrap();
        assert_eq!(c.values.limit("monthlyLimit"), Some(10240.0));
        assert_eq!(c.values.limit("dailyLimit"), None);
        let f = form(&[("imei", "355737360073463")]);
        let e = parse_change(kind("imei"), &corp(), &f, None).unwrap_err();
        assert!(e.get("imei").contains("check digit"));
        let f = form(&[("mdnCustomField", &"x".repeat(65))]);
        assert!(parse_change(kind("mdn-custom-field"), &corp(), &f, None).is_err());
        let f = form(&[("deviceGroup", "NORTHSTAR-ISD")]);
        assert!(parse_change(kind("device-group"), &corp(), &f, None).is_err());
    }

    #[test]
    fn wifi_password_is_redacted_and_never_echoed() {
        let f = form(&[
            ("imeis", "355737360073462"),
            ("ssid", "Bus-47"),
            ("wifiPassword", "s3cret-pass"),
            ("maxClients", "10"),
            ("band", "dual"),
        ]);
        let c = parse_change(kind("smartspot-settings"), &corp(), &f, Some("s3cret-pass")).unwrap();
        let audit = c.audit_fields().to_string();
        assert!(!audit.contains("s3cret"));
        assert!(audit.contains(REDACTED));
        assert!(!c.summary().contains("s3cret"));
        assert!(f.echo_pairs().iter().all(|(k, _)| k != "wifiPassword"));
        let short = parse_change(kind("smartspot-settings"), &corp(), &f, Some("short"));
        assert!(!short.unwrap_err().get("wifiPassword").is_empty());
    }
}
