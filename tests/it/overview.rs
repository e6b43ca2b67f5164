//! The device group overview over real HTTP: every figure against the upstream's own data
//! (read independently from its JSON list), an empty group, a one-line group, lines without
//! limits, the selection handed to an action, a figure's CSV, the cache and its forgetting.

use crate::helpers::*;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

const CORP: &str = "NORTHSTAR-ISD";
const LARGE: &str = "FLEET-LARGE";
/// The overview's histogram edges (MB), restated here from the issue's page text.
const EDGES: [f64; 8] = [
    100.0, 500.0, 1024.0, 2048.0, 5120.0, 10240.0, 20480.0, 51200.0,
];

/// One line as the upstream's JSON list gives it.
#[derive(Debug, Clone)]
struct Line {
    mdn: String,
    status: String,
    filter_group: String,
    network: String,
    device: String,
    last30: f64,
    month: f64,
    limit: Option<f64>,
}

impl Line {
    fn has_limit(&self) -> bool {
        self.limit.is_some_and(|l| l > 0.0)
    }
    fn over(&self) -> bool {
        self.has_limit() && self.month >= self.limit.unwrap_or(0.0)
    }
    fn near(&self) -> bool {
        self.has_limit() && !self.over() && self.month >= 0.8 * self.limit.unwrap_or(0.0)
    }
    fn idle(&self, mb: f64) -> bool {
        self.status.eq_ignore_ascii_case("active") && (self.last30 == 0.0 || self.last30 < mb)
    }
    fn bucket(&self) -> usize {
        if self.last30 == 0.0 {
            return 0;
        }
        EDGES
            .iter()
            .position(|e| self.last30 < *e)
            .map_or(EDGES.len() + 1, |i| i + 1)
    }
}

/// Every line of a group, read page by page from the simulator's JSON list with a token of its own.
async fn upstream_lines(app: &TestApp, corp: &str) -> Vec<Line> {
    let token = app.sim.sim.issue_access_token("super").expect("token");
    let http = reqwest::Client::new();
    let mut out = Vec::new();
    loop {
        let r = http
            .get(app.sim.url(&format!("/sentinel/api/v1.0/devices/{corp}")))
            .query(&[
                ("offset", out.len().to_string()),
                ("limit", "1000".into()),
                ("sort", "MDN".into()),
                ("sortDir", "ASC".into()),
            ])
            .bearer_auth(&token)
            .send()
            .await
            .expect("list");
        if r.status() == 404 {
            return out; // NO DEVICES FOUND
        }
        let v: Value = r.json().await.expect("json");
        let devices = v["devices"].as_array().expect("devices").clone();
        let s = |d: &Value, k: &str| d[k].as_str().unwrap_or_default().to_owned();
        for d in &devices {
            out.push(Line {
                mdn: s(d, "mdn"),
                status: s(d, "status"),
                filter_group: s(d, "filterGroup"),
                network: s(d, "network"),
                device: s(d, "deviceName"),
                last30: d["last30DaysUsed"].as_f64().unwrap_or(0.0),
                month: d["monthlyAmountUsed"].as_f64().unwrap_or(0.0),
                limit: d["monthlyLimit"].as_f64(),
            });
        }
        if devices.is_empty() || out.len() as u64 >= v["totalCount"].as_u64().unwrap_or(0) {
            return out;
        }
    }
}

fn count_by(lines: &[Line], key: impl Fn(&Line) -> &str) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for l in lines {
        *m.entry(key(l).to_owned()).or_insert(0) += 1;
    }
    m
}

