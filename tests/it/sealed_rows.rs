//! Sealed values bound to their rows (issue 22, finding 8): a sealed grant or session copied to
//! another row does not open there; values of the first format are sealed again at start-up;
//! a console with another key refuses to start on a PostgreSQL database the others use.

use base64::Engine;
use sentinel_console::crypto::Row;
use sentinel_console::identity::grant;
use sentinel_console::startup::Application;
use sentinel_console::storage::Db;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tower_sessions::session::Record;
use uuid::Uuid;

use crate::helpers::*;

const CORP: &str = "NORTHSTAR-ISD";
const LIST: &str = "/devices/NORTHSTAR-ISD";

/// The sessions table of each backend (tower-sessions' sqlx stores).
fn sessions_table(db: &Db) -> &'static str {
    match db {
        Db::Sqlite(_) => "tower_sessions",
        Db::Postgres(_) => r#""tower_sessions"."session""#,
    }
}

/// Runs `sql` with text binds on either backend.
async fn exec(db: &Db, sql: &str, binds: &[&str]) {
    match db {
        Db::Sqlite(p) => {
            let mut q = sqlx::query(sql);
            for b in binds {
                q = q.bind(*b);
            }
            q.execute(p).await.expect("sql");
        }
        Db::Postgres(p) => {
            let mut q = sqlx::query(sql);
            for b in binds {
                q = q.bind(*b);
            }
            q.execute(p).await.expect("sql");
        }
    }
}

async fn grant_rows(db: &Db) -> Vec<(String, String)> {
    let sql = "SELECT id, sealed FROM grants";
    match db {
        Db::Sqlite(p) => sqlx::query_as(sql).fetch_all(p).await,
        Db::Postgres(p) => sqlx::query_as(sql).fetch_all(p).await,
    }
    .expect("grants")
}

async fn session_row(db: &Db, id: &str) -> Vec<u8> {
    let sql = format!("SELECT data FROM {} WHERE id = $1", sessions_table(db));
    match db {
        Db::Sqlite(p) => sqlx::query_scalar(&sql).bind(id).fetch_one(p).await,
        Db::Postgres(p) => sqlx::query_scalar(&sql).bind(id).fetch_one(p).await,
    }
    .expect("session row")
}

async fn set_session_row(db: &Db, id: &str, data: Vec<u8>) {
    let sql = format!("UPDATE {} SET data = $1 WHERE id = $2", sessions_table(db));
    match db {
        Db::Sqlite(p) => sqlx::query(&sql)
            .bind(data)
            .bind(id)
            .execute(p)
            .await
            .map(|_| ()),
        Db::Postgres(p) => sqlx::query(&sql)
            .bind(data)
            .bind(id)
            .execute(p)
            .await
            .map(|_| ()),
    }
    .expect("update session");
}

/// The session id a browser's cookie carries.
fn session_id(s: &Session) -> String {
    s.cookie_header()
        .split("; ")
        .find_map(|c| c.strip_prefix("sentinel_session="))
        .expect("session cookie")
        .to_owned()
}

/// The status of the device list for a browser whose session cookie names `id` (303: to sign in).
async fn list_with_session(app: &TestApp, id: &str) -> u16 {
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.url(LIST))
        .header("cookie", format!("sentinel_session={id}"))
        .send()
        .await
        .unwrap();
    if r.status().is_redirection() {
        assert!(location(&r).starts_with("/login"), "{}", location(&r));
    }
    r.status().as_u16()
}

/// Signs `user` in and schedules a status change an hour ahead: the session and its grant.
async fn signed_in_with_a_grant(app: &TestApp, user: &str) -> Session {
    let s = app.session_as(user).await;
    let mdns = list_mdns(&s.get_text(LIST).await);
    let at = (OffsetDateTime::now_utc() + time::Duration::hours(1))
        .format(&Rfc3339)
        .expect("time");
    let csrf = s.csrf().await;
    let form = [
        ("mdns", mdns[0].as_str()),
        ("status", "SUSPENDED"),
        ("when", "later"),
        ("run_at", &at),
        ("confirmed", "true"),
        ("acknowledged", "true"),
    ];
    let r = s.post_action(CORP, "status", &form, &csrf).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap_or_default());
    s
}

