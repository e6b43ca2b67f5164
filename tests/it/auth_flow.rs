//! Sign-in, session cookie, token refresh, logout, CSRF and `next` handling, end to end over HTTP
//! against the simulator's demo identity provider.
//!
//! Tests marked "needs the simulator's IdP" need `/oauth/*` and the API of the simulator
//! (`src/simulator`); the refresh count reads its request log at `/_sim/requests`.

use crate::helpers::*;

use std::str::FromStr;
use std::time::Duration;

use sentinel_console::config::IdentityConfig;
use sentinel_console::simulator::SimConfig;
use tower_sessions::session::Id;
use tower_sessions::session_store::SessionStore;
use url::Url;

const PAGE: &str = "/devices/NORTHSTAR-ISD";

/// The session cookie's `Set-Cookie` header of a response, if any.
fn session_set_cookie(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("sentinel_session=") || c.starts_with("__Host-sentinel_session="))
        .map(str::to_owned)
}

fn cookie_value(set_cookie: &str) -> String {
    let first = set_cookie.split(';').next().expect("cookie");
    first.split_once('=').expect("name=value").1.to_owned()
}

/// Starts sign-in in `browser` and signs in at the IdP, stopping before the console's callback.
/// Returns the `/login` response's session cookie and the callback URL.
async fn authorize(browser: &Session, user: &str, next: &str) -> (Option<String>, Url) {
    let login = browser
        .get(&format!(
            "/login?{}",
            serde_urlencoded::to_string([("next", next)]).unwrap()
        ))
        .await;
    assert_eq!(login.status(), 303, "login");
    let cookie = session_set_cookie(&login);
    let authorize = Url::parse(&location(&login)).unwrap();
    let mut form = query_pairs(&authorize);
    form.push(("user".into(), user.into()));
    let mut post = authorize.clone();
    post.set_query(None);
    let resp = browser.client.post(post).form(&form).send().await.unwrap();
    assert!(
        resp.status().is_redirection(),
        "authorize: {}",
        resp.status()
    );
    (cookie, Url::parse(&location(&resp)).unwrap())
}

/// Signs `browser` in and returns the session id (the cookie value).
async fn sign_in_id(browser: &Session, user: &str) -> String {
    let (_, callback) = authorize(browser, user, PAGE).await;
    let resp = browser.client.get(callback).send().await.unwrap();
    assert_eq!(resp.status(), 303);
    cookie_value(&session_set_cookie(&resp).expect("cookie at sign-in"))
}

/// The stored session record's data (None: no such session).
async fn stored(app: &TestApp, id: &str) -> Option<serde_json::Value> {
    let id = Id::from_str(id).expect("session id");
    app.state
        .auth
        .store
        .load(&id)
        .await
        .expect("store")
        .map(|r| serde_json::to_value(r.data).unwrap())
}

async fn stored_token(app: &TestApp, id: &str, which: &str) -> String {
    stored(app, id).await.expect("session")["auth"]["tokens"][which]
        .as_str()
        .expect("token")
        .to_owned()
}

/// Is `browser` signed in? (A page either renders or sends to sign-in.)
async fn signed_in(browser: &Session) -> bool {
    let r = browser.get(PAGE).await;
    match r.status().as_u16() {
        200 => true,
        303 => {
            assert!(location(&r).starts_with("/login?next="), "{}", location(&r));
            false
        }
        s => panic!("unexpected {s}"),
    }
}

/// The simulator's request log, through its control endpoint (`/_sim/requests`).
async fn sim_requests(app: &TestApp) -> Vec<serde_json::Value> {
    reqwest::get(app.sim.url("/_sim/requests"))
        .await
        .unwrap()
        .json()
        .await
        .expect("request log")
}

async fn clear_sim_requests(app: &TestApp) {
    let r = reqwest::Client::new()
        .delete(app.sim.url("/_sim/requests"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
}

async fn refresh_grants(app: &TestApp) -> usize {
    sim_requests(app)
        .await
        .iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("/oauth/token"))
                && r["body"]
                    .as_str()
                    .is_some_and(|b| b.contains("grant_type=refresh_token"))
        })
        .count()
}

// ---- sign-in -------------------------------------------------------------------------------

#[tokio::test]
async fn sign_in_lands_on_next() {
    // Needs the simulator's IdP.
    let app = spawn_app().await;
    let target = "/devices/NORTHSTAR-ISD?sort=MDN&sortDir=DESC";
    let resp = app.sign_in_to("tech", target).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.url().path(), "/devices/NORTHSTAR-ISD");
    assert_eq!(resp.url().query(), Some("sort=MDN&sortDir=DESC"));
    let html = resp.text().await.unwrap();
    assert!(extract_meta_csrf(&html).is_some());
}

