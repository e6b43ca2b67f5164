//! The posted action form parsed into typed requests: the selection ([`Target`]) and the change ([`Change`]).
//!
//! A malformed selection (a bad MDN) is a 400 naming the value; a bad field is a per-field
//! message shown next to the field when the form is rendered again.

use serde::{Deserialize, Serialize};

use super::{ActionKind, MAX_IMEIS, MAX_LIST};
use crate::domain::{CorpId, Imei, LabelIds, Mdn, SearchValue};
use crate::error::AppError;
use crate::upstream::wire::{
    BulkSelection, Device, DeviceSelection, SMARTSPOT_BANDS, SmartSpotSettingsValues,
};

/// What the audit log and logs show instead of a secret.
pub const REDACTED: &str = "[redacted]";

/// The form body as ordered pairs (keys repeat: `mdns`, `excluded_mdns`, `imeis`).
#[derive(Debug, Clone, Default)]
pub struct RawForm {
    pairs: Vec<(String, String)>,
}

/// Fields that are never echoed back into a page: secrets and the confirmation itself.
const NOT_ECHOED: &[&str] = &[
    "csrf_token",
    "confirmed",
    "acknowledged",
    "wifiPassword",
    "wifiPasswordRef",
];

impl RawForm {
    /// Parses an `application/x-www-form-urlencoded` body (or query string).
    pub fn parse(body: &[u8]) -> Result<Self, AppError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|_| AppError::BadRequest("The form could not be read.".into()))?;
        Ok(Self { pairs })
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
            .filter(|(k, _)| !NOT_ECHOED.contains(&k.as_str()))
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
    if kind == ActionKind::SmartspotSettings {
        let mut imeis: Vec<Imei> = Vec::new();
        for v in form.all("imeis").filter(|v| !v.trim().is_empty()) {
            let i = Imei::parse(v)?;
            if !imeis.contains(&i) {
                imeis.push(i);
            }
        }
        if imeis.is_empty() {
            return Err(AppError::BadRequest(
                "Choose at least one SmartSpot device (by IMEI).".into(),
            ));
        }
        if imeis.len() > MAX_IMEIS {
            return Err(AppError::BadRequest(format!(
                "At most {MAX_IMEIS} SmartSpot devices can be changed at once."
            )));
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

/// Summer usage values.
pub const SUMMER_STATUSES: [&str; 2] = ["ENABLED", "DISABLED"];

/// The change itself, typed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    Status {
        status: String,
        reason: Option<String>,
    },
    Nickname {
        nickname: String,
    },
    Note {
        note: String,
    },
    FilterGroup {
        filter_group: String,
    },
    DeviceGroup {
        device_group: CorpId,
    },
    DataLimits {
        monthly_limit: Option<f64>,
        daily_limit: Option<f64>,
    },
    SummerUsage {
        summer_status: String,
    },
    MdnCustomField {
        value: String,
    },
    Imei {
        imei: Imei,
    },
    DeleteLabels,
    /// Never stored in a job (one call at most), so the write-only password never reaches the database.
    Smartspot {
        values: SmartSpotSettingsValues,
    },
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

fn text_field(
    form: &RawForm,
    errors: &mut FieldErrors,
    name: &str,
    label: &str,
    min: usize,
    max: usize,
    allow_newlines: bool,
) -> String {
    let v = form.value(name).trim().to_owned();
    let n = v.chars().count();
    if n < min {
        errors.add(name, format!("Enter a {label}."));
    } else if n > max {
        errors.add(
            name,
            format!("The {label} may have at most {max} characters (this one has {n})."),
        );
    } else if v
        .chars()
        .any(|c| c.is_control() && !(allow_newlines && matches!(c, '\n' | '\r' | '\t')))
    {
        errors.add(
            name,
            format!("The {label} may not contain control characters."),
        );
    }
    v
}

fn limit_field(form: &RawForm, errors: &mut FieldErrors, name: &str, label: &str) -> Option<f64> {
    if form.flag(&format!("{name}None")) {
        return None;
    }
    let raw = form.value(name).trim();
    if raw.is_empty() {
        errors.add(name, format!("Enter a {label} in MB, or tick “No limit”."));
        return None;
    }
    match raw.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=100_000_000.0).contains(&v) => Some(v),
        Ok(v) if v < 0.0 => {
            errors.add(name, format!("The {label} cannot be negative."));
            None
        }
        _ => {
            errors.add(
                name,
                format!("“{raw}” is not a number of MB (for example 10240)."),
            );
            None
        }
    }
}

