//! Background jobs: a change split into chunks, stored so that progress survives reloads and a job
//! left behind by a dead instance is leased and resumed by another one.
//!
//! State machine: `queued` → `running` (claimed under a time-limited lease) → `done` | `failed`.
//! Each chunk is marked started in `job_chunk_starts` before its upstream call and recorded once
//! in `job_chunks` when it ends; a resumed job skips recorded chunks, never re-sends a started
//! one (it may have reached the upstream) and may run the never-started ones.
//! Secrets: callers never put secrets (passwords, tokens) in `payload`; a job runs with the
//! signed-in user's own token, looked up through `session_id` in the shared session store.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use super::Db;
use super::audit::{NewAuditRecord, audit_insert_query};
pub use super::changes::NewJob;
use super::changes::{JOB_INSERT, LineResult, finish_change_set, record_lines, set_befores};
use super::sqlutil::{later, parse_json, parse_stamp, stamp, with_pool};
use crate::outcome::{ChangeResult, Outcome, WriteFailure};

/// Where a job is in its life.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::Display,
)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Queued,
    Running,
    Done,
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// `done` or `failed`: nothing more will happen.
    pub fn is_finished(self) -> bool {
        matches!(self, JobState::Done | JobState::Failed)
    }
}

/// A stored job.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub subject: String,
    /// Not serialized: it is as good as the session cookie.
    #[serde(skip)]
    pub session_id: Option<String>,
    pub corp_id: String,
    pub action: String,
    pub state: JobState,
    pub total_chunks: i32,
    pub done_chunks: i32,
    pub total_lines: i64,
    pub payload: Value,
    pub result: Value,
    /// How many times an owner took the job (a new claim, not a renewal); > 1 means it was resumed.
    pub attempts: i32,
    pub lease_owner: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub lease_until: Option<OffsetDateTime>,
}

/// What one chunk of a job (one upstream call) did: its number and the call's [`Outcome`], the
/// one outcome shape (summed with [`Outcome::sum`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChunkOutcome {
    pub chunk: i32,
    pub outcome: Outcome,
}

const COLUMNS: &str = "id, created_at, updated_at, subject, session_id, corp_id, action, state, total_chunks, \
     done_chunks, total_lines, payload, result, attempts, lease_owner, lease_until";

/// Shared by both claims: take the lease, move to `running`, count a claim by a new owner.
const CLAIM_SET: &str = "lease_owner = $1, lease_until = $2, updated_at = $3, state = 'running', \
     attempts = attempts + CASE WHEN lease_owner = $1 THEN 0 ELSE 1 END";

#[derive(sqlx::FromRow)]
struct JobRow {
    id: String,
    created_at: String,
    updated_at: String,
    subject: String,
    session_id: Option<String>,
    corp_id: String,
    action: String,
    state: String,
    total_chunks: i32,
    done_chunks: i32,
    total_lines: i64,
    payload: String,
    result: String,
    attempts: i32,
    lease_owner: Option<String>,
    lease_until: Option<String>,
}

fn decode_err(e: impl std::error::Error + Send + Sync + 'static) -> sqlx::Error {
    sqlx::Error::Decode(Box::new(e))
}

impl TryFrom<JobRow> for Job {
    type Error = sqlx::Error;
    fn try_from(r: JobRow) -> Result<Self, sqlx::Error> {
        Ok(Job {
            id: Uuid::parse_str(&r.id).map_err(decode_err)?,
            created_at: parse_stamp(&r.created_at)?,
            updated_at: parse_stamp(&r.updated_at)?,
            subject: r.subject,
            session_id: r.session_id,
            corp_id: r.corp_id,
            action: r.action,
            state: r
                .state
                .parse()
                .map_err(|e: strum::ParseError| sqlx::Error::Decode(e.into()))?,
            total_chunks: r.total_chunks,
            done_chunks: r.done_chunks,
            total_lines: r.total_lines,
            payload: parse_json(&r.payload)?,
            result: parse_json(&r.result)?,
            attempts: r.attempts,
            lease_owner: r.lease_owner,
            lease_until: r.lease_until.as_deref().map(parse_stamp).transpose()?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ChunkRow {
    chunk: i32,
    updated: i64,
    failed: String,
    unknown: String,
    upstream_status: Option<i32>,
    error: Option<String>,
}

fn job_from(row: Option<JobRow>) -> Result<Option<Job>, sqlx::Error> {
    row.map(Job::try_from).transpose()
}

// After the macros above: `macro_rules!` is in scope only below its definition.
mod store;
