//! The device list, totals, device-group picker, IMEI look-up and line health.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use crate::auth::CurrentUser;
use crate::domain::{
    CorpId, Imei, ListFilter, ListQuery, Mdn, RawListQuery, SearchValue, TableColumns,
};
use crate::error::AppError;
use crate::htmx::{VaryHx, WantsFragment};
use crate::paths;
use crate::policy::Operation;
use crate::state::AppState;
use crate::upstream::{ListParams, UpstreamError};
use crate::views::Layout;
use crate::views::list_filters::{ListFilters, SnapshotNote};

use super::edge::{GroupPath, authorize, find_line, parse_query};
use crate::storage::changes::HISTORY_LIMIT;
use crate::views::devices::{
    ColumnChoice, DeviceResults, DeviceRow, DevicesPage, GroupLink, GroupsPage, HealthPage,
    ImeiPage, ListView, TotalsFragment,
};
use crate::views::line::{HistoryRow, LinePage};

/// `GET /`: the portal for self-service users; else the user's device group, or a picker when there
/// are several (or none known).
pub async fn home(State(state): State<AppState>, user: CurrentUser) -> Result<Response, AppError> {
    if user.principal.lands_on_portal() {
        return Ok(Redirect::to(&crate::views::portal::portal_href()).into_response());
    }
    let groups = user.principal.corp_ids.clone().unwrap_or_default();
    if groups.len() == 1 {
        return Ok(Redirect::to(paths::group(&groups[0]).as_str()).into_response());
    }
    Ok(GroupsPage {
        layout: Layout::signed_in("Device groups", &user.principal, &user.csrf),
        groups: described(&state, &user, &groups).await,
        open_href: paths::open(),
    }
    .into_response())
}

/// Device groups the picker reads at once, and at most.
const PICKER_CONCURRENCY: usize = 4;
const PICKER_MAX: usize = 50;

/// The picker's entries: each group with Sentinel's description and its line count (one line
/// asked of each, a few groups at once; the scope table asked first).
async fn described(state: &AppState, user: &CurrentUser, groups: &[CorpId]) -> Vec<GroupLink> {
    use futures::StreamExt;
    let one = |corp: CorpId| async move {
        let mut link = GroupLink::new(&corp);
        if user.principal.check(Operation::ListDevices, &corp).is_err() {
            return link;
        }
        let params = ListParams {
            limit: 1,
            ..ListParams::from(&ListQuery::default())
        };
        match state
            .upstream
            .list_devices(&user.token, &corp, &params)
            .await
        {
            Ok(list) => {
                link.lines = crate::views::format::counted(list.total_count, "line", "lines");
                link.description = list
                    .devices
                    .iter()
                    .find_map(|d| d.corp_description.clone())
                    .unwrap_or_default();
            }
            Err(e) => {
                tracing::warn!(error = %e, %corp, "picker: the group could not be read");
                link.lines = "Could not be read just now".into();
            }
        }
        link
    };
    futures::stream::iter(groups.iter().take(PICKER_MAX).cloned())
        .map(one)
        .buffered(PICKER_CONCURRENCY)
        .collect()
        .await
}

#[derive(serde::Deserialize, Default)]
pub struct OpenQuery {
    #[serde(rename = "corpId")]
    corp_id: Option<String>,
}

/// `GET /open?corpId=…`: the picker's form for a typed device group id.
pub async fn open(_user: CurrentUser, RawQuery(raw): RawQuery) -> Result<Response, AppError> {
    let q: OpenQuery = parse_query(raw.as_deref())?;
    let corp = CorpId::parse(q.corp_id.as_deref().unwrap_or_default())?;
    Ok(Redirect::to(paths::group(&corp).as_str()).into_response())
}

