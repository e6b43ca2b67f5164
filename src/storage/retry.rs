//! A database step tried again, with backoff, while it fails for a passing reason: work that
//! runs in the background never drops a result because another writer held the lock a moment.

use std::time::{Duration, Instant};

/// How long a job's database step keeps being tried while the database is busy: two leases,
/// so that a busy spell under load (a large change set being stored beside this one, many
/// writers on SQLite) does not fail lines that were never sent.
pub const DB_PATIENCE: Duration = Duration::from_secs(60);

/// Runs a database step again, with backoff, while it fails for a passing reason (a busy
/// SQLite, a pool momentarily exhausted, a dropped connection) for up to [`DB_PATIENCE`]: a
/// chunk's result is never dropped because another writer held the lock for a while. Any
/// other error (a constraint, a bad statement) is returned at once. Every step retried here
/// is idempotent.
pub async fn retrying<T, F, Fut>(what: &str, mut step: F) -> Result<T, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
{
    let began = Instant::now();
    let mut delay = Duration::from_millis(25);
    let mut attempt = 1;
    loop {
        match step().await {
            Ok(v) => return Ok(v),
            Err(e) if transient(&e) && began.elapsed() < DB_PATIENCE => {
                tracing::warn!(step = what, attempt, error = %e, "database busy; trying again");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
                attempt += 1;
            }
            Err(e) => {
                if attempt > 1 {
                    tracing::error!(step = what, attempt, error = %e, "database step given up");
                }
                return Err(e);
            }
        }
    }
}

/// Errors worth another try: the database busy or the connection, not the request itself.
pub fn transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => busy(d.code().as_deref()),
        sqlx::Error::PoolTimedOut
        | sqlx::Error::Io(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        _ => false,
    }
}

/// A database error code that says "not now" rather than "never": SQLite busy or locked
/// (any extended code of SQLITE_BUSY, 5, or SQLITE_LOCKED, 6), PostgreSQL's classes 08
/// (connection), 40 (rolled back: serialization, deadlock), 53 (resources), 57 (shutdown),
/// and 55P03 (lock not available).
pub fn busy(code: Option<&str>) -> bool {
    let Some(code) = code else {
        return false;
    };
    // PostgreSQL's SQLSTATEs are five characters (some all digits, like 40001); SQLite's
    // codes are shorter numbers.
    if code.len() != 5 {
        if let Ok(n) = code.parse::<i64>() {
            return matches!(n & 0xff, 5 | 6);
        }
    }
    ["08", "40", "53", "57"]
        .iter()
        .any(|class| code.starts_with(class))
        || code == "55P03"
}