#[tokio::test]
async fn unsigned_request_goes_to_sign_in_with_the_page() {
    let app = spawn_app().await;
    let r = app.get("/devices/NORTHSTAR-ISD?offset=25").await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        location(&r),
        "/login?next=%2Fdevices%2FNORTHSTAR-ISD%3Foffset%3D25"
    );
    // htmx: HX-Redirect to sign-in, back to the page the user sees.
    let r = app
        .client
        .get(app.url("/devices/NORTHSTAR-ISD/totals"))
        .header("HX-Request", "true")
        .header("HX-Current-URL", app.url("/devices/NORTHSTAR-ISD?sort=MDN"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers().get("hx-redirect").unwrap(),
        "/login?next=%2Fdevices%2FNORTHSTAR-ISD%3Fsort%3DMDN"
    );
}

#[tokio::test]
async fn login_sends_to_the_provider_with_pkce_and_state() {
    let app = spawn_app().await;
    let r = app.get("/login?next=/audit").await;
    assert_eq!(r.status(), 303);
    let url = Url::parse(&location(&r)).unwrap();
    assert_eq!(url.path(), "/oauth/authorize");
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], "sentinel-console");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"].len(), 43);
    assert!(q["state"].len() >= 16);
    assert_eq!(q["redirect_uri"], app.url("/auth/callback"));
    assert_eq!(
        q["scope"],
        "org_super org_tech org_kajeetmanaged org_managerplus org_mediacenter readonly"
    );
    // Nothing of it (verifier, state) travels in the cookie: only an opaque id.
    let cookie = session_set_cookie(&r).expect("cookie");
    assert!(!cookie.contains(&q["state"]));
}

#[tokio::test]
async fn state_mismatch_is_refused_and_signs_nothing_in() {
    // Needs the simulator's IdP.
    let app = spawn_app().await;
    let (_, callback) = authorize(&app, "tech", PAGE).await;
    let mut forged = callback.clone();
    let code = callback
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    forged.set_query(Some(&format!("code={code}&state=not-the-state")));
    let r = app.client.get(forged).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("could not be verified"));
    assert!(!signed_in(&app).await);
    // No state at all.
    let r = app.get("/auth/callback?code=abc").await;
    assert_eq!(r.status(), 400);
    // Another browser cannot use this browser's callback (its session has no such state).
    let other = app.new_session();
    let r = other.client.get(callback).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(!signed_in(&other).await);
}

#[tokio::test]
async fn provider_error_is_shown_not_signed_in() {
    // Needs the simulator's IdP (for the state only).
    let app = spawn_app().await;
    let login = app.get("/login?next=/").await;
    let url = Url::parse(&location(&login)).unwrap();
    let state = url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let r = app
        .get(&format!("/auth/callback?error=access_denied&state={state}"))
        .await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("cancelled or refused"));
}

#[tokio::test]
async fn session_id_rotates_at_sign_in() {
    // Needs the simulator's IdP.
    let app = spawn_app().await;
    let (before, callback) = authorize(&app, "tech", PAGE).await;
    let before = cookie_value(&before.expect("a session for the pending sign-in"));
    let r = app.client.get(callback).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), PAGE);
    let after = cookie_value(&session_set_cookie(&r).expect("new cookie"));
    assert_ne!(before, after);
    // The pre-sign-in session is gone from the store; the new one holds the tokens.
    assert!(stored(&app, &before).await.is_none());
    let data = stored(&app, &after).await.unwrap();
    assert!(data["auth"]["tokens"]["access"].is_string());
    assert!(data["auth"]["tokens"]["refresh"].is_string());
    assert_eq!(data["auth"]["principal"]["subject"], "tech");
    assert!(
        data.get("oauth_pending")
            .is_none_or(|p| p.as_array().is_some_and(|a| a.is_empty()))
    );
    assert!(signed_in(&app).await);
}

// ---- cookie --------------------------------------------------------------------------------

#[tokio::test]
async fn cookie_flags_over_http() {
    let app = spawn_app().await;
    let r = app.get("/login?next=/").await;
    let c = session_set_cookie(&r).expect("cookie");
    assert!(c.starts_with("sentinel_session="), "{c}");
    assert!(c.contains("HttpOnly"), "{c}");
    assert!(c.contains("SameSite=Lax"), "{c}");
    assert!(c.contains("Path=/"), "{c}");
    assert!(!c.contains("Secure"), "{c}");
    assert!(!c.to_ascii_lowercase().contains("domain="), "{c}");
}

