//! The one entry point of a confirmed change. Every door — the list's form (explicit lines or
//! select-all), a line's page, the portal, an import, a retry, a revert — builds a [`Request`]
//! and calls [`apply`]: the hold (request, second admin, schedule) decided in one place, the
//! change set stored before anything is sent, and the runner started. Approvals and the
//! scheduler release stored change sets into the same runner (`deferred::release`).

use std::time::Duration;

use tokio::task::JoinHandle;
use uuid::Uuid;

use super::deferred::{self, Hold};
use super::error::ChangeError;
use super::form::{Change, Target};
use super::run::AuditContext;
use super::{CHUNK_SIZE, jobs};
use crate::domain::{CorpId, Mdn, RunAt};
use crate::identity::caller::Caller;
use crate::policy::needs_second_admin;
use crate::state::AppState;
use crate::storage::changes::Origin;

/// How long a confirmation waits for a select-all job before answering (the job goes on).
const SHORT_WAIT: Duration = Duration::from_secs(3);

/// What a confirmed change sends.
pub enum Work {
    /// One change for a selection (explicit lines, every matching line, SmartSpot IMEIs).
    One(Change, Target),
    /// Lines that get different changes (a revert, an import, a retry of either): one group
    /// per change, in order; the text describes the whole change set.
    Groups(Vec<(Change, Vec<Mdn>)>, String),
}

impl Work {
    /// Lines it names, when known before it runs (a select-all's are read when it runs).
    pub fn known_lines(&self) -> Option<u64> {
        match self {
            Work::One(_, t) => t.known_count(),
            Work::Groups(g, _) => Some(g.iter().map(|(_, m)| m.len() as u64).sum()),
        }
    }
}

/// A confirmed change, as every door hands it over.
pub struct Request {
    pub work: Work,
    /// Why it waits before anything is sent, if it does (see [`hold_for`] and
    /// [`deferred::intent`]).
    pub hold: Option<Hold>,
    /// A new change, or a retry / revert of `parent`.
    pub origin: (Origin, Option<Uuid>),
    pub audit: AuditContext,
}

/// A stored change set; its runner may still be working.
pub struct Applied {
    pub id: Uuid,
    handle: Option<JoinHandle<()>>,
    wait: Option<Duration>,
}

impl Applied {
    /// Waits a moment for a small change, so that its page shows the result at once; the change
    /// goes on by itself when the wait ends or the browser goes away.
    pub async fn settled(self) -> Uuid {
        if let Some(handle) = self.handle {
            match self.wait {
                None => {
                    if let Err(e) = handle.await {
                        tracing::error!(change = %self.id, error = %e, "a short change ended abnormally");
                    }
                }
                Some(limit) => {
                    let _ = tokio::time::timeout(limit, handle).await;
                }
            }
        }
        self.id
    }
}

/// The hold of a change made by someone whose roles allow it (a retry, a revert, an import):
/// the two-person rule for a large or destructive change, or its time.
pub fn hold_for(state: &AppState, work: &Work, run_at: Option<RunAt>) -> Option<Hold> {
    let lines = work.known_lines();
    let second_admin = match work {
        Work::One(c, t) => needs_second_admin(
            state.config.approval_required_above,
            c.action
                .operation_for(t.known_count().unwrap_or(2) as usize),
            lines,
        ),
        Work::Groups(groups, _) => groups.iter().any(|(c, m)| {
            needs_second_admin(
                state.config.approval_required_above,
                c.action.operation_for(m.len()),
                lines,
            )
        }),
    };
    match (second_admin, run_at) {
        (true, run_at) => Some(Hold::SecondAdmin { run_at }),
        (false, Some(run_at)) => Some(Hold::Schedule { run_at }),
        (false, None) => None,
    }
}

/// Stores a confirmed change as a change set — waiting, when it is held — and starts its runner.
/// The caller answers `303` to the change set; nothing here depends on the request lasting.
pub async fn apply(state: &AppState, user: &Caller, req: Request) -> Result<Applied, ChangeError> {
    let Request {
        work,
        hold,
        origin,
        audit,
    } = req;
    if let Some(hold) = hold {
        let id = match work {
            Work::One(change, target) => {
                deferred::store(state, user, &audit, &change, &target, hold, origin).await?
            }
            Work::Groups(groups, summary) => {
                deferred::store_groups(state, user, &audit, groups, summary, hold, origin).await?
            }
        };
        return Ok(Applied {
            id,
            handle: None,
            wait: None,
        });
    }
    let corp = CorpId::parse(&audit.corp_id)?;
    let small = work.known_lines().is_some_and(|n| n <= CHUNK_SIZE as u64);
    let start = jobs::Starter {
        state,
        user,
        session_id: user.session_id(),
        corp: &corp,
        audit,
        origin,
    };
    let (id, handle, wait) = match work {
        Work::One(change, Target::Lines(mdns)) => {
            let (id, h) = start.list(change, &mdns).await?;
            (id, small.then_some(h), None)
        }
        Work::One(change, Target::Bulk(b)) => {
            let (id, h) = start.select_all(change, &b).await?;
            (id, Some(h), Some(SHORT_WAIT))
        }
        // SmartSpot: its one call, with the Wi-Fi password sealed for the job until it ends.
        Work::One(change, Target::Imeis(imeis)) => {
            let (id, h) = start.smartspot(change, &imeis).await?;
            (id, Some(h), None)
        }
        Work::Groups(groups, summary) => {
            let (id, h) = start.groups(groups, summary).await?;
            (id, small.then_some(h), None)
        }
    };
    Ok(Applied { id, handle, wait })
}
