//! Change sets over HTTP: `GET /changes` (the ones the user may see), `GET /changes/{id}` (one
//! change: progress, result, per-line results; htmx fragments), `GET /changes/{id}/lines.csv`,
//! `POST /changes/{id}/retry` (preview, then a new change set of the lines not changed),
//! `POST /changes/{id}/revert` (preview, then a new change set back to the values before).
//!
//! Who sees which change set comes from [`crate::policy::Principal::may_see_change`]; a change
//! set the user may not see answers 404, as if it did not exist.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use futures::StreamExt;
use tower_sessions::Session;
use uuid::Uuid;

use crate::actions::form::{Change, RawForm, Target};
use crate::actions::preview::PreviewLine;
use crate::actions::run::Outcome;
use crate::actions::{ActionKind, revert};
use crate::auth::CurrentUser;
use crate::csv::csv_cell;
use crate::domain::{CorpId, Imei, Mdn, Via};
use crate::error::AppError;
use crate::outcome::ChangeResult;
use crate::paths;
use crate::state::AppState;
use crate::storage::changes::{ChangeFilter, ChangeSet, ChangeState, LineState, Origin};
use crate::upstream::wire::WriteFailure;
use crate::views::Layout;
use crate::views::actions::{PreviewPage, ResultFragment};
use crate::views::changes::{
    ChangePage, ChangeRow, ChangesPage, FilterLink, LINES_PAGE, LinesFragment, ProgressFragment,
    RevertPreviewPage, change_href, change_title, changes_href, retry_href, revert_href,
};
use crate::views::redo as redo_offer;

use super::edge::parse_query;
use crate::htmx::WantsFragment;

const PAGE: u32 = 50;
/// Failed and unknown lines listed in the result summary (all of them are in the lines table).
const RESULT_LINES: u32 = 100;
/// Most failed lines read to count the reasons of a change's failures.
const MAX_REASON_LINES: usize = 50_000;

