//! The posted action form parsed into typed requests: the selection ([`Target`]) and the change ([`Change`]).
//!
//! A malformed selection (a bad MDN) is a 400 naming the value; a bad field is a per-field
//! message shown next to the field when the form is rendered again.

pub use super::catalog::Change;
use super::catalog::Selection;
pub use super::catalog::field::REDACTED;
use super::catalog::field::{ParseCtx, secrets};
use super::error::ChangeError;
pub use super::input::{FieldErrors, RawForm, Target, plural};
use super::{ActionKind, MAX_IMEIS, MAX_LIST};
use crate::domain::{CorpId, Imei, LabelIds, Mdn, SearchValue};
use crate::upstream::wire::BulkSelection;

/// Fields that are never echoed back into a page: the confirmation itself and the reference to
/// a secret kept server-side (the catalogue's secret fields are never echoed either).
const NOT_ECHOED: &[&str] = &[
    "csrf_token",
    "confirmed",
    "acknowledged",
    "wifiPasswordRef",
    super::input::VALUE_CHECK,
];

/// Is `key` a secret field of any action?
fn is_secret(key: &str) -> bool {
    ActionKind::all().any(|a| secrets(a.fields()).any(|s| s == key))
}

impl RawForm {
    /// The pairs a preview posts again (selection and fields), without secrets or confirmation.
    pub fn echo_pairs(&self) -> Vec<(String, String)> {
        self.pairs
            .iter()
            .filter(|(k, _)| !NOT_ECHOED.contains(&k.as_str()) && !is_secret(k))
            .cloned()
            .collect()
    }
}

fn parse_mdns<'a>(values: impl Iterator<Item = &'a str>) -> Result<Vec<Mdn>, ChangeError> {
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
pub fn parse_target(kind: ActionKind, form: &RawForm) -> Result<Target, ChangeError> {
    if kind.selection() == Selection::Imeis {
        // De-duplicated with a set, and refused at the first IMEI over the cap: a huge form
        // costs no more than the cap's worth of work.
        let mut imeis: Vec<Imei> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for v in form.all("imeis").filter(|v| !v.trim().is_empty()) {
            let i = Imei::parse(v)?;
            if seen.insert(i.clone()) {
                if imeis.len() == MAX_IMEIS {
                    return Err(ChangeError::Invalid(format!(
                        "At most {MAX_IMEIS} SmartSpot devices can be changed at once."
                    )));
                }
                imeis.push(i);
            }
        }
        if imeis.is_empty() {
            return Err(ChangeError::Invalid(
                "Choose at least one SmartSpot device (by IMEI).".into(),
            ));
        }
        return Ok(Target::Imeis(imeis));
    }
    if form.flag("select_all") {
        if !kind.accepts_bulk() {
            return Err(ChangeError::Invalid(format!(
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
        return Err(ChangeError::Invalid(
            "No lines were selected. Select lines in the list first.".into(),
        ));
    }
    if mdns.len() > MAX_LIST {
        return Err(ChangeError::Invalid(format!(
            "At most {MAX_LIST} lines can be listed in one change; use “select all matching” instead."
        )));
    }
    Ok(Target::Lines(mdns))
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
