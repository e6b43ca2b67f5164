//! `/oauth/revoke` (RFC 7009).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::{get, pairs};
use crate::simulator::{Simulator, lock};

/// `POST /oauth/revoke` (RFC 7009): always 200, whether or not the token was known.
pub async fn revoke(State(sim): State<Simulator>, body: Bytes) -> Response {
    if let Ok(p) = pairs(&String::from_utf8_lossy(&body)) {
        if let Some(t) = get(&p, "token") {
            lock(&sim.inner.idp).revoke(t);
        }
    }
    StatusCode::OK.into_response()
}
