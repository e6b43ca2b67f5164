//! Change sets that wait before anything is sent: a request (waiting for someone whose roles
//! allow it), an admin's change over `APPROVAL_REQUIRED_ABOVE` (waiting for a second admin), a
//! change scheduled for a time. How each is stored, decided on (approve, reject, cancel, expire)
//! and released into the job runner, with the token of whoever approved or scheduled it.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::error::ChangeError;
use super::form::{Change, Target};
use super::jobs::{self, JobPayload};
use super::run::AuditContext;
use super::{ActionKind, changeset};
use crate::domain::{CorpId, Mdn, RunAt};
use crate::identity::caller::Caller;
use crate::identity::grant;
use crate::outcome::ChangeResult;
use crate::policy::{Principal, WriteMode, needs_second_admin};
use crate::state::AppState;
use crate::storage::audit::NewAuditRecord;
use crate::storage::changes::{ChangeSet, ChangeState, Decision, NewLine, Origin, Waiting};
use crate::storage::jobs::NewJob;
use crate::upstream::wire::BulkSelection;

/// What a waiting change set will run, kept as data (never a secret).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    pub change: Change,
    pub target: Target,
    /// Who the change is made for when it is sent (the requester; the approver once approved).
    pub audit: AuditContext,
    /// Lines that get different changes (a CSV import): one group per change, each group's
    /// lines cut into chunks; empty: `change` for every line of `target`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<(Change, Vec<Mdn>)>,
    /// A select-all request bound to explicit lines by an approver's preview: the selection it
    /// came from (each new preview binds it again; the approval applies the lines last shown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound_from: Option<BulkSelection>,
}

impl Plan {
    pub fn of_stored(set: &ChangeSet) -> Result<Self, ChangeError> {
        let v = set.life.plan.clone().ok_or_else(|| {
            ChangeError::Invalid("This change has nothing waiting to run.".into())
        })?;
        serde_json::from_value(v).map_err(|e| ChangeError::Internal(e.into()))
    }
}

mod bind;
pub use bind::{bind, plan_digest};

/// Why a confirmed change waits.
#[derive(Debug, Clone)]
pub enum Hold {
    /// The user may only ask: it waits for someone whose roles allow it (and then perhaps a time).
    Request {
        reason: String,
        run_at: Option<RunAt>,
    },
    /// `APPROVAL_REQUIRED_ABOVE`: an admin's own large or destructive change waits for a second admin.
    SecondAdmin { run_at: Option<RunAt> },
    /// The user may make it: it waits for its time.
    Schedule { run_at: RunAt },
}

/// The audit entry of a step in a change set's life (nothing sent).
pub fn transition(
    set: &ChangeSet,
    who: &Principal,
    event: &str,
    reason: Option<&str>,
) -> NewAuditRecord {
    NewAuditRecord {
        request_id: None,
        client_request_id: None,
        subject: who.subject.clone(),
        user_name: who.name.clone().or_else(|| who.email.clone()),
        roles: who.roles_label(),
        corp_id: set.corp_id.clone(),
        action: set.action.clone(),
        selection: set.selection.clone(),
        fields: set.fields.clone(),
        line_count: set.total_lines,
        updated: 0,
        failed: 0,
        unknown: 0,
        outcome: ChangeResult::Ok,
        upstream_status: None,
        result: json!({ "event": event, "reason": reason, "runAt": set.life.run_at.map(|t| t.to_string()) }),
        job_id: Some(set.id.to_string()),
        via: None,
        event: Some(event.to_owned()),
    }
}

#[allow(clippy::too_many_arguments)]
/// Stores a confirmed change that waits (nothing is sent): its lines when known, its plan, and
/// for a scheduled change the sign-in it will run with (sealed). Returns the change set's id.
pub async fn store(
    state: &AppState,
    user: &Caller,
    audit: &AuditContext,
    change: &Change,
    target: &Target,
    hold: Hold,
    origin: (Origin, Option<Uuid>),
) -> Result<Uuid, ChangeError> {
    if matches!(target, Target::Imeis(_)) {
        return Err(ChangeError::Invalid(
            "A SmartSpot change carries a Wi-Fi password, which the console keeps only while the change runs: it can only be made now.".into(),
        ));
    }
    let id = Uuid::new_v4();
    let set = changeset::new_set(id, audit, change, target, origin);
    let after = change.action.def().after(&change.values);
    let lines: Vec<NewLine> = match target {
        Target::Lines(m) => NewLine::pending(m, &after),
        // All matching lines are read when it runs: the list may have changed by then.
        _ => Vec::new(),
    };
    let plan = Plan {
        change: change.clone(),
        target: target.clone(),
        audit: audit.clone(),
        groups: Vec::new(),
        bound_from: None,
    };
    keep_waiting(state, user, set, &lines, &plan, hold).await
}

