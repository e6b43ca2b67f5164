//! Password sign-in (issue 22, findings 3 and 10). Behind a load balancer: the client is named
//! by `X-Forwarded-For` only from `TRUSTED_PROXIES`; failures slow down that user name from that
//! client (growing delays), never lock a person out from elsewhere; held-back attempts never
//! reach Sentinel. Without a user id from Sentinel, one person is one subject whatever the
//! spelling of their user name.

use std::time::Duration;

use sentinel_console::client_addr::TrustedProxies;
use sentinel_console::config::IdentityConfig;

use crate::helpers::*;

/// A console in password mode; `trusted`: its `TRUSTED_PROXIES`.
async fn password_console(trusted: &str) -> TestApp {
    let trusted = TrustedProxies::parse(trusted).expect("trusted proxies");
    spawn_app_with(default_sim_config(), |c| {
        c.identity = IdentityConfig::SentinelPassword;
        c.trusted_proxies = trusted;
    })
    .await
}

/// One sign-in attempt from `client` (as the load balancer names it in `X-Forwarded-For`).
async fn attempt(app: &TestApp, client: &str, user: &str, password: &str) -> reqwest::Response {
    // Each client is its own browser: its own pre-session CSRF token.
    let browser = app.new_session();
    let form = browser
        .client
        .get(browser.url("/login"))
        .header("x-forwarded-for", client)
        .send()
        .await
        .expect("form");
    let csrf = extract_meta_csrf(&form.text().await.expect("body")).expect("csrf");
    browser
        .client
        .post(browser.url("/login"))
        .header("x-forwarded-for", format!("10.0.0.1, {client}"))
        .form(&[
            ("username", user),
            ("password", password),
            ("csrf_token", csrf.as_str()),
        ])
        .send()
        .await
        .expect("post")
}

fn token_calls(app: &TestApp) -> usize {
    app.sim.api_requests_to("POST", "/auth/token").len()
}

fn retry_after(r: &reqwest::Response) -> u64 {
    header(r, "retry-after").parse().expect("Retry-After")
}

#[tokio::test]
async fn many_failures_from_one_client_hold_back_neither_other_clients_nor_the_right_password() {
    let app = password_console("127.0.0.1").await;
    let a = "203.0.113.10";
    for i in 0..20 {
        let r = attempt(&app, a, &format!("user{i}"), "wrong").await;
        assert_eq!(r.status(), 401, "attempt {i}");
    }
    // Client A is slowed down now, whatever the name.
    let r = attempt(&app, a, "someone", "wrong").await;
    assert_eq!(r.status(), 429);
    assert!(r.text().await.unwrap().contains("from your address"));
    assert_eq!(token_calls(&app), 20);
    // Another client behind the same load balancer is not.
    let r = attempt(&app, "198.51.100.20", "tech", "demo").await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap_or_default());
    assert_eq!(token_calls(&app), 21);

    // Five bad passwords for a named admin from client C: the right password from client D works.
    let (c, d) = ("192.0.2.30", "192.0.2.40");
    for i in 0..3 {
        assert_eq!(
            attempt(&app, c, "super", "guess").await.status(),
            401,
            "{i}"
        );
    }
    // Another spelling is the same person: held back at C as well.
    assert_eq!(attempt(&app, c, " SUPER", "guess").await.status(), 429);
    assert_eq!(attempt(&app, c, "super", "guess").await.status(), 429);
    let r = attempt(&app, d, "super", "demo").await;
    assert_eq!(r.status(), 303);
    assert_eq!(token_calls(&app), 25);
}

#[tokio::test]
async fn delays_grow_with_each_failure() {
    let app = password_console("127.0.0.0/8").await;
    let c = "203.0.113.50";
    for _ in 0..3 {
        assert_eq!(attempt(&app, c, "tech", "wrong").await.status(), 401);
    }
    let r = attempt(&app, c, "tech", "demo").await;
    assert_eq!(r.status(), 429);
    let first = retry_after(&r);
    assert_eq!(first, 1);
    assert!(r.text().await.unwrap().contains(
        "Too many failed sign-ins for this user name from your address: try again in 1 s"
    ));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(attempt(&app, c, "tech", "wrong").await.status(), 401);
    let r = attempt(&app, c, "tech", "demo").await;
    assert_eq!(r.status(), 429);
    let second = retry_after(&r);
    assert!(second > first && second == 2, "{first} then {second}");
    // Held-back attempts never reached Sentinel.
    assert_eq!(token_calls(&app), 4);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(attempt(&app, c, "tech", "demo").await.status(), 303);
}

