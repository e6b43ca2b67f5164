//! The CSV import (issue 11): export → edit → upload → diff → apply as one change set; the
//! format variants an edited export comes back in, every reason a row is refused, grouping into
//! upstream calls, scope per column, and files refused whole with nothing changed.

use crate::helpers::*;

use std::time::Duration;

use sentinel_console::storage::Db;
use sentinel_console::storage::changes::ChangeSet;
use uuid::Uuid;

const G: &str = "NORTHSTAR-ISD";
const ALL: &str = "MDN,NICKNAME,NOTE,FILTER_GROUP,MDN_CUSTOM_FIELD,STATUS,MONTHLY_LIMIT,DAILY_LIMIT,IMEI";

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

/// Uploads `csv` as the import form does (the CSRF token in the form's target).
async fn upload(s: &Session, csv: &[u8]) -> reqwest::Response {
    let csrf = s.page_csrf(&format!("/devices/{G}/import")).await;
    let (ct, body) = multipart(csv);
    s.client
        .post(s.url(&format!("/devices/{G}/import?csrf_token={csrf}")))
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .expect("upload")
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
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap_or_default());
    loc.trim_start_matches("/changes/").parse().expect("a change set id")
}

async fn finished(app: &TestApp, id: Uuid) -> ChangeSet {
    let db = Db::connect(&app.database_url).await.expect("db");
    for _ in 0..600 {
        let c = db.change_get(id).await.expect("read").expect("stored");
        if c.state.is_finished() {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("change {id} did not finish");
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
            (mdn2.clone(), "MONTHLY_LIMIT".into(), "2048 MB".into()),
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
    assert_eq!(d2.daily_limit, daily_before, "the other limit is sent as it was");
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
    let rid: Uuid = location(&resp).trim_start_matches("/changes/").parse().unwrap();
    let expected = 2 + i64::from(before.0.is_some());
    assert_eq!(finished(&app, rid).await.changed, expected);
    if before.0.is_some() {
        assert_eq!(device(&app, &mdn0).nickname, before.0);
    }
    assert_eq!(device(&app, &mdn1).note.unwrap_or_default(), before.1.unwrap_or_default());
    assert_eq!(device(&app, &mdn2).monthly_limit, before.2);
}
