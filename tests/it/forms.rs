//! Forms, previews and results as a person meets them: limits left unchanged (and what reached
//! Sentinel), a filter group checked against the group's own and its failure said once, a retry
//! that can be edited, selections named by their lines, replaced values counted, the changes
//! list's tabs and the audit log's words.

use crate::helpers::*;

const CORP: &str = "NORTHSTAR-ISD";

/// Sets a line's limits straight at the simulator, as another client of Sentinel would.
async fn limits_elsewhere(app: &TestApp, mdn: &str, monthly: Option<f64>, daily: Option<f64>) {
    let token = app.sim.sim.issue_access_token("super").expect("token");
    let resp = reqwest::Client::new()
        .put(
            app.sim
                .url(&format!("/sentinel/api/v1.0/devices/{CORP}/dataLimits")),
        )
        .bearer_auth(token)
        .json(&serde_json::json!({ "mdns": [mdn], "monthlyLimit": monthly, "dailyLimit": daily }))
        .send()
        .await
        .expect("direct write");
    assert_eq!(resp.status(), 200);
}

async fn first_lines(app: &TestApp, n: usize) -> Vec<String> {
    let mut m = list_mdns(&app.get_text(&format!("/devices/{CORP}?limit=50")).await);
    m.truncate(n);
    assert_eq!(m.len(), n);
    m
}

fn with_lines<'a>(mdns: &'a [String], rest: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut f: Vec<(&str, &str)> = mdns.iter().map(|m| ("mdns", m.as_str())).collect();
    f.extend_from_slice(rest);
    f
}

#[tokio::test]
async fn a_monthly_limit_change_leaves_each_lines_own_daily_limit() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let mdns = first_lines(&app, 3).await;
    let dailies = [Some(100.0), None, Some(250.0)];
    for (m, d) in mdns.iter().zip(dailies) {
        limits_elsewhere(&app, m, Some(2048.0), d).await;
    }
    // The form: both limits start as "Leave unchanged", in GB or MB.
    let query: Vec<String> = mdns.iter().map(|m| format!("mdns={m}")).collect();
    let form = app
        .get_text(&format!(
            "/devices/{CORP}/actions/data-limits?{}",
            query.join("&")
        ))
        .await;
    for name in ["monthlyLimitMode", "dailyLimitMode"] {
        let kept = attrs(&form, &format!("input[name={name}][value=keep]"), "checked");
        assert_eq!(
            kept.len(),
            1,
            "{name} starts as Leave unchanged: {form:.3000}"
        );
    }
    assert_eq!(
        texts(&form, "select[name=monthlyLimitUnit] option"),
        ["GB", "MB"]
    );
    // Both left unchanged: nothing to send, said on the form.
    let csrf = app.csrf().await;
    let resp = app
        .post_action(
            CORP,
            "data-limits",
            &with_lines(
                &mdns,
                &[("monthlyLimitMode", "keep"), ("dailyLimitMode", "keep")],
            ),
            &csrf,
        )
        .await;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("at least one limit"));
    // 10 GB a month, the daily limit left as each line has it.
    let fields = [
        ("monthlyLimitMode", "set"),
        ("monthlyLimit", "10"),
        ("monthlyLimitUnit", "GB"),
        ("dailyLimitMode", "keep"),
    ];
    let preview = app
        .post_action(CORP, "data-limits", &with_lines(&mdns, &fields), &csrf)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        preview.contains("Monthly limit → 10 GB, daily limit unchanged"),
        "{preview:.3000}"
    );
    let afters = texts(&preview, "table#preview tbody tr td:nth-child(3)");
    assert!(
        afters.iter().any(|a| a == "10 GB / 100 MB")
            && afters.iter().any(|a| a == "10 GB / No limit"),
        "each line's own daily limit after: {afters:?}"
    );
    app.sim.sim.clear_requests();
    let confirm = confirm_fields(&preview);
    let resp = app
        .post_action(CORP, "data-limits", &as_pairs(&confirm), &csrf)
        .await;
    assert_eq!(
        resp.status(),
        303,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    let c = finished_within(&app.state.db, change_id_of(&resp), 20).await;
    assert_eq!(c.changed, 3);
    // What reached Sentinel: both limits each time, the daily one each line's own.
    let sent = app.sim.api_requests_to("PUT", "/dataLimits");
    assert!(!sent.is_empty());
    for r in &sent {
        let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["monthlyLimit"], serde_json::json!(10240.0), "{body}");
        assert!(body.get("dailyLimit").is_some(), "both limits sent: {body}");
    }
    for (m, d) in mdns.iter().zip(dailies) {
        let line = app.sim.sim.device(CORP, m).expect("line");
        assert_eq!(line.monthly_limit, Some(10240.0), "{m}");
        assert_eq!(line.daily_limit, d, "{m} keeps its daily limit");
    }
}

