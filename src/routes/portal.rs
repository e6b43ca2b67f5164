//! The self-service portal: `GET /portal?q=…` looks a line up in every device group the user may open; `GET /portal/{corpId}/{mdn}` is one line's card.
//!
//! One exact match (or one line found at all) shows its card in place; several show a short list
//! whose entries open the card route. Direct changes post to the action pipeline with `via=portal`.

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

use crate::auth::CurrentUser;
use crate::domain::{CorpId, Imei, ListQuery, Mdn, SearchValue};
use crate::error::AppError;
use crate::policy::Operation;
use crate::portal::{LookupTerm, MAX_MATCHES, exact_match, prefer_exact};
use crate::state::AppState;
use crate::upstream::wire::Device;
use crate::upstream::{ListParams, UpstreamError};
use crate::views::Layout;
use crate::views::portal::{
    CardInput, LineCard, MatchRow, PortalPage, PortalResults, RequestRow, Saved, portal_href,
};

use super::edge::parse_query;
use crate::htmx::{VaryHx, WantsFragment};

/// Device groups searched at once for one look-up.
const GROUP_CONCURRENCY: usize = 4;
/// Lines asked of each device group for one look-up.
const PER_GROUP: u32 = 25;

#[derive(serde::Deserialize, Default)]
pub struct PortalQuery {
    q: Option<String>,
}

fn vary_hx(resp: impl IntoResponse) -> Response {
    (VaryHx, resp).into_response()
}

/// The user's latest requests, for the portal's list.
async fn own_requests(state: &AppState, user: &CurrentUser) -> Result<Vec<RequestRow>, AppError> {
    let f = crate::storage::changes::ChangeFilter {
        subject: Some(user.principal.subject.clone()),
        limit: 30,
        ..Default::default()
    };
    let (sets, _) = state.db.change_list(&f).await?;
    Ok(sets
        .iter()
        .filter(|c| c.life.request_reason.is_some())
        .take(10)
        .map(RequestRow::new)
        .collect())
}

/// The page around `results`, or only the results for htmx.
async fn respond(
    state: &AppState,
    user: &CurrentUser,
    fragment: bool,
    q: &str,
    results: PortalResults,
) -> Result<Response, AppError> {
    if fragment {
        return Ok(vary_hx(results));
    }
    let requests = own_requests(state, user).await?;
    let title = match &results.card {
        Some(c) => format!("Line {}", c.mdn),
        None => "Find a line".to_owned(),
    };
    Ok(vary_hx(
        PortalPage {
            layout: Layout::signed_in(title, &user.principal, &user.csrf),
            action: portal_href(),
            q: q.to_owned(),
            results,
            requests,
            requests_href: crate::paths::changes(None, true).into(),
        }
        .into_response(),
    ))
}

/// `GET /portal?q=…`: the look-up box, and what a look-up found.
pub async fn page(
    State(state): State<AppState>,
    user: CurrentUser,
    RawQuery(raw): RawQuery,
    WantsFragment(fragment): WantsFragment,
) -> Result<Response, AppError> {
    let query: PortalQuery = parse_query(raw.as_deref())?;
    let term = LookupTerm::parse(query.q.as_deref().unwrap_or_default())?;
    let results = if term.is_empty() {
        PortalResults {
            no_groups: user.principal.portal_groups().is_none(),
            ..PortalResults::default()
        }
    } else {
        lookup(&state, &user, &term).await?
    };
    respond(&state, &user, fragment, term.as_str(), results).await
}

/// Searches every device group the user may list (a few at once) and keeps the best matches.
async fn lookup(
    state: &AppState,
    user: &CurrentUser,
    term: &LookupTerm,
) -> Result<PortalResults, AppError> {
    let mut results = PortalResults {
        q: term.as_str().to_owned(),
        ..PortalResults::default()
    };
    let Some(groups) = user.principal.portal_groups() else {
        results.no_groups = true;
        return Ok(results);
    };
    let search = term.search_value()?;
    results.searched = groups.len();
    let mut answers: Vec<(usize, CorpId, Result<Vec<Device>, UpstreamError>)> =
        futures::stream::iter(groups.into_iter().enumerate())
            .map(|(i, corp)| {
                let search = search.clone();
                async move {
                    let found = search_group(state, user, &corp, search).await;
                    (i, corp, found)
                }
            })
            .buffer_unordered(GROUP_CONCURRENCY)
            .collect()
            .await;
    answers.sort_by_key(|(i, _, _)| *i);
    let mut found: Vec<(CorpId, Device)> = Vec::new();
    for (_, corp, answer) in answers {
        match answer {
            Ok(devices) => found.extend(devices.into_iter().map(|d| (corp.clone(), d))),
            Err(e) => results.problems.push(format!(
                "Device group {corp} could not be searched: {}",
                e.described().message
            )),
        }
    }
    let mut found = prefer_exact(found, |(_, d)| d, term);
    if found.len() == 1 {
        if let Some((corp, d)) = found.pop() {
            results.card = Some(card(state, user, &corp, &d).await);
        }
        return Ok(results);
    }
    results.more = found.len() > MAX_MATCHES;
    results.matches = found
        .iter()
        .take(MAX_MATCHES)
        .map(|(corp, d)| MatchRow::new(corp, d, exact_match(d, term)))
        .collect();
    Ok(results)
}

