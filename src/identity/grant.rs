//! Sign-ins kept for changes that run later (scheduled, or approved to run at a time): the
//! session's tokens and user sealed into a grant (XChaCha20-Poly1305, `TOKEN_ENCRYPTION_KEY`),
//! refreshed when a change runs, with the user's roles as the identity provider grants them then.
//!
//! A rotating refresh token can be used once, so the session and its scheduled changes share one
//! grant: after [`keep`], the session refreshes through it too. Refreshes are single-flight in this
//! process (a lock per grant) and compare-and-swap across instances (`generation`).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, Weak};

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tower_sessions::Session;
use uuid::Uuid;

use super::IdentityError;
use super::session::{AUTH_KEY, Tokens, auth_of};
use crate::crypto::Row;
use crate::policy::Principal;
use crate::state::AppState;

/// What a grant holds (sealed as JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Kept {
    pub principal: Principal,
    pub tokens: Tokens,
}

/// One refresh per grant at a time in this process.
static LOCKS: LazyLock<Mutex<HashMap<Uuid, Weak<tokio::sync::Mutex<()>>>>> =
    LazyLock::new(Default::default);

fn lock_for(id: Uuid) -> Arc<tokio::sync::Mutex<()>> {
    let mut map = LOCKS.lock().unwrap_or_else(|p| p.into_inner());
    map.retain(|_, w| w.strong_count() > 0);
    if let Some(l) = map.get(&id).and_then(Weak::upgrade) {
        return l;
    }
    let l = Arc::new(tokio::sync::Mutex::new(()));
    map.insert(id, Arc::downgrade(&l));
    l
}

fn internal(e: impl std::fmt::Display) -> IdentityError {
    IdentityError::Internal(anyhow::anyhow!("grant: {e}"))
}

/// Until when a sign-in without a refresh token (the password mode) can act: `None` when it
/// can be refreshed (or its lifetime is unknown).
pub fn acts_until(tokens: &Tokens) -> Option<OffsetDateTime> {
    match tokens.refresh {
        Some(_) => None,
        None => tokens.expires_at,
    }
}

/// Why a sign-in cannot be renewed, in the words of the sign-in mode in use.
pub fn why_not_renewable(password_mode: bool) -> &'static str {
    if password_mode {
        "You signed in with your Sentinel password, which the console cannot renew"
    } else {
        "Your identity provider gave this sign-in no refresh token (providers give one for the \
         offline_access scope, when the console's client may use it), so the console cannot renew it"
    }
}

/// The session's sign-in as a grant for a change that runs at `needed_at` (the one it already
/// shares, or a new one), so that the change can run after the user has signed out. A sign-in
/// that cannot be renewed (the password mode) and ends before then is refused with a message.
pub async fn keep(
    state: &AppState,
    session: &Session,
    needed_at: Option<OffsetDateTime>,
) -> Result<Uuid, IdentityError> {
    let Some(sid) = session.id() else {
        return Err(IdentityError::SignedOut);
    };
    let lock = state.auth.locks.lock_for(sid);
    let _guard = lock.lock().await;
    session.load().await?;
    let Some(mut auth) = auth_of(session).await? else {
        return Err(IdentityError::SignedOut);
    };
    if let (Some(until), Some(at)) = (acts_until(&auth.tokens), needed_at) {
        if at > until {
            return Err(IdentityError::Refused(format!(
                "{}: it can act for you only until {}. Choose an earlier time, or make the change now.",
                why_not_renewable(state.auth.is_password_mode()),
                crate::domain::when::utc(until)
            )));
        }
    }
    if let Some(g) = auth.grant {
        if state.db.grant_get(g).await?.is_some() {
            return Ok(g);
        }
    }
    let id = Uuid::new_v4();
    let kept = Kept {
        principal: auth.principal.clone(),
        tokens: auth.tokens.clone(),
    };
    let json = serde_json::to_string(&kept).map_err(internal)?;
    let sealed = state.auth.cipher.seal(&json, Row::Grant(id));
    state
        .db
        .grant_insert(id, &auth.principal.subject, &sealed)
        .await?;
    auth.grant = Some(id);
    session.insert(AUTH_KEY, &auth).await?;
    session.save().await?;
    Ok(id)
}

/// Reads a grant: `None` when it is gone (deleted, or it cannot be opened with this key).
async fn read(state: &AppState, id: Uuid) -> Result<Option<(Kept, i64)>, IdentityError> {
    let Some(stored) = state.db.grant_get(id).await? else {
        return Ok(None);
    };
    let Ok(json) = state.auth.cipher.open(&stored.sealed, Row::Grant(id)) else {
        tracing::warn!(grant = %id, "a grant cannot be opened (another key, or sealed for another row)");
        return Ok(None);
    };
    match serde_json::from_str::<Kept>(&json) {
        Ok(k) => Ok(Some((k, stored.generation))),
        Err(e) => {
            tracing::warn!(grant = %id, error = %e, "a grant is unreadable");
            Ok(None)
        }
    }
}

