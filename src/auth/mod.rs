//! The HTTP side of signing in: `/login`, `/auth/callback`, `/logout`, the [`CurrentUser`]
//! extractor, the session cookie layer and CSRF. What a session holds and how its tokens are
//! refreshed lives below, in `crate::identity`.
//!
//! - [`signin`]: `/login` → provider → `/auth/callback`
//! - [`refused`]: the upstream refusing a sign-in: a page right after sign-in, never a loop
//! - [`password`]: the vendor's username/password sign-in
//! - [`csrf`]: the CSRF check and request-context middleware

pub mod csrf;
pub mod form_post;
pub mod password;
pub mod refused;
pub mod resume;
pub mod signin;

use std::time::Duration;

use axum::Router;
use axum::extract::{FromRequestParts, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer};

pub use csrf::csrf_and_context;

use crate::error::AppError;
use crate::identity::caller::Caller;
use crate::identity::grant;
use crate::identity::session::{self, auth_of};
use crate::identity::tokens::fresh_tokens;
use crate::policy::Principal;
use crate::state::AppState;
use crate::storage::sessions::AnyStore;
use crate::views::{Layout, MessagePage};

/// `next` made safe: a local path (single leading `/`, no `//` or `/\`, no scheme, no control
/// characters), else `/`. Stops open redirects through `/login?next=`.
pub fn safe_next(next: Option<&str>) -> String {
    let Some(n) = next else {
        return crate::paths::home().into();
    };
    let ok = n.starts_with('/')
        && !n.starts_with("//")
        && !n.starts_with("/\\")
        && !n.chars().any(|c| c.is_control() || c == '\\')
        && n.len() <= 2048;
    if ok {
        n.to_owned()
    } else {
        crate::paths::home().into()
    }
}

/// Signed in, and within the absolute lifetime?
pub(crate) async fn already_signed_in(
    state: &AppState,
    session: &Session,
) -> Result<bool, AppError> {
    Ok(auth_of(session)
        .await?
        .is_some_and(|a| !a.past_absolute(state.auth.absolute, OffsetDateTime::now_utc())))
}

/// `/login`, `/auth/callback`, `/logout`, `/signed-out`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(login).post(password::submit))
        .route("/auth/callback", get(signin::callback))
        .route("/logout", post(logout))
        .route("/signed-out", get(signed_out))
}

/// `GET /login?next=/path`: to the provider (OAuth) or the password form; straight to `next`
/// when already signed in.
async fn login(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<signin::LoginQuery>,
) -> Result<Response, AppError> {
    match state.auth.oauth() {
        Some(provider) => signin::login_or_skip(&state, &session, provider, q.next).await,
        None => {
            let next = safe_next(q.next.as_deref());
            if already_signed_in(&state, &session).await? {
                return Ok(Redirect::to(&next).into_response());
            }
            password::form(&session, next).await
        }
    }
}

/// `POST /logout` (CSRF-checked by the middleware): revoke where the provider can, end the
/// session, and the provider's session too when it offers an end-session endpoint.
async fn logout(State(state): State<AppState>, session: Session) -> Result<Response, AppError> {
    let mut id_token = session
        .get::<session::Secret>(session::ENDED_ID_TOKEN_KEY)
        .await
        .ok()
        .flatten();
    let was_signed_in = id_token.is_some();
    if let Some(auth) = auth_of(&session).await? {
        // Tokens a scheduled change still needs are kept (sealed, in its grant), not revoked.
        if !grant::still_needed(&state, auth.grant).await {
            if let Some(provider) = state.auth.oauth() {
                provider.revoke(&auth.tokens).await;
            }
            if let Some(g) = auth.grant {
                grant::forget(&state, g).await;
            }
        }
        tracing::info!(subject = %auth.principal.subject, "signed out");
        id_token = auth.tokens.id_token;
    }
    session.flush().await?;
    if let Some(provider) = state.auth.oauth() {
        if was_signed_in || id_token.is_some() {
            if let Some(url) = provider.end_session_url(id_token.as_ref()).await {
                return Ok(Redirect::to(url.as_str()).into_response());
            }
        }
    }
    Ok(Redirect::to(crate::paths::signed_out().as_str()).into_response())
}

