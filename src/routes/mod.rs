//! HTTP handlers, one module per area, assembled into the console's router.

pub mod actions;
pub mod audit;
pub mod changes;
pub mod devices;
pub mod edge;
pub mod export;
pub mod import;
pub mod list_filters;
pub mod ops;
pub mod overview;
pub mod portal;
pub mod resume;
pub mod streamed;
pub mod usage;

use axum::Router;
use axum::routing::{get, post};

use crate::error::AppError;
use crate::state::AppState;

/// Any address the console does not serve: the product's own "not found" page.
pub async fn not_found() -> AppError {
    AppError::NotFound(
        "There is no page at this address: the link may be mistyped or out of date.".into(),
    )
}

/// Every console route but sign-in (see [`crate::auth::routes`]).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(devices::home))
        .route("/open", get(devices::open))
        .route("/devices/{corp_id}", get(devices::list))
        .route("/devices/{corp_id}/totals", get(devices::totals))
        .route("/devices/{corp_id}/export", get(export::picker))
        .route("/devices/{corp_id}/export.csv", get(export::export_csv))
        .route("/devices/{corp_id}/overview", get(overview::page))
        .route("/devices/{corp_id}/tracking", post(usage::tracking))
        .route("/devices/{corp_id}/usage", get(usage::page))
        .route("/devices/{corp_id}/usage.csv", get(usage::proof_csv))
        .route("/devices/{corp_id}/usage/idle", get(usage::idle_lines))
        .route("/devices/{corp_id}/drift", get(usage::drift))
        .route("/devices/{corp_id}/drift.csv", get(usage::drift_file))
        // The import checks the file's size itself, as it streams (IMPORT_MAX_BYTES).
        .route(
            "/devices/{corp_id}/import",
            get(import::form)
                .post(import::submit)
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/devices/{corp_id}/overview/lines", get(overview::lines))
        .route(
            "/devices/{corp_id}/overview/lines.csv",
            get(overview::lines_csv),
        )
        .route("/devices/{corp_id}/imei/{imei}", get(devices::by_imei))
        .route("/devices/{corp_id}/{mdn}/health", get(devices::health))
        .route("/devices/{corp_id}/line/{mdn}", get(devices::line))
        .route(
            "/devices/{corp_id}/actions/{action}",
            get(actions::show_form).post(actions::submit),
        )
        .route(
            "/devices/{corp_id}/actions/{action}/form",
            post(actions::show_form_posted),
        )
        .route(
            "/devices/{corp_id}/smartspot/{imei}",
            get(actions::smartspot),
        )
        .route("/jobs/{id}", get(changes::job))
        .route("/changes", get(changes::list))
        .route("/changes/inbox", get(changes::inbox))
        .route("/changes/resume", get(resume::resume))
        .route("/changes/{id}", get(changes::page))
        .route("/changes/{id}/lines.csv", get(changes::lines_csv))
        .route("/changes/{id}/retry", post(changes::retry))
        .route("/changes/{id}/revert", post(changes::revert))
        .route("/changes/{id}/check", post(changes::check))
        .route("/changes/{id}/approve", post(changes::approve))
        .route("/changes/{id}/reject", post(changes::reject))
        .route("/changes/{id}/cancel", post(changes::cancel))
        .route("/portal", get(portal::page))
        .route("/portal/{corp_id}/{mdn}", get(portal::card_page))
        .route("/audit", get(audit::page))
        .route("/audit.csv", get(audit::csv))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
}