#[derive(Debug, Default, serde::Deserialize)]
pub struct ListQuery {
    state: Option<String>,
    mine: Option<String>,
    offset: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct ChangeQuery {
    part: Option<String>,
    outcome: Option<String>,
    offset: Option<String>,
    /// `portal`: the change was made from the portal; its result leads back to the line's card.
    via: Option<String>,
    /// The state the polling page shows: when it moved on, the whole page is reloaded.
    seen: Option<String>,
    /// What a check of the unknown lines found: `<changed>-<not changed>-<still unknown>`.
    checked: Option<String>,
}

/// The `checked=` of the page after a check (anything else is ignored: it only words a notice).
fn checked_of(v: &Option<String>) -> Option<crate::actions::check::Checked> {
    let mut n = given(v)?.split('-').map(|p| p.parse::<u64>().ok());
    let found = crate::actions::check::Checked {
        changed: n.next()??,
        not_changed: n.next()??,
        still_unknown: n.next()??,
    };
    n.next().is_none().then_some(found)
}

/// The selection a change set was made for, when it is a short explicit one (the portal's way back).
fn selected_target(c: &ChangeSet) -> Option<Target> {
    let list = |key: &str| -> Vec<String> {
        c.selection
            .get(key)
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mdns: Vec<Mdn> = list("mdns")
        .iter()
        .filter_map(|m| Mdn::parse(m).ok())
        .collect();
    let imeis: Vec<Imei> = list("imeis")
        .iter()
        .filter_map(|i| Imei::parse(i).ok())
        .collect();
    match (mdns.is_empty(), imeis.is_empty()) {
        (false, _) => Some(Target::Lines(mdns)),
        (true, false) => Some(Target::Imeis(imeis)),
        _ => None,
    }
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn offset_of(v: &Option<String>) -> Result<u64, AppError> {
    given(v)
        .map(|s| {
            s.parse()
                .map_err(|_| AppError::BadRequest(format!("“{s}” is not a valid offset.")))
        })
        .transpose()
        .map(Option::unwrap_or_default)
}

fn not_found() -> AppError {
    AppError::NotFound("There is no such change.".into())
}

/// The change set `id`, if this user may see it (else 404: its existence is not revealed).
async fn visible(state: &AppState, user: &CurrentUser, id: &str) -> Result<ChangeSet, AppError> {
    let id = Uuid::parse_str(id).map_err(|_| not_found())?;
    let c = state.db.change_get(id).await?.ok_or_else(not_found)?;
    let corp = CorpId::parse(&c.corp_id).map_err(|_| not_found())?;
    if !user.principal.may_see_change(&corp, &c.subject) {
        return Err(not_found());
    }
    Ok(c)
}

/// `GET /changes`
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    RawQuery(raw): RawQuery,
) -> Result<Response, AppError> {
    let q: ListQuery = parse_query(raw.as_deref())?;
    let attention = given(&q.state) == Some(crate::views::changes::NEEDS_ATTENTION);
    let wanted = given(&q.state)
        .filter(|_| !attention)
        .map(|s| {
            s.parse::<ChangeState>()
                .map_err(|_| AppError::BadRequest(format!("“{s}” is not a change state.")))
        })
        .transpose()?;
    let mine = given(&q.mine).is_some_and(|m| m == "1" || m == "true");
    let offset = offset_of(&q.offset)?;
    let (corps, only) = user.principal.change_list_scope();
    let subject = if mine {
        Some(user.principal.subject.clone())
    } else {
        only
    };
    let f = ChangeFilter {
        corp_ids: corps.map(|c| c.iter().map(|c| c.to_string()).collect()),
        subject,
        // "done" includes the changes done with failures.
        states: match wanted {
            None if attention => crate::views::changes::ATTENTION_STATES.to_vec(),
            Some(ChangeState::Done) => vec![ChangeState::Done, ChangeState::DoneWithFailures],
            Some(s) => vec![s],
            None => vec![],
        },
        offset,
        limit: PAGE,
    };
    let (sets, total) = state.db.change_list(&f).await?;
    let shown = sets.len() as u64;
    let state_str = if attention {
        Some(crate::views::changes::NEEDS_ATTENTION)
    } else {
        wanted.map(ChangeState::as_str)
    };
    let page = u64::from(PAGE);
    Ok(ChangesPage {
        layout: Layout::signed_in("Changes", &user.principal, &user.csrf),
        rows: sets.iter().map(ChangeRow::new).collect(),
        states: ChangesPage::state_links(state_str, mine),
        mine: FilterLink {
            label: if mine {
                "Everyone's".into()
            } else {
                "Only mine".into()
            },
            href: changes_href(state_str, !mine, 0),
            current: false,
        },
        total,
        prev_href: (offset > 0).then(|| changes_href(state_str, mine, offset.saturating_sub(page))),
        next_href: (offset + shown < total).then(|| changes_href(state_str, mine, offset + page)),
    }
    .into_response())
}

/// The finished change's result summary (counts, and the first failed and unknown lines).
async fn result_of(state: &AppState, c: &ChangeSet) -> Result<ResultFragment, AppError> {
    // Every failed line's reason (up to a bound), so each reason is counted exactly once.
    let mut failed = Vec::new();
    loop {
        let page = state
            .db
            .change_lines_page(c.id, Some(LineState::Failed), failed.len() as u64, 1_000)
            .await?;
        let last = page.len() < 1_000;
        failed.extend(page);
        if last || failed.len() >= MAX_REASON_LINES {
            break;
        }
    }
    let unknown = state
        .db
        .change_lines_page(c.id, Some(LineState::Unknown), 0, RESULT_LINES)
        .await?;
    let n = |v: i64| u64::try_from(v).unwrap_or_default();
    let mut o = Outcome {
        updated: n(c.changed),
        failed: failed
            .into_iter()
            .map(|l| WriteFailure {
                mdn: l.mdn,
                reason: l.message.unwrap_or_default(),
            })
            .collect(),
        unknown: unknown.into_iter().map(|l| l.mdn).collect(),
        error: c.message.clone(),
        ..Default::default()
    };
    o.outcome = ChangeResult::from_counts(o.updated, c.failed + c.unknown > 0);
    let corp = CorpId::parse(&c.corp_id)?;
    let mut r = ResultFragment::new(&o, &corp);
    // The counts are the change set's, not the (capped) lists'.
    r.headline = match o.outcome {
        ChangeResult::Ok => format!(
            "Done: {} changed.",
            crate::actions::form::plural(o.updated, "line")
        ),
        _ if c.changed == 0 => "Nothing was changed.".into(),
        _ => format!(
            "Partly done: {} changed, {} not changed, {} unknown.",
            c.changed, c.failed, c.unknown
        ),
    };
    r.failed_count = n(c.failed);
    r.unknown_count = n(c.unknown);
    Ok(r)
}

fn outcome_of(v: &Option<String>) -> Result<Option<LineState>, AppError> {
    match given(v) {
        None => Ok(None),
        Some(s) => match s.parse::<LineState>() {
            Ok(o) if o != LineState::Pending => Ok(Some(o)),
            _ => Err(AppError::BadRequest(format!(
                "“{s}” is not an outcome (changed, failed or unknown)."
            ))),
        },
    }
}

/// `GET /changes/{id}`: the page; with htmx, its progress (`part` absent) or lines (`part=lines`).
pub async fn page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    WantsFragment(fragment): WantsFragment,
) -> Result<Response, AppError> {
    let q: ChangeQuery = parse_query(raw.as_deref())?;
    let c = visible(&state, &user, &id).await?;
    let outcome = outcome_of(&q.outcome)?;
    let offset = offset_of(&q.offset)?;
    let lines_only = given(&q.part) == Some("lines");
    let lines = if fragment && !lines_only {
        None
    } else {
        let rows = state
            .db
            .change_lines_page(c.id, outcome, offset, LINES_PAGE)
            .await?;
        Some(LinesFragment::new(&c, outcome, offset, &rows))
    };
    if fragment && lines_only {
        if let Some(l) = lines {
            return Ok(l.into_response());
        }
    }
    let via = Via::parse(q.via.as_deref())?;
    let result = if c.at_rest() {
        let mut r = result_of(&state, &c).await?;
        if let (Some(Via::Portal), Some(t)) = (via, selected_target(&c)) {
            r.back_href = crate::views::portal::return_href(&CorpId::parse(&c.corp_id)?, &t);
            r.back_label = "Back to the line";
        }
        Some(r)
    } else {
        None
    };
    let mut progress = ProgressFragment::new(&c, result);
    if c.state == ChangeState::Running {
        // Calls started without an answer yet: their lines are with Sentinel now.
        let started = state
            .db
            .job_started_unrecorded(c.id)
            .await
            .unwrap_or_default();
        let in_flight = i64::try_from(started.len() * crate::actions::CHUNK_SIZE).unwrap_or(0);
        progress = progress.with_pace(&c, in_flight, time::OffsetDateTime::now_utc());
    }
    if fragment {
        if given(&q.seen).is_some_and(|s| s != c.state.as_str()) {
            // Its buttons (retry, revert, approve, cancel) follow the state: the page reloads.
            return Ok((axum_htmx::HxRefresh(true), progress).into_response());
        }
        return Ok(progress.into_response());
    }
    let corp = CorpId::parse(&c.corp_id)?;
    let kind = ActionKind::from_slug(&c.action);
    // Approve / reject: a request waiting, and a user the scope table lets decide it.
    // (An import needs the scope of every column it changes.)
    let ops = kind.map(|k| decide::operations(&c, k)).unwrap_or_default();
    let may_decide = c.state == ChangeState::AwaitingApproval
        && !ops.is_empty()
        && ops
            .iter()
            .all(|op| user.principal.can_approve(&c.subject, *op, &corp));
    let may_cancel = matches!(
        c.state,
        ChangeState::AwaitingApproval | ChangeState::Scheduled | ChangeState::NeedsSignIn
    ) && !ops.is_empty()
        && ops
            .iter()
            .all(|op| user.principal.can_cancel(&c.subject, *op, &corp));
    let reverse_href =
        kind.and_then(|k| crate::actions::deferred::reverse_form(&c, k, &user.principal));
    let retry = redo_offer::retry_offer(&c, &user.principal)
        .ok()
        .map(|o| (retry_href(c.id), o));
    let finish = c.state == ChangeState::NeedsSignIn && retry.is_some();
    let (who, created, finished) = ChangePage::header(&c);
    let lines = match lines {
        Some(l) => l,
        None => LinesFragment::new(&c, outcome, offset, &[]),
    };
    Ok(ChangePage {
        layout: Layout::signed_in(change_title(&c), &user.principal, &user.csrf),
        id: c.id.to_string(),
        action: change_title(&c),
        summary: c.summary.clone(),
        selection: selection_named(&state, &user, &c).await,
        corp: c.corp_id.clone(),
        user: who,
        created,
        finished,
        started: c.life.started_at.map(crate::views::changes::utc_time),
        origin: match c.origin {
            Origin::Change => "Change",
            Origin::Retry => "Retry",
            Origin::Revert => "Revert",
        },
        parent_href: c.parent_id.map(change_href),
        csrf: user.csrf.clone(),
        // Stopped for a sign-in: one button sends exactly the lines not sent, in its place.
        finish_href: finish.then(|| retry_href(c.id)),
        retry: retry.filter(|_| !finish),
        revert: redo_offer::revert_offer(&c, &user.principal)
            .ok()
            .map(|o| (revert_href(c.id), o)),
        no_revert: redo_offer::never_revertible(&c),
        progress,
        lines,
        request_reason: c.life.request_reason.clone(),
        approve_href: may_decide.then(|| paths::change_approve(c.id).into()),
        reject_href: may_decide.then(|| paths::change_reject(c.id).into()),
        cancel_href: may_cancel.then(|| paths::change_cancel(c.id).into()),
        reverse_href,
        check: redo_offer::check_offer(&c, &user.principal)
            .map(|o| (paths::change_check(c.id).into(), o)),
        checked: checked_of(&q.checked).map(|k| redo_offer::checked_words(&k)),
    }
    .into_response())
}

/// `POST /changes/{id}/check`: reads the change set's lines of unknown outcome from Sentinel and
/// settles those whose value now says what happened; `303` back to its page, saying what it found.
pub async fn check(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let c = visible(&state, &user, &id).await?;
    if redo_offer::check_offer(&c, &user.principal).is_none() {
        return Err(AppError::BadRequest(
            "There is nothing to check: no line of this change has an unknown outcome.".into(),
        ));
    }
    let found = crate::actions::check::unknown_lines(&state, &user.reader(), &c).await?;
    let to = paths::change_checked(c.id, found.changed, found.not_changed, found.still_unknown);
    Ok(Redirect::to(to.as_str()).into_response())
}

/// A change set's selection named by its first lines (nickname and MDN) and its exact count;
/// before its lines are known (a select-all not yet read), its stored description.
async fn selection_named(state: &AppState, user: &CurrentUser, c: &ChangeSet) -> String {
    use crate::actions::known::{self, NAMED};
    let total = u64::try_from(c.total_lines).unwrap_or_default();
    let by_imei = ActionKind::from_slug(&c.action)
        .is_some_and(|k| k.selection() == crate::actions::catalog::Selection::Imeis);
    let Ok(corp) = CorpId::parse(&c.corp_id) else {
        return c.selection_text.clone();
    };
    if total == 0 || by_imei {
        return c.selection_text.clone();
    }
    let first = match state
        .db
        .change_lines_page(c.id, None, 0, NAMED as u32)
        .await
    {
        Ok(lines) => lines.into_iter().map(|l| l.mdn).collect::<Vec<_>>(),
        Err(_) => return c.selection_text.clone(),
    };
    let names = known::names(state, &user.principal, &user.token, &corp, &first).await;
    let scope = c
        .selection_text
        .starts_with("all ")
        .then_some(c.selection_text.as_str());
    crate::views::selection::named(&names, Some(total), scope)
}

/// `GET /changes/{id}/lines.csv`: every line's result, streamed, each cell formula-guarded.
pub async fn lines_csv(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let c = visible(&state, &user, &id).await?;
    let head = futures::stream::once(async {
        Ok::<_, std::io::Error>("MDN,BEFORE,AFTER,OUTCOME,MESSAGE\r\n".to_owned())
    });
    let rows = state.db.change_lines_stream(c.id).map(|page| match page {
        Ok(lines) => {
            let mut out = String::new();
            for l in lines {
                let cells = [
                    l.mdn.as_str(),
                    l.before_value.as_deref().unwrap_or_default(),
                    l.after_value.as_deref().unwrap_or_default(),
                    l.outcome.as_str(),
                    l.message.as_deref().unwrap_or_default(),
                ];
                let row: Vec<String> = cells.iter().map(|v| csv_cell(v)).collect();
                out.push_str(&row.join(","));
                out.push_str("\r\n");
            }
            Ok(out)
        }
        Err(e) => {
            tracing::error!(error = %e, "change lines CSV stream failed");
            Err(std::io::Error::other("change lines read failed"))
        }
    });
    let mut resp = super::streamed::body(head.chain(rows)).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    let name = format!("attachment; filename=\"change-{}.csv\"", c.id);
    if let Ok(v) = HeaderValue::from_str(&name) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// `GET /jobs/{id}`: the old address of a background change, now its change set.
pub async fn job(Path(id): Path<String>) -> Result<Response, AppError> {
    let id = Uuid::parse_str(&id).map_err(|_| not_found())?;
    Ok(Redirect::to(&change_href(id)).into_response())
}

mod decide;
mod redo;
pub use decide::{approve, cancel, inbox, reject};
pub use redo::{retry, revert};