/// `GET /signed-out`.
async fn signed_out() -> MessagePage {
    MessagePage {
        layout: Layout::anonymous("Signed out", None),
        heading: "You are signed out".into(),
        message: "Your session has ended and its tokens were revoked where the identity provider allows it."
            .into(),
        link: Some((crate::paths::login_form().into(), "Sign in again".into())),
    }
}

/// The session layer: opaque id cookie (`HttpOnly`, `SameSite=Lax`, path `/`; `Secure` and the
/// `__Host-` name over https). The idle expiry is set by [`csrf::csrf_and_context`] as a fixed
/// date moved forward at most every `touch_interval`: tower-sessions' `OnInactivity` would write
/// the session to the database on every request.
pub fn session_layer(state: &AppState) -> SessionManagerLayer<AnyStore> {
    SessionManagerLayer::new(state.auth.store.clone())
        .with_name(state.auth.cookie_name())
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.auth.https)
        .with_path("/")
}

/// The session's idle expiry, `idle` from now.
pub(crate) fn idle_expiry(idle: Duration) -> Expiry {
    let idle = time::Duration::try_from(idle).unwrap_or(time::Duration::minutes(30));
    Expiry::AtDateTime(time::OffsetDateTime::now_utc() + idle)
}

/// The signed-in user of a request, with a fresh access token.
#[derive(Clone)]
pub struct CurrentUser {
    pub principal: Principal,
    pub token: SecretString,
    /// The CSRF token for this response: the session's secret, masked afresh.
    pub csrf: String,
}

impl std::fmt::Debug for CurrentUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CurrentUser")
            .field("principal", &self.principal)
            .field("token", &"[redacted]")
            .finish()
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Ok(hx) = crate::htmx::HtmxContext::from_request_parts(parts, state).await;
        let here = hx.return_target(&parts.uri);
        let sign_in = || AppError::SignInRequired { next: here.clone() };
        let session = parts
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("session layer missing")))?;
        let Some(auth) = auth_of(&session).await? else {
            return Err(sign_in());
        };
        let now = OffsetDateTime::now_utc();
        if auth.past_absolute(state.auth.absolute, now) {
            tracing::info!(subject = %auth.principal.subject, "session reached its absolute lifetime");
            state.auth.revoke_in_background(auth.tokens);
            session.flush().await?;
            return Err(sign_in());
        }
        let auth = if auth.tokens.expiring(now) {
            match fresh_tokens(state, &session, None, false).await? {
                Some(a) => a,
                None => return Err(sign_in()),
            }
        } else {
            auth
        };
        // Masked afresh for this response (BREACH).
        let csrf = csrf::ensure_token(&session).await?.masked();
        Ok(CurrentUser {
            principal: auth.principal,
            token: SecretString::from(auth.tokens.access.expose().to_owned()),
            csrf,
        })
    }
}

impl CurrentUser {
    /// The user as the services below the web act for them, with the request's session (where
    /// background work reads their tokens, and a scheduled change keeps its sign-in).
    pub fn caller(&self, session: &Session) -> Caller {
        Caller {
            principal: self.principal.clone(),
            token: self.token.clone(),
            session: Some(session.clone()),
        }
    }

    /// The user for work done within this request only (previews, plans): no session kept.
    pub fn reader(&self) -> Caller {
        Caller {
            principal: self.principal.clone(),
            token: self.token.clone(),
            session: None,
        }
    }

    /// The same user with the roles and device groups the identity provider grants now: the
    /// sign-in is refreshed first wherever it can be, for a decision that must not rest on
    /// roles up to one token lifetime old (approving or rejecting someone's change). A refused
    /// refresh ends the session, and the user is sent to sign in (to come back to `next`).
    pub async fn reverified(
        self,
        state: &AppState,
        session: &Session,
        next: &str,
    ) -> Result<Self, AppError> {
        match fresh_tokens(state, session, None, true).await? {
            Some(auth) => Ok(CurrentUser {
                principal: auth.principal,
                token: SecretString::from(auth.tokens.access.expose().to_owned()),
                csrf: self.csrf,
            }),
            None => Err(AppError::SignInRequired { next: next.into() }),
        }
    }
}

/// The access token as a plain secret (for handlers that only need the token).
pub fn bearer(user: &CurrentUser) -> &str {
    user.token.expose_secret()
}

#[cfg(test)]
mod tests;
