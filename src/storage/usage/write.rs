//! A sample stored in one transaction, in bulk: COPY on PostgreSQL (day cells laid into their
//! month rows by the database), multi-row inserts on SQLite. Never a statement per line.

use std::collections::HashMap;
use std::fmt::Write as _;

use time::OffsetDateTime;

use super::Tracking;
use crate::domain::day::{CELL, Day, ROW_BYTES};
use crate::storage::Db;
use crate::storage::sqlutil::{stamp, with_pool};

/// A line's latest sample and its running day, as stored.
#[derive(Debug, Clone, PartialEq, Default, sqlx::FromRow)]
pub struct LatestRow {
    pub mdn: i64,
    pub nickname: String,
    pub status: i32,
    pub filter_group: i32,
    pub network: i32,
    pub device: i32,
    pub labels: String,
    pub summer_status: String,
    pub media_center_status: String,
    pub month_used: i64,
    pub day_used: i64,
    pub last30_used: i64,
    pub monthly_limit: Option<i64>,
    pub daily_limit: Option<i64>,
    pub day: i32,
    pub samples: i32,
    pub growth: i64,
    pub first_day: i32,
    /// The last day before `day` with usage.
    pub last_used_day: Option<i32>,
}

impl LatestRow {
    /// The last day with usage, the current one included (see the usage service's `Running`).
    pub fn last_used(&self) -> Option<i32> {
        let today = if self.samples <= 1 {
            self.day_used
        } else {
            self.growth
        };
        if today > 0 {
            Some(self.day)
        } else {
            self.last_used_day
        }
    }
}

/// One line of a sample as it is stored: the write side of [`LatestRow`], compact (a 100,000-line
/// sample's rows are held at once until they are stored: ~140 bytes a line and its nickname; the
/// texts shared by many lines are shared, not copied).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LatestLine {
    pub mdn: i64,
    pub nickname: Box<str>,
    pub status: i32,
    pub filter_group: i32,
    pub network: i32,
    pub device: i32,
    pub labels: std::sync::Arc<str>,
    pub summer_status: std::sync::Arc<str>,
    pub media_center_status: std::sync::Arc<str>,
    /// Hundredths of MB.
    pub month_used: u32,
    pub day_used: u32,
    pub last30_used: u32,
    pub monthly_limit: Option<u32>,
    pub daily_limit: Option<u32>,
    pub day: i32,
    pub samples: i32,
    pub growth: i64,
    pub first_day: i32,
    /// The last day before `day` with usage.
    pub last_used_day: Option<i32>,
}

/// One figure of the group's day: `dim` 0 the group, 1 filter group, 2 device, 3 network,
/// 4 status, 5 label; `name` a names id (0 for the group).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupDay {
    pub dim: i16,
    pub name: i32,
    pub usage: i64,
    pub used_lines: i32,
    pub sampled_lines: i32,
}

/// Something a sample saw changed that no change set explains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftRow {
    pub mdn: i64,
    pub field: &'static str,
    pub before: String,
    pub after: String,
}

/// Everything one good sample stores.
#[derive(Debug, Default)]
pub struct StoredSample {
    pub taken_at: Option<OffsetDateTime>,
    pub elapsed_ms: i64,
    pub day: i32,
    /// Sorted by MDN; `cells[i]` is `lines[i]`'s cell of `day`.
    pub lines: Vec<LatestLine>,
    pub cells: Vec<[u8; CELL]>,
    pub group_days: Vec<GroupDay>,
    pub drift: Vec<DriftRow>,
    pub previous_at: Option<OffsetDateTime>,
    /// Packed raw sample (MDN, month and day usage of each line).
    pub raw: Vec<u8>,
    pub next_due: Option<OffsetDateTime>,
}

const LATEST_COLUMNS: &str = "gid, mdn, taken_at, nickname, status, filter_group, network, device, labels, \
     summer_status, media_center_status, month_used, day_used, last30_used, monthly_limit, daily_limit, \
     day, samples, growth, first_day, last_used_day";

const LATEST_UPDATE: &str = "taken_at = excluded.taken_at, nickname = excluded.nickname, status = excluded.status, \
     filter_group = excluded.filter_group, network = excluded.network, device = excluded.device, \
     labels = excluded.labels, summer_status = excluded.summer_status, \
     media_center_status = excluded.media_center_status, month_used = excluded.month_used, \
     day_used = excluded.day_used, last30_used = excluded.last30_used, \
     monthly_limit = excluded.monthly_limit, daily_limit = excluded.daily_limit, day = excluded.day, \
     samples = excluded.samples, growth = excluded.growth, first_day = excluded.first_day, \
     last_used_day = excluded.last_used_day";

