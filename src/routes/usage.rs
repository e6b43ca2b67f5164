//! The fleet's history over HTTP (CONTRACT §6): tracking on and off, the usage page, the idle
//! lines as a selection, the proof of use CSV, and drift.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use bytes::Bytes;
use futures::StreamExt;
use time::OffsetDateTime;
use tower_sessions::Session;

use super::edge::{GroupPath, parse_query};
use crate::auth::CurrentUser;
use crate::domain::CorpId;
use crate::error::AppError;
use crate::identity::grant;
use crate::paths;
use crate::state::AppState;
use crate::storage::usage::Tracking;
use crate::usage::report::{self, By, IDLE_DAYS};
use crate::usage::{Day, Zone};
use crate::views::usage::{
    DriftPage, IdleLinesPage, LineHistory, OverviewUsage, UsageInput, UsageLink, UsagePage,
    drift_csv,
};

/// The default range of the usage page, in days.
const DEFAULT_DAYS: i32 = 90;
/// The longest range one page or file covers (ten years).
const MAX_DAYS: i32 = 3660;
/// Drift rows a page lists.
const DRIFT_ROWS: i64 = 5_000;

#[derive(serde::Deserialize, Default)]
pub struct UsageQuery {
    from: Option<String>,
    to: Option<String>,
    by: Option<String>,
    idle_days: Option<String>,
}

/// A usage range and its other choices, parsed at the edge.
struct Range {
    from: Day,
    to: Day,
    by: Option<By>,
    idle_days: u32,
}

impl Range {
    /// The query's range and choices, and today in `USAGE_TIME_ZONE`.
    fn with_today(state: &AppState, raw: Option<&str>) -> Result<(Self, Day), AppError> {
        let zone = &state.config.usage.zone;
        Ok((
            Self::parse(raw, zone)?,
            zone.day_of(OffsetDateTime::now_utc()),
        ))
    }

    fn parse(raw: Option<&str>, zone: &Zone) -> Result<Self, AppError> {
        let q: UsageQuery = parse_query(raw)?;
        let day = |v: &Option<String>, what: &str| -> Result<Option<Day>, AppError> {
            match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                None => Ok(None),
                Some(s) => Day::parse(s).map(Some).ok_or_else(|| {
                    AppError::BadRequest(format!(
                        "“{s}” is not a date for “{what}”: use YYYY-MM-DD."
                    ))
                }),
            }
        };
        let today = zone.day_of(OffsetDateTime::now_utc());
        let to = day(&q.to, "to")?.unwrap_or(today);
        let from = day(&q.from, "from")?.unwrap_or(to.plus(1 - DEFAULT_DAYS));
        if from > to {
            return Err(AppError::BadRequest(format!(
                "The range starts ({}) after it ends ({}).",
                from.iso(),
                to.iso()
            )));
        }
        if to.0 - from.0 >= MAX_DAYS {
            return Err(AppError::BadRequest(
                "The range is longer than ten years: choose a shorter one.".into(),
            ));
        }
        let by = match q.by.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(By::parse(s).map_err(AppError::BadRequest)?),
        };
        let idle_days = match q
            .idle_days
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => 30,
            Some(s) => s
                .parse::<u32>()
                .ok()
                .filter(|d| IDLE_DAYS.contains(d))
                .ok_or_else(|| {
                    AppError::BadRequest(format!(
                        "“{s}” is not an idle threshold: choose 7, 30, 60 or 90 days."
                    ))
                })?,
        };
        Ok(Self {
            from,
            to,
            by,
            idle_days,
        })
    }
}

fn authorize(user: &CurrentUser, corp: &CorpId) -> Result<(), AppError> {
    user.principal.check_usage(corp)?;
    Ok(())
}

/// The monthly cost setting with its currency.
fn cost(state: &AppState) -> Option<(String, u64)> {
    let u = &state.config.usage;
    u.line_monthly_cost.map(|c| (u.currency.clone(), c))
}

#[derive(serde::Deserialize)]
struct TrackingForm {
    enabled: String,
}

