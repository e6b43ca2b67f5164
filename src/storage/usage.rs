//! The fleet's history tables: tracked groups (claimed when due like scheduled changes), samples,
//! the names dictionary and the reads of the pages (`usage/write.rs`: a sample stored in bulk).

mod read;
mod snapshot;
mod write;

pub use read::{DayFigure, Drift, MonthRow};
pub use snapshot::{SnapshotCache, SnapshotCounts, SnapshotOrder, SnapshotWhere, snapshot_cache};
pub use write::{DriftRow, GroupDay, LatestLine, LatestRow, StoredSample};

use std::collections::HashMap;

use time::OffsetDateTime;
use uuid::Uuid;

use super::Db;
use super::sqlutil::{later, parse_stamp, stamp, with_pool};

/// A tracked device group.
#[derive(Debug, Clone, PartialEq)]
pub struct Tracking {
    pub corp_id: String,
    /// The group's number in the history tables.
    pub gid: i32,
    /// `active`, `needs_sign_in` or `stopped`.
    pub state: String,
    pub subject: Option<String>,
    pub user_name: Option<String>,
    pub grant_id: Option<Uuid>,
    pub next_due: OffsetDateTime,
    pub failures: i32,
    pub last_ok_at: Option<OffsetDateTime>,
    pub message: Option<String>,
    /// Demo: days before this one are simulated.
    pub simulated_before: Option<i32>,
}

/// Each group's tracking as the list pages read it, for [`TRACKING_TTL`]: a page of the list asks
/// for it twice (its filters, its notice) and a database round trip each was a good part of its
/// time. Changes of tracking made here forget it at once; one made elsewhere shows within the TTL.
pub type TrackingCache = moka::sync::Cache<String, Option<Tracking>>;

/// How long the list pages reuse a group's tracking.
pub const TRACKING_TTL: std::time::Duration = std::time::Duration::from_secs(2);

/// A new, empty [`TrackingCache`].
pub fn tracking_cache() -> TrackingCache {
    moka::sync::Cache::builder()
        .max_capacity(10_000)
        .time_to_live(TRACKING_TTL)
        .build()
}

type TrackingRow = (
    String,
    i32,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    i32,
    Option<String>,
    Option<String>,
    Option<i32>,
);

const TRACKING_COLUMNS: &str = "corp_id, gid, state, subject, user_name, grant_id, next_due, \
     failures, last_ok_at, message, simulated_before";

fn tracking(r: TrackingRow) -> Result<Tracking, sqlx::Error> {
    Ok(Tracking {
        corp_id: r.0,
        gid: r.1,
        state: r.2,
        subject: r.3,
        user_name: r.4,
        grant_id: r.5.as_deref().and_then(|g| Uuid::parse_str(g).ok()),
        next_due: parse_stamp(&r.6)?,
        failures: r.7,
        last_ok_at: r.8.as_deref().map(parse_stamp).transpose()?,
        message: r.9,
        simulated_before: r.10,
    })
}

/// One sample as the page lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleRecord {
    pub taken_at: OffsetDateTime,
    pub ok: bool,
    pub lines: i32,
    pub elapsed_ms: i64,
    pub message: Option<String>,
}