/// The grant's tokens, refreshed first when they are expiring. `None`: the grant is gone (the
/// identity provider refused the refresh, or a sign-in without refresh token has expired); the
/// grant is deleted then.
pub async fn current(state: &AppState, id: Uuid) -> Result<Option<Kept>, IdentityError> {
    fetch(state, id, false).await
}

/// The grant refreshed now (when it can be), as a scheduled change starts: the identity provider
/// says whether the grant still stands, and with which roles.
pub async fn refreshed(state: &AppState, id: Uuid) -> Result<Option<Kept>, IdentityError> {
    fetch(state, id, true).await
}

/// The grant after the upstream answered `401` to its access token `rejected`: refreshed now,
/// unless another chunk already did (the grant holds another token then).
pub async fn renewed(
    state: &AppState,
    id: Uuid,
    rejected: &str,
) -> Result<Option<Kept>, IdentityError> {
    fetch_with(state, id, true, Some(rejected)).await
}

async fn fetch(state: &AppState, id: Uuid, force: bool) -> Result<Option<Kept>, IdentityError> {
    fetch_with(state, id, force, None).await
}

async fn fetch_with(
    state: &AppState,
    id: Uuid,
    force: bool,
    rejected: Option<&str>,
) -> Result<Option<Kept>, IdentityError> {
    let lock = lock_for(id);
    let _guard = lock.lock().await;
    let Some((kept, generation)) = read(state, id).await? else {
        return Ok(None);
    };
    if rejected.is_some_and(|r| kept.tokens.access.expose() != r) {
        // Refreshed since that token was handed out: use the newer one.
        return Ok(Some(kept));
    }
    let now = OffsetDateTime::now_utc();
    let refresh_now = force && kept.tokens.refresh.is_some();
    if !(kept.tokens.expiring(now) || refresh_now || rejected.is_some()) {
        return Ok(Some(kept));
    }
    let (Some(provider), Some(_)) = (state.auth.oauth(), &kept.tokens.refresh) else {
        // The password mode: usable until it expires (or the upstream refuses it), never after.
        if rejected.is_none() && kept.tokens.expires_at.is_some_and(|e| e > now) {
            return Ok(Some(kept));
        }
        tracing::info!(grant = %id, "a kept sign-in expired and cannot be refreshed");
        let _ = state.db.grant_delete(id).await;
        return Ok(None);
    };
    match provider.refresh(&kept.tokens, &kept.principal).await {
        Ok((principal, tokens)) => {
            let fresh = Kept { principal, tokens };
            let json = serde_json::to_string(&fresh).map_err(internal)?;
            if state
                .db
                .grant_update(
                    id,
                    generation,
                    &state.auth.cipher.seal(&json, Row::Grant(id)),
                )
                .await?
            {
                Ok(Some(fresh))
            } else {
                // Another instance refreshed first: its tokens are the grant's now.
                Ok(read(state, id).await?.map(|(k, _)| k))
            }
        }
        Err(why) => {
            if let Some((k, g)) = read(state, id).await? {
                if g > generation && !k.tokens.expiring(OffsetDateTime::now_utc()) {
                    return Ok(Some(k));
                }
            }
            tracing::warn!(grant = %id, reason = %why, "a kept sign-in could not be refreshed; it is gone");
            let _ = state.db.grant_delete(id).await;
            Ok(None)
        }
    }
}

/// For a change run on a grant: the access token and the user as granted now.
pub async fn access(
    state: &AppState,
    id: Uuid,
) -> Result<Option<(SecretString, Principal)>, IdentityError> {
    Ok(current(state, id).await?.map(|k| {
        (
            SecretString::from(k.tokens.access.expose().to_owned()),
            k.principal,
        )
    }))
}

/// Does a change that has not run yet still need this grant? (errors count as yes: keep it).
pub async fn still_needed(state: &AppState, grant: Option<Uuid>) -> bool {
    match grant {
        None => false,
        Some(g) => state.db.grant_in_use(g).await.unwrap_or(true),
    }
}

/// Deletes a grant no change needs any more, revoking its tokens where the provider can.
pub async fn forget(state: &AppState, id: Uuid) {
    if still_needed(state, Some(id)).await {
        return;
    }
    if let Ok(Some((kept, _))) = read(state, id).await {
        state.auth.revoke_in_background(kept.tokens);
    }
    if let Err(e) = state.db.grant_delete(id).await {
        tracing::warn!(grant = %id, error = %e, "a grant could not be deleted");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_worded_for_the_sign_in_mode() {
        assert!(why_not_renewable(true).contains("Sentinel password"));
        let oauth = why_not_renewable(false);
        assert!(!oauth.contains("password"), "{oauth}");
        assert!(oauth.contains("identity provider") && oauth.contains("offline_access"));
    }
}
