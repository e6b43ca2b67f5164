//! The kept latest sample read as a list (CONTRACT §6): the lines of the group's newest sample,
//! filtered by names ids, searched, sorted and paged; its distinct values with their counts.

use time::OffsetDateTime;

use super::write::{LatestRow, latest_columns};
use crate::storage::Db;
use crate::storage::sqlutil::{parse_stamp, with_pool};

/// A sample's distinct filter values with their counts, `(field, names id, lines, name)`: a
/// sample never changes once stored, so they are counted once per (group, sample), not on every
/// page of the list (four `GROUP BY`s over the group's lines).
pub type SnapshotCounts = std::sync::Arc<Vec<(u8, i32, i64, String)>>;

/// [`SnapshotCounts`] by (group number, sample stamp).
pub type SnapshotCache = moka::sync::Cache<(i32, String), SnapshotCounts>;

/// A new, empty [`SnapshotCache`] (a few hundred groups' newest samples).
pub fn snapshot_cache() -> SnapshotCache {
    moka::sync::Cache::builder()
        .max_capacity(1_000)
        .time_to_idle(std::time::Duration::from_secs(3_600))
        .build()
}

/// Which lines of the snapshot: names ids per field (empty: any), and a search of MDN digits and
/// nicknames.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotWhere {
    pub status: Vec<i32>,
    pub network: Vec<i32>,
    pub filter_group: Vec<i32>,
    pub device: Vec<i32>,
    /// Lower-case text found in the nickname, or digits found in the MDN.
    pub search: Option<String>,
}

/// The snapshot list's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotOrder {
    Mdn,
    Status,
    FilterGroup,
    Device,
    MediaCenter,
    MonthUsed,
    DayUsed,
    Last30,
    MonthlyLimit,
    DailyLimit,
}

impl SnapshotOrder {
    fn sql(self) -> &'static str {
        match self {
            Self::Mdn => "mdn",
            Self::Status => "(SELECT name FROM usage_names WHERE id = status)",
            Self::FilterGroup => "(SELECT name FROM usage_names WHERE id = filter_group)",
            Self::Device => "(SELECT name FROM usage_names WHERE id = device)",
            Self::MediaCenter => "media_center_status",
            Self::MonthUsed => "month_used",
            Self::DayUsed => "day_used",
            Self::Last30 => "last30_used",
            // No limit sorts as the largest.
            Self::MonthlyLimit => "COALESCE(monthly_limit, 9223372036854775807)",
            Self::DailyLimit => "COALESCE(daily_limit, 9223372036854775807)",
        }
    }
}

/// The snapshot's lines: those of the group's newest sample (a line gone from the group keeps
/// an older one).
const OF_SNAPSHOT: &str = "gid = $1 AND taken_at = $2";

fn ids(col: &str, ids: &[i32]) -> String {
    let list: Vec<String> = ids.iter().map(i32::to_string).collect();
    format!(" AND {col} IN ({})", list.join(","))
}

impl SnapshotWhere {
    /// The SQL condition after [`OF_SNAPSHOT`]; the search binds `$3` (MDN) and `$4` (nickname).
    fn sql(&self) -> String {
        let mut s = String::from(OF_SNAPSHOT);
        for (col, v) in [
            ("status", &self.status),
            ("network", &self.network),
            ("filter_group", &self.filter_group),
            ("device", &self.device),
        ] {
            if !v.is_empty() {
                s.push_str(&ids(col, v));
            }
        }
        if self.search.is_some() {
            s.push_str(
                " AND (CAST(mdn AS TEXT) LIKE $3 ESCAPE '\\' OR LOWER(nickname) LIKE $4 ESCAPE '\\')",
            );
        }
        s
    }