#[tokio::test]
async fn cookie_flags_over_https_public_url() {
    let app = spawn_app_with(default_sim_config(), |c| {
        c.public_url = Some(Url::parse("https://console.example").unwrap());
    })
    .await;
    let r = app.get("/login?next=/").await;
    let c = session_set_cookie(&r).expect("cookie");
    assert!(c.starts_with("__Host-sentinel_session="), "{c}");
    assert!(c.contains("Secure"), "{c}");
    assert!(c.contains("HttpOnly"), "{c}");
    assert!(c.contains("SameSite=Lax"), "{c}");
    assert!(c.contains("Path=/"), "{c}");
    assert!(!c.to_ascii_lowercase().contains("domain="), "{c}");
    let authorize = Url::parse(&location(&r)).unwrap();
    let redirect = authorize
        .query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .unwrap()
        .1
        .into_owned();
    assert_eq!(redirect, "https://console.example/auth/callback");
}

// ---- refresh and lifetimes -----------------------------------------------------------------

#[tokio::test]
async fn expired_token_is_refreshed_once_for_concurrent_requests() {
    // Needs the simulator's IdP and its in-process request log.
    let app = spawn_app_with(
        SimConfig {
            token_ttl: Duration::from_secs(2),
            ..default_sim_config()
        },
        |_| {},
    )
    .await;
    let id = sign_in_id(&app, "tech").await;
    let old_access = stored_token(&app, &id, "access").await;
    let old_refresh = stored_token(&app, &id, "refresh").await;
    tokio::time::sleep(Duration::from_millis(2200)).await;
    clear_sim_requests(&app).await;
    let requests = (0..5).map(|_| app.client.get(app.url(PAGE)).send());
    let answers = futures::future::join_all(requests).await;
    for a in answers {
        assert_eq!(a.unwrap().status(), 200, "still signed in");
    }
    assert_eq!(
        refresh_grants(&app).await,
        1,
        "exactly one refresh reached the IdP"
    );
    let new_access = stored_token(&app, &id, "access").await;
    assert_ne!(new_access, old_access);
    assert_ne!(
        stored_token(&app, &id, "refresh").await,
        old_refresh,
        "rotated"
    );
    // Every API call after the refresh carried the new token.
    let api: Vec<_> = sim_requests(&app)
        .await
        .into_iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("/sentinel/api/"))
        })
        .collect();
    assert!(!api.is_empty());
    for r in api {
        assert_eq!(r["authorization"], format!("Bearer {new_access}"));
        assert_eq!(r["has_cookie"], false);
    }
}

#[tokio::test]
async fn failed_refresh_sends_to_sign_in_and_back_to_the_page() {
    // Needs the simulator's IdP.
    let app = spawn_app_with(
        SimConfig {
            token_ttl: Duration::from_secs(2),
            ..default_sim_config()
        },
        |_| {},
    )
    .await;
    let id = sign_in_id(&app, "tech").await;
    let refresh = stored_token(&app, &id, "refresh").await;
    // The IdP forgets the refresh token (e.g. revoked by an administrator).
    let r = reqwest::Client::new()
        .post(app.sim.url("/oauth/revoke"))
        .form(&[
            ("token", refresh.as_str()),
            ("token_type_hint", "refresh_token"),
        ])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let r = app.get("/devices/NORTHSTAR-ISD?sort=MDN").await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        location(&r),
        "/login?next=%2Fdevices%2FNORTHSTAR-ISD%3Fsort%3DMDN"
    );
    assert!(stored(&app, &id).await.is_none(), "session flushed");
    // Signing in again returns to that page.
    let back = app.follow(app.get(&location(&r)).await).await;
    // The follow stops at the IdP's sign-in page (a person picks a user there).
    assert_eq!(back.url().path(), "/oauth/authorize");
    let resp = app
        .sign_in_to("tech", "/devices/NORTHSTAR-ISD?sort=MDN")
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.url().query(), Some("sort=MDN"));
}

#[tokio::test]
async fn absolute_lifetime_is_enforced() {
    // Needs the simulator's IdP.
    let app = spawn_app_with(default_sim_config(), |c| {
        c.session_absolute = Duration::from_secs(1);
    })
    .await;
    let id = sign_in_id(&app, "tech").await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let r = app.get(PAGE).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/login?next=%2Fdevices%2FNORTHSTAR-ISD");
    assert!(stored(&app, &id).await.is_none());
    // /login does not take the expired session for a signed-in one.
    let r = app.get("/login?next=/").await;
    assert!(location(&r).contains("/oauth/authorize"));
}

// ---- logout and CSRF -----------------------------------------------------------------------

