//! The user a service acts for — who they are now and their access token — and where work that
//! outlives the request gets the next token: the session, a kept grant, or the request's token.

use secrecy::{ExposeSecret, SecretString};
use tower_sessions::Session;
use uuid::Uuid;

use super::{grant, tokens};
use crate::policy::Principal;
use crate::state::AppState;

/// The signed-in user a change is made for, as the request saw them.
#[derive(Clone)]
pub struct Caller {
    pub principal: Principal,
    pub token: SecretString,
    /// The request's session: work that outlives the request reads its tokens there (by id,
    /// refreshed, on any instance), a scheduled change keeps its sign-in from it; a sign-out
    /// stops that work.
    pub session: Option<Session>,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("principal", &self.principal)
            .field("token", &"[redacted]")
            .field("session", &self.session.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl Caller {
    /// The session's id, under which background work finds the user's tokens.
    pub fn session_id(&self) -> Option<String> {
        self.session
            .as_ref()
            .and_then(Session::id)
            .map(|i| i.to_string())
    }

    /// The token and user held since the request, for work that has no session to read.
    pub fn held(&self) -> (SecretString, Principal) {
        (self.token.clone(), self.principal.clone())
    }
}

/// Why no token can be had for the user any more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoToken {
    /// The user signed out, or the session ended.
    SignedOut,
    /// The upstream refused the token and the sign-in could not be renewed.
    Refused,
    /// The grant kept for a scheduled change is no longer valid.
    GrantGone,
    /// The session or grant could not be read (a storage failure, logged).
    Unreadable,
}

/// Where background work gets the user's access token and roles, for each part it sends.
pub enum TokenSource {
    /// The user's session, read (and refreshed) each time: a sign-out stops the work.
    Session(String),
    /// No session to read (kept in memory only, for this process's life).
    Held(SecretString, Principal),
    /// Resumed work without a session: nothing can be sent.
    Gone,
    /// A sealed grant (a scheduled change): refreshed as needed; gone when the provider refuses.
    Grant(Uuid),
}

impl TokenSource {
    /// The grant, else the session the work was started from, else the token held in memory
    /// since the request, else nowhere (resumed work whose session is unknown).
    pub fn of(
        grant: Option<Uuid>,
        held: Option<(SecretString, Principal)>,
        session_id: Option<String>,
    ) -> TokenSource {
        match (grant, held, session_id) {
            (Some(g), _, _) => TokenSource::Grant(g),
            (None, _, Some(sid)) => TokenSource::Session(sid),
            (None, Some((t, user)), None) => TokenSource::Held(t, user),
            (None, None, None) => TokenSource::Gone,
        }
    }

    /// A fresh token after the upstream answered `401` to `rejected` (it ran out in flight):
    /// the session or grant refreshed now, once for every part that met it.
    pub async fn renew(
        &self,
        state: &AppState,
        rejected: &SecretString,
    ) -> Result<(SecretString, Principal), NoToken> {
        if let TokenSource::Session(sid) = self {
            // Signed out meanwhile (the token was revoked): that is why it was refused.
            if matches!(tokens::session_grant(state, sid).await, Ok(None)) {
                return Err(NoToken::SignedOut);
            }
        }
        let renewed = match self {
            TokenSource::Held(..) | TokenSource::Gone => return Err(NoToken::Refused),
            TokenSource::Grant(g) => grant::renewed(state, *g, rejected.expose_secret())
                .await
                .map(|k| {
                    k.map(|k| {
                        (
                            SecretString::from(k.tokens.access.expose().to_owned()),
                            k.principal,
                        )
                    })
                }),
            TokenSource::Session(sid) => tokens::session_renewed(state, sid, rejected).await,
        };
        match renewed {
            Ok(Some(g)) => Ok(g),
            Ok(None) => Err(NoToken::Refused),
            Err(e) => {
                tracing::error!(error = %e, "the sign-in could not be renewed for background work");
                Err(NoToken::Unreadable)
            }
        }
    }

    /// The token and user to send the next part with, or why it cannot be sent.
    pub async fn access(&self, state: &AppState) -> Result<(SecretString, Principal), NoToken> {
        match self {
            TokenSource::Held(t, p) => Ok((t.clone(), p.clone())),
            TokenSource::Gone => Err(NoToken::SignedOut),
            TokenSource::Grant(g) => match grant::access(state, *g).await {
                Ok(Some(g)) => Ok(g),
                Ok(None) => Err(NoToken::GrantGone),
                Err(e) => {
                    tracing::error!(error = %e, "a grant is unreadable for background work");
                    Err(NoToken::Unreadable)
                }
            },
            TokenSource::Session(sid) => match tokens::session_grant(state, sid).await {
                Ok(Some(g)) => Ok(g),
                Ok(None) => Err(NoToken::SignedOut),
                Err(e) => {
                    tracing::error!(error = %e, "session store unreadable for background work");
                    Err(NoToken::Unreadable)
                }
            },
        }
    }
}
