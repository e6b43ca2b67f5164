//! CSV import plans between preview and confirmation: stored with an expiry, taken once (both backends).

use time::OffsetDateTime;

use super::Db;
use super::sqlutil::{later, stamp, with_pool};

impl Db {
    /// Stores a plan that expires after `ttl`; replaces the owner's earlier plan for this group
    /// and drops every expired plan, so the table stays as small as the users previewing now.
    pub async fn import_plan_put(
        &self,
        id: &str,
        subject: &str,
        corp_id: &str,
        plan: &str,
        ttl: std::time::Duration,
    ) -> Result<(), sqlx::Error> {
        let now = OffsetDateTime::now_utc();
        let (created, expires) = (stamp(now), stamp(later(now, ttl)));
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM import_plans WHERE expires_at <= $1 OR (subject = $2 AND corp_id = $3)")
                .bind(&created)
                .bind(subject)
                .bind(corp_id)
                .execute(pool)
                .await?;
            sqlx::query(
                "INSERT INTO import_plans (id, subject, corp_id, created_at, expires_at, plan) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id)
            .bind(subject)
            .bind(corp_id)
            .bind(&created)
            .bind(&expires)
            .bind(plan)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The owner's unexpired plan, removed as it is read: a plan is applied at most once.
    pub async fn import_plan_take(
        &self,
        id: &str,
        subject: &str,
        corp_id: &str,
    ) -> Result<Option<String>, sqlx::Error> {
        let now = stamp(OffsetDateTime::now_utc());
        let sql = "DELETE FROM import_plans WHERE id = $1 AND subject = $2 AND corp_id = $3 AND expires_at > $4 RETURNING plan";
        let plan: Option<(String,)> = with_pool!(self, pool => {
            sqlx::query_as(sql)
                .bind(id)
                .bind(subject)
                .bind(corp_id)
                .bind(&now)
                .fetch_optional(pool)
                .await?
        });
        Ok(plan.map(|(p,)| p))
    }
}
