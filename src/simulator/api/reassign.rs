//! The writes that move a line: to another device group, or to another device (the IMEI of an ARCNT line).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;

use super::body::{check_imei_value, check_mdns, decode, json_body, require_str};
use super::select::{apply, resolve, selection_write};
use super::{ApiErr, ApiResult, begin, caller};
use crate::simulator::data::{self, Line};
use crate::simulator::rules::{self, Op};
use crate::simulator::wire::{DeviceGroupChange, DeviceSelection, ImeiChange, WriteResult};
use crate::simulator::{Simulator, lock};

/// `PUT /v1.0/devices/{corpId}/deviceGroup`
pub async fn update_device_group(
    State(sim): State<Simulator>,
    Path(corp): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let (user, corp, v, req): (_, _, _, DeviceGroupChange) = selection_write(
        &sim,
        &headers,
        &corp,
        Op::UpdateDeviceGroup,
        &body,
        &["deviceGroup"],
    )?;
    require_str(&v, "deviceGroup")?;
    let target = req.device_group.trim();
    let Some(target_kind) = data::kind_of(target) else {
        return Err(ApiErr::unprocessable(format!(
            "Device group {target} does not exist."
        )));
    };
    rules::check_move_target(&caller(user), target).map_err(ApiErr::forbidden)?;
    if target == corp {
        return Err(ApiErr::unprocessable(format!(
            "The lines are already in device group {target}."
        )));
    }
    let (ids, failed) = resolve(&sim, corp, &req.selection);
    let mut world = lock(&sim.inner.world);
    let moved: Vec<Line> = match world.group_mut(corp) {
        Some(g) => ids.iter().filter_map(|id| g.remove(*id)).collect(),
        None => Vec::new(),
    };
    let updated = moved.len() as u64;
    if let Some(t) = world.group_mut(target_kind.corp_id()) {
        for l in moved {
            t.add(l);
        }
    }
    Ok(Json(WriteResult { updated, failed }).into_response())
}

/// `PUT /v1.0/devices/{corpId}/imei`
pub async fn update_imei(
    State(sim): State<Simulator>,
    Path(corp): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let (_, corp) = begin(&sim, &headers, &corp, Op::UpdateImei)?;
    let v = json_body(&body)?;
    check_mdns(v.get("mdns"), "mdns", 1, Some(1))?;
    check_imei_value(v.get("imei"), "imei")?;
    let req: ImeiChange = decode(v)?;
    let imei = req.imei.as_str().to_owned();
    let (ids, failed) = resolve(&sim, corp, &DeviceSelection::Mdns { mdns: req.mdns });
    Ok(apply(&sim, corp, &ids, failed, |l| {
        if l.network != "ARCNT" {
            return Err(format!("Device network is {}, not ARCNT", l.network));
        }
        l.imei = imei.clone();
        Ok(())
    }))
}
