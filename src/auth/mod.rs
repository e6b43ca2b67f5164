//! Sign-in (OAuth 2.0 code + PKCE, demo, or Sentinel password), sessions, token refresh and CSRF.
//!
//! - [`oauth`]: the provider's client: code exchange, refresh, revocation (`oauth2` crate)
//! - [`oidc`]: OpenID Connect discovery, ID token validation, userinfo, roles from claims
//! - [`signin`]: `/login` → provider → `/auth/callback`
//! - [`refused`]: the upstream refusing a sign-in: a page right after sign-in, never a loop
//! - [`password`]: the vendor's username/password sign-in
//! - [`session`]: what a session holds, the per-session refresh lock
//! - [`csrf`]: the CSRF check and request-context middleware
//! - [`grant`]: sign-ins kept (sealed) for changes that run later
//! - [`throttle`]: growing delays after failed password sign-ins, per (user, client) and per client

pub mod csrf;
pub mod grant;
pub mod oauth;
pub mod oidc;
pub mod password;
pub mod refused;
pub mod resume;
pub mod session;
pub mod signin;
pub mod throttle;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRequestParts, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer};
use url::Url;

pub use csrf::csrf_and_context;

use crate::config::{Config, IdentityConfig};
use crate::crypto::TokenCipher;
use crate::error::AppError;
use crate::policy::Principal;
use crate::state::AppState;
use crate::storage::Db;
use crate::storage::sessions::AnyStore;
use crate::views::{Layout, MessagePage};
use oauth::OAuthProvider;
use session::{AUTH_KEY, AuthSession, SessionLocks, Tokens, auth_of, stored_auth};

/// Session cookie name over plain http.
pub const COOKIE_NAME: &str = "sentinel_session";
/// Session cookie name over https: `__Host-` pins it to this host, path `/`, Secure.
pub const SECURE_COOKIE_NAME: &str = "__Host-sentinel_session";

/// How often expired sessions are deleted from the store.
const CLEANUP_EVERY: Duration = Duration::from_secs(300);

/// How users sign in.
#[derive(Debug)]
enum Mode {
    OAuth(Arc<OAuthProvider>),
    Password,
}

/// Sign-in configuration and helpers shared by the auth handlers.
#[derive(Debug)]
pub struct AuthState {
    pub store: AnyStore,
    /// Seals tokens at rest (the session store's and the grants').
    pub cipher: TokenCipher,
    mode: Mode,
    /// Per-session refresh locks (one refresh per session at a time in this process).
    pub locks: SessionLocks,
    https: bool,
    absolute: Duration,
    /// Delays after failed password sign-ins, per (user name, client) and per client.
    pub throttle: throttle::LoginThrottle,
    /// The expired-session deletion task, started here and stopped with this state.
    cleanup: tokio::task::JoinHandle<()>,
}

impl Drop for AuthState {
    fn drop(&mut self) {
        self.cleanup.abort();
    }
}

impl AuthState {
    /// Builds the sign-in mode and the session store (sealed with `TOKEN_ENCRYPTION_KEY` or the
    /// generated key file; refused when the database was set up with another key; values of the
    /// first format sealed again for their rows), and spawns the task that deletes expired
    /// sessions every 5 minutes, revoking their tokens.
    pub async fn new(
        config: &Config,
        identity: &IdentityConfig,
        public_url: &Url,
        db: &Db,
    ) -> anyhow::Result<Self> {
        let cipher = TokenCipher::from_config(
            config
                .token_encryption_key
                .as_ref()
                .map(|k| k.expose_secret()),
            &config.data_dir,
        )?;
        let store = AnyStore::new(db, cipher.clone()).await?;
        db.check_key(&cipher).await?;
        let resealed = (
            store.reseal_legacy().await?,
            db.reseal_legacy_grants(&cipher).await?,
        );
        if resealed != (0, 0) {
            tracing::info!(
                sessions = resealed.0,
                grants = resealed.1,
                "sealed values bound to their rows"
            );
        }
        let mode = match identity {
            IdentityConfig::OAuth(cfg) => Mode::OAuth(Arc::new(OAuthProvider::new(
                cfg,
                public_url,
                config.upstream_timeout,
            )?)),
            IdentityConfig::SentinelPassword => Mode::Password,
            IdentityConfig::Demo => {
                anyhow::bail!("the demo identity must be resolved to its OAuth endpoints first")
            }
        };
        let cleanup = tokio::spawn({
            let store = store.clone();
            let provider = match &mode {
                Mode::OAuth(p) => Some(p.clone()),
                Mode::Password => None,
            };
            async move {
                let mut every = tokio::time::interval(CLEANUP_EVERY);
                loop {
                    every.tick().await;
                    sweep_expired(&store, provider.as_deref()).await;
                }
            }
        });
        Ok(Self {
            store,
            cipher,
            mode,
            locks: SessionLocks::default(),
            https: config.is_https(public_url),
            absolute: config.session_absolute,
            throttle: throttle::LoginThrottle::default(),
            cleanup,
        })
    }

