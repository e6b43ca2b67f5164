//! The audit log: one append-only record per change made through the console; listing, filtering, CSV export.

use crate::outcome::ChangeResult;
use futures::{Stream, StreamExt, TryStreamExt, stream};
use serde::Serialize;
use serde_json::Value;
use time::{Date, OffsetDateTime};

use super::Db;
use super::sqlutil::{day_start, parse_json, parse_stamp, stamp, with_pool};

/// A change to record. `fields` must already have secrets redacted by the caller.
#[derive(Clone, Debug, PartialEq)]
pub struct NewAuditRecord {
    /// The console's own request id.
    pub request_id: Option<String>,
    /// The `X-Request-Id` the client sent, if any (never trusted as the console's).
    pub client_request_id: Option<String>,
    pub subject: String,
    pub user_name: Option<String>,
    pub roles: String,
    pub corp_id: String,
    pub action: String,
    /// `{"mdns":[..]}` or `{"bulkSelection":{..}}`.
    pub selection: Value,
    pub fields: Value,
    pub line_count: i64,
    pub updated: i64,
    pub failed: i64,
    pub unknown: i64,
    pub outcome: ChangeResult,
    pub upstream_status: Option<i32>,
    /// Per line: `{"failed":[{"mdn":..,"reason":..}],"unknown":[mdn]}`.
    pub result: Value,
    pub job_id: Option<String>,
    /// Where the change was made from (`portal`); `None`: the admin console.
    pub via: Option<String>,
    /// A step in a change set's life (`requested`, `approved`, …); `None`: a change sent to Sentinel.
    pub event: Option<String>,
}

/// A stored record; `at` is when it was written (UTC).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub request_id: Option<String>,
    pub client_request_id: Option<String>,
    pub subject: String,
    pub user_name: Option<String>,
    pub roles: String,
    pub corp_id: String,
    pub action: String,
    pub selection: Value,
    pub fields: Value,
    pub line_count: i64,
    pub updated: i64,
    pub failed: i64,
    pub unknown: i64,
    pub outcome: ChangeResult,
    pub upstream_status: Option<i32>,
    pub result: Value,
    pub job_id: Option<String>,
    pub via: Option<String>,
    pub event: Option<String>,
}

/// Which records to show. Empty strings count as "no filter"; `from`/`to` are inclusive UTC days.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditFilter {
    pub subject: Option<String>,
    pub action: Option<String>,
    pub corp_id: Option<String>,
    /// Only records of these device groups (the reader's); `None`: any group. Never in a URL:
    /// it comes from who reads, not from what they asked.
    pub corp_ids: Option<Vec<String>>,
    pub from: Option<Date>,
    pub to: Option<Date>,
    pub offset: u64,
    /// Page size, clamped to `1..=AUDIT_MAX_PAGE`.
    pub limit: u32,
}

/// The largest page `audit_list` returns.
pub const AUDIT_MAX_PAGE: u32 = 500;

impl Default for AuditFilter {
    fn default() -> Self {
        AuditFilter {
            subject: None,
            action: None,
            corp_id: None,
            corp_ids: None,
            from: None,
            to: None,
            offset: 0,
            limit: 50,
        }
    }
}

/// The INSERT for `$r` written at `$at`, as a `query_scalar` returning the new id, ready for any
/// executor of either backend (a pool, or a transaction that also finishes a job).
macro_rules! audit_insert_query {
    ($r:expr, $at:expr) => {{
        let r: &$crate::storage::audit::NewAuditRecord = $r;
        sqlx::query_scalar::<_, i64>(
            "INSERT INTO audit_log (at, request_id, subject, user_name, roles, corp_id, action, selection, \
             fields, line_count, updated, failed, unknown, outcome, upstream_status, result, job_id, \
             client_request_id, via, event) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) \
             RETURNING id",
        )
        .bind($at)
        .bind(&r.request_id)
        .bind(&r.subject)
        .bind(&r.user_name)
        .bind(&r.roles)
        .bind(&r.corp_id)
        .bind(&r.action)
        .bind(r.selection.to_string())
        .bind(r.fields.to_string())
        .bind(r.line_count)
        .bind(r.updated)
        .bind(r.failed)
        .bind(r.unknown)
        .bind(r.outcome.as_str())
        .bind(r.upstream_status)
        .bind(r.result.to_string())
        .bind(&r.job_id)
        .bind(&r.client_request_id)
        .bind(&r.via)
        .bind(&r.event)
    }};
}
pub(super) use audit_insert_query;

const COLUMNS: &str = "id, at, request_id, subject, user_name, roles, corp_id, action, selection, fields, \
     line_count, updated, failed, unknown, outcome, upstream_status, result, job_id, client_request_id, via, event";