#[allow(clippy::too_many_arguments)]
/// [`store`] for lines that get different changes (a CSV import): one group per change, in
/// order; `summary` describes the whole change set.
pub async fn store_groups(
    state: &AppState,
    user: &Caller,
    audit: &AuditContext,
    groups: Vec<(Change, Vec<Mdn>)>,
    summary: String,
    hold: Hold,
    origin: (Origin, Option<Uuid>),
) -> Result<Uuid, ChangeError> {
    let Some(first) = groups.first().map(|(c, _)| c.clone()) else {
        return Err(ChangeError::Invalid("There is no line to change.".into()));
    };
    let mut lines = Vec::new();
    let mut all = Vec::new();
    for (change, mdns) in &groups {
        let after = change.action.def().after(&change.values);
        lines.extend(NewLine::pending(mdns, &after));
        all.extend(mdns.iter().cloned());
    }
    let target = Target::Lines(all);
    let id = Uuid::new_v4();
    let mut set = changeset::new_set(id, audit, &first, &target, origin);
    set.summary = summary;
    let plan = Plan {
        change: first,
        target,
        audit: audit.clone(),
        groups,
        bound_from: None,
    };
    keep_waiting(state, user, set, &lines, &plan, hold).await
}

/// The caller's sign-in kept (sealed) for a change that runs at `at`.
async fn keep_sign_in(
    state: &AppState,
    user: &Caller,
    at: OffsetDateTime,
) -> Result<Uuid, ChangeError> {
    let session = user.session.as_ref().ok_or(ChangeError::SignedOut)?;
    Ok(grant::keep(state, session, Some(at)).await?)
}

/// Stores `set` with its `lines` and `plan` in the state `hold` asks for, with its audit entry.
async fn keep_waiting(
    state: &AppState,
    user: &Caller,
    mut set: crate::storage::changes::NewChangeSet,
    lines: &[NewLine],
    plan: &Plan,
    hold: Hold,
) -> Result<Uuid, ChangeError> {
    let now = OffsetDateTime::now_utc();
    let (wait_state, run_at, reason, event) = match &hold {
        Hold::Request { reason, run_at } => (
            ChangeState::AwaitingApproval,
            *run_at,
            Some(reason.clone()),
            "requested",
        ),
        Hold::SecondAdmin { run_at } => (ChangeState::AwaitingApproval, *run_at, None, "requested"),
        Hold::Schedule { run_at } => (ChangeState::Scheduled, Some(*run_at), None, "scheduled"),
    };
    let grant_id = match hold {
        Hold::Schedule { run_at } => Some(keep_sign_in(state, user, run_at.utc()).await?),
        _ => None,
    };
    let id = set.id;
    set.waiting = Some(Waiting {
        state: wait_state,
        plan: serde_json::to_value(plan).map_err(|e| ChangeError::Internal(e.into()))?,
        run_at: run_at.map(RunAt::utc),
        reason,
        expires_at: (wait_state == ChangeState::AwaitingApproval)
            .then(|| crate::storage::later(now, state.config.request_ttl)),
        grant_id,
    });
    state.db.change_create(&set, lines, None).await?;
    if let Some(stored) = state.db.change_get(id).await? {
        let rec = transition(
            &stored,
            &user.principal,
            event,
            stored.life.request_reason.as_deref(),
        );
        if let Err(e) = state.db.audit_insert(&rec).await {
            tracing::error!(change = %id, error = %e, "audit entry of a waiting change not written");
        }
    }
    Ok(id)
}

/// Whose token a released change runs with.
pub enum RunAs {
    /// The approver, now: their session (read again for every chunk).
    Session {
        session_id: Option<String>,
        token: SecretString,
        principal: Principal,
    },
    /// A sealed grant (the scheduler): its token and user as refreshed just now.
    Grant {
        id: Uuid,
        token: SecretString,
        principal: Principal,
    },
}

