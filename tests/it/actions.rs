//! Bulk actions through the console over real HTTP: CSRF, preview before confirmation,
//! select-all as one bulkSelection, per-line failures, background jobs, XSS, the self-service view.

use crate::helpers::*;

use std::time::Duration;

use sentinel_console::domain::luhn_check_digit;
use serde_json::Value;

const CORP: &str = "NORTHSTAR-ISD";

fn writes(app: &TestApp) -> Vec<sentinel_console::simulator::RecordedRequest> {
    app.sim
        .sim
        .api_requests()
        .into_iter()
        .filter(|r| r.method != "GET" && !r.path.ends_with("/customizedList"))
        .collect()
}

/// MDNs of a list page.
async fn mdns(app: &TestApp, path: &str) -> Vec<String> {
    list_mdns(&app.get_text(path).await)
}

#[tokio::test]
async fn csrf_missing_or_wrong_is_refused_and_nothing_changes() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let before = app
        .sim
        .sim
        .device(CORP, "521-267-1508")
        .expect("line")
        .nickname;
    app.sim.sim.clear_requests();
    let form = [
        ("mdns", "521-267-1508"),
        ("nickname", "Hacked"),
        ("confirmed", "true"),
    ];
    assert_eq!(
        app.post_form(&format!("/devices/{CORP}/actions/nickname"), &form)
            .await
            .status(),
        403
    );
    assert_eq!(
        app.post_action(CORP, "nickname", &form, "not-the-token")
            .await
            .status(),
        403
    );
    assert!(app.sim.sim.api_requests().is_empty());
    assert_eq!(
        app.sim
            .sim
            .device(CORP, "521-267-1508")
            .expect("line")
            .nickname,
        before
    );
}