#[tokio::test]
async fn an_unknown_filter_group_is_named_before_and_said_once_after_and_its_retry_can_be_edited() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let mdns = first_lines(&app, 12).await;
    let query: Vec<String> = mdns.iter().map(|m| format!("mdns={m}")).collect();
    let form = app
        .get_text(&format!(
            "/devices/{CORP}/actions/filter-group?{}",
            query.join("&")
        ))
        .await;
    let known = attrs(&form, "datalist#f-filterGroup-known option", "value");
    assert!(known.contains(&"Staff".to_owned()), "{known:?}");
    // The selection named by its first lines and counted exactly.
    let named = texts(&form, "#form-selection strong").join("");
    assert!(
        named.starts_with("12 lines: ") && named.ends_with(" + 9 more") && named.contains(&mdns[0]),
        "{named}"
    );
    let csrf = app.csrf().await;
    let fields = with_lines(&mdns, &[("filterGroup", "Staf")]);
    let preview = app
        .post_action(CORP, "filter-group", &fields, &csrf)
        .await
        .text()
        .await
        .unwrap();
    let warning = texts(&preview, "#check-new_value_confirmed").join("");
    assert!(
        warning.contains("“Staf”") && warning.contains("Staff"),
        "{preview:.3000}"
    );
    // Confirming without the tick shows the preview again; nothing is sent.
    app.sim.sim.clear_requests();
    let confirm = confirm_fields(&preview);
    let mut pairs = as_pairs(&confirm);
    pairs.push(("acknowledged", "true"));
    let resp = app.post_action(CORP, "filter-group", &pairs, &csrf).await;
    assert_eq!(resp.status(), 400);
    assert!(app.sim.api_requests_to("PUT", "/filterGroup").is_empty());
    // With it, Sentinel refuses the value: one reason, said once with its count.
    pairs.push(("new_value_confirmed", "true"));
    let resp = app.post_action(CORP, "filter-group", &pairs, &csrf).await;
    assert_eq!(resp.status(), 303);
    let id = change_id_of(&resp);
    let c = finished_within(&app.state.db, id, 20).await;
    assert_eq!(c.failed, 12);
    let page = app.get_text(&format!("/changes/{id}")).await;
    let reasons = texts(&page, "#result-reasons li");
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(
        reasons[0].starts_with("12 lines:") && reasons[0].contains("Staf"),
        "{reasons:?}"
    );
    // The retry opens the form with the value that failed, to be edited and previewed again.
    let edit = app
        .post_form(
            &format!("/changes/{id}/retry"),
            &[("csrf_token", csrf.as_str()), ("edit", "true")],
        )
        .await;
    assert_eq!(edit.status(), 200);
    let edit = edit.text().await.unwrap();
    assert_eq!(attrs(&edit, "input#f-filterGroup", "value"), ["Staf"]);
    assert_eq!(
        attrs(&edit, "#action-form input[name=mdns]", "value").len(),
        12
    );
    let fixed = with_lines(&mdns, &[("filterGroup", "Staff")]);
    let preview = app
        .post_action(CORP, "filter-group", &fixed, &csrf)
        .await
        .text()
        .await
        .unwrap();
    assert!(texts(&preview, "#check-new_value_confirmed").is_empty());
}

