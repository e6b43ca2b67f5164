//! The list reads: `list_devices`, `customized_list` (both paged JSON or a CSV export) and `device_totals`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;

use super::body::{bulk_filter, check_bulk, decode, json_body};
use super::params::{ListParams, list_params, params};
use super::{ApiErr, ApiResult, begin, group_not_found};
use crate::simulator::csv::{self, Columns};
use crate::simulator::filter::{Filter, SearchScope};
use crate::simulator::rules::Op;
use crate::simulator::validate::{self, SortDir, SortField};
use crate::simulator::wire::{CustomizedListRequest, DeviceList};
use crate::simulator::{CsvCut, Simulator, lock};

pub(super) fn page(sim: &Simulator, corp: &'static str, ids: &[u32], lp: &ListParams) -> ApiResult {
    if ids.is_empty() {
        return Err(ApiErr::no_devices());
    }
    let start = usize::try_from(lp.offset)
        .unwrap_or(usize::MAX)
        .min(ids.len());
    let end = start
        .saturating_add(usize::try_from(lp.limit).unwrap_or(usize::MAX))
        .min(ids.len());
    let world = lock(&sim.inner.world);
    let g = world.group(corp).ok_or_else(|| group_not_found(corp))?;
    let devices = ids[start..end]
        .iter()
        .filter_map(|id| g.line(*id))
        .map(|l| l.to_device())
        .collect();
    Ok(Json(DeviceList {
        total_count: ids.len() as u64,
        devices,
    })
    .into_response())
}

/// `GET /v1.0/devices/{corpId}`
pub async fn list_devices(
    State(sim): State<Simulator>,
    Path(corp): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    cut: Option<Extension<CsvCut>>,
) -> ApiResult {
    let (_, corp) = begin(&sim, &headers, &corp, Op::ListDevices)?;
    let p = params(q.as_deref())?;
    let lp = list_params(&p)?;
    let labels = validate::label_ids(p.get("labelIds").map_or("", String::as_str))
        .map_err(|e| ApiErr::bad_request(format!("labelIds: {e}")))?;
    let columns = if lp.csv {
        Some(
            csv::parse_columns(p.get("columns").map(String::as_str), Columns::List)
                .map_err(ApiErr::bad_request)?,
        )
    } else {
        None
    };
    let mut filter =
        Filter::default().search(p.get("searchValue").map(String::as_str), SearchScope::List);
    filter.labels = labels;
    let ids = query(&sim, corp, lp.sort, lp.dir, &filter);
    match columns {
        Some(cols) => Ok(csv::stream(
            sim.clone(),
            corp,
            ids,
            cols,
            cut.map(|c| c.0.0),
        )),
        None => page(&sim, corp, &ids, &lp),
    }
}

pub(super) fn query(
    sim: &Simulator,
    corp: &str,
    sort: SortField,
    dir: SortDir,
    f: &Filter,
) -> Arc<Vec<u32>> {
    let mut world = lock(&sim.inner.world);
    world
        .group_mut(corp)
        .map(|g| g.query(sort, dir, f))
        .unwrap_or_default()
}

/// `POST /v1.0/devices/{corpId}/customizedList`
pub async fn customized_list(
    State(sim): State<Simulator>,
    Path(corp): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    cut: Option<Extension<CsvCut>>,
    body: Bytes,
) -> ApiResult {
    let (_, corp) = begin(&sim, &headers, &corp, Op::CustomizedList)?;
    let p = params(q.as_deref())?;
    let lp = list_params(&p)?;
    let columns = if lp.csv {
        Some(
            csv::parse_columns(p.get("columns").map(String::as_str), Columns::Customized)
                .map_err(ApiErr::bad_request)?,
        )
    } else {
        None
    };
    let v = json_body(&body)?;
    let sel = v
        .get("bulkSelection")
        .ok_or_else(|| ApiErr::bad_request("The body must carry bulkSelection."))?;
    check_bulk(sel)?;
    let req: CustomizedListRequest = decode(v)?;
    let filter = bulk_filter(&req.bulk_selection);
    let ids = query(&sim, corp, lp.sort, lp.dir, &filter);
    match columns {
        Some(cols) => Ok(csv::stream(
            sim.clone(),
            corp,
            ids,
            cols,
            cut.map(|c| c.0.0),
        )),
        None => page(&sim, corp, &ids, &lp),
    }
}

/// `GET /v1.0/devices/{corpId}/totals`
pub async fn totals(
    State(sim): State<Simulator>,
    Path(corp): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> ApiResult {
    let (_, corp) = begin(&sim, &headers, &corp, Op::DeviceTotals)?;
    let p = params(q.as_deref())?;
    let filter = Filter::default().search(
        p.get("searchValue").map(String::as_str),
        SearchScope::Totals,
    );
    let mut world = lock(&sim.inner.world);
    let t = world
        .group_mut(corp)
        .map(|g| g.totals(&filter))
        .unwrap_or_default();
    Ok(Json(t).into_response())
}
