//! Sealed values at start-up: the database's key check (one `TOKEN_ENCRYPTION_KEY` per
//! database) and kept sign-ins sealed before values were bound to their rows, sealed again.

use time::OffsetDateTime;
use uuid::Uuid;

use super::Db;
use super::sqlutil::{stamp, with_pool};
use crate::crypto::{Row, TokenCipher};

/// The text sealed in the check row.
const CHECK_TEXT: &str = "sentinel-console key check v1";

/// Why an instance with another key must not start on this database.
pub const ANOTHER_KEY: &str = "TOKEN_ENCRYPTION_KEY does not match the key this database was \
    first used with (its key check value does not open): every instance that shares DATABASE_URL \
    must have the same TOKEN_ENCRYPTION_KEY (an unset one means this instance's own key file \
    under DATA_DIR). With another key this instance could read no session and no kept sign-in, \
    and would send scheduled changes to needs_sign_in. Set the key the other instances use; to \
    change the key on purpose, stop every instance and delete the row of the key_check table \
    (every session and kept sign-in is then lost)";

impl Db {
    /// At the first start, stores a value sealed with `cipher`; at every start, refuses (with
    /// [`ANOTHER_KEY`]) when the stored one does not open with it.
    pub async fn check_key(&self, cipher: &TokenCipher) -> anyhow::Result<()> {
        let fresh = cipher.seal(CHECK_TEXT, Row::KeyCheck);
        let now = stamp(OffsetDateTime::now_utc());
        let stored: String = with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO key_check (id, sealed, created_at) VALUES (1, $1, $2) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(&fresh)
            .bind(&now)
            .execute(pool)
            .await?;
            sqlx::query_scalar("SELECT sealed FROM key_check WHERE id = 1")
                .fetch_one(pool)
                .await?
        });
        match cipher.open(&stored, Row::KeyCheck) {
            Ok(text) if text == CHECK_TEXT => Ok(()),
            _ => anyhow::bail!(ANOTHER_KEY),
        }
    }

    /// Seals again, for their own id, the grants sealed in the first format; how many.
    pub async fn reseal_legacy_grants(&self, cipher: &TokenCipher) -> Result<usize, sqlx::Error> {
        let rows: Vec<(String, String)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT id, sealed FROM grants WHERE sealed LIKE 'v1.%'")
                .fetch_all(pool)
                .await?
        });
        let mut done = 0;
        for (id, old) in rows {
            let Some(new) = Uuid::parse_str(&id)
                .ok()
                .and_then(|g| cipher.reseal(&old, Row::Grant(g)))
            else {
                continue;
            };
            let n = with_pool!(self, pool => {
                sqlx::query("UPDATE grants SET sealed = $1 WHERE id = $2 AND sealed = $3")
                    .bind(&new)
                    .bind(&id)
                    .bind(&old)
                    .execute(pool)
                    .await?
                    .rows_affected()
            });
            done += n as usize;
        }
        Ok(done)
    }
}