/// Parses the action's own fields. `password` is the Wi-Fi password typed now or kept from the preview.
pub fn parse_change(
    kind: ActionKind,
    corp: &CorpId,
    form: &RawForm,
    password: Option<&str>,
) -> Result<Change, FieldErrors> {
    let mut e = FieldErrors::default();
    let change = match kind {
        ActionKind::Status => {
            let status = form.value("status").trim().to_owned();
            if status.is_empty() {
                e.add("status", "Choose the new status.");
            } else if status.len() > 32
                || !status
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                e.add("status", format!("“{status}” is not a status."));
            }
            let reason = text_field(form, &mut e, "reason", "reason", 0, 500, true);
            Change::Status {
                status,
                reason: (!reason.is_empty()).then_some(reason),
            }
        }
        ActionKind::Nickname => Change::Nickname {
            nickname: text_field(form, &mut e, "nickname", "nickname", 1, 100, false),
        },
        ActionKind::Note => Change::Note {
            note: text_field(form, &mut e, "note", "note", 0, 1000, true),
        },
        ActionKind::FilterGroup => Change::FilterGroup {
            filter_group: text_field(form, &mut e, "filterGroup", "filter group", 1, 64, false),
        },
        ActionKind::DeviceGroup => {
            let raw = form.value("deviceGroup").trim();
            let device_group = match CorpId::parse(raw) {
                Ok(c) if c == *corp => {
                    e.add(
                        "deviceGroup",
                        "The lines are already in this device group; choose another.",
                    );
                    c
                }
                Ok(c) => c,
                Err(err) => {
                    e.add(
                        "deviceGroup",
                        if raw.is_empty() {
                            "Choose the device group to move the lines to.".to_owned()
                        } else {
                            err.0
                        },
                    );
                    corp.clone()
                }
            };
            Change::DeviceGroup { device_group }
        }
        ActionKind::DataLimits => Change::DataLimits {
            monthly_limit: limit_field(form, &mut e, "monthlyLimit", "monthly limit"),
            daily_limit: limit_field(form, &mut e, "dailyLimit", "daily limit"),
        },
        ActionKind::SummerUsage => {
            let s = form.value("summerStatus").trim().to_owned();
            if !SUMMER_STATUSES.contains(&s.as_str()) {
                e.add("summerStatus", "Choose Enabled or Disabled.");
            }
            Change::SummerUsage { summer_status: s }
        }
        ActionKind::MdnCustomField => Change::MdnCustomField {
            value: text_field(
                form,
                &mut e,
                "mdnCustomField",
                "custom field value",
                0,
                64,
                false,
            ),
        },
        ActionKind::Imei => {
            let raw = form.value("imei").trim();
            match Imei::parse(raw) {
                Ok(imei) => Change::Imei { imei },
                Err(err) => {
                    e.add(
                        "imei",
                        if raw.is_empty() {
                            "Enter the new IMEI (15 digits).".to_owned()
                        } else {
                            err.0
                        },
                    );
                    return Err(e);
                }
            }
        }
        ActionKind::DeleteLabels => Change::DeleteLabels,
        ActionKind::SmartspotSettings => {
            let ssid = text_field(form, &mut e, "ssid", "network name (SSID)", 1, 32, false);
            let wifi_password = match password.filter(|p| !p.is_empty()) {
                None => None,
                Some(p) => {
                    let n = p.chars().count();
                    if !(8..=63).contains(&n) {
                        e.add(
                            "wifiPassword",
                            "The Wi-Fi password must have 8 to 63 characters. Type it again.",
                        );
                    }
                    Some(p.to_owned())
                }
            };
            let max_clients = match form.value("maxClients").trim().parse::<u32>() {
                Ok(n) if (1..=15).contains(&n) => Some(n),
                _ => {
                    e.add("maxClients", "Enter a number of clients from 1 to 15.");
                    None
                }
            };
            let band = form.value("band").trim().to_owned();
            if !SMARTSPOT_BANDS.contains(&band.as_str()) {
                e.add("band", "Choose a band: 2.4GHz, 5GHz or dual.");
            }
            Change::Smartspot {
                values: SmartSpotSettingsValues {
                    ssid: Some(ssid),
                    wifi_password,
                    max_clients,
                    band: Some(band),
                    content_filter_enabled: Some(form.flag("contentFilterEnabled")),
                    hotspot_enabled: Some(form.flag("hotspotEnabled")),
                },
            }
        }
    };
    if e.is_empty() { Ok(change) } else { Err(e) }
}

