//! CSV export: exact bytes vs the upstream's CSV, headers, remembered columns, sign-in redirect
//! then download, scope refusals, selections, and failures before and in the middle of the stream.

use crate::helpers::*;

use futures::StreamExt;
use reqwest::cookie::CookieStore;
use sentinel_console::simulator::{Fault, FaultKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SMALL: &str = "NORTHSTAR-ISD-HS";

/// A token of the simulator's own (`POST /v1.0/auth/token`), to read the upstream directly.
async fn sim_token(sim: &TestSim, user: &str) -> String {
    let v: serde_json::Value = reqwest::Client::new()
        .post(sim.url("/sentinel/api/v1.0/auth/token"))
        .json(&serde_json::json!({"username": user, "password": "demo"}))
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("token json");
    v["token"].as_str().expect("token field").to_owned()
}

/// The upstream's own CSV for `corp` (list_devices, export=CSV).
async fn upstream_csv(sim: &TestSim, corp: &str, query: &str) -> Vec<u8> {
    let token = sim_token(sim, "tech").await;
    let resp = reqwest::Client::new()
        .get(sim.url(&format!("/sentinel/api/v1.0/devices/{corp}?{query}")))
        .bearer_auth(token)
        .send()
        .await
        .expect("upstream csv");
    assert_eq!(resp.status(), 200);
    resp.bytes().await.expect("body").to_vec()
}

fn today() -> String {
    let d = time::OffsetDateTime::now_utc().date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

#[tokio::test]
async fn export_is_the_upstreams_csv_byte_for_byte_with_download_headers() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let resp = app
        .get(&format!(
            "/devices/{SMALL}/export.csv?columns=MDN,STATUS,IMEI,NOTE,LABELS&sort=LAST_30_DAYS_USED&sortDir=DESC&offset=50&limit=25"
        ))
        .await;
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    assert_eq!(h["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        h["content-disposition"],
        format!("attachment; filename=\"{SMALL}-devices-{}.csv\"", today()).as_str()
    );
    assert_eq!(h["cache-control"], "no-store");
    // Streamed: no length known up front.
    assert!(h.get("content-length").is_none(), "{h:?}");
    let body = resp.bytes().await.expect("body");
    let expected = upstream_csv(
        &app.sim,
        SMALL,
        "offset=0&limit=25&sort=LAST_30_DAYS_USED&sortDir=DESC&columns=MDN,STATUS,IMEI,NOTE,LABELS&export=CSV",
    )
    .await;
    assert_eq!(
        String::from_utf8_lossy(&body),
        String::from_utf8_lossy(&expected)
    );
    assert!(body.starts_with(b"MDN,STATUS,IMEI,NOTE,LABELS\r\n"));
    // offset/limit are the list's paging: the file has every line of the group.
    assert_eq!(
        body.split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .count(),
        25
    );
}

#[tokio::test]
async fn default_columns_then_the_last_choice_is_remembered_in_the_picker() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let body = app.get_text(&format!("/devices/{SMALL}/export.csv")).await;
    assert!(
        body.starts_with("MDN,NICKNAME,STATUS,NETWORK,DEVICE_NAME,FILTER_GROUP,IMEI,LAST_30_DAYS_USED,MONTHLY_LIMIT\r\n"),
        "{}",
        body.lines().next().unwrap_or_default()
    );

    // The picker (the list's "Export CSV…" link) offers every column, the default set ticked, MDN first.
    let list = app
        .get_text(&format!("/devices/{SMALL}?searchValue=Bus"))
        .await;
    assert_eq!(
        attrs(&list, "#export-link", "href"),
        vec![format!(
            "/devices/{SMALL}/export?sort=MDN&sortDir=ASC&searchValue=Bus"
        )]
    );
    let page = app.get_text(&format!("/devices/{SMALL}/export")).await;
    assert_eq!(column_boxes(&page)[0].0, "MDN");
    let ticked = ticked_columns(&page);
    assert_eq!(count_column_boxes(&page), 29);
    assert_eq!(ticked.len(), 9, "{ticked:?}");

    let resp = app
        .get(&format!(
            "/devices/{SMALL}/export.csv?columns=IMEI&columns=EID,MDN"
        ))
        .await;
    assert_eq!(resp.status(), 200);
    let _ = resp.bytes().await;
    let page = app
        .get_text(&format!("/devices/{SMALL}/export?searchValue=Bus"))
        .await;
    assert_eq!(ticked_columns(&page), vec!["MDN", "IMEI", "EID"]);
    // The form carries the list's state and points at the export.
    let doc = scraper::Html::parse_document(&page);
    let form = scraper::Selector::parse("form#export-form").unwrap();
    let form = doc.select(&form).next().expect("export form");
    assert_eq!(
        form.value().attr("action"),
        Some(format!("/devices/{SMALL}/export.csv").as_str())
    );
    let search = scraper::Selector::parse(r#"input[type=hidden][name=searchValue]"#).unwrap();
    assert_eq!(
        form.select(&search)
            .next()
            .and_then(|i| i.value().attr("value")),
        Some("Bus")
    );
}

fn column_boxes(page: &str) -> Vec<(String, bool)> {
    let doc = scraper::Html::parse_document(page);
    let sel =
        scraper::Selector::parse(r#"#export-form input[type=checkbox][name=columns]"#).unwrap();
    doc.select(&sel)
        .map(|e| {
            (
                e.value().attr("value").unwrap_or_default().to_owned(),
                e.value().attr("checked").is_some(),
            )
        })
        .collect()
}

fn count_column_boxes(page: &str) -> usize {
    column_boxes(page).len()
}

fn ticked_columns(page: &str) -> Vec<String> {
    column_boxes(page)
        .into_iter()
        .filter(|(_, c)| *c)
        .map(|(v, _)| v)
        .collect()
}

#[tokio::test]
async fn unknown_column_is_a_400_page_naming_it_without_an_upstream_call() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    app.sim.sim.clear_requests();
    let resp = app
        .get(&format!(
            "/devices/{SMALL}/export.csv?columns=MDN,SERIAL_NO"
        ))
        .await;
    assert_eq!(resp.status(), 400);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let body = resp.text().await.unwrap();
    assert!(body.contains("SERIAL_NO"), "{body}");
    assert!(app.sim.api_calls().is_empty(), "{:?}", app.sim.api_calls());
}

#[tokio::test]
async fn signed_out_link_goes_through_sign_in_straight_to_the_download() {
    let app = spawn_app().await;
    let path = format!("/devices/{SMALL}/export.csv?columns=MDN,STATUS&sort=STATUS");
    let resp = app.get(&path).await;
    assert!(resp.status().is_redirection(), "{}", resp.status());
    let loc = resp.headers()["location"].to_str().unwrap().to_owned();
    let expected = format!(
        "/login?{}",
        serde_urlencoded::to_string([("next", path.as_str())]).unwrap()
    );
    assert_eq!(loc, expected);
    // Sign in with that `next`: the last hop is the file itself.
    let resp = app.sign_in_to("tech", &path).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/csv; charset=utf-8");
    let body = resp.text().await.unwrap();
    assert!(body.starts_with("MDN,STATUS\r\n"), "{body}");
}

#[tokio::test]
async fn scope_table_decides_who_may_export_what() {
    let app = spawn_app().await;
    // Readonly may export, the list and a selection.
    app.sign_in("readonly").await;
    let r = app.get(&format!("/devices/{SMALL}/export.csv")).await;
    assert_eq!(r.status(), 200);
    let _ = r.bytes().await;
    let r = app
        .get(&format!("/devices/{SMALL}/export.csv?select_all=true"))
        .await;
    assert_eq!(r.status(), 200);
    let _ = r.bytes().await;

    // Media center: the list yes, a selection (customizedList) no, refused before any upstream call.
    let media = app.another_console().await;
    media.sign_in("media").await;
    let r = media.get(&format!("/devices/{SMALL}/export.csv")).await;
    assert_eq!(r.status(), 200);
    let _ = r.bytes().await;
    for q in ["select_all=true", "mdns=5212671508"] {
        media.sim.sim.clear_requests();
        let r = media.get(&format!("/devices/{SMALL}/export.csv?{q}")).await;
        assert_eq!(r.status(), 403, "{q}");
        assert!(
            media.sim.api_calls().is_empty(),
            "{q}: {:?}",
            media.sim.api_calls()
        );
    }

    // A device group the user may not open: 403 without an upstream call.
    let limited = app.another_console().await;
    limited.sign_in("limited").await;
    limited.sim.sim.clear_requests();
    let r = limited.get("/devices/FLEET-LARGE/export.csv").await;
    assert_eq!(r.status(), 403);
    assert!(limited.sim.api_calls().is_empty());
}

fn rows(csv: &str) -> Vec<&str> {
    csv.split("\r\n").filter(|l| !l.is_empty()).collect()
}

#[tokio::test]
async fn selections_use_customized_list() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let all = app
        .get_text(&format!("/devices/{SMALL}/export.csv?columns=MDN,STATUS"))
        .await;
    let all = rows(&all);
    assert_eq!(all.len(), 25);
    let mdn_of = |row: &str| row.split(',').next().unwrap().to_owned();
    let (a, b) = (mdn_of(all[3]), mdn_of(all[7]));

    // select_all less exclusions.
    app.sim.sim.clear_requests();
    let body = app
        .get_text(&format!(
            "/devices/{SMALL}/export.csv?columns=MDN,STATUS&select_all=true&excluded_mdns={a}&excluded_mdns={b}"
        ))
        .await;
    let got = rows(&body);
    let want: Vec<&str> = all
        .iter()
        .copied()
        .filter(|r| mdn_of(r) != a && mdn_of(r) != b)
        .collect();
    assert_eq!(got, want);
    let calls = app.sim.api_calls();
    assert!(
        calls
            .iter()
            .any(|c| c.starts_with("POST") && c.contains("/customizedList")),
        "{calls:?}"
    );

    // An explicit list, without the MDN column: exactly those rows, MDN not added to the file.
    let body = app
        .get_text(&format!(
            "/devices/{SMALL}/export.csv?columns=STATUS,DEVICE_NAME&mdns={a}&mdns={}",
            b.replace('-', "")
        ))
        .await;
    let got = rows(&body);
    assert_eq!(got.len(), 3, "{body}");
    // customizedList calls the device column DEVICE.
    assert_eq!(got[0], "STATUS,DEVICE");
    assert!(!body.contains(&a), "{body}");

    // A column customizedList lacks: a clear 400.
    let r = app
        .get(&format!(
            "/devices/{SMALL}/export.csv?columns=MDN,MDN_CUSTOM_FIELD&select_all=true"
        ))
        .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("MDN_CUSTOM_FIELD"));
}