    /// Deletes the sessions past their idle expiry and revokes their tokens (also run every
    /// 5 minutes by the task started in [`AuthState::new`]). Returns how many were signed in.
    pub async fn sweep_expired(&self) -> usize {
        sweep_expired(&self.store, self.oauth()).await
    }

    /// Revokes `tokens` at the provider in the background, best effort (an ended session).
    pub fn revoke_in_background(&self, tokens: Tokens) {
        if let Mode::OAuth(p) = &self.mode {
            let p = p.clone();
            tokio::spawn(async move { p.revoke(&tokens).await });
        }
    }

    /// The OAuth provider, unless this console uses the password sign-in.
    pub fn oauth(&self) -> Option<&OAuthProvider> {
        match &self.mode {
            Mode::OAuth(p) => Some(p),
            Mode::Password => None,
        }
    }

    /// The origin sign-out sends the browser to when it ends the provider's session too.
    pub fn sign_out_origin(&self) -> Option<String> {
        self.oauth().and_then(OAuthProvider::issuer_origin)
    }

    pub fn is_password_mode(&self) -> bool {
        matches!(self.mode, Mode::Password)
    }

    /// The session cookie's name.
    pub fn cookie_name(&self) -> &'static str {
        if self.https {
            SECURE_COOKIE_NAME
        } else {
            COOKIE_NAME
        }
    }
}

/// Deletes the expired sessions; revokes the tokens of those that were signed in.
async fn sweep_expired(store: &AnyStore, provider: Option<&OAuthProvider>) -> usize {
    let expired = match store.take_expired().await {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = %e, "deleting expired sessions failed");
            return 0;
        }
    };
    let mut signed_in = 0;
    for record in expired {
        let Some(auth) = record
            .data
            .get(AUTH_KEY)
            .and_then(|v| serde_json::from_value::<AuthSession>(v.clone()).ok())
        else {
            continue;
        };
        signed_in += 1;
        if auth.grant.is_some() {
            // Its tokens now belong to a grant that scheduled changes run with.
            continue;
        }
        tracing::info!(subject = %auth.principal.subject, "session expired (idle); revoking its tokens");
        if let Some(p) = provider {
            p.revoke(&auth.tokens).await;
        }
    }
    signed_in
}

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

