//! `GET /changes/resume`: after signing in again, the preview of the change that was being
//! confirmed when the session ended elsewhere (kept by [`crate::auth::resume`]); it is made only
//! when that preview is confirmed.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::middleware::WriteOrigin;
use crate::paths;
use crate::state::AppState;

/// The kept change's preview, through the action pipeline as a POST without `confirmed`; with
/// nothing kept, the user's home.
pub async fn resume(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    origin: WriteOrigin,
) -> Result<Response, AppError> {
    let Some(kept) = crate::auth::resume::take_kept(&session).await else {
        return Ok(Redirect::to(paths::home().as_str()).into_response());
    };
    let body =
        serde_urlencoded::to_string(&kept.pairs).map_err(|e| AppError::Internal(e.into()))?;
    // The kept group is parsed like a path's: a malformed one is refused the same way.
    let corp = crate::domain::CorpId::parse(&kept.corp)?;
    super::actions::submit(
        State(state),
        user,
        session,
        super::edge::GroupPath(corp.clone()),
        Path((corp.to_string(), kept.action)),
        origin,
        Bytes::from(body),
    )
    .await
}
