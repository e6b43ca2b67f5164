//! A change set whose lines arrive as a stream (a select-all change): lines stored a block at a
//! time (one row per batch, each in its own short transaction), the outcome of the one bulk call
//! recorded once on the change set with the lines it singles out as rows of their own, and every
//! reader served from blocks and rows merged, so no step holds all the lines in memory.

use std::collections::{HashMap, HashSet};

use super::*;

/// Adds `$1` lines to change set `$3`'s total.
const TOTAL_PLUS: &str =
    "UPDATE change_sets SET total_lines = total_lines + $1, updated_at = $2 WHERE id = $3";

/// Lines read at a time when a filtered page is looked for across blocks.
const SCAN: i32 = 10_000;

/// Exception rows per INSERT.
const ROW_BATCH: usize = 500;

/// One line of a streamed change set as stored: its MDN and its value before (the value after is
/// the block's, the same for every line of a select-all).
#[derive(Clone, Debug, PartialEq)]
pub struct StreamedLine {
    pub mdn: String,
    pub before: Option<String>,
}

#[derive(sqlx::FromRow)]
struct BlockRow {
    first_seq: i32,
    after_value: Option<String>,
    data: String,
}

impl BlockRow {
    /// The block's lines as `(seq, mdn, before)`.
    fn lines(&self) -> Result<Vec<(i32, String, Option<String>)>, sqlx::Error> {
        let pairs: Vec<(String, Option<String>)> =
            serde_json::from_str(&self.data).map_err(decode)?;
        Ok(pairs
            .into_iter()
            .enumerate()
            .map(|(i, (mdn, before))| {
                let seq = self
                    .first_seq
                    .saturating_add(i32::try_from(i).unwrap_or(i32::MAX));
                (seq, mdn, before)
            })
            .collect())
    }
}

/// What the lines of a change set not recorded one by one read as.
#[derive(sqlx::FromRow)]
struct Rest {
    rest_outcome: Option<String>,
    rest_message: Option<String>,
}

