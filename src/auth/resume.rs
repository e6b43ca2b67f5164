//! A change confirmed after its session ended elsewhere: its form is kept in the new session
//! (never its confirmation, never a password), the user is asked to sign in, and afterwards sees
//! the change's preview again, to confirm afresh.

use axum::body::to_bytes;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use super::form_post::{FORM_LIMIT, is_form};
use crate::error::{ErrorInfo, render_error};
use crate::paths;
use crate::state::AppState;

/// Session key of the kept change.
const KEPT_KEY: &str = "kept_change";

/// Form fields never kept: the token of the ended session, the confirmation (the preview must be
/// confirmed again) and secrets.
const DROPPED: &[&str] = &[
    "csrf_token",
    "confirmed",
    "acknowledged",
    "wifiPassword",
    "wifiPasswordRef",
];

/// A change's form, kept while its author signs in again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeptChange {
    pub corp: String,
    pub action: String,
    pub pairs: Vec<(String, String)>,
}

/// Is `req` a browser's own form POST to the action pipeline (same origin, as the browser says)?
/// Only such a request is kept when it comes without a session: a form from another site is not.
pub fn is_keepable(req: &Request) -> bool {
    req.method() == Method::POST
        && is_form(req.headers())
        && paths::action_post(req.uri().path()).is_some()
        && req
            .headers()
            .get("sec-fetch-site")
            .is_some_and(|v| v.as_bytes() == b"same-origin")
}

/// Keeps the change `req` posted in `session` and answers "You were signed out — sign in to
/// finish this change" (page or htmx fragment), whose sign-in leads to its preview.
pub async fn keep_and_ask(
    state: &AppState,
    session: &Session,
    req: Request,
    htmx: bool,
    csrf: Option<String>,
) -> Response {
    let path = req.uri().path().to_owned();
    let Some((corp, action)) = paths::action_post(&path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Ok(bytes) = to_bytes(req.into_body(), FORM_LIMIT).await else {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            "The form is too large (limit 1 MiB).",
        )
            .into_response();
    };
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
    let kept = KeptChange {
        corp: corp.to_owned(),
        action: action.to_owned(),
        pairs: pairs
            .into_iter()
            .filter(|(k, _)| !DROPPED.contains(&k.as_str()))
            .collect(),
    };
    if let Err(e) = session.insert(KEPT_KEY, &kept).await {
        tracing::warn!(error = %e, "could not keep a change for after sign-in");
    }
    session.set_expiry(Some(super::idle_expiry(state.config.session_idle)));
    tracing::info!(%path, "a change was confirmed without a session: kept for after sign-in");
    let info = ErrorInfo {
        status: StatusCode::UNAUTHORIZED,
        title: "You were signed out — sign in to finish this change".into(),
        message: "Nothing was changed. After you sign in you will see this change's preview \
                  again, and it is made only when you confirm it."
            .into(),
        retry_after: None,
    };
    render_error(&info, htmx, csrf, paths::resume_change().as_str())
}

/// The change kept in `session`, taken out (it opens once).
pub async fn take_kept(session: &Session) -> Option<KeptChange> {
    match session.remove::<KeptChange>(KEPT_KEY).await {
        Ok(k) => k,
        Err(e) => {
            tracing::warn!(error = %e, "could not read a kept change");
            None
        }
    }
}
