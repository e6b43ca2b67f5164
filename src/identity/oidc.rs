//! OpenID Connect on top of the OAuth 2.0 flow (`openidconnect` crate): discovery (cached,
//! re-read when the provider signs with a key not seen yet), ID token validation, userinfo, and
//! what the provider says about the user (claims merged from the ID token, userinfo and the token
//! response) turned into roles and device groups.

use std::collections::HashMap;
use std::sync::Arc;

use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClientAuthMethod, CoreGenderClaim,
    CoreGrantType, CoreJsonWebKey, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType,
    CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalClaims, AdditionalProviderMetadata, ClaimsVerificationError, ClientId, ClientSecret,
    IdToken, IdTokenClaims, IdTokenVerifier, IssuerUrl, JsonWebKeySet, Nonce, ProviderMetadata,
    SignatureVerificationError,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::RwLock;
use url::Url;

use crate::domain::{CorpId, Role};
use crate::policy::Principal;

/// Claims beyond the standard ones (roles, device groups, whatever the deployment adds).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OtherClaims {
    #[serde(flatten)]
    pub claims: HashMap<String, Value>,
}

impl AdditionalClaims for OtherClaims {}

/// An ID token with [`OtherClaims`].
pub type ProviderIdToken = IdToken<
    OtherClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// The claims of a validated ID token.
pub type ProviderIdTokenClaims = IdTokenClaims<OtherClaims, CoreGenderClaim>;

/// Discovery fields the core metadata does not name: revocation, end-session, RFC 9207.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MoreMetadata {
    #[serde(default)]
    pub revocation_endpoint: Option<Url>,
    #[serde(default)]
    pub end_session_endpoint: Option<Url>,
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: Option<bool>,
}

impl AdditionalProviderMetadata for MoreMetadata {}

type Metadata = ProviderMetadata<
    MoreMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// What discovery found: every endpoint and the signing keys.
#[derive(Debug)]
pub struct Discovered {
    pub issuer: IssuerUrl,
    pub authorize: Url,
    pub token: Url,
    pub revoke: Option<Url>,
    pub userinfo: Option<Url>,
    pub end_session: Option<Url>,
    /// The provider puts `iss` on its authorization responses (RFC 9207): the callback must too.
    pub iss_parameter: bool,
    pub keys: CoreJsonWebKeySet,
}

/// An OpenID Connect provider found by discovery; the answer cached until a key rotation.
#[derive(Debug)]
pub struct Discovery {
    issuer: IssuerUrl,
    cache: RwLock<Option<Arc<Discovered>>>,
}

impl Discovery {
    pub fn new(issuer: &Url) -> anyhow::Result<Self> {
        // The issuer exactly as configured (no trailing slash added): discovery compares it.
        let issuer = IssuerUrl::new(issuer.as_str().trim_end_matches('/').to_owned())?;
        Ok(Self {
            issuer,
            cache: RwLock::new(None),
        })
    }

    /// The issuer's origin (`scheme://host:port`).
    pub fn issuer_origin(&self) -> String {
        self.issuer.url().origin().ascii_serialization()
    }

    /// The provider's metadata and keys, read once and then from the cache.
    pub async fn get(&self, http: &reqwest::Client) -> Result<Arc<Discovered>, String> {
        if let Some(d) = self.cache.read().await.as_ref() {
            return Ok(d.clone());
        }
        self.reload(http, None).await
    }

    /// Reads the metadata and keys again (the provider rotated its keys), unless another request
    /// already did since `seen` was read.
    pub async fn reload(
        &self,
        http: &reqwest::Client,
        seen: Option<&Arc<Discovered>>,
    ) -> Result<Arc<Discovered>, String> {
        let mut cache = self.cache.write().await;
        if let Some(d) = cache.as_ref() {
            if seen.is_none_or(|s| !Arc::ptr_eq(s, d)) {
                return Ok(d.clone());
            }
        }
        let meta = Metadata::discover_async(self.issuer.clone(), http)
            .await
            .map_err(|e| format!("OpenID Connect discovery at {} failed: {e}", self.issuer))?;
        let more = meta.additional_metadata().clone();
        let found = Arc::new(Discovered {
            issuer: meta.issuer().clone(),
            authorize: meta.authorization_endpoint().url().clone(),
            token: meta
                .token_endpoint()
                .map(|t| t.url().clone())
                .ok_or("the provider's discovery names no token endpoint")?,
            revoke: more.revocation_endpoint,
            userinfo: meta.userinfo_endpoint().map(|u| u.url().clone()),
            end_session: more.end_session_endpoint,
            iss_parameter: more
                .authorization_response_iss_parameter_supported
                .unwrap_or(false),
            keys: meta.jwks().clone(),
        });
        tracing::info!(issuer = %self.issuer, keys = found.keys.keys().len(), "OpenID Connect provider discovered");
        *cache = Some(found.clone());
        Ok(found)
    }
}

/// How an ID token is checked: the client it must be for, and the nonce of the sign-in
/// (`None` on a refresh, whose ID token need not carry one).
pub struct Expect<'a> {
    pub client_id: &'a str,
    pub client_secret: Option<&'a str>,
    pub nonce: Option<&'a str>,
}

