//! Several console instances on one PostgreSQL database behave as one: a session made on A is
//! good on B, refreshes racing on A and B never sign the user out, and when A dies (its whole
//! runtime dropped, like a crash) B carries on, including A's background job.

use crate::helpers::*;

use std::time::Duration;

use sentinel_console::simulator::SimConfig;

async fn two_instances(sim_cfg: SimConfig) -> (TestSim, Instance, Instance) {
    let sim = spawn_sim(sim_cfg).await;
    let db = postgres_url().await;
    let a = Instance::start(config_for(&sim, &db)).await;
    let b = Instance::start(config_for(&sim, &db)).await;
    (sim, a, b)
}

fn rows(page: &str) -> usize {
    page.matches("<tr data-mdn=").count()
}

#[tokio::test]
async fn signed_in_on_a_continues_on_b_and_after_a_dies() {
    let (_sim, mut a, b) = two_instances(default_sim_config()).await;
    // One browser on both instances (cookies ignore ports, as behind a load balancer).
    let at_a = Session::new(&a.base);
    let at_b = at_a.at(&b.base);
    let landed = at_a.sign_in_to("tech", "/devices/NORTHSTAR-ISD").await;
    assert_eq!(landed.status(), 200);

    let on_b = at_b.get("/devices/NORTHSTAR-ISD").await;
    assert_eq!(on_b.status(), 200, "B does not know A's session");
    assert_eq!(rows(&on_b.text().await.unwrap()), 25);

    a.kill();
    assert!(
        at_a.client.get(at_a.url("/healthz")).send().await.is_err(),
        "A still answers"
    );

    let on_b = at_b.get("/devices/NORTHSTAR-ISD?offset=25").await;
    assert_eq!(on_b.status(), 200);
    assert_eq!(rows(&on_b.text().await.unwrap()), 25);
    let csv = at_b
        .get("/devices/NORTHSTAR-ISD-HS/export.csv?columns=MDN")
        .await;
    assert_eq!(csv.status(), 200);
    assert_eq!(csv.text().await.unwrap().lines().count(), 25);
    let ready = at_b.get("/readyz").await;
    assert_eq!(ready.status(), 200);
}

#[tokio::test]
async fn token_refreshes_racing_on_a_and_b_never_sign_the_user_out() {
    let ttl = Duration::from_secs(2);
    let (sim, a, b) = two_instances(SimConfig {
        token_ttl: ttl,
        ..default_sim_config()
    })
    .await;
    let browser = Session::new(&a.base);
    let landed = browser
        .sign_in_to("tech", "/devices/NORTHSTAR-ISD-HS")
        .await;
    assert_eq!(landed.status(), 200);

    for round in 0..3 {
        // Let the access token expire, then hit both instances at once.
        tokio::time::sleep(ttl + Duration::from_millis(300)).await;
        sim.sim.clear_requests();
        let mut calls = Vec::new();
        for i in 0..16 {
            let base = if i % 2 == 0 { &a.base } else { &b.base };
            let url = format!("{base}/devices/NORTHSTAR-ISD-HS");
            let client = browser.client.clone();
            calls.push(tokio::spawn(async move {
                let r = client.get(url).send().await.expect("request");
                let status = r.status();
                let loc = r
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                (status, loc)
            }));
        }
        for c in calls {
            let (status, loc) = c.await.unwrap();
            assert_eq!(status, 200, "round {round}: {status} to {loc:?}");
        }
        // The expired token was refreshed (not merely re-used) this round.
        let refreshes = sim
            .sim
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/oauth/token") && r.body.contains("refresh_token"))
            .count();
        assert!(refreshes >= 1, "round {round}: no refresh happened");
    }
}

/// Digits of the first MDN in a write's body: which chunk the write carried.
fn first_line(body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).expect("json body");
    v["mdns"][0]
        .as_str()
        .expect("mdns")
        .chars()
        .filter(char::is_ascii_digit)
        .collect()
}

/// A job started on A and A killed with its first chunks in flight.
struct Takeover {
    sim: TestSim,
    /// Held so that B keeps running (dropping it kills B).
    _b: Instance,
    /// The user's browser, on B.
    browser: Session,
    db_url: String,
    job_path: String,
    job_id: uuid::Uuid,
    lines: Vec<String>,
    /// The chunks A had sent when it was killed.
    by_a: Vec<usize>,
}

impl Takeover {
    fn writes(&self) -> Vec<sentinel_console::simulator::RecordedRequest> {
        self.sim
            .sim
            .api_requests()
            .into_iter()
            .filter(|r| r.method == "PUT" && r.path.ends_with("/nickname"))
            .collect()
    }