#[tokio::test]
async fn replacing_nicknames_lines_have_is_counted_and_named_in_the_tick() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let mdns = first_lines(&app, 12).await;
    for m in &mdns {
        rename_elsewhere(&app.sim, CORP, m, "Cart").await;
    }
    let csrf = app.csrf().await;
    let preview = app
        .post_action(
            CORP,
            "nickname",
            &with_lines(&mdns, &[("nickname", "Spare")]),
            &csrf,
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(
        preview.contains("This replaces 12 nicknames that lines already have"),
        "{preview:.3000}"
    );
    let tick = texts(&preview, "#confirm-form label").join("");
    assert!(
        tick.contains("Yes, change these 12 lines, replacing 12 nicknames they have"),
        "{tick}"
    );
    let selection = texts(&preview, "#preview-selection").join("");
    assert!(
        selection.contains(&format!("Cart ({})", mdns[0])) && selection.contains("+ 9 more"),
        "{selection}"
    );
}

#[tokio::test]
async fn the_changes_list_has_four_tabs_and_finds_what_needs_attention() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let mdns = first_lines(&app, 1).await;
    let csrf = app.csrf().await;
    app.sim
        .sim
        .refuse_writes(CORP, &mdns[0], Some("Line is locked"));
    let resp = app
        .post_action(
            CORP,
            "note",
            &with_lines(&mdns, &[("note", "x"), ("confirmed", "true")]),
            &csrf,
        )
        .await;
    let id = change_id_of(&resp);
    finished_within(&app.state.db, id, 20).await;
    let page = app.get_text("/changes").await;
    assert_eq!(
        texts(&page, "#change-filters a"),
        [
            "All",
            "Running",
            "Needs attention",
            "Waiting for approval",
            "Only mine"
        ]
    );
    let attention = app.get_text("/changes?state=needs_attention").await;
    let ids = attrs(&attention, "#changes tbody a", "href");
    assert!(ids.contains(&format!("/changes/{id}")), "{ids:?}");
    let running = app.get_text("/changes?state=running").await;
    assert!(attrs(&running, "#changes tbody a", "href").is_empty());
}

#[tokio::test]
async fn an_action_opened_without_lines_says_what_to_do() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let resp = app.get(&format!("/devices/{CORP}/actions/nickname")).await;
    assert_eq!(resp.status(), 400);
    let html = resp.text().await.unwrap();
    assert!(html.contains("choose the lines first"), "{html:.2000}");
    assert_eq!(
        attrs(&html, "main a.button", "href"),
        [format!("/devices/{CORP}")]
    );
}

#[tokio::test]
async fn the_audit_log_names_a_revert_by_the_change_it_reverts_and_keeps_roles_in_details() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let mdns = first_lines(&app, 1).await;
    let csrf = app.csrf().await;
    let resp = app
        .post_action(
            CORP,
            "nickname",
            &with_lines(&mdns, &[("nickname", "Audit me"), ("confirmed", "true")]),
            &csrf,
        )
        .await;
    let first = change_id_of(&resp);
    finished_within(&app.state.db, first, 20).await;
    let resp = app
        .post_form(
            &format!("/changes/{first}/revert"),
            &[("csrf_token", csrf.as_str()), ("confirmed", "true")],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let revert = change_id_of(&resp);
    finished_within(&app.state.db, revert, 20).await;
    let page = app.get_text("/audit").await;
    let fields = texts(&page, "table#audit tbody tr td.audit-fields");
    assert!(
        fields[0].starts_with("Revert of change ") && fields[0].contains("Nickname → "),
        "{fields:?}"
    );
    assert_eq!(
        attrs(
            &page,
            "table#audit tbody tr:first-child a.parent-link",
            "href"
        ),
        [format!("/changes/{first}")]
    );
    assert!(
        texts(&page, "table#audit thead th")
            .iter()
            .all(|h| h != "Role")
    );
    assert!(!texts(&page, "details.audit-details .audit-roles").is_empty());
}
