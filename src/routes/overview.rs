//! The device group overview: the page of figures, a figure's lines as a selection, and their CSV.
//!
//! All three read one cached [`Overview`] (per user and group, see [`crate::overview::cache`]);
//! a miss streams the group's CSV export once and aggregates it as it arrives.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::auth::CurrentUser;
use crate::csv::csv_cell;
use crate::domain::{CorpId, ListQuery};
use crate::error::AppError;
use crate::overview::{
    Aggregator, Dimension, EXPORT_COLUMNS, Figure, IdleMb, LineRec, Overview, aggregate, hundredths,
};
use crate::state::AppState;
use crate::upstream::{ListParams, UpstreamError};
use crate::views::Layout;
use crate::views::overview::{OverviewFigures, OverviewPage, SelectionPage};

use super::edge::{GroupPath, parse_query};
use crate::htmx::{VaryHx, WantsFragment};
use crate::paths;
use crate::upstream::with_idle_timeout;

/// Rows per chunk of a figure's CSV.
const CSV_CHUNK_ROWS: usize = 1024;

#[derive(serde::Deserialize, Default)]
pub struct OverviewQuery {
    idle_mb: Option<String>,
    refresh: Option<String>,
}

#[derive(serde::Deserialize, Default)]
pub struct FigureQuery {
    figure: Option<String>,
    value: Option<String>,
    bucket: Option<String>,
    idle_mb: Option<String>,
}

impl FigureQuery {
    fn parse(raw: Option<&str>) -> Result<(Figure, IdleMb), AppError> {
        let q: FigureQuery = parse_query(raw)?;
        let idle = IdleMb::parse(q.idle_mb.as_deref())?;
        let name = q.figure.as_deref().ok_or_else(|| {
            AppError::BadRequest("Which figure? The address has no figure.".into())
        })?;
        let fig = Figure::parse(name, q.value.as_deref(), q.bucket.as_deref())?;
        Ok((fig, idle))
    }
}

/// Parses the group and applies the overview's rule from the scope table, before any upstream call.
fn authorize(user: &CurrentUser, corp: &CorpId) -> Result<(), AppError> {
    user.principal.check_overview(corp)?;
    Ok(())
}

/// The cached overview, or a new one from one streamed export (`refresh`: always new).
async fn load(
    state: &AppState,
    user: &CurrentUser,
    corp: &CorpId,
    idle: IdleMb,
    refresh: bool,
) -> Result<Arc<Overview>, AppError> {
    let cache = &state.overview_cache;
    let subject = &user.principal.subject;
    if !refresh {
        // A truncated table cannot answer another idle threshold exactly: compute again.
        if let Some(ov) = cache
            .get(subject, corp.as_str())
            .filter(|o| !o.truncated() || o.idle_mb == idle)
        {
            return Ok(ov);
        }
    }
    let generation = cache.generation();
    let params = ListParams::from(&ListQuery::default());
    let exported = state
        .upstream
        .export_devices_csv(&user.token, corp, &params, &EXPORT_COLUMNS)
        .await;
    let ov = match exported {
        Ok(stream) => {
            aggregate(
                with_idle_timeout(stream, state.config.upstream_timeout),
                idle,
            )
            .await?
        }
        // The upstream's "no devices" quirk is an empty group, not an error.
        Err(UpstreamError::Status { message, .. })
            if message.to_ascii_uppercase().contains("NO DEVICES FOUND") =>
        {
            Aggregator::new(idle).finish()?
        }
        Err(e) => return Err(e.into()),
    };
    tracing::info!(
        corp = %corp,
        lines = ov.total,
        ms = ov.elapsed.as_millis() as u64,
        "overview computed"
    );
    let ov = Arc::new(ov);
    cache.put(subject, corp.as_str(), generation, Arc::clone(&ov));
    Ok(ov)
}

/// `GET /devices/{corpId}/overview?idle_mb=&refresh=1`: the figures (fragment for htmx).
pub async fn page(
    State(state): State<AppState>,
    user: CurrentUser,
    GroupPath(corp): GroupPath,
    RawQuery(raw): RawQuery,
    WantsFragment(fragment): WantsFragment,
) -> Result<Response, AppError> {
    authorize(&user, &corp)?;
    let q: OverviewQuery = parse_query(raw.as_deref())?;
    let idle = IdleMb::parse(q.idle_mb.as_deref())?;
    let refresh = matches!(q.refresh.as_deref(), Some("1" | "true"));
    let ov = load(&state, &user, &corp, idle, refresh).await?;
    let figures = OverviewFigures::new(&corp, &ov, idle);
    if fragment {
        return Ok((VaryHx, figures).into_response());
    }
    Ok((
        VaryHx,
        OverviewPage {
            layout: Layout::signed_in(format!("{corp} overview"), &user.principal, &user.csrf),
            corp: corp.to_string(),
            list_href: paths::group(&corp).into(),
            figures,
            usage: super::usage::overview_link(&state, &user, &corp).await,
        },
    )
        .into_response())
}

