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

/// Sets lines' values before the change, `$befores` as `(seq, value)`, on change set `$id`
/// inside the caller's transaction `$tx`: one statement per [`UPDATE_BATCH`] lines.
macro_rules! set_befores {
    ($tx:expr, $id:expr, $befores:expr) => {{
        let befores: &[(i32, String)] = $befores;
        for part in befores.chunks($crate::storage::changes::UPDATE_BATCH) {
            // One statement per batch: the VALUES list names its columns column1, column2 on both databases.
            let rows: Vec<String> = (0..part.len())
                .map(|i| format!("(CAST(${} AS INTEGER), CAST(${} AS TEXT))", 2 * i + 2, 2 * i + 3))
                .collect();
            let sql = format!(
                "UPDATE change_lines SET before_value = v.column2 FROM (VALUES {}) AS v \
                 WHERE change_lines.change_id = $1 AND change_lines.seq = v.column1",
                rows.join(", ")
            );
            let mut q = sqlx::query(&sql).bind($id);
            for (seq, value) in part {
                q = q.bind(*seq).bind(value);
            }
            q.execute(&mut *$tx).await?;
        }
    }};
}
pub(in crate::storage) use set_befores;

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
/// caller's transaction `$tx`, [`LINES_PER_INSERT`] lines a statement: one JSON text bound
/// (`[[mdn, before, after], …]`) and unpacked by the database (`$sql`, [`insert_lines_sql`]),
/// not four binds a line, so that a 50,000-line list is five short statements.
macro_rules! insert_lines {
    ($tx:expr, $id:expr, $lines:expr, $sql:expr) => {{
        let lines: &[NewLine] = $lines;
        for (b, batch) in lines
            .chunks($crate::storage::changes::sql_macros::LINES_PER_INSERT)
            .enumerate()
        {
            let rows: Vec<(&str, Option<&str>, Option<&str>)> = batch
                .iter()
                .map(|l| (l.mdn.as_str(), l.before.as_deref(), l.after.as_deref()))
                .collect();
            let data =
                serde_json::to_string(&rows).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
            let first = i32::try_from(b * $crate::storage::changes::sql_macros::LINES_PER_INSERT)
                .unwrap_or(i32::MAX);
            sqlx::query($sql)
                .bind($id)
                .bind(first)
                .bind(data)
                .execute(&mut *$tx)
                .await?;
        }
    }};
}

/// Lines per INSERT of [`insert_lines`] (one JSON text of a few hundred KiB).
pub(in crate::storage) const LINES_PER_INSERT: usize = 10_000;

/// The INSERT [`insert_lines`] runs on `db`: `$1` the change set, `$2` the first line's number,
/// `$3` the lines as a JSON array of `[mdn, before, after]`, unpacked in order.
pub(in crate::storage) fn insert_lines_sql(db: &crate::storage::Db) -> &'static str {
    match db {
        crate::storage::Db::Sqlite(_) => {
            "INSERT INTO change_lines (change_id, seq, mdn, before_value, after_value, outcome) \
             SELECT $1, $2 + CAST(j.key AS INTEGER), json_extract(j.value, '$[0]'), \
             json_extract(j.value, '$[1]'), json_extract(j.value, '$[2]'), 'pending' \
             FROM json_each($3) AS j ORDER BY j.key"
        }
        crate::storage::Db::Postgres(_) => {
            "INSERT INTO change_lines (change_id, seq, mdn, before_value, after_value, outcome) \
             SELECT $1, $2 + CAST(j.o AS INTEGER) - 1, j.v->>0, j.v->>1, j.v->>2, 'pending' \
             FROM json_array_elements(CAST($3 AS json)) WITH ORDINALITY AS j(v, o) ORDER BY j.o"
        }
    }
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