/// Refreshes the session's access token, once for all the requests of the session that need
/// it: under the session's lock, the record is re-read from the store (the source of truth,
/// shared by every instance) and the refresh skipped when another request already did it —
/// unless `force` asks for the roles granted now, when a sign-in that can be refreshed is.
/// `None`: the session is over (flushed); the caller sends the user to sign in.
///
/// `rejected`: an access token the upstream answered `401` to; the session is refreshed now even
/// when its clock says the token is still good, unless it already holds another one.
async fn fresh_tokens(
    state: &AppState,
    session: &Session,
    rejected: Option<&str>,
    force: bool,
) -> Result<Option<AuthSession>, AppError> {
    let Some(id) = session.id() else {
        return Ok(None);
    };
    let lock = state.auth.locks.lock_for(id);
    let _guard = lock.lock().await;
    session.load().await?;
    let Some(mut auth) = auth_of(session).await? else {
        return Ok(None);
    };
    let stale = rejected.is_some_and(|r| auth.tokens.access.expose() == r);
    let refreshable =
        auth.grant.is_some() || (state.auth.oauth().is_some() && auth.tokens.refresh.is_some());
    let wanted = stale || auth.tokens.expiring(OffsetDateTime::now_utc()) || (force && refreshable);
    if !wanted {
        // Another request refreshed while this one waited (or nothing can be refreshed).
        return Ok(Some(auth));
    }
    if let Some(g) = auth.grant {
        // The session shares its tokens with a grant (a scheduled change): refresh there, once.
        let kept = match rejected {
            Some(r) => grant::renewed(state, g, r).await?,
            None if force => grant::refreshed(state, g).await?,
            None => grant::current(state, g).await?,
        };
        return match kept {
            Some(kept) => {
                auth.principal = kept.principal;
                auth.tokens = kept.tokens;
                auth.generation += 1;
                session.insert(AUTH_KEY, &auth).await?;
                session.save().await?;
                Ok(Some(auth))
            }
            None => {
                session.flush().await?;
                Ok(None)
            }
        };
    }
    let (Some(provider), Some(_)) = (state.auth.oauth(), &auth.tokens.refresh) else {
        tracing::info!(subject = %auth.principal.subject, "access token expired and cannot be refreshed");
        state.auth.revoke_in_background(auth.tokens);
        session.flush().await?;
        return Ok(None);
    };
    match provider.refresh(&auth.tokens, &auth.principal).await {
        Ok((principal, tokens)) => {
            if principal.roles != auth.principal.roles
                || principal.corp_ids != auth.principal.corp_ids
            {
                tracing::info!(subject = %principal.subject, roles = %principal.roles_label(), "roles or device groups changed at token refresh");
            }
            // Roles and device groups as granted now: a removed role stops working here.
            auth.principal = principal;
            auth.tokens = tokens;
            auth.generation += 1;
            session.insert(AUTH_KEY, &auth).await?;
            // Saved now, under the lock, so that the requests waiting for it see it.
            session.save().await?;
            tracing::debug!(subject = %auth.principal.subject, "access token refreshed");
            Ok(Some(auth))
        }
        Err(why) => {
            // Another instance may have refreshed (and rotated the refresh token) meanwhile.
            if let Some(Some(stored)) = stored_auth(&state.auth.store, &id).await? {
                if stored.generation > auth.generation
                    && !stored.tokens.expiring(OffsetDateTime::now_utc())
                {
                    session.insert(AUTH_KEY, &stored).await?;
                    return Ok(Some(stored));
                }
            }
            tracing::warn!(subject = %auth.principal.subject, reason = %why, "token refresh failed; signing out");
            state.auth.revoke_in_background(auth.tokens);
            session.flush().await?;
            Ok(None)
        }
    }
}

/// The access token of the session `session_id`, read from the shared session store, for every
/// chunk of a background job (also one resumed on an instance that never saw the user's request). An expiring token
/// is refreshed through [`fresh_tokens`] (one refresh per session, under the session's lock).
/// `None`: the session is gone (signed out, expired, past its lifetime, refresh refused).
/// With the token comes the user as the session now describes them, so background work
/// re-checks the latest roles before each upstream call.
pub(crate) async fn session_grant(
    state: &AppState,
    session_id: &str,
) -> Result<Option<(SecretString, Principal)>, AppError> {
    session_tokens(state, session_id, None).await
}

/// [`session_grant`] after the upstream answered `401` to `rejected`: refreshed now (once for
/// every chunk that met the same 401), or `None` when the refresh is refused.
pub(crate) async fn session_renewed(
    state: &AppState,
    session_id: &str,
    rejected: &SecretString,
) -> Result<Option<(SecretString, Principal)>, AppError> {
    session_tokens(state, session_id, Some(rejected.expose_secret())).await
}

async fn session_tokens(
    state: &AppState,
    session_id: &str,
    rejected: Option<&str>,
) -> Result<Option<(SecretString, Principal)>, AppError> {
    use tower_sessions::session_store::SessionStore;
    let Ok(id) = session_id.parse::<tower_sessions::session::Id>() else {
        return Ok(None);
    };
    let record = state
        .auth
        .store
        .load(&id)
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("session store: {e}")))?;
    let Some(record) = record else {
        return Ok(None);
    };
    // Keep the record's own expiry: a job must not extend the user's session when it saves.
    let session = Session::new(
        Some(id),
        std::sync::Arc::new(state.auth.store.clone()),
        Some(Expiry::AtDateTime(record.expiry_date)),
    );
    let Some(auth) = auth_of(&session).await? else {
        return Ok(None);
    };
    let now = OffsetDateTime::now_utc();
    if auth.past_absolute(state.auth.absolute, now) {
        return Ok(None);
    }
    let stale = rejected.is_some_and(|r| auth.tokens.access.expose() == r);
    let auth = if stale || auth.tokens.expiring(now) {
        match fresh_tokens(state, &session, rejected, false).await? {
            Some(a) => a,
            None => return Ok(None),
        }
    } else {
        auth
    };
    Ok(Some((
        SecretString::from(auth.tokens.access.expose().to_owned()),
        auth.principal,
    )))
}

/// The access token as a plain secret (for handlers that only need the token).
pub fn bearer(user: &CurrentUser) -> &str {
    user.token.expose_secret()
}

#[cfg(test)]
mod tests;