/// Rows fetched per round trip while streaming the whole log.
const STREAM_PAGE: usize = 500;

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: i64,
    at: String,
    request_id: Option<String>,
    client_request_id: Option<String>,
    subject: String,
    user_name: Option<String>,
    roles: String,
    corp_id: String,
    action: String,
    selection: String,
    fields: String,
    line_count: i64,
    updated: i64,
    failed: i64,
    unknown: i64,
    outcome: String,
    upstream_status: Option<i32>,
    result: String,
    job_id: Option<String>,
    via: Option<String>,
    event: Option<String>,
}

impl TryFrom<AuditRow> for AuditRecord {
    type Error = sqlx::Error;
    fn try_from(r: AuditRow) -> Result<Self, sqlx::Error> {
        Ok(AuditRecord {
            id: r.id,
            at: parse_stamp(&r.at)?,
            request_id: r.request_id,
            client_request_id: r.client_request_id,
            subject: r.subject,
            user_name: r.user_name,
            roles: r.roles,
            corp_id: r.corp_id,
            action: r.action,
            selection: parse_json(&r.selection)?,
            fields: parse_json(&r.fields)?,
            line_count: r.line_count,
            updated: r.updated,
            failed: r.failed,
            unknown: r.unknown,
            outcome: r
                .outcome
                .parse()
                .map_err(|e: strum::ParseError| sqlx::Error::Decode(e.into()))?,
            upstream_status: r.upstream_status,
            result: parse_json(&r.result)?,
            job_id: r.job_id,
            via: r.via,
            event: r.event,
        })
    }
}

/// `WHERE ...` (or empty) for `f`, with its text binds numbered from `$1`.
fn where_clause(f: &AuditFilter) -> (String, Vec<String>) {
    let mut conds: Vec<String> = Vec::new();
    let mut binds: Vec<String> = Vec::new();
    let mut push = |cond: &str, value: String| {
        binds.push(value);
        conds.push(format!("{cond} ${}", binds.len()));
    };
    let given = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    if let Some(v) = given(&f.subject) {
        push("subject =", v);
    }
    if let Some(v) = given(&f.action) {
        push("action =", v);
    }
    if let Some(v) = given(&f.corp_id) {
        push("corp_id =", v);
    }
    if let Some(d) = f.from {
        push("at >=", day_start(d));
    }
    // Inclusive day: everything before the next midnight (no bound at all past the last representable day).
    if let Some(next) = f.to.and_then(Date::next_day) {
        push("at <", day_start(next));
    }
    if let Some(ids) = &f.corp_ids {
        if ids.is_empty() {
            // No group at all: nothing matches (an empty `IN ()` is not SQL).
            conds.push("1 = 0".to_owned());
        } else {
            let mut marks = Vec::with_capacity(ids.len());
            for id in ids {
                binds.push(id.clone());
                marks.push(format!("${}", binds.len()));
            }
            conds.push(format!("corp_id IN ({})", marks.join(", ")));
        }
    }
    if conds.is_empty() {
        (String::new(), binds)
    } else {
        (format!(" WHERE {}", conds.join(" AND ")), binds)
    }
}

impl Db {
    /// Appends one record; returns its id.
    pub async fn audit_insert(&self, r: &NewAuditRecord) -> Result<i64, sqlx::Error> {
        let at = stamp(OffsetDateTime::now_utc());
        with_pool!(self, pool => audit_insert_query!(r, &at).fetch_one(pool).await)
    }

