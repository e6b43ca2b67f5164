//! What a signed-in session holds (tokens, principal, times), the absolute lifetime, the idle
//! "touch", and the single-flight token refresh shared by requests of one session.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use tower_sessions::Session;
use tower_sessions::session::Id;
use tower_sessions::session_store::SessionStore;

use super::IdentityError;
use crate::policy::Principal;

/// Session key of [`AuthSession`].
pub const AUTH_KEY: &str = "auth";
/// Session key of the session's CSRF token (a plain string; also set before sign-in for the password form).
pub const CSRF_KEY: &str = "csrf";
/// Session key of the OAuth sign-ins in progress ([`PendingLogin`]s).
pub const PENDING_KEY: &str = "oauth_pending";
/// Session key of the ID token of a sign-in the upstream refused (its tokens revoked, the
/// session signed out): sign-out still ends the provider's session with it.
pub const ENDED_ID_TOKEN_KEY: &str = "ended_id_token";

/// Refresh this long before the access token runs out (at most half its lifetime), so a request
/// never carries a dying token.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(30);

/// A secret (token, PKCE verifier) that serialises into the server-side session store but never
/// shows in `Debug` output or logs.
#[derive(Clone)]
pub struct Secret(pub SecretString);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(SecretString::from(s.into()))
    }
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Only ever written to the session store, which is server-side.
        s.serialize_str(self.0.expose_secret())
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

/// The tokens of a session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tokens {
    pub access: Secret,
    /// `None`: no refresh (password mode, or the provider gave none).
    pub refresh: Option<Secret>,
    /// `None`: the provider did not say; the upstream's 401 ends the session.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// When to refresh: [`REFRESH_MARGIN`] before expiry, or half-way for short-lived tokens
    /// (else a token shorter-lived than the margin would be refreshed on every request).
    #[serde(with = "time::serde::rfc3339::option")]
    pub refresh_after: Option<OffsetDateTime>,
    /// The last validated OpenID Connect ID token: the hint that ends the provider's session.
    #[serde(default)]
    pub id_token: Option<Secret>,
}

impl Tokens {
    /// Tokens received now, valid for `expires_in` when the provider said.
    pub fn received(access: Secret, refresh: Option<Secret>, expires_in: Option<Duration>) -> Self {
        let now = OffsetDateTime::now_utc();
        let at = |d: Duration| time::Duration::try_from(d).ok().map(|d| now + d);
        Self {
            access,
            refresh,
            expires_at: expires_in.and_then(at),
            refresh_after: expires_in.and_then(|d| at(d - (d / 2).min(REFRESH_MARGIN))),
            id_token: None,
        }
    }

    /// Does the access token need refreshing now?
    pub fn expiring(&self, now: OffsetDateTime) -> bool {
        self.refresh_after.is_some_and(|at| at <= now)
    }
}

/// Everything a signed-in session holds (stored under [`AUTH_KEY`]; tokens stay server-side).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthSession {
    pub principal: Principal,
    pub tokens: Tokens,
    #[serde(with = "time::serde::rfc3339")]
    pub signed_in_at: OffsetDateTime,
    /// Last time the session's idle expiry was pushed forward.
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen: OffsetDateTime,
    /// Bumped by every refresh: a higher stored value wins over a stale in-memory copy.
    pub generation: u64,
    /// The grant this session's tokens were sealed into for a scheduled change: refreshes go
    /// through it, so the session and the change never use up each other's refresh token.
    #[serde(default)]
    pub grant: Option<uuid::Uuid>,
}

impl AuthSession {
    pub fn new(principal: Principal, tokens: Tokens) -> Self {
        let now = OffsetDateTime::now_utc();
        Self {
            principal,
            tokens,
            signed_in_at: now,
            last_seen: now,
            generation: 0,
            grant: None,
        }
    }

    /// Past the absolute lifetime (counted from sign-in)?
    pub fn past_absolute(&self, absolute: Duration, now: OffsetDateTime) -> bool {
        now >= self.signed_in_at + absolute
    }
}