/// Validates an ID token against `found`'s keys and issuer: signature, `iss`, `aud` (and `azp`),
/// `exp`, and the sign-in's `nonce`.
pub fn validate(
    found: &Discovered,
    token: &ProviderIdToken,
    expect: &Expect<'_>,
) -> Result<ProviderIdTokenClaims, ClaimsVerificationError> {
    validate_with(&found.issuer, found.keys.clone(), token, expect)
}

fn validate_with(
    issuer: &IssuerUrl,
    keys: JsonWebKeySet<CoreJsonWebKey>,
    token: &ProviderIdToken,
    expect: &Expect<'_>,
) -> Result<ProviderIdTokenClaims, ClaimsVerificationError> {
    let client = ClientId::new(expect.client_id.to_owned());
    let verifier: IdTokenVerifier<'_, CoreJsonWebKey> = match expect.client_secret {
        Some(s) => IdTokenVerifier::new_confidential_client(
            client,
            ClientSecret::new(s.to_owned()),
            issuer.clone(),
            keys,
        ),
        None => IdTokenVerifier::new_public_client(client, issuer.clone(), keys),
    };
    match expect.nonce {
        Some(n) => token.claims(&verifier, &Nonce::new(n.to_owned())).cloned(),
        None => token.claims(&verifier, |_: Option<&Nonce>| Ok(())).cloned(),
    }
}

/// Did validation fail for want of the signing key (the provider may have rotated its keys)?
pub fn unknown_key(e: &ClaimsVerificationError) -> bool {
    matches!(
        e,
        ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey
                | SignatureVerificationError::AmbiguousKeyId(_)
        )
    )
}

/// The userinfo endpoint's claims for `access_token` (JSON answers only; a signed userinfo is
/// not requested). Its `sub` must be `subject`'s (OpenID Connect Core 5.3.4).
pub async fn userinfo(
    http: &reqwest::Client,
    url: &Url,
    access_token: &str,
    subject: Option<&str>,
) -> Result<Map<String, Value>, String> {
    let resp = http
        .get(url.clone())
        .bearer_auth(access_token)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| format!("userinfo request failed: {}", e.without_url()))?;
    if !resp.status().is_success() {
        return Err(format!("userinfo answered {}", resp.status()));
    }
    let claims: Map<String, Value> = resp
        .json()
        .await
        .map_err(|_| "userinfo answered something other than a JSON object".to_owned())?;
    let sub = claims.get("sub").and_then(Value::as_str);
    match (sub, subject) {
        (None, _) => Err("userinfo gave no sub".into()),
        (Some(s), Some(want)) if s != want => Err("userinfo is about another user".into()),
        _ => Ok(claims),
    }
}

/// Where roles and device groups are read (`OAUTH_ROLES_CLAIM`, `OAUTH_CORP_IDS_CLAIM`).
#[derive(Debug, Clone)]
pub struct ClaimNames {
    pub roles: String,
    pub corp_ids: String,
}

/// The value that means "the granted scopes" for [`ClaimNames::roles`].
pub const SCOPE: &str = "scope";

/// Everything the provider said about the user, the most trusted source first: the validated ID
/// token's claims, then userinfo, then the token response's own extra fields.
#[derive(Debug, Default)]
pub struct Said {
    sources: Vec<Map<String, Value>>,
}

impl Said {
    pub fn add(&mut self, claims: Map<String, Value>) {
        self.sources.push(claims);
    }

    /// Adds a validated ID token's claims.
    pub fn add_id_token(&mut self, claims: &ProviderIdTokenClaims) {
        if let Ok(Value::Object(m)) = serde_json::to_value(claims) {
            self.add(m);
        }
    }

    fn get(&self, key: &str) -> Option<&Value> {
        self.sources
            .iter()
            .find_map(|m| m.get(key).filter(|v| !v.is_null()))
    }

    /// A non-empty string claim.
    pub fn text(&self, key: &str) -> Option<String> {
        self.sources.iter().find_map(|m| {
            m.get(key)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        })
    }

    /// A list claim: a JSON array of strings, or one space-separated string.
    pub fn list(&self, key: &str) -> Option<Vec<String>> {
        match self.get(key)? {
            Value::Array(items) => Some(
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
            ),
            Value::String(s) => Some(s.split_whitespace().map(str::to_owned).collect()),
            _ => None,
        }
    }

    /// Who this is about: `sub`, else `email`.
    pub fn identity(&self) -> Option<String> {
        self.text("sub").or_else(|| self.text("email"))
    }

    /// The user `subject` as said. `granted_scope` is the token response's `scope`; without
    /// it no role is granted (the safe reading; RFC 6749 would let it mean "as requested",
    /// which here is every role).
    pub fn principal(&self, subject: String, names: &ClaimNames, granted_scope: &str) -> Principal {
        let roles = if names.roles == SCOPE {
            Role::from_scope_str(granted_scope)
        } else {
            Role::from_scope_str(&self.list(&names.roles).unwrap_or_default().join(" "))
        };
        Principal {
            subject,
            name: self.text("name"),
            email: self.text("email"),
            roles,
            corp_ids: self
                .list(&names.corp_ids)
                .map(|ids| ids.iter().filter_map(|s| CorpId::parse(s).ok()).collect()),
            account_type: self.text("account_type"),
        }
    }
}

#[cfg(test)]
#[path = "oidc_tests.rs"]
mod tests;
