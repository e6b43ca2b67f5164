//! Audit log and job storage: the same suite on SQLite and on PostgreSQL.

use crate::helpers::*;

use std::time::Duration;

use futures::TryStreamExt;
use sentinel_console::outcome::ChangeResult;
use sentinel_console::outcome::{Outcome, WriteFailure};
use sentinel_console::storage::Db;
use sentinel_console::storage::audit::{
    AuditFilter, AuditRecord, NewAuditRecord, audit_csv_header, audit_csv_row, csv_cell,
};
use sentinel_console::storage::changes::{
    ChangeState, LineState, NewChangeSet, Origin, StreamedLine, UNRECORDED_LINE,
};
use sentinel_console::storage::jobs::{ChunkOutcome, JobState, NewJob};
use serde_json::json;
use time::{Duration as TimeDuration, OffsetDateTime};
use uuid::Uuid;

/// Runs each `async fn name(db: Db)` twice: `name::sqlite` and `name::postgres`, each on a fresh database.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let db = sentinel_console::storage::Db::connect(&crate::helpers::sqlite_url())
                    .await
                    .expect("sqlite");
                super::$name(db).await;
            }
            #[tokio::test]
            async fn postgres() {
                let db = sentinel_console::storage::Db::connect(&crate::helpers::postgres_url().await)
                    .await
                    .expect("postgres");
                super::$name(db).await;
            }
        }
    )*};
}

on_both!(
    audit_list_filters_pages_newest_first,
    audit_log_refuses_update_and_delete,
    audit_stream_all_pages_through_everything,
    audit_distinct_users_use_latest_name,
    job_lifecycle_with_lease_takeover,
    job_claim_next_finds_abandoned_job,
    job_claim_is_exclusive_under_contention,
    job_rejects_bad_chunk_and_bad_final_state,
    job_finish_audited_writes_the_record_once,
    job_chunk_started_marks_are_owned_and_once,
    a_streamed_change_set_settles_once_and_its_lines_read_the_result,
);

#[tokio::test]
async fn migrations_run_twice_sqlite() {
    let url = sqlite_url();
    Db::connect(&url).await.expect("first");
    let db = Db::connect(&url).await.expect("second");
    db.ping().await.expect("ping");
}

#[tokio::test]
async fn migrations_run_twice_postgres() {
    let url = postgres_url().await;
    Db::connect(&url).await.expect("first");
    let db = Db::connect(&url).await.expect("second");
    db.ping().await.expect("ping");
}

fn record(subject: &str, action: &str, corp: &str) -> NewAuditRecord {
    NewAuditRecord {
        request_id: Some(format!("req-{}", Uuid::new_v4())),
        client_request_id: None,
        via: None,
        event: None,
        subject: subject.into(),
        user_name: Some(format!("{subject} name")),
        roles: "org_tech".into(),
        corp_id: corp.into(),
        action: action.into(),
        selection: json!({"mdns": ["5551230001", "5551230002"]}),
        fields: json!({"nickname": "bus 12"}),
        line_count: 2,
        updated: 1,
        failed: 1,
        unknown: 0,
        outcome: ChangeResult::Partial,
        upstream_status: Some(200),
        result: json!({"failed": [{"mdn": "5551230002", "reason": "not found"}], "unknown": []}),
        job_id: None,
    }
}

fn filter() -> AuditFilter {
    AuditFilter::default()
}