/// One device group's lines matching `search`; the scope table is asked before the upstream call.
async fn search_group(
    state: &AppState,
    user: &CurrentUser,
    corp: &CorpId,
    search: SearchValue,
) -> Result<Vec<Device>, UpstreamError> {
    if user.principal.check(Operation::ListDevices, corp).is_err() {
        return Ok(Vec::new());
    }
    let q = ListQuery {
        search,
        ..ListQuery::default()
    };
    let mut params = ListParams::from(&q);
    params.limit = PER_GROUP;
    Ok(state
        .upstream
        .list_devices(&user.token, corp, &params)
        .await?
        .devices)
}

#[derive(serde::Deserialize, Default)]
pub struct CardQuery {
    /// A change set just made from this card: the card says "Saved" and offers its undo.
    saved: Option<String>,
}

/// `GET /portal/{corpId}/{mdn}`: one line's card (the short list's links, a change's way back;
/// `?saved={id}` after a change made from it).
pub async fn card_page(
    State(state): State<AppState>,
    user: CurrentUser,
    super::edge::GroupPath(corp): super::edge::GroupPath,
    Path((_, mdn)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    WantsFragment(fragment): WantsFragment,
) -> Result<Response, AppError> {
    super::edge::authorize(&user, &corp, Operation::ListDevices)?;
    let mdn = Mdn::parse(&mdn)?;
    let query: CardQuery = parse_query(raw.as_deref())?;
    let d = super::edge::find_line(&state, &user, &corp, &mdn).await?;
    let mut shown = card(&state, &user, &corp, &d).await;
    if let Some(id) = query.saved.as_deref() {
        shown.saved = saved(&state, &user, &corp, &mdn, id).await?;
    }
    let results = PortalResults {
        q: mdn.to_string(),
        searched: 1,
        card: Some(shown),
        ..PortalResults::default()
    };
    respond(&state, &user, fragment, mdn.as_str(), results).await
}

/// The "Saved" notice of change set `id`, when it is one this user may see, of this line.
async fn saved(
    state: &AppState,
    user: &CurrentUser,
    corp: &CorpId,
    mdn: &Mdn,
    id: &str,
) -> Result<Option<Saved>, AppError> {
    let Ok(id) = uuid::Uuid::parse_str(id) else {
        return Ok(None);
    };
    let Some(c) = state.db.change_get(id).await? else {
        return Ok(None);
    };
    // Only the user's own change made from this card: someone else's is no "Saved" of theirs.
    if c.corp_id != corp.as_str() || c.subject != user.principal.subject {
        return Ok(None);
    }
    let lines = state.db.change_lines_page(id, None, 0, 10).await?;
    let Some(line) = lines.iter().find(|l| l.mdn == mdn.as_str()) else {
        return Ok(None);
    };
    let undo = crate::actions::ActionKind::from_slug(&c.action).is_some_and(|k| {
        user.principal.may_undo_on_card(k.operation(), corp)
            && crate::views::redo::revert_offer(&c, &user.principal)
                .is_ok_and(|o| o.mode == crate::policy::WriteMode::Direct)
    });
    Ok(Some(Saved::new(&c, Some(line), undo)))
}

/// The portal's card of `d`, with what the scope table lets this user do on it.
async fn card(state: &AppState, user: &CurrentUser, corp: &CorpId, d: &Device) -> LineCard {
    let actions = user.principal.portal_actions(corp, d.is_smartspot());
    card_with(state, user, corp, d, actions).await
}

/// The card of `d` offering `actions`, with its health and SmartSpot settings read when the
/// scope table allows.
pub(super) async fn card_with(
    state: &AppState,
    user: &CurrentUser,
    corp: &CorpId,
    d: &Device,
    actions: crate::policy::PortalActions,
) -> LineCard {
    let reports_health = d.show_health_status == Some(true);
    let health = async {
        if !(reports_health && actions.health) {
            return (None, None);
        }
        let Ok(mdn) = Mdn::parse(&d.mdn) else {
            return (None, None);
        };
        match state.upstream.device_health(&user.token, corp, &mdn).await {
            Ok(h) => (Some(h), None),
            Err(e) => {
                tracing::warn!(error = %e, "portal: health failed");
                (
                    None,
                    Some(format!(
                        "The health check is not available right now: {}",
                        e.described().message
                    )),
                )
            }
        }
    };
    let smartspot = async {
        let imei = d.imei.as_deref().and_then(|i| Imei::parse(i).ok());
        let Some(imei) = imei.filter(|_| actions.smartspot_read) else {
            return (None, None);
        };
        match state
            .upstream
            .get_smartspot_settings(&user.token, corp, &imei)
            .await
        {
            Ok(s) => (Some(s), None),
            Err(e) => {
                tracing::warn!(error = %e, "portal: smartspot settings failed");
                (
                    None,
                    Some(format!(
                        "The SmartSpot settings could not be read: {}",
                        e.described().message
                    )),
                )
            }
        }
    };
    let history = async {
        let digits = Mdn::parse(&d.mdn).ok()?.digits();
        let h = super::usage::line_history(state, corp, &digits).await?;
        Some(h.in_card(user.principal.check_usage(corp).is_ok()))
    };
    let ((health, health_note), (smartspot, smartspot_note), history) =
        tokio::join!(health, smartspot, history);
    let mut card = LineCard::new(
        corp,
        d,
        CardInput {
            actions,
            csrf: user.csrf.clone(),
            health,
            health_note,
            smartspot,
            smartspot_note,
        },
    );
    card.history = history;
    card
}
