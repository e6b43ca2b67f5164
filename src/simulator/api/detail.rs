//! Reads of single lines: devices by IMEI, the possible statuses and a line's health.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;

use super::body::check_imei_path;
use super::{ApiErr, ApiResult, begin, group_not_found};
use crate::simulator::data::Line;
use crate::simulator::rng::Rng;
use crate::simulator::rules::Op;
use crate::simulator::validate::Mdn;
use crate::simulator::wire::{Health, HealthCheck};
use crate::simulator::{Simulator, lock};

/// `GET /v1.0/devices/{corpId}/imei/{imei}`
pub async fn devices_by_imei(
    State(sim): State<Simulator>,
    Path((corp, imei)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult {
    let (_, corp) = begin(&sim, &headers, &corp, Op::GetDevicesByImei)?;
    check_imei_path(&imei)?;
    let world = lock(&sim.inner.world);
    let g = world.group(corp).ok_or_else(|| group_not_found(corp))?;
    let devices: Vec<_> = g
        .find_imei(&imei)
        .into_iter()
        .filter_map(|id| g.line(id))
        .map(|l| l.to_device())
        .collect();
    if devices.is_empty() {
        return Err(ApiErr::no_devices());
    }
    Ok(Json(devices).into_response())
}

pub(super) const POSSIBLE_STATUSES: [&str; 2] = ["ACTIVE", "SUSPENDED"];

/// `GET /v1.0/devices/{corpId}/status`
pub async fn possible_statuses(
    State(sim): State<Simulator>,
    Path(corp): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    begin(&sim, &headers, &corp, Op::GetPossibleStatuses)?;
    Ok(Json(POSSIBLE_STATUSES).into_response())
}

/// `GET /v1.0/devices/{corpId}/{mdn}/health`
pub async fn health(
    State(sim): State<Simulator>,
    Path((corp, mdn)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult {
    let (_, corp) = begin(&sim, &headers, &corp, Op::DeviceHealth)?;
    let mdn = Mdn::parse_path(&mdn).map_err(ApiErr::bad_request)?;
    let world = lock(&sim.inner.world);
    let line = world
        .group(corp)
        .and_then(|g| g.find_mdn(mdn.as_str()).and_then(|id| g.line(id)))
        .ok_or_else(|| ApiErr::not_found(format!("Device {mdn} was not found.")))?;
    if !line.show_health {
        return Err(ApiErr::new(
            StatusCode::CONFLICT,
            "health_status_not_shown",
            format!("Health status is not shown for device {mdn}."),
        ));
    }
    Ok(Json(health_of(&line)).into_response())
}

pub(super) fn health_of(l: &Line) -> Health {
    let seed = l.mdn_digits().parse::<u64>().unwrap_or(0);
    let mut r = Rng::new(seed ^ 0x4845_414C_5448);
    let rsrp = -(70 + r.below(48) as i64);
    let battery = 5 + r.below(96);
    let checks = vec![
        HealthCheck {
            name: "signal".into(),
            ok: rsrp > -110,
            detail: Some(format!("RSRP {rsrp} dBm")),
        },
        HealthCheck {
            name: "battery".into(),
            ok: battery >= 15,
            detail: Some(format!("{battery}%")),
        },
        HealthCheck {
            name: "data session".into(),
            ok: l.online,
            detail: Some(
                if l.online {
                    "Connected"
                } else {
                    "No active session"
                }
                .into(),
            ),
        },
    ];
    Health {
        mdn: l.mdn.clone(),
        healthy: checks.iter().all(|c| c.ok),
        // An online line was seen minutes ago; an offline one some hours to weeks ago.
        last_seen: {
            let ago = if l.online {
                60 * (1 + r.below(10))
            } else {
                3_600 * (2 + r.below(24 * 20))
            };
            let t = time::OffsetDateTime::now_utc()
                - time::Duration::seconds(i64::try_from(ago).unwrap_or(0));
            t.replace_nanosecond(0).ok().and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
        },
        checks,
    }
}
