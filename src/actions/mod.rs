//! Bulk changes as safe actions: the action catalogue, typed requests, previews, running and the job runner.
//!
//! - [`catalog`]: one module per action ([`ActionKind`] is a handle to one of them).
//! - [`input`]: the posted form's pairs, the selection ([`input::Target`]), per-field errors.
//! - [`form`]: the posted form parsed into a typed [`form::ActionRequest`] (per-field errors).
//! - [`preview`]: what will change, with current values fetched from the list.
//! - [`apply`]: the one entry point of a confirmed change (every door calls it).
//! - [`run`]: applying a change (one upstream call), its outcome and its audit record.
//! - [`changeset`]: a confirmed change as a stored change set; one-call changes run there.
//! - [`jobs`]: explicit lists, chunked and run as a background job.
//! - [`deferred`]: change sets that wait (requests, approvals, scheduled changes) and their release.
//! - [`limit`]: the per-session write rate limit.

pub mod apply;
pub mod befores;
pub mod catalog;
pub mod changeset;
pub mod check;
pub mod deferred;
pub mod error;
pub mod form;
pub mod input;
pub mod jobs;
pub mod known;
pub mod limit;
pub mod preview;
pub mod revert;
pub mod run;
pub mod select_all;
pub mod smartspot;

pub use catalog::ActionKind;

/// Most lines one upstream call carries for an explicit list; longer lists are chunked.
pub const CHUNK_SIZE: usize = 500;
/// Chunks of one job in flight at once.
pub const JOB_CONCURRENCY: usize = 4;
/// Lines listed in a preview; the rest are counted.
pub const PREVIEW_LINES: usize = 50;
/// Above this many lines the user must tick "Yes, change these N lines".
pub use input::ACK_ABOVE;
/// Most lines one explicit list may carry.
pub const MAX_LIST: usize = 50_000;
/// Most IMEIs one SmartSpot change may carry (one upstream call).
pub const MAX_IMEIS: usize = 500;
