//! The approval workflow: `POST /changes/{id}/approve` (a fresh preview of current values, then
//! with `confirmed=true` it runs with the approver's token), `/reject` (`reason`) and `/cancel`.
//! Who may do each is decided by [`crate::policy`]; a refused approver changes nothing.

use super::*;
use crate::actions::deferred::{self, Plan};
use crate::actions::preview;
use crate::policy::Operation;
use crate::views::changes::ApprovePreviewPage;

/// The waiting change set `id` this user may see, its action and device group.
async fn waiting(
    state: &AppState,
    user: &CurrentUser,
    id: &str,
) -> Result<(ChangeSet, ActionKind, CorpId), AppError> {
    let c = visible(state, user, id).await?;
    let kind = deferred::kind_of(&c)?;
    let corp = CorpId::parse(&c.corp_id)?;
    Ok((c, kind, corp))
}

/// Every operation a waiting change set would call, with its line count: one per column of an
/// import (deciding on it needs the scope of each), else its action's.
pub(super) fn operations(c: &ChangeSet, kind: ActionKind) -> Vec<Operation> {
    let Ok(plan) = Plan::of_stored(c) else {
        return vec![kind.operation()];
    };
    let mut ops = vec![kind.operation_for(plan.target.known_count().unwrap_or(2) as usize)];
    for (change, mdns) in &plan.groups {
        let op = change.action.operation_for(mdns.len());
        if !ops.contains(&op) {
            ops.push(op);
        }
    }
    ops
}

fn no_longer(c: &ChangeSet) -> AppError {
    AppError::BadRequest(format!(
        "This change is no longer waiting: it is {}.",
        c.state.label().to_lowercase()
    ))
}

/// `POST /changes/{id}/approve`.
pub async fn approve(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    Path(id): Path<String>,
    origin: crate::middleware::WriteOrigin,
    body: Bytes,
) -> Result<Response, AppError> {
    let form = RawForm::parse(&body)?;
    let (c, kind, corp) = waiting(&state, &user, &id).await?;
    // Applying it: the approver's roles as the identity provider grants them now.
    let user = if form.flag("confirmed") {
        user.reverified(&state, &session, &change_href(c.id))
            .await?
    } else {
        user
    };
    let plan = Plan::of_stored(&c)?;
    // The scope table first: an approver without each operation's scope (every column of an
    // import) never reaches the upstream.
    for op in operations(&c, kind) {
        user.principal.check_approve(&c.subject, op, &corp)?;
    }
    for (change, mdns) in &plan.groups {
        change.authorize(&user.principal, &corp, mdns.len())?;
    }
    if c.state != ChangeState::AwaitingApproval {
        return Err(no_longer(&c));
    }
    plan.change.authorize(
        &user.principal,
        &corp,
        plan.target.known_count().unwrap_or(2) as usize,
    )?;
    let stored_digest = c.life.plan.as_ref().map(deferred::plan_digest);
    // Approving applies exactly what this approver's preview showed: a confirmation made from
    // another preview (the change was bound again or edited since) shows the preview again.
    let shown = form.first("plan");
    let stale = form.flag("confirmed")
        && (shown.is_none() && plan.bound_from.is_some()
            || matches!(plan.target, crate::actions::form::Target::Bulk(_))
            || shown.is_some_and(|d| Some(d) != stored_digest.as_deref()));
    if !form.flag("confirmed") || stale {
        // A select-all request is bound to the lines it matches now: these are the lines shown.
        let (plan, digest) = deferred::bind(&state, &user.reader(), &c, plan).await?;
        let p = if plan.groups.is_empty() {
            preview::build(
                &state,
                &user.principal,
                &user.token,
                &corp,
                kind,
                &plan.target,
                &plan.change,
            )
            .await
        } else {
            // An import: each line's change per column.
            preview::build_groups(&state, &user.token, &corp, &plan.groups).await
        };
        let mut warnings = p.warnings;
        if stale {
            warnings.insert(
                0,
                "This change is not what your earlier preview showed (it was edited, or the lines it matches were read again): review it and approve again.".to_owned(),
            );
        }
        return Ok(ApprovePreviewPage {
            layout: Layout::signed_in(
                format!("Approve: {}", kind.label()),
                &user.principal,
                &user.csrf,
            ),
            label: kind.label(),
            corp: c.corp_id.clone(),
            summary: c.summary.clone(),
            selection: crate::routes::actions::named_target(
                &plan.target,
                &p.names,
                p.count.or(plan.target.known_count()),
            ),
            requester: c.user_name.clone().unwrap_or_else(|| c.subject.clone()),
            reason: c.life.request_reason.clone(),
            run_at: c.life.run_at.map(crate::views::changes::utc_time),
            count: p.count.or(plan.target.known_count()),
            lines: p.lines,
            more: p.more,
            warnings,
            load_problem: p.load_problem,
            plan_digest: digest,
            post_href: paths::change_approve(c.id).into(),
            back_href: change_href(c.id),
            csrf: user.csrf.clone(),
        }
        .into_response());
    }
    let audit = crate::routes::edge::write_context(&session, &user, &corp, kind, &origin)?
        .via(plan.audit.via);
    if !deferred::approve(&state, &user.caller(&session), &c, audit).await? {
        let now = state.db.change_get(c.id).await?.unwrap_or(c);
        return Err(no_longer(&now));
    }
    Ok(Redirect::to(&change_href(c.id)).into_response())
}

