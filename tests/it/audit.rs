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

/// Posts a confirmed change of `action` in `corp` with `form`; returns the change set's page.
async fn confirmed(app: &Session, corp: &str, action: &str, form: &[(&str, &str)]) -> String {
    let csrf = app.csrf().await;
    let mut form = form.to_vec();
    form.extend([("confirmed", "true"), ("acknowledged", "true")]);
    let resp = app.post_action(corp, action, &form, &csrf).await;
    assert_eq!(resp.status(), 303, "{action} in {corp}");
    let at = location(&resp);
    assert!(at.starts_with("/changes/"), "{at}");
    at
}

/// One row of the audit table: (action slug, cell texts, change set link, `<time>` attributes).
struct Row {
    action: String,
    cells: Vec<String>,
    change: Option<String>,
    datetime: String,
    title: String,
}

fn audit_rows(html: &str) -> Vec<Row> {
    let doc = scraper::Html::parse_document(html);
    let td = selector("td");
    let link = selector("a.change-link");
    let time = selector("time");
    doc.select(&selector("table#audit tbody tr"))
        .map(|tr| {
            let t = tr.select(&time).next();
            Row {
                action: tr
                    .value()
                    .attr("data-action")
                    .unwrap_or_default()
                    .to_owned(),
                cells: tr
                    .select(&td)
                    .map(|c| c.text().collect::<String>().trim().to_owned())
                    .collect(),
                change: tr
                    .select(&link)
                    .next()
                    .and_then(|a| a.value().attr("href").map(str::to_owned)),
                datetime: t
                    .and_then(|t| t.value().attr("datetime"))
                    .unwrap_or_default()
                    .to_owned(),
                title: t
                    .and_then(|t| t.value().attr("title"))
                    .unwrap_or_default()
                    .to_owned(),
            }
        })
        .collect()
}

/// Column positions of the audit table (see templates/pages/audit.html).
const TIME: usize = 0;
const GROUP: usize = 2;
const ACTION: usize = 3;
const SELECTION: usize = 4;
const FIELDS: usize = 5;

#[tokio::test]
async fn the_audit_reads_as_words_and_links_every_row_to_its_change_set() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let list = app.get_text(&format!("/devices/{CORP}?limit=10")).await;
    let mdns = list_mdns(&list);
    assert!(mdns.len() >= 4);
    let bus = app
        .get_text(&format!("/devices/{CORP}?searchValue=Bus&limit=1"))
        .await;
    let matching = crate::browser::numbers(&texts(&bus, "#range").join(" "))
        .last()
        .copied()
        .expect("a count of Bus lines");

    let status = confirmed(
        &app,
        CORP,
        "status",
        &[
            ("select_all", "true"),
            ("searchValue", "Bus"),
            ("status", "SUSPENDED"),
            ("reason", "Summer break"),
        ],
    )
    .await;
    let four: Vec<(&str, &str)> = mdns[..4].iter().map(|m| ("mdns", m.as_str())).collect();
    let mut rename = four.clone();
    rename.push(("nickname", "Spare"));
    let nickname = confirmed(&app, CORP, "nickname", &rename).await;
    let one = confirmed(
        &app,
        CORP,
        "note",
        &[("mdns", mdns[0].as_str()), ("note", "Checked")],
    )
    .await;

    let html = app.get_text("/audit").await;
    let rows = audit_rows(&html);
    assert_eq!(rows.len(), 3, "{html:.2000}");
    // Newest first: the note, the nickname, the status.
    let (note, rename, suspend) = (&rows[0], &rows[1], &rows[2]);
    assert_eq!(
        suspend.cells[ACTION], "Change status",
        "the action's label, not its slug"
    );
    assert_eq!(suspend.action, "status");
    assert_eq!(
        suspend.cells[SELECTION],
        format!("all {matching} lines matching “Bus”")
    );
    assert_eq!(
        suspend.cells[FIELDS],
        "Status → SUSPENDED (reason: Summer break)"
    );
    assert_eq!(rename.cells[ACTION], "Rename (nickname)");
    assert_eq!(
        rename.cells[SELECTION],
        format!("4 lines: {}, {}, {}, …", mdns[0], mdns[1], mdns[2])
    );
    assert_eq!(rename.cells[FIELDS], "Nickname → “Spare”");
    assert_eq!(note.cells[SELECTION], format!("1 line: {}", mdns[0]));
    assert_eq!(note.cells[FIELDS], "Note → “Checked”");

    // Every row opens its change set.
    let links: Vec<_> = rows.iter().map(|r| r.change.clone()).collect();
    assert_eq!(links, vec![Some(one), Some(nickname), Some(status)]);
    for href in links.iter().flatten() {
        assert_eq!(app.get(href).await.status(), 200, "{href}");
    }

    // Times: machine-readable UTC for the page's script, UTC text and title without it.
    let rfc = time::format_description::well_known::Rfc3339;
    for r in &rows {
        let at = time::OffsetDateTime::parse(&r.datetime, &rfc).expect("an RFC 3339 datetime");
        assert!(r.datetime.ends_with('Z'), "{}", r.datetime);
        let age = time::OffsetDateTime::now_utc() - at;
        assert!(age.whole_minutes().abs() < 5, "{}", r.datetime);
        assert!(r.cells[TIME].ends_with(" UTC"), "{}", r.cells[TIME]);
        assert!(
            r.title.ends_with(" UTC") && r.title.starts_with(&r.cells[TIME][..16]),
            "{} / {}",
            r.title,
            r.cells[TIME]
        );
    }
    assert_eq!(
        attrs(&html, "time[data-local-time]", "datetime").len(),
        3,
        "the page's script turns them into the reader's time zone"
    );
}