#[tokio::test]
async fn upstream_failure_before_the_first_byte_is_an_error_page() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    app.sim.sim.add_fault(Fault {
        kind: FaultKind::Status(500),
        path_contains: Some(format!("/devices/{SMALL}")),
        method: None,
        times: Some(1),
    });
    let r = app.get(&format!("/devices/{SMALL}/export.csv")).await;
    assert_eq!(r.status(), 502);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(r.headers().get("content-disposition").is_none());
}

#[tokio::test]
async fn upstream_failure_mid_stream_aborts_the_download() {
    let app = spawn_app().await;
    let r = app.sign_in_to("tech", "/").await;
    assert!(r.status().is_success(), "{}", r.status());
    // Cut late in wide rows: the simulator's server has flushed hundreds of KiB by then, so
    // the console is already streaming when the upstream breaks (an earlier cut can be lost in
    // the simulator's write buffer, which the console rightly answers with an error page).
    let fault = || Fault {
        kind: FaultKind::CutCsvAfterRows(1_900),
        path_contains: Some("/devices/FLEET-LARGE".into()),
        method: None,
        times: Some(1),
    };
    let all: Vec<&str> = sentinel_console::domain::Column::ALL
        .iter()
        .map(|c| c.as_str())
        .collect();
    let path = format!("/devices/FLEET-LARGE/export.csv?columns={}", all.join(","));
    let path = path.as_str();

    // reqwest: headers arrive (200), then reading the body fails.
    app.sim.sim.add_fault(fault());
    let resp = app.get(path).await;
    assert_eq!(resp.status(), 200);
    let mut stream = resp.bytes_stream();
    let mut received = Vec::new();
    let mut failed = false;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(b) => received.extend_from_slice(&b),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert!(
        failed,
        "the body ended cleanly after {} bytes",
        received.len()
    );
    let lines = received.split(|b| *b == b'\n').count();
    assert!(lines > 1 && lines < 2_001, "{lines}");

    // Raw HTTP/1.1: the chunked body never gets its terminating zero-size chunk.
    app.sim.sim.add_fault(fault());
    let cookie = app
        .jar
        .cookies(&url::Url::parse(&app.base).unwrap())
        .expect("session cookie");
    let mut tcp = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nCookie: {}\r\nConnection: close\r\n\r\n",
        app.addr,
        cookie.to_str().unwrap()
    );
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        tcp.read_to_end(&mut raw),
    )
    .await
    .expect("the console closed the connection");
    let text = String::from_utf8_lossy(&raw);
    assert!(
        text.starts_with("HTTP/1.1 200"),
        "{}",
        &text[..text.len().min(200)]
    );
    assert!(
        text.to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
    );
    assert!(
        !text.ends_with("\r\n0\r\n\r\n"),
        "the body was terminated as complete"
    );
}

