//! Change sets: every confirmed change, stored with its lines before anything is sent, and each
//! line's value before, its new value and its outcome as the runner records them.
//!
//! Counts on `change_sets` move only in the same transaction that moves a line out of `pending`,
//! so they always equal the lines' outcomes; finishing turns any line still `pending` into
//! `unknown`, so the outcomes always add up to `total_lines`.

use std::fmt;
use std::str::FromStr;

use futures::{Stream, stream};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use super::Db;
use super::audit::{NewAuditRecord, audit_insert_query};
use super::jobs::{JOB_INSERT, NewJob};
use super::sqlutil::{parse_json, parse_stamp, stamp, with_pool};
use crate::outcome::LineOutcome;

/// Where a change set is in its life (stored as [`ChangeState::as_str`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChangeState {
    AwaitingApproval,
    Scheduled,
    Running,
    Done,
    DoneWithFailures,
    Failed,
    Cancelled,
    Rejected,
    NeedsSignIn,
}

impl ChangeState {
    pub const ALL: [ChangeState; 9] = [
        ChangeState::AwaitingApproval,
        ChangeState::Scheduled,
        ChangeState::Running,
        ChangeState::Done,
        ChangeState::DoneWithFailures,
        ChangeState::Failed,
        ChangeState::Cancelled,
        ChangeState::Rejected,
        ChangeState::NeedsSignIn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeState::AwaitingApproval => "awaiting_approval",
            ChangeState::Scheduled => "scheduled",
            ChangeState::Running => "running",
            ChangeState::Done => "done",
            ChangeState::DoneWithFailures => "done_with_failures",
            ChangeState::Failed => "failed",
            ChangeState::Cancelled => "cancelled",
            ChangeState::Rejected => "rejected",
            ChangeState::NeedsSignIn => "needs_sign_in",
        }
    }

    /// For people.
    pub fn label(self) -> &'static str {
        match self {
            ChangeState::AwaitingApproval => "Awaiting approval",
            ChangeState::Scheduled => "Scheduled",
            ChangeState::Running => "Running",
            ChangeState::Done => "Done",
            ChangeState::DoneWithFailures => "Done with failures",
            ChangeState::Failed => "Failed",
            ChangeState::Cancelled => "Cancelled",
            ChangeState::Rejected => "Rejected",
            ChangeState::NeedsSignIn => "Needs sign-in",
        }
    }

    /// Nothing more will be sent for it.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            ChangeState::Done
                | ChangeState::DoneWithFailures
                | ChangeState::Failed
                | ChangeState::Cancelled
                | ChangeState::Rejected
        )
    }
}

impl fmt::Display for ChangeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ChangeState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown change state {s:?}"))
    }
}

/// Why a change set exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Change,
    Retry,
    Revert,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Change => "change",
            Origin::Retry => "retry",
            Origin::Revert => "revert",
        }
    }
}

impl FromStr for Origin {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [Origin::Change, Origin::Retry, Origin::Revert]
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| format!("unknown change origin {s:?}"))
    }
}

/// Where one line of a change set is (stored as [`LineState::as_str`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LineState {
    Pending,
    Changed,
    Failed,
    Unknown,
}

impl LineState {
    pub fn as_str(self) -> &'static str {
        match self {
            LineState::Pending => "pending",
            LineState::Changed => "changed",
            LineState::Failed => "failed",
            LineState::Unknown => "unknown",
        }
    }

    fn of(o: &LineOutcome) -> Self {
        match o {
            LineOutcome::Changed => LineState::Changed,
            LineOutcome::Failed(_) => LineState::Failed,
            LineOutcome::Unknown => LineState::Unknown,
        }
    }
}

impl FromStr for LineState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [
            LineState::Pending,
            LineState::Changed,
            LineState::Failed,
            LineState::Unknown,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
        .ok_or_else(|| format!("unknown line outcome {s:?}"))
    }
}

/// A change set to store (state `running`).
#[derive(Clone, Debug)]
pub struct NewChangeSet {
    pub id: Uuid,
    pub subject: String,
    pub user_name: Option<String>,
    pub corp_id: String,
    pub action: String,
    /// The action's fields, secrets redacted.
    pub fields: Value,
    pub summary: String,
    /// The selection as given (the audit log's shape).
    pub selection: Value,
    pub selection_text: String,
    pub parent_id: Option<Uuid>,
    pub origin: Origin,
}

