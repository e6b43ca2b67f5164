//! Sealed sign-in grants: a user's tokens kept (encrypted by the caller) for changes that run
//! on their behalf later; `generation` makes each refresh a compare-and-swap across instances.

use time::OffsetDateTime;
use uuid::Uuid;

use super::Db;
use super::sqlutil::{stamp, with_pool};

/// A stored grant: the sealed text and its generation.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredGrant {
    pub subject: String,
    pub sealed: String,
    pub generation: i64,
}

impl Db {
    pub async fn grant_insert(
        &self,
        id: Uuid,
        subject: &str,
        sealed: &str,
    ) -> Result<(), sqlx::Error> {
        let now = stamp(OffsetDateTime::now_utc());
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO grants (id, subject, created_at, updated_at, sealed, generation) \
                 VALUES ($1, $2, $3, $3, $4, 0)",
            )
            .bind(id.to_string())
            .bind(subject)
            .bind(&now)
            .bind(sealed)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    pub async fn grant_get(&self, id: Uuid) -> Result<Option<StoredGrant>, sqlx::Error> {
        let row: Option<(String, String, i64)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT subject, sealed, generation FROM grants WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(|(subject, sealed, generation)| StoredGrant {
            subject,
            sealed,
            generation,
        }))
    }

    /// Replaces the sealed text if the grant is still at `generation`. `false`: another refresh won.
    pub async fn grant_update(
        &self,
        id: Uuid,
        generation: i64,
        sealed: &str,
    ) -> Result<bool, sqlx::Error> {
        let now = stamp(OffsetDateTime::now_utc());
        let n = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE grants SET sealed = $1, generation = generation + 1, updated_at = $2 \
                 WHERE id = $3 AND generation = $4",
            )
            .bind(sealed)
            .bind(&now)
            .bind(id.to_string())
            .bind(generation)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }

    /// Grants made before `before` that no waiting or running change set names (their session
    /// is past its lifetime too, since a grant is made from a live session).
    pub async fn grant_orphans(
        &self,
        before: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<Uuid>, sqlx::Error> {
        let ids: Vec<String> = with_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT id FROM grants WHERE created_at < $1 AND NOT EXISTS (SELECT 1 FROM change_sets c \
                 WHERE c.grant_id = grants.id AND c.state IN ('scheduled', 'awaiting_approval', 'running', 'needs_sign_in')) \
                 AND NOT EXISTS (SELECT 1 FROM usage_tracking u WHERE u.grant_id = grants.id AND u.state = 'active') \
                 LIMIT $2",
            )
            .bind(stamp(before))
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        Ok(ids.iter().filter_map(|i| Uuid::parse_str(i).ok()).collect())
    }

    pub async fn grant_delete(&self, id: Uuid) -> Result<(), sqlx::Error> {
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM grants WHERE id = $1")
                .bind(id.to_string())
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}