fn num(s: &str) -> u64 {
    s.chars()
        .filter(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or(0)
}

fn doc(html: &str) -> scraper::Html {
    scraper::Html::parse_document(html)
}

fn sel(s: &str) -> scraper::Selector {
    scraper::Selector::parse(s).expect("selector")
}

fn text(e: scraper::ElementRef) -> String {
    e.text().collect::<String>().trim().to_owned()
}

/// A figure's table: (label, value) per row, in order.
fn figure_rows(d: &scraper::Html, id: &str) -> Vec<(String, u64)> {
    let row = sel(&format!("section#{id} table.figure-table tbody tr"));
    let (th, td) = (sel("th"), sel("td"));
    d.select(&row)
        .map(|tr| {
            let label = tr.select(&th).next().map(text).unwrap_or_default();
            let value = tr.select(&td).next().map(text).unwrap_or_default();
            (label, num(&value))
        })
        .collect()
}

fn figure_map(d: &scraper::Html, id: &str) -> BTreeMap<String, u64> {
    figure_rows(d, id).into_iter().collect()
}

/// The `href`s of a figure table's "lines" links.
fn figure_links(d: &scraper::Html, id: &str) -> Vec<String> {
    let a = sel(&format!("section#{id} table.figure-table a.figure-lines"));
    d.select(&a)
        .filter_map(|e| e.value().attr("href").map(str::to_owned))
        .collect()
}

fn exports(app: &TestApp) -> usize {
    app.sim
        .sim
        .api_requests()
        .iter()
        .filter(|r| r.query.as_deref().is_some_and(|q| q.contains("export=CSV")))
        .count()
}

async fn page(app: &TestApp, path: &str) -> String {
    let r = app.get(path).await;
    assert_eq!(r.status(), 200, "{path}");
    r.text().await.expect("body")
}

/// The selection page's hidden `mdns`.
fn selection_mdns(d: &scraper::Html) -> Vec<String> {
    d.select(&sel(r#"form#overview-selection input[name="mdns"]"#))
        .filter_map(|e| e.value().attr("value").map(str::to_owned))
        .collect()
}

/// Checks every figure of an overview page against `lines`, with idle threshold `idle_mb`.
fn check_figures(html: &str, lines: &[Line], idle_mb: f64) {
    let d = doc(html);
    let total = d
        .select(&sel("#overview-total"))
        .next()
        .map(text)
        .unwrap_or_default();
    assert_eq!(num(&total), lines.len() as u64, "total");
    let active = lines
        .iter()
        .filter(|l| l.status.eq_ignore_ascii_case("active"))
        .count() as u64;
    let active_shown = d
        .select(&sel("#overview-active"))
        .next()
        .map(text)
        .unwrap_or_default();
    assert_eq!(num(&active_shown), active, "active");
    if lines.is_empty() {
        return;
    }
    assert_eq!(
        figure_map(&d, "fig-status"),
        count_by(lines, |l| &l.status),
        "status"
    );
    assert_eq!(
        figure_map(&d, "fig-filter-group"),
        count_by(lines, |l| &l.filter_group),
        "filter group"
    );
    assert_eq!(
        figure_map(&d, "fig-network"),
        count_by(lines, |l| &l.network),
        "network"
    );
    assert_eq!(
        figure_map(&d, "fig-device-type"),
        count_by(lines, |l| &l.device),
        "device type"
    );
    let mut hist = vec![0u64; EDGES.len() + 2];
    for l in lines {
        hist[l.bucket()] += 1;
    }
    let shown: Vec<u64> = figure_rows(&d, "fig-usage")
        .into_iter()
        .map(|r| r.1)
        .collect();
    assert_eq!(shown, hist, "usage histogram");
    let c = |f: &dyn Fn(&Line) -> bool| lines.iter().filter(|l| f(l)).count() as u64;
    let limits: Vec<u64> = figure_rows(&d, "fig-limits")
        .into_iter()
        .map(|r| r.1)
        .collect();
    assert_eq!(
        limits,
        vec![
            c(&|l| l.over()),
            c(&|l| l.near()),
            c(&|l| l.has_limit() && !l.over() && !l.near()),
            c(&|l| !l.has_limit()),
        ],
        "limits"
    );
    let idle = c(&|l| l.idle(idle_mb));
    assert_eq!(figure_rows(&d, "fig-idle")[0].1, idle, "idle");
    let sentence = d
        .select(&sel("#idle-sentence"))
        .next()
        .map(text)
        .unwrap_or_default();
    assert!(
        sentence.starts_with(&format!("{idle} of")),
        "{sentence} (idle {idle})"
    );
    let mut top: Vec<&Line> = lines.iter().collect();
    top.sort_by(|a, b| {
        b.month
            .partial_cmp(&a.month)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.mdn.cmp(&b.mdn))
    });
    let want: Vec<String> = top.iter().take(20).map(|l| l.mdn.clone()).collect();
    // The top lines' figure: one row per line, labelled by its MDN (and nickname).
    let shown: Vec<String> = figure_rows(&d, "fig-top")
        .into_iter()
        .filter_map(|(label, _)| label.split_whitespace().next().map(str::to_owned))
        .collect();
    assert_eq!(shown, want, "top 20");
}

#[tokio::test]
async fn every_figure_matches_the_upstream_and_one_export_serves_them() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let lines = upstream_lines(&app, CORP).await;
    assert_eq!(lines.len(), 499);
    app.sim.sim.clear_requests();

    let list = page(&app, &format!("/devices/{CORP}")).await;
    assert!(
        list.contains(&format!(r#"href="/devices/{CORP}/overview""#)),
        "the list links to the overview"
    );
    let html = page(&app, &format!("/devices/{CORP}/overview")).await;
    check_figures(&html, &lines, 0.0);
    assert_eq!(exports(&app), 1, "one export of the group");
    let q = app
        .sim
        .sim
        .api_requests()
        .into_iter()
        .find(|r| r.query.as_deref().is_some_and(|q| q.contains("export=CSV")))
        .and_then(|r| r.query)
        .unwrap_or_default();
    for col in [
        "MDN",
        "STATUS",
        "LAST_30_DAYS_USED",
        "MONTHLY_AMOUNT_USED",
        "MONTHLY_LIMIT",
    ] {
        assert!(q.contains(col), "{q}");
    }
    // Another threshold, the selections and CSVs: all from the cached aggregate.
    let html = page(&app, &format!("/devices/{CORP}/overview?idle_mb=500")).await;
    check_figures(&html, &lines, 500.0);
    let d = doc(&html);
    for id in [
        "fig-status",
        "fig-network",
        "fig-usage",
        "fig-limits",
        "fig-idle",
        "fig-device-type",
        "fig-filter-group",
    ] {
        let rows = figure_rows(&d, id);
        let links = figure_links(&d, id);
        assert_eq!(
            rows.len(),
            links.len(),
            "{id}: every figure leads to its lines"
        );
        for ((label, n), href) in rows.iter().zip(&links) {
            let h = page(&app, &href.replace("&amp;", "&")).await;
            let got = selection_mdns(&doc(&h));
            assert_eq!(got.len() as u64, *n, "{id} {label}: {href}");
        }
    }
    assert_eq!(exports(&app), 1, "still one export");
    // A refresh asks again.
    page(&app, &format!("/devices/{CORP}/overview?refresh=1")).await;
    assert_eq!(exports(&app), 2);
}

#[tokio::test]
async fn the_large_group_and_lines_without_limits() {
    let app = spawn_app().await;
    app.sign_in("manager").await;
    let lines = upstream_lines(&app, LARGE).await;
    assert_eq!(lines.len(), 2_000);
    let html = page(&app, &format!("/devices/{LARGE}/overview?idle_mb=300")).await;
    check_figures(&html, &lines, 300.0);
    // Lines without limits: the selection and the CSV hold exactly them, with an empty limit.
    let want: BTreeSet<String> = lines
        .iter()
        .filter(|l| !l.has_limit())
        .map(|l| l.mdn.clone())
        .collect();
    assert!(!want.is_empty());
    let h = page(
        &app,
        &format!("/devices/{LARGE}/overview/lines?figure=no_limit"),
    )
    .await;
    let got: BTreeSet<String> = selection_mdns(&doc(&h)).into_iter().collect();
    assert_eq!(got, want);
    let csv = page(
        &app,
        &format!("/devices/{LARGE}/overview/lines.csv?figure=no_limit"),
    )
    .await;
    let mut rows = csv.lines();
    assert_eq!(
        rows.next(),
        Some(
            "MDN,STATUS,FILTER_GROUP,NETWORK,DEVICE_NAME,LAST_30_DAYS_USED,MONTHLY_AMOUNT_USED,MONTHLY_LIMIT"
        )
    );
    let mut n = 0;
    for r in rows {
        let cells: Vec<&str> = r.split(',').collect();
        assert_eq!(cells.len(), 8, "{r}");
        assert!(want.contains(cells[0]), "{r}");
        assert_eq!(cells[7], "", "{r}");
        n += 1;
    }
    assert_eq!(n, want.len());
}

#[tokio::test]
async fn an_empty_group_and_a_one_line_group() {
    let mut cfg = default_sim_config();
    cfg.large_group_size = 0;
    let app = spawn_app_with(cfg, |_| {}).await;
    app.sign_in("tech").await;
    let html = page(&app, &format!("/devices/{LARGE}/overview")).await;
    check_figures(&html, &[], 0.0);
    assert!(html.contains("No lines."), "empty figures say so");
    assert!(!html.contains("idle-lines"), "nothing to act on");
    let csv = page(
        &app,
        &format!("/devices/{LARGE}/overview/lines.csv?figure=idle"),
    )
    .await;
    assert_eq!(csv.lines().count(), 1, "header only: {csv}");

    let mut cfg = default_sim_config();
    cfg.large_group_size = 1;
    let app = spawn_app_with(cfg, |_| {}).await;
    app.sign_in("tech").await;
    let lines = upstream_lines(&app, LARGE).await;
    assert_eq!(lines.len(), 1);
    let html = page(&app, &format!("/devices/{LARGE}/overview")).await;
    check_figures(&html, &lines, 0.0);
    let status =
        url::form_urlencoded::byte_serialize(lines[0].status.as_bytes()).collect::<String>();
    let h = page(
        &app,
        &format!("/devices/{LARGE}/overview/lines?figure=status&value={status}"),
    )
    .await;
    assert_eq!(selection_mdns(&doc(&h)), vec![lines[0].mdn.clone()]);
    // One line: the one-line-only action (IMEI) is offered too.
    assert!(h.contains(r#"data-action="imei""#), "{h}");
}

#[tokio::test]
async fn a_figure_hands_its_lines_to_an_action_and_its_csv_has_them() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let lines = upstream_lines(&app, CORP).await;
    let idle: Vec<String> = lines
        .iter()
        .filter(|l| l.idle(3000.0))
        .map(|l| l.mdn.clone())
        .collect();
    assert!(idle.len() > 1, "the simulator has lines under 3000 MB");
    let h = page(
        &app,
        &format!("/devices/{CORP}/overview/lines?figure=idle&idle_mb=3000"),
    )
    .await;
    let d = doc(&h);
    assert_eq!(selection_mdns(&d), idle);
    let form = d
        .select(&sel("form#overview-selection"))
        .next()
        .expect("selection form");
    assert_eq!(form.value().attr("method"), Some("post"));
    let csrf = d
        .select(&sel(r#"form#overview-selection input[name="csrf_token"]"#))
        .next()
        .and_then(|e| e.value().attr("value"))
        .expect("csrf in the form")
        .to_owned();
    let actions: Vec<String> = d
        .select(&sel("form#overview-selection button[data-action]"))
        .filter_map(|b| b.value().attr("formaction").map(str::to_owned))
        .collect();
    assert!(
        actions.contains(&format!("/devices/{CORP}/actions/status/form")),
        "{actions:?}"
    );
    assert!(
        !actions.iter().any(|a| a.contains("/imei/")),
        "IMEI needs exactly one line"
    );

    // What the button posts: the existing action form, for exactly these lines.
    let mut body: Vec<(&str, &str)> = vec![("csrf_token", &csrf)];
    body.extend(idle.iter().map(|m| ("mdns", m.as_str())));
    app.sim.sim.clear_requests();
    let r = app
        .client
        .post(app.url(&format!("/devices/{CORP}/actions/status/form")))
        .form(&body)
        .send()
        .await
        .expect("form");
    assert_eq!(r.status(), 200);
    let form_html = r.text().await.expect("body");
    assert!(
        form_html.contains(&format!("{} lines", idle.len())),
        "the form names the lines"
    );
    let fd = doc(&form_html);
    let hidden: Vec<String> = fd
        .select(&sel(r#"input[type="hidden"][name="mdns"]"#))
        .filter_map(|e| e.value().attr("value").map(str::to_owned))
        .collect();
    assert_eq!(hidden, idle);
    // Nothing was written by opening the form.
    assert!(app.sim.sim.api_requests().iter().all(|r| r.method == "GET"));

    // The figure's CSV: the same lines.
    let r = app
        .get(&format!(
            "/devices/{CORP}/overview/lines.csv?figure=idle&idle_mb=3000"
        ))
        .await;
    assert_eq!(r.status(), 200);
    let disp = r
        .headers()
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        disp.starts_with("attachment;") && disp.contains("overview-idle"),
        "{disp}"
    );
    let csv = r.text().await.expect("csv");
    let got: Vec<String> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(got, idle);
    // The network figure's CSV against the upstream.
    let want: Vec<String> = lines
        .iter()
        .filter(|l| l.network == "Verizon")
        .map(|l| l.mdn.clone())
        .collect();
    let csv = page(
        &app,
        &format!("/devices/{CORP}/overview/lines.csv?figure=network&value=Verizon"),
    )
    .await;
    let got: Vec<String> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(got, want);
}

#[tokio::test]
async fn a_change_through_the_console_forgets_the_overview() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let before = upstream_lines(&app, CORP).await;
    app.sim.sim.clear_requests();
    page(&app, &format!("/devices/{CORP}/overview")).await;
    page(&app, &format!("/devices/{CORP}/overview")).await;
    assert_eq!(exports(&app), 1, "cached");
    let target = before
        .iter()
        .find(|l| l.status == "active")
        .expect("an active line")
        .mdn
        .clone();
    let csrf = app.csrf().await;
    let r = app
        .client
        .post(app.url(&format!("/devices/{CORP}/actions/status")))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("mdns", target.as_str()),
            ("status", "SUSPENDED"),
            ("confirmed", "true"),
        ])
        .send()
        .await
        .expect("change");
    assert!(
        r.status().is_success() || r.status().is_redirection(),
        "{}",
        r.status()
    );
    let after = upstream_lines(&app, CORP).await;
    assert_ne!(
        count_by(&before, |l| &l.status),
        count_by(&after, |l| &l.status),
        "the change moved a count"
    );
    let n = exports(&app);
    let html = page(&app, &format!("/devices/{CORP}/overview")).await;
    assert_eq!(
        exports(&app),
        n + 1,
        "the change made the overview ask again"
    );
    check_figures(&html, &after, 0.0);
}

#[tokio::test]
async fn bad_input_and_the_scope_table() {
    let app = spawn_app().await;
    app.sign_in("limited").await;
    app.sim.sim.clear_requests();
    for path in [
        format!("/devices/{CORP}/overview?idle_mb=-1"),
        format!("/devices/{CORP}/overview?idle_mb=lots"),
        format!("/devices/{CORP}/overview/lines?figure=bogus"),
        format!("/devices/{CORP}/overview/lines?figure=usage&bucket=99"),
        format!("/devices/{CORP}/overview/lines.csv"),
    ] {
        let r = app.get(&path).await;
        assert_eq!(r.status(), 400, "{path}");
        let body = r.text().await.expect("body");
        assert!(
            body.contains("idle threshold") || body.contains("figure") || body.contains("bucket"),
            "{path}: a clear message"
        );
    }
    // `limited` may open NORTHSTAR-ISD only: the other group is refused before any upstream call.
    for path in [
        format!("/devices/{LARGE}/overview"),
        format!("/devices/{LARGE}/overview/lines?figure=idle"),
        format!("/devices/{LARGE}/overview/lines.csv?figure=idle"),
    ] {
        assert_eq!(app.get(&path).await.status(), 403, "{path}");
    }
    assert!(
        app.sim.sim.api_requests().is_empty(),
        "no upstream call for refused or bad requests"
    );

    // Every role that may read the list sees the overview; the selections offer what the role may do.
    for (user, may_change) in [("readonly", false), ("media", true), ("super", true)] {
        let app = spawn_app().await;
        app.sign_in(user).await;
        let html = page(&app, &format!("/devices/{CORP}/overview")).await;
        assert!(html.contains("fig-status"), "{user}");
        let h = page(&app, &format!("/devices/{CORP}/overview/lines?figure=top")).await;
        let d = doc(&h);
        assert_eq!(
            selection_mdns(&d).len(),
            if may_change { 20 } else { 0 },
            "{user}"
        );
        let buttons: Vec<String> = d
            .select(&sel("button[data-action]"))
            .filter_map(|b| b.value().attr("data-action").map(str::to_owned))
            .collect();
        if user == "media" {
            assert!(
                !buttons.contains(&"status".to_owned())
                    && !buttons.contains(&"delete-labels".to_owned()),
                "{buttons:?}"
            );
        }
        if user == "super" {
            assert!(
                buttons.contains(&"status".to_owned())
                    && buttons.contains(&"data-limits".to_owned()),
                "{buttons:?}"
            );
        }
    }
}