/// An OAuth sign-in started by `/login` and not yet completed (stored under [`PENDING_KEY`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingLogin {
    pub state: Secret,
    pub verifier: Secret,
    pub next: String,
    /// The OpenID Connect `nonce` sent with the request (`None`: plain OAuth 2.0).
    #[serde(default)]
    pub nonce: Option<Secret>,
}

/// At most this many sign-ins in progress per session (several tabs), oldest dropped.
pub const MAX_PENDING: usize = 5;

/// Reads the signed-in data of a session; an unreadable value counts as signed out.
pub async fn auth_of(session: &Session) -> Result<Option<AuthSession>, IdentityError> {
    match session.get::<AuthSession>(AUTH_KEY).await {
        Ok(a) => Ok(a),
        Err(tower_sessions::session::Error::SerdeJson(e)) => {
            // An old or damaged record: sign in again rather than fail every request.
            tracing::warn!(error = %e, "unreadable session data; treating as signed out");
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// The signed-in data as stored right now (another request or instance may have refreshed).
pub async fn stored_auth<S: SessionStore>(
    store: &S,
    id: &Id,
) -> Result<Option<Option<AuthSession>>, IdentityError> {
    let rec = store
        .load(id)
        .await
        .map_err(|e| IdentityError::Internal(anyhow::anyhow!("session store: {e}")))?;
    Ok(rec.map(|r| {
        r.data
            .get(AUTH_KEY)
            .and_then(|v| serde_json::from_value::<AuthSession>(v.clone()).ok())
    }))
}

/// One async mutex per session id, so that concurrent requests of one session refresh once.
#[derive(Debug, Default)]
pub struct SessionLocks {
    map: Mutex<HashMap<Id, Weak<tokio::sync::Mutex<()>>>>,
}

impl SessionLocks {
    /// The lock of this session (created on first use; dropped when no request holds it).
    pub fn lock_for(&self, id: Id) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = match self.map.lock() {
            Ok(m) => m,
            // A panic elsewhere while holding this std mutex cannot leave the map inconsistent.
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(l) = map.get(&id).and_then(Weak::upgrade) {
            return l;
        }
        if map.len() > 64 {
            map.retain(|_, w| w.strong_count() > 0);
        }
        let l = Arc::new(tokio::sync::Mutex::new(()));
        map.insert(id, Arc::downgrade(&l));
        l
    }
}

/// How often a busy session's idle expiry is pushed forward (each push is a store write).
pub fn touch_interval(idle: Duration) -> Duration {
    (idle / 10).clamp(Duration::from_secs(1), Duration::from_secs(60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_debug() {
        let a = AuthSession::new(
            Principal::default(),
            Tokens::received(
                Secret::new("access-abc"),
                Some(Secret::new("refresh-xyz")),
                None,
            ),
        );
        let dbg = format!("{a:?}");
        assert!(
            !dbg.contains("access-abc") && !dbg.contains("refresh-xyz"),
            "{dbg}"
        );
        // ...but the store keeps them.
        let json = serde_json::to_string(&a).unwrap();
        assert!(json.contains("access-abc") && json.contains("refresh-xyz"));
        let back: AuthSession = serde_json::from_str(&json).unwrap();
        assert_eq!(back.tokens.access.expose(), "access-abc");
    }

    #[test]
    fn refresh_point_keeps_a_margin() {
        let now = OffsetDateTime::now_utc();
        let t =
            |secs: u64| Tokens::received(Secret::new("a"), None, Some(Duration::from_secs(secs)));
        let later = |secs: i64| now + time::Duration::seconds(secs);
        // An hour-long token: refreshed 30 s before it ends.
        assert!(!t(3600).expiring(later(3560)));
        assert!(t(3600).expiring(later(3571)));
        // A 2 s token: half-way, not on every request.
        assert!(!t(2).expiring(now));
        assert!(t(2).expiring(later(2)));
        // No lifetime given: never refreshed ahead (the upstream's 401 decides).
        assert!(!Tokens::received(Secret::new("a"), None, None).expiring(later(99_999)));
    }

    #[test]
    fn locks_are_shared_per_session() {
        let locks = SessionLocks::default();
        let id = Id::default();
        let a = locks.lock_for(id);
        let b = locks.lock_for(id);
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &locks.lock_for(Id::default())));
    }
}
