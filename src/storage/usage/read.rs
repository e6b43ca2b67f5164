//! What the history's pages read: the group's day figures, idle lines, drift, one line's months,
//! and every line's months streamed in MDN order (the proof of use).

use futures::TryStreamExt;
use time::OffsetDateTime;

use super::write::{LatestRow, latest_columns};
use crate::storage::Db;
use crate::storage::sqlutil::{parse_stamp, with_pool};

/// One figure of one day (see [`super::GroupDay`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayFigure {
    pub day: i32,
    pub name: i32,
    pub usage: i64,
    pub used_lines: i32,
    pub sampled_lines: i32,
}

/// A line's month row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthRow {
    pub mdn: i64,
    pub month: i32,
    pub days: Vec<u8>,
    pub nickname: String,
}

/// One drift record.
#[derive(Debug, Clone, PartialEq)]
pub struct Drift {
    pub mdn: i64,
    pub field: String,
    pub before: String,
    pub after: String,
    pub seen_at: OffsetDateTime,
}

/// Month rows per batch handed to a reader.
const BATCH: usize = 1_000;

impl Db {
    /// The group's figures of dimension `dim` for days `from..=to`.
    pub async fn usage_day_figures(
        &self,
        gid: i32,
        dim: i16,
        from: i32,
        to: i32,
    ) -> Result<Vec<DayFigure>, sqlx::Error> {
        let rows: Vec<(i32, i32, i64, i32, i32)> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT day, name, usage, used_lines, sampled_lines FROM usage_group_days \
                 WHERE gid = $1 AND dim = $2 AND day BETWEEN $3 AND $4 ORDER BY day, name",
            )
            .bind(gid)
            .bind(dim)
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(day, name, usage, used_lines, sampled_lines)| DayFigure {
                day,
                name,
                usage,
                used_lines,
                sampled_lines,
            })
            .collect())
    }

    /// Lines whose last used day (the current one included) is before `since`, or that were
    /// never used, by MDN.
    pub async fn usage_idle(&self, gid: i32, since: i32) -> Result<Vec<LatestRow>, sqlx::Error> {
        let rows: Vec<LatestRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "SELECT {} FROM usage_latest WHERE gid = $1 AND (last_used_day IS NULL OR last_used_day < $2) \
                 AND NOT (day >= $2 AND (CASE WHEN samples <= 1 THEN day_used ELSE growth END) > 0) ORDER BY mdn",
                latest_columns()
            ))
            .bind(gid)
            .bind(since)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// Drift seen in the group, newest first.
    pub async fn usage_drift(&self, gid: i32, limit: i64) -> Result<Vec<Drift>, sqlx::Error> {
        let rows: Vec<(i64, String, String, String, String)> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT mdn, field, before_value, after_value, seen_at FROM usage_drift WHERE gid = $1 \
                 ORDER BY seen_at DESC, id DESC LIMIT $2",
            )
            .bind(gid)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|(mdn, field, before, after, seen)| {
                Ok(Drift {
                    mdn,
                    field,
                    before,
                    after,
                    seen_at: parse_stamp(&seen)?,
                })
            })
            .collect()
    }

    /// One line's month rows `from..=to`.
    pub async fn usage_line_months(
        &self,
        gid: i32,
        mdn: i64,
        from: i32,
        to: i32,
    ) -> Result<Vec<(i32, Vec<u8>)>, sqlx::Error> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT month, days FROM usage_months WHERE gid = $1 AND mdn = $2 AND month BETWEEN $3 AND $4 ORDER BY month",
            )
            .bind(gid)
            .bind(mdn)
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Every line's month rows `from..=to` in MDN order, in batches sent to `out` as the query
    /// streams (bounded memory whatever the group's size). Stops when `out` is closed.
    pub async fn usage_months_scan(
        &self,
        gid: i32,
        from: i32,
        to: i32,
        out: tokio::sync::mpsc::Sender<Vec<MonthRow>>,
    ) -> Result<(), sqlx::Error> {
        let sql = "SELECT m.mdn, m.month, m.days, COALESCE(l.nickname, '') FROM usage_months m \
                   LEFT JOIN usage_latest l ON l.gid = m.gid AND l.mdn = m.mdn \
                   WHERE m.gid = $1 AND m.month BETWEEN $2 AND $3 ORDER BY m.mdn, m.month";
        with_pool!(self, pool => {
            let mut rows = sqlx::query_as::<_, (i64, i32, Vec<u8>, String)>(sql)
                .bind(gid)
                .bind(from)
                .bind(to)
                .fetch(pool);
            let mut batch = Vec::with_capacity(BATCH);
            while let Some((mdn, month, days, nickname)) = rows.try_next().await? {
                batch.push(MonthRow { mdn, month, days, nickname });
                if batch.len() >= BATCH && out.send(std::mem::take(&mut batch)).await.is_err() {
                    return Ok(());
                }
            }
            if !batch.is_empty() {
                let _ = out.send(batch).await;
            }
        });
        Ok(())
    }
}
