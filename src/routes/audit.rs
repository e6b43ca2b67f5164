//! The audit log over HTTP: `GET /audit` (filtered, paged) and `GET /audit.csv` (same filters, streamed).
//!
//! Who sees what comes from the scope table ([`crate::policy::Principal::audit_view`]): by
//! default every device group the reader may open, or the one they pick among them.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

use crate::actions::ActionKind;
use crate::auth::CurrentUser;
use crate::domain::CorpId;
use crate::error::AppError;
use crate::paths;
use crate::policy::AuditScope;
use crate::state::AppState;
use crate::storage::audit::{AuditFilter, audit_csv_header, audit_csv_row};
use crate::views::Layout;
use crate::views::audit::{AuditPage, AuditRow, Choice};

use super::edge::parse_query;

const PAGE: u32 = 50;

#[derive(Debug, Default, serde::Deserialize)]
pub struct AuditQuery {
    user: Option<String>,
    action: Option<String>,
    #[serde(rename = "corpId")]
    corp_id: Option<String>,
    from: Option<String>,
    to: Option<String>,
    offset: Option<String>,
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn date(v: &Option<String>, what: &str) -> Result<Option<time::Date>, AppError> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    given(v)
        .map(|s| {
            time::Date::parse(s, &fmt).map_err(|_| {
                AppError::BadRequest(format!("“{s}” is not a {what} date (YYYY-MM-DD)."))
            })
        })
        .transpose()
}

/// The filter the user asked for, narrowed to what they may see.
fn filter_for(user: &CurrentUser, q: &AuditQuery) -> Result<AuditFilter, AppError> {
    let mut f = AuditFilter {
        subject: given(&q.user).map(str::to_owned),
        action: match given(&q.action) {
            Some(a) => Some(
                ActionKind::from_slug(a)
                    .ok_or_else(|| AppError::BadRequest(format!("“{a}” is not an action.")))?
                    .slug()
                    .to_owned(),
            ),
            None => None,
        },
        corp_id: None,
        corp_ids: None,
        from: date(&q.from, "start")?,
        to: date(&q.to, "end")?,
        offset: match given(&q.offset) {
            Some(s) => s
                .parse()
                .map_err(|_| AppError::BadRequest(format!("“{s}” is not a valid offset.")))?,
            None => 0,
        },
        limit: PAGE,
    };
    let asked = given(&q.corp_id).map(CorpId::parse).transpose()?;
    let view = user
        .principal
        .audit_view(asked)
        .map_err(|r| AppError::Forbidden(r.0))?;
    f.corp_id = view.corp_id.map(|c| c.to_string());
    f.corp_ids = view
        .within
        .map(|g| g.iter().map(ToString::to_string).collect());
    if let Some(s) = view.only_subject {
        f.subject = Some(s);
    }
    Ok(f)
}