/// Lines per multi-row statement on SQLite (21 values each, under its 32,766 variables).
const SQLITE_ROWS: usize = 1_000;

/// A CSV field for COPY: quoted text (`\N` is NULL).
fn copy_text(out: &mut String, s: &str) {
    out.push('"');
    out.push_str(&s.replace('"', "\"\""));
    out.push('"');
}

fn copy_opt(out: &mut String, v: Option<i64>) {
    match v {
        Some(v) => {
            let _ = write!(out, "{v}");
        }
        None => out.push_str("\\N"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The columns a [`LatestRow`] reads.
pub(super) fn latest_columns() -> String {
    LATEST_COLUMNS
        .trim_start_matches("gid, ")
        .replace("taken_at, ", "")
}

impl Db {
    /// Every line's latest sample of a group, by MDN.
    pub async fn usage_latest(&self, gid: i32) -> Result<Vec<LatestRow>, sqlx::Error> {
        let cols = latest_columns();
        let rows: Vec<LatestRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!("SELECT {cols} FROM usage_latest WHERE gid = $1 ORDER BY mdn"))
                .bind(gid)
                .fetch_all(pool)
                .await?
        });
        Ok(rows)
    }

    /// The group's latest rows in MDN order, as a stream read while the new sample is walked
    /// beside it: the previous sample is never held in memory whole.
    pub fn usage_latest_for_sample(
        &self,
        gid: i32,
    ) -> futures::stream::BoxStream<'_, Result<LatestRow, sqlx::Error>> {
        const SQL: &str = "SELECT mdn, nickname, status, filter_group, 0 AS network, 0 AS device, '' AS labels, \
             '' AS summer_status, '' AS media_center_status, month_used, day_used, \
             CAST(0 AS BIGINT) AS last30_used, monthly_limit, daily_limit, day, samples, growth, \
             first_day, last_used_day FROM usage_latest WHERE gid = $1 ORDER BY mdn";
        match self {
            Db::Sqlite(pool) => sqlx::query_as(SQL).bind(gid).fetch(pool),
            Db::Postgres(pool) => sqlx::query_as(SQL).bind(gid).fetch(pool),
        }
    }

    /// How many lines the group's latest sample holds (room for the next one's lines).
    pub async fn usage_latest_count(&self, gid: i32) -> Result<i64, sqlx::Error> {
        with_pool!(self, pool => {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM usage_latest WHERE gid = $1")
                .bind(gid)
                .fetch_one(pool)
                .await
        })
    }

    /// One line's latest sample.
    pub async fn usage_latest_line(
        &self,
        gid: i32,
        mdn: i64,
    ) -> Result<Option<LatestRow>, sqlx::Error> {
        let cols = latest_columns();
        let row: Option<LatestRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!("SELECT {cols} FROM usage_latest WHERE gid = $1 AND mdn = $2"))
                .bind(gid)
                .bind(mdn)
                .fetch_optional(pool)
                .await?
        });
        Ok(row)
    }

    /// Stores a good sample while `owner` holds the group's claim: the sample, every line's
    /// latest values, its day cell, the group's day figures, drift, the raw sample, the next due
    /// time. One transaction: a sample is stored whole or not at all.
    pub async fn usage_store_sample(
        &self,
        t: &Tracking,
        owner: &str,
        s: &StoredSample,
    ) -> Result<(), sqlx::Error> {
        let now = s.taken_at.unwrap_or_else(OffsetDateTime::now_utc);
        let at = stamp(now);
        let day = Day(s.day);
        let (month, pos) = (day.month(), day.cell());
        let gid = t.gid;
        macro_rules! common {
            ($tx:expr) => {{
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO usage_samples (gid, taken_at, ok, lines, elapsed_ms) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(gid)
                .bind(&at)
                .bind(true)
                .bind(s.lines.len() as i32)
                .bind(s.elapsed_ms)
                .fetch_one(&mut *$tx)
                .await?;
                sqlx::query("INSERT INTO usage_raw (sample_id, gid, taken_at, data) VALUES ($1, $2, $3, $4)")
                    .bind(id)
                    .bind(gid)
                    .bind(&at)
                    .bind(&s.raw)
                    .execute(&mut *$tx)
                    .await?;
                sqlx::query("DELETE FROM usage_group_days WHERE gid = $1 AND day = $2")
                    .bind(gid)
                    .bind(s.day)
                    .execute(&mut *$tx)
                    .await?;
                for chunk in s.group_days.chunks(SQLITE_ROWS) {
                    let mut q = sqlx::QueryBuilder::new(
                        "INSERT INTO usage_group_days (gid, day, dim, name, usage, used_lines, sampled_lines) ",
                    );
                    q.push_values(chunk, |mut b, g| {
                        b.push_bind(gid)
                            .push_bind(s.day)
                            .push_bind(g.dim)
                            .push_bind(g.name)
                            .push_bind(g.usage)
                            .push_bind(g.used_lines)
                            .push_bind(g.sampled_lines);
                    });
                    q.build().execute(&mut *$tx).await?;
                }
                let prev = s.previous_at.map(stamp).unwrap_or_default();
                for chunk in s.drift.chunks(SQLITE_ROWS) {
                    let mut q = sqlx::QueryBuilder::new(
                        "INSERT INTO usage_drift (gid, mdn, field, before_value, after_value, seen_at, previous_at) ",
                    );
                    q.push_values(chunk, |mut b, d| {
                        b.push_bind(gid)
                            .push_bind(d.mdn)
                            .push_bind(d.field)
                            .push_bind(&d.before)
                            .push_bind(&d.after)
                            .push_bind(&at)
                            .push_bind(&prev);
                    });
                    q.build().execute(&mut *$tx).await?;
                }
                let next = s.next_due.map(stamp).unwrap_or_else(|| at.clone());
                sqlx::query(
                    "UPDATE usage_tracking SET failures = 0, message = NULL, last_ok_at = $2, next_due = $3, \
                     claimed_by = NULL, claim_until = NULL WHERE corp_id = $1 AND claimed_by = $4",
                )
                .bind(&t.corp_id)
                .bind(&at)
                .bind(next)
                .bind(owner)
                .execute(&mut *$tx)
                .await?;
            }};
        }
        match self {
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query(
                    "CREATE TEMP TABLE usage_in (mdn BIGINT, nickname TEXT, status INTEGER, filter_group INTEGER, \
                     network INTEGER, device INTEGER, labels TEXT, summer_status TEXT, media_center_status TEXT, \
                     month_used BIGINT, day_used BIGINT, last30_used BIGINT, monthly_limit BIGINT, daily_limit BIGINT, \
                     day INTEGER, samples INTEGER, growth BIGINT, first_day INTEGER, last_used_day INTEGER, cell BYTEA) \
                     ON COMMIT DROP",
                )
                .execute(&mut *tx)
                .await?;
                let mut copy = tx
                    .copy_in_raw("COPY usage_in FROM STDIN WITH (FORMAT csv, NULL '\\N')")
                    .await?;
                let mut buf = String::with_capacity(256 * 1024);
                for (l, c) in s.lines.iter().zip(&s.cells) {
                    let _ = write!(buf, "{},", l.mdn);
                    copy_text(&mut buf, &l.nickname);
                    let _ = write!(
                        buf,
                        ",{},{},{},{},",
                        l.status, l.filter_group, l.network, l.device
                    );
                    copy_text(&mut buf, &l.labels);
                    buf.push(',');
                    copy_text(&mut buf, &l.summer_status);
                    buf.push(',');
                    copy_text(&mut buf, &l.media_center_status);
                    let _ = write!(buf, ",{},{},{},", l.month_used, l.day_used, l.last30_used);
                    copy_opt(&mut buf, l.monthly_limit.map(i64::from));
                    buf.push(',');
                    copy_opt(&mut buf, l.daily_limit.map(i64::from));
                    let _ = write!(
                        buf,
                        ",{},{},{},{},",
                        l.day, l.samples, l.growth, l.first_day
                    );
                    copy_opt(&mut buf, l.last_used_day.map(i64::from));
                    let _ = writeln!(buf, ",\\x{}", hex(c));
                    if buf.len() > 200 * 1024 {
                        copy.send(std::mem::take(&mut buf).into_bytes()).await?;
                    }
                }
                if !buf.is_empty() {
                    copy.send(buf.into_bytes()).await?;
                }
                copy.finish().await?;
                let cols = LATEST_COLUMNS.trim_start_matches("gid, mdn, taken_at, ");
                sqlx::query(&format!(
                    "INSERT INTO usage_latest ({LATEST_COLUMNS}) SELECT $1, mdn, $2, {cols} FROM usage_in \
                     ON CONFLICT (gid, mdn) DO UPDATE SET {LATEST_UPDATE}"
                ))
                .bind(gid)
                .bind(&at)
                .execute(&mut *tx)
                .await?;
                let start = (pos * CELL) as i32;
                sqlx::query(
                    "INSERT INTO usage_months (gid, mdn, month, days) \
                     SELECT $1, mdn, $2, overlay(decode(repeat('00', $3), 'hex') placing cell from $4 + 1) FROM usage_in \
                     ON CONFLICT (gid, mdn, month) DO UPDATE SET days = overlay(usage_months.days placing \
                     substring(excluded.days from $4 + 1 for 16) from $4 + 1)",
                )
                .bind(gid)
                .bind(month)
                .bind(ROW_BYTES as i32)
                .bind(start)
                .execute(&mut *tx)
                .await?;
                common!(tx);
                tx.commit().await?;
            }
            Db::Sqlite(pool) => {
                // The month rows this sample writes into, laid out here (20,000 lines: 10 MB).
                let existing: Vec<(i64, Vec<u8>)> = sqlx::query_as(
                    "SELECT mdn, days FROM usage_months WHERE gid = $1 AND month = $2",
                )
                .bind(gid)
                .bind(month)
                .fetch_all(pool)
                .await?;
                let mut rows: HashMap<i64, Vec<u8>> = existing.into_iter().collect();
                let mut tx = pool.begin().await?;
                for (lines, cells) in s.lines.chunks(SQLITE_ROWS).zip(s.cells.chunks(SQLITE_ROWS)) {
                    let mut q = sqlx::QueryBuilder::new(format!(
                        "INSERT INTO usage_latest ({LATEST_COLUMNS}) "
                    ));
                    q.push_values(lines, |mut b, l| {
                        b.push_bind(gid)
                            .push_bind(l.mdn)
                            .push_bind(&at)
                            .push_bind(&*l.nickname)
                            .push_bind(l.status)
                            .push_bind(l.filter_group)
                            .push_bind(l.network)
                            .push_bind(l.device)
                            .push_bind(&*l.labels)
                            .push_bind(&*l.summer_status)
                            .push_bind(&*l.media_center_status)
                            .push_bind(i64::from(l.month_used))
                            .push_bind(i64::from(l.day_used))
                            .push_bind(i64::from(l.last30_used))
                            .push_bind(l.monthly_limit.map(i64::from))
                            .push_bind(l.daily_limit.map(i64::from))
                            .push_bind(l.day)
                            .push_bind(l.samples)
                            .push_bind(l.growth)
                            .push_bind(l.first_day)
                            .push_bind(l.last_used_day);
                    });
                    q.push(format!(
                        " ON CONFLICT (gid, mdn) DO UPDATE SET {LATEST_UPDATE}"
                    ));
                    q.build().execute(&mut *tx).await?;
                    let blobs: Vec<(i64, Vec<u8>)> = lines
                        .iter()
                        .zip(cells)
                        .map(|(l, c)| {
                            let mut row = rows.remove(&l.mdn).unwrap_or_else(|| vec![0; ROW_BYTES]);
                            row.resize(ROW_BYTES, 0);
                            row[pos * CELL..(pos + 1) * CELL].copy_from_slice(c);
                            (l.mdn, row)
                        })
                        .collect();
                    let mut q = sqlx::QueryBuilder::new(
                        "INSERT INTO usage_months (gid, mdn, month, days) ",
                    );
                    q.push_values(&blobs, |mut b, (mdn, days)| {
                        b.push_bind(gid)
                            .push_bind(*mdn)
                            .push_bind(month)
                            .push_bind(days.as_slice());
                    });
                    q.push(" ON CONFLICT (gid, mdn, month) DO UPDATE SET days = excluded.days");
                    q.build().execute(&mut *tx).await?;
                }
                common!(tx);
                tx.commit().await?;
            }
        }
        Ok(())
    }
}