    fn chunk_of(&self, body: &str) -> usize {
        let digits = first_line(body);
        self.lines
            .iter()
            .position(|l| l.replace('-', "") == digits)
            .expect("a line of the list")
            / 500
    }

    /// Waits (up to 2 minutes) for the job to end; B must take it over once A's lease lapses.
    async fn finished(
        &self,
        db: &sentinel_console::storage::Db,
    ) -> sentinel_console::storage::jobs::Job {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        loop {
            let job = db.job_get(self.job_id).await.unwrap().expect("job");
            if job.state.is_finished() {
                return job;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the job never finished on B"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    async fn audits(&self) -> i64 {
        let pool = sqlx::PgPool::connect(&self.db_url).await.unwrap();
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE job_id = $1")
            .bind(self.job_id.to_string())
            .fetch_one(&pool)
            .await
            .unwrap()
    }
}

/// Signs in on A, starts a nickname change over 4,000 lines (8 chunks; Sentinel knows the 1,000
/// in chunks 4 and 5, the others are per-line failures, but every chunk is a real write) with
/// writes slowed down, and kills A while its first 4 chunks (its concurrency) are in flight.
async fn start_job_and_kill_a() -> Takeover {
    use sentinel_console::simulator::{Fault, FaultKind};
    let db_url = postgres_url().await;
    let sim = spawn_sim(SimConfig {
        token_ttl: Duration::from_secs(10),
        ..default_sim_config()
    })
    .await;
    let mut a = Instance::start(config_for(&sim, &db_url)).await;
    let b = Instance::start(config_for(&sim, &db_url)).await;
    let at_a = Session::new(&a.base);
    let landed = at_a.sign_in_to("super", "/devices/FLEET-LARGE").await;
    assert_eq!(landed.status(), 200);
    let csrf = extract_meta_csrf(&landed.text().await.unwrap()).expect("csrf");

    let fake = |i: usize| format!("555-1{:02}-{:04}", i / 10_000, i % 10_000);
    let mut lines: Vec<String> = (0..2000).map(fake).collect();
    lines.extend((0..1000).map(|i| format!("610-200-{i:04}")));
    lines.extend((2000..3000).map(fake));

    // Slow writes down so that A is killed with its first chunks in flight.
    sim.sim.add_fault(Fault {
        kind: FaultKind::Latency(Duration::from_secs(3)),
        path_contains: Some("/nickname".into()),
        method: Some("PUT".into()),
        times: None,
    });
    let writes = || {
        sim.sim
            .api_requests()
            .into_iter()
            .filter(|r| r.method == "PUT" && r.path.ends_with("/nickname"))
            .collect::<Vec<_>>()
    };
    let mut form: Vec<(&str, &str)> = lines.iter().map(|m| ("mdns", m.as_str())).collect();
    form.extend([
        ("nickname", "Relabelled by job"),
        ("confirmed", "true"),
        ("acknowledged", "true"),
    ]);
    let resp = at_a
        .post_action("FLEET-LARGE", "nickname", &form, &csrf)
        .await;
    assert_eq!(resp.status(), 303);
    assert!(
        resp.headers().contains_key("location"),
        "the change runs as a job with its own page"
    );
    let job_path = location(&resp);
    let job_id: uuid::Uuid = job_path
        .trim_start_matches("/changes/")
        .parse()
        .expect("job id");

    // A has 4 chunks (its concurrency) in flight: kill it now.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while writes().len() < 4 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "A never sent its chunks"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    a.kill();
    drop(form);
    let at_b = at_a.at(&b.base);
    let mut t = Takeover {
        sim,
        _b: b,
        browser: at_b,
        db_url,
        job_path,
        job_id,
        lines,
        by_a: Vec::new(),
    };
    t.by_a = t.writes().iter().map(|w| t.chunk_of(&w.body)).collect();
    assert_eq!(t.by_a.len(), 4, "A sent {:?}", t.by_a);
    t
}

/// B takes over once A's lease lapses: the 4 in-flight chunks are recorded unknown and never
/// sent again, the 4 never-started ones are sent by B with the user's token from the shared
/// session store (refreshed: it has expired by then), and the job ends with exactly one audit
/// record.
#[tokio::test]
async fn job_started_on_a_is_finished_by_b_when_a_dies() {
    let t = start_job_and_kill_a().await;
    let Takeover {
        browser,
        job_path,
        job_id,
        by_a,
        db_url,
        ..
    } = &t;

    // B shows the job and, once A's lease has lapsed, finishes it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let html = loop {
        let r = browser.get(job_path).await;
        assert_eq!(r.status(), 200);
        let html = r.text().await.unwrap();
        if !html.contains(r#"data-state="running""#) {
            break html;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the job never finished on B"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    // Some lines changed, others failed or are unknown: done, with failures.
    assert!(
        html.contains(r#"data-state="done_with_failures""#),
        "{html:.1500}"
    );

    // Every chunk was sent exactly once: A's 4 in flight, and B the 4 never started.
    let all = t.writes();
    let mut sent: Vec<usize> = all.iter().map(|w| t.chunk_of(&w.body)).collect();
    let by_b: Vec<usize> = sent[4..].to_vec();
    sent.sort_unstable();
    assert_eq!(
        sent,
        (0..8).collect::<Vec<_>>(),
        "a chunk sent twice or never"
    );
    assert!(by_b.iter().all(|c| !by_a.contains(c)), "B resent {by_b:?}");
    assert_ne!(
        all[0].authorization, all[4].authorization,
        "B used the refreshed token from the session store"
    );

    let db = sentinel_console::storage::Db::connect(db_url)
        .await
        .expect("db");
    let job = db.job_get(*job_id).await.unwrap().expect("job");
    assert_eq!(job.done_chunks, 8);
    assert!(job.attempts >= 2, "taken over: {}", job.attempts);
    for c in db.job_chunks(*job_id).await.unwrap() {
        let chunk = usize::try_from(c.chunk).unwrap();
        if by_a.contains(&chunk) {
            // In flight on A: unknown, with the reason, never retried.
            assert_eq!(c.outcome.unknown.len(), 500, "chunk {chunk}");
            assert_eq!(
                c.outcome.error.as_deref(),
                Some(sentinel_console::actions::jobs::RESUMED_REASON)
            );
        } else {
            // Sent by B and answered: chunks 4 and 5 are Sentinel's lines, the others failures.
            assert!(
                c.outcome.error.is_none() && c.outcome.unknown.is_empty(),
                "chunk {chunk}: {c:?}"
            );
            let known = if (4..6).contains(&chunk) { 500 } else { 0 };
            assert_eq!(
                (c.outcome.updated, c.outcome.failed.len()),
                (known, 500 - known as usize),
                "chunk {chunk}"
            );
        }
    }
    assert!(db.job_started_unrecorded(*job_id).await.unwrap().is_empty());
    let audits = t.audits().await;
    assert_eq!(audits, 1, "the job's audit record, exactly once");

    // B's chunks really changed the lines Sentinel knows (chunks 4 and 5).
    let csv = browser
        .get_text("/devices/FLEET-LARGE/export.csv?columns=NICKNAME")
        .await;
    let relabelled = csv
        .lines()
        .skip(1)
        .filter(|l| *l == "Relabelled by job")
        .count();
    assert_eq!(relabelled, 1_000, "{csv:.300}");
}

/// The user signs out before B takes the job over: B sends nothing; the never-started chunks are
/// recorded unknown ("signed out; not sent"), the in-flight ones unknown as before, and the job
/// still ends with its one audit record.
#[tokio::test]
async fn job_of_a_user_who_signed_out_is_closed_by_b_without_sending() {
    use sentinel_console::actions::jobs::{RESUMED_REASON, SIGNED_OUT_REASON};
    let t = start_job_and_kill_a().await;
    let page = t.browser.get_text(&t.job_path).await;
    let csrf = extract_meta_csrf(&page).expect("csrf");
    let out = t
        .browser
        .post_form("/logout", &[("csrf_token", csrf.as_str())])
        .await;
    assert_eq!(out.status(), 303);

    let db = sentinel_console::storage::Db::connect(&t.db_url)
        .await
        .expect("db");
    let job = t.finished(&db).await;
    assert_eq!(job.done_chunks, 8);
    assert_eq!(t.writes().len(), 4, "B sent a change for a signed-out user");
    for c in db.job_chunks(t.job_id).await.unwrap() {
        let chunk = usize::try_from(c.chunk).unwrap();
        let reason = if t.by_a.contains(&chunk) {
            RESUMED_REASON
        } else {
            SIGNED_OUT_REASON
        };
        assert_eq!(c.outcome.error.as_deref(), Some(reason), "chunk {chunk}");
        assert_eq!(
            (c.outcome.updated, c.outcome.unknown.len()),
            (0, 500),
            "chunk {chunk}"
        );
    }
    assert_eq!(t.audits().await, 1);
}