impl Db {
    pub async fn usage_tracking(&self, corp: &str) -> Result<Option<Tracking>, sqlx::Error> {
        let row: Option<TrackingRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!("SELECT {TRACKING_COLUMNS} FROM usage_tracking WHERE corp_id = $1"))
                .bind(corp)
                .fetch_optional(pool)
                .await?
        });
        row.map(tracking).transpose()
    }

    /// Starts (or resumes) tracking `corp` on `grant`, due at once. A new group gets the next
    /// group number (two instances racing: the unique number refuses one, which tries again).
    pub async fn usage_track_start(
        &self,
        corp: &str,
        subject: &str,
        user_name: Option<&str>,
        grant: Uuid,
        now: OffsetDateTime,
    ) -> Result<Tracking, sqlx::Error> {
        let at = stamp(now);
        for _ in 0..3 {
            let done = with_pool!(self, pool => {
                sqlx::query(
                    "INSERT INTO usage_tracking (corp_id, gid, state, subject, user_name, grant_id, started_at, next_due) \
                     VALUES ($1, (SELECT COALESCE(MAX(gid), 0) + 1 FROM usage_tracking), 'active', $2, $3, $4, $5, $5) \
                     ON CONFLICT (corp_id) DO UPDATE SET state = 'active', subject = $2, user_name = $3, \
                     grant_id = $4, started_at = $5, next_due = $5, failures = 0, message = NULL, \
                     claimed_by = NULL, claim_until = NULL",
                )
                .bind(corp)
                .bind(subject)
                .bind(user_name)
                .bind(grant.to_string())
                .bind(&at)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
            });
            match done {
                Ok(_) => break,
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => continue,
                Err(e) => return Err(e),
            }
        }
        self.usage_tracking(corp)
            .await?
            .ok_or(sqlx::Error::RowNotFound)
    }

    /// A group with history but no sampling (the demo's simulated history); `None` when the
    /// group is known already.
    pub async fn usage_track_history_only(
        &self,
        corp: &str,
    ) -> Result<Option<Tracking>, sqlx::Error> {
        let now = stamp(OffsetDateTime::now_utc());
        let n = with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO usage_tracking (corp_id, gid, state, next_due) \
                 VALUES ($1, (SELECT COALESCE(MAX(gid), 0) + 1 FROM usage_tracking), 'stopped', $2) \
                 ON CONFLICT (corp_id) DO NOTHING",
            )
            .bind(corp)
            .bind(&now)
            .execute(pool)
            .await?
            .rows_affected()
        });
        if n == 0 {
            return Ok(None);
        }
        self.usage_tracking(corp).await
    }

    /// Stops tracking (the history stays). Returns the grant it no longer needs.
    pub async fn usage_track_stop(&self, corp: &str) -> Result<Option<Uuid>, sqlx::Error> {
        let before = self.usage_tracking(corp).await?;
        with_pool!(self, pool => {
            sqlx::query("UPDATE usage_tracking SET state = 'stopped', claimed_by = NULL, claim_until = NULL WHERE corp_id = $1")
                .bind(corp)
                .execute(pool)
                .await?;
        });
        Ok(before.and_then(|t| t.grant_id))
    }

    /// Claims one tracked group whose sample is due, for `lease` (a lapsed claim may be taken
    /// over). PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: one conditional UPDATE.
    pub async fn usage_claim_due(
        &self,
        owner: &str,
        lease: std::time::Duration,
        now: OffsetDateTime,
    ) -> Result<Option<Tracking>, sqlx::Error> {
        let at = stamp(now);
        let until = stamp(later(now, lease));
        let due =
            "state = 'active' AND next_due <= $1 AND (claim_until IS NULL OR claim_until < $1)";
        let corp: Option<String> = match self {
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                let corp: Option<String> = sqlx::query_scalar(&format!(
                    "SELECT corp_id FROM usage_tracking WHERE {due} ORDER BY next_due LIMIT 1 FOR UPDATE SKIP LOCKED"
                ))
                .bind(&at)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(c) = &corp {
                    sqlx::query("UPDATE usage_tracking SET claimed_by = $1, claim_until = $2 WHERE corp_id = $3")
                        .bind(owner)
                        .bind(&until)
                        .bind(c)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                corp
            }
            Db::Sqlite(pool) => {
                sqlx::query_scalar(&format!(
                    "UPDATE usage_tracking SET claimed_by = $2, claim_until = $3 WHERE corp_id = \
                     (SELECT corp_id FROM usage_tracking WHERE {due} ORDER BY next_due LIMIT 1) AND {due} RETURNING corp_id"
                ))
                .bind(&at)
                .bind(owner)
                .bind(&until)
                .fetch_optional(pool)
                .await?
            }
        };
        match corp {
            Some(c) => self.usage_tracking(&c).await,
            None => Ok(None),
        }
    }

    /// Tracking pauses (`needs_sign_in`): the kept sign-in is gone or may no longer sample.
    pub async fn usage_pause(&self, corp: &str, message: &str) -> Result<(), sqlx::Error> {
        with_pool!(self, pool => {
            sqlx::query(
                "UPDATE usage_tracking SET state = 'needs_sign_in', message = $2, claimed_by = NULL, \
                 claim_until = NULL WHERE corp_id = $1 AND state = 'active'",
            )
            .bind(corp)
            .bind(message)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// A sample failed: recorded as failed (never as zeros), the next try at `retry_at`.
    pub async fn usage_sample_failed(
        &self,
        t: &Tracking,
        owner: &str,
        now: OffsetDateTime,
        elapsed_ms: i64,
        message: &str,
        retry_at: OffsetDateTime,
    ) -> Result<(), sqlx::Error> {
        let at = stamp(now);
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("INSERT INTO usage_samples (gid, taken_at, ok, lines, elapsed_ms, message) VALUES ($1, $2, $3, 0, $4, $5)")
                .bind(t.gid)
                .bind(&at)
                .bind(false)
                .bind(elapsed_ms)
                .bind(message)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE usage_tracking SET failures = failures + 1, message = $2, next_due = $3, \
                 claimed_by = NULL, claim_until = NULL WHERE corp_id = $1 AND claimed_by = $4",
            )
            .bind(&t.corp_id)
            .bind(message)
            .bind(stamp(retry_at))
            .bind(owner)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// The group's last samples, newest first.
    pub async fn usage_samples(
        &self,
        gid: i32,
        limit: i64,
    ) -> Result<Vec<SampleRecord>, sqlx::Error> {
        let rows: Vec<(String, bool, i32, i64, Option<String>)> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT taken_at, ok, lines, elapsed_ms, message FROM usage_samples WHERE gid = $1 \
                 ORDER BY taken_at DESC, id DESC LIMIT $2",
            )
            .bind(gid)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|(t, ok, lines, elapsed_ms, message)| {
                Ok(SampleRecord {
                    taken_at: parse_stamp(&t)?,
                    ok,
                    lines,
                    elapsed_ms,
                    message,
                })
            })
            .collect()
    }

    /// The ids of `names` in the names dictionary (added when new), and every name by id.
    pub async fn usage_names(&self, names: &[&str]) -> Result<HashMap<String, i32>, sqlx::Error> {
        for chunk in names.chunks(500) {
            with_pool!(self, pool => {
                let mut q = sqlx::QueryBuilder::new("INSERT INTO usage_names (name) ");
                q.push_values(chunk, |mut b, n| {
                    b.push_bind(*n);
                });
                q.push(" ON CONFLICT (name) DO NOTHING");
                q.build().execute(pool).await?;
            });
        }
        self.usage_all_names().await
    }

    /// Every name of the dictionary.
    pub async fn usage_all_names(&self) -> Result<HashMap<String, i32>, sqlx::Error> {
        let rows: Vec<(i32, String)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT id, name FROM usage_names").fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(|(i, n)| (n, i)).collect())
    }

    /// Every name of the dictionary by its id (what the pages print for a stored id).
    pub async fn usage_names_by_id(&self) -> Result<HashMap<i32, String>, sqlx::Error> {
        Ok(self
            .usage_all_names()
            .await?
            .into_iter()
            .map(|(n, i)| (i, n))
            .collect())
    }

    /// Raw samples older than `before` are deleted.
    pub async fn usage_prune_raw(&self, before: OffsetDateTime) -> Result<u64, sqlx::Error> {
        Ok(with_pool!(self, pool => {
            sqlx::query("DELETE FROM usage_raw WHERE taken_at < $1")
                .bind(stamp(before))
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }

    /// Demo: days before `day` are simulated.
    pub async fn usage_mark_simulated(&self, gid: i32, day: i32) -> Result<(), sqlx::Error> {
        with_pool!(self, pool => {
            sqlx::query("UPDATE usage_tracking SET simulated_before = $2 WHERE gid = $1")
                .bind(gid)
                .bind(day)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// MDNs (digits) that a change set of the console touched in `corp` while running between
    /// `from` and `to`: such a change explains what a sample sees changed.
    pub async fn usage_explained_mdns(
        &self,
        corp: &str,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<std::collections::HashSet<u64>, sqlx::Error> {
        let ids: Vec<String> = with_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT id FROM change_sets WHERE corp_id = $1 AND created_at <= $3 \
                 AND (finished_at IS NULL OR finished_at >= $2) \
                 AND state IN ('running', 'done', 'done_with_failures', 'failed', 'scheduled')",
            )
            .bind(corp)
            .bind(stamp(from))
            .bind(stamp(to))
            .fetch_all(pool)
            .await?
        });
        let mut out = std::collections::HashSet::new();
        for id in ids {
            let (lines, blocks): (Vec<String>, Vec<String>) = with_pool!(self, pool => {
                let lines = sqlx::query_scalar("SELECT mdn FROM change_lines WHERE change_id = $1")
                    .bind(&id)
                    .fetch_all(pool)
                    .await?;
                let blocks = sqlx::query_scalar("SELECT data FROM change_line_blocks WHERE change_id = $1")
                    .bind(&id)
                    .fetch_all(pool)
                    .await?;
                (lines, blocks)
            });
            out.extend(
                lines
                    .iter()
                    .filter_map(|m| crate::domain::amounts::mdn_number(m)),
            );
            for b in blocks {
                let pairs: Vec<(String, serde_json::Value)> =
                    serde_json::from_str(&b).unwrap_or_default();
                out.extend(
                    pairs
                        .iter()
                        .filter_map(|(m, _)| crate::domain::amounts::mdn_number(m)),
                );
            }
        }
        Ok(out)
    }
}
