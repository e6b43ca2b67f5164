//! The job store: claiming under a lease, marking chunks started, recording them, finishing (both backends).

use super::*;

impl Db {
    /// Stores a new job in state `queued` with no lease.
    pub async fn job_create(&self, j: &NewJob) -> Result<(), sqlx::Error> {
        let sql = JOB_INSERT;
        let now = stamp(OffsetDateTime::now_utc());
        with_pool!(self, pool => {
            sqlx::query(sql)
                .bind(j.id.to_string())
                .bind(&now)
                .bind(&j.subject)
                .bind(&j.session_id)
                .bind(&j.corp_id)
                .bind(&j.action)
                .bind(j.total_chunks)
                .bind(j.total_lines)
                .bind(j.payload.to_string())
                .execute(pool)
                .await
                .map(|_| ())
        })
    }

    pub async fn job_get(&self, id: Uuid) -> Result<Option<Job>, sqlx::Error> {
        let sql = format!("SELECT {COLUMNS} FROM jobs WHERE id = $1");
        let row = with_pool!(self, pool => {
            sqlx::query_as::<_, JobRow>(&sql)
                .bind(id.to_string())
                .fetch_optional(pool)
                .await?
        });
        job_from(row)
    }

    /// Atomically claims job `id` for `owner` (an instance id) for `lease`, when it is unfinished and
    /// its lease is free, expired or already `owner`'s (then this renews it). Returns the job if claimed.
    pub async fn job_claim(
        &self,
        id: Uuid,
        owner: &str,
        lease: Duration,
    ) -> Result<Option<Job>, sqlx::Error> {
        let now = OffsetDateTime::now_utc();
        let sql = format!(
            "UPDATE jobs SET {CLAIM_SET} WHERE id = $4 AND state IN ('queued', 'running') \
             AND (lease_until IS NULL OR lease_until < $3 OR lease_owner = $1) RETURNING {COLUMNS}"
        );
        let row = with_pool!(self, pool => {
            sqlx::query_as::<_, JobRow>(&sql)
                .bind(owner)
                .bind(stamp(later(now, lease)))
                .bind(stamp(now))
                .bind(id.to_string())
                .fetch_optional(pool)
                .await?
        });
        job_from(row)
    }

    /// Claims the oldest unfinished job whose lease is free or expired (a job left behind by a dead
    /// instance, or queued and not yet picked up), in one atomic statement.
    pub async fn job_claim_next(
        &self,
        owner: &str,
        lease: Duration,
    ) -> Result<Option<Job>, sqlx::Error> {
        let now = OffsetDateTime::now_utc();
        let claimable =
            "state IN ('queued', 'running') AND (lease_until IS NULL OR lease_until < $3)";
        // PostgreSQL: skip rows another instance is claiming right now instead of waiting for them.
        // SQLite serialises writers, so the plain subquery is already race-free there.
        let lock = match self {
            Db::Postgres(_) => " FOR UPDATE SKIP LOCKED",
            Db::Sqlite(_) => "",
        };
        let sql = format!(
            "UPDATE jobs SET {CLAIM_SET} WHERE id = (SELECT id FROM jobs WHERE {claimable} \
             ORDER BY created_at, id LIMIT 1{lock}) AND {claimable} RETURNING {COLUMNS}"
        );
        let row = with_pool!(self, pool => {
            sqlx::query_as::<_, JobRow>(&sql)
                .bind(owner)
                .bind(stamp(later(now, lease)))
                .bind(stamp(now))
                .fetch_optional(pool)
                .await?
        });
        job_from(row)
    }

