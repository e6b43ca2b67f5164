//! Issue 25: the console against a real, certified OpenID Connect provider nobody here wrote —
//! panva's `oidc-provider` (pinned in `tests/browser-tools`, started by `oidc-provider.mjs` as a
//! child process) — in headless Chromium: its real login and consent pages, the ID token
//! validated, roles from a claim, a rotated refresh token when the access token runs out,
//! sign-out revoking and ending the provider's session; and Sentinel refusing a fresh sign-in's
//! token: one page, no loop, the token revoked. Skipped (with a note) without node, the
//! provider or Chromium, unless `CI` is set.

use crate::browser::{Step, click, have_browser, in_browser_expecting, text, url, wait_until};
use crate::helpers::*;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::str::FromStr;
use std::time::Duration;

use fantoccini::{Client, Locator};
use sentinel_console::config::{IdentityConfig, OAuthConfig, OAuthEndpoints};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tower_sessions::session::Id;
use tower_sessions::session_store::SessionStore;

/// The provider's own pages ask for a web font this offline machine cannot load.
const PROVIDER_PAGE_NOISE: &str = "fonts.googleapis.com";

/// The provider's access-token lifetime: short, so that a test sees it run out.
const ACCESS_TTL_SECS: u64 = 6;

fn tools() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser-tools")
}

/// Is `oidc-provider` installed (`npm ci --prefix tests/browser-tools`)? Under `CI` it must be.
fn have_provider() -> bool {
    let have = tools().join("node_modules/oidc-provider").exists();
    if !have {
        if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
            panic!(
                "CI is set but oidc-provider is missing: run `npm ci --prefix tests/browser-tools`"
            );
        }
        println!("skipped: oidc-provider not installed (npm ci --prefix tests/browser-tools)");
    }
    have
}

/// A running `oidc-provider`; killed on drop.
struct Provider {
    child: Child,
    stdin: ChildStdin,
    issuer: String,
    discovery: Value,
}

