//! Sign-in (OAuth 2.0 code + PKCE, demo, or Sentinel password), sessions, token refresh and CSRF.

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use secrecy::SecretString;
use tower_sessions::SessionManagerLayer;
use url::Url;

use crate::config::{Config, IdentityConfig};
use crate::error::AppError;
use crate::policy::Principal;
use crate::startup::AppState;
use crate::storage::Db;
use crate::storage::sessions::AnyStore;

/// Sign-in configuration and helpers shared by the auth handlers.
#[derive(Debug)]
pub struct AuthState {
    pub store: AnyStore,
}

impl AuthState {
    pub async fn new(
        _config: &Config,
        _identity: &IdentityConfig,
        _public_url: &Url,
        db: &Db,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            store: AnyStore::new(db).await?,
        })
    }
}

/// `/login`, `/auth/callback`, `/logout`.
pub fn routes() -> Router<AppState> {
    Router::new()
}

/// The session layer (cookie settings from the public URL).
pub fn session_layer(state: &AppState) -> SessionManagerLayer<AnyStore> {
    SessionManagerLayer::new(state.auth.store.clone())
}

/// Middleware: CSRF check on POSTs and the CSRF token in request extensions for templates.
pub async fn csrf_and_context(
    State(_state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    next.run(req).await
}

/// The signed-in user of a request, with a fresh access token.
#[derive(Clone)]
pub struct CurrentUser {
    pub principal: Principal,
    pub token: SecretString,
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

impl axum::extract::FromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Err(AppError::SignInRequired {
            next: parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_else(|| "/".into()),
        })
    }
}