/// One line to store with a new change set.
#[derive(Clone, Debug, PartialEq)]
pub struct NewLine {
    pub mdn: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// A stored change set.
#[derive(Clone, Debug, PartialEq)]
pub struct ChangeSet {
    pub id: Uuid,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub finished_at: Option<OffsetDateTime>,
    pub subject: String,
    pub user_name: Option<String>,
    pub corp_id: String,
    pub action: String,
    pub fields: Value,
    pub summary: String,
    pub selection: Value,
    pub selection_text: String,
    pub state: ChangeState,
    pub total_lines: i64,
    pub changed: i64,
    pub failed: i64,
    pub unknown: i64,
    pub message: Option<String>,
    pub parent_id: Option<Uuid>,
    pub origin: Origin,
}

impl ChangeSet {
    /// Lines with an outcome so far.
    pub fn done_lines(&self) -> i64 {
        self.changed + self.failed + self.unknown
    }
}

/// One stored line.
#[derive(Clone, Debug, PartialEq)]
pub struct ChangeLine {
    pub seq: i32,
    pub mdn: String,
    pub before_value: Option<String>,
    pub after_value: Option<String>,
    pub outcome: LineState,
    pub message: Option<String>,
}

/// What happened to one line (by its place in the change set).
#[derive(Clone, Debug, PartialEq)]
pub struct LineResult {
    pub seq: i32,
    pub outcome: LineOutcome,
    /// Why an unknown line is unknown (a failed line's message is in its outcome).
    pub note: Option<String>,
}

impl LineResult {
    fn message(&self) -> Option<&str> {
        match &self.outcome {
            LineOutcome::Failed(m) => Some(m),
            _ => self.note.as_deref(),
        }
    }
}

/// Which change sets a listing shows.
#[derive(Clone, Debug, Default)]
pub struct ChangeFilter {
    /// Only these device groups (`None`: any).
    pub corp_ids: Option<Vec<String>>,
    /// Only this user's.
    pub subject: Option<String>,
    /// Only these states (empty: any).
    pub states: Vec<ChangeState>,
    pub offset: u64,
    pub limit: u32,
}

/// Rows per multi-row INSERT: 4 binds a row stays far under SQLite's 32,766 bind limit.
const INSERT_BATCH: usize = 1_000;
/// Lines per UPDATE … IN (…).
pub(super) const UPDATE_BATCH: usize = 900;
/// Lines fetched per round trip while streaming a change's lines.
const STREAM_PAGE: i64 = 1_000;

/// Why a line still pending when its change set finished is unknown.
pub const UNRECORDED_LINE: &str =
    "No outcome was recorded for this line: it may or may not have changed.";

const COLUMNS: &str = "id, created_at, updated_at, finished_at, subject, user_name, corp_id, action, \
     fields, summary, selection, selection_text, state, total_lines, changed, failed, unknown, message, \
     parent_id, origin";

const LINE_COLUMNS: &str = "seq, mdn, before_value, after_value, outcome, message";

/// The state a change set ends in, from its lines' counts.
pub(super) const FINISHED_STATE: &str = "CASE WHEN changed = total_lines THEN 'done' WHEN changed = 0 THEN 'failed' \
     ELSE 'done_with_failures' END";

#[derive(sqlx::FromRow)]
struct ChangeRow {
    id: String,
    created_at: String,
    updated_at: String,
    finished_at: Option<String>,
    subject: String,
    user_name: Option<String>,
    corp_id: String,
    action: String,
    fields: String,
    summary: String,
    selection: String,
    selection_text: String,
    state: String,
    total_lines: i64,
    changed: i64,
    failed: i64,
    unknown: i64,
    message: Option<String>,
    parent_id: Option<String>,
    origin: String,
}

fn decode(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> sqlx::Error {
    sqlx::Error::Decode(e.into())
}

impl TryFrom<ChangeRow> for ChangeSet {
    type Error = sqlx::Error;
    fn try_from(r: ChangeRow) -> Result<Self, sqlx::Error> {
        Ok(ChangeSet {
            id: Uuid::parse_str(&r.id).map_err(decode)?,
            created_at: parse_stamp(&r.created_at)?,
            updated_at: parse_stamp(&r.updated_at)?,
            finished_at: r.finished_at.as_deref().map(parse_stamp).transpose()?,
            subject: r.subject,
            user_name: r.user_name,
            corp_id: r.corp_id,
            action: r.action,
            fields: parse_json(&r.fields)?,
            summary: r.summary,
            selection: parse_json(&r.selection)?,
            selection_text: r.selection_text,
            state: r.state.parse().map_err(decode)?,
            total_lines: r.total_lines,
            changed: r.changed,
            failed: r.failed,
            unknown: r.unknown,
            message: r.message,
            parent_id: r
                .parent_id
                .as_deref()
                .map(Uuid::parse_str)
                .transpose()
                .map_err(decode)?,
            origin: r.origin.parse().map_err(decode)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct LineRow {
    seq: i32,
    mdn: String,
    before_value: Option<String>,
    after_value: Option<String>,
    outcome: String,
    message: Option<String>,
}

impl TryFrom<LineRow> for ChangeLine {
    type Error = sqlx::Error;
    fn try_from(r: LineRow) -> Result<Self, sqlx::Error> {
        Ok(ChangeLine {
            seq: r.seq,
            mdn: r.mdn,
            before_value: r.before_value,
            after_value: r.after_value,
            outcome: r.outcome.parse().map_err(decode)?,
            message: r.message,
        })
    }
}

/// `$from, $from+1, …` for `n` binds.
pub(super) fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Results grouped by (outcome, message): one UPDATE per group and batch.
pub(super) fn grouped(results: &[LineResult]) -> Vec<(LineState, Option<&str>, Vec<i32>)> {
    let mut groups: Vec<(LineState, Option<&str>, Vec<i32>)> = Vec::new();
    for r in results {
        let (state, msg) = (LineState::of(&r.outcome), r.message());
        match groups.iter_mut().find(|g| g.0 == state && g.1 == msg) {
            Some(g) => g.2.push(r.seq),
            None => groups.push((state, msg, vec![r.seq])),
        }
    }
    groups
}

/// Moves pending lines of change set `$id` to their outcomes and adds them to its counts, inside
/// the caller's transaction `$tx`. Lines already out of `pending` are left as recorded.
macro_rules! record_lines {
    ($tx:expr, $id:expr, $now:expr, $results:expr) => {{
        let (mut changed, mut failed, mut unknown) = (0i64, 0i64, 0i64);
        for (state, msg, seqs) in $crate::storage::changes::grouped($results) {
            for part in seqs.chunks($crate::storage::changes::UPDATE_BATCH) {
                let sql = format!(
                    "UPDATE change_lines SET outcome = $2, message = $3 WHERE change_id = $1 \
                     AND outcome = 'pending' AND seq IN ({})",
                    $crate::storage::changes::placeholders(4, part.len())
                );
                let mut q = sqlx::query(&sql).bind($id).bind(state.as_str()).bind(msg);
                for s in part {
                    q = q.bind(*s);
                }
                let n = i64::try_from(q.execute(&mut *$tx).await?.rows_affected()).unwrap_or(0);
                match state {
                    $crate::storage::changes::LineState::Changed => changed += n,
                    $crate::storage::changes::LineState::Failed => failed += n,
                    _ => unknown += n,
                }
            }
        }
        sqlx::query(
            "UPDATE change_sets SET changed = changed + $1, failed = failed + $2, \
             unknown = unknown + $3, updated_at = $4 WHERE id = $5",
        )
        .bind(changed)
        .bind(failed)
        .bind(unknown)
        .bind($now)
        .bind($id)
        .execute(&mut *$tx)
        .await?;
    }};
}
pub(super) use record_lines;

/// Ends change set `$id` inside the caller's transaction: lines still pending become unknown,
/// the state follows from the counts, `$message` (if any) is kept.
macro_rules! finish_change_set {
    ($tx:expr, $id:expr, $now:expr, $message:expr) => {{
        let left = sqlx::query(
            "UPDATE change_lines SET outcome = 'unknown', message = $2 \
             WHERE change_id = $1 AND outcome = 'pending'",
        )
        .bind($id)
        .bind($crate::storage::changes::UNRECORDED_LINE)
        .execute(&mut *$tx)
        .await?
        .rows_affected();
        let sql = format!(
            "UPDATE change_sets SET unknown = unknown + $1, updated_at = $2, finished_at = $2, \
             message = COALESCE($3, message), state = {} WHERE id = $4 AND state = 'running'",
            $crate::storage::changes::FINISHED_STATE
        );
        sqlx::query(&sql)
            .bind(i64::try_from(left).unwrap_or(0))
            .bind($now)
            .bind($message)
            .bind($id)
            .execute(&mut *$tx)
            .await?;
    }};
}
pub(super) use finish_change_set;

/// Binds a [`NewJob`] to [`JOB_INSERT`].
macro_rules! job_insert_query {
    ($j:expr, $now:expr) => {{
        let j: &NewJob = $j;
        sqlx::query(JOB_INSERT)
            .bind(j.id.to_string())
            .bind($now)
            .bind(&j.subject)
            .bind(&j.session_id)
            .bind(&j.corp_id)
            .bind(&j.action)
            .bind(j.total_chunks)
            .bind(j.total_lines)
            .bind(j.payload.to_string())
    }};
}

impl Db {
    /// Stores a change set in state `running` with its lines (numbered from 0 in order), and the
    /// job that will run it when there is one, in one transaction: all of it or nothing.
    pub async fn change_create(
        &self,
        c: &NewChangeSet,
        lines: &[NewLine],
        job: Option<&NewJob>,
    ) -> Result<(), sqlx::Error> {
        let now = stamp(OffsetDateTime::now_utc());
        let id = c.id.to_string();
        let sql = format!(
            "INSERT INTO change_sets ({COLUMNS}) VALUES ($1, $2, $2, NULL, $3, $4, $5, $6, $7, $8, $9, \
             $10, 'running', $11, 0, 0, 0, NULL, $12, $13)"
        );
        let total = i64::try_from(lines.len()).unwrap_or(i64::MAX);
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(&sql)
                .bind(&id)
                .bind(&now)
                .bind(&c.subject)
                .bind(&c.user_name)
                .bind(&c.corp_id)
                .bind(&c.action)
                .bind(c.fields.to_string())
                .bind(&c.summary)
                .bind(c.selection.to_string())
                .bind(&c.selection_text)
                .bind(total)
                .bind(c.parent_id.map(|p| p.to_string()))
                .bind(c.origin.as_str())
                .execute(&mut *tx)
                .await?;
            for (b, batch) in lines.chunks(INSERT_BATCH).enumerate() {
                let rows: Vec<String> = (0..batch.len())
                    .map(|i| format!("($1, ${}, ${}, ${}, ${}, 'pending')", 4 * i + 2, 4 * i + 3, 4 * i + 4, 4 * i + 5))
                    .collect();
                let sql = format!(
                    "INSERT INTO change_lines (change_id, seq, mdn, before_value, after_value, outcome) VALUES {}",
                    rows.join(", ")
                );
                let mut q = sqlx::query(&sql).bind(&id);
                for (i, l) in batch.iter().enumerate() {
                    let seq = i32::try_from(b * INSERT_BATCH + i).unwrap_or(i32::MAX);
                    q = q.bind(seq).bind(&l.mdn).bind(&l.before).bind(&l.after);
                }
                q.execute(&mut *tx).await?;
            }
            if let Some(j) = job {
                job_insert_query!(j, &now).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Stores lines' values before the change, `(seq, value)`, in one short transaction per call.
    pub async fn change_set_befores(
        &self,
        id: Uuid,
        befores: &[(i32, String)],
    ) -> Result<(), sqlx::Error> {
        let id = id.to_string();
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for part in befores.chunks(UPDATE_BATCH) {
                // One statement per batch: the VALUES list names its columns column1, column2 on both databases.
                let rows: Vec<String> = (0..part.len())
                    .map(|i| format!("(CAST(${} AS INTEGER), CAST(${} AS TEXT))", 2 * i + 2, 2 * i + 3))
                    .collect();
                let sql = format!(
                    "UPDATE change_lines SET before_value = v.column2 FROM (VALUES {}) AS v \
                     WHERE change_lines.change_id = $1 AND change_lines.seq = v.column1",
                    rows.join(", ")
                );
                let mut q = sqlx::query(&sql).bind(&id);
                for (seq, value) in part {
                    q = q.bind(*seq).bind(value);
                }
                q.execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Records lines' outcomes (a change made without the job runner) in one transaction.
    pub async fn change_record_lines(
        &self,
        id: Uuid,
        results: &[LineResult],
    ) -> Result<(), sqlx::Error> {
        let id = id.to_string();
        let now = stamp(OffsetDateTime::now_utc());
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            record_lines!(tx, &id, &now, results);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Finishes a change set made without the job runner, with its audit record, in one transaction.
    pub async fn change_finish(
        &self,
        id: Uuid,
        message: Option<&str>,
        audit: Option<&NewAuditRecord>,
    ) -> Result<(), sqlx::Error> {
        let id = id.to_string();
        let now = stamp(OffsetDateTime::now_utc());
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            finish_change_set!(tx, &id, &now, message);
            if let Some(r) = audit {
                audit_insert_query!(r, &now).fetch_one(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn change_get(&self, id: Uuid) -> Result<Option<ChangeSet>, sqlx::Error> {
        let sql = format!("SELECT {COLUMNS} FROM change_sets WHERE id = $1");
        let row = with_pool!(self, pool => {
            sqlx::query_as::<_, ChangeRow>(&sql)
                .bind(id.to_string())
                .fetch_optional(pool)
                .await?
        });
        row.map(ChangeSet::try_from).transpose()
    }

    /// One page of matching change sets, newest first, and how many match in all.
    pub async fn change_list(
        &self,
        f: &ChangeFilter,
    ) -> Result<(Vec<ChangeSet>, u64), sqlx::Error> {
        let mut conds: Vec<String> = Vec::new();
        let mut binds: Vec<String> = Vec::new();
        let mut any_of = |col: &str, values: Vec<String>| {
            let from = binds.len() + 1;
            conds.push(format!(
                "{col} IN ({})",
                placeholders(from, values.len().max(1))
            ));
            if values.is_empty() {
                // Nothing may match: an impossible value keeps the SQL valid.
                binds.push(String::new());
            }
            binds.extend(values);
        };
        if let Some(c) = &f.corp_ids {
            any_of("corp_id", c.clone());
        }
        if let Some(s) = &f.subject {
            any_of("subject", vec![s.clone()]);
        }
        if !f.states.is_empty() {
            any_of(
                "state",
                f.states.iter().map(|s| s.as_str().to_owned()).collect(),
            );
        }
        let cond = if conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conds.join(" AND "))
        };
        let n = binds.len();
        let count_sql = format!("SELECT COUNT(*) FROM change_sets{cond}");
        let list_sql = format!(
            "SELECT {COLUMNS} FROM change_sets{cond} ORDER BY created_at DESC, id DESC LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let limit = i64::from(f.limit.clamp(1, 200));
        let offset = i64::try_from(f.offset).unwrap_or(i64::MAX);
        let (total, rows) = with_pool!(self, pool => {
            let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
            for b in &binds {
                count = count.bind(b);
            }
            let total = count.fetch_one(pool).await?;
            let mut list = sqlx::query_as::<_, ChangeRow>(&list_sql);
            for b in &binds {
                list = list.bind(b);
            }
            (total, list.bind(limit).bind(offset).fetch_all(pool).await?)
        });
        let sets = rows
            .into_iter()
            .map(ChangeSet::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((sets, u64::try_from(total).unwrap_or_default()))
    }

    /// One page of a change set's lines in order, only those with `outcome` when given.
    pub async fn change_lines_page(
        &self,
        id: Uuid,
        outcome: Option<LineState>,
        offset: u64,
        limit: u32,
    ) -> Result<Vec<ChangeLine>, sqlx::Error> {
        let filter = if outcome.is_some() {
            " AND outcome = $4"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {LINE_COLUMNS} FROM change_lines WHERE change_id = $1{filter} ORDER BY seq LIMIT $2 OFFSET $3"
        );
        let rows = with_pool!(self, pool => {
            let mut q = sqlx::query_as::<_, LineRow>(&sql)
                .bind(id.to_string())
                .bind(i64::from(limit.clamp(1, 1_000)))
                .bind(i64::try_from(offset).unwrap_or(i64::MAX));
            if let Some(o) = outcome {
                q = q.bind(o.as_str());
            }
            q.fetch_all(pool).await?
        });
        rows.into_iter().map(ChangeLine::try_from).collect()
    }

    /// Lines after `after_seq` in order, at most `limit`.
    async fn change_lines_after(
        &self,
        id: &str,
        after_seq: i32,
        limit: i64,
    ) -> Result<Vec<ChangeLine>, sqlx::Error> {
        let sql = format!(
            "SELECT {LINE_COLUMNS} FROM change_lines WHERE change_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
        );
        let rows = with_pool!(self, pool => {
            sqlx::query_as::<_, LineRow>(&sql)
                .bind(id)
                .bind(after_seq)
                .bind(limit)
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(ChangeLine::try_from).collect()
    }

    /// Every line of a change set in order, fetched a page at a time (bounded memory).
    pub fn change_lines_stream(
        &self,
        id: Uuid,
    ) -> impl Stream<Item = Result<Vec<ChangeLine>, sqlx::Error>> + Send + 'static {
        let db = self.clone();
        let id = id.to_string();
        stream::try_unfold(Some(-1), move |after| {
            let (db, id) = (db.clone(), id.clone());
            async move {
                let Some(after) = after else {
                    return Ok(None);
                };
                let page = db.change_lines_after(&id, after, STREAM_PAGE).await?;
                if page.is_empty() {
                    return Ok(None);
                }
                let next = (page.len() as i64 == STREAM_PAGE)
                    .then(|| page.last().map(|l| l.seq))
                    .flatten();
                Ok(Some((page, next)))
            }
        })
    }
}