/// A limit for people: "No limit", "10240 MB".
fn limit_text(v: Option<f64>) -> String {
    match v {
        None => "No limit".into(),
        Some(v) => format!("{v} MB"),
    }
}

impl Change {
    /// The fields as the audit log records them, secrets redacted.
    pub fn audit_fields(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Change::Status { status, reason } => json!({ "status": status, "reason": reason }),
            Change::Nickname { nickname } => json!({ "nickname": nickname }),
            Change::Note { note } => json!({ "note": note }),
            Change::FilterGroup { filter_group } => json!({ "filterGroup": filter_group }),
            Change::DeviceGroup { device_group } => json!({ "deviceGroup": device_group }),
            Change::DataLimits {
                monthly_limit,
                daily_limit,
            } => json!({ "monthlyLimit": monthly_limit, "dailyLimit": daily_limit }),
            Change::SummerUsage { summer_status } => json!({ "summerStatus": summer_status }),
            Change::MdnCustomField { value } => json!({ "mdnCustomField": value }),
            Change::Imei { imei } => json!({ "imei": imei }),
            Change::DeleteLabels => json!({}),
            Change::Smartspot { values } => json!({
                "ssid": values.ssid,
                "wifiPassword": values.wifi_password.as_ref().map(|_| REDACTED),
                "maxClients": values.max_clients,
                "band": values.band,
                "contentFilterEnabled": values.content_filter_enabled,
                "hotspotEnabled": values.hotspot_enabled,
            }),
        }
    }

    /// What the change sets, in words (secrets never shown).
    pub fn summary(&self) -> String {
        match self {
            Change::Status { status, reason } => match reason {
                Some(r) => format!("Status → {status} (reason: {r})"),
                None => format!("Status → {status}"),
            },
            Change::Nickname { nickname } => format!("Nickname → “{nickname}”"),
            Change::Note { note } if note.is_empty() => "Note → (empty)".into(),
            Change::Note { note } => format!("Note → “{note}”"),
            Change::FilterGroup { filter_group } => format!("Filter group → {filter_group}"),
            Change::DeviceGroup { device_group } => format!("Device group → {device_group}"),
            Change::DataLimits {
                monthly_limit,
                daily_limit,
            } => format!(
                "Monthly limit → {}, daily limit → {}",
                limit_text(*monthly_limit),
                limit_text(*daily_limit)
            ),
            Change::SummerUsage { summer_status } => format!("Summer usage → {summer_status}"),
            Change::MdnCustomField { value } => format!("MDN custom field → “{value}”"),
            Change::Imei { imei } => format!("IMEI → {imei}"),
            Change::DeleteLabels => "Remove every label".into(),
            Change::Smartspot { values } => format!(
                "SSID → {}, max clients → {}, band → {}, content filter {}, hotspot {}{}",
                values.ssid.as_deref().unwrap_or("(unchanged)"),
                values
                    .max_clients
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "(unchanged)".into()),
                values.band.as_deref().unwrap_or("(unchanged)"),
                on_off(values.content_filter_enabled),
                on_off(values.hotspot_enabled),
                if values.wifi_password.is_some() {
                    ", new Wi-Fi password"
                } else {
                    ""
                }
            ),
        }
    }

    /// (current, new) for one line in the preview; `None` when the line was not loaded.
    pub fn before_after(&self, d: Option<&Device>) -> (String, String) {
        let cur = |f: &dyn Fn(&Device) -> String| d.map(f).unwrap_or_else(|| "—".to_owned());
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        match self {
            Change::Status { status, .. } => (cur(&|d| opt(&d.status)), status.clone()),
            Change::Nickname { nickname } => (cur(&|d| opt(&d.nickname)), nickname.clone()),
            Change::Note { note } => (cur(&|d| opt(&d.note)), note.clone()),
            Change::FilterGroup { filter_group } => {
                (cur(&|d| opt(&d.filter_group)), filter_group.clone())
            }
            Change::DeviceGroup { device_group } => {
                (cur(&|d| opt(&d.corp_id)), device_group.to_string())
            }
            Change::DataLimits {
                monthly_limit,
                daily_limit,
            } => (
                cur(&|d| {
                    format!(
                        "{} / {}",
                        limit_text(d.monthly_limit),
                        limit_text(d.daily_limit)
                    )
                }),
                format!(
                    "{} / {}",
                    limit_text(*monthly_limit),
                    limit_text(*daily_limit)
                ),
            ),
            Change::SummerUsage { summer_status } => {
                (cur(&|d| opt(&d.summer_status)), summer_status.clone())
            }
            Change::MdnCustomField { value } => (cur(&|d| opt(&d.mdn_custom_field)), value.clone()),
            Change::Imei { imei } => (cur(&|d| opt(&d.imei)), imei.to_string()),
            Change::DeleteLabels => (
                cur(&|d| {
                    d.labels
                        .as_deref()
                        .unwrap_or_default()
                        .iter()
                        .map(|l| l.name.clone())
                        .collect::<Vec<_>>()
                        .join(", ")
                }),
                "(no labels)".into(),
            ),
            Change::Smartspot { .. } => ("—".into(), self.summary()),
        }
    }
}

