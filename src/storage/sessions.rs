//! The session store over either database (tower-sessions' sqlx stores behind one type), its
//! data sealed with the [`TokenCipher`] for its row (tokens, PKCE verifiers and CSRF tokens never
//! at rest in clear, and a record copied under another id does not open).

use std::collections::HashMap;

use async_trait::async_trait;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

use super::Db;
use crate::crypto::{Row, TokenCipher};

/// The one key of a sealed record's data: the whole data map, as JSON, encrypted.
const SEALED_KEY: &str = "sealed";

/// Either sqlx session store.
#[derive(Clone, Debug)]
enum Inner {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

/// The session store: either sqlx store, every record's data encrypted.
#[derive(Clone, Debug)]
pub struct AnyStore {
    inner: Inner,
    cipher: TokenCipher,
    db: Db,
}

impl AnyStore {
    /// Builds the store for `db` and creates its table when missing.
    pub async fn new(db: &Db, cipher: TokenCipher) -> Result<Self, sqlx::Error> {
        let inner = match db {
            Db::Sqlite(p) => {
                let s = SqliteStore::new(p.clone());
                s.migrate().await?;
                Inner::Sqlite(s)
            }
            Db::Postgres(p) => {
                let s = PostgresStore::new(p.clone());
                s.migrate().await?;
                Inner::Postgres(s)
            }
        };
        Ok(Self {
            inner,
            cipher,
            db: db.clone(),
        })
    }

    /// The record as stored: its data replaced by one value sealed for its id.
    fn seal(&self, record: &Record) -> session_store::Result<Record> {
        let json = serde_json::to_string(&record.data)
            .map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let mut data = HashMap::new();
        let id = record.id.to_string();
        data.insert(
            SEALED_KEY.to_owned(),
            serde_json::Value::String(self.cipher.seal(&json, Row::Session(&id))),
        );
        Ok(Record {
            id: record.id,
            data,
            expiry_date: record.expiry_date,
        })
    }

    /// The record stored under `id` as the application sees it; `None` when it cannot be opened
    /// (another key, damaged, sealed for another id, or written in clear by an older version):
    /// such a session counts as signed out.
    fn open(&self, mut record: Record, id: &Id) -> Option<Record> {
        let sealed = match record.data.get(SEALED_KEY) {
            Some(serde_json::Value::String(s)) if record.data.len() == 1 => s,
            _ => {
                tracing::warn!("session record not sealed; treating it as signed out");
                return None;
            }
        };
        let data = self
            .cipher
            .open(sealed, Row::Session(&id.to_string()))
            .ok()
            .and_then(|json| serde_json::from_str(&json).ok());
        match data {
            Some(d) => {
                record.data = d;
                Some(record)
            }
            None => {
                tracing::warn!(
                    "session record cannot be decrypted (another key, or sealed for another row); treating it as signed out"
                );
                None
            }
        }
    }

    /// Deletes the expired sessions and returns them opened (for revoking their tokens).
    pub async fn take_expired(&self) -> session_store::Result<Vec<Record>> {
        let sqlx_err = |e: sqlx::Error| session_store::Error::Backend(e.to_string());
        // The sqlx stores' own tables and expiry conditions (tower-sessions-sqlx-store 0.15).
        let rows: Vec<(String, Vec<u8>)> = match &self.db {
            Db::Sqlite(p) => sqlx::query_as(
                "select id, data from tower_sessions \
                 where datetime(expiry_date) < datetime('now') limit 500",
            )
            .fetch_all(p)
            .await
            .map_err(sqlx_err)?,
            Db::Postgres(p) => sqlx::query_as(
                r#"select id, data from "tower_sessions"."session"
                   where expiry_date < (now() at time zone 'utc') limit 500"#,
            )
            .fetch_all(p)
            .await
            .map_err(sqlx_err)?,
        };
        let mut out = Vec::with_capacity(rows.len());
        for (id, data) in rows {
            let Ok(id) = id.parse::<Id>() else {
                continue;
            };
            self.delete(&id).await?;
            if let Some(r) = rmp_serde::from_slice::<Record>(&data)
                .ok()
                .and_then(|r| self.open(r, &id))
            {
                out.push(r);
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl SessionStore for AnyStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let mut sealed = self.seal(record)?;
        match &self.inner {
            Inner::Sqlite(s) => s.create(&mut sealed).await?,
            Inner::Postgres(s) => s.create(&mut sealed).await?,
        }
        if sealed.id != record.id {
            // The store picked another id (a collision): seal for that one.
            record.id = sealed.id;
            self.save(record).await?;
        }
        Ok(())
    }
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let sealed = self.seal(record)?;
        match &self.inner {
            Inner::Sqlite(s) => s.save(&sealed).await,
            Inner::Postgres(s) => s.save(&sealed).await,
        }
    }
    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let r = match &self.inner {
            Inner::Sqlite(s) => s.load(id).await?,
            Inner::Postgres(s) => s.load(id).await?,
        };
        Ok(r.and_then(|r| self.open(r, id)))
    }
    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match &self.inner {
            Inner::Sqlite(s) => s.delete(id).await,
            Inner::Postgres(s) => s.delete(id).await,
        }
    }
}

