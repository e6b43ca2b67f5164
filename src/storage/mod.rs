//! The database: SQLite (embedded default) or PostgreSQL (shared by several instances), migrations, session store.

pub mod audit;
pub mod changes;
pub mod grants;
pub mod imports;
pub mod jobs;
pub mod retry;
pub mod sealing;
pub mod sessions;
mod sqlutil;
pub mod usage;

pub(crate) use sqlutil::later;

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

/// A connection pool to one of the two supported databases.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The SQLite file holds sessions and the audit: created 0600 (SQLite gives its `-wal` and
/// `-shm` files the same mode), and an existing one narrowed to 0600.
fn private_db_file(path: &std::path::Path) -> anyhow::Result<()> {
    let name = path.as_os_str();
    if name.is_empty() || name == ":memory:" {
        return Ok(());
    }
    match crate::crypto::private_file(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            crate::crypto::narrow_to_owner(path)
        }
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}

impl Db {
    /// Connects and runs the migrations of `migrations/<backend>/`.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(5))
                .connect(url)
                .await
                .context("connecting to PostgreSQL")?;
            sqlx::migrate!("migrations/postgres")
                .run(&pool)
                .await
                .context("running PostgreSQL migrations")?;
            Ok(Db::Postgres(pool))
        } else if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)
                .context("parsing DATABASE_URL")?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(5));
            if let Some(parent) = opts.get_filename().parent() {
                crate::crypto::create_dir_private(parent)?;
            }
            private_db_file(opts.get_filename())?;
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(opts)
                .await
                .context("opening SQLite")?;
            sqlx::migrate!("migrations/sqlite")
                .run(&pool)
                .await
                .context("running SQLite migrations")?;
            Ok(Db::Sqlite(pool))
        } else {
            anyhow::bail!("DATABASE_URL must start with sqlite: or postgres://")
        }
    }

    /// Is the database reachable? (`/readyz`)
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        match self {
            Db::Sqlite(p) => sqlx::query("SELECT 1").execute(p).await.map(|_| ()),
            Db::Postgres(p) => sqlx::query("SELECT 1").execute(p).await.map(|_| ()),
        }
    }

    /// The pool's open connections, idle connections and maximum (`/metrics`).
    pub fn pool_use(&self) -> (u32, usize, u32) {
        match self {
            Db::Sqlite(p) => (p.size(), p.num_idle(), p.options().get_max_connections()),
            Db::Postgres(p) => (p.size(), p.num_idle(), p.options().get_max_connections()),
        }
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }
}
