//! The HTTP side of the OAuth / OpenID Connect sign-in: `GET /login` to the provider and
//! `GET /auth/callback` back (state, RFC 9207 `iss`, code exchange), storing the new session.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use super::{already_signed_in, safe_next};
use crate::crypto::{constant_time_eq, random_token};
use crate::error::AppError;
use crate::identity::oauth::{Exchanged, OAuthProvider};
use crate::identity::session::{
    AUTH_KEY, AuthSession, CSRF_KEY, MAX_PENDING, PENDING_KEY, PendingLogin, Tokens,
};
use crate::policy::Principal;
use crate::state::AppState;
use crate::views::{Layout, MessagePage};

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    pub next: Option<String>,
}

/// `GET /login?next=/path` (OAuth): remember state + verifier + next, go to the provider.
pub async fn login(
    provider: &OAuthProvider,
    session: &Session,
    next: String,
) -> Result<Response, AppError> {
    let (url, pending) = match provider.start(next).await {
        Ok(started) => started,
        Err(why) => {
            tracing::error!(reason = %why, "cannot start a sign-in");
            return Ok(sign_in_problem(
                StatusCode::BAD_GATEWAY,
                "Identity provider unreachable",
                "The console could not reach the identity provider to sign you in. Try again in a \
                 moment; if this goes on, tell your administrator.",
                "/",
            ));
        }
    };
    let mut list = pending_logins(session).await;
    list.push(pending);
    if list.len() > MAX_PENDING {
        list.drain(..list.len() - MAX_PENDING);
    }
    session.insert(PENDING_KEY, &list).await?;
    Ok(Redirect::to(url.as_str()).into_response())
}

/// The session's sign-ins in progress (none when unreadable).
async fn pending_logins(session: &Session) -> Vec<PendingLogin> {
    session
        .get::<Vec<PendingLogin>>(PENDING_KEY)
        .await
        .ok()
        .flatten()
        .unwrap_or_default()
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    /// RFC 9207: the issuer that sent this answer.
    pub iss: Option<String>,
}

// The code is a credential: keep it out of logs.
impl std::fmt::Debug for CallbackQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackQuery")
            .field("error", &self.error)
            .field("iss", &self.iss)
            .finish_non_exhaustive()
    }
}

fn sign_in_problem(status: StatusCode, heading: &str, message: &str, next: &str) -> Response {
    let page = MessagePage {
        layout: Layout::anonymous(heading, None),
        heading: heading.to_owned(),
        message: message.to_owned(),
        link: Some((crate::paths::login(next).into(), "Sign in again".to_owned())),
    };
    (status, page).into_response()
}

/// `GET /auth/callback?code&state` (or `error=`).
pub async fn callback(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<CallbackQuery>,
) -> Result<Response, AppError> {
    let Some(provider) = state.auth.oauth() else {
        return Err(AppError::NotFound(
            "This console does not use an OAuth sign-in.".into(),
        ));
    };
    let mut list = pending_logins(&session).await;
    let found = q.state.as_deref().and_then(|s| {
        list.iter()
            .position(|p| constant_time_eq(p.state.expose().as_bytes(), s.as_bytes()))
    });
    let Some(i) = found else {
        tracing::warn!("sign-in callback with an unknown state");
        return Ok(sign_in_problem(
            StatusCode::BAD_REQUEST,
            "Sign-in could not be verified",
            "The sign-in could not be verified: it may have expired, or been started in another \
             browser. Nothing was signed in. Please sign in again.",
            "/",
        ));
    };
    // Single use.
    let pending = list.remove(i);
    session.insert(PENDING_KEY, &list).await?;
    if let Err(why) = provider.check_iss(q.iss.as_deref()).await {
        // A mix-up: this answer may come from another provider than the one asked (RFC 9207).
        tracing::warn!(reason = %why, "sign-in callback refused");
        return Ok(sign_in_problem(
            StatusCode::BAD_REQUEST,
            "Sign-in could not be verified",
            "The answer did not come from the identity provider this console uses. Nothing was \
             signed in. Please sign in again.",
            &pending.next,
        ));
    }
    if let Some(err) = q.error.as_deref() {
        let msg = if err == "access_denied" {
            "The sign-in was cancelled or refused by the identity provider.".to_owned()
        } else {
            format!("The identity provider could not sign you in ({err}).")
        };
        return Ok(sign_in_problem(
            StatusCode::FORBIDDEN,
            "Not signed in",
            &msg,
            &pending.next,
        ));
    }
    let Some(code) = q.code else {
        return Ok(sign_in_problem(
            StatusCode::BAD_REQUEST,
            "Sign-in could not be verified",
            "The identity provider sent no authorization code. Please sign in again.",
            &pending.next,
        ));
    };
    let (principal, tokens) = match provider.exchange(code, &pending).await {
        Ok(Exchanged {
            principal: None,
            tokens,
        }) => {
            tracing::warn!("sign-in refused: the identity provider gave neither sub nor email");
            state.auth.revoke_in_background(tokens);
            return Ok(sign_in_problem(
                StatusCode::FORBIDDEN,
                "Sign-in refused",
                "The identity provider did not say who you are (no stable user id and no e-mail \
                 address), so this console cannot keep your jobs and changes apart from other \
                 people's. Nothing was signed in. Ask your administrator to have the identity \
                 provider send `sub` or `email` for this console.",
                &pending.next,
            ));
        }
        Ok(Exchanged {
            principal: Some(p),
            tokens,
        }) => (p, tokens),
        Err(why) => {
            tracing::warn!(reason = %why, "authorization code exchange failed");
            return Ok(sign_in_problem(
                StatusCode::BAD_GATEWAY,
                "Sign-in failed",
                "The identity provider did not accept the sign-in. Please try again.",
                &pending.next,
            ));
        }
    };
    complete_sign_in(&session, principal, tokens).await?;
    Ok(Redirect::to(&pending.next).into_response())
}

/// Stores a new sign-in under a new session id (no fixation) with a new CSRF token.
pub async fn complete_sign_in(
    session: &Session,
    principal: Principal,
    tokens: Tokens,
) -> Result<(), AppError> {
    session.cycle_id().await?;
    session.remove_value(PENDING_KEY).await?;
    tracing::info!(subject = %principal.subject, roles = %principal.roles_label(), "signed in");
    session
        .insert(AUTH_KEY, AuthSession::new(principal, tokens))
        .await?;
    session.insert(CSRF_KEY, random_token()).await?;
    Ok(())
}

/// `GET /login` dispatch lives in `mod.rs`; this is the OAuth branch's signed-in shortcut.
pub async fn login_or_skip(
    state: &AppState,
    session: &Session,
    provider: &OAuthProvider,
    next: Option<String>,
) -> Result<Response, AppError> {
    let next = safe_next(next.as_deref());
    if already_signed_in(state, session).await? {
        return Ok(Redirect::to(&next).into_response());
    }
    login(provider, session, next).await
}