#[tokio::test]
async fn forwarded_for_from_an_untrusted_peer_is_ignored() {
    // The console trusts a proxy elsewhere: this test's requests come straight from 127.0.0.1.
    let app = password_console("10.0.0.0/8").await;
    for _ in 0..3 {
        let r = attempt(&app, "203.0.113.60", "tech", "wrong").await;
        assert_eq!(r.status(), 401);
    }
    // Another forged address changes nothing: the client is the TCP peer.
    let r = attempt(&app, "198.51.100.61", "tech", "demo").await;
    assert_eq!(r.status(), 429);
    assert_eq!(token_calls(&app), 3);
}

// ---- one person, one subject (finding 10) --------------------------------------------------------

/// A Sentinel that takes user names without regard to case (as many directories do): the
/// simulator (strict, exact names) behind a proxy that lower-cases the name of a password sign-in.
async fn case_insensitive_sentinel(sim: &TestSim) -> url::Url {
    use axum::body::Bytes;
    use axum::extract::{Request, State};
    use axum::response::IntoResponse;

    async fn forward(State(base): State<String>, req: Request) -> axum::response::Response {
        let (parts, body) = req.into_parts();
        let mut body = axum::body::to_bytes(body, 1 << 20).await.expect("body");
        if parts.uri.path().ends_with("/auth/token") {
            let mut json: serde_json::Value = serde_json::from_slice(&body).expect("json");
            if let Some(name) = json.get("username").and_then(|v| v.as_str()) {
                json["username"] = name.to_lowercase().into();
            }
            body = Bytes::from(serde_json::to_vec(&json).expect("json"));
        }
        let url = format!("{base}{}", parts.uri);
        let mut rb = reqwest::Client::new().request(parts.method, url).body(body);
        for h in ["content-type", "authorization", "accept"] {
            if let Some(v) = parts.headers.get(h) {
                rb = rb.header(h, v.clone());
            }
        }
        let resp = rb.send().await.expect("simulator");
        let status = resp.status();
        let ct = resp.headers().get("content-type").cloned();
        let bytes = resp.bytes().await.expect("body");
        let mut out = (status, bytes).into_response();
        if let Some(ct) = ct {
            out.headers_mut().insert("content-type", ct);
        }
        out
    }

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = axum::Router::new()
        .fallback(forward)
        .with_state(format!("http://{}", sim.addr));
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    url::Url::parse(&format!("http://{addr}/sentinel/api")).unwrap()
}

/// A browser signed in through the password form as `user`.
async fn password_browser(app: &TestApp, user: &str) -> Session {
    let s = app.new_session();
    let csrf = extract_meta_csrf(&s.get_text("/login").await).expect("csrf");
    let r = s
        .post_form(
            "/login",
            &[
                ("username", user),
                ("password", "demo"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(
        r.status(),
        303,
        "{user}: {}",
        r.text().await.unwrap_or_default()
    );
    s
}

#[tokio::test]
async fn nobody_approves_their_own_request_under_another_spelling() {
    let sim = spawn_sim(default_sim_config()).await;
    let mut cfg = config_for(&sim, &sqlite_url());
    cfg.identity = IdentityConfig::SentinelPassword;
    cfg.sentinel_api_url = Some(case_insensitive_sentinel(&sim).await);
    cfg.approval_required_above = Some(1);
    let app = spawn_console(sim, cfg).await;
    let corp = "NORTHSTAR-ISD";

    let tech = password_browser(&app, "tech").await;
    let mdns = list_mdns(&tech.get_text(&format!("/devices/{corp}")).await);
    let csrf = tech.csrf().await;
    let form = [
        ("mdns", mdns[0].as_str()),
        ("mdns", mdns[1].as_str()),
        ("status", "SUSPENDED"),
        ("confirmed", "true"),
        ("acknowledged", "true"),
    ];
    let r = tech.post_action(corp, "status", &form, &csrf).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap_or_default());
    let id = change_id_of(&r);

    // The same person, typed otherwise: Sentinel signs them in, the console knows them.
    let again = password_browser(&app, "  TECH ").await;
    let r = again.approve(id).await;
    assert_eq!(r.status(), 403, "approved their own request as TECH");
    assert!(app.sim.api_requests_to("PUT", "/status").is_empty());
}