/// Sets `nickname` on one line through the console's own action (confirmed).
async fn set_nickname(app: &TestApp, corp: &str, mdn: &str, nickname: &str) {
    let csrf = app.csrf().await;
    let form = [("mdns", mdn), ("nickname", nickname), ("confirmed", "true")];
    let r = app.post_action(corp, "nickname", &form, &csrf).await;
    assert_eq!(
        r.status(),
        303,
        "a confirmed change answers with its change set"
    );
}

#[tokio::test]
async fn formula_cells_are_guarded_while_streaming_and_numbers_are_not() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let (corp, mdn) = ("NORTHSTAR-ISD", "521-267-1508");
    set_nickname(&app, corp, mdn, r#"=HYPERLINK("x")"#).await;
    let upstream = upstream_csv(
        &app.sim,
        corp,
        "offset=0&limit=25&sort=MDN&sortDir=ASC&searchValue=521-267-1508&columns=MDN,NICKNAME,LAST_30_DAYS_USED&export=CSV",
    )
    .await;
    let upstream = String::from_utf8_lossy(&upstream).into_owned();
    assert!(
        upstream.contains(r#""=HYPERLINK(""x"")""#),
        "the upstream has the raw formula: {upstream}"
    );
    for query in [
        // The list, select-all and an explicit selection: every path is guarded.
        "searchValue=521-267-1508",
        "select_all=true&searchValue=521-267-1508",
        "mdns=521-267-1508",
    ] {
        let resp = app
            .get(&format!(
                "/devices/{corp}/export.csv?columns=MDN,NICKNAME,LAST_30_DAYS_USED&{query}"
            ))
            .await;
        assert_eq!(resp.status(), 200, "{query}");
        assert!(resp.headers().get("content-length").is_none(), "streamed");
        let body = resp.text().await.expect("body");
        let row = rows(&body)
            .into_iter()
            .find(|r| r.starts_with(mdn))
            .unwrap_or_else(|| panic!("{query}: no row for {mdn}: {body}"));
        assert!(
            row.contains(r#","'=HYPERLINK(""x"")","#),
            "{query}: not guarded: {row}"
        );
        // The other cells are the upstream's, byte for byte (the usage figure is a number).
        let up_row = rows(&upstream)
            .into_iter()
            .find(|r| r.starts_with(mdn))
            .expect("upstream row")
            .to_owned();
        assert_eq!(
            row.replace(r#""'=HYPERLINK"#, r#""=HYPERLINK"#),
            up_row,
            "{query}"
        );
    }
}
