//! The writes that set one field of the selected lines: status, nickname, note, filter group, limits, summer usage, custom field, labels.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde_json::Value;

use super::body::{check_mdns, check_selection, decode, json_body, require_field, require_str};
use super::detail::POSSIBLE_STATUSES;
use super::select::{apply, resolve, selection_write};
use super::{ApiErr, ApiResult, begin};
use crate::simulator::Simulator;
use crate::simulator::data::FILTER_GROUPS;
use crate::simulator::rules::Op;
use crate::simulator::wire::{
    BulkDeleteLabels, DataLimitsChange, DeviceSelection, FilterGroupChange, MdnCustomFieldChange,
    NicknameChange, NoteChange, StatusChange, SummerUsageChange,
};

/// `PUT /v1.0/devices/{corpId}/status`
pub async fn update_status(
    State(sim): State<Simulator>,
    Path(corp): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let (_, corp, v, req): (_, _, _, StatusChange) =
        selection_write(&sim, &headers, &corp, Op::UpdateStatus, &body, &["status"])?;
    require_str(&v, "status")?;
    if !POSSIBLE_STATUSES.contains(&req.status.as_str()) {
        return Err(ApiErr::unprocessable(format!(
            "Status {} is not one of the possible statuses ({}).",
            req.status,
            POSSIBLE_STATUSES.join(", ")
        )));
    }
    let status = req.status.to_lowercase();
    let (ids, failed) = resolve(&sim, corp, &req.selection);
    Ok(apply(&sim, corp, &ids, failed, |l| {
        l.status = status.clone();
        Ok(())
    }))
}

/// `PUT /v1.0/devices/{corpId}/nickname`
pub async fn update_nickname(
    State(sim): State<Simulator>,
    Path(corp): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let (_, corp, v, req): (_, _, _, NicknameChange) = selection_write(
        &sim,
        &headers,
        &corp,
        Op::UpdateNickname,
        &body,
        &["nickname"],
    )?;
    require_str(&v, "nickname")?;
    let nick = Some(req.nickname.trim().to_owned()).filter(|n| !n.is_empty());
    let (ids, failed) = resolve(&sim, corp, &req.selection);
    Ok(apply(&sim, corp, &ids, failed, |l| {
        l.nickname = nick.clone();
        Ok(())
    }))
}

/// `PUT /v1.0/devices/{corpId}/note`
pub async fn update_note(
    State(sim): State<Simulator>,
    Path(corp): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let (_, corp, v, req): (_, _, _, NoteChange) =
        selection_write(&sim, &headers, &corp, Op::UpdateNote, &body, &["note"])?;
    require_str(&v, "note")?;
    if req.note.chars().count() > 1000 {
        return Err(ApiErr::bad_request(
            "note may have at most 1000 characters.",
        ));
    }
    let note = Some(req.note.clone()).filter(|n| !n.is_empty());
    let (ids, failed) = resolve(&sim, corp, &req.selection);
    Ok(apply(&sim, corp, &ids, failed, |l| {
        l.note = note.clone();
        Ok(())
    }))
}

/// `PUT /v1.0/devices/{corpId}/filterGroup`
pub async fn update_filter_group(
    State(sim): State<Simulator>,
    Path(corp): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let (_, corp, v, req): (_, _, _, FilterGroupChange) = selection_write(
        &sim,
        &headers,
        &corp,
        Op::UpdateFilterGroup,
        &body,
        &["filterGroup"],
    )?;
    require_str(&v, "filterGroup")?;
    let Some(fg) = FILTER_GROUPS
        .iter()
        .find(|f| f.eq_ignore_ascii_case(req.filter_group.trim()))
    else {
        return Err(ApiErr::unprocessable(format!(
            "Filter group {} does not exist; choose one of {}.",
            req.filter_group,
            FILTER_GROUPS.join(", ")
        )));
    };
    let (ids, failed) = resolve(&sim, corp, &req.selection);
    Ok(apply(&sim, corp, &ids, failed, |l| {
        l.filter_group = (*fg).to_owned();
        Ok(())
    }))
}