/// Starts a waiting change set as a job: its lines (a select-all is read now, with the current
/// values), its job and `approval` in one transaction, then runs it here. `false`: someone else
/// released, rejected or cancelled it first; nothing was sent.
#[allow(clippy::too_many_arguments)]
pub async fn release(
    state: &AppState,
    set: &ChangeSet,
    from: ChangeState,
    claim: Option<&str>,
    run_as: RunAs,
    audit: AuditContext,
    decision: Option<&Decision>,
    approval: Option<&NewAuditRecord>,
) -> Result<bool, ChangeError> {
    let plan = Plan::of_stored(set)?;
    let (mdns, bulk): (Vec<Mdn>, Option<BulkSelection>) = match &plan.target {
        Target::Lines(m) => (m.clone(), None),
        // A scheduled select-all reads its lines when it runs, as a select-all job (an approved
        // one was bound to explicit lines by the approver's preview).
        Target::Bulk(b) => (Vec::new(), Some(b.clone())),
        Target::Imeis(_) => {
            return Err(ChangeError::Invalid(
                "A SmartSpot change cannot run later.".into(),
            ));
        }
    };
    // A select-all bound by the approver's preview: its lines are stored now, as shown.
    let lines: Option<Vec<NewLine>> = plan.bound_from.is_some().then(|| {
        let after = plan.change.action.def().after(&plan.change.values);
        NewLine::pending(&mdns, &after)
    });
    let (session_id, grant_id, held) = match &run_as {
        RunAs::Session {
            session_id,
            token,
            principal,
        } => (
            session_id.clone(),
            None,
            Some((token.clone(), principal.clone())),
        ),
        RunAs::Grant { id, .. } => (None, Some(*id), None),
    };
    // Groups (an import): each group's lines in chunks of their own, with the group's change.
    let (chunks, chunk_changes) = if plan.groups.is_empty() {
        (jobs::chunk(&mdns), Vec::new())
    } else {
        let mut chunks = Vec::new();
        let mut changes = Vec::new();
        for (change, lines) in &plan.groups {
            for c in jobs::chunk(lines) {
                chunks.push(c);
                changes.push(change.clone());
            }
        }
        (chunks, changes)
    };
    let payload = JobPayload {
        chunks,
        chunk_changes,
        grant: grant_id,
        bulk,
        ..JobPayload::new(audit.clone(), plan.change.clone())
    };
    let job = NewJob {
        sealed: None,
        id: set.id,
        subject: audit.subject.clone(),
        session_id,
        corp_id: set.corp_id.clone(),
        action: set.action.clone(),
        payload: serde_json::to_value(&payload).map_err(|e| ChangeError::Internal(e.into()))?,
        total_chunks: payload.total_chunks(),
        total_lines: i64::try_from(mdns.len()).unwrap_or(i64::MAX),
    };
    let released = state
        .db
        .change_release(
            set.id,
            from,
            claim,
            decision,
            lines.as_deref(),
            &job,
            approval,
        )
        .await?;
    if released {
        jobs::spawn_run(state, set.id, held);
    }
    Ok(released)
}

/// The action of a stored change set.
pub fn kind_of(set: &ChangeSet) -> Result<ActionKind, ChangeError> {
    ActionKind::from_slug(&set.action)
        .ok_or_else(|| ChangeError::Invalid("This action is no longer offered.".into()))
}

/// Who decided, for the change set's row.
pub fn decision(by: &Principal, reason: Option<String>, message: Option<String>) -> Decision {
    Decision {
        by: Some(by.subject.clone()),
        by_name: Some(by.display_name().to_owned()),
        reason,
        message,
        plan: None,
    }
}

/// `POST /changes/{id}/approve` confirmed: runs it now with the approver's token (or, when it
/// has a time still ahead, schedules it on the approver's sign-in). `false`: no longer waiting.
pub async fn approve(
    state: &AppState,
    user: &Caller,
    set: &ChangeSet,
    audit: AuditContext,
) -> Result<bool, ChangeError> {
    let now = OffsetDateTime::now_utc();
    let mut plan = Plan::of_stored(set)?;
    plan.audit = audit.clone();
    let approved = transition(set, &user.principal, "approved", None);
    match set.life.run_at {
        Some(at) if at > now => {
            let g = keep_sign_in(state, user, at).await?;
            let mut d = decision(&user.principal, None, None);
            d.plan =
                Some(serde_json::to_value(&plan).map_err(|e| ChangeError::Internal(e.into()))?);
            Ok(state
                .db
                .change_decide(
                    set.id,
                    &[ChangeState::AwaitingApproval],
                    ChangeState::Scheduled,
                    &d,
                    Some(g),
                    Some(&approved),
                )
                .await?)
        }
        _ => {
            let run_as = RunAs::Session {
                session_id: user.session_id(),
                token: user.token.clone(),
                principal: user.principal.clone(),
            };
            let d = decision(&user.principal, None, None);
            release(
                state,
                set,
                ChangeState::AwaitingApproval,
                None,
                run_as,
                audit,
                Some(&d),
                Some(&approved),
            )
            .await
        }
    }
}

/// How a confirmed change proceeds, read once from its form: now, at a time, or after approval.
#[derive(Debug, Clone)]
pub struct Intent {
    pub mode: WriteMode,
    /// `None`: it runs now (or as soon as it is approved).
    pub hold: Option<Hold>,
}

/// The request's reason field: the action's own `reason` when it has one (a status change).
pub const REASON_FIELD: &str = "reason";

