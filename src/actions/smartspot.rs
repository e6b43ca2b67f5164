//! A SmartSpot settings change as a durable job: its devices (IMEIs) stored as the change set's
//! lines and its new Wi-Fi password sealed in the job's row of `job_secrets` before anything is
//! sent, then (in the job) the one call marked started, sent, its per-line result and the audit
//! entry recorded, and the password deleted with the job's end. A stopped instance's job is
//! finished by another: a call that may have been sent is settled unknown, never sent again.

use uuid::Uuid;

use super::changeset::results;
use super::form::{Change, Target};
use super::jobs::lease::Lease;
use super::jobs::one_call::{self, OneCall};
use super::jobs::payload::{JobPayload, NOT_STARTED_REASON, RESUMED_REASON, no_token_reason};
use super::run::{self, Outcome};
use crate::crypto::Row;
use crate::domain::{CorpId, Imei};
use crate::identity::caller::TokenSource;
use crate::outcome::ChangeResult;
use crate::state::AppState;
use crate::storage::retry::retrying;
use crate::upstream::wire::WriteFailure;

/// Why nothing was sent when the password kept for the change cannot be read back.
const SECRET_GONE_REASON: &str = "Not sent: the new Wi-Fi password kept for this change could not be read back (the console's key changed, or the change was already finished). Nothing was changed; make the change again.";

/// Runs (or, after a stopped instance, resumes) a SmartSpot job claimed by this instance:
/// - its call already recorded: only the end is left;
/// - its call marked started but not recorded: it may have reached Sentinel, so every device is
///   settled unknown and nothing is sent again;
/// - otherwise the call is made.
///
/// Either way the change set ends with every device accounted for, its audit entry written and
/// its sealed password deleted.
pub(super) async fn process(
    state: &AppState,
    id: Uuid,
    lease: &Lease,
    payload: JobPayload,
    imeis: Vec<Imei>,
    corp: CorpId,
    source: TokenSource,
) {
    let owner = state.instance_id.clone();
    let listed: Vec<String> = imeis.iter().map(ToString::to_string).collect();
    let outcome = match one_call::stands(state, id, "SmartSpot").await {
        None => return,
        Some(OneCall::Recorded(o)) => o,
        Some(stands) => {
            let o = if matches!(stands, OneCall::InFlight) {
                Outcome {
                    unknown: listed.clone(),
                    error: Some(RESUMED_REASON.to_owned()),
                    outcome: ChangeResult::Partial,
                    ..Default::default()
                }
            } else {
                match send(state, lease, id, &payload, &imeis, &listed, &corp, &source).await {
                    Some(o) => o,
                    // The job was taken over by another instance.
                    None => return,
                }
            };
            let failed: Vec<(String, String)> = o
                .failed
                .iter()
                .map(|f| (f.mdn.clone(), f.reason.clone()))
                .collect();
            let lines = results(
                &listed,
                0,
                &failed,
                &o.unknown,
                o.unknown_all,
                o.error.as_deref(),
            );
            if !one_call::record(state, id, &owner, &o, &lines).await {
                return;
            }
            o
        }
    };
    finish(state, id, &owner, &payload, &imeis, &outcome).await;
}

/// Every device not sent, with `why`.
fn not_sent(listed: &[String], why: &str) -> Outcome {
    Outcome {
        failed: listed
            .iter()
            .map(|m| WriteFailure {
                mdn: m.clone(),
                reason: why.to_owned(),
            })
            .collect(),
        error: Some(why.to_owned()),
        outcome: ChangeResult::Failed,
        ..Default::default()
    }
}

/// The change as typed: its sealed secret opened and put back in its field.
async fn with_secret(state: &AppState, id: Uuid, payload: &JobPayload) -> Result<Change, ()> {
    let mut change = payload.change.clone();
    let Some(field) = &payload.secret_field else {
        return Ok(change);
    };
    let sealed = match retrying("read job secret", || state.db.job_secret(id)).await {
        Ok(Some(s)) => s,
        Ok(None) => return Err(()),
        Err(e) => {
            tracing::error!(job = %id, error = %e, "job secret unreadable");
            return Err(());
        }
    };
    let Ok(plain) = state.auth.cipher.open(&sealed, Row::JobSecret(id)) else {
        tracing::warn!(job = %id, "a job's secret cannot be opened (another key)");
        return Err(());
    };
    change.values = change.values.with_secret(field, plain);
    Ok(change)
}

/// Makes the one call, marked started first. `None` when the job was taken over by another
/// instance (it finishes it).
#[allow(clippy::too_many_arguments)]
async fn send(
    state: &AppState,
    lease: &Lease,
    id: Uuid,
    payload: &JobPayload,
    imeis: &[Imei],
    listed: &[String],
    corp: &CorpId,
    source: &TokenSource,
) -> Option<Outcome> {
    let (token, user) = match source.access(state).await.map_err(no_token_reason) {
        Ok(g) => g,
        Err(reason) => return Some(not_sent(listed, reason)),
    };
    if let Err(refusal) = payload.change.authorize(&user, corp, imeis.len()) {
        let mut o = not_sent(listed, &refusal.0);
        o.outcome = ChangeResult::Refused;
        return Some(o);
    }
    let Ok(change) = with_secret(state, id, payload).await else {
        return Some(not_sent(listed, SECRET_GONE_REASON));
    };
    // The durable "started" mark comes before the call: an instance resuming this job after a
    // stop in the call knows it may have been sent, and never sends it again.
    match retrying("mark started", || {
        state.db.job_mark_chunk_started(id, &state.instance_id, 0)
    })
    .await
    {
        Ok(true) => {}
        Ok(false) if lease.is_lost() => return None,
        Ok(false) | Err(_) => return Some(not_sent(listed, NOT_STARTED_REASON)),
    }
    let target = Target::Imeis(imeis.to_vec());
    let mut result = run::call(state, &token, corp, &change, &target).await;
    if run::unauthorized(&result) {
        // A 401 means nothing was applied: renew the sign-in and send once more.
        match source.renew(state, &token).await.map_err(no_token_reason) {
            Ok((t, u)) => match change.authorize(&u, corp, imeis.len()) {
                Ok(()) => result = run::call(state, &t, corp, &change, &target).await,
                Err(refusal) => return Some(not_sent(listed, &refusal.0)),
            },
            Err(reason) => return Some(not_sent(listed, reason)),
        }
    }
    Some(Outcome::from_call(Some(listed), &result))
}

/// Ends the job and its change set with the audit entry (and deletes the sealed password), in
/// one transaction.
async fn finish(
    state: &AppState,
    id: Uuid,
    owner: &str,
    payload: &JobPayload,
    imeis: &[Imei],
    outcome: &Outcome,
) {
    // The audit says a password was set (redacted), never which: the stored change has none.
    let mut said = payload.change.clone();
    if let Some(field) = &payload.secret_field {
        said.values = said.values.with_secret(field, String::new());
    }
    let rec = payload.audit.record(
        &Target::Imeis(imeis.to_vec()).audit_json(),
        said.audit_fields(),
        Some(imeis.len() as u64),
        outcome,
        Some(id.to_string()),
    );
    // A SmartSpot change is never retried (its password is gone with it): no sign-in wait.
    super::jobs::end::finish(
        state,
        id,
        owner,
        outcome,
        &rec,
        outcome.error.as_deref(),
        false,
    )
    .await;
}