pub(super) fn check_limit(v: &Value, name: &str) -> Result<(), ApiErr> {
    match require_field(v, name)? {
        Value::Null => Ok(()),
        Value::Number(n) if n.as_f64().is_some_and(|x| x >= 0.0) => Ok(()),
        _ => Err(ApiErr::bad_request(format!(
            "{name} must be a number ≥ 0 (MB), or null for no limit."
        ))),
    }
}

/// `PUT /v1.0/devices/{corpId}/dataLimits`
pub async fn update_data_limits(
    State(sim): State<Simulator>,
    Path(corp): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let (user, corp) = begin(&sim, &headers, &corp, Op::UpdateDataLimits)?;
    let _ = user;
    let v = json_body(&body)?;
    check_selection(&v)?;
    check_limit(&v, "monthlyLimit")?;
    check_limit(&v, "dailyLimit")?;
    let req: DataLimitsChange = decode(v)?;
    let (ids, failed) = resolve(&sim, corp, &req.selection);
    Ok(apply(&sim, corp, &ids, failed, |l| {
        l.monthly_limit = req.monthly_limit;
        l.daily_limit = req.daily_limit;
        Ok(())
    }))
}

/// `PUT /v1.0/devices/{corpId}/summerUsage`
pub async fn update_summer_usage(
    State(sim): State<Simulator>,
    Path(corp): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let (_, corp, v, req): (_, _, _, SummerUsageChange) = selection_write(
        &sim,
        &headers,
        &corp,
        Op::UpdateSummerUsage,
        &body,
        &["summerStatus"],
    )?;
    let s = require_str(&v, "summerStatus")?;
    if !matches!(s, "ENABLED" | "DISABLED") {
        return Err(ApiErr::bad_request(format!(
            "summerStatus “{s}” must be ENABLED or DISABLED."
        )));
    }
    let (ids, failed) = resolve(&sim, corp, &req.selection);
    Ok(apply(&sim, corp, &ids, failed, |l| {
        l.summer_status = Some(req.summer_status.clone());
        Ok(())
    }))
}

/// `PUT /v1.0/devices/{corpId}/mdnCustomField`
pub async fn update_mdn_custom_field(
    State(sim): State<Simulator>,
    Path(corp): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let (_, corp) = begin(&sim, &headers, &corp, Op::UpdateMdnCustomField)?;
    let v = json_body(&body)?;
    if v.get("bulkSelection").is_some() {
        return Err(ApiErr::bad_request(
            "mdnCustomField takes a list of mdns, not a bulk selection.",
        ));
    }
    check_mdns(v.get("mdns"), "mdns", 1, None)?;
    let value = require_str(&v, "mdnCustomField")?;
    if value.chars().count() > 64 {
        return Err(ApiErr::bad_request(
            "mdnCustomField may have at most 64 characters.",
        ));
    }
    let req: MdnCustomFieldChange = decode(v.clone())?;
    let field = Some(req.mdn_custom_field.clone()).filter(|f| !f.is_empty());
    let (ids, failed) = resolve(&sim, corp, &DeviceSelection::Mdns { mdns: req.mdns });
    Ok(apply(&sim, corp, &ids, failed, |l| {
        l.mdn_custom_field = field.clone();
        Ok(())
    }))
}

/// `DELETE /v1.0/devices/{corpId}/bulkDeleteLabels`
pub async fn bulk_delete_labels(
    State(sim): State<Simulator>,
    Path(corp): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let (_, corp, _, req): (_, _, _, BulkDeleteLabels) =
        selection_write(&sim, &headers, &corp, Op::BulkDeleteLabels, &body, &[])?;
    let (ids, failed) = resolve(&sim, corp, &req.selection);
    Ok(apply(&sim, corp, &ids, failed, |l| {
        l.labels.clear();
        Ok(())
    }))
}
