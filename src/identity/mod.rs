//! Who signed in and how to get their token, below the web: the provider's client, what a
//! session holds, kept grants, token refresh, and the [`caller::Caller`] that services act for.
//!
//! - [`auth_state`]: the sign-in mode, the sealed session store and the per-session locks
//! - [`oauth`]: the provider's client: code exchange, refresh, revocation (`oauth2` crate)
//! - [`oidc`]: OpenID Connect discovery, ID token validation, userinfo, roles from claims
//! - [`session`]: what a session holds, the per-session refresh lock
//! - [`tokens`]: a session's fresh access token, refreshed once per session
//! - [`grant`]: sign-ins kept (sealed) for changes that run later
//! - [`caller`]: the user a service acts for, and where their next token comes from
//! - [`throttle`]: growing delays after failed password sign-ins, per (user, client) and per client
//!
//! The HTTP side (routes, extractors, CSRF, sign-in pages) is `crate::auth`, above.

pub mod auth_state;
pub mod caller;
pub mod grant;
pub mod oauth;
pub mod oidc;
pub mod session;
pub mod throttle;
pub mod tokens;

/// What asking for a user's sign-in can fail with.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// There is no sign-in to act with (signed out, expired, refused).
    #[error("Please sign in.")]
    SignedOut,
    /// The sign-in cannot do what was asked (a message fit to show).
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for IdentityError {
    fn from(e: sqlx::Error) -> Self {
        IdentityError::Internal(e.into())
    }
}

impl From<tower_sessions::session::Error> for IdentityError {
    fn from(e: tower_sessions::session::Error) -> Self {
        IdentityError::Internal(anyhow::anyhow!("session store: {e}"))
    }
}
