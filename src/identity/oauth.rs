//! OAuth 2.0 authorization code + PKCE with the `oauth2` crate (OpenID Connect on top, see
//! [`super::oidc`]): `/login`, `/auth/callback`, the refresh-token grant, RFC 7009 revocation
//! and the provider's end-session URL.

use std::sync::Arc;
use std::time::Duration;

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
use openidconnect::IdTokenFields;
use openidconnect::core::{
    CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use url::Url;

use super::oidc::{
    self, ClaimNames, Discovered, Discovery, Expect, OtherClaims, ProviderIdToken,
    ProviderIdTokenClaims, Said,
};
use super::session::{PendingLogin, Secret, Tokens};
use crate::config::{OAuthConfig, OAuthEndpoints};
use crate::crypto::random_token;
use crate::policy::Principal;

/// The scopes the console asks for: every role scope; the provider grants what the user holds.
pub const REQUESTED_SCOPES: [&str; 6] = [
    "org_super",
    "org_tech",
    "org_kajeetmanaged",
    "org_managerplus",
    "org_mediacenter",
    "readonly",
];

/// Asked for besides the role scopes from an OpenID Connect provider.
pub const OIDC_SCOPES: [&str; 2] = ["openid", "offline_access"];

/// What the token response tells beyond RFC 6749 (CONTRACT §2: `corp_ids`, `account_type`,
/// `name`, `email`, `sub`, or any field a deployment names in `OAUTH_*_CLAIM`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProviderFields {
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

impl ExtraTokenFields for ProviderFields {}

/// The token response: an OpenID Connect `id_token` when there is one, and [`ProviderFields`].
pub type ProviderTokenResponse = StandardTokenResponse<
    IdTokenFields<
        OtherClaims,
        ProviderFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    BasicTokenType,
>;

/// The `oauth2` client: authorize and token endpoints set.
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

/// Where the provider's endpoints come from.
#[derive(Debug)]
enum Source {
    /// Configured by hand: plain OAuth 2.0.
    Manual {
        authorize: Url,
        token: Url,
        revoke: Option<Url>,
    },
    /// OpenID Connect discovery.
    Oidc(Discovery),
}

/// The endpoints in use for one request.
struct Endpoints {
    authorize: Url,
    token: Url,
    revoke: Option<Url>,
    oidc: Option<Arc<Discovered>>,
}

/// A sign-in the provider completed: who (`None`: the provider said neither `sub` nor
/// `email`), and the tokens.
pub struct Exchanged {
    pub principal: Option<Principal>,
    pub tokens: Tokens,
}

/// An OAuth provider, ready to use.
#[derive(Debug)]
pub struct OAuthProvider {
    source: Source,
    redirect: RedirectUrl,
    post_logout: Url,
    client_id: String,
    client_secret: Option<Secret>,
    claims: ClaimNames,
    /// Redirects disabled: a token endpoint must answer, not bounce us elsewhere.
    http: reqwest::Client,
}

impl OAuthProvider {
    pub fn new(cfg: &OAuthConfig, public_url: &Url, timeout: Duration) -> anyhow::Result<Self> {
        let base = public_url.as_str().trim_end_matches('/');
        let redirect = RedirectUrl::new(format!("{base}{}", crate::paths::auth_callback()))?;
        let post_logout = Url::parse(&format!("{base}{}", crate::paths::signed_out()))?;
        let source = match &cfg.endpoints {
            OAuthEndpoints::Manual {
                authorize_url,
                token_url,
                revoke_url,
            } => Source::Manual {
                authorize: authorize_url.clone(),
                token: token_url.clone(),
                revoke: revoke_url.clone(),
            },
            OAuthEndpoints::Discovery { issuer } => Source::Oidc(Discovery::new(issuer)?),
        };
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .build()?;
        Ok(Self {
            source,
            redirect,
            post_logout,
            client_id: cfg.client_id.clone(),
            client_secret: cfg
                .client_secret
                .as_ref()
                .map(|s| Secret::new(s.expose_secret())),
            claims: ClaimNames {
                roles: cfg.roles_claim.clone(),
                corp_ids: cfg.corp_ids_claim.clone(),
            },
            http,
        })
    }

    /// The endpoints: configured, or discovered (once, then cached).
    async fn endpoints(&self) -> Result<Endpoints, String> {
        Ok(match &self.source {
            Source::Manual {
                authorize,
                token,
                revoke,
            } => Endpoints {
                authorize: authorize.clone(),
                token: token.clone(),
                revoke: revoke.clone(),
                oidc: None,
            },
            Source::Oidc(d) => {
                let found = d.get(&self.http).await?;
                Endpoints {
                    authorize: found.authorize.clone(),
                    token: found.token.clone(),
                    revoke: found.revoke.clone(),
                    oidc: Some(found),
                }
            }
        })
    }

    fn client(&self, e: &Endpoints) -> ProviderClient {
        let client = Client::new(ClientId::new(self.client_id.clone()))
            .set_auth_uri(AuthUrl::from_url(e.authorize.clone()))
            .set_token_uri(TokenUrl::from_url(e.token.clone()))
            .set_redirect_uri(self.redirect.clone());
        match &self.client_secret {
            Some(secret) => client.set_client_secret(ClientSecret::new(secret.expose().to_owned())),
            None => client,
        }
    }

    /// The authorize URL with a fresh state, PKCE S256 challenge (and OpenID Connect nonce),
    /// and what to remember.
    pub async fn start(&self, next: String) -> Result<(Url, PendingLogin), String> {
        let e = self.endpoints().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let nonce = e.oidc.as_ref().map(|_| random_token());
        let client = self.client(&e);
        let mut req = client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(REQUESTED_SCOPES.iter().map(|s| Scope::new((*s).to_owned())))
            .set_pkce_challenge(challenge);
        if let Some(n) = &nonce {
            req = req
                .add_scopes(OIDC_SCOPES.iter().map(|s| Scope::new((*s).to_owned())))
                .add_extra_param("nonce", n.clone())
                // OpenID Connect Core 11: offline_access is granted on an explicit consent.
                .add_extra_param("prompt", "consent");
        }
        let (url, state) = req.url();
        let pending = PendingLogin {
            state: Secret::new(state.secret().clone()),
            verifier: Secret::new(verifier.secret().clone()),
            next,
            nonce: nonce.map(Secret::new),
        };
        Ok((url, pending))
    }

    /// RFC 9207: the callback's `iss` must be the provider's when it says it sends one, and
    /// when present at all.
    pub async fn check_iss(&self, iss: Option<&str>) -> Result<(), String> {
        let Source::Oidc(d) = &self.source else {
            return Ok(());
        };
        let found = d.get(&self.http).await?;
        match iss {
            Some(i) if i == found.issuer.as_str() => Ok(()),
            Some(_) => Err("the callback's iss is another issuer's".into()),
            None if found.iss_parameter => Err("the callback has no iss".into()),
            None => Ok(()),
        }
    }

    /// Exchanges an authorization code (with its PKCE verifier) for tokens and the user; an
    /// OpenID Connect ID token is validated (nonce included) and userinfo read.
    pub async fn exchange(
        &self,
        code: String,
        pending: &PendingLogin,
    ) -> Result<Exchanged, String> {
        let e = self.endpoints().await?;
        let resp = self
            .client(&e)
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier.expose().to_owned()))
            .request_async(&self.http)
            .await
            .map_err(describe)?;
        let mut tokens = tokens_of(&resp, None);
        let said = match self.said(&e, &resp, pending.nonce.as_ref(), None).await {
            Ok(s) => s,
            Err(why) => return Err(self.dropping(tokens, why).await),
        };
        if e.oidc.is_some() {
            tokens.id_token = resp
                .extra_fields()
                .id_token()
                .map(|t| Secret::new(t.to_string()));
        }
        let principal = said
            .identity()
            .map(|subject| said.principal(subject, &self.claims, &granted_scope(&resp)));
        Ok(Exchanged { principal, tokens })
    }

    /// Revokes tokens the console will not use (a refused sign-in) and passes the reason on.
    async fn dropping(&self, tokens: Tokens, why: String) -> String {
        self.revoke(&tokens).await;
        why
    }

    /// What the provider says about the user in `resp`: its validated ID token (`nonce`: the
    /// sign-in's; `subject`: on a refresh, whose it must be), userinfo, then its extra fields.
    async fn said(
        &self,
        e: &Endpoints,
        resp: &ProviderTokenResponse,
        nonce: Option<&Secret>,
        subject: Option<&str>,
    ) -> Result<Said, String> {
        let Some(found) = &e.oidc else {
            return Ok(said_in(resp));
        };
        let mut said = Said::default();
        let mut sub = subject.map(str::to_owned);
        match resp.extra_fields().id_token() {
            Some(token) => {
                let claims = self.validate(found, token, nonce).await?;
                let token_sub = claims.subject().as_str();
                if subject.is_some_and(|s| s != token_sub) {
                    return Err("the refreshed ID token is about another user".into());
                }
                sub = Some(token_sub.to_owned());
                said.add_id_token(&claims);
            }
            None if subject.is_none() => {
                return Err("the provider sent no ID token".into());
            }
            None => {}
        }
        if let Some(url) = &found.userinfo {
            let info = oidc::userinfo(
                &self.http,
                url,
                resp.access_token().secret(),
                sub.as_deref(),
            )
            .await?;
            said.add(info);
        }
        said.add(response_fields(resp));
        Ok(said)
    }

    /// Validates an ID token; on an unknown signing key, reads the provider's keys again once.
    async fn validate(
        &self,
        found: &Arc<Discovered>,
        token: &ProviderIdToken,
        nonce: Option<&Secret>,
    ) -> Result<ProviderIdTokenClaims, String> {
        let expect = Expect {
            client_id: &self.client_id,
            client_secret: self.client_secret.as_ref().map(Secret::expose),
            nonce: nonce.map(Secret::expose),
        };
        match oidc::validate(found, token, &expect) {
            Ok(c) => Ok(c),
            Err(e) if oidc::unknown_key(&e) => {
                let Source::Oidc(d) = &self.source else {
                    return Err(format!("ID token refused: {e}"));
                };
                let again = d.reload(&self.http, Some(found)).await?;
                oidc::validate(&again, token, &expect).map_err(|e| format!("ID token refused: {e}"))
            }
            Err(e) => Err(format!("ID token refused: {e}")),
        }
    }

    /// The refresh-token grant; a provider that does not rotate keeps the old refresh token.
    /// The user is rebuilt from the answer (roles and device groups as granted now), keeping
    /// `user`'s subject, and its name and e-mail when the answer omits them; an answer for
    /// another user is refused.
    pub async fn refresh(
        &self,
        old: &Tokens,
        user: &Principal,
    ) -> Result<(Principal, Tokens), String> {
        let Some(refresh) = &old.refresh else {
            return Err("no refresh token".into());
        };
        let e = self.endpoints().await?;
        let token = RefreshToken::new(refresh.expose().to_owned());
        let resp = self
            .client(&e)
            .exchange_refresh_token(&token)
            .request_async(&self.http)
            .await
            .map_err(describe)?;
        let mut tokens = tokens_of(&resp, Some(refresh));
        tokens.id_token = match resp.extra_fields().id_token() {
            Some(t) if e.oidc.is_some() => Some(Secret::new(t.to_string())),
            _ => old.id_token.clone(),
        };
        let subject = user.subject.as_str();
        let said = match self.said(&e, &resp, None, Some(subject)).await {
            Ok(s) => s,
            Err(why) => return Err(self.dropping(tokens, why).await),
        };
        if said.text("sub").is_some_and(|s| s != subject)
            && said.text("email").as_deref() != Some(subject)
        {
            return Err(self
                .dropping(tokens, "the refreshed token belongs to another user".into())
                .await);
        }
        let mut principal =
            said.principal(user.subject.clone(), &self.claims, &granted_scope(&resp));
        principal.name = principal.name.or_else(|| user.name.clone());
        principal.email = principal.email.or_else(|| user.email.clone());
        Ok((principal, tokens))
    }

    /// RFC 7009: revokes the tokens where the provider can. Failures are logged (never the token).
    pub async fn revoke(&self, tokens: &Tokens) {
        let url = match self.endpoints().await {
            Ok(Endpoints {
                revoke: Some(url), ..
            }) => url,
            Ok(_) => return,
            Err(why) => {
                tracing::warn!(reason = %why, "token revocation skipped");
                return;
            }
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

    /// The OpenID Connect provider's origin (`None`: plain OAuth 2.0).
    pub fn issuer_origin(&self) -> Option<String> {
        match &self.source {
            Source::Oidc(d) => Some(d.issuer_origin()),
            Source::Manual { .. } => None,
        }
    }

    /// RP-initiated logout: where to send the browser so that the provider ends its session too
    /// (then back to the signed-out page); `None` when the provider offers no end-session endpoint.
    pub async fn end_session_url(&self, id_token: Option<&Secret>) -> Option<Url> {
        let Source::Oidc(d) = &self.source else {
            return None;
        };
        let found = d.get(&self.http).await.ok()?;
        let mut url = found.end_session.clone()?;
        if url.origin().ascii_serialization() != d.issuer_origin() {
            // The pages' CSP lets sign-out go to the issuer's origin only.
            tracing::warn!(end_session = %url, "the end-session endpoint is not on the issuer's origin; the provider's session is left open");
            return None;
        }
        {
            let mut q = url.query_pairs_mut();
            if let Some(t) = id_token {
                q.append_pair("id_token_hint", t.expose());
            }
            q.append_pair("post_logout_redirect_uri", self.post_logout.as_str());
            q.append_pair("client_id", &self.client_id);
        }
        Some(url)
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

/// The token response's own extra fields (CONTRACT §2).
fn response_fields(resp: &ProviderTokenResponse) -> Map<String, Value> {
    resp.extra_fields().extra_fields().fields.clone()
}

/// What a plain OAuth 2.0 token response says about the user.
fn said_in(resp: &ProviderTokenResponse) -> Said {
    let mut said = Said::default();
    said.add(response_fields(resp));
    said
}

/// The token response's `scope` (space-separated; empty when it has none).
fn granted_scope(resp: &ProviderTokenResponse) -> String {
    resp.scopes()
        .map(|s| s.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DEFAULT_CORP_IDS_CLAIM, DEFAULT_ROLES_CLAIM};
    use crate::domain::Role;

    fn resp(json: &str) -> ProviderTokenResponse {
        serde_json::from_str(json).unwrap()
    }

    fn names() -> ClaimNames {
        ClaimNames {
            roles: DEFAULT_ROLES_CLAIM.into(),
            corp_ids: DEFAULT_CORP_IDS_CLAIM.into(),
        }
    }

    #[test]
    fn principal_from_token_response() {
        let r = resp(
            r#"{"access_token":"a","token_type":"Bearer","expires_in":60,"refresh_token":"r",
                "scope":"org_tech other readonly","corp_ids":["NORTHSTAR-ISD","bad id!"],
                "account_type":"kajeet_choice","name":"Tess","email":"t@example.com","sub":"u1"}"#,
        );
        let said = said_in(&r);
        assert_eq!(said.identity().as_deref(), Some("u1"));
        let p = said.principal("u1".into(), &names(), &granted_scope(&r));
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
        assert_eq!(p.name.as_deref(), Some("Tess"));
        let t = tokens_of(&r, None);
        assert_eq!(t.refresh.unwrap().expose(), "r");
        assert!(t.expires_at.is_some());
    }

    #[test]
    fn minimal_response_has_no_roles_and_keeps_the_old_refresh_token() {
        let r = resp(r#"{"access_token":"a","token_type":"bearer"}"#);
        let said = said_in(&r);
        assert!(said.identity().is_none(), "no sub, no email: nobody");
        let p = said.principal("x".into(), &names(), &granted_scope(&r));
        assert!(p.roles.is_empty());
        assert!(p.corp_ids.is_none());
        let t = tokens_of(&r, Some(&Secret::new("old")));
        assert_eq!(t.refresh.unwrap().expose(), "old");
        assert!(t.expires_at.is_none());
    }

    #[test]
    fn roles_from_a_named_claim_not_the_granted_scopes() {
        let r = resp(
            r#"{"access_token":"a","token_type":"Bearer","scope":"openid org_super org_tech",
                "sub":"u1","groups":"org_tech readonly","tenant_corps":["NORTHSTAR-ISD"]}"#,
        );
        let named = ClaimNames {
            roles: "groups".into(),
            corp_ids: "tenant_corps".into(),
        };
        let p = said_in(&r).principal("u1".into(), &named, &granted_scope(&r));
        assert_eq!(p.roles, vec![Role::OrgTech, Role::Readonly]);
        assert_eq!(p.corp_ids.map(|c| c.len()), Some(1));
    }
}