async fn copies_do_not_open(database_url: String) {
    let sim = spawn_sim(default_sim_config()).await;
    let app = spawn_console(sim.clone(), config_for(&sim, &database_url)).await;
    let tech = signed_in_with_a_grant(&app, "tech").await;
    let db = &app.state.db;
    let rows = grant_rows(db).await;
    let (id, sealed) = rows.first().expect("a grant").clone();
    assert!(sealed.starts_with("v2."), "{sealed}");
    // The same sealed text under another grant's id.
    let copy = Uuid::new_v4();
    exec(
        db,
        "INSERT INTO grants (id, subject, created_at, updated_at, sealed, generation) \
         SELECT $1, subject, created_at, updated_at, sealed, generation FROM grants WHERE id = $2",
        &[copy.to_string().as_str(), id.as_str()],
    )
    .await;
    let original = Uuid::parse_str(&id).unwrap();
    assert!(
        grant::current(&app.state, original)
            .await
            .unwrap()
            .is_some()
    );
    assert!(grant::current(&app.state, copy).await.unwrap().is_none());

    // A session record copied under another id: that id is signed out.
    let sid = session_id(&tech);
    let other_id = format!(
        "{}{}",
        if sid.starts_with('A') { "B" } else { "A" },
        &sid[1..]
    );
    let table = sessions_table(db);
    exec(
        db,
        &format!(
            "INSERT INTO {table} (id, data, expiry_date) SELECT $1, data, expiry_date FROM {table} WHERE id = $2"
        ),
        &[other_id.as_str(), sid.as_str()],
    )
    .await;
    assert_eq!(list_with_session(&app, &other_id).await, 303);
    assert_eq!(list_with_session(&app, &sid).await, 200);
}

#[tokio::test]
async fn a_sealed_value_copied_to_another_row_does_not_open_sqlite() {
    copies_do_not_open(sqlite_url()).await;
}

#[tokio::test]
async fn a_sealed_value_copied_to_another_row_does_not_open_postgres() {
    copies_do_not_open(postgres_url().await).await;
}

#[tokio::test]
async fn values_of_the_first_format_are_sealed_again_for_their_rows_at_start() {
    let database_url = sqlite_url();
    let sim = spawn_sim(default_sim_config()).await;
    let mut cfg = config_for(&sim, &database_url);
    let key = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);
    cfg.token_encryption_key = Some(key.clone().into());
    let app = spawn_console(sim.clone(), cfg).await;
    let tech = signed_in_with_a_grant(&app, "tech").await;
    let cipher = &app.state.auth.cipher;
    let db = &app.state.db;
    // Rewrite both as a version before row binding would have stored them.
    let (gid, sealed) = grant_rows(db).await.remove(0);
    let plain = cipher
        .open(&sealed, Row::Grant(Uuid::parse_str(&gid).unwrap()))
        .unwrap();
    let legacy = cipher.seal_legacy(&plain);
    exec(
        db,
        "UPDATE grants SET sealed = $1 WHERE id = $2",
        &[legacy.as_str(), gid.as_str()],
    )
    .await;
    let sid = session_id(&tech);
    let mut record: Record = rmp_serde::from_slice(&session_row(db, &sid).await).unwrap();
    let serde_json::Value::String(s) = &record.data["sealed"] else {
        panic!("not sealed")
    };
    let plain = cipher.open(s, Row::Session(&sid)).unwrap();
    record.data.insert(
        "sealed".into(),
        serde_json::Value::String(cipher.seal_legacy(&plain)),
    );
    set_session_row(db, &sid, rmp_serde::to_vec(&record).unwrap()).await;
    assert_eq!(
        list_with_session(&app, &sid).await,
        303,
        "a first-format value reads as signed out until it is sealed again"
    );

    // The next start (same key, same database) seals them again for their rows.
    let mut cfg = config_for(&sim, &database_url);
    cfg.token_encryption_key = Some(key.into());
    let next = spawn_console(sim, cfg).await;
    let (_, resealed) = grant_rows(db).await.remove(0);
    assert!(resealed.starts_with("v2."), "{resealed}");
    assert!(
        grant::current(&next.state, Uuid::parse_str(&gid).unwrap())
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(list_with_session(&next, &sid).await, 200);
}

#[tokio::test]
async fn a_console_with_another_key_refuses_to_start_on_the_same_postgres_database() {
    let database_url = postgres_url().await;
    let b64 = |b: u8| base64::engine::general_purpose::STANDARD.encode([b; 32]);
    let sim = spawn_sim(default_sim_config()).await;
    let mut cfg = config_for(&sim, &database_url);
    cfg.token_encryption_key = Some(b64(1).into());
    let first = spawn_console(sim.clone(), cfg).await;
    first.sign_in("tech").await;
    let mut cfg = config_for(&sim, &database_url);
    cfg.token_encryption_key = Some(b64(2).into());
    let err = match Application::build(cfg).await {
        Ok(_) => panic!("a second key started on the same database"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.contains(
            "TOKEN_ENCRYPTION_KEY does not match the key this database was first used with"
        ),
        "{err}"
    );
    // The same key starts, and shares the sessions.
    let mut cfg = config_for(&sim, &database_url);
    cfg.token_encryption_key = Some(b64(1).into());
    let second = spawn_console(sim, cfg).await;
    assert_eq!(first.at(&second.base).get(LIST).await.status(), 200);
}
