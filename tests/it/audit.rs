//! The audit log through the console: a record per change (success, refusal by Sentinel,
//! failure of Sentinel), the page's filters, the CSV download, and who may see what.

use crate::helpers::*;

use sentinel_console::simulator::{Fault, FaultKind};

const CORP: &str = "NORTHSTAR-ISD";

async fn change(app: &TestApp, csrf: &str, nickname: &str) -> reqwest::Response {
    let form = [
        ("mdns", "521-267-1508"),
        ("nickname", nickname),
        ("confirmed", "true"),
    ];
    app.post_action(CORP, "nickname", &form, csrf).await
}

fn rows(html: &str) -> Vec<(String, String)> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse("table#audit tbody tr").expect("sel");
    doc.select(&sel)
        .map(|tr| {
            (
                tr.value()
                    .attr("data-outcome")
                    .unwrap_or_default()
                    .to_owned(),
                tr.text().collect::<String>(),
            )
        })
        .collect()
}

#[tokio::test]
async fn every_change_is_recorded_even_when_sentinel_refuses_or_fails() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let csrf = app.csrf().await;
    // Each confirmed change answers 303 to its change set, whatever Sentinel said.
    assert_eq!(change(&app, &csrf, "Audited ok").await.status(), 303);
    app.sim.sim.add_fault(Fault {
        kind: FaultKind::Status(403),
        path_contains: Some("/nickname".into()),
        method: Some("PUT".into()),
        times: Some(1),
    });
    assert_eq!(change(&app, &csrf, "Audited refused").await.status(), 303);
    app.sim.sim.add_fault(Fault {
        kind: FaultKind::Status(500),
        path_contains: Some("/nickname".into()),
        method: Some("PUT".into()),
        times: Some(1),
    });
    let failed = change(&app, &csrf, "Audited failed").await;
    assert_eq!(failed.status(), 303);
    let body = app.follow(failed).await.text().await.expect("body");
    assert!(
        body.contains("unknown"),
        "an ambiguous failure says the outcome is unknown"
    );

    let html = app.get_text(&format!("/audit?corpId={CORP}")).await;
    let r = rows(&html);
    assert_eq!(r.len(), 3, "{html:.1500}");
    // Newest first.
    assert_eq!(r[0].0, "failed");
    assert!(r[0].1.contains("500") && r[0].1.contains("Audited failed"));
    assert_eq!(r[1].0, "refused");
    assert!(r[1].1.contains("403"));
    assert_eq!(r[2].0, "ok");
    assert!(
        r[2].1.contains("Audited ok")
            && r[2].1.contains("521-267-1508")
            && r[2].1.contains("org_tech")
    );

    // Filters: by action, by a user who made no change.
    let html = app
        .get_text(&format!("/audit?corpId={CORP}&action=note"))
        .await;
    assert!(rows(&html).is_empty());
    let html = app
        .get_text(&format!("/audit?corpId={CORP}&user=super"))
        .await;
    assert!(rows(&html).is_empty());

    // The CSV: same filters, an attachment.
    let csv = app
        .get(&format!("/audit.csv?corpId={CORP}&action=nickname"))
        .await;
    assert_eq!(csv.status(), 200);
    let cd = header(&csv, "content-disposition");
    assert!(cd.starts_with("attachment"), "{cd}");
    let text = csv.text().await.expect("csv");
    assert_eq!(text.lines().count(), 4, "{text}");
    assert!(text.contains("Audited refused"));
}

#[tokio::test]
async fn users_see_only_the_audit_of_their_device_groups() {
    let app = spawn_app().await;
    app.sign_in("limited").await;
    assert_eq!(
        app.get(&format!("/audit?corpId={CORP}")).await.status(),
        200
    );
    assert_eq!(
        app.get("/audit?corpId=NORTHSTAR-ISD-HS").await.status(),
        403
    );
    assert_eq!(
        app.get("/audit.csv?corpId=NORTHSTAR-ISD-HS").await.status(),
        403
    );
}