/// `POST /devices/{corpId}/tracking` (`enabled=true|false`): starts (or resumes) tracking on the
/// user's sign-in, kept sealed, or stops it. Answers 303 to the usage page.
pub async fn tracking(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    GroupPath(corp): GroupPath,
    body: Bytes,
) -> Result<Response, AppError> {
    user.principal.check_tracking(&corp)?;
    let form: TrackingForm = serde_urlencoded::from_bytes(&body).map_err(|_| {
        AppError::BadRequest(
            "Say whether to track the group: enabled=true or enabled=false.".into(),
        )
    })?;
    match form.enabled.trim() {
        "true" => {
            let g = grant::keep(&state, &session, None).await?;
            state
                .db
                .usage_track_start(
                    corp.as_str(),
                    &user.principal.subject,
                    Some(user.principal.display_name()),
                    g,
                    OffsetDateTime::now_utc(),
                )
                .await?;
        }
        "false" => {
            if let Some(g) = state.db.usage_track_stop(corp.as_str()).await? {
                grant::forget(&state, g).await;
            }
        }
        other => {
            return Err(AppError::BadRequest(format!(
                "“{other}” is neither true nor false: enabled=true starts tracking, enabled=false stops it."
            )));
        }
    }
    // The list pages see the change at once.
    state.tracking.invalidate(corp.as_str());
    Ok(Redirect::to(paths::usage(&corp).as_str()).into_response())
}

/// The group's tracking, if it was ever tracked.
async fn tracked(state: &AppState, corp: &CorpId) -> Result<Option<Tracking>, AppError> {
    Ok(state.db.usage_tracking(corp.as_str()).await?)
}

/// `GET /devices/{corpId}/usage?from=&to=&by=&idle_days=`
pub async fn page(
    State(state): State<AppState>,
    user: CurrentUser,
    GroupPath(corp): GroupPath,
    RawQuery(raw): RawQuery,
) -> Result<Response, AppError> {
    authorize(&user, &corp)?;
    let (r, today) = Range::with_today(&state, raw.as_deref())?;
    let t = tracked(&state, &corp).await?;
    let db = &state.db;
    let (mut days, mut breakdown, mut fg_sums, mut idle, mut samples) =
        (Vec::new(), Vec::new(), Vec::new(), 0, Vec::new());
    let mut first_day = None;
    if let Some(t) = &t {
        let first = db.usage_day_figures(t.gid, 0, 0, today.0).await?;
        first_day = first.first().map(|f| Day(f.day));
        if first_day.is_some() {
            days = report::per_day(db, t.gid, r.from, r.to).await?;
            if let Some(by) = r.by {
                breakdown = report::breakdown(db, t.gid, by, r.from, r.to).await?;
            }
            fg_sums = report::breakdown(db, t.gid, By::FilterGroup, r.from, r.to).await?;
            idle = report::idle(db, t.gid, today, r.idle_days).await?.len();
        }
        samples = db.usage_samples(t.gid, 10).await?;
    }
    Ok(UsagePage::new(UsageInput {
        user: &user.principal,
        csrf: &user.csrf,
        corp: &corp,
        tracking: t.as_ref(),
        from: r.from,
        to: r.to,
        by: r.by,
        idle_days: r.idle_days,
        days,
        breakdown,
        fg_sums,
        idle,
        cost: cost(&state),
        first_day,
        today,
        samples,
    })
    .into_response())
}

/// `GET /devices/{corpId}/usage/idle?idle_days=`: the idle lines as a selection.
pub async fn idle_lines(
    State(state): State<AppState>,
    user: CurrentUser,
    GroupPath(corp): GroupPath,
    RawQuery(raw): RawQuery,
) -> Result<Response, AppError> {
    authorize(&user, &corp)?;
    let (r, today) = Range::with_today(&state, raw.as_deref())?;
    let lines = match tracked(&state, &corp).await? {
        Some(t) => report::idle(&state.db, t.gid, today, r.idle_days).await?,
        None => Vec::new(),
    };
    Ok(IdleLinesPage::new(
        &user.principal,
        &user.csrf,
        &corp,
        r.idle_days,
        &lines,
        cost(&state),
    )
    .into_response())
}