#[async_trait]
impl ExpiredDeletion for AnyStore {
    async fn delete_expired(&self) -> session_store::Result<()> {
        match &self.inner {
            Inner::Sqlite(s) => s.delete_expired().await,
            Inner::Postgres(s) => s.delete_expired().await,
        }
    }
}

impl Db {
    /// Unexpired records in tower-sessions' table (`/metrics`).
    pub async fn count_active_sessions(&self) -> Result<i64, sqlx::Error> {
        match self {
            Db::Sqlite(p) => {
                // Compared as the store writes it (sqlx's encoding of the time).
                sqlx::query_scalar("SELECT COUNT(*) FROM tower_sessions WHERE expiry_date > ?")
                    .bind(time::OffsetDateTime::now_utc())
                    .fetch_one(p)
                    .await
            }
            Db::Postgres(p) => {
                sqlx::query_scalar(
                    r#"SELECT COUNT(*) FROM "tower_sessions"."session" WHERE expiry_date > $1"#,
                )
                .bind(time::OffsetDateTime::now_utc())
                .fetch_one(p)
                .await
            }
        }
    }
}

impl AnyStore {
    /// Seals again, for their own id, the records sealed in the first format (bound to no row);
    /// how many. A record that does not open with this key is left as it is (it reads as signed
    /// out). Each is replaced only if unchanged meanwhile.
    pub async fn reseal_legacy(&self) -> Result<usize, sqlx::Error> {
        let rows: Vec<(String, Vec<u8>)> = match &self.db {
            Db::Sqlite(p) => {
                sqlx::query_as("select id, data from tower_sessions")
                    .fetch_all(p)
                    .await?
            }
            Db::Postgres(p) => {
                sqlx::query_as(r#"select id, data from "tower_sessions"."session""#)
                    .fetch_all(p)
                    .await?
            }
        };
        let mut done = 0;
        for (id, old) in rows {
            let Some(new) = self.resealed(&id, &old) else {
                continue;
            };
            let n = match &self.db {
                Db::Sqlite(p) => {
                    sqlx::query("update tower_sessions set data = $1 where id = $2 and data = $3")
                        .bind(&new)
                        .bind(&id)
                        .bind(&old)
                        .execute(p)
                        .await?
                        .rows_affected()
                }
                Db::Postgres(p) => sqlx::query(
                    r#"update "tower_sessions"."session" set data = $1 where id = $2 and data = $3"#,
                )
                .bind(&new)
                .bind(&id)
                .bind(&old)
                .execute(p)
                .await?
                .rows_affected(),
            };
            done += n as usize;
        }
        Ok(done)
    }

    /// A stored record (`data`, under `id`) in the first format, sealed again for `id`.
    fn resealed(&self, id: &str, data: &[u8]) -> Option<Vec<u8>> {
        let mut record = rmp_serde::from_slice::<Record>(data).ok()?;
        let serde_json::Value::String(legacy) = record.data.get(SEALED_KEY)? else {
            return None;
        };
        if !TokenCipher::is_legacy(legacy) {
            return None;
        }
        let sealed = self.cipher.reseal(legacy, Row::Session(id))?;
        record
            .data
            .insert(SEALED_KEY.to_owned(), serde_json::Value::String(sealed));
        rmp_serde::to_vec(&record).ok()
    }
}
