//! A session's access token, fresh: refreshed once per session under its lock (through its
//! grant when it shares one), read from the shared store by background work on any instance.

use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;
use tower_sessions::{Expiry, Session};

use super::IdentityError;
use super::grant;
use super::session::{AUTH_KEY, AuthSession, auth_of, stored_auth};
use crate::policy::Principal;
use crate::state::AppState;

/// Refreshes the session's access token, once for all the requests of the session that need
/// it: under the session's lock, the record is re-read from the store (the source of truth,
/// shared by every instance) and the refresh skipped when another request already did it —
/// unless `force` asks for the roles granted now, when a sign-in that can be refreshed is.
/// `None`: the session is over (flushed); the caller sends the user to sign in.
///
/// `rejected`: an access token the upstream answered `401` to; the session is refreshed now even
/// when its clock says the token is still good, unless it already holds another one.
pub(crate) async fn fresh_tokens(
    state: &AppState,
    session: &Session,
    rejected: Option<&str>,
    force: bool,
) -> Result<Option<AuthSession>, IdentityError> {
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
) -> Result<Option<(SecretString, Principal)>, IdentityError> {
    session_tokens(state, session_id, None).await
}

/// [`session_grant`] after the upstream answered `401` to `rejected`: refreshed now (once for
/// every chunk that met the same 401), or `None` when the refresh is refused.
pub(crate) async fn session_renewed(
    state: &AppState,
    session_id: &str,
    rejected: &SecretString,
) -> Result<Option<(SecretString, Principal)>, IdentityError> {
    session_tokens(state, session_id, Some(rejected.expose_secret())).await
}

async fn session_tokens(
    state: &AppState,
    session_id: &str,
    rejected: Option<&str>,
) -> Result<Option<(SecretString, Principal)>, IdentityError> {
    use tower_sessions::session_store::SessionStore;
    let Ok(id) = session_id.parse::<tower_sessions::session::Id>() else {
        return Ok(None);
    };
    let record = state
        .auth
        .store
        .load(&id)
        .await
        .map_err(|e| IdentityError::Internal(anyhow::anyhow!("session store: {e}")))?;
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
