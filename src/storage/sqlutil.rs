//! Helpers shared by the audit and job stores: one SQL text for both backends, timestamps and JSON kept as text.

use serde::de::DeserializeOwned;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, UtcOffset};

/// Runs `$body` with `$pool` bound to whichever pool `$db` holds. The body is expanded once per
/// backend, so generic sqlx code type-checks against each database. SQL uses `$1`-style
/// placeholders, which sqlx understands on SQLite as well as on PostgreSQL.
macro_rules! with_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::storage::Db::Sqlite($pool) => $body,
            $crate::storage::Db::Postgres($pool) => $body,
        }
    };
}
pub(super) use with_pool;

/// Fixed width (always 6 fractional digits, always `Z`) so that comparing the text compares the time.
const STAMP: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

/// A timestamp as stored: fixed-width RFC 3339 in UTC.
pub(super) fn stamp(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    // Formatting with a fixed description only fails for years beyond 9999; fall back to RFC 3339.
    t.format(STAMP)
        .or_else(|_| t.format(&Rfc3339))
        .unwrap_or_default()
}

/// The stored form of midnight UTC starting `d`.
pub(super) fn day_start(d: Date) -> String {
    stamp(d.midnight().assume_utc())
}

pub(super) fn parse_stamp(s: &str) -> Result<OffsetDateTime, sqlx::Error> {
    OffsetDateTime::parse(s, &Rfc3339).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

pub(super) fn parse_json<T: DeserializeOwned>(s: &str) -> Result<T, sqlx::Error> {
    serde_json::from_str(s).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// `now + d`, saturating instead of panicking on absurd durations.
pub(crate) fn later(now: OffsetDateTime, d: std::time::Duration) -> OffsetDateTime {
    time::Duration::try_from(d)
        .ok()
        .and_then(|d| now.checked_add(d))
        .or_else(|| now.checked_add(time::Duration::days(365 * 100)))
        .unwrap_or(now)
}