    /// One page of matching records, newest first, and how many match in all.
    pub async fn audit_list(
        &self,
        f: &AuditFilter,
    ) -> Result<(Vec<AuditRecord>, u64), sqlx::Error> {
        let (cond, binds) = where_clause(f);
        let count_sql = format!("SELECT COUNT(*) FROM audit_log{cond}");
        let n = binds.len();
        let list_sql = format!(
            "SELECT {COLUMNS} FROM audit_log{cond} ORDER BY id DESC LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let limit = i64::from(f.limit.clamp(1, AUDIT_MAX_PAGE));
        let offset = i64::try_from(f.offset).unwrap_or(i64::MAX);
        let (total, rows) = with_pool!(self, pool => {
            let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
            for b in &binds {
                count = count.bind(b);
            }
            let total = count.fetch_one(pool).await?;
            let mut list = sqlx::query_as::<_, AuditRow>(&list_sql);
            for b in &binds {
                list = list.bind(b);
            }
            let rows = list.bind(limit).bind(offset).fetch_all(pool).await?;
            (total, rows)
        });
        let records = rows
            .into_iter()
            .map(AuditRecord::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((records, u64::try_from(total).unwrap_or(0)))
    }

    /// Every matching record, newest first (`offset`/`limit` ignored), fetched page by page so that
    /// neither the whole log nor a pooled connection is held while a slow client downloads it.
    pub async fn audit_stream_all(
        &self,
        f: &AuditFilter,
    ) -> impl Stream<Item = Result<AuditRecord, sqlx::Error>> + Send + 'static {
        let db = self.clone();
        let f = f.clone();
        // Keyset paging on id: stable even while new records are appended during the download.
        stream::try_unfold(Some(i64::MAX), move |before| {
            let db = db.clone();
            let f = f.clone();
            async move {
                let Some(before) = before else {
                    return Ok::<_, sqlx::Error>(None);
                };
                let page = db.audit_page_before(&f, before).await?;
                let next = if page.len() < STREAM_PAGE {
                    None
                } else {
                    page.last().map(|r| r.id)
                };
                Ok(Some((page, next)))
            }
        })
        .map_ok(|page| stream::iter(page.into_iter().map(Ok)))
        .try_flatten()
        .boxed()
    }

    async fn audit_page_before(
        &self,
        f: &AuditFilter,
        before: i64,
    ) -> Result<Vec<AuditRecord>, sqlx::Error> {
        let (cond, binds) = where_clause(f);
        let n = binds.len();
        let joiner = if cond.is_empty() { " WHERE" } else { " AND" };
        let sql = format!(
            "SELECT {COLUMNS} FROM audit_log{cond}{joiner} id < ${} ORDER BY id DESC LIMIT ${}",
            n + 1,
            n + 2
        );
        let page = i64::try_from(STREAM_PAGE).unwrap_or(500);
        let rows = with_pool!(self, pool => {
            let mut q = sqlx::query_as::<_, AuditRow>(&sql);
            for b in &binds {
                q = q.bind(b);
            }
            q.bind(before).bind(page).fetch_all(pool).await?
        });
        rows.into_iter().map(AuditRecord::try_from).collect()
    }

    /// Everyone who appears in the log (of the device groups `corp_ids` when given), with the display
    /// name of their latest record there, for the filter dropdown; sorted by display name.
    pub async fn audit_distinct_users(
        &self,
        corp_ids: Option<&[String]>,
    ) -> Result<Vec<(String, Option<String>)>, sqlx::Error> {
        let (cond, corp_ids): (String, &[String]) = match corp_ids {
            None => (String::new(), &[]),
            Some([]) => return Ok(Vec::new()),
            Some(ids) => (
                format!(
                    " WHERE corp_id IN ({})",
                    (1..=ids.len())
                        .map(|i| format!("${i}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                ids,
            ),
        };
        let sql = format!(
            "SELECT a.subject, a.user_name FROM audit_log a \
             JOIN (SELECT subject, MAX(id) AS id FROM audit_log{cond} GROUP BY subject) \
             latest ON a.id = latest.id \
             ORDER BY LOWER(COALESCE(a.user_name, a.subject)), a.subject"
        );
        with_pool!(self, pool => {
            let mut q = sqlx::query_as::<_, (String, Option<String>)>(&sql);
            for c in corp_ids {
                q = q.bind(c);
            }
            q.fetch_all(pool).await
        })
    }
}

/// The CSV header line (CRLF-terminated, like every row).
pub fn audit_csv_header() -> &'static str {
    "id,at,request_id,subject,user_name,roles,corp_id,action,selection,fields,line_count,updated,failed,\
     unknown,outcome,upstream_status,result,job_id,client_request_id,via,event\r\n"
}

/// One record as a CSV line (RFC 4180, CRLF-terminated), safe to open in a spreadsheet.
pub fn audit_csv_row(r: &AuditRecord) -> String {
    let at = time::format_description::well_known::Rfc3339;
    let cells: [String; 21] = [
        r.id.to_string(),
        r.at.format(&at).unwrap_or_default(),
        r.request_id.clone().unwrap_or_default(),
        r.subject.clone(),
        r.user_name.clone().unwrap_or_default(),
        r.roles.clone(),
        r.corp_id.clone(),
        r.action.clone(),
        r.selection.to_string(),
        r.fields.to_string(),
        r.line_count.to_string(),
        r.updated.to_string(),
        r.failed.to_string(),
        r.unknown.to_string(),
        r.outcome.as_str().to_owned(),
        r.upstream_status.map(|s| s.to_string()).unwrap_or_default(),
        r.result.to_string(),
        r.job_id.clone().unwrap_or_default(),
        r.client_request_id.clone().unwrap_or_default(),
        r.via.clone().unwrap_or_default(),
        r.event.clone().unwrap_or_default(),
    ];
    crate::csv::write_row(cells.iter().map(String::as_str))
}

/// The one CSV cell function, shared with the device export (see [`crate::csv`]).
pub use crate::csv::csv_cell;