/// The device group's totals (the whole group: Sentinel's totals search fewer fields than its list,
/// so the list's own count is the one a search shows), from the cache when fresh.
async fn fetch_totals(state: &AppState, user: &CurrentUser, corp: &CorpId) -> TotalsFragment {
    if let Err(r) = user.principal.check(Operation::DeviceTotals, corp) {
        return TotalsFragment {
            totals: None,
            problem: Some(r.0),
        };
    }
    let ok = |t| TotalsFragment {
        totals: Some(t),
        problem: None,
    };
    let (cache, subject) = (&state.totals_cache, &user.principal.subject);
    if let Some(t) = cache.get(subject, corp.as_str(), "") {
        return ok(t);
    }
    match state.upstream.device_totals(&user.token, corp, None).await {
        Ok(t) => {
            cache.put(subject, corp.as_str(), "", t);
            ok(t)
        }
        Err(e) => {
            tracing::warn!(error = %e, "totals failed");
            TotalsFragment {
                totals: None,
                problem: Some(e.described().message),
            }
        }
    }
}

/// Session key of the list columns the user chose last.
const COLUMNS_KEY: &str = "list_columns";

/// The list's columns: the URL's `columns=` (then remembered for this user's session), else the
/// remembered ones, else the defaults.
async fn list_columns(
    session: &tower_sessions::Session,
    raw: Option<&str>,
) -> Result<TableColumns, AppError> {
    if let Some(given) = TableColumns::from_query(raw)? {
        if let Err(e) = session.insert(COLUMNS_KEY, given.to_param()).await {
            tracing::warn!(error = %e, "could not remember the list columns");
        }
        return Ok(given);
    }
    Ok(match session.get::<String>(COLUMNS_KEY).await {
        Ok(Some(keys)) => TableColumns::from_keys([keys.as_str()]).unwrap_or_default(),
        _ => TableColumns::default(),
    })
}

/// `GET /devices/{corpId}`: the list page, or its results fragment for htmx.
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    GroupPath(corp): GroupPath,
    RawQuery(raw): RawQuery,
    WantsFragment(fragment): WantsFragment,
    session: tower_sessions::Session,
) -> Result<Response, AppError> {
    authorize(&user, &corp, Operation::ListDevices)?;
    let columns = list_columns(&session, raw.as_deref()).await?;
    let filter = ListFilter::parse(raw.as_deref())?;
    let raw: RawListQuery = parse_query(raw.as_deref())?;
    let mut q = ListQuery::parse(&raw)?;
    q.filter = filter;
    let columns = columns.showing_sort(q.sort);
    // A tracked group's latest sample: its filters, and the list when they are used (issue 24).
    let snapshot = if q.filter.is_empty() && fragment {
        None
    } else {
        super::list_filters::snapshot(&state, &corp).await?
    };
    if snapshot.is_none() && !q.filter.is_empty() {
        return Err(super::list_filters::untracked(&corp));
    }
    let params = ListParams::from(&q);
    // The page and the totals are independent: ask for both at once (a swap keeps the page's totals).
    let (list, totals) = tokio::join!(
        async {
            match &snapshot {
                Some(s) if !q.filter.is_empty() => {
                    let (devices, total_count) =
                        super::list_filters::page(&state, &corp, s, &q).await?;
                    Ok::<_, AppError>(crate::upstream::wire::DeviceList {
                        devices,
                        total_count,
                    })
                }
                _ => Ok(state
                    .upstream
                    .list_devices(&user.token, &corp, &params)
                    .await?),
            }
        },
        async {
            if fragment {
                None
            } else {
                Some(fetch_totals(&state, &user, &corp).await)
            }
        }
    );
    let list = list?;
    let mut labels: Vec<(i64, String)> = Vec::new();
    for d in &list.devices {
        for l in d.labels.as_deref().unwrap_or_default() {
            if !labels.iter().any(|(id, _)| *id == l.id) {
                labels.push((l.id, l.name.clone()));
            }
        }
    }
    let view = ListView {
        corp: &corp,
        q: &q,
        columns: &columns,
    };
    let mut results = DeviceResults::new(view, &list.devices, list.total_count, &labels, fragment);
    // Selection and actions only for users the scope table lets change something here.
    results.selection = crate::views::actions::SelectionBar::for_user(
        &user.principal,
        &corp,
        list.total_count,
        q.search.as_str(),
        &q.labels.to_param(),
    )
    .map(|b| b.with_filter(&q.filter));
    let zone = &state.config.usage.zone;
    if let Some(s) = snapshot.as_ref().filter(|_| !q.filter.is_empty()) {
        results.snapshot = Some(SnapshotNote::new(s, &corp, &q, &columns, zone));
    }
    if fragment {
        // The address bar shows the view in one canonical form (`columns=a,b`, not repeated boxes).
        let shown = crate::htmx::push_url(&results.list_href);
        return Ok((VaryHx, shown, results).into_response());
    }
    let corp_description = list
        .devices
        .iter()
        .find_map(|d| d.corp_description.clone())
        .unwrap_or_default();
    let other_groups = user
        .principal
        .corp_ids
        .as_deref()
        .unwrap_or_default()
        .iter()
        .filter(|c| **c != corp)
        .map(GroupLink::new)
        .collect();
    let page = DevicesPage {
        layout: Layout::signed_in(format!("{corp} lines"), &user.principal, &user.csrf),
        corp: corp.to_string(),
        corp_description,
        action: paths::group(&corp),
        chooser: ColumnChoice::all(&columns),
        search: q.search.as_str().to_owned(),
        page_sizes: DevicesPage::page_sizes(&q),
        other_groups,
        totals: totals.unwrap_or(TotalsFragment {
            totals: None,
            problem: None,
        }),
        results,
        overview_href: user
            .principal
            .can_view_overview(&corp)
            .then(|| paths::overview(&corp).into()),
        import_href: user
            .principal
            .can_import(&corp)
            .then(|| paths::import(&corp).into()),
        usage: super::usage::list_notice(&state, &user, &corp).await,
        filters: snapshot.as_ref().map(|s| ListFilters::new(s, &q, zone)),
    };
    Ok((VaryHx, page).into_response())
}

