//! SmartSpot settings: the read by IMEI and the single and multi-device writes (the Wi-Fi passphrase is write-only).

use std::collections::HashSet;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;

use super::body::{check_imei_path, check_imei_value, decode, json_body, require_field};
use super::{ApiErr, ApiResult, begin, group_not_found};
use crate::simulator::data::Line;
use crate::simulator::rules::Op;
use crate::simulator::wire::{
    SMARTSPOT_BANDS, SmartSpotSettings, SmartSpotSettingsMultiRequest, SmartSpotValues,
    WriteFailure, WriteResult,
};
use crate::simulator::{Simulator, lock};

/// `GET /v1.0/devices/{corpId}/smartspot-settings/{imei}`
pub async fn get_smartspot(
    State(sim): State<Simulator>,
    Path((corp, imei)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult {
    let (_, corp) = begin(&sim, &headers, &corp, Op::GetSmartspotSettings)?;
    check_imei_path(&imei)?;
    let world = lock(&sim.inner.world);
    let g = world.group(corp).ok_or_else(|| group_not_found(corp))?;
    let lines: Vec<Line> = g
        .find_imei(&imei)
        .into_iter()
        .filter_map(|id| g.line(id))
        .collect();
    if lines.is_empty() {
        return Err(ApiErr::not_found(format!(
            "No device with IMEI {imei} in device group {corp}."
        )));
    }
    let settings = lines
        .iter()
        .find_map(Line::smartspot_settings)
        .ok_or_else(|| {
            ApiErr::not_found(format!("The device with IMEI {imei} is not a SmartSpot."))
        })?;
    Ok(Json(settings).into_response())
}

pub(super) fn check_smartspot_values(v: &SmartSpotValues) -> Result<(), ApiErr> {
    if let Some(s) = &v.ssid {
        let n = s.chars().count();
        if !(1..=32).contains(&n) {
            return Err(ApiErr::bad_request("ssid must have 1 to 32 characters."));
        }
    }
    if let Some(p) = &v.wifi_password {
        let n = p.chars().count();
        if !(8..=63).contains(&n) {
            return Err(ApiErr::bad_request(
                "wifiPassword must have 8 to 63 characters.",
            ));
        }
    }
    if let Some(m) = v.max_clients {
        if !(1..=15).contains(&m) {
            return Err(ApiErr::bad_request("maxClients must be between 1 and 15."));
        }
    }
    if let Some(b) = &v.band {
        if !SMARTSPOT_BANDS.contains(&b.as_str()) {
            return Err(ApiErr::bad_request(format!(
                "band “{b}” must be one of {}.",
                SMARTSPOT_BANDS.join(", ")
            )));
        }
    }
    Ok(())
}

pub(super) fn set_smartspot(l: &mut Line, v: &SmartSpotValues) -> Result<(), String> {
    let Some(s) = l.smartspot.as_mut() else {
        return Err("Device is not a SmartSpot".into());
    };
    if let Some(x) = &v.ssid {
        s.ssid = x.clone();
    }
    if let Some(x) = &v.wifi_password {
        s.wifi_password = x.clone();
    }
    if let Some(x) = v.max_clients {
        s.max_clients = x;
    }
    if let Some(x) = &v.band {
        s.band = x.clone();
    }
    if let Some(x) = v.content_filter_enabled {
        s.content_filter_enabled = x;
    }
    if let Some(x) = v.hotspot_enabled {
        s.hotspot_enabled = x;
    }
    Ok(())
}

/// `PUT /v1.0/devices/{corpId}/smartspot-settings`
pub async fn update_smartspot(
    State(sim): State<Simulator>,
    Path(corp): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let (_, corp) = begin(&sim, &headers, &corp, Op::UpdateSmartspotSettings)?;
    let v = json_body(&body)?;
    check_imei_value(v.get("imei"), "imei")?;
    let req: SmartSpotSettings = decode(v)?;
    check_smartspot_values(&req.values)?;
    let imei = req.imei.clone().unwrap_or_default();
    let mut world = lock(&sim.inner.world);
    let g = world.group_mut(corp).ok_or_else(|| group_not_found(corp))?;
    let target = g.find_imei(&imei).into_iter().find_map(|id| {
        g.line(id)
            .filter(|l| l.smartspot.is_some())
            .map(|l| (id, l))
    });
    let Some((id, mut line)) = target else {
        return Err(ApiErr::not_found(format!(
            "No SmartSpot device with IMEI {imei} in device group {corp}."
        )));
    };
    set_smartspot(&mut line, &req.values).map_err(ApiErr::not_found)?;
    g.set(id, line);
    Ok(Json(WriteResult {
        updated: 1,
        failed: Vec::new(),
    })
    .into_response())
}

/// `PUT /v1.0/devices/{corpId}/smartspot-settings-multi`
pub async fn update_smartspot_multi(
    State(sim): State<Simulator>,
    Path(corp): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let (_, corp) = begin(&sim, &headers, &corp, Op::UpdateSmartspotSettingsMulti)?;
    let v = json_body(&body)?;
    let imeis = require_field(&v, "imeis")?
        .as_array()
        .ok_or_else(|| ApiErr::bad_request("imeis must be an array of IMEIs."))?;
    if imeis.is_empty() {
        return Err(ApiErr::bad_request("imeis must list at least one IMEI."));
    }
    for i in imeis {
        check_imei_value(Some(i), "imeis")?;
    }
    if !require_field(&v, "settings")?.is_object() {
        return Err(ApiErr::bad_request("settings must be an object."));
    }
    let req: SmartSpotSettingsMultiRequest = decode(v.clone())?;
    check_smartspot_values(&req.settings)?;
    let mut world = lock(&sim.inner.world);
    let g = world.group_mut(corp).ok_or_else(|| group_not_found(corp))?;
    let mut updated = 0;
    let mut failed = Vec::new();
    let mut seen = HashSet::new();
    for imei in &req.imeis {
        if !seen.insert(imei.as_str().to_owned()) {
            continue;
        }
        let lines: Vec<(u32, Line)> = g
            .find_imei(imei.as_str())
            .into_iter()
            .filter_map(|id| g.line(id).map(|l| (id, l)))
            .collect();
        let Some((id, mut line)) = lines
            .iter()
            .find(|(_, l)| l.smartspot.is_some())
            .or(lines.first())
            .cloned()
        else {
            failed.push(WriteFailure {
                mdn: imei.as_str().to_owned(),
                reason: "Device not found".into(),
            });
            continue;
        };
        match set_smartspot(&mut line, &req.settings) {
            Ok(()) => {
                g.set(id, line);
                updated += 1;
            }
            Err(reason) => failed.push(WriteFailure {
                mdn: line.mdn.clone(),
                reason,
            }),
        }
    }
    Ok(Json(WriteResult { updated, failed }).into_response())
}
