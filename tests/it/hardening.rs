//! Issue 12's hardening, end to end: the embedded demo exposes no simulator control endpoints and
//! says it is a demo; the demo identity provider redirects only to the console's own callback and
//! sends the console's security headers; the console keeps a client's `X-Request-Id` apart from its
//! own; `.`/`..` device groups are refused before any upstream call; HSTS over https; the audit
//! page's user filter lists only people of the reader's device groups.

use crate::helpers::*;

use sentinel_console::outcome::ChangeResult;
use sentinel_console::storage::audit::{AuditFilter, NewAuditRecord};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use url::Url;

fn authorize_query(redirect_uri: &str) -> String {
    serde_urlencoded::to_string([
        ("response_type", "code"),
        ("client_id", "sentinel-console"),
        ("redirect_uri", redirect_uri),
        ("state", "s"),
        (
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        ),
        ("code_challenge_method", "S256"),
    ])
    .expect("query")
}

fn assert_security_headers(resp: &reqwest::Response) {
    let h = resp.headers();
    // The IdP's pages widen only `form-action`, to the callbacks it accepts.
    let csp = h
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split("; ")
        .filter(|d| !d.starts_with("form-action"))
        .collect::<Vec<_>>()
        .join("; ");
    let want = sentinel_console::middleware::CSP
        .split("; ")
        .filter(|d| !d.starts_with("form-action"))
        .collect::<Vec<_>>()
        .join("; ");
    assert_eq!(csp, want, "CSP on {}", resp.url());
    assert_eq!(h.get("x-frame-options").unwrap(), "DENY");
    assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff");
    assert_eq!(h.get("cache-control").unwrap(), "no-store");
}