async fn audit_list_filters_pages_newest_first(db: Db) {
    let empty = db.audit_list(&filter()).await.expect("list");
    assert_eq!(empty, (vec![], 0));

    let plan = [
        ("alice", "nickname", "CORP-A"),
        ("bob", "status", "CORP-A"),
        ("alice", "status", "CORP-B"),
        ("carol", "note", "CORP-B"),
        ("alice", "nickname", "CORP-A"),
    ];
    let mut ids = Vec::new();
    for (s, a, c) in plan {
        ids.push(db.audit_insert(&record(s, a, c)).await.expect("insert"));
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase: {ids:?}");

    // Everything, newest first, with every field round-tripped.
    let (all, total) = db.audit_list(&filter()).await.expect("list");
    assert_eq!(total, 5);
    assert_eq!(
        all.iter().map(|r| r.id).collect::<Vec<_>>(),
        ids.iter().rev().copied().collect::<Vec<_>>()
    );
    let newest = &all[0];
    let want = record("alice", "nickname", "CORP-A");
    assert_eq!(newest.subject, "alice");
    assert_eq!(newest.user_name.as_deref(), Some("alice name"));
    assert_eq!(newest.selection, want.selection);
    assert_eq!(newest.fields, want.fields);
    assert_eq!(newest.result, want.result);
    assert_eq!(
        (
            newest.line_count,
            newest.updated,
            newest.failed,
            newest.unknown
        ),
        (2, 1, 1, 0)
    );
    assert_eq!(newest.upstream_status, Some(200));
    assert_eq!(newest.outcome, "partial");
    assert!((OffsetDateTime::now_utc() - newest.at).abs() < TimeDuration::minutes(1));
    assert!(all.windows(2).all(|w| w[0].at >= w[1].at));

    let count = |f: AuditFilter| {
        let db = db.clone();
        async move { db.audit_list(&f).await.expect("list") }
    };
    // By user, action, corp, and combined.
    let (rows, total) = count(AuditFilter {
        subject: Some("alice".into()),
        ..filter()
    })
    .await;
    assert_eq!(total, 3);
    assert!(rows.iter().all(|r| r.subject == "alice"));
    let (_, total) = count(AuditFilter {
        action: Some("status".into()),
        ..filter()
    })
    .await;
    assert_eq!(total, 2);
    let (_, total) = count(AuditFilter {
        corp_id: Some("CORP-B".into()),
        ..filter()
    })
    .await;
    assert_eq!(total, 2);
    let (rows, total) = count(AuditFilter {
        subject: Some("alice".into()),
        action: Some("nickname".into()),
        corp_id: Some("CORP-A".into()),
        ..filter()
    })
    .await;
    assert_eq!(total, 2);
    assert_eq!(
        rows.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![ids[4], ids[0]]
    );
    // The reader's groups: several at once, narrowed further by one, none at all.
    let (_, total) = count(AuditFilter {
        corp_ids: Some(vec!["CORP-A".into(), "CORP-B".into()]),
        ..filter()
    })
    .await;
    assert_eq!(total, 5);
    let (rows, total) = count(AuditFilter {
        corp_ids: Some(vec!["CORP-B".into()]),
        subject: Some("alice".into()),
        ..filter()
    })
    .await;
    assert_eq!((total, rows.len()), (1, 1));
    let (_, total) = count(AuditFilter {
        corp_ids: Some(vec!["CORP-A".into()]),
        corp_id: Some("CORP-B".into()),
        ..filter()
    })
    .await;
    assert_eq!(total, 0, "one group asked outside the reader's: nothing");
    let (_, total) = count(AuditFilter {
        corp_ids: Some(vec![]),
        ..filter()
    })
    .await;
    assert_eq!(total, 0);
    // An empty filter value means "any".
    let (_, total) = count(AuditFilter {
        subject: Some(" ".into()),
        ..filter()
    })
    .await;
    assert_eq!(total, 5);
    let (_, total) = count(AuditFilter {
        subject: Some("nobody".into()),
        ..filter()
    })
    .await;
    assert_eq!(total, 0);

    // Dates: inclusive UTC days.
    let today = OffsetDateTime::now_utc().date();
    let yesterday = today.previous_day().expect("day");
    let tomorrow = today.next_day().expect("day");
    let (_, total) = count(AuditFilter {
        from: Some(today),
        to: Some(today),
        ..filter()
    })
    .await;
    assert_eq!(total, 5);
    let (_, total) = count(AuditFilter {
        from: Some(yesterday),
        ..filter()
    })
    .await;
    assert_eq!(total, 5);
    let (_, total) = count(AuditFilter {
        from: Some(tomorrow),
        ..filter()
    })
    .await;
    assert_eq!(total, 0);
    let (_, total) = count(AuditFilter {
        to: Some(yesterday),
        ..filter()
    })
    .await;
    assert_eq!(total, 0);
    let (_, total) = count(AuditFilter {
        to: Some(today),
        subject: Some("bob".into()),
        ..filter()
    })
    .await;
    assert_eq!(total, 1);

    // Paging: total stays the whole match, pages walk newest to oldest.
    let (page1, total) = count(AuditFilter {
        limit: 2,
        ..filter()
    })
    .await;
    let (page2, _) = count(AuditFilter {
        limit: 2,
        offset: 2,
        ..filter()
    })
    .await;
    let (page3, _) = count(AuditFilter {
        limit: 2,
        offset: 4,
        ..filter()
    })
    .await;
    let (page4, total4) = count(AuditFilter {
        limit: 2,
        offset: 6,
        ..filter()
    })
    .await;
    assert_eq!(total, 5);
    assert_eq!(total4, 5);
    let walked: Vec<i64> = [page1, page2, page3, page4]
        .concat()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(walked, ids.iter().rev().copied().collect::<Vec<_>>());
    // A zero limit still returns a page, never everything.
    let (rows, _) = count(AuditFilter {
        limit: 0,
        ..filter()
    })
    .await;
    assert_eq!(rows.len(), 1);
}

async fn audit_log_refuses_update_and_delete(db: Db) {
    let id = db
        .audit_insert(&record("alice", "status", "CORP-A"))
        .await
        .expect("insert");
    let update = "UPDATE audit_log SET outcome = 'ok' WHERE id = $1";
    let delete = "DELETE FROM audit_log WHERE id = $1";
    for sql in [update, delete] {
        let err = match &db {
            Db::Sqlite(p) => sqlx::query(sql).bind(id).execute(p).await.map(|_| ()),
            Db::Postgres(p) => sqlx::query(sql).bind(id).execute(p).await.map(|_| ()),
        };
        let err = err.err().unwrap_or_else(|| panic!("{sql} was allowed"));
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    if let Db::Postgres(p) = &db {
        let err = sqlx::query("TRUNCATE audit_log")
            .execute(p)
            .await
            .expect_err("truncate allowed");
        assert!(err.to_string().contains("append-only"), "{err}");
    }
    let (rows, total) = db.audit_list(&filter()).await.expect("list");
    assert_eq!(total, 1);
    assert_eq!(rows[0].outcome, "partial");
}

async fn audit_stream_all_pages_through_everything(db: Db) {
    // More than one internal page (500 rows) so the keyset paging is exercised.
    for i in 0..1_030 {
        let who = if i % 3 == 0 { "alice" } else { "bob" };
        db.audit_insert(&record(who, "status", "CORP-A"))
            .await
            .expect("insert");
    }
    let all: Vec<AuditRecord> = db
        .audit_stream_all(&AuditFilter {
            limit: 5,
            offset: 7,
            ..filter()
        })
        .await
        .try_collect()
        .await
        .expect("stream");
    assert_eq!(all.len(), 1_030, "offset/limit are ignored when streaming");
    assert!(
        all.windows(2).all(|w| w[0].id > w[1].id),
        "newest first, no repeats"
    );
    let alice: Vec<AuditRecord> = db
        .audit_stream_all(&AuditFilter {
            subject: Some("alice".into()),
            ..filter()
        })
        .await
        .try_collect()
        .await
        .expect("stream");
    assert_eq!(alice.len(), 344);
    assert!(alice.iter().all(|r| r.subject == "alice"));
    let none: Vec<AuditRecord> = db
        .audit_stream_all(&AuditFilter {
            subject: Some("nobody".into()),
            ..filter()
        })
        .await
        .try_collect()
        .await
        .expect("stream");
    assert!(none.is_empty());
}

async fn audit_distinct_users_use_latest_name(db: Db) {
    assert!(
        db.audit_distinct_users(None)
            .await
            .expect("users")
            .is_empty()
    );
    let mut r = record("u-2", "status", "CORP-A");
    r.user_name = Some("Old Name".into());
    db.audit_insert(&r).await.expect("insert");
    r.user_name = Some("zed".into());
    db.audit_insert(&r).await.expect("insert");
    let mut r = record("u-1", "status", "CORP-A");
    r.user_name = Some("Amy".into());
    db.audit_insert(&r).await.expect("insert");
    let mut r = record("u-3", "status", "CORP-A");
    r.user_name = None;
    db.audit_insert(&r).await.expect("insert");
    let users = db.audit_distinct_users(None).await.expect("users");
    assert_eq!(
        users,
        vec![
            ("u-1".to_string(), Some("Amy".to_string())),
            ("u-3".to_string(), None),
            ("u-2".to_string(), Some("zed".to_string())),
        ]
    );
}

#[test]
fn csv_quotes_and_defuses_formulas() {
    assert_eq!(csv_cell("plain"), "plain");
    assert_eq!(csv_cell(""), "");
    assert_eq!(csv_cell("a,b"), "\"a,b\"");
    assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
    assert_eq!(csv_cell("two\nlines"), "\"two\nlines\"");
    assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
    assert_eq!(csv_cell("+1"), "+1");
    assert_eq!(csv_cell("+1)"), "'+1)");
    // A plain number is data, not a formula (numeric columns stay numbers); anything else is guarded.
    assert_eq!(csv_cell("-2"), "-2");
    assert_eq!(csv_cell("-2+3"), "'-2+3");
    assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
    assert_eq!(csv_cell("\tx"), "'\tx");
    assert_eq!(csv_cell("\rx"), "\"'\rx\"");
    assert_eq!(csv_cell("a=b"), "a=b");

    let header = audit_csv_header();
    assert!(header.ends_with("\r\n"));
    let columns = header.trim_end().split(',').count();
    assert_eq!(columns, 21);

    let rec = AuditRecord {
        id: 7,
        at: time::macros::datetime!(2024-05-01 12:30:00 UTC),
        request_id: None,
        client_request_id: Some("=client".into()),
        subject: "=cmd|' /C calc'!A0".into(),
        user_name: Some("Smith, Jo".into()),
        roles: "org_tech org_super".into(),
        corp_id: "CORP-A".into(),
        action: "nickname".into(),
        selection: json!({"mdns": ["5551230001"]}),
        fields: json!({"nickname": "@evil"}),
        line_count: 1,
        updated: 1,
        failed: 0,
        unknown: 0,
        outcome: ChangeResult::Ok,
        upstream_status: Some(200),
        result: json!({"failed": [], "unknown": []}),
        job_id: None,
        via: Some("portal".into()),
        event: None,
    };
    let row = audit_csv_row(&rec);
    assert!(row.ends_with("\r\n"));
    assert_eq!(
        row,
        "7,2024-05-01T12:30:00Z,,'=cmd|' /C calc'!A0,\"Smith, Jo\",org_tech org_super,CORP-A,nickname,\
         \"{\"\"mdns\"\":[\"\"5551230001\"\"]}\",\"{\"\"nickname\"\":\"\"@evil\"\"}\",1,1,0,0,ok,200,\
         \"{\"\"failed\"\":[],\"\"unknown\"\":[]}\",,'=client,portal,\r\n"
    );
}

fn new_job(chunks: i32) -> NewJob {
    NewJob {
        sealed: None,
        id: Uuid::new_v4(),
        subject: "alice".into(),
        session_id: Some("session-1".into()),
        corp_id: "CORP-A".into(),
        action: "status".into(),
        payload: json!({"fields": {"status": "SUSPEND"}, "chunks": [["5551230001"], ["5551230002"]]}),
        total_chunks: chunks,
        total_lines: 2,
    }
}

fn outcome(chunk: i32, updated: u64) -> ChunkOutcome {
    let mut outcome = Outcome {
        updated,
        failed: vec![WriteFailure {
            mdn: "5551230009".into(),
            reason: "not found".into(),
        }],
        unknown: vec!["5551230010".into()],
        upstream_status: Some(200),
        error: None,
        ..Outcome::default()
    };
    // As read back: classified from its counts.
    outcome.outcome = outcome.classify();
    ChunkOutcome { chunk, outcome }
}

/// The sum of recorded chunks, as the audit entry gets it.
fn totals(chunks: &[ChunkOutcome]) -> Outcome {
    Outcome::sum(chunks.iter().map(|c| c.outcome.clone()))
}

const SHORT: Duration = Duration::from_secs(1);
const LONG: Duration = Duration::from_secs(60);

async fn job_lifecycle_with_lease_takeover(db: Db) {
    let new = new_job(2);
    db.job_create(&new).await.expect("create");
    assert!(db.job_get(Uuid::new_v4()).await.expect("get").is_none());
    let job = db.job_get(new.id).await.expect("get").expect("exists");
    assert_eq!(job.state, JobState::Queued);
    assert_eq!(
        (
            job.total_chunks,
            job.done_chunks,
            job.total_lines,
            job.attempts
        ),
        (2, 0, 2, 0)
    );
    assert_eq!(job.payload, new.payload);
    assert_eq!(job.session_id.as_deref(), Some("session-1"));
    assert_eq!((job.lease_owner.clone(), job.lease_until), (None, None));

    // A claims; B is refused while A's lease is live.
    let a = db
        .job_claim(new.id, "A", SHORT)
        .await
        .expect("claim")
        .expect("A claims");
    assert_eq!(a.state, JobState::Running);
    assert_eq!(a.lease_owner.as_deref(), Some("A"));
    assert_eq!(a.attempts, 1);
    assert!(a.lease_until.expect("lease") > OffsetDateTime::now_utc());
    assert!(
        db.job_claim(new.id, "B", SHORT)
            .await
            .expect("claim")
            .is_none()
    );
    // A re-claiming its own job renews, not counted as a new attempt.
    let again = db
        .job_claim(new.id, "A", SHORT)
        .await
        .expect("claim")
        .expect("renew");
    assert_eq!(again.attempts, 1);

    // A records chunk 0; recording it again changes nothing.
    assert!(
        db.job_record_chunk(new.id, "A", &outcome(0, 1))
            .await
            .expect("record")
    );
    assert!(
        db.job_record_chunk(new.id, "A", &outcome(0, 99))
            .await
            .expect("record again")
    );
    let job = db.job_get(new.id).await.expect("get").expect("exists");
    assert_eq!(job.done_chunks, 1);
    assert_eq!(
        db.job_chunks(new.id).await.expect("chunks"),
        vec![outcome(0, 1)]
    );

    // Only the owner may record, renew or finish.
    assert!(
        !db.job_record_chunk(new.id, "B", &outcome(1, 1))
            .await
            .expect("record")
    );
    assert!(!db.job_renew_lease(new.id, "B", SHORT).await.expect("renew"));
    assert!(
        !db.job_finish(new.id, "B", JobState::Done, &json!({}))
            .await
            .expect("finish")
    );
    assert_eq!(
        db.job_get(new.id)
            .await
            .expect("get")
            .expect("exists")
            .done_chunks,
        1
    );

    // A dies: once its lease expires, B takes over and sees A's chunk.
    tokio::time::sleep(SHORT + Duration::from_millis(200)).await;
    let b = db
        .job_claim(new.id, "B", LONG)
        .await
        .expect("claim")
        .expect("B claims");
    assert_eq!(b.lease_owner.as_deref(), Some("B"));
    assert_eq!(b.attempts, 2);
    assert_eq!(b.done_chunks, 1);
    assert_eq!(
        db.job_chunks(new.id).await.expect("chunks"),
        vec![outcome(0, 1)]
    );
    // A, back from the dead, has lost it.
    assert!(!db.job_renew_lease(new.id, "A", SHORT).await.expect("renew"));
    assert!(
        !db.job_record_chunk(new.id, "A", &outcome(1, 5))
            .await
            .expect("record")
    );
    assert!(db.job_renew_lease(new.id, "B", LONG).await.expect("renew"));

    assert!(
        db.job_record_chunk(new.id, "B", &outcome(1, 0))
            .await
            .expect("record")
    );
    let chunks = db.job_chunks(new.id).await.expect("chunks");
    assert_eq!(chunks, vec![outcome(0, 1), outcome(1, 0)]);
    let totals = totals(&chunks);
    assert_eq!(
        (totals.updated, totals.failed.len(), totals.unknown.len()),
        (1, 2, 2)
    );
    assert_eq!(totals.outcome, ChangeResult::Partial);
    assert_eq!(
        totals.audit_result()["failed"][0],
        json!({"mdn": "5551230009", "reason": "not found"})
    );

    let result = json!({"updated": totals.updated});
    assert!(
        db.job_finish(new.id, "B", JobState::Done, &result)
            .await
            .expect("finish")
    );
    let job = db.job_get(new.id).await.expect("get").expect("exists");
    assert_eq!(job.state, JobState::Done);
    assert_eq!(job.done_chunks, 2);
    assert_eq!(job.result, result);
    assert_eq!(job.lease_until, None);
    assert!(job.updated_at >= job.created_at);

    // Finished: nobody can claim, record, renew or finish it again.
    assert!(
        db.job_claim(new.id, "B", LONG)
            .await
            .expect("claim")
            .is_none()
    );
    assert!(db.job_claim_next("C", LONG).await.expect("claim").is_none());
    assert!(
        !db.job_record_chunk(new.id, "B", &outcome(1, 0))
            .await
            .expect("record")
    );
    assert!(!db.job_renew_lease(new.id, "B", LONG).await.expect("renew"));
    assert!(
        !db.job_finish(new.id, "B", JobState::Failed, &json!({}))
            .await
            .expect("finish")
    );
    assert_eq!(
        db.job_get(new.id)
            .await
            .expect("get")
            .expect("exists")
            .state,
        JobState::Done
    );
}

async fn job_claim_next_finds_abandoned_job(db: Db) {
    assert!(db.job_claim_next("B", LONG).await.expect("claim").is_none());
    let first = new_job(1);
    db.job_create(&first).await.expect("create");
    tokio::time::sleep(Duration::from_millis(5)).await;
    let second = new_job(1);
    db.job_create(&second).await.expect("create");

    // A runs the first job; B's sweep picks the queued second one, then finds nothing.
    db.job_claim(first.id, "A", SHORT)
        .await
        .expect("claim")
        .expect("A claims");
    let got = db
        .job_claim_next("B", LONG)
        .await
        .expect("claim")
        .expect("queued job");
    assert_eq!(got.id, second.id);
    assert!(db.job_claim_next("B", LONG).await.expect("claim").is_none());
    assert!(db.job_claim_next("C", LONG).await.expect("claim").is_none());

    // A dies; after its lease, C's sweep resumes the first job.
    tokio::time::sleep(SHORT + Duration::from_millis(200)).await;
    let got = db
        .job_claim_next("C", LONG)
        .await
        .expect("claim")
        .expect("abandoned job");
    assert_eq!(got.id, first.id);
    assert_eq!(got.lease_owner.as_deref(), Some("C"));
    assert_eq!(got.state, JobState::Running);
    assert_eq!(got.attempts, 2);
    assert!(db.job_claim_next("D", LONG).await.expect("claim").is_none());
}

async fn job_claim_is_exclusive_under_contention(db: Db) {
    let new = new_job(1);
    db.job_create(&new).await.expect("create");
    let mut tasks = Vec::new();
    for i in 0..8 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let owner = format!("instance-{i}");
            if i % 2 == 0 {
                db.job_claim(new.id, &owner, LONG).await
            } else {
                db.job_claim_next(&owner, LONG).await
            }
        }));
    }
    let mut winners = 0;
    for t in tasks {
        if t.await.expect("task").expect("claim").is_some() {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
    assert_eq!(
        db.job_get(new.id)
            .await
            .expect("get")
            .expect("exists")
            .attempts,
        1
    );
}

async fn job_rejects_bad_chunk_and_bad_final_state(db: Db) {
    let new = new_job(2);
    db.job_create(&new).await.expect("create");
    // Not claimed yet: nobody owns it.
    assert!(
        !db.job_record_chunk(new.id, "A", &outcome(0, 1))
            .await
            .expect("record")
    );
    db.job_claim(new.id, "A", LONG)
        .await
        .expect("claim")
        .expect("claimed");
    for chunk in [-1, 2] {
        let err = db.job_record_chunk(new.id, "A", &outcome(chunk, 1)).await;
        assert!(
            matches!(err, Err(sqlx::Error::InvalidArgument(_))),
            "chunk {chunk}: {err:?}"
        );
    }
    assert!(db.job_chunks(new.id).await.expect("chunks").is_empty());
    for state in [JobState::Queued, JobState::Running] {
        let err = db.job_finish(new.id, "A", state, &json!({})).await;
        assert!(
            matches!(err, Err(sqlx::Error::InvalidArgument(_))),
            "{state}: {err:?}"
        );
    }
    assert!(
        db.job_finish(new.id, "A", JobState::Failed, &json!({"error": "x"}))
            .await
            .expect("finish")
    );
    let job = db.job_get(new.id).await.expect("get").expect("exists");
    assert_eq!(job.state, JobState::Failed);
    assert_eq!(job.done_chunks, 0);
}

async fn job_finish_audited_writes_the_record_once(db: Db) {
    let new = new_job(1);
    db.job_create(&new).await.expect("create");
    db.job_claim(new.id, "A", LONG)
        .await
        .expect("claim")
        .expect("claimed");
    assert!(
        db.job_record_chunk(new.id, "A", &outcome(0, 1))
            .await
            .expect("record")
    );
    let totals = totals(&db.job_chunks(new.id).await.expect("chunks"));
    let mut rec = record("alice", "status", "CORP-A");
    rec.job_id = Some(new.id.to_string());
    rec.result = totals.audit_result();
    (rec.updated, rec.failed, rec.unknown) = (
        totals.updated as i64,
        totals.failed.len() as i64,
        totals.unknown.len() as i64,
    );

    // Not the owner: neither finished nor audited.
    let none = db
        .job_finish_audited(new.id, "B", JobState::Done, &json!({}), &rec)
        .await
        .expect("finish");
    assert_eq!(none, None);
    assert_eq!(db.audit_list(&filter()).await.expect("list").1, 0);

    let audit_id = db
        .job_finish_audited(new.id, "A", JobState::Done, &json!({"ok": true}), &rec)
        .await
        .expect("finish")
        .expect("finished");
    let again = db
        .job_finish_audited(new.id, "A", JobState::Done, &json!({}), &rec)
        .await
        .expect("finish");
    assert_eq!(again, None);
    let (rows, total) = db.audit_list(&filter()).await.expect("list");
    assert_eq!(total, 1);
    assert_eq!(rows[0].id, audit_id);
    assert_eq!(rows[0].job_id, Some(new.id.to_string()));
    assert_eq!(rows[0].result, totals.audit_result());
    assert_eq!(
        db.job_get(new.id)
            .await
            .expect("get")
            .expect("exists")
            .state,
        JobState::Done
    );
}

async fn job_chunk_started_marks_are_owned_and_once(db: Db) {
    let new = new_job(3);
    db.job_create(&new).await.expect("create");
    // Not claimed yet: nobody may start a chunk.
    assert!(
        !db.job_mark_chunk_started(new.id, "A", 0)
            .await
            .expect("mark")
    );
    db.job_claim(new.id, "A", SHORT)
        .await
        .expect("claim")
        .expect("claimed");
    for chunk in [-1, 3] {
        let err = db.job_mark_chunk_started(new.id, "A", chunk).await;
        assert!(
            matches!(err, Err(sqlx::Error::InvalidArgument(_))),
            "chunk {chunk}: {err:?}"
        );
    }
    // Only the lease owner, and only once per chunk.
    assert!(
        !db.job_mark_chunk_started(new.id, "B", 0)
            .await
            .expect("mark")
    );
    assert!(
        db.job_mark_chunk_started(new.id, "A", 0)
            .await
            .expect("mark")
    );
    assert!(
        !db.job_mark_chunk_started(new.id, "A", 0)
            .await
            .expect("mark")
    );
    assert!(
        db.job_mark_chunk_started(new.id, "A", 1)
            .await
            .expect("mark")
    );
    assert_eq!(
        db.job_started_unrecorded(new.id).await.expect("started"),
        vec![0, 1]
    );
    assert!(
        db.job_record_chunk(new.id, "A", &outcome(0, 1))
            .await
            .expect("record")
    );
    assert_eq!(
        db.job_started_unrecorded(new.id).await.expect("started"),
        vec![1]
    );

    // A dies; B takes over: chunk 1 stays started (never startable again), chunk 2 is B's to run.
    tokio::time::sleep(SHORT + Duration::from_millis(100)).await;
    db.job_claim(new.id, "B", LONG)
        .await
        .expect("claim")
        .expect("taken over");
    assert!(
        !db.job_mark_chunk_started(new.id, "A", 2)
            .await
            .expect("mark")
    );
    assert!(
        !db.job_mark_chunk_started(new.id, "B", 1)
            .await
            .expect("mark")
    );
    assert!(
        db.job_mark_chunk_started(new.id, "B", 2)
            .await
            .expect("mark")
    );
    assert_eq!(
        db.job_started_unrecorded(new.id).await.expect("started"),
        vec![1, 2]
    );
    // Another job's marks are its own.
    assert!(
        db.job_started_unrecorded(Uuid::new_v4())
            .await
            .expect("started")
            .is_empty()
    );
    assert!(
        db.job_finish(new.id, "B", JobState::Done, &json!({}))
            .await
            .expect("finish")
    );
    assert!(
        !db.job_mark_chunk_started(new.id, "B", 0)
            .await
            .expect("mark")
    );
}

fn streamed_set(id: Uuid) -> NewChangeSet {
    NewChangeSet {
        id,
        subject: "sub-1".into(),
        user_name: Some("Tech".into()),
        corp_id: "FLEET-LARGE".into(),
        action: "note".into(),
        fields: json!({ "note": "Audited" }),
        summary: "Note → Audited".into(),
        selection: json!({ "selectAll": true }),
        selection_text: "all lines".into(),
        parent_id: None,
        origin: Origin::Change,
        waiting: None,
    }
}

/// A new streamed change set holding `lines` as lines `0..`, each to become "Audited".
async fn streamed_with(db: &Db, lines: &[StreamedLine]) -> Uuid {
    let id = Uuid::new_v4();
    db.change_create(&streamed_set(id), &[], None)
        .await
        .expect("create");
    db.change_append_lines(id, 0, Some("Audited"), lines)
        .await
        .expect("lines");
    id
}

/// A select-all's result is recorded once on the change set; every reader of its lines (pages,
/// filters, the stream behind lines.csv, retry and revert) sees each line's own outcome, and
/// finishing turns none of them unknown.
async fn a_streamed_change_set_settles_once_and_its_lines_read_the_result(db: Db) {
    let id = Uuid::new_v4();
    db.change_create(&streamed_set(id), &[], None)
        .await
        .expect("create");
    let line = |i: usize| StreamedLine {
        mdn: format!("521-{i:07}"),
        before: Some(format!("before {i}")),
    };
    let first: Vec<StreamedLine> = (0..1_500).map(line).collect();
    let second: Vec<StreamedLine> = (1_500..2_500).map(line).collect();
    let after = Some("Audited");
    db.change_append_lines(id, 0, after, &first)
        .await
        .expect("block 1");
    db.change_append_lines(id, 1_500, after, &second)
        .await
        .expect("block 2");
    let failed = vec![
        ("521-0000007".to_owned(), "Locked line".to_owned()),
        ("521-0002001".to_owned(), "Locked line".to_owned()),
        ("521-0002002".to_owned(), "Not in this group".to_owned()),
    ];
    db.change_settle_all(id, &failed, LineState::Changed, None)
        .await
        .expect("settle");
    // A second settlement (a retried write whose first commit did land) changes nothing.
    db.change_settle_all(id, &[], LineState::Unknown, Some("again"))
        .await
        .expect("settle again");
    db.change_finish(id, None, None).await.expect("finish");
    let c = db.change_get(id).await.expect("get").expect("stored");
    assert_eq!(
        (c.total_lines, c.changed, c.failed, c.unknown),
        (2_500, 2_497, 3, 0),
        "{c:?}"
    );
    assert_eq!(c.state, ChangeState::DoneWithFailures);

    let failed_page = db
        .change_lines_page(id, Some(LineState::Failed), 0, 100)
        .await
        .expect("failed page");
    let seen: Vec<(i32, &str, Option<&str>)> = failed_page
        .iter()
        .map(|l| (l.seq, l.mdn.as_str(), l.message.as_deref()))
        .collect();
    assert_eq!(
        seen,
        [
            (7, "521-0000007", Some("Locked line")),
            (2_001, "521-0002001", Some("Locked line")),
            (2_002, "521-0002002", Some("Not in this group")),
        ]
    );
    let changed = db
        .change_lines_page(id, Some(LineState::Changed), 1_990, 20)
        .await
        .expect("changed page");
    assert_eq!(changed.len(), 20);
    assert!(
        changed
            .iter()
            .all(|l| l.outcome == LineState::Changed && l.message.is_none())
    );
    assert_eq!(changed[0].seq, 1_991, "changed lines skip the failed ones");
    for state in [LineState::Pending, LineState::Unknown] {
        let none = db
            .change_lines_page(id, Some(state), 0, 10)
            .await
            .expect("page");
        assert!(none.is_empty(), "{state:?}: {none:?}");
    }
    let all: Vec<_> = db
        .change_lines_stream(id)
        .try_concat()
        .await
        .expect("stream");
    assert_eq!(all.len(), 2_500);
    assert_eq!(
        all.iter()
            .filter(|l| l.outcome == LineState::Changed)
            .count(),
        2_497
    );
    assert_eq!(all[2_499].before_value.as_deref(), Some("before 2499"));
    assert!(all.iter().enumerate().all(|(i, l)| l.seq == i as i32));
    assert!(
        all.iter()
            .all(|l| l.after_value.as_deref() == Some("Audited"))
    );
    assert_eq!(all[2_001].outcome, LineState::Failed);
    // A page across the two blocks, unfiltered.
    let across = db
        .change_lines_page(id, None, 1_495, 10)
        .await
        .expect("page");
    let seqs: Vec<i32> = across.iter().map(|l| l.seq).collect();
    assert_eq!(seqs, (1_495..1_505).collect::<Vec<_>>());

    // An answer that never came: every line unknown with the change set's note, and finishing
    // keeps that note rather than its own.
    let lost = streamed_with(&db, &first[..10]).await;
    db.change_settle_all(lost, &[], LineState::Unknown, Some("No answer came."))
        .await
        .expect("settle");
    db.change_finish(lost, None, None).await.expect("finish");
    let c = db.change_get(lost).await.expect("get").expect("stored");
    assert_eq!((c.changed, c.failed, c.unknown), (0, 0, 10), "{c:?}");
    let lines = db
        .change_lines_page(lost, Some(LineState::Unknown), 0, 100)
        .await
        .expect("page");
    assert_eq!(lines.len(), 10);
    assert!(
        lines
            .iter()
            .all(|l| l.message.as_deref() == Some("No answer came."))
    );
    assert!(
        lines
            .iter()
            .all(|l| l.message.as_deref() != Some(UNRECORDED_LINE))
    );

    // Stored but never settled (the instance stopped before the call's answer was recorded):
    // finishing makes every line unknown, as it does a pending row.
    let stopped = streamed_with(&db, &first[..25]).await;
    db.change_finish(stopped, None, None).await.expect("finish");
    let c = db.change_get(stopped).await.expect("get").expect("stored");
    assert_eq!(
        (c.total_lines, c.changed, c.failed, c.unknown),
        (25, 0, 0, 25),
        "{c:?}"
    );
    assert_eq!(c.state, ChangeState::Failed);
    let lines = db
        .change_lines_page(stopped, Some(LineState::Unknown), 0, 100)
        .await
        .expect("page");
    assert_eq!(lines.len(), 25);
    assert!(
        lines
            .iter()
            .all(|l| l.message.as_deref() == Some(UNRECORDED_LINE))
    );
}