#[tokio::test]
async fn the_audit_shows_every_group_the_reader_may_open_and_no_other() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let hs = "NORTHSTAR-ISD-HS";
    let ours = list_mdns(&app.get_text(&format!("/devices/{CORP}?limit=1")).await);
    let theirs = list_mdns(&app.get_text(&format!("/devices/{hs}?limit=1")).await);
    confirmed(
        &app,
        CORP,
        "note",
        &[("mdns", ours[0].as_str()), ("note", "In the district")],
    )
    .await;
    confirmed(
        &app,
        hs,
        "note",
        &[("mdns", theirs[0].as_str()), ("note", "In the high school")],
    )
    .await;
    // A record of a group nobody here may open (another tenant on a shared database).
    let mut foreign = sentinel_console::storage::audit::NewAuditRecord {
        request_id: None,
        client_request_id: None,
        subject: "tech".into(),
        user_name: Some("Elsewhere".into()),
        roles: "org_tech".into(),
        corp_id: "OTHER-TENANT".into(),
        action: "note".into(),
        selection: serde_json::json!({"mdns": ["5551230001"]}),
        fields: serde_json::json!({"note": "Not yours"}),
        line_count: 1,
        updated: 1,
        failed: 0,
        unknown: 0,
        outcome: sentinel_console::outcome::ChangeResult::Ok,
        upstream_status: None,
        result: serde_json::json!({}),
        job_id: None,
        via: None,
        event: None,
    };
    app.state.db.audit_insert(&foreign).await.expect("insert");
    foreign.corp_id = "FLEET-LARGE".into();
    foreign.fields = serde_json::json!({"note": "In the fleet"});
    app.state.db.audit_insert(&foreign).await.expect("insert");

    // By default: every group tech may open at once, none other.
    let html = app.get_text("/audit").await;
    let groups: Vec<String> = audit_rows(&html)
        .into_iter()
        .map(|r| r.cells[GROUP].clone())
        .collect();
    assert_eq!(groups, vec!["FLEET-LARGE", hs, CORP], "{html:.1500}");
    assert!(!html.contains("Not yours") && !html.contains("OTHER-TENANT"));
    assert_eq!(
        texts(&html, "select#a-group option[selected]"),
        Vec::<String>::new(),
        "no one group is picked"
    );
    assert_eq!(
        texts(&html, "select#a-group option")[0],
        "All your device groups"
    );
    let csv = app.get_text("/audit.csv").await;
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(!csv.contains("OTHER-TENANT"));

    // The filter still narrows to one group, and refuses one the reader may not open.
    let html = app.get_text(&format!("/audit?corpId={hs}")).await;
    let rows = audit_rows(&html);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].cells[FIELDS], "Note → “In the high school”");
    assert_eq!(app.get("/audit?corpId=OTHER-TENANT").await.status(), 403);
    assert_eq!(
        app.get("/audit.csv?corpId=OTHER-TENANT").await.status(),
        403
    );

    // `limited` may open only NORTHSTAR-ISD: its records only, page and CSV.
    let limited = app.session_as("limited").await;
    let html = limited.get_text("/audit").await;
    let rows = audit_rows(&html);
    assert_eq!(rows.len(), 1, "{html:.1500}");
    assert_eq!(rows[0].cells[GROUP], CORP);
    let csv = limited.get_text("/audit.csv").await;
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(!csv.contains(hs) && !csv.contains("FLEET-LARGE"));
}

#[tokio::test]
async fn the_audit_csv_stays_machine_readable() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let mdns = list_mdns(&app.get_text(&format!("/devices/{CORP}?limit=2")).await);
    let form: Vec<(&str, &str)> = mdns
        .iter()
        .map(|m| ("mdns", m.as_str()))
        .chain([("status", "SUSPENDED"), ("reason", "Summer break")])
        .collect();
    let change = confirmed(&app, CORP, "status", &form).await;

    let text = app.get_text("/audit.csv").await;
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        header.join(","),
        "id,at,request_id,subject,user_name,roles,corp_id,action,selection,fields,line_count,\
         updated,failed,unknown,outcome,upstream_status,result,job_id,client_request_id,via,event",
        "the columns and their order are unchanged"
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), 1);
    let col = |name: &str| {
        let i = header.iter().position(|h| h == name).expect(name);
        rows[0].get(i).unwrap_or_default().to_owned()
    };
    // Machine values, not the page's words.
    let rfc = time::format_description::well_known::Rfc3339;
    assert!(
        time::OffsetDateTime::parse(&col("at"), &rfc).is_ok(),
        "{}",
        col("at")
    );
    assert_eq!(col("action"), "status");
    let selection: serde_json::Value = serde_json::from_str(&col("selection")).expect("JSON");
    let listed: Vec<String> = serde_json::from_value(selection["mdns"].clone()).expect("mdns");
    assert_eq!(listed.len(), 2);
    let fields: serde_json::Value = serde_json::from_str(&col("fields")).expect("JSON");
    assert_eq!(
        fields,
        serde_json::json!({"status": "SUSPENDED", "reason": "Summer break"})
    );
    assert_eq!(col("line_count"), "2");
    assert_eq!(col("outcome"), "ok");
    // `job_id` is the change set's id: the same link the page draws.
    assert_eq!(format!("/changes/{}", col("job_id")), change);
    serde_json::from_str::<serde_json::Value>(&col("result")).expect("JSON");
}
