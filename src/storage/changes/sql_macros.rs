//! The SQL steps a change set shares with its job, run inside the caller's transaction: lines
//! inserted, recorded and settled when the change set ends, and the job stored beside it.

/// Moves pending lines of change set `$id` to their outcomes and adds them to its counts, inside
/// the caller's transaction `$tx`. Lines already out of `pending` are left as recorded.
macro_rules! record_lines {
    ($tx:expr, $id:expr, $now:expr, $results:expr) => {{
        let (mut changed, mut failed, mut unknown) = (0i64, 0i64, 0i64);
        for (state, msg, seqs) in $crate::storage::changes::grouped($results) {
            for part in seqs.chunks($crate::storage::changes::UPDATE_BATCH) {
                let sql = format!(
                    "UPDATE change_lines SET outcome = $2, message = $3 WHERE change_id = $1 \
                     AND outcome = 'pending' AND seq IN ({})",
                    $crate::storage::changes::placeholders(4, part.len())
                );
                let mut q = sqlx::query(&sql).bind($id).bind(state.as_str()).bind(msg);
                for s in part {
                    q = q.bind(*s);
                }
                let n = i64::try_from(q.execute(&mut *$tx).await?.rows_affected()).unwrap_or(0);
                match state {
                    $crate::storage::changes::LineState::Changed => changed += n,
                    $crate::storage::changes::LineState::Failed => failed += n,
                    _ => unknown += n,
                }
            }
        }
        sqlx::query(
            "UPDATE change_sets SET changed = changed + $1, failed = failed + $2, \
             unknown = unknown + $3, updated_at = $4 WHERE id = $5",
        )
        .bind(changed)
        .bind(failed)
        .bind(unknown)
        .bind($now)
        .bind($id)
        .execute(&mut *$tx)
        .await?;
    }};
}
pub(in crate::storage) use record_lines;

/// Ends change set `$id` inside the caller's transaction: lines still pending become unknown,
/// the state follows from the counts, `$message` (if any) is kept.
macro_rules! finish_change_set {
    ($tx:expr, $id:expr, $now:expr, $message:expr) => {{
        let left = sqlx::query(
            "UPDATE change_lines SET outcome = 'unknown', message = $2 \
             WHERE change_id = $1 AND outcome = 'pending'",
        )
        .bind($id)
        .bind($crate::storage::changes::UNRECORDED_LINE)
        .execute(&mut *$tx)
        .await?
        .rows_affected();
        // Lines never recorded one by one (a select-all's blocks never settled) are unknown
        // through the change set: with no `rest_outcome` yet, every line not counted is one.
        let sql = format!(
            "UPDATE change_sets SET unknown = CASE WHEN rest_outcome IS NULL THEN total_lines - changed - failed \
             ELSE unknown + $1 END, rest_message = CASE WHEN rest_outcome IS NULL THEN $5 ELSE rest_message END, \
             rest_outcome = COALESCE(rest_outcome, 'unknown'), updated_at = $2, finished_at = $2, \
             message = COALESCE($3, message), state = {} WHERE id = $4 AND state = 'running'",
            $crate::storage::changes::FINISHED_STATE
        );
        sqlx::query(&sql)
            .bind(i64::try_from(left).unwrap_or(0))
            .bind($now)
            .bind($message)
            .bind($id)
            .bind($crate::storage::changes::UNRECORDED_LINE)
            .execute(&mut *$tx)
            .await?;
    }};
}
pub(in crate::storage) use finish_change_set;

/// Inserts `$lines` (numbered from 0 in order, state `pending`) into change set `$id` inside the
/// caller's transaction `$tx`, [`INSERT_BATCH`] lines a statement.
macro_rules! insert_lines {
    ($tx:expr, $id:expr, $lines:expr) => {{
        let lines: &[NewLine] = $lines;
        for (b, batch) in lines.chunks(INSERT_BATCH).enumerate() {
            let rows: Vec<String> = (0..batch.len())
                .map(|i| {
                    format!(
                        "($1, ${}, ${}, ${}, ${}, 'pending')",
                        4 * i + 2,
                        4 * i + 3,
                        4 * i + 4,
                        4 * i + 5
                    )
                })
                .collect();
            let sql = format!(
                "INSERT INTO change_lines (change_id, seq, mdn, before_value, after_value, outcome) VALUES {}",
                rows.join(", ")
            );
            let mut q = sqlx::query(&sql).bind($id);
            for (i, l) in batch.iter().enumerate() {
                let seq = i32::try_from(b * INSERT_BATCH + i).unwrap_or(i32::MAX);
                q = q.bind(seq).bind(&l.mdn).bind(&l.before).bind(&l.after);
            }
            q.execute(&mut *$tx).await?;
        }
    }};
}

/// Binds a [`NewJob`] to [`JOB_INSERT`].
macro_rules! job_insert_query {
    ($j:expr, $now:expr) => {{
        let j: &NewJob = $j;
        sqlx::query(JOB_INSERT)
            .bind(j.id.to_string())
            .bind($now)
            .bind(&j.subject)
            .bind(&j.session_id)
            .bind(&j.corp_id)
            .bind(&j.action)
            .bind(j.total_chunks)
            .bind(j.total_lines)
            .bind(j.payload.to_string())
    }};
}
pub(super) use insert_lines;
pub(super) use job_insert_query;
