//! The 19 operations of the Sentinel devices API over the in-memory device groups.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::csv::{self, Columns};
use super::data::{self, FILTER_GROUPS, Line, Rng};
use super::idp::DemoUser;
use super::rules::{self, Caller, Op};
use super::world::{Filter, SearchScope};
use super::{CsvCut, Simulator, lock};
use crate::domain::{LabelIds, Mdn, SortDir, SortField};
use crate::upstream::wire::{
    BulkDeleteLabels, BulkSelection, CustomizedListRequest, DataLimitsChange, DeviceGroupChange,
    DeviceList, DeviceSelection, FilterGroupChange, Health, HealthCheck, ImeiChange,
    MdnCustomFieldChange, NicknameChange, NoteChange, SMARTSPOT_BANDS, SmartSpotSettings,
    SmartSpotSettingsMultiRequest, SmartSpotSettingsValues, StatusChange, SummerUsageChange,
    WriteFailure, WriteResult,
};

/// The API's JSON error answer `{"error", "message"}`.
#[derive(Debug, Clone)]
pub struct ApiErr {
    pub status: StatusCode,
    pub error: String,
    pub message: String,
}

impl ApiErr {
    pub fn new(status: StatusCode, error: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            error: error.to_owned(),
            message: message.into(),
        }
    }
    pub fn bad_request(m: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", m)
    }
    pub fn unauthorized(m: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", m)
    }
    pub fn forbidden(m: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", m)
    }
    pub fn not_found(m: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", m)
    }
    pub fn unprocessable(m: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable_entity", m)
    }
    /// The real API's quirk for an empty result.
    pub fn no_devices() -> Self {
        Self::not_found("NO DEVICES FOUND")
    }
}

impl IntoResponse for ApiErr {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"error": self.error, "message": self.message})),
        )
            .into_response()
    }
}

type ApiResult = Result<Response, ApiErr>;

/// Authenticates and authorises a call on a device group; returns the user and the group's id.
fn begin(
    sim: &Simulator,
    headers: &HeaderMap,
    corp: &str,
    op: Op,
) -> Result<(&'static DemoUser, &'static str), ApiErr> {
    let user = sim.authenticate(headers)?;
    let kind = data::kind_of(corp).ok_or_else(|| group_not_found(corp))?;
    let caller = caller(user);
    rules::check_corp(&caller, corp).map_err(ApiErr::forbidden)?;
    rules::check_op(&caller, op).map_err(ApiErr::forbidden)?;
    Ok((user, kind.corp_id()))
}

/// The 404 of a device group that does not exist.
fn group_not_found(corp: &str) -> ApiErr {
    ApiErr::not_found(format!("Device group {corp} was not found."))
}

fn caller(u: &'static DemoUser) -> Caller<'static> {
    Caller {
        roles: u.roles,
        corp_ids: u.corp_ids,
        account_type: u.account_type,
    }
}

// ---- query parameters -------------------------------------------------------

fn params(q: Option<&str>) -> Result<HashMap<String, String>, ApiErr> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(q.unwrap_or(""))
        .map_err(|_| ApiErr::bad_request("The query string is not valid URL encoding."))?;
    let mut map = HashMap::new();
    for (k, v) in pairs {
        map.entry(k).or_insert(v);
    }
    Ok(map)
}

fn required<'a>(p: &'a HashMap<String, String>, name: &str) -> Result<&'a str, ApiErr> {
    p.get(name)
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiErr::bad_request(format!("Query parameter {name} is required.")))
}

fn number(p: &HashMap<String, String>, name: &str) -> Result<u64, ApiErr> {
    let raw = required(p, name)?;
    raw.parse::<u64>()
        .ok()
        .or_else(|| {
            // `type: number`: a whole float such as 25.0 is accepted too.
            raw.parse::<f64>()
                .ok()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 1e15)
                .map(|f| f as u64)
        })
        .ok_or_else(|| {
            ApiErr::bad_request(format!(
                "Query parameter {name} must be a whole number ≥ 0, not “{raw}”."
            ))
        })
}

struct ListParams {
    offset: u64,
    limit: u64,
    sort: SortField,
    dir: SortDir,
    csv: bool,
}

fn list_params(p: &HashMap<String, String>) -> Result<ListParams, ApiErr> {
    let offset = number(p, "offset")?;
    let limit = number(p, "limit")?;
    let sort = SortField::parse(required(p, "sort")?)
        .map_err(|e| ApiErr::bad_request(format!("sort: {e}")))?;
    let dir = SortDir::parse(required(p, "sortDir")?)
        .map_err(|e| ApiErr::bad_request(format!("sortDir: {e}")))?;
    let csv = match p.get("export").map(|s| s.trim()) {
        None | Some("") => false,
        Some("CSV") => true,
        Some(other) => {
            return Err(ApiErr::bad_request(format!(
                "export “{other}” is not accepted; only CSV is."
            )));
        }
    };
    Ok(ListParams {
        offset,
        limit,
        sort,
        dir,
        csv,
    })
}