/// Reads `when` / `run_at` / `tz_offset` and `reason` from the form, with the scope table's
/// answer for this user: apply, request (reason required), or wait for a second admin.
pub fn intent(
    state: &AppState,
    user: &Principal,
    corp: &CorpId,
    kind: ActionKind,
    target: &Target,
    form: &super::form::RawForm,
) -> Result<Intent, ChangeError> {
    let count = target.known_count();
    let op = kind.operation_for(count.unwrap_or(2) as usize);
    let mode = user.write_mode(op, corp)?;
    let later = form.first("when") != Some("now")
        && form.first("run_at").is_some_and(|t| !t.trim().is_empty());
    let run_at = if later {
        Some(RunAt::parse(
            form.value("run_at"),
            form.first("tz_offset"),
            OffsetDateTime::now_utc(),
        )?)
    } else {
        None
    };
    if matches!(target, Target::Imeis(_)) && (run_at.is_some() || mode == WriteMode::Request) {
        return Err(ChangeError::Invalid(
            "A SmartSpot change carries a Wi-Fi password, which the console keeps only while the change runs: it can only be made now, by someone whose role allows it.".into(),
        ));
    }
    let reason = form
        .first(REASON_FIELD)
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned);
    let hold = match mode {
        WriteMode::Request => Some(Hold::Request {
            reason: reason.ok_or_else(|| {
                ChangeError::Invalid(
                    "Say why you ask for this change: whoever approves it reads your reason."
                        .into(),
                )
            })?,
            run_at,
        }),
        WriteMode::Direct
            if needs_second_admin(state.config.approval_required_above, op, count) =>
        {
            Some(Hold::SecondAdmin { run_at })
        }
        WriteMode::Direct => run_at.map(|run_at| Hold::Schedule { run_at }),
    };
    Ok(Intent { mode, hold })
}

impl Intent {
    /// The confirm button's words.
    pub fn verb(&self) -> &'static str {
        match &self.hold {
            None => "Apply the change",
            Some(Hold::Request { .. }) => "Send the request",
            Some(Hold::SecondAdmin { .. }) => "Ask a second admin to approve it",
            Some(Hold::Schedule { .. }) => "Schedule the change",
        }
    }

    /// What the preview says will happen.
    pub fn explain(&self, threshold: Option<u64>) -> Option<String> {
        let at = |r: &Option<RunAt>| {
            r.map(|r| format!(" It then runs at {}.", crate::domain::when::utc(r.utc())))
                .unwrap_or_default()
        };
        match &self.hold {
            None => None,
            Some(Hold::Request { run_at, .. }) => Some(format!(
                "Your role does not allow this change, so it will be sent as a request: nothing changes until someone whose role allows it approves it.{}",
                at(run_at)
            )),
            Some(Hold::SecondAdmin { run_at }) => Some(format!(
                "This change is above {} lines or destructive, so a second admin must approve it before anything is sent.{}",
                threshold.unwrap_or_default(),
                at(run_at)
            )),
            Some(Hold::Schedule { run_at }) => Some(format!(
                "Nothing is sent now: the change runs by itself at {}, on your behalf, and you can cancel it until then.",
                crate::domain::when::utc(run_at.utc())
            )),
        }
    }

    pub fn run_at(&self) -> Option<RunAt> {
        match &self.hold {
            Some(Hold::Request { run_at, .. }) | Some(Hold::SecondAdmin { run_at }) => *run_at,
            Some(Hold::Schedule { run_at }) => Some(*run_at),
            None => None,
        }
    }
}

/// "Schedule the reverse" of a scheduled status change: the same lines, the action's form with
/// the status they had (ACTIVE for a suspension), at a later time the user picks.
pub fn reverse_form(set: &ChangeSet, kind: ActionKind, user: &Principal) -> Option<String> {
    if set.state != ChangeState::Scheduled || kind.slug() != "status" {
        return None;
    }
    let corp = CorpId::parse(&set.corp_id).ok()?;
    if !user.can(kind.operation(), &corp) {
        return None;
    }
    let plan = Plan::of_stored(set).ok()?;
    let status = plan.change.values.to_json();
    let to = match status.get("status").and_then(|v| v.as_str()) {
        Some(s) if s.eq_ignore_ascii_case("ACTIVE") => "SUSPENDED",
        _ => "ACTIVE",
    };
    let mut pairs = plan.target.to_pairs();
    pairs.push(("status".into(), to.into()));
    pairs.push(("when".into(), "later".into()));
    if let Some(at) = set.life.run_at {
        let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
        let next = at + time::Duration::days(1);
        pairs.push(("run_at".into(), next.format(&fmt).unwrap_or_default()));
    }
    Some(crate::paths::action_form_with(&corp, kind, &pairs).into())
}
