//! A database step tried again, with backoff, while it fails for a passing reason: work that
//! runs in the background never drops a result because another writer held the lock a moment.

use std::time::Duration;

/// How many times a job's database step is tried before it is given up.
pub const DB_ATTEMPTS: u32 = 12;

/// Runs a database step again, with backoff, while it fails for a passing reason (a busy
/// SQLite, a pool momentarily exhausted, a dropped connection): a chunk's result is never
/// dropped because another writer held the lock for a moment. Every step retried here is
/// idempotent.
pub async fn retrying<T, F, Fut>(what: &str, mut step: F) -> Result<T, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
{
    let mut delay = Duration::from_millis(25);
    let mut attempt = 1;
    loop {
        match step().await {
            Ok(v) => return Ok(v),
            Err(e) if attempt < DB_ATTEMPTS && transient(&e) => {
                tracing::warn!(step = what, attempt, error = %e, "database busy; trying again");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Errors worth another try: the database or the connection, not the request itself.
pub fn transient(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::Database(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::Io(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed
    )
}