#[tokio::test]
async fn the_embedded_console_serves_no_simulator_control_endpoints() {
    let base = spawn_embedded().await;
    let http = reqwest::Client::new();
    for (method, path) in [
        ("GET", "/sim/_sim/requests"),
        ("DELETE", "/sim/_sim/requests"),
        ("POST", "/sim/_sim/faults"),
        ("DELETE", "/sim/_sim/faults"),
    ] {
        let r = http
            .request(method.parse().unwrap(), format!("{base}{path}"))
            .header("content-type", "application/json")
            .body(r#"{"kind":{"status":500},"times":1}"#)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 404, "{method} {path}");
    }
    // The demo itself still works end to end.
    let landed = Session::new(&base)
        .sign_in_to("tech", "/devices/NORTHSTAR-ISD")
        .await;
    assert_eq!(landed.status(), 200);
}

#[tokio::test]
async fn every_page_of_the_demo_says_it_is_a_demo_and_a_real_console_does_not() {
    let base = spawn_embedded().await;
    let browser = Session::new(&base);
    let signed_out = browser.get("/signed-out").await;
    let html = signed_out.text().await.unwrap();
    assert!(
        texts(&html, "footer .demo-notice")[0].contains("Demo mode: simulated data and sign-in"),
        "{html}"
    );
    let landed = browser.sign_in_to("tech", "/devices/NORTHSTAR-ISD").await;
    let html = landed.text().await.unwrap();
    assert!(texts(&html, "footer .demo-notice")[0].starts_with("Demo mode"));
    let error = browser.get("/devices/NOT-MINE").await;
    assert!(error.status().is_client_error());
    let html = error.text().await.unwrap();
    assert_eq!(texts(&html, "footer .demo-notice").len(), 1, "{html}");

    // A console with a (simulated, but configured) upstream is not a demo.
    let real = spawn_app().await;
    real.sign_in("tech").await;
    let html = real.get_text("/devices/NORTHSTAR-ISD").await;
    assert!(texts(&html, "footer .demo-notice").is_empty());
}

#[tokio::test]
async fn the_demo_sign_in_page_has_the_consoles_look_and_explains_each_role() {
    let base = spawn_embedded().await;
    let callback = format!("{base}/auth/callback");
    let r = reqwest::get(format!(
        "{base}/sim/oauth/authorize?{}",
        authorize_query(&callback)
    ))
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    assert_security_headers(&r);
    let html = r.text().await.unwrap();
    let doc = scraper::Html::parse_document(&html);
    // The console's stylesheet (its URL carries the assets' version).
    let css = doc
        .select(&selector(r#"link[rel="stylesheet"]"#))
        .next()
        .and_then(|l| l.value().attr("href"))
        .unwrap_or_default();
    assert!(css.starts_with("/static/app.css"), "{css}");
    // Nothing the CSP would block: no inline style or script.
    assert_eq!(doc.select(&selector("[style], style")).count(), 0);
    assert!(
        doc.select(&selector("script"))
            .all(|s| s.value().attr("src").is_some())
    );
    let cards: Vec<String> = texts(&html, "li.demo-user");
    assert_eq!(cards.len(), 8);
    for (login, sentence) in [
        ("readonly", "every change is refused"),
        ("limited", "may open only NORTHSTAR-ISD"),
        ("choice", "summer usage"),
        ("media", "only the MDN custom field"),
    ] {
        assert!(
            cards
                .iter()
                .any(|c| c.contains(&format!("Sign in as {login}")) && c.contains(sentence)),
            "{login}: {cards:?}"
        );
    }
    assert!(texts(&html, "footer .demo-notice")[0].starts_with("Demo mode"));
}

#[tokio::test]
async fn the_standalone_demo_idp_redirects_only_to_loopback_console_callbacks() {
    let sim = spawn_sim(default_sim_config()).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for evil in [
        "https://evil.example/auth/callback",
        "http://evil.example/auth/callback",
        "http://127.0.0.1:3000/phish",
    ] {
        let q = authorize_query(evil);
        let page = http
            .get(sim.url(&format!("/oauth/authorize?{q}")))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 400, "{evil}");
        assert_security_headers(&page);
        assert!(page.text().await.unwrap().contains("not registered"));
        let submit = http
            .post(sim.url("/oauth/authorize"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("{q}&user=tech"))
            .send()
            .await
            .unwrap();
        assert_eq!(submit.status(), 400, "{evil}");
        assert!(submit.headers().get("location").is_none());
    }
    // A console on a random local port still signs in (the test helpers do it for every test).
    let q = authorize_query("http://127.0.0.1:45678/auth/callback");
    let ok = http
        .post(sim.url("/oauth/authorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("{q}&user=tech"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 302);
    let to = Url::parse(ok.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(
        (to.host_str(), to.port(), to.path()),
        (Some("127.0.0.1"), Some(45678), "/auth/callback")
    );
}

#[tokio::test]
async fn the_embedded_demo_idp_redirects_only_to_this_consoles_callback() {
    let base = spawn_embedded().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // Another local console (or anything else) is not this console.
    for other in [
        "http://127.0.0.1:1/auth/callback".to_owned(),
        format!("{base}/elsewhere"),
        "https://evil.example/auth/callback".to_owned(),
    ] {
        let q = authorize_query(&other);
        let r = http
            .post(format!("{base}/sim/oauth/authorize"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("{q}&user=super"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{other}");
        assert!(r.headers().get("location").is_none());
        assert_security_headers(&r);
    }
}

#[tokio::test]
async fn a_clients_request_id_is_kept_apart_from_the_consoles() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let csrf = app.csrf().await;
    let r = app
        .client
        .post(app.url("/devices/NORTHSTAR-ISD/actions/nickname"))
        .header("x-request-id", "client-chosen-42")
        .form(&[
            ("mdns", "521-267-1508"),
            ("nickname", "bus 7"),
            ("confirmed", "true"),
            ("csrf_token", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success() || r.status().is_redirection(),
        "{}",
        r.status()
    );
    let ours = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(ours, "client-chosen-42");
    assert!(uuid::Uuid::parse_str(&ours).is_ok(), "{ours}");
    let (records, _) = app
        .state
        .db
        .audit_list(&AuditFilter::default())
        .await
        .unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].request_id.as_deref(), Some(ours.as_str()));
    assert_eq!(
        records[0].client_request_id.as_deref(),
        Some("client-chosen-42")
    );
    // And the audit CSV carries both, each in its own column.
    let csv = app.get_text("/audit.csv").await;
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .ends_with(",client_request_id,via,event")
    );
    let row = lines.next().unwrap();
    assert!(
        row.ends_with(",client-chosen-42,") && row.contains(&ours),
        "{row}"
    );
}

/// Sends `GET {path}` verbatim (no URL normalisation of `..`) with the session cookie of `browser`.
async fn raw_get(browser: &Session, path: &str) -> String {
    let url = Url::parse(&browser.base).unwrap();
    let cookie = browser.cookie_header();
    let mut tcp = tokio::net::TcpStream::connect(url.socket_addrs(|| None).unwrap()[0])
        .await
        .unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n",
        url.host_str().unwrap()
    );
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    tcp.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn dot_device_groups_are_refused_without_an_upstream_call() {
    let app = spawn_app().await;
    let landed = app.sign_in_to("super", "/").await;
    assert_eq!(landed.status(), 200);
    app.sim.sim.clear_requests();
    for path in [
        "/devices/%2E%2E",
        "/devices/%2e",
        "/devices/%2E%2E/totals",
        "/devices/..%2F..%2Fauth/totals",
    ] {
        let resp = raw_get(&app, path).await;
        let status = resp.lines().next().unwrap_or_default().to_owned();
        assert!(
            status.contains(" 400 ") || status.contains(" 404 "),
            "{path}: {status}"
        );
    }
    assert!(
        app.sim.sim.api_requests().is_empty(),
        "{:?}",
        app.sim.sim.api_requests()
    );
    // The same through the device-group parser itself: a 400 with a readable message.
    let resp = raw_get(&app, "/devices/%2E%2E").await;
    assert!(resp.starts_with("HTTP/1.1 400"), "{resp}");
    assert!(resp.contains("is not a device group id"), "{resp}");
}

#[tokio::test]
async fn hsts_is_sent_when_the_public_url_is_https_only() {
    let plain = spawn_app().await;
    let r = plain.get("/healthz").await;
    assert!(r.headers().get("strict-transport-security").is_none());

    let tls = spawn_app_with(default_sim_config(), |c| {
        c.public_url = Some(Url::parse("https://console.example").unwrap());
    })
    .await;
    let r = tls.get("/healthz").await;
    assert_eq!(
        r.headers()["strict-transport-security"],
        sentinel_console::middleware::HSTS
    );
    let r = tls.get("/static/app.css").await;
    assert!(r.headers().get("strict-transport-security").is_some());
}

fn someone_elses(corp: &str, subject: &str, name: &str) -> NewAuditRecord {
    NewAuditRecord {
        request_id: None,
        client_request_id: None,
        via: None,
        event: None,
        subject: subject.into(),
        user_name: Some(name.into()),
        roles: "org_tech".into(),
        corp_id: corp.into(),
        action: "nickname".into(),
        selection: json!({"mdns": ["521-267-1508"]}),
        fields: json!({"nickname": "x"}),
        line_count: 1,
        updated: 1,
        failed: 0,
        unknown: 0,
        outcome: ChangeResult::Ok,
        upstream_status: Some(200),
        result: json!({"failed": [], "unknown": []}),
        job_id: None,
    }
}

#[tokio::test]
async fn the_audit_user_filter_lists_only_people_of_the_readers_groups() {
    let app = spawn_app().await;
    let db = &app.state.db;
    db.audit_insert(&someone_elses("NORTHSTAR-ISD", "ann", "Ann Visible"))
        .await
        .unwrap();
    db.audit_insert(&someone_elses("FLEET-LARGE", "bob", "Bob Hidden"))
        .await
        .unwrap();
    // `limited` may open only NORTHSTAR-ISD.
    app.sign_in("limited").await;
    let html = app.get_text("/audit").await;
    let options = texts(&html, "select#a-user option");
    assert!(options.iter().any(|o| o == "Ann Visible"), "{options:?}");
    assert!(!options.iter().any(|o| o.contains("Bob")), "{options:?}");
    assert!(!html.contains("Bob Hidden"));

    // Someone who may open every group sees both.
    let all = app.session_as("super").await;
    let html = all.get_text("/audit?corpId=FLEET-LARGE").await;
    let options = texts(&html, "select#a-user option");
    assert!(options.iter().any(|o| o == "Bob Hidden"), "{options:?}");
    assert!(options.iter().any(|o| o == "Ann Visible"), "{options:?}");
}