    /// Extends `owner`'s lease; `false` when the job is finished or another owner has taken it.
    pub async fn job_renew_lease(
        &self,
        id: Uuid,
        owner: &str,
        lease: Duration,
    ) -> Result<bool, sqlx::Error> {
        let now = OffsetDateTime::now_utc();
        let sql = "UPDATE jobs SET lease_until = $1, updated_at = $2 \
             WHERE id = $3 AND lease_owner = $4 AND state = 'running'";
        let done = with_pool!(self, pool => {
            sqlx::query(sql)
                .bind(stamp(later(now, lease)))
                .bind(stamp(now))
                .bind(id.to_string())
                .bind(owner)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(done == 1)
    }

    /// Records one chunk's outcome and updates `done_chunks`. Only the lease owner of a running job
    /// may (`false` otherwise). Idempotent per (job, chunk): the first recorded outcome stands.
    /// A chunk number outside `0..total_chunks` is an `InvalidArgument` error.
    pub async fn job_record_chunk(
        &self,
        id: Uuid,
        owner: &str,
        outcome: &ChunkOutcome,
    ) -> Result<bool, sqlx::Error> {
        self.job_record_chunk_lines(id, owner, outcome, &[]).await
    }

    /// [`Db::job_record_chunk`] and the chunk's per-line results on the job's change set (same
    /// id), in the same transaction, so the two can never disagree.
    pub async fn job_record_chunk_lines(
        &self,
        id: Uuid,
        owner: &str,
        outcome: &ChunkOutcome,
        lines: &[LineResult],
    ) -> Result<bool, sqlx::Error> {
        self.job_record_chunks(id, owner, &[(outcome, lines)]).await
    }

    /// [`Db::job_record_chunk_lines`] for several chunks in one transaction (the outcomes that
    /// queued up while the job's previous write ran: one commit for all of them). All recorded,
    /// or none; `false` when `owner` no longer runs the job.
    pub async fn job_record_chunks(
        &self,
        id: Uuid,
        owner: &str,
        chunks: &[(&ChunkOutcome, &[LineResult])],
    ) -> Result<bool, sqlx::Error> {
        let now = stamp(OffsetDateTime::now_utc());
        let id = id.to_string();
        let mut rows = Vec::with_capacity(chunks.len());
        for (c, lines) in chunks {
            let failed = serde_json::to_string(&c.outcome.failed)
                .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
            let unknown = serde_json::to_string(&c.outcome.unknown)
                .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
            rows.push((*c, *lines, failed, unknown));
        }
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            // Writing first takes the row lock (PG) / write lock (SQLite) before anything is read.
            let total: Option<i32> = sqlx::query_scalar(
                "UPDATE jobs SET updated_at = $1 WHERE id = $2 AND lease_owner = $3 AND state = 'running' \
                 RETURNING total_chunks",
            )
            .bind(&now)
            .bind(&id)
            .bind(owner)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(total) = total else {
                tx.rollback().await?;
                return Ok(false);
            };
            for (c, lines, failed, unknown) in &rows {
                if c.chunk < 0 || c.chunk >= total {
                    tx.rollback().await?;
                    return Err(sqlx::Error::InvalidArgument(format!(
                        "chunk {} is outside 0..{total}",
                        c.chunk
                    )));
                }
                let outcome = &c.outcome;
                let inserted = sqlx::query(
                    "INSERT INTO job_chunks (job_id, chunk, recorded_at, recorded_by, updated, failed, unknown, \
                     upstream_status, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                     ON CONFLICT (job_id, chunk) DO NOTHING",
                )
                .bind(&id)
                .bind(c.chunk)
                .bind(&now)
                .bind(owner)
                .bind(i64::try_from(outcome.updated).unwrap_or(i64::MAX))
                .bind(failed)
                .bind(unknown)
                .bind(outcome.upstream_status.map(i32::from))
                .bind(&outcome.error)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                // The first record stands: a repeated one moves no line.
                if inserted == 1 && !lines.is_empty() {
                    record_lines!(tx, &id, &now, *lines);
                }
            }
            // Counted from the chunk rows, so a repeated record cannot inflate it.
            sqlx::query("UPDATE jobs SET done_chunks = (SELECT COUNT(*) FROM job_chunks WHERE job_id = $1) WHERE id = $1")
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(true)
    }

    /// Marks `chunk` as started by `owner`, before its upstream call. `true` means "send it now":
    /// `owner` holds the lease of the running job and no one had started this chunk before. `false`
    /// (lease lost, job finished, or already started — it may have been sent) means do not send.
    /// A chunk number outside `0..total_chunks` is an `InvalidArgument` error.
    pub async fn job_mark_chunk_started(
        &self,
        id: Uuid,
        owner: &str,
        chunk: i32,
    ) -> Result<bool, sqlx::Error> {
        self.job_start_chunk(id, owner, chunk, &[]).await
    }

    /// [`Db::job_mark_chunk_started`] with the chunk's lines' values before, `(seq, value)`, stored
    /// on the job's change set (same id) in the same transaction: one commit before the call.
    /// The values are stored only when the mark is (`true`).
    pub async fn job_start_chunk(
        &self,
        id: Uuid,
        owner: &str,
        chunk: i32,
        befores: &[(i32, String)],
    ) -> Result<bool, sqlx::Error> {
        let now = stamp(OffsetDateTime::now_utc());
        let id = id.to_string();
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            // Writing first takes the row lock (PG) / write lock (SQLite), as in job_record_chunk.
            let total: Option<i32> = sqlx::query_scalar(
                "UPDATE jobs SET updated_at = $1 WHERE id = $2 AND lease_owner = $3 AND state = 'running' \
                 RETURNING total_chunks",
            )
            .bind(&now)
            .bind(&id)
            .bind(owner)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(total) = total else {
                tx.rollback().await?;
                return Ok(false);
            };
            if chunk < 0 || chunk >= total {
                tx.rollback().await?;
                return Err(sqlx::Error::InvalidArgument(format!(
                    "chunk {chunk} is outside 0..{total}"
                )));
            }
            let inserted = sqlx::query(
                "INSERT INTO job_chunk_starts (job_id, chunk, started_at, started_by) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (job_id, chunk) DO NOTHING",
            )
            .bind(&id)
            .bind(chunk)
            .bind(&now)
            .bind(owner)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 1 {
                set_befores!(tx, &id, befores);
            }
            tx.commit().await?;
            Ok(inserted == 1)
        })
    }