impl Provider {
    /// Starts the provider and registers the console whose base URL `console_for` gives once
    /// the issuer is known.
    async fn start() -> (Self, Lines<BufReader<ChildStdout>>) {
        let mut child = Command::new("node")
            .arg(tools().join("oidc-provider.mjs"))
            .env("ACCESS_TTL", ACCESS_TTL_SECS.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn node tests/browser-tools/oidc-provider.mjs");
        let stdin = child.stdin.take().expect("stdin");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let issuer = read_tagged(&mut lines, "ISSUER").await;
        (
            Self {
                child,
                stdin,
                issuer,
                discovery: Value::Null,
            },
            lines,
        )
    }

    async fn register(&mut self, lines: &mut Lines<BufReader<ChildStdout>>, console: &str) {
        self.stdin
            .write_all(format!("{console}\n").as_bytes())
            .await
            .expect("tell the provider the console's URL");
        self.stdin.flush().await.expect("flush");
        read_tagged(lines, "READY").await;
        self.discovery = reqwest::get(format!("{}/.well-known/openid-configuration", self.issuer))
            .await
            .expect("discovery")
            .json()
            .await
            .expect("discovery json");
    }

    fn endpoint(&self, name: &str) -> String {
        self.discovery[name]
            .as_str()
            .unwrap_or_else(|| panic!("discovery has no {name}"))
            .to_owned()
    }

    /// Does the provider still accept this access token (its userinfo endpoint)?
    async fn accepts_access(&self, token: &str) -> bool {
        reqwest::Client::new()
            .get(self.endpoint("userinfo_endpoint"))
            .bearer_auth(token)
            .send()
            .await
            .expect("userinfo")
            .status()
            .is_success()
    }

    /// Does the provider still accept this refresh token? (Using it rotates it.)
    async fn accepts_refresh(&self, token: &str) -> bool {
        reqwest::Client::new()
            .post(self.endpoint("token_endpoint"))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", token),
                ("client_id", "sentinel-console"),
            ])
            .send()
            .await
            .expect("token endpoint")
            .status()
            .is_success()
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

async fn read_tagged(lines: &mut Lines<BufReader<ChildStdout>>, tag: &str) -> String {
    let wait = async {
        while let Some(line) = lines.next_line().await.expect("provider output") {
            if let Some(rest) = line.strip_prefix(&format!("{tag} ")) {
                return rest.trim().to_owned();
            }
        }
        panic!("the provider ended before saying {tag}");
    };
    tokio::time::timeout(Duration::from_secs(20), wait)
        .await
        .unwrap_or_else(|_| panic!("the provider did not say {tag} within 20 s"))
}

/// A console on the simulator's API that signs in with `provider` (discovery), roles from the
/// `sentinel_roles` claim.
async fn console_with(roles_claim: &str) -> Option<(TestApp, Provider)> {
    if !have_provider() {
        return None;
    }
    let (mut provider, mut lines) = Provider::start().await;
    let sim = spawn_sim(default_sim_config()).await;
    let mut cfg = config_for(&sim, &sqlite_url());
    cfg.identity = IdentityConfig::OAuth(OAuthConfig {
        endpoints: OAuthEndpoints::Discovery {
            issuer: url::Url::parse(&provider.issuer).expect("issuer"),
        },
        client_id: "sentinel-console".into(),
        client_secret: None,
        roles_claim: roles_claim.into(),
        corp_ids_claim: "corp_ids".into(),
    });
    let app = spawn_console(sim, cfg).await;
    provider
        .register(&mut lines, &format!("http://{}", app.addr))
        .await;
    Some((app, provider))
}

/// The stored session of the browser's cookie.
async fn stored_auth(app: &TestApp, c: &Client) -> Step<Option<Value>> {
    let cookie = c
        .get_named_cookie("sentinel_session")
        .await
        .map_err(|e| format!("session cookie: {e}"))?;
    let id = Id::from_str(cookie.value()).map_err(|e| format!("session id: {e}"))?;
    let record = app
        .state
        .auth
        .store
        .load(&id)
        .await
        .map_err(|e| e.to_string())?;
    Ok(record.and_then(|r| r.data.get("auth").cloned()))
}

fn token_in(auth: &Value, which: &str) -> String {
    auth["tokens"][which]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Signs in on the provider's own pages: its login form, then its consent page when asked.
async fn provider_sign_in(c: &Client, provider: &Provider, login: &str) -> Step<()> {
    let field = c
        .wait()
        .at_most(crate::browser::STEP)
        .for_element(Locator::Css("input[name=login]"))
        .await
        .map_err(|e| format!("the provider's login form: {e}"))?;
    let at = url(c).await?;
    if !at.as_str().starts_with(&provider.issuer) {
        return Err(format!("the login form is not the provider's: {at}"));
    }
    field
        .send_keys(login)
        .await
        .map_err(|e| format!("type login: {e}"))?;
    c.find(Locator::Css("input[name=password]"))
        .await
        .map_err(|e| format!("password field: {e}"))?
        .send_keys("any password")
        .await
        .map_err(|e| format!("type password: {e}"))?;
    click(c, "button[type=submit]").await?;
    // The consent page ("Continue"), shown for a first sign-in.
    let issuer = provider.issuer.clone();
    let issuer = &issuer;
    wait_until("the consent page or the console", || async move {
        let u = url(c).await?;
        if !u.as_str().starts_with(issuer.as_str()) {
            return Ok(Some(()));
        }
        let consent = c
            .find(Locator::Css("input[name=prompt][value=consent]"))
            .await
            .is_ok();
        if consent {
            click(c, "button[type=submit]").await?;
        }
        Ok(None)
    })
    .await
}

async fn on_console_path(c: &Client, app: &TestApp, path: &str) -> Step<()> {
    let base = format!("http://{}", app.addr);
    let base = &base;
    wait_until(&format!("the console's {path}"), || async move {
        let u = url(c).await?;
        Ok((u.as_str().starts_with(base.as_str()) && u.path() == path).then_some(()))
    })
    .await
}

/// Runs `scenario` in Chromium against a console signing in with oidc-provider (roles from
/// `sentinel_roles`); skipped without the browser or the provider. Console messages containing one
/// of `expected` (besides the provider pages' web font) are no failure.
async fn in_oidc_browser<F, Fut>(name: &str, expected: &[&str], scenario: F)
where
    F: FnOnce(Client, TestApp, Provider) -> Fut,
    Fut: std::future::Future<Output = Step<()>>,
{
    if !have_browser() {
        return;
    }
    let Some((app, provider)) = console_with("sentinel_roles").await else {
        return;
    };
    let mut allowed = vec![PROVIDER_PAGE_NOISE];
    allowed.extend_from_slice(expected);
    in_browser_expecting(name, &allowed, |c, _| scenario(c, app, provider)).await;
}

async fn open(c: &Client, url: &str) -> Step<()> {
    c.goto(url).await.map_err(|e| format!("open {url}: {e}"))
}

/// Signs out with `button` (in a form posting to `/logout`), confirms at the provider's
/// end-session page, and lands on the console's signed-out page.
async fn sign_out_everywhere(c: &Client, app: &TestApp, button: &str) -> Step<()> {
    click(c, button).await?;
    click(c, "button[name=logout][value=yes]").await?;
    on_console_path(c, app, "/signed-out").await
}

/// The header's sign-out button.
const HEADER_SIGN_OUT: &str = "form[action='/logout'] button";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_provider_sign_in_refresh_and_sign_out_in_chromium() {
    in_oidc_browser("oidc-sign-in", &[], |c, app, provider| async move {
        let (c, app) = (&c, &app);
        let base = format!("http://{}", app.addr);
        // /changes reads only the console's own database: the upstream never sees these tokens.
        open(c, &format!("{base}/changes")).await?;
        provider_sign_in(c, &provider, "alice").await?;
        on_console_path(c, app, "/changes").await?;
        let who = text(c, ".who-name").await?.unwrap_or_default();
        let roles = text(c, ".who-roles").await?.unwrap_or_default();
        if who != "Alice Admin" || !roles.contains("org_tech") || roles.contains("org_super") {
            return Err(format!("signed in as {who:?} with roles {roles:?}"));
        }
        let auth = stored_auth(app, c).await?.ok_or("no session stored")?;
        if auth["principal"]["subject"] != "alice" || token_in(&auth, "id_token").is_empty() {
            return Err(format!("stored sign-in: {}", auth["principal"]));
        }
        let (access, refresh) = (token_in(&auth, "access"), token_in(&auth, "refresh"));
        if refresh.is_empty() {
            return Err("no refresh token (offline_access not asked?)".into());
        }

        // The access token runs out: the next page refreshes it, with a rotated refresh token.
        tokio::time::sleep(Duration::from_secs(ACCESS_TTL_SECS)).await;
        open(c, &format!("{base}/changes")).await?;
        on_console_path(c, app, "/changes").await?;
        let auth = stored_auth(app, c)
            .await?
            .ok_or("signed out by the refresh")?;
        let (access2, refresh2) = (token_in(&auth, "access"), token_in(&auth, "refresh"));
        if access2 == access || refresh2 == refresh || refresh2.is_empty() {
            return Err("the tokens were not refreshed and rotated".into());
        }
        if auth["principal"]["roles"] != serde_json::json!(["org_tech"]) {
            return Err(format!(
                "roles after refresh: {}",
                auth["principal"]["roles"]
            ));
        }
        if !provider.accepts_access(&access2).await {
            return Err("the refreshed access token is not good at the provider".into());
        }

        // Sign-out: both tokens revoked, then the provider's own sign-out, then back here.
        sign_out_everywhere(c, app, HEADER_SIGN_OUT).await?;
        if provider.accepts_access(&access2).await {
            return Err("the access token still works after sign-out".into());
        }
        if provider.accepts_refresh(&refresh2).await {
            return Err("the refresh token still works after sign-out".into());
        }
        // The provider's session is over: signing in again asks for the login again.
        open(c, &format!("{base}/changes")).await?;
        c.wait()
            .at_most(crate::browser::STEP)
            .for_element(Locator::Css("input[name=login]"))
            .await
            .map_err(|e| format!("no login prompt after sign-out: {e}"))?;
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_role_claims_give_each_user_exactly_their_roles() {
    in_oidc_browser("oidc-roles", &[], |c, app, provider| async move {
        let (c, app) = (&c, &app);
        for (login, want) in [
            ("bob", vec!["readonly"]),
            ("carol", vec!["org_super", "org_tech"]),
            ("dave", vec![]),
        ] {
            open(c, &format!("http://{}/changes", app.addr)).await?;
            provider_sign_in(c, &provider, login).await?;
            on_console_path(c, app, "/changes").await?;
            let auth = stored_auth(app, c).await?.ok_or("no session")?;
            if auth["principal"]["roles"] != serde_json::json!(want) {
                return Err(format!("{login}: roles {}", auth["principal"]["roles"]));
            }
            sign_out_everywhere(c, app, HEADER_SIGN_OUT).await?;
        }
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_refusing_a_fresh_sign_in_shows_one_page_and_revokes() {
    // The simulator's API knows nothing of this provider's tokens: it answers 401, which the
    // refusal page comes with.
    in_oidc_browser(
        "oidc-refused",
        &["status of 401"],
        |c, app, provider| async move {
            let (c, app) = (&c, &app);
            open(c, &format!("http://{}/devices/NORTHSTAR-ISD", app.addr)).await?;
            provider_sign_in(c, &provider, "alice").await?;
            on_console_path(c, app, "/devices/NORTHSTAR-ISD").await?;
            let h1 = wait_until("the refusal page", || async move {
                Ok(text(c, "h1")
                    .await?
                    .filter(|h| h.contains("does not accept")))
            })
            .await?;
            if h1 != "Sentinel does not accept your sign-in" {
                return Err(format!("page heading {h1:?}"));
            }
            // No loop: a while later the browser is still on that page, after one upstream call.
            tokio::time::sleep(Duration::from_secs(2)).await;
            on_console_path(c, app, "/devices/NORTHSTAR-ISD").await?;
            let calls = app.sim.api_requests_to("GET", "/devices/NORTHSTAR-ISD");
            if calls.len() != 1 {
                return Err(format!("{} upstream calls, want 1", calls.len()));
            }
            let bearer = calls[0]
                .authorization
                .clone()
                .unwrap_or_default()
                .trim_start_matches("Bearer ")
                .to_owned();
            if provider.accepts_access(&bearer).await {
                return Err("the refused access token was not revoked".into());
            }
            if stored_auth(app, c).await?.is_some() {
                return Err("the refused sign-in is still signed in".into());
            }
            // Its sign-out ends the provider's session too.
            sign_out_everywhere(c, app, "main form button[type=submit]").await
        },
    )
    .await;
}

// ---- the same refusal with the embedded provider, over plain HTTP ------------------------------

/// The session id in this browser's cookie.
fn session_id(browser: &Session) -> Id {
    let cookies = browser.cookie_header();
    let value = cookies
        .split("; ")
        .find_map(|c| c.strip_prefix("sentinel_session="))
        .expect("session cookie");
    Id::from_str(value).expect("session id")
}

#[tokio::test]
async fn sentinel_refusing_a_fresh_sign_in_answers_a_page_not_a_redirect() {
    let app = spawn_app().await;
    let browser = app.session_as("tech").await;
    // The identity provider ends tech's grants: Sentinel now refuses the session's token.
    app.sim.sim.revoke_user("tech");
    let fragment = browser.get_htmx("/devices/NORTHSTAR-ISD").await;
    assert_eq!(fragment.status(), 401);
    assert!(fragment.headers().get("hx-redirect").is_none());
    assert!(fragment.text().await.expect("body").contains(
        "Sentinel does not accept your sign-in: The access token is unknown or was revoked."
    ));
    // Signed out now: the next page is the way to sign in again (the user's choice).
    let again = browser.get("/devices/NORTHSTAR-ISD").await;
    assert_eq!(again.status(), 303);
    assert!(
        location(&again).starts_with("/login?"),
        "{}",
        location(&again)
    );

    // A full page: the refusal with a sign-out button, and no redirect.
    let browser = app.session_as("manager").await;
    app.sim.sim.revoke_user("manager");
    let page = browser.get("/devices/NORTHSTAR-ISD").await;
    assert_eq!(page.status(), 401);
    assert!(page.headers().get("location").is_none());
    let html = page.text().await.expect("body");
    assert_eq!(
        texts(&html, "h1"),
        vec!["Sentinel does not accept your sign-in"]
    );
    let csrf = attrs(&html, "main form input[name=csrf_token]", "value");
    assert_eq!(csrf.len(), 1, "{html}");
    assert!(
        app.state
            .auth
            .store
            .load(&session_id(&browser))
            .await
            .expect("store")
            .is_some_and(|r| !r.data.contains_key("auth")),
        "the session is signed out"
    );
    let out = browser
        .post_form("/logout", &[("csrf_token", csrf[0].as_str())])
        .await;
    assert_eq!(out.status(), 303);
    assert_eq!(location(&out), "/signed-out");
}

#[tokio::test]
async fn an_older_sign_in_refused_by_sentinel_signs_in_again() {
    let app = spawn_app().await;
    let browser = app.session_as("tech").await;
    // Signed in two minutes ago: no longer fresh.
    let id = session_id(&browser);
    let store = &app.state.auth.store;
    let mut record = store.load(&id).await.expect("store").expect("session");
    let earlier = time::OffsetDateTime::now_utc() - time::Duration::minutes(2);
    record.data.get_mut("auth").expect("auth")["signed_in_at"] = Value::String(
        earlier
            .format(&time::format_description::well_known::Rfc3339)
            .expect("time"),
    );
    store.save(&record).await.expect("save");
    app.sim.sim.revoke_user("tech");
    let r = browser.get("/devices/NORTHSTAR-ISD").await;
    assert_eq!(r.status(), 303);
    assert!(location(&r).starts_with("/login?next="), "{}", location(&r));
    assert!(
        store.load(&id).await.expect("store").is_none(),
        "the session ended"
    );
}

// ---- RFC 9207 over plain HTTP, against oidc-provider -------------------------------------------

#[tokio::test]
async fn a_callback_without_the_providers_iss_is_refused() {
    let Some((app, provider)) = console_with("sentinel_roles").await else {
        return;
    };
    let browser = app.new_session();
    // The provider announces the parameter: a callback without it, or from another issuer, is refused.
    for iss in [None, Some("http://127.0.0.1:1")] {
        let login = browser.get("/login?next=/changes").await;
        assert_eq!(login.status(), 303);
        let authorize = url::Url::parse(&location(&login)).expect("authorize url");
        assert!(
            authorize.as_str().starts_with(&provider.issuer),
            "{authorize}"
        );
        let asked: std::collections::HashMap<_, _> = query_pairs(&authorize).into_iter().collect();
        let scope = asked.get("scope").cloned().unwrap_or_default();
        for s in ["openid", "offline_access", "org_tech", "readonly"] {
            assert!(
                scope.split(' ').any(|x| x == s),
                "scope {scope:?} lacks {s}"
            );
        }
        assert!(asked.get("nonce").is_some_and(|n| n.len() >= 32), "a nonce");
        assert_eq!(
            asked.get("code_challenge_method").map(String::as_str),
            Some("S256")
        );
        let state = asked.get("state").cloned().expect("state");
        let mut q = vec![("code", "c"), ("state", state.as_str())];
        q.extend(iss.map(|i| ("iss", i)));
        let r = browser
            .get(&format!(
                "/auth/callback?{}",
                serde_urlencoded::to_string(&q).expect("qs")
            ))
            .await;
        assert_eq!(r.status(), 400, "iss {iss:?}");
        let body = r.text().await.expect("body");
        assert!(
            body.contains("did not come from the identity provider"),
            "{body}"
        );
    }
}
