//! Request bodies: JSON decoding and the checks the vendor schemas ask for before a body is applied.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::ApiErr;
use crate::simulator::filter::{Filter, SearchScope};
use crate::simulator::validate::{is_dashed_mdn, is_imei_shape};
use crate::simulator::wire::BulkSelection;

pub(super) fn json_body(body: &[u8]) -> Result<Value, ApiErr> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ApiErr::bad_request(format!("The body is not valid JSON: {e}")))?;
    if !v.is_object() {
        return Err(ApiErr::bad_request("The body must be a JSON object."));
    }
    Ok(v)
}

pub(super) fn decode<T: DeserializeOwned>(v: Value) -> Result<T, ApiErr> {
    serde_json::from_value(v)
        .map_err(|e| ApiErr::bad_request(format!("The body is not valid: {e}")))
}

pub(super) fn check_mdns(
    v: Option<&Value>,
    field: &str,
    min: usize,
    max: Option<usize>,
) -> Result<(), ApiErr> {
    let Some(v) = v else {
        return Err(ApiErr::bad_request(format!("{field} is required.")));
    };
    let arr = v
        .as_array()
        .ok_or_else(|| ApiErr::bad_request(format!("{field} must be an array of MDNs.")))?;
    if arr.len() < min {
        return Err(ApiErr::bad_request(format!(
            "{field} must list at least {min} MDN(s)."
        )));
    }
    if let Some(max) = max.filter(|m| arr.len() > *m) {
        return Err(ApiErr::bad_request(format!(
            "{field} must list exactly {max} MDN."
        )));
    }
    for m in arr {
        match m.as_str() {
            Some(s) if is_dashed_mdn(s) => {}
            _ => {
                return Err(ApiErr::bad_request(format!(
                    "{field}: {m} is not an MDN of the form 521-267-1508."
                )));
            }
        }
    }
    Ok(())
}

pub(super) fn check_bulk(sel: &Value) -> Result<(), ApiErr> {
    let obj = sel
        .as_object()
        .ok_or_else(|| ApiErr::bad_request("bulkSelection must be an object."))?;
    match obj.get("selectAll").and_then(Value::as_bool) {
        Some(true) => {}
        Some(false) => {
            return Err(ApiErr::bad_request(
                "bulkSelection.selectAll must be true; to pick single lines send mdns instead.",
            ));
        }
        None => {
            return Err(ApiErr::bad_request(
                "bulkSelection.selectAll (a boolean) is required.",
            ));
        }
    }
    if obj.contains_key("excludedMdns") {
        check_mdns(
            obj.get("excludedMdns"),
            "bulkSelection.excludedMdns",
            0,
            None,
        )?;
    }
    if let Some(ids) = obj.get("labelIds") {
        let ok = ids
            .as_array()
            .is_some_and(|a| a.iter().all(|x| x.as_i64().is_some()));
        if !ok {
            return Err(ApiErr::bad_request(
                "bulkSelection.labelIds must be an array of integers.",
            ));
        }
    }
    Ok(())
}

/// "Either a list of devices or a bulk selection": exactly one.
pub(super) fn check_selection(v: &Value) -> Result<(), ApiErr> {
    match (v.get("mdns"), v.get("bulkSelection")) {
        (Some(_), Some(_)) => Err(ApiErr::bad_request(
            "Send either mdns or bulkSelection, not both.",
        )),
        (None, None) => Err(ApiErr::bad_request(
            "The body must carry either mdns (a list of MDNs) or bulkSelection.",
        )),
        (Some(m), None) => check_mdns(Some(m), "mdns", 1, None),
        (None, Some(b)) => check_bulk(b),
    }
}

pub(super) fn require_field<'a>(v: &'a Value, name: &str) -> Result<&'a Value, ApiErr> {
    v.get(name)
        .ok_or_else(|| ApiErr::bad_request(format!("{name} is required.")))
}

pub(super) fn require_str<'a>(v: &'a Value, name: &str) -> Result<&'a str, ApiErr> {
    require_field(v, name)?
        .as_str()
        .ok_or_else(|| ApiErr::bad_request(format!("{name} must be a string.")))
}

pub(super) fn bulk_filter(b: &BulkSelection) -> Filter {
    let mut f = Filter::default().search(b.search_value.as_deref(), SearchScope::List);
    f.labels = b.label_ids.clone().unwrap_or_default();
    f.filter_group = b.filter_group.clone().filter(|s| !s.trim().is_empty());
    f.status = b.status.clone().filter(|s| !s.trim().is_empty());
    f.excluded = b
        .excluded_mdns
        .iter()
        .flatten()
        .map(|m| m.digits())
        .collect();
    f
}

pub(super) fn check_imei_path(imei: &str) -> Result<(), ApiErr> {
    if is_imei_shape(imei) {
        Ok(())
    } else {
        Err(ApiErr::bad_request(format!(
            "“{imei}” is not an IMEI: expected exactly 15 digits."
        )))
    }
}

pub(super) fn check_imei_value(v: Option<&Value>, field: &str) -> Result<(), ApiErr> {
    match v.and_then(Value::as_str) {
        Some(s) if is_imei_shape(s) => Ok(()),
        Some(s) => Err(ApiErr::bad_request(format!(
            "{field}: “{s}” is not an IMEI (15 digits)."
        ))),
        None => Err(ApiErr::bad_request(format!(
            "{field} (a 15-digit IMEI) is required."
        ))),
    }
}
