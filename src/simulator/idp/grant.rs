//! `/oauth/token` (RFC 6749 §4.1.3 and §6): the code exchange with PKCE and the rotating refresh.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::tokens::{Pair, REUSE_GRACE};
use super::users::{DemoUser, user};
use super::{get, pairs};
use crate::simulator::{Simulator, lock};

pub(super) fn oauth_error(error: &str, description: &str) -> Response {
    let status = if error == "invalid_client" {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::BAD_REQUEST
    };
    no_store(
        (
            status,
            axum::Json(json!({"error": error, "error_description": description})),
        )
            .into_response(),
    )
}

pub(super) fn no_store(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

pub(super) fn token_response(u: &DemoUser, pair: &Pair, ttl: Duration) -> Response {
    let mut body = json!({
        "access_token": pair.access,
        "token_type": "Bearer",
        "expires_in": ttl.as_secs().max(1),
        "refresh_token": pair.refresh,
        "scope": u.roles.join(" "),
        "corp_ids": u.corp_ids,
        "name": u.name,
        "email": u.email,
        "sub": u.login,
    });
    if let (Some(a), Some(obj)) = (u.account_type, body.as_object_mut()) {
        obj.insert("account_type".into(), json!(a));
    }
    no_store((StatusCode::OK, axum::Json(body)).into_response())
}

/// The client id from the form or from HTTP Basic authentication.
pub(super) fn client_id(p: &[(String, String)], headers: &HeaderMap) -> Option<String> {
    if let Some(c) = get(p, "client_id") {
        return Some(c.to_owned());
    }
    let basic = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(basic.trim()).ok()?).ok()?;
    let id = decoded.split(':').next()?;
    let id = serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("x={id}"))
        .ok()
        .and_then(|v| v.into_iter().next().map(|(_, v)| v))
        .unwrap_or_else(|| id.to_owned());
    (!id.is_empty()).then_some(id)
}

/// `POST /oauth/token` (RFC 6749 §4.1.3 and §6).
pub async fn token(State(sim): State<Simulator>, headers: HeaderMap, body: Bytes) -> Response {
    let p = match pairs(&String::from_utf8_lossy(&body)) {
        Ok(p) => p,
        Err(e) => return oauth_error("invalid_request", &e),
    };
    let client = client_id(&p, &headers);
    let ttl = sim.inner.cfg.token_ttl;
    match get(&p, "grant_type") {
        Some("authorization_code") => {
            let (Some(code), Some(verifier)) = (get(&p, "code"), get(&p, "code_verifier")) else {
                return oauth_error(
                    "invalid_request",
                    "code and code_verifier are required (PKCE is mandatory).",
                );
            };
            let Some(client) = client else {
                return oauth_error("invalid_client", "client_id is missing.");
            };
            let mut idp = lock(&sim.inner.idp);
            // A code is single-use: it is gone after any attempt.
            let Some(c) = idp.codes.remove(code) else {
                return oauth_error(
                    "invalid_grant",
                    "The authorization code is unknown or was already used.",
                );
            };
            if c.expires <= Instant::now() {
                return oauth_error("invalid_grant", "The authorization code has expired.");
            }
            if c.client_id != client {
                return oauth_error(
                    "invalid_grant",
                    "The authorization code was issued to another client.",
                );
            }
            if get(&p, "redirect_uri") != Some(c.redirect_uri.as_str()) {
                return oauth_error(
                    "invalid_grant",
                    "redirect_uri does not match the one of the authorization request.",
                );
            }
            let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            if computed != c.challenge {
                return oauth_error(
                    "invalid_grant",
                    "The PKCE code_verifier does not match the code_challenge.",
                );
            }
            let Some(u) = user(c.user) else {
                return oauth_error("invalid_grant", "The user no longer exists.");
            };
            let pair = idp.issue(u.login, &client, ttl);
            token_response(u, &pair, ttl)
        }
        Some("refresh_token") => {
            let Some(rt) = get(&p, "refresh_token") else {
                return oauth_error("invalid_request", "refresh_token is required.");
            };
            let mut idp = lock(&sim.inner.idp);
            let Some(found) = idp.refresh.get(rt) else {
                return oauth_error(
                    "invalid_grant",
                    "The refresh token is unknown, expired or was revoked.",
                );
            };
            if let Some(c) = &client {
                if *c != found.client_id {
                    return oauth_error(
                        "invalid_grant",
                        "The refresh token was issued to another client.",
                    );
                }
            }
            let (login, client_id) = (found.user, found.client_id.clone());
            let Some(u) = user(login) else {
                return oauth_error("invalid_grant", "The user no longer exists.");
            };
            match &found.used {
                Some((at, pair)) if at.elapsed() <= REUSE_GRACE => {
                    // A racing instance: same answer as the first use.
                    let pair = pair.clone();
                    if idp.access.contains_key(&pair.access) {
                        return token_response(u, &pair, ttl);
                    }
                    oauth_error("invalid_grant", "The refresh token was revoked.")
                }
                Some(_) => oauth_error(
                    "invalid_grant",
                    "The refresh token was already used (it rotates on every refresh).",
                ),
                None => {
                    let pair = idp.issue(login, &client_id, ttl);
                    if let Some(old) = idp.refresh.get_mut(rt) {
                        old.used = Some((Instant::now(), pair.clone()));
                    }
                    token_response(u, &pair, ttl)
                }
            }
        }
        Some(other) => oauth_error(
            "unsupported_grant_type",
            &format!("grant_type “{other}” is not supported."),
        ),
        None => oauth_error("invalid_request", "grant_type is required."),
    }
}
