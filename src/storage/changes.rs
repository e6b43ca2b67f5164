//! Change sets: every confirmed change, stored with its lines before anything is sent, and each
//! line's value before, its new value and its outcome as the runner records them.
//!
//! Lines are rows of `change_lines`, except a select-all's, which are stored in blocks (see
//! `streamed`); readers get both as [`ChangeLine`]s with their outcome resolved.
//!
//! Counts on `change_sets` move only in the same transaction that moves a line out of `pending`,
//! so they always equal the lines' outcomes; finishing turns any line still `pending` into
//! `unknown`, so the outcomes always add up to `total_lines`.

use std::fmt;

use futures::{Stream, stream};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use super::Db;
use super::audit::{NewAuditRecord, audit_insert_query};
use super::sqlutil::{parse_json, parse_stamp, stamp, with_pool};
use crate::outcome::LineOutcome;

/// Where a change set is in its life (stored as [`ChangeState::as_str`]).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::Display,
    strum::VariantArray,
)]
#[strum(serialize_all = "snake_case")]
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
    pub const ALL: &'static [ChangeState] = <Self as strum::VariantArray>::VARIANTS;

    pub fn as_str(self) -> &'static str {
        self.into()
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

/// Why a change set exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum Origin {
    Change,
    Retry,
    Revert,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Where one line of a change set is (stored as [`LineState::as_str`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum LineState {
    Pending,
    Changed,
    Failed,
    Unknown,
}

impl LineState {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    fn of(o: &LineOutcome) -> Self {
        match o {
            LineOutcome::Changed => LineState::Changed,
            LineOutcome::Failed(_) => LineState::Failed,
            LineOutcome::Unknown => LineState::Unknown,
        }
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
    /// `None`: it runs now (state `running`); else it waits (for approval, or for its time).
    pub waiting: Option<Waiting>,
}

/// A change set stored to run later: what it waits for and what to run then.
#[derive(Clone, Debug, PartialEq)]
pub struct Waiting {
    /// `awaiting_approval` or `scheduled`.
    pub state: ChangeState,
    /// The confirmed form's fields (never a secret), parsed again when it is released.
    pub plan: Value,
    pub run_at: Option<OffsetDateTime>,
    /// Why it was requested (required of a request).
    pub reason: Option<String>,
    /// A request no one decided on by then expires.
    pub expires_at: Option<OffsetDateTime>,
    /// The sealed sign-in a scheduled change runs with.
    pub grant_id: Option<Uuid>,
}

/// A change set's life before it runs: its plan, time, request and decision.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Life {
    pub plan: Option<Value>,
    pub run_at: Option<OffsetDateTime>,
    pub request_reason: Option<String>,
    pub expires_at: Option<OffsetDateTime>,
    /// Who approved, rejected or cancelled it (subject, name), when, and why.
    pub decided_by: Option<String>,
    pub decided_by_name: Option<String>,
    pub decided_at: Option<OffsetDateTime>,
    pub decision_reason: Option<String>,
    pub grant_id: Option<Uuid>,
    /// When it began to be sent.
    pub started_at: Option<OffsetDateTime>,
}

/// One line to store with a new change set.
#[derive(Clone, Debug, PartialEq)]
pub struct NewLine {
    pub mdn: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

impl NewLine {
    /// `ids` (MDNs, or IMEIs for SmartSpot) about to get the value `after`, their values before
    /// not read yet.
    pub fn pending<T: fmt::Display>(ids: &[T], after: &str) -> Vec<NewLine> {
        ids.iter()
            .map(|m| NewLine {
                mdn: m.to_string(),
                before: None,
                after: Some(after.to_owned()),
            })
            .collect()
    }
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
    pub life: Life,
}

impl ChangeSet {
    /// Lines with an outcome so far.
    pub fn done_lines(&self) -> i64 {
        self.changed + self.failed + self.unknown
    }

    /// Nothing more happens to it on its own: finished, or stopped mid-run for a sign-in (its
    /// lines not sent wait for the user to sign in and send them).
    pub fn at_rest(&self) -> bool {
        self.state.is_finished()
            || (self.state == ChangeState::NeedsSignIn && self.finished_at.is_some())
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

/// A job to store (state `queued`, no lease).
#[derive(Clone, Debug, PartialEq)]
pub struct NewJob {
    pub id: Uuid,
    pub subject: String,
    /// The session whose token runs the job (lets another instance resume it).
    pub session_id: Option<String>,
    pub corp_id: String,
    pub action: String,
    /// Everything needed to run it (action, fields, the chunks' MDN lists) — never secrets.
    pub payload: Value,
    pub total_chunks: i32,
    pub total_lines: i64,
    /// The job's one secret, already sealed for its row (a SmartSpot change's Wi-Fi password):
    /// kept in `job_secrets` until the job finishes.
    pub sealed: Option<String>,
}

/// Stores a new job (state `queued`, no lease); binds: id, now, subject, session_id, corp_id,
/// action, total_chunks, total_lines, payload.
pub(super) const JOB_INSERT: &str = "INSERT INTO jobs (id, created_at, updated_at, subject, session_id, corp_id, action, state, \
     total_chunks, done_chunks, total_lines, payload, result, attempts) \
     VALUES ($1, $2, $2, $3, $4, $5, $6, 'queued', $7, 0, $8, $9, '{}', 0)";

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

/// [`COLUMNS`] and the columns of a change set's life before it runs (migration 0005).
const SELECT_COLUMNS: &str = "id, created_at, updated_at, finished_at, subject, user_name, corp_id, action, \
     fields, summary, selection, selection_text, state, total_lines, changed, failed, unknown, message, \
     parent_id, origin, plan, run_at, request_reason, expires_at, decided_by, decided_by_name, decided_at, \
     decision_reason, grant_id, started_at";

/// A line's outcome as readers see it: its own, or, while it is still `pending` in a change set
/// settled as a whole (migration 0010), the change set's `rest_outcome`.
const LINE_OUTCOME: &str = "CASE WHEN l.outcome = 'pending' AND s.rest_outcome IS NOT NULL THEN s.rest_outcome ELSE l.outcome END";

/// `SELECT` of lines with their outcome and message resolved; `l` is `change_lines`.
fn lines_select() -> String {
    format!(
        "SELECT l.seq, l.mdn, l.before_value, l.after_value, {LINE_OUTCOME} AS outcome, \
         CASE WHEN l.outcome = 'pending' AND s.rest_outcome IS NOT NULL THEN s.rest_message ELSE l.message END \
         AS message FROM change_lines l JOIN change_sets s ON s.id = l.change_id"
    )
}

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
    plan: Option<String>,
    run_at: Option<String>,
    request_reason: Option<String>,
    expires_at: Option<String>,
    decided_by: Option<String>,
    decided_by_name: Option<String>,
    decided_at: Option<String>,
    decision_reason: Option<String>,
    grant_id: Option<String>,
    started_at: Option<String>,
}

fn decode(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> sqlx::Error {
    sqlx::Error::Decode(e.into())
}

fn opt_stamp(s: Option<String>) -> Result<Option<OffsetDateTime>, sqlx::Error> {
    s.as_deref().map(parse_stamp).transpose()
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
            life: Life {
                plan: r.plan.as_deref().map(parse_json).transpose()?,
                run_at: opt_stamp(r.run_at)?,
                request_reason: r.request_reason,
                expires_at: opt_stamp(r.expires_at)?,
                decided_by: r.decided_by,
                decided_by_name: r.decided_by_name,
                decided_at: opt_stamp(r.decided_at)?,
                decision_reason: r.decision_reason,
                grant_id: r
                    .grant_id
                    .as_deref()
                    .map(Uuid::parse_str)
                    .transpose()
                    .map_err(decode)?,
                started_at: opt_stamp(r.started_at)?,
            },
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

mod checked;
mod history;
mod sql_macros;
mod store;
mod streamed;
mod waiting;
pub use checked::CheckedLine;
pub use history::{HISTORY_LIMIT, LineChange};
pub(super) use sql_macros::{finish_change_set, record_lines, set_befores};
use sql_macros::{insert_lines, insert_lines_sql, job_insert_query};
pub use streamed::StreamedLine;
pub use waiting::Decision;
