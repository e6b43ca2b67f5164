//! Issued codes, access and refresh tokens in memory, and the bearer-token check of every API call.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

use super::users::{DemoUser, user};
use crate::simulator::api::ApiErr;
use crate::simulator::{Simulator, lock};

pub(super) const CODE_TTL: Duration = Duration::from_secs(60);

/// Several console instances may race to refresh: a rotated refresh token still answers for this long.
pub(super) const REUSE_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub(super) struct AccessToken {
    pub(super) user: &'static str,
    pub(super) expires: Instant,
    /// The refresh token this access token came with (revoking that revokes this).
    pub(super) refresh: Option<String>,
}

#[derive(Debug, Clone)]
pub(super) struct Pair {
    pub(super) access: String,
    pub(super) refresh: String,
}

#[derive(Debug)]
pub(super) struct RefreshToken {
    pub(super) user: &'static str,
    pub(super) client_id: String,
    /// When it was used and what it gave: reuse within the grace period returns the same pair.
    pub(super) used: Option<(Instant, Pair)>,
}

#[derive(Debug)]
pub(super) struct Code {
    pub(super) client_id: String,
    pub(super) redirect_uri: String,
    pub(super) challenge: String,
    pub(super) user: &'static str,
    pub(super) expires: Instant,
}

/// Tokens and codes in memory.
#[derive(Debug, Default)]
pub struct IdpState {
    pub(super) access: HashMap<String, AccessToken>,
    pub(super) refresh: HashMap<String, RefreshToken>,
    pub(super) codes: HashMap<String, Code>,
}

pub(super) fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

impl IdpState {
    pub(super) fn issue(&mut self, user: &'static str, client_id: &str, ttl: Duration) -> Pair {
        let pair = Pair {
            access: random_token(),
            refresh: random_token(),
        };
        self.access.insert(
            pair.access.clone(),
            AccessToken {
                user,
                expires: Instant::now() + ttl,
                refresh: Some(pair.refresh.clone()),
            },
        );
        self.refresh.insert(
            pair.refresh.clone(),
            RefreshToken {
                user,
                client_id: client_id.to_owned(),
                used: None,
            },
        );
        pair
    }

    pub(super) fn revoke(&mut self, token: &str) {
        if self.access.remove(token).is_some() {
            return;
        }
        if self.refresh.remove(token).is_some() {
            self.access
                .retain(|_, a| a.refresh.as_deref() != Some(token));
        }
    }
}

/// A fresh access token for `login` (the in-process shortcut of the password sign-in).
pub fn issue_for(sim: &Simulator, login: &'static str) -> String {
    let ttl = sim.inner.cfg.token_ttl;
    lock(&sim.inner.idp)
        .issue(login, "sentinel-sim", ttl)
        .access
}

impl Simulator {
    /// The user behind an API call's `Authorization: Bearer` header.
    pub(crate) fn authenticate(&self, headers: &HeaderMap) -> Result<&'static DemoUser, ApiErr> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiErr::unauthorized("The request has no bearer token (Authorization: Bearer …).")
            })?;
        let idp = lock(&self.inner.idp);
        let found = idp
            .access
            .get(token)
            .ok_or_else(|| ApiErr::unauthorized("The access token is unknown or was revoked."))?;
        if found.expires <= Instant::now() {
            return Err(ApiErr::unauthorized("The access token has expired."));
        }
        user(found.user).ok_or_else(|| ApiErr::unauthorized("The access token is unknown."))
    }
}

impl Simulator {
    /// The identity provider ends every grant of `login` (an administrator revoked the user's
    /// sessions): its access and refresh tokens stop working.
    pub fn revoke_user(&self, login: &str) {
        let mut idp = lock(&self.inner.idp);
        idp.access.retain(|_, a| a.user != login);
        idp.refresh.retain(|_, r| r.user != login);
    }
}