/// `POST /changes/{id}/reject` with a required `reason`: nothing is sent.
pub async fn reject(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, AppError> {
    let (c, kind, corp) = waiting(&state, &user, &id).await?;
    // The rejecter's roles as the identity provider grants them now.
    let user = user
        .reverified(&state, &session, &change_href(c.id))
        .await?;
    for op in operations(&c, kind) {
        user.principal.check_approve(&c.subject, op, &corp)?;
    }
    if c.state != ChangeState::AwaitingApproval {
        return Err(no_longer(&c));
    }
    let form = RawForm::parse(&body)?;
    let reason = form
        .first("reason")
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .ok_or_else(|| {
            AppError::BadRequest("Say why you reject it: the requester will read it.".into())
        })?;
    if reason.chars().count() > 500 {
        return Err(AppError::BadRequest(
            "The reason is too long: at most 500 characters.".into(),
        ));
    }
    let rec = deferred::transition(&c, &user.principal, "rejected", Some(reason));
    let d = deferred::decision(&user.principal, Some(reason.to_owned()), None);
    let done = state
        .db
        .change_decide(
            c.id,
            &[ChangeState::AwaitingApproval],
            ChangeState::Rejected,
            &d,
            None,
            Some(&rec),
        )
        .await?;
    if !done {
        return Err(no_longer(&c));
    }
    Ok(Redirect::to(&change_href(c.id)).into_response())
}

/// `POST /changes/{id}/cancel`: a waiting or scheduled change is closed; nothing is sent.
pub async fn cancel(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let (c, kind, corp) = waiting(&state, &user, &id).await?;
    if !operations(&c, kind)
        .into_iter()
        .all(|op| user.principal.can_cancel(&c.subject, op, &corp))
    {
        return Err(AppError::Forbidden(
            "Only the person who made this change, or someone whose role allows it, can cancel it."
                .into(),
        ));
    }
    let from = [
        ChangeState::AwaitingApproval,
        ChangeState::Scheduled,
        ChangeState::NeedsSignIn,
    ];
    if !from.contains(&c.state) {
        return Err(no_longer(&c));
    }
    let rec = deferred::transition(&c, &user.principal, "cancelled", None);
    let d = deferred::decision(&user.principal, None, None);
    let done = state
        .db
        .change_decide(c.id, &from, ChangeState::Cancelled, &d, None, Some(&rec))
        .await?;
    if !done {
        return Err(no_longer(&c));
    }
    Ok(Redirect::to(&change_href(c.id)).into_response())
}

/// News of their requests is shown for this long after it happened.
const NOTICE_FOR: time::Duration = time::Duration::hours(24);

/// `GET /changes/inbox`: the header's count of changes this user may approve, and news of their
/// own requests (approved, rejected, done) of the last day.
pub async fn inbox(State(state): State<AppState>, user: CurrentUser) -> Result<Response, AppError> {
    let (corps, only) = user.principal.change_list_scope();
    let waiting = ChangeFilter {
        corp_ids: corps.map(|c| c.iter().map(|c| c.to_string()).collect()),
        subject: only,
        states: vec![ChangeState::AwaitingApproval],
        offset: 0,
        limit: 200,
    };
    let (sets, _) = state.db.change_list(&waiting).await?;
    let count = sets
        .iter()
        .filter(|c| {
            let (Ok(corp), Some(kind)) =
                (CorpId::parse(&c.corp_id), ActionKind::from_slug(&c.action))
            else {
                return false;
            };
            operations(c, kind)
                .into_iter()
                .all(|op| user.principal.can_approve(&c.subject, op, &corp))
        })
        .count();
    let mine = ChangeFilter {
        subject: Some(user.principal.subject.clone()),
        states: vec![
            ChangeState::Scheduled,
            ChangeState::Running,
            ChangeState::Done,
            ChangeState::DoneWithFailures,
            ChangeState::Failed,
            ChangeState::Rejected,
        ],
        limit: 20,
        ..Default::default()
    };
    let since = time::OffsetDateTime::now_utc() - NOTICE_FOR;
    let (own, _) = state.db.change_list(&mine).await?;
    let notices = own
        .iter()
        .filter(|c| c.life.decided_at.is_some_and(|t| t > since))
        .filter_map(crate::views::changes::Notice::of)
        .take(3)
        .collect();
    Ok(crate::views::changes::InboxFragment {
        count,
        waiting_href: paths::changes(Some("awaiting_approval"), false).into(),
        notices,
    }
    .into_response())
}
