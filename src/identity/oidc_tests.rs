//! Unit tests of [`super`]: ID tokens made and signed here (test-only RSA keys under
//! `testdata/`), checked against local key sets.

use super::*;
use chrono::{DateTime, Duration as Secs, Utc};
use openidconnect::core::CoreRsaPrivateSigningKey;
use openidconnect::{
    Audience, EndUserEmail, JsonWebKeyId, PrivateSigningKey, StandardClaims, SubjectIdentifier,
};
use serde_json::json;

const KEY_A: &str = include_str!("testdata/rsa-a.pem");
const KEY_B: &str = include_str!("testdata/rsa-b.pem");
const ISSUER: &str = "https://idp.district.example";
const CLIENT: &str = "sentinel-console";
const NONCE: &str = "n-0S6_WzA2Mj";

fn key(pem: &str, kid: &str) -> CoreRsaPrivateSigningKey {
    CoreRsaPrivateSigningKey::from_pem(pem, Some(JsonWebKeyId::new(kid.into()))).expect("test key")
}

struct Made {
    audience: &'static str,
    issuer: &'static str,
    nonce: &'static str,
    expires_in: i64,
}

const GOOD: Made = Made {
    audience: CLIENT,
    issuer: ISSUER,
    nonce: NONCE,
    expires_in: 300,
};

fn now() -> DateTime<Utc> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    DateTime::from_timestamp(i64::try_from(secs).unwrap_or_default(), 0).unwrap_or_default()
}

fn id_token(signer: &CoreRsaPrivateSigningKey, m: &Made) -> ProviderIdToken {
    let now = now();
    let mut other = HashMap::new();
    other.insert("sentinel_roles".to_owned(), json!(["org_tech", "unknown"]));
    other.insert("corp_ids".to_owned(), json!("NORTHSTAR-ISD"));
    let claims = ProviderIdTokenClaims::new(
        IssuerUrl::new(m.issuer.into()).expect("issuer"),
        vec![Audience::new(m.audience.into())],
        now + Secs::seconds(m.expires_in),
        now - Secs::seconds(5),
        StandardClaims::new(SubjectIdentifier::new("alice".into()))
            .set_email(Some(EndUserEmail::new("alice@district.example".into()))),
        OtherClaims { claims: other },
    )
    .set_nonce(Some(Nonce::new(m.nonce.into())));
    ProviderIdToken::new(
        claims,
        signer,
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        None,
        None,
    )
    .expect("sign")
}

fn provider_with(keys: &[&CoreRsaPrivateSigningKey]) -> Discovered {
    let url = Url::parse(ISSUER).expect("url");
    Discovered {
        issuer: IssuerUrl::new(ISSUER.into()).expect("issuer"),
        authorize: url.clone(),
        token: url,
        revoke: None,
        userinfo: None,
        end_session: None,
        iss_parameter: true,
        keys: JsonWebKeySet::new(keys.iter().map(|k| k.as_verification_key()).collect()),
    }
}

fn expect(nonce: Option<&str>) -> Expect<'_> {
    Expect {
        client_id: CLIENT,
        client_secret: None,
        nonce,
    }
}

#[test]
fn a_good_id_token_says_who_and_its_role_claim_gives_the_roles() {
    let a = key(KEY_A, "a");
    let found = provider_with(&[&a]);
    let claims = validate(&found, &id_token(&a, &GOOD), &expect(Some(NONCE))).expect("valid");
    let mut said = Said::default();
    said.add_id_token(&claims);
    assert_eq!(said.identity().as_deref(), Some("alice"));
    let names = ClaimNames {
        roles: "sentinel_roles".into(),
        corp_ids: "corp_ids".into(),
    };
    // The granted scopes are ignored when roles come from a claim.
    let p = said.principal("alice".into(), &names, "org_super");
    assert_eq!(p.roles, vec![Role::OrgTech]);
    assert_eq!(p.email.as_deref(), Some("alice@district.example"));
    assert_eq!(
        p.corp_ids
            .map(|c| c.iter().map(|c| c.as_str().to_owned()).collect::<Vec<_>>()),
        Some(vec!["NORTHSTAR-ISD".to_owned()])
    );
}