#[derive(serde::Deserialize, Default)]
pub struct TotalsQuery {
    #[serde(rename = "searchValue")]
    search_value: Option<String>,
}

/// `GET /devices/{corpId}/totals`: the totals fragment.
pub async fn totals(
    State(state): State<AppState>,
    user: CurrentUser,
    GroupPath(corp): GroupPath,
    RawQuery(raw): RawQuery,
) -> Result<Response, AppError> {
    authorize(&user, &corp, Operation::DeviceTotals)?;
    let q: TotalsQuery = parse_query(raw.as_deref())?;
    let search = SearchValue::parse(q.search_value.as_deref().unwrap_or_default())?;
    let s = (!search.is_empty()).then(|| search.as_str());
    let t = state.upstream.device_totals(&user.token, &corp, s).await?;
    Ok(TotalsFragment {
        totals: Some(t),
        problem: None,
    }
    .into_response())
}

/// `GET /devices/{corpId}/imei/{imei}`: the lines carrying an IMEI.
pub async fn by_imei(
    State(state): State<AppState>,
    user: CurrentUser,
    GroupPath(corp): GroupPath,
    Path((_, imei)): Path<(String, String)>,
) -> Result<Response, AppError> {
    authorize(&user, &corp, Operation::GetDevicesByImei)?;
    let imei = Imei::parse(&imei)?;
    let devices = state
        .upstream
        .get_devices_by_imei(&user.token, &corp, &imei)
        .await?;
    let q = ListQuery::default();
    Ok(ImeiPage {
        layout: Layout::signed_in(format!("IMEI {imei}"), &user.principal, &user.csrf),
        corp: corp.to_string(),
        back_href: paths::devices(&corp, &q),
        imei: imei.to_string(),
        rows: devices
            .iter()
            .map(|d| DeviceRow::new(&corp, d, &q))
            .collect(),
        smartspot_href: paths::smartspot(&corp, &imei),
    }
    .into_response())
}

