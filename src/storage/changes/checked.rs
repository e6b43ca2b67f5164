//! Lines of unknown outcome settled after a check with Sentinel: each line's value read again
//! says whether the change reached it (rows of their own, and select-all blocks' lines).

use super::*;

/// One line of unknown outcome, as a check with Sentinel settled it.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckedLine {
    pub seq: i32,
    pub mdn: String,
    pub before: Option<String>,
    pub after: Option<String>,
    /// `Changed` (it has the new value) or `Failed` (it still has its value before).
    pub outcome: LineState,
    pub message: Option<String>,
}

impl Db {
    /// Settles `lines`, each still of unknown outcome, as the check found them, and moves the
    /// change set's counts (and its state) with them, in one transaction. A line no longer
    /// unknown (settled by an earlier check) is left as it is. Returns the lines settled.
    pub async fn change_settle_checked(
        &self,
        id: Uuid,
        lines: &[CheckedLine],
    ) -> Result<u64, sqlx::Error> {
        let id = id.to_string();
        let now = stamp(OffsetDateTime::now_utc());
        // The state follows the new counts: a second statement, as an UPDATE's expressions read
        // the row as it was.
        let state_sql = format!(
            "UPDATE change_sets SET state = {FINISHED_STATE} WHERE id = $1 \
             AND state IN ('done', 'failed', 'done_with_failures')"
        );
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            // A select-all's lines without a row of their own are unknown through the change set.
            let rest: Option<String> =
                sqlx::query_scalar("SELECT rest_outcome FROM change_sets WHERE id = $1")
                    .bind(&id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .flatten();
            let (mut changed, mut failed) = (0i64, 0i64);
            for l in lines {
                if !matches!(l.outcome, LineState::Changed | LineState::Failed) {
                    continue;
                }
                let mut n = sqlx::query(
                    "UPDATE change_lines SET outcome = $3, message = $4 WHERE change_id = $1 \
                     AND seq = $2 AND outcome = 'unknown'",
                )
                .bind(&id)
                .bind(l.seq)
                .bind(l.outcome.as_str())
                .bind(&l.message)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n == 0 && rest.as_deref() == Some("unknown") {
                    n = sqlx::query(
                        "INSERT INTO change_lines (change_id, seq, mdn, before_value, after_value, \
                         outcome, message) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                         ON CONFLICT (change_id, seq) DO NOTHING",
                    )
                    .bind(&id)
                    .bind(l.seq)
                    .bind(&l.mdn)
                    .bind(&l.before)
                    .bind(&l.after)
                    .bind(l.outcome.as_str())
                    .bind(&l.message)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                }
                if n == 1 {
                    match l.outcome {
                        LineState::Changed => changed += 1,
                        _ => failed += 1,
                    }
                }
            }
            sqlx::query(
                "UPDATE change_sets SET unknown = unknown - $2, changed = changed + $3, \
                 failed = failed + $4, updated_at = $5 WHERE id = $1",
            )
            .bind(&id)
            .bind(changed + failed)
            .bind(changed)
            .bind(failed)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(&state_sql).bind(&id).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(u64::try_from(changed + failed).unwrap_or_default())
        })
    }
}