#[test]
fn a_wrong_nonce_is_refused() {
    let a = key(KEY_A, "a");
    let found = provider_with(&[&a]);
    let err =
        validate(&found, &id_token(&a, &GOOD), &expect(Some("another"))).expect_err("wrong nonce");
    assert!(
        matches!(err, ClaimsVerificationError::InvalidNonce(_)),
        "{err}"
    );
}

#[test]
fn an_id_token_for_another_audience_is_refused() {
    let a = key(KEY_A, "a");
    let found = provider_with(&[&a]);
    let other = Made {
        audience: "another-app",
        ..GOOD
    };
    let err = validate(&found, &id_token(&a, &other), &expect(Some(NONCE))).expect_err("aud");
    assert!(
        matches!(err, ClaimsVerificationError::InvalidAudience(_)),
        "{err}"
    );
}

#[test]
fn another_issuer_and_an_expired_token_are_refused() {
    let a = key(KEY_A, "a");
    let found = provider_with(&[&a]);
    let elsewhere = Made {
        issuer: "https://evil.example",
        ..GOOD
    };
    let err = validate(&found, &id_token(&a, &elsewhere), &expect(Some(NONCE))).expect_err("iss");
    assert!(
        matches!(err, ClaimsVerificationError::InvalidIssuer(_)),
        "{err}"
    );
    let old = Made {
        expires_in: -120,
        ..GOOD
    };
    let err = validate(&found, &id_token(&a, &old), &expect(Some(NONCE))).expect_err("exp");
    assert!(matches!(err, ClaimsVerificationError::Expired(_)), "{err}");
}

#[test]
fn a_token_signed_by_another_key_is_refused() {
    let a = key(KEY_A, "a");
    let found = provider_with(&[&a]);
    // A key the provider never published: unknown, so the keys are read again (and it fails).
    let err = validate(
        &found,
        &id_token(&key(KEY_B, "b"), &GOOD),
        &expect(Some(NONCE)),
    )
    .expect_err("unknown key");
    assert!(unknown_key(&err), "{err}");
    // Another key claiming the published key's id: a bad signature, no second look.
    let err = validate(
        &found,
        &id_token(&key(KEY_B, "a"), &GOOD),
        &expect(Some(NONCE)),
    )
    .expect_err("forged");
    assert!(
        matches!(err, ClaimsVerificationError::SignatureVerification(_)) && !unknown_key(&err),
        "{err}"
    );
    // After a rotation that publishes it, the new key's token is good.
    let b = key(KEY_B, "b");
    let rotated = provider_with(&[&a, &b]);
    validate(&rotated, &id_token(&b, &GOOD), &expect(Some(NONCE))).expect("rotated key");
}

#[test]
fn a_refresh_id_token_needs_no_nonce() {
    let a = key(KEY_A, "a");
    let found = provider_with(&[&a]);
    validate(&found, &id_token(&a, &GOOD), &expect(None)).expect("no nonce check on refresh");
}

#[test]
fn list_claims_are_arrays_or_space_separated() {
    let mut said = Said::default();
    said.add(
        json!({"a": ["x", "y", 3], "b": " x  y ", "c": 7, "sub": "", "email": "e@x"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    );
    assert_eq!(said.list("a"), Some(vec!["x".to_owned(), "y".to_owned()]));
    assert_eq!(said.list("b"), Some(vec!["x".to_owned(), "y".to_owned()]));
    assert_eq!(said.list("c"), None);
    assert_eq!(said.list("missing"), None);
    // An empty sub is no identity: the e-mail is used.
    assert_eq!(said.identity().as_deref(), Some("e@x"));
}

#[test]
fn the_more_trusted_source_wins() {
    let mut said = Said::default();
    said.add(
        json!({"sub": "alice", "name": "Alice"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    );
    said.add(
        json!({"sub": "mallory", "name": "M", "email": "a@x"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    );
    assert_eq!(said.text("sub").as_deref(), Some("alice"));
    assert_eq!(said.text("name").as_deref(), Some("Alice"));
    assert_eq!(said.text("email").as_deref(), Some("a@x"));
}