/// `GET /audit`
pub async fn page(
    State(state): State<AppState>,
    user: CurrentUser,
    RawQuery(raw): RawQuery,
) -> Result<Response, AppError> {
    let q: AuditQuery = parse_query(raw.as_deref())?;
    let f = filter_for(&user, &q)?;
    let (records, total) = state.db.audit_list(&f).await?;
    // Only people who changed something in the groups the reader may open (their own, if none listed).
    let users = match user.principal.audit_scope() {
        AuditScope::Groups(g) => {
            let g: Vec<String> = g.iter().map(|c| c.to_string()).collect();
            state.db.audit_distinct_users(Some(&g)).await?
        }
        AuditScope::OwnOnly => state
            .db
            .audit_distinct_users(None)
            .await?
            .into_iter()
            .filter(|(s, _)| *s == user.principal.subject)
            .collect(),
    };
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let shown = records.len() as u64;
    let scope = user.principal.audit_scope();
    let (groups, group_text, scope_note) = match &scope {
        AuditScope::Groups(g) => (
            g.iter()
                .map(|c| Choice {
                    value: c.to_string(),
                    label: c.to_string(),
                    selected: f.corp_id.as_deref() == Some(c.as_str()),
                })
                .collect(),
            None,
            match &f.corp_id {
                Some(c) => format!("Changes made through this console in device group {c}."),
                None => format!(
                    "Changes made through this console in every device group you may open ({}).",
                    g.iter().map(CorpId::as_str).collect::<Vec<_>>().join(", ")
                ),
            },
        ),
        AuditScope::OwnOnly => (
            Vec::new(),
            Some(f.corp_id.clone().unwrap_or_default()),
            "Your sign-in does not list your device groups, so only your own changes are shown."
                .to_owned(),
        ),
    };
    let page = AuditPage {
        layout: Layout::signed_in("Audit log", &user.principal, &user.csrf),
        rows: with_parents(&state, records.iter().map(AuditRow::from).collect()).await,
        total,
        from_n: if shown == 0 { 0 } else { f.offset + 1 },
        to_n: f.offset + shown,
        users: users
            .into_iter()
            .map(|(s, n)| Choice {
                selected: f.subject.as_deref() == Some(s.as_str()),
                label: n.unwrap_or_else(|| s.clone()),
                value: s,
            })
            .collect(),
        actions: ActionKind::all()
            .map(|a| Choice {
                value: a.slug().into(),
                label: a.label().into(),
                selected: f.action.as_deref() == Some(a.slug()),
            })
            .collect(),
        groups,
        group_text,
        date_from: f.from.and_then(|d| d.format(&fmt).ok()).unwrap_or_default(),
        date_to: f.to.and_then(|d| d.format(&fmt).ok()).unwrap_or_default(),
        prev_href: (f.offset > 0)
            .then(|| paths::audit(&f, Some(f.offset.saturating_sub(u64::from(PAGE))))),
        next_href: (f.offset + shown < total).then(|| paths::audit(&f, Some(f.offset + shown))),
        csv_href: paths::audit_csv(&f),
        form_href: paths::audit_form(),
        scope_note,
    };
    Ok(page.into_response())
}

/// `GET /audit.csv`: every matching record (no paging), streamed.
pub async fn csv(
    State(state): State<AppState>,
    user: CurrentUser,
    RawQuery(raw): RawQuery,
) -> Result<Response, AppError> {
    let q: AuditQuery = parse_query(raw.as_deref())?;
    let mut f = filter_for(&user, &q)?;
    f.offset = 0;
    let records = state.db.audit_stream_all(&f).await;
    let mut header = audit_csv_header().to_owned();
    if !header.ends_with('\n') {
        header.push_str("\r\n");
    }
    let head = futures::stream::once(async move { Ok::<_, std::io::Error>(header) });
    let rows = records.map(|r| match r {
        Ok(rec) => {
            let mut line = audit_csv_row(&rec);
            if !line.ends_with('\n') {
                line.push_str("\r\n");
            }
            Ok(line)
        }
        Err(e) => {
            tracing::error!(error = %e, "audit CSV stream failed");
            Err(std::io::Error::other("audit log read failed"))
        }
    });
    let mut resp = super::streamed::body(head.chain(rows)).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"audit-log.csv\""),
    );
    Ok(resp)
}

/// Each retry's and revert's row names the change it redoes (read from its change set).
async fn with_parents(state: &AppState, mut rows: Vec<AuditRow>) -> Vec<AuditRow> {
    use crate::storage::changes::Origin;
    let mut seen: std::collections::HashMap<uuid::Uuid, Option<(Origin, uuid::Uuid)>> =
        std::collections::HashMap::new();
    for r in &mut rows {
        let Some(id) = r.change_id else { continue };
        if let std::collections::hash_map::Entry::Vacant(e) = seen.entry(id) {
            let parent = match state.db.change_get(id).await {
                Ok(Some(c)) => c.parent_id.map(|p| (c.origin, p)),
                _ => None,
            };
            e.insert(parent);
        }
        if let Some(Some((origin, parent))) = seen.get(&id) {
            r.redo_of = Some(crate::views::audit::RedoOf::new(*origin, *parent));
        }
    }
    rows
}
