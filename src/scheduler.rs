//! The scheduler every instance runs: claims due scheduled change sets through the database (one
//! instance each), runs them on the sign-in kept for them, expires old requests, and takes the
//! usage samples of tracked groups that are due (see [`crate::usage::sampler`]).

use std::time::Duration;

use time::OffsetDateTime;

use crate::domain::when::utc;

use crate::actions::deferred::{self, Plan, RunAs};
use crate::identity::grant;
use crate::state::AppState;
use crate::storage::changes::{ChangeSet, ChangeState, Decision};

/// How long a claim on a due change set lasts (released well within it, or taken over after).
const CLAIM: Duration = Duration::from_secs(60);
/// A change that starts later than this after its time says it ran late.
const LATE_AFTER: time::Duration = time::Duration::seconds(60);
/// Expired requests are looked for this often.
const EXPIRE_EVERY: Duration = Duration::from_secs(30);

/// Starts the scheduler for the life of the process (a first pass at once: changes that fell due
/// while every instance was down run at start, late).
pub fn spawn(state: AppState) {
    // Usage samples on a loop of their own: a long sample never delays a due change.
    let sampling = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(sampling.config.scheduler_tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            crate::usage::sampler::run_due(&sampling).await;
        }
    });
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(state.config.scheduler_tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_expiry: Option<tokio::time::Instant> = None;
        loop {
            tick.tick().await;
            run_due(&state).await;
            if last_expiry.is_none_or(|t| t.elapsed() >= EXPIRE_EVERY.min(state.config.request_ttl))
            {
                expire_requests(&state).await;
                forget_orphan_grants(&state).await;
                last_expiry = Some(tokio::time::Instant::now());
            }
        }
    });
}

/// Claims and starts every change set due now.
pub async fn run_due(state: &AppState) {
    loop {
        let now = OffsetDateTime::now_utc();
        match state
            .db
            .change_claim_due(&state.instance_id, CLAIM, now)
            .await
        {
            Ok(Some(set)) => {
                if let Err(e) = start(state, &set, now).await {
                    // The claim lapses and another pass (here or elsewhere) tries again.
                    tracing::error!(change = %set.id, error = %e, "a due change could not be started");
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(error = %e, "looking for due changes failed");
                break;
            }
        }
    }
}

/// Runs one claimed change set on its grant, or marks it `needs_sign_in` when the grant is gone.
async fn start(
    state: &AppState,
    set: &ChangeSet,
    now: OffsetDateTime,
) -> Result<(), crate::actions::error::ChangeError> {
    let plan = Plan::of_stored(set)?;
    let late = set
        .life
        .run_at
        .filter(|at| now - *at > LATE_AFTER)
        .map(|at| {
            format!(
                "Ran late: it was due at {}, when no console instance was running; it started at {}.",
                utc(at),
                utc(now)
            )
        });
    let kept = match set.life.grant_id {
        Some(g) => grant::refreshed(state, g).await?.map(|k| (g, k)),
        None => None,
    };
    let Some((g, kept)) = kept else {
        let d = Decision {
            message: Some(
                "Not sent: the sign-in kept for this change is no longer valid (it expired or was revoked). Sign in again and schedule it again, or cancel it."
                    .into(),
            ),
            ..Default::default()
        };
        let owner = crate::policy::Principal {
            subject: set.subject.clone(),
            name: set.user_name.clone(),
            ..Default::default()
        };
        let rec = deferred::transition(set, &owner, "needs_sign_in", None);
        state
            .db
            .change_decide(
                set.id,
                &[ChangeState::Scheduled],
                ChangeState::NeedsSignIn,
                &d,
                None,
                Some(&rec),
            )
            .await?;
        return Ok(());
    };
    let run_as = RunAs::Grant {
        id: g,
        token: secrecy::SecretString::from(kept.tokens.access.expose().to_owned()),
        principal: kept.principal,
    };
    let d = Decision {
        message: late,
        ..Default::default()
    };
    deferred::release(
        state,
        set,
        ChangeState::Scheduled,
        Some(&state.instance_id),
        run_as,
        plan.audit.clone(),
        Some(&d),
        None,
    )
    .await?;
    Ok(())
}

/// Requests no one decided on within `REQUEST_TTL_DAYS` are cancelled as expired.
pub async fn expire_requests(state: &AppState) {
    let now = OffsetDateTime::now_utc();
    let sets = match state.db.change_expired_requests(now, 100).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "looking for expired requests failed");
            return;
        }
    };
    for set in sets {
        let days = state.config.request_ttl.as_secs() / 86_400;
        let d = Decision {
            message: Some(format!(
                "Expired: no one approved or rejected it within {days} days, so nothing was sent."
            )),
            ..Default::default()
        };
        let who = crate::policy::Principal {
            subject: "console".into(),
            name: Some("Sentinel Console".into()),
            ..Default::default()
        };
        let rec = deferred::transition(&set, &who, "expired", None);
        if let Err(e) = state
            .db
            .change_decide(
                set.id,
                &[ChangeState::AwaitingApproval],
                ChangeState::Cancelled,
                &d,
                None,
                Some(&rec),
            )
            .await
        {
            tracing::warn!(change = %set.id, error = %e, "an expired request could not be closed");
        }
    }
}

/// Grants no change needs any more, older than a session can live: revoked and deleted, so no
/// refresh token outlives its use.
async fn forget_orphan_grants(state: &AppState) {
    let before = OffsetDateTime::now_utc()
        - time::Duration::try_from(state.config.session_absolute)
            .unwrap_or(time::Duration::days(1));
    match state.db.grant_orphans(before, 100).await {
        Ok(ids) => {
            for id in ids {
                grant::forget(state, id).await;
            }
        }
        Err(e) => tracing::warn!(error = %e, "looking for unused grants failed"),
    }
}
