//! OAuth 2.0 authorization code + PKCE with the `oauth2` crate: `/login`, `/auth/callback`,
//! the refresh-token grant and RFC 7009 revocation.

use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, ExtraTokenFields, HttpClientError, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, RefreshToken, RequestTokenError, Scope, StandardRevocableToken,
    StandardTokenResponse, TokenResponse, TokenUrl,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;
use url::Url;

use super::csrf::{constant_time_eq, random_token};
use super::session::{
    AUTH_KEY, AuthSession, CSRF_KEY, MAX_PENDING, PENDING_KEY, PendingLogin, Secret, Tokens,
};
use super::{already_signed_in, safe_next};
use crate::config::OAuthConfig;
use crate::domain::{CorpId, Role};
use crate::error::AppError;
use crate::policy::Principal;
use crate::state::AppState;
use crate::views::{Layout, MessagePage};

/// The scopes the console asks for: every role scope; the provider grants what the user holds.
pub const REQUESTED_SCOPES: [&str; 6] = [
    "org_super",
    "org_tech",
    "org_kajeetmanaged",
    "org_managerplus",
    "org_mediacenter",
    "readonly",
];

/// What the identity provider tells beyond RFC 6749 (CONTRACT §2).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProviderFields {
    #[serde(default)]
    pub corp_ids: Option<Vec<String>>,
    #[serde(default)]
    pub account_type: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub sub: Option<String>,
}

impl ExtraTokenFields for ProviderFields {}

/// The token response with [`ProviderFields`].
pub type ProviderTokenResponse = StandardTokenResponse<ProviderFields, BasicTokenType>;

/// The configured `oauth2` client: authorize and token endpoints set.
pub type ProviderClient = Client<
    BasicErrorResponse,
    ProviderTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// An OAuth provider, ready to use.
#[derive(Debug)]
pub struct OAuthProvider {
    client: ProviderClient,
    revoke_url: Option<Url>,
    client_id: String,
    client_secret: Option<Secret>,
    /// Redirects disabled: a token endpoint must answer, not bounce us elsewhere.
    http: reqwest::Client,
}

impl OAuthProvider {
    pub fn new(cfg: &OAuthConfig, public_url: &Url, timeout: Duration) -> anyhow::Result<Self> {
        let redirect = format!(
            "{}{}",
            public_url.as_str().trim_end_matches('/'),
            crate::paths::auth_callback()
        );
        let mut client = Client::new(ClientId::new(cfg.client_id.clone()))
            .set_auth_uri(AuthUrl::from_url(cfg.authorize_url.clone()))
            .set_token_uri(TokenUrl::from_url(cfg.token_url.clone()))
            .set_redirect_uri(RedirectUrl::new(redirect)?);
        if let Some(secret) = &cfg.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.expose_secret().to_owned()));
        }
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .build()?;
        Ok(Self {
            client,
            revoke_url: cfg.revoke_url.clone(),
            client_id: cfg.client_id.clone(),
            client_secret: cfg
                .client_secret
                .as_ref()
                .map(|s| Secret::new(s.expose_secret())),
            http,
        })
    }

    /// The authorize URL with a fresh state and PKCE S256 challenge, and what to remember.
    pub fn start(&self, next: String) -> (Url, PendingLogin) {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = self
            .client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(REQUESTED_SCOPES.iter().map(|s| Scope::new((*s).to_owned())))
            .set_pkce_challenge(challenge)
            .url();
        let pending = PendingLogin {
            state: Secret::new(state.secret().clone()),
            verifier: Secret::new(verifier.secret().clone()),
            next,
        };
        (url, pending)
    }

    /// Exchanges an authorization code (with its PKCE verifier) for tokens and the user
    /// (`None`: the provider said neither `sub` nor `email`, so who signed in is unknown).
    pub async fn exchange(
        &self,
        code: String,
        verifier: &Secret,
    ) -> Result<(Option<Principal>, Tokens), String> {
        let resp = self
            .client
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.expose().to_owned()))
            .request_async(&self.http)
            .await
            .map_err(describe)?;
        let principal = identity_of(&resp).map(|subject| principal_of(&resp, subject));
        Ok((principal, tokens_of(&resp, None)))
    }

    /// The refresh-token grant; a provider that does not rotate keeps the old refresh token.
    /// The user is rebuilt from the answer (roles and device groups as granted now), keeping
    /// `user`'s subject, and its name and e-mail when the answer omits them; an answer for
    /// another user is refused.
    pub async fn refresh(
        &self,
        refresh: &Secret,
        user: &Principal,
    ) -> Result<(Principal, Tokens), String> {
        let token = RefreshToken::new(refresh.expose().to_owned());
        let resp = self
            .client
            .exchange_refresh_token(&token)
            .request_async(&self.http)
            .await
            .map_err(describe)?;
        let extra = resp.extra_fields();
        let subject = user.subject.as_str();
        if extra.sub.as_deref().is_some_and(|s| s != subject)
            && extra.email.as_deref() != Some(subject)
        {
            return Err("the refreshed token belongs to another user".into());
        }
        let mut principal = principal_of(&resp, user.subject.clone());
        principal.name = principal.name.or_else(|| user.name.clone());
        principal.email = principal.email.or_else(|| user.email.clone());
        Ok((principal, tokens_of(&resp, Some(refresh))))
    }

    /// RFC 7009: revokes the tokens where the provider can. Failures are logged (never the token).
    pub async fn revoke(&self, tokens: &Tokens) {
        let Some(url) = &self.revoke_url else {
            return;
        };
        let mut which: Vec<(&str, &Secret)> = Vec::new();
        if let Some(r) = &tokens.refresh {
            which.push(("refresh_token", r));
        }
        which.push(("access_token", &tokens.access));
        for (hint, token) in which {
            let mut form = vec![("token", token.expose()), ("token_type_hint", hint)];
            let mut rb = self.http.post(url.clone());
            match &self.client_secret {
                Some(secret) => rb = rb.basic_auth(&self.client_id, Some(secret.expose())),
                None => form.push(("client_id", &self.client_id)),
            }
            match rb.form(&form).send().await {
                Ok(r) if r.status().is_success() => {}
                Ok(r) => {
                    tracing::warn!(status = %r.status(), token_type = hint, "token revocation refused")
                }
                Err(e) => {
                    tracing::warn!(error = %e.without_url(), token_type = hint, "token revocation failed")
                }
            }
        }
    }
}