/// `GET /devices/{corpId}/overview/lines?figure=…`: a figure's lines, ready for a bulk action.
pub async fn lines(
    State(state): State<AppState>,
    user: CurrentUser,
    GroupPath(corp): GroupPath,
    RawQuery(raw): RawQuery,
) -> Result<Response, AppError> {
    authorize(&user, &corp)?;
    let (fig, idle) = FigureQuery::parse(raw.as_deref())?;
    let ov = load(&state, &user, &corp, idle, false).await?;
    Ok(SelectionPage::new(&user.principal, &user.csrf, &corp, &ov, &fig, idle).into_response())
}

/// The CSV's columns: the export's own names, so the file can go back through an import.
const CSV_HEADER: &str = "MDN,STATUS,FILTER_GROUP,NETWORK,DEVICE_NAME,LAST_30_DAYS_USED,MONTHLY_AMOUNT_USED,MONTHLY_LIMIT\r\n";

fn csv_row(ov: &Overview, l: &LineRec, out: &mut String) {
    let cells = [
        l.mdn(),
        csv_cell(ov.name(Dimension::Status, l)),
        csv_cell(ov.name(Dimension::FilterGroup, l)),
        csv_cell(ov.name(Dimension::Network, l)),
        csv_cell(ov.name(Dimension::DeviceType, l)),
        hundredths(l.last30),
        hundredths(l.month),
        if l.has_limit() {
            hundredths(l.limit)
        } else {
            String::new()
        },
    ];
    out.push_str(&cells.join(","));
    out.push_str("\r\n");
}

/// `GET /devices/{corpId}/overview/lines.csv?figure=…`: a figure's lines from the cached
/// aggregate, streamed in chunks (a figure can hold most of a large group).
pub async fn lines_csv(
    State(state): State<AppState>,
    user: CurrentUser,
    GroupPath(corp): GroupPath,
    RawQuery(raw): RawQuery,
) -> Result<Response, AppError> {
    authorize(&user, &corp)?;
    let (fig, idle) = FigureQuery::parse(raw.as_deref())?;
    let ov = load(&state, &user, &corp, idle, false).await?;
    let body: Body = match ov.matcher(&fig, idle) {
        // The top list is 20 lines: one chunk.
        None => {
            let mut out = String::from(CSV_HEADER);
            for t in &ov.top {
                csv_row(&ov, &t.rec, &mut out);
            }
            Body::from(out)
        }
        Some(m) => {
            let stream =
                futures::stream::unfold((ov, 0usize, true), move |(ov, at, first)| async move {
                    let table = ov.table();
                    if at >= table.len() && !first {
                        return None;
                    }
                    let mut out = String::new();
                    if first {
                        out.push_str(CSV_HEADER);
                    }
                    let mut i = at;
                    let mut rows = 0;
                    while i < table.len() && rows < CSV_CHUNK_ROWS {
                        if ov.matches(m, &table[i]) {
                            csv_row(&ov, &table[i], &mut out);
                            rows += 1;
                        }
                        i += 1;
                    }
                    Some((
                        Ok::<Bytes, std::io::Error>(Bytes::from(out)),
                        (ov, i, false),
                    ))
                });
            super::streamed::body(stream)
        }
    };
    let date = time::OffsetDateTime::now_utc()
        .date()
        .format(time::macros::format_description!("[year]-[month]-[day]"))
        .unwrap_or_default();
    let slug = fig
        .query()
        .first()
        .map_or_else(|| "lines".to_owned(), |(_, v)| v.clone());
    // A CorpId and the figure slug hold only characters safe in a quoted filename.
    let disposition = HeaderValue::from_str(&format!(
        "attachment; filename=\"{corp}-overview-{slug}-{date}.csv\""
    ))
    .map_err(|e| AppError::Internal(anyhow::anyhow!("content-disposition: {e}")))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response())
}