fn attachment(name: &str) -> Result<HeaderValue, AppError> {
    HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .map_err(|e| AppError::Internal(anyhow::anyhow!("content-disposition: {e}")))
}

/// `GET /devices/{corpId}/usage.csv?from=&to=`: proof of use, one row per line, streamed.
pub async fn proof_csv(
    State(state): State<AppState>,
    user: CurrentUser,
    GroupPath(corp): GroupPath,
    RawQuery(raw): RawQuery,
) -> Result<Response, AppError> {
    authorize(&user, &corp)?;
    let r = Range::parse(raw.as_deref(), &state.config.usage.zone)?;
    let name = format!("{corp}-proof-of-use-{}-{}.csv", r.from.iso(), r.to.iso());
    let body: Body = match tracked(&state, &corp).await? {
        // Fused: a compressing body polls again after the end.
        Some(t) => {
            Body::from_stream(report::proof_csv(state.db.clone(), t.gid, r.from, r.to).fuse())
        }
        None => Body::from(report::PROOF_HEADER),
    };
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (header::CONTENT_DISPOSITION, attachment(&name)?),
        ],
        body,
    )
        .into_response())
}

/// `GET /devices/{corpId}/drift`
pub async fn drift(
    State(state): State<AppState>,
    user: CurrentUser,
    GroupPath(corp): GroupPath,
) -> Result<Response, AppError> {
    authorize(&user, &corp)?;
    let t = tracked(&state, &corp).await?;
    let rows = match &t {
        Some(t) => state.db.usage_drift(t.gid, DRIFT_ROWS).await?,
        None => Vec::new(),
    };
    Ok(DriftPage::new(&user.principal, &user.csrf, &corp, t.is_some(), &rows).into_response())
}

/// `GET /devices/{corpId}/drift.csv`
pub async fn drift_file(
    State(state): State<AppState>,
    user: CurrentUser,
    GroupPath(corp): GroupPath,
) -> Result<Response, AppError> {
    authorize(&user, &corp)?;
    let rows = match tracked(&state, &corp).await? {
        Some(t) => state.db.usage_drift(t.gid, i64::MAX).await?,
        None => Vec::new(),
    };
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (
                header::CONTENT_DISPOSITION,
                attachment(&format!("{corp}-drift.csv"))?,
            ),
        ],
        drift_csv(&rows),
    )
        .into_response())
}

/// A line's 90-day strip when its group has history (`None` otherwise, or when it cannot be
/// read: the line page still shows the line).
pub async fn line_history(state: &AppState, corp: &CorpId, digits: &str) -> Option<LineHistory> {
    let mdn: i64 = digits.parse().ok()?;
    let t = tracked(state, corp).await.ok()??;
    let today = state.config.usage.zone.day_of(OffsetDateTime::now_utc());
    match report::line_days(&state.db, t.gid, mdn, today.plus(-89), today).await {
        Ok(days) if days.iter().any(|(_, c)| c.sampled()) => Some(LineHistory::new(corp, &days)),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e, "a line's history could not be read");
            None
        }
    }
}

/// The list's usage link (for whoever may read the history) and whether tracking is paused.
pub async fn list_notice(state: &AppState, user: &CurrentUser, corp: &CorpId) -> Option<UsageLink> {
    user.principal.check_usage(corp).ok()?;
    let paused = matches!(
        super::list_filters::listed_tracking(state, corp).await,
        Ok(Some(t)) if t.state == "needs_sign_in"
    );
    Some(UsageLink {
        href: paths::usage(corp).into(),
        paused,
    })
}

/// The overview's way to the history, for whoever may read it (`None` otherwise, or when the
/// tracking cannot be read: the overview still shows its figures).
pub async fn overview_link(
    state: &AppState,
    user: &CurrentUser,
    corp: &CorpId,
) -> Option<OverviewUsage> {
    user.principal.check_usage(corp).ok()?;
    let t = tracked(state, corp).await.ok()?;
    Some(OverviewUsage::new(
        &user.principal,
        &user.csrf,
        corp,
        t.as_ref(),
    ))
}
