//! A change set whose lines arrive as a stream (a select-all change): lines appended a batch at
//! a time, each batch in its own short transaction, and the outcome of the one bulk call set on
//! every line in the database, so no step holds all the lines in memory.

use super::*;

/// Lines per SQLite INSERT … SELECT FROM json_each.
const JSON_BATCH: usize = 10_000;

/// Adds `$1` lines to change set `$3`'s total.
const TOTAL_PLUS: &str =
    "UPDATE change_sets SET total_lines = total_lines + $1, updated_at = $2 WHERE id = $3";

impl Db {
    /// Appends `lines` to change set `id` as lines `first..` (state `pending`) and adds them to
    /// its total, in one short transaction (PostgreSQL: one `COPY`, several times faster than
    /// multi-row INSERTs for the 100,000 lines of a large select-all).
    pub async fn change_append_lines(
        &self,
        id: Uuid,
        first: i32,
        lines: &[NewLine],
    ) -> Result<(), sqlx::Error> {
        let id = id.to_string();
        let now = stamp(OffsetDateTime::now_utc());
        let added = i64::try_from(lines.len()).unwrap_or(i64::MAX);
        let seq = |i: usize| first.saturating_add(i32::try_from(i).unwrap_or(i32::MAX));
        match self {
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                let mut copy = tx
                    .copy_in_raw(
                        "COPY change_lines (change_id, seq, mdn, before_value, after_value, outcome) \
                         FROM STDIN WITH (FORMAT csv)",
                    )
                    .await?;
                let mut data = String::with_capacity(lines.len() * 64);
                for (i, l) in lines.iter().enumerate() {
                    copy_row(&mut data, &id, seq(i), l);
                }
                copy.send(data.into_bytes()).await?;
                copy.finish().await?;
                sqlx::query(TOTAL_PLUS)
                    .bind(added)
                    .bind(&now)
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
            Db::Sqlite(pool) => {
                // One statement per batch, its lines one JSON text expanded by `json_each` inside
                // SQLite: binding 4 parameters a line made storing 100,000 lines ~10x slower.
                let mut tx = pool.begin().await?;
                for (b, batch) in lines.chunks(JSON_BATCH).enumerate() {
                    let rows: Vec<(&str, Option<&str>, Option<&str>)> = batch
                        .iter()
                        .map(|l| (l.mdn.as_str(), l.before.as_deref(), l.after.as_deref()))
                        .collect();
                    let json = serde_json::to_string(&rows)
                        .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
                    sqlx::query(
                        "INSERT INTO change_lines (change_id, seq, mdn, before_value, after_value, outcome) \
                         SELECT $1, $2 + CAST(j.key AS INTEGER), json_extract(j.value, '$[0]'), \
                         json_extract(j.value, '$[1]'), json_extract(j.value, '$[2]'), 'pending' \
                         FROM json_each($3) AS j",
                    )
                    .bind(&id)
                    .bind(seq(b * JSON_BATCH))
                    .bind(json)
                    .execute(&mut *tx)
                    .await?;
                }
                sqlx::query(TOTAL_PLUS)
                    .bind(added)
                    .bind(&now)
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// Records the one call of a streamed change set: the lines named in `failed` (by MDN as
    /// stored, with Sentinel's reason) failed, every other pending line gets `rest` (with
    /// `note`), and the counts move with them, in one transaction.
    pub async fn change_settle_all(
        &self,
        id: Uuid,
        failed: &[(String, String)],
        rest: LineState,
        note: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        let id = id.to_string();
        let now = stamp(OffsetDateTime::now_utc());
        let mut by_reason: Vec<(&str, Vec<&str>)> = Vec::new();
        for (mdn, reason) in failed {
            match by_reason.iter_mut().find(|g| g.0 == reason.as_str()) {
                Some(g) => g.1.push(mdn),
                None => by_reason.push((reason, vec![mdn])),
            }
        }
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let mut n_failed = 0i64;
            for (reason, mdns) in &by_reason {
                for part in mdns.chunks(UPDATE_BATCH) {
                    let sql = format!(
                        "UPDATE change_lines SET outcome = 'failed', message = $2 WHERE change_id = $1 \
                         AND outcome = 'pending' AND mdn IN ({})",
                        placeholders(3, part.len())
                    );
                    let mut q = sqlx::query(&sql).bind(&id).bind(*reason);
                    for m in part {
                        q = q.bind(*m);
                    }
                    n_failed += i64::try_from(q.execute(&mut *tx).await?.rows_affected()).unwrap_or(0);
                }
            }
            let n_rest = sqlx::query(
                "UPDATE change_lines SET outcome = $2, message = $3 WHERE change_id = $1 AND outcome = 'pending'",
            )
            .bind(&id)
            .bind(rest.as_str())
            .bind(note)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            let n_rest = i64::try_from(n_rest).unwrap_or(0);
            let (changed, unknown) = match rest {
                LineState::Changed => (n_rest, 0),
                LineState::Failed => {
                    n_failed += n_rest;
                    (0, 0)
                }
                _ => (0, n_rest),
            };
            sqlx::query(
                "UPDATE change_sets SET changed = changed + $1, failed = failed + $2, \
                 unknown = unknown + $3, updated_at = $4 WHERE id = $5",
            )
            .bind(changed)
            .bind(n_failed)
            .bind(unknown)
            .bind(&now)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }
}

/// One line as a `COPY … (FORMAT csv)` row: every value quoted (so an empty text stays empty),
/// a missing one left empty (NULL).
fn copy_row(out: &mut String, id: &str, seq: i32, l: &NewLine) {
    let quoted = |out: &mut String, v: &str| {
        out.push('"');
        out.push_str(&v.replace('"', "\"\""));
        out.push('"');
    };
    quoted(out, id);
    out.push(',');
    out.push_str(&seq.to_string());
    out.push(',');
    quoted(out, &l.mdn);
    for v in [&l.before, &l.after] {
        out.push(',');
        if let Some(v) = v {
            quoted(out, v);
        }
    }
    out.push_str(",pending\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_rows_quote_values_and_leave_nulls_empty() {
        let mut out = String::new();
        let line = NewLine {
            mdn: "521-267-1508".into(),
            before: Some(String::new()),
            after: Some("say \"hi\", then\nleave".into()),
        };
        copy_row(&mut out, "x", 7, &line);
        copy_row(
            &mut out,
            "x",
            8,
            &NewLine {
                before: None,
                ..line
            },
        );
        assert_eq!(
            out,
            "\"x\",7,\"521-267-1508\",\"\",\"say \"\"hi\"\", then\nleave\",pending\n\
             \"x\",8,\"521-267-1508\",,\"say \"\"hi\"\", then\nleave\",pending\n"
        );
    }
}
