//! `POST /sentinel/api/v1.0/auth/token`: the vendor's own user name and password sign-in.

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::grant::no_store;
use super::users::user;
use crate::simulator::api::ApiErr;
use crate::simulator::wire::PasswordSignIn;
use crate::simulator::{Simulator, lock};

/// `POST /sentinel/api/v1.0/auth/token`: the vendor's own password sign-in.
pub async fn password_token(State(sim): State<Simulator>, body: Bytes) -> Response {
    let req: PasswordSignIn = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return ApiErr::bad_request(format!(
                "The body must be JSON {{\"username\", \"password\"}}: {e}"
            ))
            .into_response();
        }
    };
    let Some(u) = user(req.username.trim()).filter(|_| req.password == "demo") else {
        return ApiErr::unauthorized("Unknown user name or wrong password.").into_response();
    };
    let ttl = sim.inner.cfg.token_ttl;
    let pair = lock(&sim.inner.idp).issue(u.login, "sentinel-password", ttl);
    no_store(
        axum::Json(json!({
            "token": pair.access,
            "details": {
                "corpId": u.corp_ids.first().copied().unwrap_or_default(),
                "corpIds": u.corp_ids,
                "name": u.name,
                "email": u.email,
                "scope": u.roles.join(" "),
                "accountType": u.account_type,
            }
        }))
        .into_response(),
    )
}