    /// The job's sealed secret, while it runs (`None` once it has finished, or when it had none).
    pub async fn job_secret(&self, id: Uuid) -> Result<Option<String>, sqlx::Error> {
        with_pool!(self, pool => {
            sqlx::query_scalar::<_, String>("SELECT sealed FROM job_secrets WHERE job_id = $1")
                .bind(id.to_string())
                .fetch_optional(pool)
                .await
        })
    }

    /// Chunks marked started but without a recorded outcome (in flight, or lost with a dead
    /// instance), by chunk number.
    pub async fn job_started_unrecorded(&self, id: Uuid) -> Result<Vec<i32>, sqlx::Error> {
        let sql = "SELECT s.chunk FROM job_chunk_starts s WHERE s.job_id = $1 AND NOT EXISTS \
             (SELECT 1 FROM job_chunks c WHERE c.job_id = s.job_id AND c.chunk = s.chunk) \
             ORDER BY s.chunk";
        with_pool!(self, pool => {
            sqlx::query_scalar::<_, i32>(sql)
                .bind(id.to_string())
                .fetch_all(pool)
                .await
        })
    }

    /// The chunk outcomes recorded so far, by chunk number.
    pub async fn job_chunks(&self, id: Uuid) -> Result<Vec<ChunkOutcome>, sqlx::Error> {
        let sql = "SELECT chunk, updated, failed, unknown, upstream_status, error FROM job_chunks \
             WHERE job_id = $1 ORDER BY chunk";
        let rows = with_pool!(self, pool => {
            sqlx::query_as::<_, ChunkRow>(sql)
                .bind(id.to_string())
                .fetch_all(pool)
                .await?
        });
        rows.into_iter()
            .map(|r| {
                let failed: Vec<WriteFailure> = parse_json(&r.failed)?;
                let mut outcome = Outcome {
                    updated: u64::try_from(r.updated).unwrap_or_default(),
                    failed,
                    unknown: parse_json(&r.unknown)?,
                    upstream_status: r.upstream_status.and_then(|s| u16::try_from(s).ok()),
                    error: r.error,
                    ..Outcome::default()
                };
                // A refusal is the one result the counts cannot tell: Sentinel's 403.
                outcome.outcome = if outcome.upstream_status == Some(403) {
                    ChangeResult::Refused
                } else {
                    outcome.classify()
                };
                Ok(ChunkOutcome {
                    chunk: r.chunk,
                    outcome,
                })
            })
            .collect()
    }