/// A loggable description of a failed token request: never the response body (it may hold tokens).
fn describe(e: RequestTokenError<HttpClientError<reqwest::Error>, BasicErrorResponse>) -> String {
    match e {
        RequestTokenError::ServerResponse(r) => format!("provider refused: {}", r.error()),
        RequestTokenError::Request(e) => format!("request failed: {e}"),
        RequestTokenError::Parse(e, _) => format!("unreadable answer at {}", e.path()),
        RequestTokenError::Other(m) => format!("unexpected answer: {m}"),
    }
}

fn tokens_of(resp: &ProviderTokenResponse, old_refresh: Option<&Secret>) -> Tokens {
    Tokens::received(
        Secret::new(resp.access_token().secret().clone()),
        resp.refresh_token()
            .map(|r| Secret::new(r.secret().clone()))
            .or_else(|| old_refresh.cloned()),
        resp.expires_in(),
    )
}

/// Who the token response is for: its `sub`, else its `email` (non-empty); `None` when neither.
fn identity_of(resp: &ProviderTokenResponse) -> Option<String> {
    let extra = resp.extra_fields();
    [&extra.sub, &extra.email]
        .into_iter()
        .flatten()
        .map(|s| s.trim())
        .find(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The user `subject` as the token response describes them. A response without `scope` grants
/// no role (the safe reading; RFC 6749 would let it mean "as requested", which here is every role).
fn principal_of(resp: &ProviderTokenResponse, subject: String) -> Principal {
    let extra = resp.extra_fields();
    let scope = resp
        .scopes()
        .map(|s| s.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    Principal {
        subject,
        name: extra.name.clone(),
        email: extra.email.clone(),
        roles: Role::from_scope_str(&scope),
        corp_ids: extra
            .corp_ids
            .as_ref()
            .map(|ids| ids.iter().filter_map(|s| CorpId::parse(s).ok()).collect()),
        account_type: extra.account_type.clone(),
    }
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    pub next: Option<String>,
}

/// `GET /login?next=/path` (OAuth): remember state + verifier + next, go to the provider.
pub async fn login(
    provider: &OAuthProvider,
    session: &Session,
    next: String,
) -> Result<Response, AppError> {
    let (url, pending) = provider.start(next);
    let mut list = session
        .get::<Vec<PendingLogin>>(PENDING_KEY)
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    list.push(pending);
    if list.len() > MAX_PENDING {
        list.drain(..list.len() - MAX_PENDING);
    }
    session.insert(PENDING_KEY, &list).await?;
    Ok(Redirect::to(url.as_str()).into_response())
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
}

// The code is a credential: keep it out of logs.
impl std::fmt::Debug for CallbackQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackQuery")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

fn sign_in_problem(status: StatusCode, heading: &str, message: &str, next: &str) -> Response {
    let page = MessagePage {
        layout: Layout::anonymous(heading, None),
        heading: heading.to_owned(),
        message: message.to_owned(),
        link: Some((crate::paths::login(next).into(), "Sign in again".to_owned())),
    };
    (status, page).into_response()
}

/// `GET /auth/callback?code&state` (or `error=`).
pub async fn callback(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<CallbackQuery>,
) -> Result<Response, AppError> {
    let Some(provider) = state.auth.oauth() else {
        return Err(AppError::NotFound(
            "This console does not use an OAuth sign-in.".into(),
        ));
    };
    let mut list = session
        .get::<Vec<PendingLogin>>(PENDING_KEY)
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    let found = q.state.as_deref().and_then(|s| {
        list.iter()
            .position(|p| constant_time_eq(p.state.expose().as_bytes(), s.as_bytes()))
    });
    let Some(i) = found else {
        tracing::warn!("sign-in callback with an unknown state");
        return Ok(sign_in_problem(
            StatusCode::BAD_REQUEST,
            "Sign-in could not be verified",
            "The sign-in could not be verified: it may have expired, or been started in another \
             browser. Nothing was signed in. Please sign in again.",
            "/",
        ));
    };
    // Single use.
    let pending = list.remove(i);
    session.insert(PENDING_KEY, &list).await?;
    if let Some(err) = q.error.as_deref() {
        let msg = if err == "access_denied" {
            "The sign-in was cancelled or refused by the identity provider.".to_owned()
        } else {
            format!("The identity provider could not sign you in ({err}).")
        };
        return Ok(sign_in_problem(
            StatusCode::FORBIDDEN,
            "Not signed in",
            &msg,
            &pending.next,
        ));
    }
    let Some(code) = q.code else {
        return Ok(sign_in_problem(
            StatusCode::BAD_REQUEST,
            "Sign-in could not be verified",
            "The identity provider sent no authorization code. Please sign in again.",
            &pending.next,
        ));
    };
    let (principal, tokens) = match provider.exchange(code, &pending.verifier).await {
        Ok((None, tokens)) => {
            tracing::warn!("sign-in refused: the identity provider gave neither sub nor email");
            state.auth.revoke_in_background(tokens);
            return Ok(sign_in_problem(
                StatusCode::FORBIDDEN,
                "Sign-in refused",
                "The identity provider did not say who you are (no stable user id and no e-mail \
                 address), so this console cannot keep your jobs and changes apart from other \
                 people's. Nothing was signed in. Ask your administrator to have the identity \
                 provider send `sub` or `email` for this console.",
                &pending.next,
            ));
        }
        Ok((Some(p), tokens)) => (p, tokens),
        Err(why) => {
            tracing::warn!(reason = %why, "authorization code exchange failed");
            return Ok(sign_in_problem(
                StatusCode::BAD_GATEWAY,
                "Sign-in failed",
                "The identity provider did not accept the sign-in. Please try again.",
                &pending.next,
            ));
        }
    };
    complete_sign_in(&session, principal, tokens).await?;
    Ok(Redirect::to(&pending.next).into_response())
}

/// Stores a new sign-in under a new session id (no fixation) with a new CSRF token.
pub async fn complete_sign_in(
    session: &Session,
    principal: Principal,
    tokens: Tokens,
) -> Result<(), AppError> {
    session.cycle_id().await?;
    session.remove_value(PENDING_KEY).await?;
    tracing::info!(subject = %principal.subject, roles = %principal.roles_label(), "signed in");
    session
        .insert(AUTH_KEY, AuthSession::new(principal, tokens))
        .await?;
    session.insert(CSRF_KEY, random_token()).await?;
    Ok(())
}

/// `GET /login` dispatch lives in `mod.rs`; this is the OAuth branch's signed-in shortcut.
pub async fn login_or_skip(
    state: &AppState,
    session: &Session,
    provider: &OAuthProvider,
    next: Option<String>,
) -> Result<Response, AppError> {
    let next = safe_next(next.as_deref());
    if already_signed_in(state, session).await? {
        return Ok(Redirect::to(&next).into_response());
    }
    login(provider, session, next).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(json: &str) -> ProviderTokenResponse {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn principal_from_token_response() {
        let r = resp(
            r#"{"access_token":"a","token_type":"Bearer","expires_in":60,"refresh_token":"r",
                "scope":"org_tech other readonly","corp_ids":["NORTHSTAR-ISD","bad id!"],
                "account_type":"kajeet_choice","name":"Tess","email":"t@example.com","sub":"u1"}"#,
        );
        assert_eq!(identity_of(&r).as_deref(), Some("u1"));
        let p = principal_of(&r, "u1".into());
        assert_eq!(p.subject, "u1");
        assert_eq!(p.roles, vec![Role::OrgTech, Role::Readonly]);
        assert_eq!(
            p.corp_ids
                .unwrap()
                .iter()
                .map(|c| c.as_str().to_owned())
                .collect::<Vec<_>>(),
            vec!["NORTHSTAR-ISD".to_owned()]
        );
        assert_eq!(p.account_type.as_deref(), Some("kajeet_choice"));
        let t = tokens_of(&r, None);
        assert_eq!(t.refresh.unwrap().expose(), "r");
        assert!(t.expires_at.is_some());
    }

    #[test]
    fn minimal_response_has_no_roles_and_keeps_the_old_refresh_token() {
        let r = resp(r#"{"access_token":"a","token_type":"bearer"}"#);
        assert!(identity_of(&r).is_none(), "no sub, no email: nobody");
        let p = principal_of(&r, "x".into());
        assert!(p.roles.is_empty());
        assert!(p.corp_ids.is_none());
        let t = tokens_of(&r, Some(&Secret::new("old")));
        assert_eq!(t.refresh.unwrap().expose(), "old");
        assert!(t.expires_at.is_none());
    }
}