fn on_off(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "on",
        Some(false) => "off",
        None => "unchanged",
    }
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
        let t = parse_target(ActionKind::Nickname, &f).unwrap();
        assert_eq!(t.known_count(), Some(2));
        let f = form(&[("mdns", "521-267-150x")]);
        let err = parse_target(ActionKind::Nickname, &f).unwrap_err();
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
        let t = parse_target(ActionKind::Status, &f).unwrap();
        let v = serde_json::to_value(t.selection().unwrap()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"bulkSelection": {"selectAll": true, "searchValue": "Bus", "labelIds": [12], "excludedMdns": ["304-228-6302"]}})
        );
        assert!(parse_target(ActionKind::Imei, &f).is_err());
    }

    #[test]
    fn fields_are_validated_per_field() {
        let f = form(&[("monthlyLimit", "-1"), ("dailyLimitNone", "true")]);
        let e = parse_change(ActionKind::DataLimits, &corp(), &f, None).unwrap_err();
        assert!(!e.get("monthlyLimit").is_empty());
        assert!(e.get("dailyLimit").is_empty());
        let f = form(&[("monthlyLimit", "10240"), ("dailyLimitNone", "on")]);
        assert_eq!(
            parse_change(ActionKind::DataLimits, &corp(), &f, None).unwrap(),
            Change::DataLimits {
                monthly_limit: Some(10240.0),
                daily_limit: None
            }
        );
        let f = form(&[("imei", "355737360073463")]);
        let e = parse_change(ActionKind::Imei, &corp(), &f, None).unwrap_err();
        assert!(e.get("imei").contains("check digit"));
        let f = form(&[("mdnCustomField", &"x".repeat(65))]);
        assert!(parse_change(ActionKind::MdnCustomField, &corp(), &f, None).is_err());
        let f = form(&[("deviceGroup", "NORTHSTAR-ISD")]);
        assert!(parse_change(ActionKind::DeviceGroup, &corp(), &f, None).is_err());
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
        let c = parse_change(
            ActionKind::SmartspotSettings,
            &corp(),
            &f,
            Some("s3cret-pass"),
        )
        .unwrap();
        let audit = c.audit_fields().to_string();
        assert!(!audit.contains("s3cret"));
        assert!(audit.contains(REDACTED));
        assert!(!c.summary().contains("s3cret"));
        assert!(f.echo_pairs().iter().all(|(k, _)| k != "wifiPassword"));
        let short = parse_change(ActionKind::SmartspotSettings, &corp(), &f, Some("short"));
        assert!(!short.unwrap_err().get("wifiPassword").is_empty());
    }
}