#[tokio::test]
async fn logout_revokes_and_flushes() {
    // Needs the simulator's IdP.
    let app = spawn_app().await;
    let id = sign_in_id(&app, "tech").await;
    let access = stored_token(&app, &id, "access").await;
    let csrf = app.page_csrf(PAGE).await;
    let r = app
        .post_form("/logout", &[("csrf_token", csrf.as_str())])
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/signed-out");
    let page = app.get("/signed-out").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("You are signed out"));
    assert!(html.contains("Sign in again"));
    // The old access token no longer works at Sentinel.
    let r =
        reqwest::Client::new()
            .get(app.sim.url(
                "/sentinel/api/v1.0/devices/NORTHSTAR-ISD?offset=0&limit=25&sort=MDN&sortDir=ASC",
            ))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 401);
    assert!(stored(&app, &id).await.is_none());
    assert!(!signed_in(&app).await);
}

#[tokio::test]
async fn logout_without_csrf_is_refused() {
    // Needs the simulator's IdP.
    let app = spawn_app().await;
    sign_in_id(&app, "tech").await;
    let r = app.client.post(app.url("/logout")).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("Reload the page"));
    let r = app.post_form("/logout", &[("csrf_token", "forged")]).await;
    assert_eq!(r.status(), 403);
    let r = app
        .client
        .post(app.url("/logout"))
        .header("X-CSRF-Token", "forged")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(signed_in(&app).await);
    // htmx gets a fragment for the message area.
    let r = app
        .client
        .post(app.url("/logout"))
        .header("HX-Request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(r.headers().get("hx-retarget").unwrap(), "#flash");
    // The header form works.
    let csrf = app.page_csrf(PAGE).await;
    let r = app
        .client
        .post(app.url("/logout"))
        .header("X-CSRF-Token", csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(!signed_in(&app).await);
}

#[tokio::test]
async fn post_without_a_session_is_refused() {
    let app = spawn_app().await;
    let r = app
        .post_form("/logout", &[("csrf_token", "anything")])
        .await;
    assert_eq!(r.status(), 403);
}

// ---- next ----------------------------------------------------------------------------------

#[tokio::test]
async fn open_redirects_land_on_root() {
    // Needs the simulator's IdP.
    let app = spawn_app().await;
    let bad = [
        "//evil.example",
        "https://evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
    ];
    for next in bad {
        let browser = app.new_session();
        let (_, callback) = authorize(&browser, "tech", next).await;
        let r = browser.client.get(callback).send().await.unwrap();
        assert_eq!(r.status(), 303);
        assert_eq!(location(&r), "/", "next={next:?}");
        // Already signed in: /login goes to next, made safe the same way.
        for again in bad {
            let r = browser
                .get(&format!(
                    "/login?{}",
                    serde_urlencoded::to_string([("next", again)]).unwrap()
                ))
                .await;
            assert_eq!(r.status(), 303);
            assert_eq!(location(&r), "/", "next={again:?}");
        }
    }
}

// ---- password mode -------------------------------------------------------------------------

#[tokio::test]
async fn password_mode_signs_in_without_keeping_the_password() {
    // Needs the simulator's /v1.0/auth/token.
    let app = spawn_app_with(default_sim_config(), |c| {
        c.identity = IdentityConfig::SentinelPassword;
    })
    .await;
    let form = app
        .get(&format!("/login?next={}", "%2Fdevices%2FNORTHSTAR-ISD"))
        .await;
    assert_eq!(form.status(), 200);
    let html = form.text().await.unwrap();
    assert!(html.contains(r#"type="password""#));
    let csrf = extract_meta_csrf(&html).expect("pre-session csrf");
    // Without the form's token: refused.
    let r = app
        .post_form(
            "/login",
            &[("username", "tech"), ("password", "demo"), ("next", PAGE)],
        )
        .await;
    assert_eq!(r.status(), 403);
    // A wrong password: the form again.
    let r = app
        .post_form(
            "/login",
            &[
                ("username", "tech"),
                ("password", "wrong"),
                ("next", PAGE),
                ("csrf_token", csrf.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("did not accept"));
    let r = app
        .post_form(
            "/login",
            &[
                ("username", "tech"),
                ("password", "demo"),
                ("next", PAGE),
                ("csrf_token", csrf.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), PAGE);
    let id = cookie_value(&session_set_cookie(&r).unwrap());
    let data = stored(&app, &id).await.unwrap();
    assert!(
        !data.to_string().contains("\"demo\""),
        "password not stored"
    );
    assert!(data["auth"]["tokens"]["refresh"].is_null());
    assert!(signed_in(&app).await);
}