impl Db {
    /// Appends `lines` to change set `id` as lines `first..` (state `pending`, each with the value
    /// after `after`) and adds them to its total, in one short transaction: one block row, not a
    /// row per line.
    pub async fn change_append_lines(
        &self,
        id: Uuid,
        first: i32,
        after: Option<&str>,
        lines: &[StreamedLine],
    ) -> Result<(), sqlx::Error> {
        let id = id.to_string();
        let now = stamp(OffsetDateTime::now_utc());
        let n = i32::try_from(lines.len()).unwrap_or(i32::MAX);
        let pairs: Vec<(&str, Option<&str>)> = lines
            .iter()
            .map(|l| (l.mdn.as_str(), l.before.as_deref()))
            .collect();
        let data = serde_json::to_string(&pairs).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO change_line_blocks (change_id, first_seq, lines, after_value, data) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&id)
            .bind(first)
            .bind(n)
            .bind(after)
            .bind(&data)
            .execute(&mut *tx)
            .await?;
            sqlx::query(TOTAL_PLUS)
                .bind(i64::from(n))
                .bind(&now)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Records the one call of a streamed change set: the lines named in `failed` (by MDN as
    /// stored, with Sentinel's reason) get a row of their own as failed, every other line gets
    /// `rest` (with `note`) through the change set's `rest_outcome`, and the counts move with
    /// them, in one transaction. A second call changes nothing.
    pub async fn change_settle_all(
        &self,
        id: Uuid,
        failed: &[(String, String)],
        rest: LineState,
        note: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        let id = id.to_string();
        let now = stamp(OffsetDateTime::now_utc());
        let reasons: HashMap<&str, &str> = failed
            .iter()
            .map(|(m, r)| (m.as_str(), r.as_str()))
            .collect();
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let settled: Option<String> =
                sqlx::query_scalar("SELECT rest_outcome FROM change_sets WHERE id = $1")
                    .bind(&id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .flatten();
            if settled.is_some() {
                tx.rollback().await?;
                return Ok(());
            }
            let mut n_failed = 0i64;
            let mut after_seq = -1;
            while !reasons.is_empty() {
                // One block at a time: bounded memory however large the change.
                let block = sqlx::query_as::<_, BlockRow>(
                    "SELECT first_seq, after_value, data FROM change_line_blocks \
                     WHERE change_id = $1 AND first_seq > $2 ORDER BY first_seq LIMIT 1",
                )
                .bind(&id)
                .bind(after_seq)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(block) = block else { break };
                after_seq = block.first_seq;
                let hits: Vec<(i32, String, Option<String>, &str)> = block
                    .lines()?
                    .into_iter()
                    .filter_map(|(seq, mdn, before)| {
                        reasons.get(mdn.as_str()).map(|r| (seq, mdn, before, *r))
                    })
                    .collect();
                for part in hits.chunks(ROW_BATCH) {
                    let rows: Vec<String> = (0..part.len())
                        .map(|i| {
                            format!(
                                "($1, ${}, ${}, ${}, $2, 'failed', ${})",
                                4 * i + 3,
                                4 * i + 4,
                                4 * i + 5,
                                4 * i + 6
                            )
                        })
                        .collect();
                    let sql = format!(
                        "INSERT INTO change_lines (change_id, seq, mdn, before_value, after_value, \
                         outcome, message) VALUES {}",
                        rows.join(", ")
                    );
                    let mut q = sqlx::query(&sql).bind(&id).bind(&block.after_value);
                    for (seq, mdn, before, reason) in part {
                        q = q.bind(*seq).bind(mdn).bind(before).bind(*reason);
                    }
                    q.execute(&mut *tx).await?;
                    n_failed += i64::try_from(part.len()).unwrap_or(0);
                }
            }
            // The rest are settled on the change set, once: `pending` is what no count holds yet.
            sqlx::query(
                "UPDATE change_sets SET rest_outcome = $1, rest_message = $2, \
                 changed = changed + CASE WHEN $1 = 'changed' THEN total_lines - changed - failed - unknown - $3 ELSE 0 END, \
                 failed = failed + $3 + CASE WHEN $1 = 'failed' THEN total_lines - changed - failed - unknown - $3 ELSE 0 END, \
                 unknown = unknown + CASE WHEN $1 = 'unknown' THEN total_lines - changed - failed - unknown - $3 ELSE 0 END, \
                 updated_at = $4 WHERE id = $5 AND rest_outcome IS NULL",
            )
            .bind(rest.as_str())
            .bind(note)
            .bind(n_failed)
            .bind(&now)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Forgets the lines a select-all stored before its instance stopped (nothing had been sent:
    /// they are read again), unless its call has been settled. `false`: it was settled.
    pub async fn change_clear_streamed(&self, id: Uuid) -> Result<bool, sqlx::Error> {
        let id = id.to_string();
        let now = stamp(OffsetDateTime::now_utc());
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            // Writing first takes the row lock (PG) / write lock (SQLite) before anything is read.
            let open = sqlx::query(
                "UPDATE change_sets SET total_lines = 0, changed = 0, failed = 0, unknown = 0, \
                 updated_at = $1 WHERE id = $2 AND rest_outcome IS NULL",
            )
            .bind(&now)
            .bind(&id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if open != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
            for sql in [
                "DELETE FROM change_line_blocks WHERE change_id = $1",
                "DELETE FROM change_lines WHERE change_id = $1",
            ] {
                sqlx::query(sql).bind(&id).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Where change set `id`'s blocks end (the seq after their last line); 0: it has none.
    pub(super) async fn change_blocks_end(&self, id: &str) -> Result<i32, sqlx::Error> {
        let end: Option<i64> = with_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT CAST(MAX(first_seq + lines) AS BIGINT) FROM change_line_blocks WHERE change_id = $1",
            )
            .bind(id)
            .fetch_one(pool)
            .await?
        });
        Ok(end.map_or(0, |e| i32::try_from(e).unwrap_or(i32::MAX)))
    }

    /// Lines `from..to` of a change set stored in blocks, in order: each line from its block,
    /// or from its own row where it has one, with its outcome resolved.
    pub(super) async fn change_block_lines(
        &self,
        id: &str,
        from: i32,
        to: i32,
    ) -> Result<Vec<ChangeLine>, sqlx::Error> {
        let rows_sql = format!(
            "{} WHERE l.change_id = $1 AND l.seq >= $2 AND l.seq < $3 ORDER BY l.seq",
            lines_select()
        );
        let (rest, blocks, rows) = with_pool!(self, pool => {
            let rest = sqlx::query_as::<_, Rest>(
                "SELECT rest_outcome, rest_message FROM change_sets WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?;
            let blocks = sqlx::query_as::<_, BlockRow>(
                "SELECT first_seq, after_value, data FROM change_line_blocks \
                 WHERE change_id = $1 AND first_seq < $3 AND first_seq + lines > $2 ORDER BY first_seq",
            )
            .bind(id)
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await?;
            let rows = sqlx::query_as::<_, LineRow>(&rows_sql)
                .bind(id)
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await?;
            (rest, blocks, rows)
        });
        let (outcome, message) = match rest {
            Some(Rest {
                rest_outcome: Some(o),
                rest_message,
            }) => (o.parse().map_err(decode)?, rest_message),
            _ => (LineState::Pending, None),
        };
        let own: Vec<ChangeLine> = rows
            .into_iter()
            .map(ChangeLine::try_from)
            .collect::<Result<_, _>>()?;
        let recorded: HashSet<i32> = own.iter().map(|l| l.seq).collect();
        let mut lines = own;
        for b in &blocks {
            for (seq, mdn, before) in b.lines()? {
                if seq < from || seq >= to || recorded.contains(&seq) {
                    continue;
                }
                lines.push(ChangeLine {
                    seq,
                    mdn,
                    before_value: before,
                    after_value: b.after_value.clone(),
                    outcome,
                    message: message.clone(),
                });
            }
        }
        lines.sort_by_key(|l| l.seq);
        Ok(lines)
    }

    /// One page of a change set stored in blocks (`end` from [`Db::change_blocks_end`]): lines
    /// `offset..` in order, only those with `outcome` when given (then read a block at a time).
    pub(super) async fn change_block_page(
        &self,
        id: &str,
        end: i32,
        outcome: Option<LineState>,
        offset: u64,
        limit: usize,
    ) -> Result<Vec<ChangeLine>, sqlx::Error> {
        let Some(wanted) = outcome else {
            let from = i32::try_from(offset).unwrap_or(i32::MAX);
            let to = from.saturating_add(i32::try_from(limit).unwrap_or(i32::MAX));
            return self.change_block_lines(id, from, to).await;
        };
        let mut skip = offset;
        let mut page = Vec::with_capacity(limit);
        let mut from = 0;
        while from < end && page.len() < limit {
            let to = from.saturating_add(SCAN);
            for l in self.change_block_lines(id, from, to).await? {
                if l.outcome != wanted {
                    continue;
                }
                if skip > 0 {
                    skip -= 1;
                } else if page.len() < limit {
                    page.push(l);
                }
            }
            from = to;
        }
        Ok(page)
    }
}