/// `GET /devices/{corpId}/{mdn}/health`: one line's health.
pub async fn health(
    State(state): State<AppState>,
    user: CurrentUser,
    GroupPath(corp): GroupPath,
    Path((_, mdn)): Path<(String, String)>,
) -> Result<Response, AppError> {
    authorize(&user, &corp, Operation::DeviceHealth)?;
    let mdn = Mdn::parse(&mdn)?;
    let page = |health, unavailable| HealthPage {
        layout: Layout::signed_in(format!("Health of {mdn}"), &user.principal, &user.csrf),
        corp: corp.to_string(),
        back_href: paths::devices(&corp, &ListQuery::default()),
        mdn: mdn.to_string(),
        health,
        unavailable,
    };
    match state.upstream.device_health(&user.token, &corp, &mdn).await {
        Ok(h) => Ok(page(Some(h), None).into_response()),
        // Not every line reports health: say so in place rather than as an error page.
        Err(UpstreamError::Status {
            status, message, ..
        }) if status.as_u16() == 409 => Ok((
            StatusCode::CONFLICT,
            page(
                None,
                Some(format!("This line does not report its health ({message}).")),
            ),
        )
            .into_response()),
        Err(UpstreamError::Status {
            status, message, ..
        }) if status.as_u16() == 404 => Ok((
            StatusCode::NOT_FOUND,
            page(
                None,
                Some(format!("Sentinel does not know this line: {message}")),
            ),
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

/// `GET /devices/{corpId}/line/{mdn}`: one line's details and the changes this user may make to it.
pub async fn line(
    State(state): State<AppState>,
    user: CurrentUser,
    GroupPath(corp): GroupPath,
    Path((_, mdn)): Path<(String, String)>,
) -> Result<Response, AppError> {
    authorize(&user, &corp, Operation::ListDevices)?;
    let mdn = Mdn::parse(&mdn)?;
    let d = &find_line(&state, &user, &corp, &mdn).await?;
    let back = ListQuery::default();
    let link = |k, request| {
        let href = paths::action_for_lines(&corp, k, [&mdn]).into();
        crate::views::actions::ActionLink {
            request,
            ..crate::views::actions::ActionLink::new(&corp, k, href, false)
        }
    };
    // What the user may do, then what they may only request (the approvals rule).
    let actions = crate::actions::ActionKind::allowed_for(&user.principal, &corp)
        .into_iter()
        .map(|k| link(k, false))
        .chain(
            crate::actions::ActionKind::requestable_for(&user.principal, &corp)
                .into_iter()
                .map(|k| link(k, true)),
        )
        .collect();
    // The card reads the line's health (and a SmartSpot's settings) while the history is read.
    let card_actions = user.principal.line_page_card(&corp, d.is_smartspot());
    let mut ids = vec![mdn.to_string()];
    ids.extend(d.imei.clone().filter(|_| d.is_smartspot()));
    let (card, changes) = tokio::join!(
        super::portal::card_with(&state, &user, &corp, d, card_actions),
        state
            .db
            .change_history_of_line(corp.as_str(), &ids, HISTORY_LIMIT)
    );
    let mut card = card;
    card.on_line_page = true;
    let changes = changes?;
    Ok(LinePage {
        layout: Layout::signed_in(format!("Line {mdn}"), &user.principal, &user.csrf),
        corp: corp.to_string(),
        back_href: paths::devices(&corp, &back),
        row: DeviceRow::new(&corp, d, &back),
        card,
        facts: LinePage::facts(d),
        smartspot_href: d
            .imei
            .as_deref()
            .filter(|_| d.is_smartspot())
            .map(|i| paths::smartspot(&corp, i)),
        actions,
        more_changes: changes.len() >= HISTORY_LIMIT as usize,
        changes: changes.iter().map(HistoryRow::new).collect(),
    }
    .into_response())
}