#[tokio::test]
async fn without_confirmation_only_a_preview() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let csrf = app.csrf().await;
    app.sim.sim.clear_requests();
    let resp = app
        .post_action(
            CORP,
            "nickname",
            &[("mdns", "521-267-1508"), ("nickname", "Front desk")],
            &csrf,
        )
        .await;
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.expect("body");
    assert!(html.contains("Preview"), "{html:.500}");
    assert!(html.contains("521-267-1508"));
    assert!(html.contains("Main Office Hotspot"), "current value shown");
    assert!(html.contains(r#"name="confirmed" value="true""#));
    assert!(writes(&app).is_empty(), "a preview wrote upstream");
    assert_ne!(
        app.sim
            .sim
            .device(CORP, "521-267-1508")
            .expect("line")
            .nickname
            .as_deref(),
        Some("Front desk")
    );
}

#[tokio::test]
async fn select_all_with_search_is_one_bulk_selection_upstream() {
    let app = spawn_app().await;
    app.sign_in("super").await;
    let csrf = app.csrf().await;
    let form = [
        ("select_all", "true"),
        ("searchValue", "Bus"),
        ("excluded_mdns", "304-228-6302"),
        ("nickname", "Fleet bus"),
    ];
    // Preview: counted through the upstream's own selection, nothing written.
    app.sim.sim.clear_requests();
    let html = app
        .post_action(CORP, "nickname", &form, &csrf)
        .await
        .text()
        .await
        .expect("body");
    assert!(
        html.contains("Yes, change"),
        "the tick box is required for a bulk selection"
    );
    assert!(writes(&app).is_empty());
    // Confirmed without the tick: back to the preview, nothing written.
    let mut confirmed = form.to_vec();
    confirmed.push(("confirmed", "true"));
    assert_eq!(
        app.post_action(CORP, "nickname", &confirmed, &csrf)
            .await
            .status(),
        400
    );
    assert!(writes(&app).is_empty());
    confirmed.push(("acknowledged", "true"));
    app.sim.sim.clear_requests();
    let resp = app.post_action(CORP, "nickname", &confirmed, &csrf).await;
    assert_eq!(resp.status(), 303);
    assert!(location(&resp).starts_with("/changes/"));
    // The matching lines are read first (their values before); the change is one bulk call.
    let reqs = writes(&app);
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    assert!(reqs[0].path.ends_with("/nickname") && reqs[0].method == "PUT");
    let body: Value = serde_json::from_str(&reqs[0].body).expect("json");
    assert_eq!(
        body,
        serde_json::json!({"bulkSelection": {"selectAll": true, "searchValue": "Bus", "excludedMdns": ["304-228-6302"]}, "nickname": "Fleet bus"})
    );
    assert_eq!(
        app.sim
            .sim
            .device(CORP, "304-228-6302")
            .expect("line")
            .nickname
            .as_deref(),
        Some("Bus #47")
    );
}

#[tokio::test]
async fn failures_are_shown_per_line() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let csrf = app.csrf().await;
    let body = "35000000000002";
    let imei = format!("{body}{}", luhn_check_digit(body));
    // The preview warns: 521-267-1508 is a Verizon line.
    let html = app
        .post_action(
            CORP,
            "imei",
            &[("mdns", "521-267-1508"), ("imei", &imei)],
            &csrf,
        )
        .await
        .text()
        .await
        .expect("body");
    assert!(html.contains("not ARCNT"), "{html:.800}");
    let resp = app
        .post_action(
            CORP,
            "imei",
            &[
                ("mdns", "521-267-1508"),
                ("imei", &imei),
                ("confirmed", "true"),
            ],
            &csrf,
        )
        .await;
    assert_eq!(
        resp.status(),
        303,
        "a confirmed change answers with its change set"
    );
    let html = app.follow(resp).await.text().await.expect("body");
    let doc = scraper::Html::parse_document(&html);
    // The reason is said once, with its count; the line is in the lines table with it.
    let sel = scraper::Selector::parse("#result-reasons li").expect("sel");
    let reason = doc.select(&sel).next().expect("the reason is said");
    assert!(reason.text().collect::<String>().contains("ARCNT"));
    let sel = scraper::Selector::parse("#change-lines tr[data-mdn='521-267-1508']").expect("sel");
    let row = doc.select(&sel).next().expect("the failed line is listed");
    assert!(row.text().collect::<String>().contains("ARCNT"));
    // A partial failure: one real line, one unknown to Sentinel.
    let resp = app
        .post_action(
            CORP,
            "note",
            &[
                ("mdns", "521-267-1508"),
                ("mdns", "555-000-0000"),
                ("note", "checked"),
                ("confirmed", "true"),
            ],
            &csrf,
        )
        .await;
    let html = app.follow(resp).await.text().await.expect("body");
    assert!(html.contains(r#"data-outcome="partial""#), "{html:.800}");
    assert!(html.contains("555-000-0000"));
}

#[tokio::test]
async fn a_long_list_runs_as_a_job_whose_page_survives_reload() {
    let app = spawn_app().await;
    app.sign_in("super").await;
    let csrf = app.csrf().await;
    let mut lines = mdns(&app, "/devices/FLEET-LARGE?limit=500").await;
    lines.extend(mdns(&app, "/devices/FLEET-LARGE?limit=500&offset=500").await);
    lines.truncate(700);
    assert_eq!(lines.len(), 700);
    lines.push("555-000-0001".into()); // unknown to Sentinel: one per-line failure
    let mut form: Vec<(&str, &str)> = lines.iter().map(|m| ("mdns", m.as_str())).collect();
    form.extend([
        ("note", "summer check"),
        ("confirmed", "true"),
        ("acknowledged", "true"),
    ]);
    app.sim.sim.clear_requests();
    let resp = app.post_action("FLEET-LARGE", "note", &form, &csrf).await;
    assert_eq!(resp.status(), 303);
    let job = location(&resp);
    assert!(job.starts_with("/changes/"));
    let mut html = String::new();
    for _ in 0..100 {
        // A reload of the page (and the htmx poll) shows where the job is.
        assert_eq!(app.get_htmx(&job).await.status(), 200);
        html = app.get_text(&job).await;
        if !html.contains(r#"data-state="running""#) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // One line is unknown to Sentinel: done, with a failure.
    assert!(
        html.contains(r#"data-state="done_with_failures""#),
        "{html:.1000}"
    );
    let doc = scraper::Html::parse_document(&html);
    let updated = scraper::Selector::parse("#result-updated").expect("sel");
    assert_eq!(
        doc.select(&updated)
            .next()
            .expect("count")
            .text()
            .collect::<String>(),
        "700"
    );
    // The failed line's reason is said once, with its count (the line is in the lines table).
    let reasons = scraper::Selector::parse("#result-reasons li").expect("sel");
    let said: Vec<String> = doc.select(&reasons).map(|li| li.text().collect()).collect();
    assert!(
        said.len() == 1 && said[0].starts_with("1 line:"),
        "{said:?}"
    );
    let puts: Vec<_> = writes(&app);
    assert_eq!(puts.len(), 2, "two chunks of at most 500");
    for p in &puts {
        let b: Value = serde_json::from_str(&p.body).expect("json");
        assert!(b["mdns"].as_array().expect("mdns").len() <= 500);
    }
    // The change set is seen by the users of its device group, and by no one else.
    let other = app.session_as("tech").await;
    assert_eq!(other.get(&job).await.status(), 200);
    let outsider = app.session_as("limited").await;
    assert_eq!(outsider.get(&job).await.status(), 404);
}

/// The markup is on the page as text (askama writes `<` as `&lt;` or `&#60;`).
fn shows_escaped(html: &str) -> bool {
    html.contains("&lt;script") || html.contains("&#60;script")
}

#[tokio::test]
async fn nickname_markup_stays_escaped_everywhere() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let csrf = app.csrf().await;
    let evil = r#"<script>alert("x")</script><img src=x onerror=alert(1)>"#;
    let form = [("mdns", "521-267-1508"), ("nickname", evil)];
    let check = |html: &str, where_: &str| {
        assert!(!html.contains("<script>alert"), "{where_}: raw script");
        assert!(!html.contains("<img src=x"), "{where_}: raw img");
    };
    let preview = app
        .post_action(CORP, "nickname", &form, &csrf)
        .await
        .text()
        .await
        .expect("body");
    check(&preview, "preview");
    assert!(shows_escaped(&preview), "{preview:.2000}");
    let mut c = form.to_vec();
    c.push(("confirmed", "true"));
    let result = app
        .post_action(CORP, "nickname", &c, &csrf)
        .await
        .text()
        .await
        .expect("body");
    check(&result, "result");
    let list = app
        .get_text(&format!("/devices/{CORP}?searchValue=521-267-1508"))
        .await;
    check(&list, "list");
    assert!(shows_escaped(&list), "the nickname shows, escaped");
    let audit = app.get_text(&format!("/audit?corpId={CORP}")).await;
    check(&audit, "audit");
    // Notes too.
    let note = app
        .post_action(
            CORP,
            "note",
            &[
                ("mdns", "521-267-1508"),
                ("note", evil),
                ("confirmed", "true"),
            ],
            &csrf,
        )
        .await
        .text()
        .await
        .expect("body");
    check(&note, "note result");
}

#[tokio::test]
async fn readonly_sees_no_change_control_and_may_only_request() {
    let app = spawn_app().await;
    app.sign_in("readonly").await;
    let html = app.get_text(&format!("/devices/{CORP}")).await;
    assert!(
        html.contains("521-267-1508") || html.contains("table"),
        "the list shows"
    );
    // Its bar offers only requests, of the changes it may ask for.
    let buttons = texts(&html, "#selection-bar button[data-action]");
    assert!(!buttons.is_empty(), "{html}");
    assert!(
        buttons.iter().all(|b| b.starts_with("Request: ")),
        "{buttons:?}"
    );
    let asked = attrs(&html, "#selection-bar button[data-action]", "data-action");
    for slug in ["status", "nickname", "note", "data-limits", "filter-group"] {
        assert!(asked.iter().any(|a| a == slug), "{slug} in {asked:?}");
    }
    for slug in ["delete-labels", "imei", "device-group", "mdn-custom-field"] {
        assert!(
            !asked.iter().any(|a| a == slug),
            "{slug} offered to readonly"
        );
    }
    // A change it may request opens as a request form; one it may not even request is refused.
    let form = app
        .get(&format!(
            "/devices/{CORP}/actions/nickname?mdns=521-267-1508"
        ))
        .await;
    assert_eq!(form.status(), 200);
    assert!(form.text().await.unwrap().contains("id=\"request-note\""));
    assert_eq!(
        app.get(&format!(
            "/devices/{CORP}/actions/delete-labels?mdns=521-267-1508"
        ))
        .await
        .status(),
        403
    );
    let csrf = app.csrf().await;
    app.sim.sim.clear_requests();
    // Confirmed without a reason: the request form again; nothing stored or sent.
    let r = app
        .post_action(
            CORP,
            "status",
            &[
                ("mdns", "521-267-1508"),
                ("status", "SUSPENDED"),
                ("confirmed", "true"),
            ],
            &csrf,
        )
        .await;
    assert_eq!(r.status(), 400);
    assert!(app.sim.sim.api_requests().is_empty());
    let r = app
        .post_action(
            CORP,
            "delete-labels",
            &[
                ("mdns", "521-267-1508"),
                ("labelIds", "1"),
                ("confirmed", "true"),
            ],
            &csrf,
        )
        .await;
    assert_eq!(r.status(), 403);
    assert!(app.sim.sim.api_requests().is_empty());
    let (_, stored) = app.state.db.change_list(&Default::default()).await.unwrap();
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn forms_validate_per_field_and_name_bad_input() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let csrf = app.csrf().await;
    let r = app
        .post_action(
            CORP,
            "data-limits",
            &[
                ("mdns", "521-267-1508"),
                ("monthlyLimit", "-5"),
                ("dailyLimit", "20"),
            ],
            &csrf,
        )
        .await;
    assert_eq!(r.status(), 400);
    let html = r.text().await.expect("body");
    assert!(
        html.contains("field-error") && html.contains("cannot be negative"),
        "{html:.800}"
    );
    assert!(html.contains(r#"value="-5""#), "values kept");
    let r = app
        .post_action(
            CORP,
            "nickname",
            &[("mdns", "521-267-15x8"), ("nickname", "x")],
            &csrf,
        )
        .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.expect("body").contains("521-267-15x8"));
    assert_eq!(
        app.post_action(CORP, "drop-tables", &[("mdns", "521-267-1508")], &csrf)
            .await
            .status(),
        404
    );
    let r = app
        .post_action(
            CORP,
            "imei",
            &[("mdns", "521-267-1508"), ("imei", "355737360073463")],
            &csrf,
        )
        .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.expect("body").contains("check digit"));
}

#[tokio::test]
async fn the_wifi_password_is_sent_but_never_shown_or_audited() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let csrf = app.csrf().await;
    let imei = app.imei_of(CORP, "304-228-6302").await;
    let page = app
        .get_text(&format!("/devices/{CORP}/smartspot/{imei}"))
        .await;
    assert!(page.contains(r#"name="ssid""#));
    let secret = "Sup3r-Secret-Pass";
    let form = [
        ("imeis", imei.as_str()),
        ("ssid", "Bus-47"),
        ("wifiPassword", secret),
        ("maxClients", "8"),
        ("band", "dual"),
        ("hotspotEnabled", "true"),
    ];
    let preview = app
        .post_action(CORP, "smartspot-settings", &form, &csrf)
        .await
        .text()
        .await
        .expect("body");
    assert!(!preview.contains(secret));
    let confirm = confirm_fields(&preview);
    assert!(confirm.iter().any(|(k, _)| k == "wifiPasswordRef"));
    let c = as_pairs(&confirm);
    app.sim.sim.clear_requests();
    let result = app.post_action(CORP, "smartspot-settings", &c, &csrf).await;
    assert_eq!(result.status(), 303);
    let page = app.follow(result).await.text().await.expect("body");
    assert!(page.contains(r#"data-outcome="ok""#), "{page:.1500}");
    assert!(!page.contains(secret));
    let reqs = writes(&app);
    assert_eq!(reqs.len(), 1);
    assert!(
        reqs[0].body.contains(secret),
        "the password reaches Sentinel"
    );
    let audit = app.get_text(&format!("/audit?corpId={CORP}")).await;
    assert!(!audit.contains(secret));
    // The page says a password was set, never which; the CSV keeps the redacted marker.
    assert!(audit.contains("new Wi-Fi password"), "{audit:.3000}");
    let csv = app.get_text(&format!("/audit.csv?corpId={CORP}")).await;
    assert!(!csv.contains(secret));
    assert!(csv.contains("[redacted]"));
}

#[tokio::test]
async fn select_all_from_the_list_bar_keeps_the_search_and_page_exclusions() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let list = app
        .get_text(&format!("/devices/{CORP}?searchValue=Bus"))
        .await;
    assert!(list.contains("selection-bar") && list.contains("data-select-page"));
    // The bar's GET: select all matching, one row of the page left unticked.
    let page = app
        .get(&format!(
            "/devices/{CORP}/actions/nickname?select_all=true&list_searchValue=Bus&page_mdns=304-228-6302&page_mdns=521-267-1508&mdns=521-267-1508"
        ))
        .await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("form");
    assert!(
        html.contains(r#"name="searchValue" value="Bus""#),
        "{html:.1500}"
    );
    assert!(html.contains(r#"name="excluded_mdns" value="304-228-6302""#));
    assert!(!html.contains(r#"name="excluded_mdns" value="521-267-1508""#));
}