    /// Ends a running job as `done` or `failed` with its `result`, releasing the lease. Only the lease
    /// owner may (`false` otherwise, or when already finished). Any other state is `InvalidArgument`.
    pub async fn job_finish(
        &self,
        id: Uuid,
        owner: &str,
        state: JobState,
        result: &Value,
    ) -> Result<bool, sqlx::Error> {
        Ok(self
            .finish(id, owner, state, result, None, None, false)
            .await?
            .is_some())
    }

    /// `job_finish` and the job's audit record in one transaction: the record is written exactly
    /// when the job is finished (so a crash between the two can neither lose nor repeat it).
    /// Returns the audit record's id, or `None` when `owner` could not finish the job.
    pub async fn job_finish_audited(
        &self,
        id: Uuid,
        owner: &str,
        state: JobState,
        result: &Value,
        audit: &NewAuditRecord,
    ) -> Result<Option<i64>, sqlx::Error> {
        self.finish(id, owner, state, result, Some(audit), None, false)
            .await
    }

    /// [`Db::job_finish_audited`] with a message for the job's change set (why it stopped).
    /// `needs_sign_in`: the job stopped because the user's sign-in was refused or ended, and its
    /// change set waits in `needs_sign_in` for the user to send the lines not sent.
    #[allow(clippy::too_many_arguments)]
    pub async fn job_finish_change(
        &self,
        id: Uuid,
        owner: &str,
        state: JobState,
        result: &Value,
        audit: &NewAuditRecord,
        message: Option<&str>,
        needs_sign_in: bool,
    ) -> Result<Option<i64>, sqlx::Error> {
        self.finish(
            id,
            owner,
            state,
            result,
            Some(audit),
            message,
            needs_sign_in,
        )
        .await
    }

    /// Finishes the job; `Some(audit id)` (0 when there was no record to write) if it did.
    #[allow(clippy::too_many_arguments)]
    async fn finish(
        &self,
        id: Uuid,
        owner: &str,
        state: JobState,
        result: &Value,
        audit: Option<&NewAuditRecord>,
        message: Option<&str>,
        needs_sign_in: bool,
    ) -> Result<Option<i64>, sqlx::Error> {
        if !state.is_finished() {
            return Err(sqlx::Error::InvalidArgument(format!(
                "a job finishes as done or failed, not {state}"
            )));
        }
        // The session is no longer needed once the job has ended: its id is not kept.
        let sql = "UPDATE jobs SET state = $1, result = $2, updated_at = $3, lease_until = NULL, \
             session_id = NULL WHERE id = $4 AND lease_owner = $5 AND state = 'running'";
        let now = stamp(OffsetDateTime::now_utc());
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(sql)
                .bind(state.as_str())
                .bind(result.to_string())
                .bind(&now)
                .bind(id.to_string())
                .bind(owner)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if done != 1 {
                tx.rollback().await?;
                return Ok(None);
            }
            let audit_id = match audit {
                Some(r) => audit_insert_query!(r, &now).fetch_one(&mut *tx).await?,
                None => 0,
            };
            // The job's change set (same id, when it has one) ends with it, and its secret
            // (a SmartSpot's Wi-Fi password) is gone with it.
            let job_id = id.to_string();
            sqlx::query("DELETE FROM job_secrets WHERE job_id = $1")
                .bind(&job_id)
                .execute(&mut *tx)
                .await?;
            finish_change_set!(tx, &job_id, &now, message);
            if needs_sign_in {
                sqlx::query(
                    "UPDATE change_sets SET state = 'needs_sign_in' \
                     WHERE id = $1 AND state IN ('failed', 'done_with_failures')",
                )
                .bind(&job_id)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(Some(audit_id))
        })
    }
}
