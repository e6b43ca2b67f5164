//! The change-set store: creating change sets with their lines, recording and reading them (both backends).

use super::*;

impl Db {
    /// Stores a change set in state `running` (or waiting, see [`Waiting`]) with its lines (numbered from 0 in order), and the
    /// job that will run it when there is one, in one transaction: all of it or nothing.
    pub async fn change_create(
        &self,
        c: &NewChangeSet,
        lines: &[NewLine],
        job: Option<&NewJob>,
    ) -> Result<(), sqlx::Error> {
        let now = stamp(OffsetDateTime::now_utc());
        let id = c.id.to_string();
        let sql = format!(
            "INSERT INTO change_sets ({COLUMNS}) VALUES ($1, $2, $2, NULL, $3, $4, $5, $6, $7, $8, $9, \
             $10, $14, $11, 0, 0, 0, NULL, $12, $13)"
        );
        let total = i64::try_from(lines.len()).unwrap_or(i64::MAX);
        let sql_lines = insert_lines_sql(self);
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(&sql)
                .bind(&id)
                .bind(&now)
                .bind(&c.subject)
                .bind(&c.user_name)
                .bind(&c.corp_id)
                .bind(&c.action)
                .bind(c.fields.to_string())
                .bind(&c.summary)
                .bind(c.selection.to_string())
                .bind(&c.selection_text)
                .bind(total)
                .bind(c.parent_id.map(|p| p.to_string()))
                .bind(c.origin.as_str())
                .bind(c.waiting.as_ref().map_or("running", |w| w.state.as_str()))
                .execute(&mut *tx)
                .await?;
            if let Some(w) = &c.waiting {
                sqlx::query(
                    "UPDATE change_sets SET plan = $2, run_at = $3, request_reason = $4, expires_at = $5, \
                     grant_id = $6 WHERE id = $1",
                )
                .bind(&id)
                .bind(w.plan.to_string())
                .bind(w.run_at.map(stamp))
                .bind(&w.reason)
                .bind(w.expires_at.map(stamp))
                .bind(w.grant_id.map(|g| g.to_string()))
                .execute(&mut *tx)
                .await?;
            }
            insert_lines!(tx, &id, lines, sql_lines);
            if let Some(j) = job {
                job_insert_query!(j, &now).execute(&mut *tx).await?;
                if let Some(sealed) = &j.sealed {
                    sqlx::query("INSERT INTO job_secrets (job_id, sealed) VALUES ($1, $2)")
                        .bind(&id)
                        .bind(sealed)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Stores lines' values before the change, `(seq, value)`, in one short transaction per call.
    pub async fn change_set_befores(
        &self,
        id: Uuid,
        befores: &[(i32, String)],
    ) -> Result<(), sqlx::Error> {
        let id = id.to_string();
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            set_befores!(tx, &id, befores);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Records lines' outcomes (a change made without the job runner) in one transaction.
    pub async fn change_record_lines(
        &self,
        id: Uuid,
        results: &[LineResult],
    ) -> Result<(), sqlx::Error> {
        let id = id.to_string();
        let now = stamp(OffsetDateTime::now_utc());
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            record_lines!(tx, &id, &now, results);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Finishes a change set made without the job runner, with its audit record, in one transaction.
    pub async fn change_finish(
        &self,
        id: Uuid,
        message: Option<&str>,
        audit: Option<&NewAuditRecord>,
    ) -> Result<(), sqlx::Error> {
        let id = id.to_string();
        let now = stamp(OffsetDateTime::now_utc());
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            finish_change_set!(tx, &id, &now, message);
            if let Some(r) = audit {
                audit_insert_query!(r, &now).fetch_one(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn change_get(&self, id: Uuid) -> Result<Option<ChangeSet>, sqlx::Error> {
        let sql = format!("SELECT {SELECT_COLUMNS} FROM change_sets WHERE id = $1");
        let row = with_pool!(self, pool => {
            sqlx::query_as::<_, ChangeRow>(&sql)
                .bind(id.to_string())
                .fetch_optional(pool)
                .await?
        });
        row.map(ChangeSet::try_from).transpose()
    }

    /// One page of matching change sets, newest first, and how many match in all.
    pub async fn change_list(
        &self,
        f: &ChangeFilter,
    ) -> Result<(Vec<ChangeSet>, u64), sqlx::Error> {
        let mut conds: Vec<String> = Vec::new();
        let mut binds: Vec<String> = Vec::new();
        let mut any_of = |col: &str, values: Vec<String>| {
            let from = binds.len() + 1;
            conds.push(format!(
                "{col} IN ({})",
                placeholders(from, values.len().max(1))
            ));
            if values.is_empty() {
                // Nothing may match: an impossible value keeps the SQL valid.
                binds.push(String::new());
            }
            binds.extend(values);
        };
        if let Some(c) = &f.corp_ids {
            any_of("corp_id", c.clone());
        }
        if let Some(s) = &f.subject {
            any_of("subject", vec![s.clone()]);
        }
        if !f.states.is_empty() {
            any_of(
                "state",
                f.states.iter().map(|s| s.as_str().to_owned()).collect(),
            );
        }
        let cond = if conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conds.join(" AND "))
        };
        let n = binds.len();
        let count_sql = format!("SELECT COUNT(*) FROM change_sets{cond}");
        let list_sql = format!(
            "SELECT {SELECT_COLUMNS} FROM change_sets{cond} ORDER BY created_at DESC, id DESC LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let limit = i64::from(f.limit.clamp(1, 200));
        let offset = i64::try_from(f.offset).unwrap_or(i64::MAX);
        let (total, rows) = with_pool!(self, pool => {
            let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
            for b in &binds {
                count = count.bind(b);
            }
            let total = count.fetch_one(pool).await?;
            let mut list = sqlx::query_as::<_, ChangeRow>(&list_sql);
            for b in &binds {
                list = list.bind(b);
            }
            (total, list.bind(limit).bind(offset).fetch_all(pool).await?)
        });
        let sets = rows
            .into_iter()
            .map(ChangeSet::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((sets, u64::try_from(total).unwrap_or_default()))
    }

    /// One page of a change set's lines in order, only those with `outcome` when given.
    pub async fn change_lines_page(
        &self,
        id: Uuid,
        outcome: Option<LineState>,
        offset: u64,
        limit: u32,
    ) -> Result<Vec<ChangeLine>, sqlx::Error> {
        let sid = id.to_string();
        let end = self.change_blocks_end(&sid).await?;
        if end > 0 {
            let limit = usize::try_from(limit.clamp(1, 1_000)).unwrap_or(1_000);
            return self
                .change_block_page(&sid, end, outcome, offset, limit)
                .await;
        }
        let filter = if outcome.is_some() {
            format!(" AND {LINE_OUTCOME} = $4")
        } else {
            String::new()
        };
        let sql = format!(
            "{} WHERE l.change_id = $1{filter} ORDER BY l.seq LIMIT $2 OFFSET $3",
            lines_select()
        );
        let rows = with_pool!(self, pool => {
            let mut q = sqlx::query_as::<_, LineRow>(&sql)
                .bind(id.to_string())
                .bind(i64::from(limit.clamp(1, 1_000)))
                .bind(i64::try_from(offset).unwrap_or(i64::MAX));
            if let Some(o) = outcome {
                q = q.bind(o.as_str());
            }
            q.fetch_all(pool).await?
        });
        rows.into_iter().map(ChangeLine::try_from).collect()
    }

    /// Lines after `after_seq` in order, at most `limit`.
    async fn change_lines_after(
        &self,
        id: &str,
        after_seq: i32,
        limit: i64,
    ) -> Result<Vec<ChangeLine>, sqlx::Error> {
        if self.change_blocks_end(id).await? > 0 {
            let from = after_seq.saturating_add(1);
            let to = from.saturating_add(i32::try_from(limit).unwrap_or(i32::MAX));
            return self.change_block_lines(id, from, to).await;
        }
        let sql = format!(
            "{} WHERE l.change_id = $1 AND l.seq > $2 ORDER BY l.seq LIMIT $3",
            lines_select()
        );
        let rows = with_pool!(self, pool => {
            sqlx::query_as::<_, LineRow>(&sql)
                .bind(id)
                .bind(after_seq)
                .bind(limit)
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(ChangeLine::try_from).collect()
    }

    /// Every line of a change set in order, fetched a page at a time (bounded memory).
    pub fn change_lines_stream(
        &self,
        id: Uuid,
    ) -> impl Stream<Item = Result<Vec<ChangeLine>, sqlx::Error>> + Send + 'static {
        let db = self.clone();
        let id = id.to_string();
        stream::try_unfold(Some(-1), move |after| {
            let (db, id) = (db.clone(), id.clone());
            async move {
                let Some(after) = after else {
                    return Ok(None);
                };
                let page = db.change_lines_after(&id, after, STREAM_PAGE).await?;
                if page.is_empty() {
                    return Ok(None);
                }
                let next = (page.len() as i64 == STREAM_PAGE)
                    .then(|| page.last().map(|l| l.seq))
                    .flatten();
                Ok(Some((page, next)))
            }
        })
    }
}
