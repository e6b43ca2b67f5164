//! The fault soak of issue 8 at a modest scale (`bench/changes.sh` runs it with 200 change
//! sets): change sets started at once through two console instances on one PostgreSQL
//! database, one in ten of Sentinel's answers faulted (a 500, a timeout, a connection cut
//! half-way through the answer), and one instance killed mid-run. Every change set ends, every
//! line has exactly one outcome, and no line is sent twice.

use crate::helpers::*;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use sentinel_console::simulator::{Fault, FaultKind, SimConfig};

const SETS: usize = 40;
/// Two chunks per change set.
const LINES: usize = 1_000;
const GROUP: &str = "FLEET-LARGE";
const GROUP_LINES: usize = 3_000;

/// Every MDN of the group, in order, straight from the simulator's export.
async fn group_mdns(sim: &TestSim) -> Vec<String> {
    let token = sim.sim.issue_access_token("super").expect("token");
    let csv = reqwest::Client::new()
        .get(sim.url(&format!(
            "/sentinel/api/v1.0/devices/{GROUP}?offset=0&limit=25&sort=MDN&sortDir=ASC&columns=MDN&export=CSV"
        )))
        .bearer_auth(token)
        .send()
        .await
        .expect("export")
        .text()
        .await
        .expect("csv");
    csv.lines().skip(1).map(|l| l.trim().to_owned()).collect()
}

/// One in ten requests to the devices API faulted: a 500, a timeout (the console waits 3 s),
/// or a connection cut half-way through the answer, each on distinct requests.
fn faults() -> Vec<Fault> {
    let one_in = |phase, then| Fault {
        kind: FaultKind::OneIn {
            every: 30,
            phase,
            then: Box::new(then),
            seen: 0,
        },
        path_contains: Some("/devices/".into()),
        method: None,
        times: None,
    };
    vec![
        one_in(0, FaultKind::Status(500)),
        one_in(10, FaultKind::Latency(Duration::from_millis(3_500))),
        one_in(20, FaultKind::CutAnswer),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_change_sets_under_faults_with_an_instance_killed_lose_and_resend_nothing() {
    let sim = spawn_sim(SimConfig {
        large_group_size: GROUP_LINES as u64,
        ..default_sim_config()
    })
    .await;
    let db_url = postgres_url().await;
    let cfg = || {
        let mut c = config_for(&sim, &db_url);
        c.upstream_timeout = Duration::from_secs(3);
        c
    };
    let mut a = Instance::start(cfg()).await;
    let b = Instance::start(cfg()).await;
    let mdns = group_mdns(&sim).await;
    assert_eq!(mdns.len(), GROUP_LINES);

    // Four browsers (the write rate limit is per session), each used on both instances.
    let mut browsers = Vec::new();
    for _ in 0..4 {
        let s = Session::new(&a.base);
        s.sign_in_to("super", "/").await;
        let csrf = s.csrf().await;
        browsers.push((s, csrf));
    }
    for f in faults() {
        sim.sim.add_fault(f);
    }
    sim.sim.clear_requests();

    let posts = (0..SETS).map(|k| {
        let (s, csrf) = &browsers[k % browsers.len()];
        let s = if k % 2 == 0 { s.clone() } else { s.at(&b.base) };
        let csrf = csrf.clone();
        let start = (k * 250) % (GROUP_LINES - LINES);
        let lines = mdns[start..start + LINES].to_vec();
        async move {
            let note = format!("soak-{k}");
            let mut form: Vec<(&str, &str)> = lines.iter().map(|m| ("mdns", m.as_str())).collect();
            form.extend([
                ("note", note.as_str()),
                ("confirmed", "true"),
                ("acknowledged", "true"),
            ]);
            let resp = s.post_action(GROUP, "note", &form, &csrf).await;
            assert_eq!(resp.status(), 303, "change set {k}");
            let id: uuid::Uuid = location(&resp)
                .trim_start_matches("/changes/")
                .parse()
                .expect("change id");
            (id, note)
        }
    });
    let sets: Vec<(uuid::Uuid, String)> = futures::future::join_all(posts).await;

    // Kill A once writes are flowing: its chunks in flight become unknown, B takes the rest.
    let writes = || sim.api_requests_to("PUT", "/note");
    for _ in 0..400 {
        if writes().len() >= SETS / 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    a.kill();

    let pool = sqlx::PgPool::connect(&db_url).await.expect("db");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(100);
    loop {
        let open: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM change_sets WHERE state NOT IN ('done', 'done_with_failures', 'failed')",
        )
        .fetch_one(&pool)
        .await
        .expect("count");
        if open == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{open} change sets never finished"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    drop(b);

    // What Sentinel received: each write's note and lines.
    let mut sent: HashMap<(String, String), usize> = HashMap::new();
    for w in writes() {
        let body: serde_json::Value = serde_json::from_str(&w.body).expect("json body");
        let note = body["note"].as_str().expect("note").to_owned();
        for m in body["mdns"].as_array().expect("mdns") {
            *sent
                .entry((note.clone(), m.as_str().expect("mdn").to_owned()))
                .or_default() += 1;
        }
    }
    let twice: Vec<_> = sent.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "lines sent twice: {twice:?}");

    let (mut changed, mut not_changed) = (0, 0);
    for (id, note) in &sets {
        let (total, c, f, u): (i64, i64, i64, i64) = sqlx::query_as(
            "SELECT total_lines, changed, failed, unknown FROM change_sets WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_one(&pool)
        .await
        .expect("change set");
        assert_eq!(total, LINES as i64);
        assert_eq!(c + f + u, total, "{note}: counts add up");
        let lines: Vec<(String, String)> =
            sqlx::query_as("SELECT mdn, outcome FROM change_lines WHERE change_id = $1")
                .bind(id.to_string())
                .fetch_all(&pool)
                .await
                .expect("lines");
        assert_eq!(lines.len(), LINES, "{note}: one row per line");
        let mut by: HashMap<&str, i64> = HashMap::new();
        for (_, o) in &lines {
            *by.entry(o.as_str()).or_default() += 1;
        }
        assert_eq!(
            (by.get("changed"), by.get("pending")),
            ((c > 0).then_some(&c), None),
            "{note}: the counts are the lines' outcomes"
        );
        let distinct: HashSet<&str> = lines.iter().map(|l| l.0.as_str()).collect();
        assert_eq!(distinct.len(), LINES);
        // A line recorded as changed was received by Sentinel, once.
        for (m, o) in &lines {
            if o == "changed" {
                assert_eq!(sent.get(&(note.clone(), m.clone())), Some(&1), "{note} {m}");
            }
        }
        changed += c;
        not_changed += f + u;
    }
    eprintln!(
        "soak: {SETS} change sets, {} lines: {changed} changed, {not_changed} failed or unknown, {} writes received",
        SETS * LINES,
        writes().len()
    );
    let why: Vec<(String, Option<String>, i64)> = sqlx::query_as(
        "SELECT outcome, message, COUNT(*) FROM change_lines GROUP BY outcome, message ORDER BY 3 DESC",
    )
    .fetch_all(&pool)
    .await
    .expect("outcomes");
    for (o, m, n) in why {
        eprintln!("  {n:>6} {o}: {}", m.unwrap_or_default());
    }
    assert!(changed > 0 && not_changed > 0, "faults took effect");
}
