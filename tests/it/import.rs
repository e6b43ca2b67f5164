//! The CSV import (issue 11): export → edit → upload → diff → apply as one change set; the
//! format variants an edited export comes back in, every reason a row is refused, grouping into
//! upstream calls, scope per column, and files refused whole with nothing changed.

use crate::helpers::*;

use sentinel_console::storage::Db;
use sentinel_console::storage::changes::ChangeSet;
use uuid::Uuid;

const G: &str = "NORTHSTAR-ISD";
const ALL: &str =
    "MDN,NICKNAME,NOTE,FILTER_GROUP,MDN_CUSTOM_FIELD,STATUS,MONTHLY_LIMIT,DAILY_LIMIT,IMEI";

/// A multipart body with `csv` as field `file`.
fn multipart(csv: &[u8]) -> (String, Vec<u8>) {
    let b = "----sentinel-import-test-4f1c";
    let mut body = format!(
        "--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"lines.csv\"\r\nContent-Type: text/csv\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(csv);
    body.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={b}"), body)
}

/// Posts `csv` as a multipart upload, with `csrf` in the target's query as the form puts it.
async fn post_file(s: &Session, csrf: Option<&str>, csv: &[u8]) -> reqwest::Response {
    let (ct, body) = multipart(csv);
    let query = csrf.map(|c| format!("?csrf_token={c}")).unwrap_or_default();
    s.client
        .post(s.url(&format!("/devices/{G}/import{query}")))
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .expect("upload")
}

/// Uploads `csv` as the import form does (the CSRF token in the form's target).
async fn upload(s: &Session, csv: &[u8]) -> reqwest::Response {
    let csrf = s.page_csrf(&format!("/devices/{G}/import")).await;
    post_file(s, Some(&csrf), csv).await
}

/// The preview page of an accepted upload.
async fn preview(s: &Session, csv: &[u8]) -> String {
    let resp = upload(s, csv).await;
    let status = resp.status();
    let html = resp.text().await.expect("body");
    assert_eq!(status, 200, "{html:.3000}");
    html
}

/// Confirms a preview; the new change set's id.
async fn confirm(s: &Session, preview: &str) -> Uuid {
    let mut form = confirm_fields(preview);
    form.push(("csrf_token".into(), s.csrf().await));
    form.push(("acknowledged".into(), "true".into()));
    let resp = s.post_form(&format!("/devices/{G}/import"), &form).await;
    let loc = location(&resp);
    assert_eq!(
        resp.status(),
        303,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    loc.trim_start_matches("/changes/")
        .parse()
        .expect("a change set id")
}

async fn finished(app: &TestApp, id: Uuid) -> ChangeSet {
    let db = Db::connect(&app.database_url).await.expect("db");
    finished_within(&db, id, 60).await
}

/// The diff table: (row, MDN, column, now, after).
fn diff(html: &str) -> Vec<[String; 5]> {
    let doc = scraper::Html::parse_document(html);
    doc.select(&selector("#import-diff tbody tr"))
        .map(|tr| {
            let c: Vec<String> = tr
                .select(&selector("td"))
                .map(|td| td.text().collect::<String>().trim().to_owned())
                .collect();
            [0, 1, 2, 3, 4].map(|i| c.get(i).cloned().unwrap_or_default())
        })
        .collect()
}

/// Two columns of the diff table (0 row, 1 MDN, 2 column, 3 now, 4 after), per changed cell.
fn diff_pairs(html: &str, a: usize, b: usize) -> Vec<(String, String)> {
    diff(html)
        .into_iter()
        .map(|c| (c[a].clone(), c[b].clone()))
        .collect()
}

/// The refused rows: (row, why).
fn refused(html: &str) -> Vec<(u32, String)> {
    let doc = scraper::Html::parse_document(html);
    doc.select(&selector("#import-refused tbody tr"))
        .map(|tr| {
            let row = tr
                .select(&selector("td"))
                .next()
                .map(|t| t.text().collect::<String>())
                .unwrap_or_default();
            (
                row.trim().parse().expect("row number"),
                tr.value().attr("data-why").unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn puts(app: &TestApp) -> Vec<sentinel_console::simulator::RecordedRequest> {
    app.sim
        .sim
        .api_requests()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .collect()
}

/// The group's export with `columns`, as records (header first).
async fn export(s: &Session, columns: &str) -> Vec<Vec<String>> {
    let body = s
        .get_text(&format!("/devices/{G}/export.csv?columns={columns}"))
        .await;
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(body.as_bytes())
        .records()
        .map(|r| r.expect("record").iter().map(str::to_owned).collect())
        .collect()
}

fn write(records: &[Vec<String>]) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    for r in records {
        w.write_record(r).expect("write");
    }
    w.into_inner().expect("csv")
}

fn col(header: &[String], name: &str) -> usize {
    header.iter().position(|h| h == name).expect(name)
}

fn device(app: &TestApp, mdn: &str) -> sentinel_console::upstream::wire::Device {
    let d = app.sim.sim.device(G, mdn).expect("line");
    serde_json::from_value(serde_json::to_value(d).expect("json")).expect("device")
}

#[tokio::test]
async fn round_trip_export_edit_import_shows_exactly_the_edited_cells_and_applies_them_as_one_change_set()
 {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let mut recs = export(&app, ALL).await;
    let h = recs[0].clone();
    assert!(recs.len() > 400, "the whole group");
    let (mdn0, mdn1, mdn2) = (recs[1][0].clone(), recs[2][0].clone(), recs[3][0].clone());
    let daily_before = device(&app, &mdn2).daily_limit;
    let before = (
        device(&app, &mdn0).nickname,
        device(&app, &mdn1).note,
        device(&app, &mdn2).monthly_limit,
    );
    recs[1][col(&h, "NICKNAME")] = "Bus 47".into();
    recs[2][col(&h, "NOTE")] = "=1+1 room".into();
    recs[3][col(&h, "MONTHLY_LIMIT")] = "2048".into();
    app.sim.sim.clear_requests();

    let html = preview(&app, &write(&recs)).await;
    let cells = diff(&html);
    let edited: Vec<(String, String, String)> = cells
        .iter()
        .map(|c| (c[1].clone(), c[2].clone(), c[4].clone()))
        .collect();
    assert_eq!(
        edited,
        [
            (mdn0.clone(), "NICKNAME".into(), "Bus 47".into()),
            (mdn1.clone(), "NOTE".into(), "=1+1 room".into()),
            (mdn2.clone(), "MONTHLY_LIMIT".into(), "2 GB".into()),
        ],
        "{html:.4000}"
    );
    assert_eq!(cells[0][0], "2", "the spreadsheet's row number");
    assert_eq!(texts(&html, "#import-lines"), ["3"]);
    assert_eq!(texts(&html, "#import-refused-total"), ["0"]);
    assert!(texts(&html, "#import-ignored code").contains(&"IMEI".to_owned()));
    assert!(puts(&app).is_empty(), "nothing is sent before confirmation");

    let id = confirm(&app, &html).await;
    let set = finished(&app, id).await;
    assert_eq!((set.changed, set.failed, set.total_lines), (3, 0, 3));
    assert_eq!(device(&app, &mdn0).nickname.as_deref(), Some("Bus 47"));
    assert_eq!(device(&app, &mdn1).note.as_deref(), Some("=1+1 room"));
    let d2 = device(&app, &mdn2);
    assert_eq!(d2.monthly_limit, Some(2048.0));
    assert_eq!(
        d2.daily_limit, daily_before,
        "the other limit is sent as it was"
    );
    assert_eq!(puts(&app).len(), 3, "one call per column and value");

    // The preview is applied once.
    let mut again = confirm_fields(&html);
    again.push(("csrf_token".into(), app.csrf().await));
    let resp = app.post_form(&format!("/devices/{G}/import"), &again).await;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("already applied"));

    // Each line's before-value is its own column's, and the revert puts every one back.
    let page = app.get_text(&format!("/changes/{id}")).await;
    assert!(page.contains("Import from CSV"), "{page:.3000}");
    let csrf = app.csrf().await;
    let url = format!("/changes/{id}/revert");
    let rp = app.post_form(&url, &[("csrf_token", csrf.as_str())]).await;
    assert_eq!(rp.status(), 200);
    let mut form = confirm_fields(&rp.text().await.unwrap());
    form.push(("csrf_token".into(), csrf));
    let resp = app.post_form(&url, &form).await;
    assert_eq!(resp.status(), 303);
    let rid: Uuid = location(&resp)
        .trim_start_matches("/changes/")
        .parse()
        .unwrap();
    let expected = 2 + i64::from(before.0.is_some());
    assert_eq!(finished(&app, rid).await.changed, expected);
    if before.0.is_some() {
        assert_eq!(device(&app, &mdn0).nickname, before.0);
    }
    assert_eq!(
        device(&app, &mdn1).note.unwrap_or_default(),
        before.1.unwrap_or_default()
    );
    assert_eq!(device(&app, &mdn2).monthly_limit, before.2);
}

/// The first `n` lines of the group as (MDN, NICKNAME, STATUS, MONTHLY_LIMIT, DAILY_LIMIT, NOTE,
/// MDN_CUSTOM_FIELD) from its export.
async fn lines(s: &Session, n: usize) -> Vec<Vec<String>> {
    let recs = export(
        s,
        "MDN,NICKNAME,STATUS,MONTHLY_LIMIT,DAILY_LIMIT,NOTE,MDN_CUSTOM_FIELD",
    )
    .await;
    recs.into_iter().skip(1).take(n).collect()
}

fn csv_of(rows: &[Vec<String>]) -> Vec<u8> {
    write(rows)
}

fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| (*c).to_owned()).collect()
}

#[tokio::test]
async fn the_formats_an_edited_export_comes_back_in_are_read_alike() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let l = lines(&app, 2).await;
    let (a, b) = (l[0][0].clone(), l[1][0].clone());
    let (monthly, daily) = (l[0][3].clone(), l[0][4].clone());

    // UTF-8 BOM, CRLF, quoted fields with a comma and a line break.
    let html = preview(
        &app,
        format!("\u{feff}MDN,NOTE\r\n{a},\"Room 12, east\"\r\n{b},\"two\r\nlines\"\r\n").as_bytes(),
    )
    .await;
    let got = diff_pairs(&html, 1, 4);
    assert_eq!(
        got,
        [
            (a.clone(), "Room 12, east".into()),
            (b.clone(), "two\nlines".into())
        ],
        "{html:.3000}"
    );

    // Semicolons (a spreadsheet in a comma-decimal locale), a decimal comma, MDN without dashes.
    let digits = a.replace('-', "");
    let html = preview(
        &app,
        format!("MDN;NOTE;MONTHLY_LIMIT\n{digits};Room 12, east;2048,50\n").as_bytes(),
    )
    .await;
    let got = diff_pairs(&html, 2, 4);
    assert_eq!(
        got,
        [
            ("NOTE".into(), "Room 12, east".into()),
            ("MONTHLY_LIMIT".into(), "2048.5 MB".into())
        ]
    );

    // The export's formula guard is removed; a quote the export did not add is kept.
    let html = preview(
        &app,
        format!("MDN,NOTE\n{a},'=SUM(A1)\n{b},'quoted\n").as_bytes(),
    )
    .await;
    let got: Vec<String> = diff(&html).into_iter().map(|c| c[4].clone()).collect();
    assert_eq!(got, ["=SUM(A1)", "'quoted"]);

    // The export's own number formats (and the same value written otherwise) are no change.
    let as_int = monthly.split('.').next().unwrap_or_default().to_owned();
    let html = preview(
        &app,
        format!("MDN,MONTHLY_LIMIT,DAILY_LIMIT\n{a},{monthly},{daily}\n{a},{monthly},{daily}\n")
            .as_bytes(),
    )
    .await;
    assert!(html.contains(r#"id="import-nothing""#), "{html:.3000}");
    if !monthly.is_empty() && monthly.ends_with(".00") {
        let html = preview(
            &app,
            format!("MDN,MONTHLY_LIMIT\n{a},{as_int}\n").as_bytes(),
        )
        .await;
        assert!(html.contains(r#"id="import-nothing""#), "{html:.3000}");
    }
    assert!(puts(&app).is_empty());
}

#[tokio::test]
async fn every_reason_a_row_is_refused_is_listed_with_its_row_number() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let l = lines(&app, 8).await;
    let m = |i: usize| l[i][0].clone();
    let nick = |i: usize| l[i][1].clone();
    let st = |i: usize| l[i][2].clone();
    let lim = |i: usize| l[i][3].clone();
    let long = "n".repeat(101);
    let mut rows = vec![row(&[
        "MDN",
        "NICKNAME",
        "STATUS",
        "MONTHLY_LIMIT",
        "CORP_ID",
    ])];
    rows.push(row(&["12345", "x", "", "", ""])); // 2
    rows.push(row(&["999-999-9999", "x", "", "", ""])); // 3
    rows.push(vec![m(0), "x".into(), st(0), lim(0), "OTHER-GROUP".into()]); // 4
    rows.push(vec![m(1), nick(1), st(1), "lots".into(), G.into()]); // 5
    rows.push(vec![m(2), "X".into(), st(2), lim(2), "".into()]); // 6
    rows.push(vec![m(2), "Y".into(), st(2), lim(2), "".into()]); // 7
    rows.push(vec![m(3), nick(3), "FROZEN".into(), lim(3), "".into()]); // 8
    rows.push(vec![m(4), long, st(4), lim(4), "".into()]); // 9
    rows.push(vec![m(5), "x".into()]); // 10
    rows.push(vec![m(6), "Fine".into(), st(6), lim(6), "".into()]); // 11
    let mut file = Vec::new();
    for r in &rows {
        // The short row must stay short: written by hand, not padded by the writer.
        file.extend_from_slice(r.join(",").as_bytes());
        file.extend_from_slice(b"\n");
    }
    let html = preview(&app, &file).await;
    let got = refused(&html);
    let want: Vec<(u32, &str)> = vec![
        (2, "not an MDN"),
        (3, "unknown MDN (not a line of this device group)"),
        (4, "line of another device group"),
        (5, "bad value for the column"),
        (6, "duplicate MDN with different values"),
        (7, "duplicate MDN with different values"),
        (8, "bad value for the column"),
        (9, "bad value for the column"),
        (10, "row shorter than the header"),
    ];
    let got_ref: Vec<(u32, &str)> = got.iter().map(|(r, w)| (*r, w.as_str())).collect();
    assert_eq!(got_ref, want, "{html:.5000}");
    for msg in [
        "not a number of MB",
        "FROZEN",
        "at most 100 characters",
        "rows 6, 7",
        "OTHER-GROUP",
    ] {
        assert!(html.contains(msg), "{msg}: {html:.5000}");
    }
    assert_eq!(texts(&html, "#import-lines"), ["1"]);
    assert_eq!(diff(&html).len(), 1);
    assert!(puts(&app).is_empty());
}

#[tokio::test]
async fn changes_are_grouped_by_column_and_value_into_upstream_calls() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let l = lines(&app, 5).await;
    let mut rows = vec![row(&["MDN", "NICKNAME", "NOTE", "DAILY_LIMIT"])];
    for (i, line) in l.iter().enumerate() {
        let nick = if i < 3 { "Alpha" } else { "Beta" };
        let note = if i < 2 {
            "Shared note".to_owned()
        } else {
            line[5].clone()
        };
        let daily = if i == 4 {
            "100".to_owned()
        } else {
            line[4].clone()
        };
        rows.push(vec![line[0].clone(), nick.into(), note, daily]);
    }
    app.sim.sim.clear_requests();
    let html = preview(&app, &csv_of(&rows)).await;
    assert!(html.contains("4 calls to Sentinel"), "{html:.3000}");
    let counts = texts(&html, "#import-counts li");
    assert_eq!(
        counts,
        ["NICKNAME: 5 lines", "NOTE: 2 lines", "DAILY_LIMIT: 1 line"],
        "{html:.3000}"
    );
    let id = confirm(&app, &html).await;
    let set = finished(&app, id).await;
    assert_eq!((set.changed, set.total_lines), (8, 8));
    let sizes = |suffix: &str| -> Vec<usize> {
        let mut v: Vec<usize> = app
            .sim
            .api_requests_to("PUT", suffix)
            .iter()
            .map(|r| {
                let b: serde_json::Value = serde_json::from_str(&r.body).expect("json");
                b["mdns"].as_array().map_or(0, Vec::len)
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(sizes("/nickname"), [2, 3]);
    assert_eq!(sizes("/note"), [2]);
    assert_eq!(sizes("/dataLimits"), [1]);
    let limits = &app.sim.api_requests_to("PUT", "/dataLimits")[0];
    let b: serde_json::Value = serde_json::from_str(&limits.body).expect("json");
    assert_eq!(b["dailyLimit"].as_f64(), Some(100.0));
    let monthly_now: Option<f64> = l[4][3].parse().ok();
    assert_eq!(
        b["monthlyLimit"].as_f64(),
        monthly_now,
        "sent as it is: {b}"
    );
}

#[tokio::test]
async fn each_column_is_checked_against_the_users_roles() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let l = lines(&app, 3).await;
    let list = app.get_text(&format!("/devices/{G}")).await;
    assert_eq!(
        attrs(&list, "#import-link", "href"),
        [format!("/devices/{G}/import")]
    );
    let file = csv_of(&[
        row(&["MDN", "NICKNAME", "MONTHLY_LIMIT", "MDN_CUSTOM_FIELD"]),
        vec![
            l[0][0].clone(),
            "Renamed".into(),
            l[0][3].clone(),
            l[0][6].clone(),
        ],
        vec![
            l[1][0].clone(),
            l[1][1].clone(),
            "777".into(),
            l[1][6].clone(),
        ],
        vec![
            l[2][0].clone(),
            l[2][1].clone(),
            l[2][3].clone(),
            "Room 7".into(),
        ],
    ]);
    // A manager may rename but not set limits.
    let manager = app.session_as("manager").await;
    let html = preview(&manager, &file).await;
    assert_eq!(
        refused(&html),
        [(3, "a column your roles may not change".to_owned())]
    );
    assert!(html.contains("MONTHLY_LIMIT: Your role"), "{html:.4000}");
    let changed: Vec<String> = diff(&html).into_iter().map(|c| c[2].clone()).collect();
    assert_eq!(changed, ["NICKNAME", "MDN_CUSTOM_FIELD"]);
    // A media center may only set the custom field; unchanged cells of other columns are fine.
    let media = app.session_as("media").await;
    let form = media.get_text(&format!("/devices/{G}/import")).await;
    assert!(form.contains(r#"id="import-form""#), "{form:.2000}");
    let html = preview(&media, &file).await;
    let why: Vec<u32> = refused(&html).into_iter().map(|(r, _)| r).collect();
    assert_eq!(why, [2, 3]);
    let changed: Vec<String> = diff(&html).into_iter().map(|c| c[2].clone()).collect();
    assert_eq!(changed, ["MDN_CUSTOM_FIELD"]);
    // Read-only: no link, no form, no upload.
    let ro = app.session_as("readonly").await;
    let list = ro.get_text(&format!("/devices/{G}")).await;
    assert!(attrs(&list, "#import-link", "href").is_empty());
    assert_eq!(ro.get(&format!("/devices/{G}/import")).await.status(), 403);
    let csrf = ro.csrf().await;
    let resp = post_file(&ro, Some(&csrf), &file).await;
    assert_eq!(resp.status(), 403);
    assert!(puts(&app).is_empty());
}

#[tokio::test]
async fn bad_files_get_a_clear_message_and_change_nothing() {
    let app = spawn_app_with(default_sim_config(), |c| c.import_max_rows = 3).await;
    app.sign_in("tech").await;
    let mut ten_mb = b"MDN,NOTE\n521-267-1508,\"".to_vec();
    ten_mb.extend(std::iter::repeat_n(b'x', 10 << 20));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "binary",
            vec![0x7f, b'E', b'L', b'F', 0, 1, 0, 2, b'\n'],
            "binary data",
        ),
        (
            "workbook",
            b"PK\x03\x04\x14\x00\x06\x00".to_vec(),
            "Excel workbook",
        ),
        (
            "not CSV",
            br#"{"devices": [{"mdn": "521-267-1508"}]}"#.to_vec(),
            "no MDN column",
        ),
        (
            "no header",
            b"521-267-1508,Bus 4\n304-228-6302,Gym\n".to_vec(),
            "no MDN column",
        ),
        (
            "no MDN column",
            b"NICKNAME,NOTE\nBus,x\n".to_vec(),
            "no MDN column",
        ),
        (
            "nothing to change",
            b"MDN,IMEI\n521-267-1508,1\n".to_vec(),
            "no column the import can change",
        ),
        ("empty", Vec::new(), "The file is empty"),
        ("header only", b"MDN,NOTE\r\n".to_vec(), "no data rows"),
        ("a 10-MB line", ten_mb, "longer than 1 MiB"),
        (
            "Windows-1252",
            b"MDN,NOTE\n521-267-1508,Caf\xe9\n".to_vec(),
            "not UTF-8",
        ),
        ("UTF-16", b"\xff\xfeM\x00D\x00N\x00".to_vec(), "UTF-16"),
        (
            "too many rows",
            b"MDN,NOTE\na,1\nb,2\nc,3\nd,4\n".to_vec(),
            "more than 3 rows",
        ),
    ];
    for (what, bytes, want) in cases {
        let resp = upload(&app, &bytes).await;
        assert_eq!(resp.status(), 400, "{what}");
        let html = resp.text().await.expect("body");
        let error = texts(&html, "#import-error").join(" ");
        assert!(
            error.contains("nothing was changed"),
            "{what}: {html:.2000}"
        );
        assert!(error.contains(want), "{what}: {error}");
        assert!(
            html.contains(r#"id="import-form""#),
            "{what}: the form again"
        );
    }
    assert!(puts(&app).is_empty());
    // Compared means exported: a page's own small reads (a line count) are not a comparison.
    let reads: Vec<_> = app
        .sim
        .api_requests_to("GET", &format!("/devices/{G}"))
        .into_iter()
        .filter(|r| r.query.as_deref().unwrap_or_default().contains("export"))
        .collect();
    assert!(
        reads.is_empty(),
        "a refused file is not compared with anything: {reads:?}"
    );
}

#[tokio::test]
async fn a_file_over_import_max_bytes_is_refused_before_it_is_parsed() {
    let app = spawn_app_with(default_sim_config(), |c| c.import_max_bytes = 1000).await;
    app.sign_in("tech").await;
    let mut file = b"MDN,NOTE\n".to_vec();
    while file.len() < 1500 {
        file.extend_from_slice(b"521-267-1508,note\n");
    }
    for bytes in [file, vec![b'x'; 200_000]] {
        let resp = upload(&app, &bytes).await;
        assert_eq!(resp.status(), 413);
        let error = texts(&resp.text().await.unwrap(), "#import-error").join(" ");
        assert!(error.contains("larger than 1000 bytes"), "{error}");
    }
    let form = app.get_text(&format!("/devices/{G}/import")).await;
    assert!(form.contains("Up to 1000 bytes"), "{form:.2000}");
}

#[tokio::test]
async fn an_upload_or_confirmation_without_the_csrf_token_is_refused() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let l = lines(&app, 1).await;
    let file = format!("MDN,NOTE\n{},Never\n", l[0][0]);
    let resp = post_file(&app, None, file.as_bytes()).await;
    assert_eq!(resp.status(), 403);
    let html = preview(&app, file.as_bytes()).await;
    let resp = app
        .post_form(&format!("/devices/{G}/import"), &confirm_fields(&html))
        .await;
    assert_eq!(resp.status(), 403);
    assert!(puts(&app).is_empty());
}

#[tokio::test]
async fn failed_lines_of_an_import_are_retried_with_their_own_change() {
    use sentinel_console::simulator::{Fault, FaultKind};
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let l = lines(&app, 2).await;
    let file = csv_of(&[
        row(&["MDN", "NICKNAME", "NOTE"]),
        vec![l[0][0].clone(), "Kept".into(), "Retried".into()],
        vec![l[1][0].clone(), "Kept".into(), l[1][5].clone()],
    ]);
    app.sim.sim.add_fault(Fault {
        kind: FaultKind::Status(422),
        path_contains: Some("/note".into()),
        method: Some("PUT".into()),
        times: Some(1),
    });
    let html = preview(&app, &file).await;
    let id = confirm(&app, &html).await;
    let set = finished(&app, id).await;
    assert_eq!((set.changed, set.failed), (2, 1), "{set:?}");
    app.sim.sim.clear_requests();
    let csrf = app.csrf().await;
    let url = format!("/changes/{id}/retry");
    let rp = app.post_form(&url, &[("csrf_token", csrf.as_str())]).await;
    assert_eq!(rp.status(), 200);
    let mut form = confirm_fields(&rp.text().await.unwrap());
    form.push(("csrf_token".into(), csrf));
    let resp = app.post_form(&url, &form).await;
    assert_eq!(
        resp.status(),
        303,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    let rid: Uuid = location(&resp)
        .trim_start_matches("/changes/")
        .parse()
        .unwrap();
    assert_eq!(finished(&app, rid).await.changed, 1);
    assert_eq!(device(&app, &l[0][0]).note.as_deref(), Some("Retried"));
    assert_eq!(app.sim.api_requests_to("PUT", "/note").len(), 1);
    assert!(app.sim.api_requests_to("PUT", "/nickname").is_empty());
}

#[tokio::test]
async fn a_status_is_one_sentinel_offers_spelled_as_it_spells_it() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let l = lines(&app, 2).await;
    let (a, b) = (l[0][0].clone(), l[1][0].clone());
    // The export writes "active"; the same status in other case is no change.
    let same = l[1][2].to_uppercase();
    let next = if l[0][2].eq_ignore_ascii_case("active") {
        "suspended"
    } else {
        "active"
    };
    let html = preview(
        &app,
        format!("MDN,STATUS\n{a},{next}\n{b},{same}\n").as_bytes(),
    )
    .await;
    let cells = diff(&html);
    assert_eq!(cells.len(), 1, "{html:.3000}");
    assert_eq!(cells[0][4], next.to_uppercase());
    confirm(&app, &html).await;
    let sent = app.sim.api_requests_to("PUT", "/status");
    assert_eq!(sent.len(), 1);
    let body: serde_json::Value = serde_json::from_str(&sent[0].body).expect("json");
    assert_eq!(body["status"], next.to_uppercase());
    assert_eq!(body["mdns"], serde_json::json!([a]));
}

#[tokio::test]
async fn an_import_over_the_two_person_threshold_waits_for_a_second_admin() {
    let app = spawn_app_with(default_sim_config(), |c| {
        c.approval_required_above = Some(2)
    })
    .await;
    app.sign_in("tech").await;
    let l = lines(&app, 3).await;
    let mut rows = vec![row(&["MDN", "NOTE"])];
    rows.extend(l.iter().map(|x| vec![x[0].clone(), "Audited".into()]));
    let html = preview(&app, &csv_of(&rows)).await;
    let mut form = confirm_fields(&html);
    form.push(("csrf_token".into(), app.csrf().await));
    let resp = app.post_form(&format!("/devices/{G}/import"), &form).await;
    assert_eq!(resp.status(), 303);
    let id = change_id_of(&resp);
    let c = app.state.db.change_get(id).await.unwrap().unwrap();
    assert_eq!(
        c.state,
        sentinel_console::storage::changes::ChangeState::AwaitingApproval
    );
    assert!(puts(&app).is_empty(), "nothing sent while it waits");
    // The technician may not approve their own import; a second admin does, and it runs.
    let csrf = app.csrf().await;
    let own = app
        .post_form(
            &format!("/changes/{id}/approve"),
            &[("csrf_token", csrf.as_str()), ("confirmed", "true")],
        )
        .await;
    assert_eq!(own.status(), 403);
    let sup = app.session_as("super").await;
    let scsrf = sup.csrf().await;
    let ok = sup
        .post_form(
            &format!("/changes/{id}/approve"),
            &[("csrf_token", scsrf.as_str()), ("confirmed", "true")],
        )
        .await;
    assert_eq!(ok.status(), 303);
    let c = finished_within(&app.state.db, id, 20).await;
    assert_eq!(c.changed, 3, "{:?}", c.message);
    assert!(!puts(&app).is_empty());
}

#[tokio::test]
async fn an_import_can_be_scheduled() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let l = lines(&app, 2).await;
    let mut rows = vec![row(&["MDN", "NOTE"])];
    rows.extend(l.iter().map(|x| vec![x[0].clone(), "Later".into()]));
    let html = preview(&app, &csv_of(&rows)).await;
    let mut form = confirm_fields(&html);
    form.retain(|(k, _)| k != "when" && k != "run_at");
    let at = (time::OffsetDateTime::now_utc() + time::Duration::seconds(2))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    form.push(("when".into(), "later".into()));
    form.push(("run_at".into(), at));
    form.push(("csrf_token".into(), app.csrf().await));
    let resp = app.post_form(&format!("/devices/{G}/import"), &form).await;
    assert_eq!(resp.status(), 303);
    let id = change_id_of(&resp);
    let c = app.state.db.change_get(id).await.unwrap().unwrap();
    assert_eq!(
        c.state,
        sentinel_console::storage::changes::ChangeState::Scheduled
    );
    assert!(puts(&app).is_empty());
    let c = finished_within(&app.state.db, id, 20).await;
    assert_eq!(c.changed, 2, "{:?}", c.message);
}

/// Issue 21: a held import of three columns shows the approver each line's change per column,
/// and deciding on it (approve, reject, cancel) needs the scope of every column.
#[tokio::test]
async fn a_held_import_of_three_columns_is_previewed_per_column_and_decided_with_every_columns_scope()
 {
    let app = spawn_app_with(default_sim_config(), |c| {
        c.approval_required_above = Some(2)
    })
    .await;
    app.sign_in("tech").await;
    let l = lines(&app, 6).await;
    let mut rows = vec![row(&["MDN", "NICKNAME", "STATUS", "MONTHLY_LIMIT"])];
    for (i, x) in l.iter().enumerate() {
        let status = if x[2].eq_ignore_ascii_case("active") {
            "suspended"
        } else {
            "active"
        };
        rows.push(vec![
            x[0].clone(),
            format!("nick{i}"),
            status.into(),
            "777".into(),
        ]);
    }
    let html = preview(&app, &csv_of(&rows)).await;
    let id = confirm(&app, &html).await;
    let page = format!("/changes/{id}");

    // A manager may change nicknames and statuses but not data limits: no decision is offered,
    // and a forged one (approve, reject, cancel) is refused with nothing changed.
    let manager = app.session_as("manager").await;
    let shown = manager.get_text(&page).await;
    for form in ["approve-start", "reject-form", "cancel-form"] {
        assert!(
            !shown.contains(&format!(r#"id="{form}""#)),
            "{form}: {shown:.3000}"
        );
    }
    let mcsrf = manager.csrf().await;
    for (what, extra) in [
        ("approve", ("confirmed", "true")),
        ("reject", ("reason", "No")),
        ("cancel", ("x", "y")),
    ] {
        let r = manager
            .post_form(
                &format!("/changes/{id}/{what}"),
                &[("csrf_token", mcsrf.as_str()), extra],
            )
            .await;
        assert_eq!(r.status(), 403, "{what}");
    }
    let c = app.state.db.change_get(id).await.unwrap().unwrap();
    assert_eq!(
        c.state,
        sentinel_console::storage::changes::ChangeState::AwaitingApproval
    );

    // A second admin's preview: every line's change in each column, the status as sent.
    let sup = app.session_as("super").await;
    let scsrf = sup.csrf().await;
    let preview_html = sup
        .post_form(
            &format!("/changes/{id}/approve"),
            &[("csrf_token", scsrf.as_str())],
        )
        .await
        .text()
        .await
        .expect("preview");
    let doc = scraper::Html::parse_document(&preview_html);
    let rows: Vec<Vec<String>> = doc
        .select(&selector("#preview tbody tr"))
        .map(|tr| {
            tr.select(&selector("td"))
                .map(|td| td.text().collect::<String>().trim().to_owned())
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), 18, "6 lines × 3 columns: {preview_html:.4000}");
    assert_eq!(
        texts(&preview_html, "#approve-count strong"),
        ["6"],
        "lines, not rows"
    );
    for (i, x) in l.iter().enumerate() {
        let of_line: Vec<&Vec<String>> = rows.iter().filter(|r| r[0] == x[0]).collect();
        let change = |label: &str| {
            of_line
                .iter()
                .find(|r| r[1] == label)
                .map(|r| (r[2].clone(), r[3].clone()))
                .unwrap_or_else(|| panic!("{} has no {label} row: {of_line:?}", x[0]))
        };
        assert_eq!(change("Rename (nickname)").1, format!("nick{i}"));
        let (now, after) = change("Change status");
        assert!(now.eq_ignore_ascii_case(&x[2]), "{now} vs {}", x[2]);
        assert_eq!(after, rows_status(&x[2]));
        assert!(change("Set data limits").1.starts_with("777 MB"));
    }
    assert!(puts(&app).is_empty(), "a preview sends nothing");
    // Someone with every column's scope may reject it (and nothing is sent).
    let r = sup
        .post_form(
            &format!("/changes/{id}/reject"),
            &[("csrf_token", scsrf.as_str()), ("reason", "Not this week")],
        )
        .await;
    assert_eq!(r.status(), 303);
    let c = app.state.db.change_get(id).await.unwrap().unwrap();
    assert_eq!(
        c.state,
        sentinel_console::storage::changes::ChangeState::Rejected
    );
    assert!(puts(&app).is_empty());
}

/// The status a line read as `now` is changed to by the test above, as the operation spells it.
fn rows_status(now: &str) -> &'static str {
    if now.eq_ignore_ascii_case("active") {
        "SUSPENDED"
    } else {
        "ACTIVE"
    }
}

/// Issue 21: an import's STATUS column is reverted in the status operation's own vocabulary (the
/// export reads `active`; the revert sends `ACTIVE`), each row of the preview naming its column.
#[tokio::test]
async fn an_imports_status_column_is_reverted_as_the_status_operation_spells_it() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let active: Vec<Vec<String>> = lines(&app, 40)
        .await
        .into_iter()
        .filter(|x| x[2] == "active")
        .take(2)
        .collect();
    assert_eq!(active.len(), 2);
    let mut rows = vec![row(&["MDN", "STATUS", "NOTE"])];
    rows.extend(
        active
            .iter()
            .map(|x| vec![x[0].clone(), "suspended".into(), "Import revert".into()]),
    );
    let id = confirm(&app, &preview(&app, &csv_of(&rows)).await).await;
    assert_eq!(
        finished(&app, id).await.changed,
        4,
        "two columns of two lines"
    );
    app.sim.sim.clear_requests();
    let csrf = app.csrf().await;
    let url = format!("/changes/{id}/revert");
    let html = app
        .post_form(&url, &[("csrf_token", csrf.as_str())])
        .await
        .text()
        .await
        .expect("preview");
    assert!(
        texts(&html, "#revert-values li").contains(&"“ACTIVE”: 2 lines".to_owned()),
        "{html:.3000}"
    );
    assert!(
        texts(&html, "#revert-left-out li").is_empty(),
        "{html:.3000}"
    );
    let columns = texts(&html, "#preview td.col-change");
    assert!(columns.contains(&"Change status".to_owned()), "{columns:?}");
    assert!(columns.contains(&"Set note".to_owned()), "{columns:?}");
    let mut form = confirm_fields(&html);
    form.push(("csrf_token".into(), csrf));
    let resp = app.post_form(&url, &form).await;
    assert_eq!(resp.status(), 303);
    let back = finished(&app, change_id_of(&resp)).await;
    assert_eq!((back.changed, back.failed), (4, 0), "{back:?}");
    let sent = app.sim.api_requests_to("PUT", "/status");
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0].body.contains(r#""status":"ACTIVE""#),
        "{}",
        sent[0].body
    );
    for x in &active {
        assert_eq!(device(&app, &x[0]).status.as_deref(), Some("active"));
    }
}

/// A multipart body of `parts` (name, file name, content), in order.
fn multipart_parts(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let b = "----sentinel-import-test-9a2e";
    let mut body = Vec::new();
    for (name, file_name, content) in parts {
        let disposition = match file_name {
            Some(f) => {
                format!("form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: text/csv")
            }
            None => format!("form-data; name=\"{name}\""),
        };
        body.extend_from_slice(
            format!("--{b}\r\nContent-Disposition: {disposition}\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{b}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={b}"), body)
}

/// Uploads `parts` with no announced length (chunked), as a client streaming it would.
async fn upload_chunked(s: &Session, parts: &[(&str, Option<&str>, &[u8])]) -> (u16, String) {
    let csrf = s.page_csrf(&format!("/devices/{G}/import")).await;
    let (ct, body) = multipart_parts(parts);
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(16 * 1024).map(|c| Ok(c.to_vec())).collect();
    let resp = s
        .client
        .post(s.url(&format!("/devices/{G}/import?csrf_token={csrf}")))
        .header("content-type", ct)
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .expect("upload");
    let status = resp.status().as_u16();
    let error = texts(&resp.text().await.expect("body"), "#import-error").join(" ");
    (status, error)
}

#[tokio::test]
async fn the_whole_upload_is_capped_and_holds_one_file() {
    let app = spawn_app_with(default_sim_config(), |c| c.import_max_bytes = 1000).await;
    app.sign_in("tech").await;
    let l = lines(&app, 1).await;
    let file = format!("MDN,NOTE\n{},Capped\n", l[0][0]);
    let file = file.as_bytes();
    app.sim.sim.clear_requests();
    // The file is small; a text field around it is not: the body is capped, not just the file.
    let filler = vec![b'x'; 300_000];
    for parts in [
        [
            ("comment", None, &filler[..]),
            ("file", Some("a.csv"), file),
        ],
        [
            ("file", Some("a.csv"), file),
            ("comment", None, &filler[..]),
        ],
    ] {
        let (status, error) = upload_chunked(&app, &parts).await;
        assert_eq!(status, 413, "{error}");
        assert!(error.contains("larger than 1000 bytes"), "{error}");
    }
    // A second file, after or before the one named `file`.
    for parts in [
        [("file", Some("a.csv"), file), ("file", Some("b.csv"), file)],
        [
            ("other", Some("b.csv"), file),
            ("file", Some("a.csv"), file),
        ],
    ] {
        let (status, error) = upload_chunked(&app, &parts).await;
        assert_eq!(status, 400, "{error}");
        assert!(error.contains("Upload one CSV file at a time"), "{error}");
    }
    assert!(
        app.sim
            .api_requests_to("GET", &format!("/devices/{G}"))
            .is_empty(),
        "a refused upload is not compared with anything"
    );
    // Small fields beside one file are still fine.
    let (status, error) = upload_chunked(
        &app,
        &[("comment", None, b"hello"), ("file", Some("a.csv"), file)],
    )
    .await;
    assert_eq!(status, 200, "{error}");
}