    /// The search's two patterns (an MDN pattern that matches nothing when there are no digits).
    fn patterns(&self) -> (String, String) {
        let text = self.search.clone().unwrap_or_default();
        let digits: String = text.chars().filter(char::is_ascii_digit).collect();
        let escape = |s: &str| {
            s.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        };
        let mdn = if digits.is_empty() {
            "-".to_owned()
        } else {
            format!("%{digits}%")
        };
        (mdn, format!("%{}%", escape(&text.to_lowercase())))
    }
}

impl Db {
    /// When the group's newest kept sample was taken (as stored, and parsed); `None` before any.
    pub async fn usage_snapshot_at(
        &self,
        gid: i32,
    ) -> Result<Option<(String, OffsetDateTime)>, sqlx::Error> {
        let at: Option<String> = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT MAX(taken_at) FROM usage_latest WHERE gid = $1")
                .bind(gid)
                .fetch_one(pool)
                .await?
        });
        match at {
            Some(s) => {
                let t = parse_stamp(&s)?;
                Ok(Some((s, t)))
            }
            None => Ok(None),
        }
    }

    /// Each filter column's distinct names ids in the snapshot taken at `at`, with their line
    /// counts: `(column, id, lines)`, column 0 status, 1 network, 2 filter group, 3 device.
    pub async fn usage_snapshot_values(
        &self,
        gid: i32,
        at: &str,
    ) -> Result<Vec<(u8, i32, i64)>, sqlx::Error> {
        let mut out = Vec::new();
        for (i, col) in ["status", "network", "filter_group", "device"]
            .into_iter()
            .enumerate()
        {
            let rows: Vec<(i32, i64)> = with_pool!(self, pool => {
                sqlx::query_as(&format!(
                    "SELECT {col}, COUNT(*) FROM usage_latest WHERE {OF_SNAPSHOT} GROUP BY {col}"
                ))
                .bind(gid)
                .bind(at)
                .fetch_all(pool)
                .await?
            });
            out.extend(rows.into_iter().map(|(id, n)| (i as u8, id, n)));
        }
        Ok(out)
    }

    /// One page of the snapshot's matching lines, and how many match.
    #[allow(clippy::too_many_arguments)]
    pub async fn usage_snapshot_page(
        &self,
        gid: i32,
        at: &str,
        w: &SnapshotWhere,
        order: SnapshotOrder,
        desc: bool,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<LatestRow>, i64), sqlx::Error> {
        let cond = w.sql();
        let (mdn_like, name_like) = w.patterns();
        let dir = if desc { "DESC" } else { "ASC" };
        let page_sql = format!(
            "SELECT {} FROM usage_latest WHERE {cond} ORDER BY {} {dir}, mdn {dir} LIMIT {limit} OFFSET {offset}",
            latest_columns(),
            order.sql(),
        );
        let count_sql = format!("SELECT COUNT(*) FROM usage_latest WHERE {cond}");
        Ok(with_pool!(self, pool => {
            let mut q = sqlx::query_as::<_, LatestRow>(&page_sql).bind(gid).bind(at);
            let mut c = sqlx::query_scalar::<_, i64>(&count_sql).bind(gid).bind(at);
            if w.search.is_some() {
                q = q.bind(&mdn_like).bind(&name_like);
                c = c.bind(&mdn_like).bind(&name_like);
            }
            (q.fetch_all(pool).await?, c.fetch_one(pool).await?)
        }))
    }

    /// Every matching line's MDN, in MDN order: a filtered list's selection.
    pub async fn usage_snapshot_mdns(
        &self,
        gid: i32,
        at: &str,
        w: &SnapshotWhere,
    ) -> Result<Vec<i64>, sqlx::Error> {
        let sql = format!(
            "SELECT mdn FROM usage_latest WHERE {} ORDER BY mdn",
            w.sql()
        );
        let (mdn_like, name_like) = w.patterns();
        Ok(with_pool!(self, pool => {
            let mut q = sqlx::query_scalar::<_, i64>(&sql).bind(gid).bind(at);
            if w.search.is_some() {
                q = q.bind(&mdn_like).bind(&name_like);
            }
            q.fetch_all(pool).await?
        }))
    }
}
