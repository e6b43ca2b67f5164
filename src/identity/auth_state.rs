//! The sign-in mode (OAuth provider or Sentinel password), the sealed session store, the
//! per-session refresh locks and the login throttle: the sign-in state held in `AppState`.

use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use url::Url;

use super::oauth::OAuthProvider;
use super::session::{AUTH_KEY, AuthSession, SessionLocks, Tokens};
use super::throttle;
use crate::config::{Config, IdentityConfig};
use crate::crypto::TokenCipher;
use crate::storage::Db;
use crate::storage::sessions::AnyStore;

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
    pub(crate) https: bool,
    pub(crate) absolute: Duration,
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
