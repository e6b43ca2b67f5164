//! Change sets that wait: due scheduled changes claimed by one instance, released into a running
//! job, or decided on (rejected, cancelled, expired, needs sign-in), each with its audit entry.
//!
//! Every move out of a waiting state is one conditional UPDATE (`WHERE state = …`), so two
//! approvers, two schedulers or an approver and a canceller can never both win.

use super::*;

/// Who decided what about a waiting change set.
#[derive(Clone, Debug, Default)]
pub struct Decision {
    pub by: Option<String>,
    pub by_name: Option<String>,
    pub reason: Option<String>,
    /// Replaces the change set's message (e.g. "ran late").
    pub message: Option<String>,
    /// Replaces what it will run (an approval makes the approver the one it is sent for).
    pub plan: Option<Value>,
}

impl Db {
    /// Claims one scheduled change set that is due at `now` for `owner` for `lease` (another
    /// instance's lapsed claim may be taken over). PostgreSQL: `FOR UPDATE SKIP LOCKED`, so
    /// instances never wait on each other; SQLite: one conditional UPDATE (writers are serialised).
    pub async fn change_claim_due(
        &self,
        owner: &str,
        lease: std::time::Duration,
        now: OffsetDateTime,
    ) -> Result<Option<ChangeSet>, sqlx::Error> {
        let at = stamp(now);
        let until = stamp(super::super::sqlutil::later(now, lease));
        let due =
            "state = 'scheduled' AND run_at <= $1 AND (claim_until IS NULL OR claim_until < $1)";
        let id: Option<String> = match self {
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                let id: Option<String> = sqlx::query_scalar(&format!(
                    "SELECT id FROM change_sets WHERE {due} ORDER BY run_at LIMIT 1 FOR UPDATE SKIP LOCKED"
                ))
                .bind(&at)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(id) = &id {
                    sqlx::query("UPDATE change_sets SET claimed_by = $1, claim_until = $2 WHERE id = $3")
                        .bind(owner)
                        .bind(&until)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                id
            }
            Db::Sqlite(pool) => {
                sqlx::query_scalar(&format!(
                    "UPDATE change_sets SET claimed_by = $2, claim_until = $3 WHERE id = \
                     (SELECT id FROM change_sets WHERE {due} ORDER BY run_at LIMIT 1) AND {due} RETURNING id"
                ))
                .bind(&at)
                .bind(owner)
                .bind(&until)
                .fetch_optional(pool)
                .await?
            }
        };
        match id.as_deref().map(Uuid::parse_str) {
            Some(Ok(id)) => self.change_get(id).await,
            Some(Err(e)) => Err(decode(e)),
            None => Ok(None),
        }
    }

