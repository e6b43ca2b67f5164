//! Sentinel refusing a signed-in user's token (401). Right after sign-in, a page says so with a
//! sign-out button: sending the user back to sign in would let the provider sign them in again
//! silently, and be refused again, in a loop. Later in a session the session ends and the user
//! signs in again (a new sign-in is fresh, so this happens at most once in a row). Either way
//! the tokens the console drops are revoked.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;
use tower_sessions::Session;

use crate::error::{AppError, ErrorInfo, SignInRedirect, UpstreamRefused};
use crate::htmx::HtmxContext;
use crate::identity::grant;
use crate::identity::session::{AUTH_KEY, AuthSession, ENDED_ID_TOKEN_KEY, auth_of};
use crate::state::AppState;
use crate::views::{Layout, RefusedPage};

/// A sign-in this young that the upstream refuses is not sent to sign in again.
pub const FRESH: Duration = Duration::from_secs(60);

/// Is this sign-in fresh (made within [`FRESH`])?
pub fn is_fresh(auth: &AuthSession, now: OffsetDateTime) -> bool {
    now < auth.signed_in_at + FRESH
}

/// Middleware (inside the error renderer): handles the responses marked [`UpstreamRefused`].
pub async fn on_upstream_refusal(
    State(state): State<AppState>,
    hx: HtmxContext,
    req: Request,
    next: Next,
) -> Response {
    let session = req.extensions().get::<Session>().cloned();
    let mut resp = next.run(req).await;
    let Some(refused) = resp.extensions_mut().remove::<UpstreamRefused>() else {
        return resp;
    };
    let Some(session) = session else {
        return resp;
    };
    match end_refused(&state, &session).await {
        Ok(Some(csrf)) => {
            let reason = refused.message;
            resp.extensions_mut().remove::<SignInRedirect>();
            if hx.htmx {
                resp.extensions_mut().insert(ErrorInfo {
                    status: StatusCode::UNAUTHORIZED,
                    title: "Sentinel does not accept your sign-in".into(),
                    message: format!("Sentinel does not accept your sign-in: {reason}"),
                    retry_after: None,
                });
                return resp;
            }
            let page = RefusedPage {
                layout: Layout::anonymous("Sentinel does not accept your sign-in", Some(csrf)),
                reason,
            };
            (StatusCode::UNAUTHORIZED, page).into_response()
        }
        Ok(None) => resp,
        Err(e) => e.into_response(),
    }
}

/// Ends the refused sign-in (tokens revoked unless a scheduled change still holds them).
/// `Some(csrf)`: it was fresh; the session stays, signed out, with its CSRF token and the ID
/// token, so that its sign-out can end the provider's session. `None`: sign in again.
async fn end_refused(state: &AppState, session: &Session) -> Result<Option<String>, AppError> {
    let Some(auth) = auth_of(session).await? else {
        return Ok(None);
    };
    let fresh = is_fresh(&auth, OffsetDateTime::now_utc());
    tracing::warn!(subject = %auth.principal.subject, fresh, "Sentinel refused the sign-in's token; signing out");
    if !grant::still_needed(state, auth.grant).await {
        if let Some(p) = state.auth.oauth() {
            p.revoke(&auth.tokens).await;
        }
        if let Some(g) = auth.grant {
            grant::forget(state, g).await;
        }
    }
    if !fresh {
        session.flush().await?;
        return Ok(None);
    }
    session.remove_value(AUTH_KEY).await?;
    if let Some(id_token) = &auth.tokens.id_token {
        session.insert(ENDED_ID_TOKEN_KEY, id_token).await?;
    }
    // Masked for this response, like every token a page shows.
    let csrf = super::csrf::ensure_token(session).await?.masked();
    Ok(Some(csrf))
}