fn page(sim: &Simulator, corp: &'static str, ids: &[u32], lp: &ListParams) -> ApiResult {
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

// ---- reads ------------------------------------------------------------------

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
    let labels = LabelIds::parse(p.get("labelIds").map_or("", String::as_str))
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
    filter.labels = labels.ids().to_vec();
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

fn query(sim: &Simulator, corp: &str, sort: SortField, dir: SortDir, f: &Filter) -> Arc<Vec<u32>> {
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

fn check_imei_path(imei: &str) -> Result<(), ApiErr> {
    if imei.len() == 15 && imei.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(ApiErr::bad_request(format!(
            "“{imei}” is not an IMEI: expected exactly 15 digits."
        )))
    }
}

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

const POSSIBLE_STATUSES: [&str; 2] = ["ACTIVE", "SUSPENDED"];

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
    let mdn = Mdn::parse(&mdn).map_err(|e| ApiErr::bad_request(e.0))?;
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

fn health_of(l: &Line) -> Health {
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
        last_seen: Some(format!(
            "2024-11-{:02}T{:02}:{:02}:00Z",
            if l.online { 25 } else { 1 + r.below(24) },
            r.below(24),
            r.below(60)
        )),
        checks,
    }
}

// ---- request bodies ---------------------------------------------------------

fn json_body(body: &[u8]) -> Result<Value, ApiErr> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ApiErr::bad_request(format!("The body is not valid JSON: {e}")))?;
    if !v.is_object() {
        return Err(ApiErr::bad_request("The body must be a JSON object."));
    }
    Ok(v)
}

fn decode<T: DeserializeOwned>(v: Value) -> Result<T, ApiErr> {
    serde_json::from_value(v)
        .map_err(|e| ApiErr::bad_request(format!("The body is not valid: {e}")))
}

fn is_dashed_mdn(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 12
        && b.iter().enumerate().all(|(i, c)| {
            if i == 3 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
}

fn check_mdns(
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

fn check_bulk(sel: &Value) -> Result<(), ApiErr> {
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
fn check_selection(v: &Value) -> Result<(), ApiErr> {
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

fn require_field<'a>(v: &'a Value, name: &str) -> Result<&'a Value, ApiErr> {
    v.get(name)
        .ok_or_else(|| ApiErr::bad_request(format!("{name} is required.")))
}

fn require_str<'a>(v: &'a Value, name: &str) -> Result<&'a str, ApiErr> {
    require_field(v, name)?
        .as_str()
        .ok_or_else(|| ApiErr::bad_request(format!("{name} must be a string.")))
}

fn bulk_filter(b: &BulkSelection) -> Filter {
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

// ---- writes -----------------------------------------------------------------

/// The selected line ids, plus the MDNs that are not in the group.
fn resolve(sim: &Simulator, corp: &str, sel: &DeviceSelection) -> (Vec<u32>, Vec<WriteFailure>) {
    let mut world = lock(&sim.inner.world);
    let Some(g) = world.group_mut(corp) else {
        return (Vec::new(), Vec::new());
    };
    match sel {
        DeviceSelection::Mdns { mdns } => {
            let mut seen = HashSet::new();
            let mut ids = Vec::new();
            let mut failed = Vec::new();
            for m in mdns {
                if !seen.insert(m.as_str().to_owned()) {
                    continue;
                }
                match g.find_mdn(m.as_str()) {
                    Some(id) => ids.push(id),
                    None => failed.push(WriteFailure {
                        mdn: m.as_str().to_owned(),
                        reason: "Device not found".into(),
                    }),
                }
            }
            (ids, failed)
        }
        DeviceSelection::Bulk { bulk_selection } => {
            let ids = g.query(SortField::Mdn, SortDir::Asc, &bulk_filter(bulk_selection));
            (ids.as_ref().clone(), Vec::new())
        }
    }
}

/// Applies `change` to each line; a line it refuses goes to `failed` with the reason.
fn apply(
    sim: &Simulator,
    corp: &str,
    ids: &[u32],
    mut failed: Vec<WriteFailure>,
    mut change: impl FnMut(&mut Line) -> Result<(), String>,
) -> Response {
    let mut updated = 0;
    let mut world = lock(&sim.inner.world);
    if let Some(g) = world.group_mut(corp) {
        for id in ids {
            let Some(mut line) = g.line(*id) else {
                continue;
            };
            match change(&mut line) {
                Ok(()) => {
                    g.set(*id, line);
                    updated += 1;
                }
                Err(reason) => failed.push(WriteFailure {
                    mdn: line.mdn.clone(),
                    reason,
                }),
            }
        }
    }
    Json(WriteResult { updated, failed }).into_response()
}

fn selection_write<T: DeserializeOwned>(
    sim: &Simulator,
    headers: &HeaderMap,
    corp: &str,
    op: Op,
    body: &[u8],
    required: &[&str],
) -> Result<(&'static DemoUser, &'static str, Value, T), ApiErr> {
    let (user, corp) = begin(sim, headers, corp, op)?;
    let v = json_body(body)?;
    check_selection(&v)?;
    for r in required {
        require_field(&v, r)?;
    }
    let parsed = decode(v.clone())?;
    Ok((user, corp, v, parsed))
}

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

fn check_limit(v: &Value, name: &str) -> Result<(), ApiErr> {
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

fn check_imei_value(v: Option<&Value>, field: &str) -> Result<(), ApiErr> {
    match v.and_then(Value::as_str) {
        Some(s) if s.len() == 15 && s.bytes().all(|b| b.is_ascii_digit()) => Ok(()),
        Some(s) => Err(ApiErr::bad_request(format!(
            "{field}: “{s}” is not an IMEI (15 digits)."
        ))),
        None => Err(ApiErr::bad_request(format!(
            "{field} (a 15-digit IMEI) is required."
        ))),
    }
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

fn check_smartspot_values(v: &SmartSpotSettingsValues) -> Result<(), ApiErr> {
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

fn set_smartspot(l: &mut Line, v: &SmartSpotSettingsValues) -> Result<(), String> {
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

/// Any other path under the simulator.
pub async fn not_found() -> Response {
    ApiErr::not_found("There is no such resource.").into_response()
}