    /// Starts a waiting change set (from state `from`; a scheduled one only while `owner` holds
    /// its claim): state `running`, its lines replaced by `lines` when given (a select-all read at
    /// run time), its job stored, and `audit` (the approval) written, in one transaction. `false`:
    /// it was no longer waiting (someone else released, rejected or cancelled it); nothing stored.
    #[allow(clippy::too_many_arguments)]
    pub async fn change_release(
        &self,
        id: Uuid,
        from: ChangeState,
        owner: Option<&str>,
        decision: Option<&Decision>,
        lines: Option<&[NewLine]>,
        job: &NewJob,
        audit: Option<&NewAuditRecord>,
    ) -> Result<bool, sqlx::Error> {
        let now = stamp(OffsetDateTime::now_utc());
        let sid = id.to_string();
        let sql_lines = insert_lines_sql(self);
        let d = decision.cloned().unwrap_or_default();
        let claim = if owner.is_some() {
            " AND claimed_by = $9"
        } else {
            ""
        };
        let sql = format!(
            "UPDATE change_sets SET state = 'running', started_at = $2, updated_at = $2, \
             decided_by = COALESCE($3, decided_by), decided_by_name = COALESCE($4, decided_by_name), \
             decided_at = CASE WHEN $3 IS NULL THEN decided_at ELSE $2 END, \
             decision_reason = COALESCE($5, decision_reason), message = COALESCE($6, message) \
             WHERE id = $1 AND state = $7 AND $8 = $8{claim}"
        );
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let mut q = sqlx::query(&sql)
                .bind(&sid)
                .bind(&now)
                .bind(&d.by)
                .bind(&d.by_name)
                .bind(&d.reason)
                .bind(&d.message)
                .bind(from.as_str())
                .bind(1i64);
            if let Some(o) = owner {
                q = q.bind(o);
            }
            if q.execute(&mut *tx).await?.rows_affected() != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
            if let Some(lines) = lines {
                sqlx::query("DELETE FROM change_lines WHERE change_id = $1")
                    .bind(&sid)
                    .execute(&mut *tx)
                    .await?;
                insert_lines!(tx, &sid, lines, sql_lines);
                sqlx::query("UPDATE change_sets SET total_lines = $2 WHERE id = $1")
                    .bind(&sid)
                    .bind(i64::try_from(lines.len()).unwrap_or(i64::MAX))
                    .execute(&mut *tx)
                    .await?;
            }
            job_insert_query!(job, &now).execute(&mut *tx).await?;
            if let Some(r) = audit {
                audit_insert_query!(r, &now).fetch_one(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(true)
    }

    /// Replaces the plan of a change set still awaiting approval (a select-all bound to the
    /// lines an approver's preview showed). `false`: it is no longer waiting.
    pub async fn change_rebind(&self, id: Uuid, plan: &Value) -> Result<bool, sqlx::Error> {
        let now = stamp(OffsetDateTime::now_utc());
        let done = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE change_sets SET plan = $1, updated_at = $2 WHERE id = $3 \
                 AND state = 'awaiting_approval'",
            )
            .bind(plan.to_string())
            .bind(&now)
            .bind(id.to_string())
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(done == 1)
    }

    /// Moves a change set from one of `from` to `to` with `decision` and its audit entry, in one
    /// transaction (`to` = `scheduled` also sets `grant`). `false`: it was not in any of `from`.
    pub async fn change_decide(
        &self,
        id: Uuid,
        from: &[ChangeState],
        to: ChangeState,
        decision: &Decision,
        grant: Option<Uuid>,
        audit: Option<&NewAuditRecord>,
    ) -> Result<bool, sqlx::Error> {
        let now = stamp(OffsetDateTime::now_utc());
        let finished = to.is_finished().then(|| now.clone());
        let sql = format!(
            "UPDATE change_sets SET state = $2, updated_at = $3, finished_at = COALESCE($4, finished_at), \
             decided_by = COALESCE($5, decided_by), decided_by_name = COALESCE($6, decided_by_name), \
             decided_at = CASE WHEN $5 IS NULL THEN decided_at ELSE $3 END, \
             decision_reason = COALESCE($7, decision_reason), message = COALESCE($8, message), \
             grant_id = COALESCE($9, grant_id), plan = COALESCE($10, plan), claimed_by = NULL, \
             claim_until = NULL WHERE id = $1 AND state IN ({})",
            placeholders(11, from.len().max(1))
        );
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let mut q = sqlx::query(&sql)
                .bind(id.to_string())
                .bind(to.as_str())
                .bind(&now)
                .bind(&finished)
                .bind(&decision.by)
                .bind(&decision.by_name)
                .bind(&decision.reason)
                .bind(&decision.message)
                .bind(grant.map(|g| g.to_string()))
                .bind(decision.plan.as_ref().map(|p| p.to_string()));
            for s in from {
                q = q.bind(s.as_str());
            }
            if from.is_empty() {
                q = q.bind("");
            }
            if q.execute(&mut *tx).await?.rows_affected() != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
            if let Some(r) = audit {
                audit_insert_query!(r, &now).fetch_one(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(true)
    }

    /// Requests still waiting for a decision past their expiry, at most `limit`.
    pub async fn change_expired_requests(
        &self,
        now: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<ChangeSet>, sqlx::Error> {
        let sql = format!(
            "SELECT {SELECT_COLUMNS} FROM change_sets WHERE state = 'awaiting_approval' \
             AND expires_at IS NOT NULL AND expires_at < $1 ORDER BY expires_at LIMIT $2"
        );
        let rows = with_pool!(self, pool => {
            sqlx::query_as::<_, ChangeRow>(&sql)
                .bind(stamp(now))
                .bind(limit)
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(ChangeSet::try_from).collect()
    }

    /// Is a sealed grant still needed by a change set that has not run yet?
    pub async fn grant_in_use(&self, grant: Uuid) -> Result<bool, sqlx::Error> {
        let n: i64 = with_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT (SELECT COUNT(*) FROM change_sets WHERE grant_id = $1 \
                 AND state IN ('scheduled', 'awaiting_approval', 'running', 'needs_sign_in')) \
                 + (SELECT COUNT(*) FROM usage_tracking WHERE grant_id = $1 AND state = 'active')",
            )
            .bind(grant.to_string())
            .fetch_one(pool)
            .await?
        });
        Ok(n > 0)
    }
}
