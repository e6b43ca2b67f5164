//! Retry and revert: previews of a new change set made from an earlier one, and running it once confirmed.

use super::*;
use crate::actions::apply::{Request, Work, apply, hold_for};
use crate::actions::deferred::{Hold, Intent, REASON_FIELD};
use crate::policy::WriteMode;

/// Lines listed in a retry's preview.
pub(super) const PREVIEW_LINES: u32 = 50;

/// The change set a retry or revert starts from, with what the POST said.
struct Earlier {
    parent: ChangeSet,
    form: RawForm,
    kind: ActionKind,
    corp: CorpId,
}

/// Reads the earlier change set (visible to this user), the form, and checks the user may run
/// its action in its device group, or ask for it: before any upstream call.
async fn earlier(
    state: &AppState,
    user: &CurrentUser,
    id: &str,
    body: &[u8],
) -> Result<Earlier, AppError> {
    let parent = visible(state, user, id).await?;
    let form = RawForm::parse(body)?;
    let kind = ActionKind::from_slug(&parent.action)
        .ok_or_else(|| AppError::BadRequest("This action is no longer offered.".into()))?;
    let corp = CorpId::parse(&parent.corp_id)?;
    user.principal.write_mode(kind.operation(), &corp)?;
    Ok(Earlier {
        parent,
        form,
        kind,
        corp,
    })
}

/// `POST /changes/{id}/retry`: previews a new change set of the lines not changed (the unknown
/// ones too only when `include_unknown` is ticked: they may have been applied); with
/// `confirmed=true` runs it and answers 303 to the new change set.
pub async fn retry(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    Path(id): Path<String>,
    origin: crate::middleware::WriteOrigin,
    body: Bytes,
) -> Result<Response, AppError> {
    let Earlier {
        parent,
        form,
        kind,
        corp,
    } = earlier(&state, &user, &id, &body).await?;
    // The rule the change page draws its button by: no button, no retry.
    let offer =
        crate::views::redo::retry_offer(&parent, &user.principal).map_err(AppError::BadRequest)?;
    // Finishing a change stopped for a sign-in: exactly the lines not sent.
    let not_sent = form.flag("not_sent");
    let include_unknown = !not_sent && (form.flag("include_unknown") || offer.unknown_only());
    let mut wanted = vec![LineState::Failed];
    if include_unknown {
        wanted.push(LineState::Unknown);
    }
    let mut mdns: Vec<Mdn> = Vec::new();
    let mut seqs: Vec<i32> = Vec::new();
    let mut shown: Vec<PreviewLine> = Vec::new();
    let mut pages = std::pin::pin!(state.db.change_lines_stream(parent.id));
    while let Some(page) = pages.next().await {
        for l in page? {
            if !wanted.contains(&l.outcome) {
                continue;
            }
            if not_sent
                && !l
                    .message
                    .as_deref()
                    .is_some_and(crate::actions::jobs::is_not_sent)
            {
                continue;
            }
            let Ok(m) = Mdn::parse(&l.mdn) else { continue };
            if shown.len() < PREVIEW_LINES as usize {
                shown.push(PreviewLine {
                    mdn: l.mdn.clone(),
                    current: l.before_value.clone().unwrap_or_else(|| "—".into()),
                    new: l.after_value.clone().unwrap_or_else(|| "—".into()),
                    warning: (l.outcome == LineState::Unknown)
                        .then(|| "Outcome unknown: this line may already have changed.".to_owned()),
                    what: None,
                });
            }
            mdns.push(m);
            seqs.push(l.seq);
        }
    }
    if mdns.is_empty() {
        return Err(AppError::BadRequest(
            "There is no line to retry (tick the unknown lines to retry those).".into(),
        ));
    }
    // A change set whose chunks carry their own change (a CSV import): each line is retried
    // with its own chunk's change, one group per change.
    let groups = crate::actions::changeset::chunk_changes(&parent.fields).map(|per| {
        let mut groups: Vec<(Change, Vec<Mdn>)> = Vec::new();
        for (m, seq) in mdns.iter().zip(&seqs) {
            let Some(c) = crate::actions::changeset::change_at(&per, *seq) else {
                continue;
            };
            match groups.iter_mut().find(|(g, _)| g == c) {
                Some((_, l)) => l.push(m.clone()),
                None => groups.push((c.clone(), vec![m.clone()])),
            }
        }
        groups
    });
    let change: Change = match groups.as_ref().and_then(|g| g.first()) {
        Some((c, _)) => c.clone(),
        None => serde_json::from_value(
            serde_json::json!({ "action": kind, "fields": parent.fields.clone() }),
        )
        .map_err(|e| AppError::Internal(e.into()))?,
    };
    // Sent now, or asked for when the user's role only lets them request one of its changes.
    let mode = match &groups {
        Some(gs) => modes(
            gs.iter()
                .map(|(c, l)| c.mode_for(&user.principal, &corp, l.len())),
        )?,
        None => change.mode_for(&user.principal, &corp, mdns.len())?,
    };
    let target = Target::Lines(mdns);
    if form.flag("edit") && groups.is_none() && offer.editable {
        // The lines that failed, in the action's form filled with the value that failed: the
        // user edits it, previews it again, and it is sent as a new change of those lines.
        let values = RawForm::from_pairs(change.values.to_pairs());
        let page = crate::routes::actions::form_page(
            &state,
            &user,
            &corp,
            kind,
            &target,
            values,
            crate::actions::form::FieldErrors::default(),
            None,
            &session,
        )
        .await?;
        return Ok(page.into_response());
    }
    let needs_ack = target.needs_ack();
    let work = match groups {
        Some(gs) => Work::Groups(gs, format!("Retry: {}", parent.summary)),
        None => Work::One(change.clone(), target.clone()),
    };
    // The same rules as any change: a request waits for approval, a large retry for a second
    // admin.
    let (hold, missing_reason) = hold_of(&state, &work, mode, &form);
    let intent = Intent {
        mode,
        hold: hold.clone(),
    };
    let confirmed = form.flag("confirmed");
    if !confirmed || (needs_ack && !form.flag("acknowledged")) || missing_reason {
        let n = target.known_count().unwrap_or_default();
        let mut warnings = Vec::new();
        if include_unknown {
            warnings.push(
                "Lines with an unknown outcome are included: Sentinel may already have applied the change to them."
                    .to_owned(),
            );
        }
        let mut hidden = Vec::new();
        if not_sent {
            hidden.push(("not_sent".to_owned(), "true".to_owned()));
        }
        if include_unknown {
            hidden.push(("include_unknown".to_owned(), "true".to_owned()));
        }
        let page = PreviewPage {
            layout: Layout::signed_in(
                format!("Retry: {}", kind.label()),
                &user.principal,
                &user.csrf,
            ),
            corp: corp.to_string(),
            label: kind.label(),
            reason: request_reason(mode, &form),
            summary: match &work {
                Work::Groups(gs, _) if gs.len() > 1 => format!(
                    "Each line's own change again ({})",
                    crate::actions::form::plural(gs.len() as u64, "change")
                ),
                _ => change.summary(),
            },
            target: target.describe(),
            post_href: retry_href(parent.id),
            back_href: change_href(parent.id),
            csrf: user.csrf.clone(),
            count: Some(n),
            more: n.saturating_sub(shown.len() as u64),
            lines: shown,
            warnings,
            load_problem: None,
            checks: Vec::new(),
            needs_ack,
            ack_label: format!("Yes, change these {n} lines"),
            message: (confirmed && missing_reason).then(|| REASON_MISSING.to_owned()),
            hidden,
            verb: intent.verb(),
            explain: intent.explain(state.config.approval_required_above),
        };
        return Ok((reason_status(confirmed && missing_reason), page).into_response());
    }
    let audit = crate::routes::edge::write_context(&session, &user, &corp, kind, &origin)?;
    let request = Request {
        work,
        hold,
        origin: (Origin::Retry, Some(parent.id)),
        audit,
    };
    let new_id = apply(&state, &user.caller(&session), request)
        .await?
        .settled()
        .await;
    Ok(Redirect::to(&change_href(new_id)).into_response())
}

/// `POST /changes/{id}/revert`: previews a new change set that puts each changed line (and the
/// unknown ones when `include_unknown` is ticked) back to its value before, one group per value,
/// saying which lines cannot be and why; with `confirmed=true` runs it and answers 303 to it.
pub async fn revert(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    Path(id): Path<String>,
    origin: crate::middleware::WriteOrigin,
    body: Bytes,
) -> Result<Response, AppError> {
    let Earlier {
        parent,
        form,
        kind,
        corp,
    } = earlier(&state, &user, &id, &body).await?;
    let offer =
        crate::views::redo::revert_offer(&parent, &user.principal).map_err(AppError::BadRequest)?;
    let include_unknown = form.flag("include_unknown") || offer.unknown_only();
    let plan = revert::plan(
        &state,
        &user.reader(),
        &parent,
        kind,
        &corp,
        include_unknown,
    )
    .await?;
    if plan.groups.is_empty() && form.flag("confirmed") {
        let why: Vec<String> = plan
            .left_out
            .iter()
            .map(|l| {
                format!(
                    "{} cannot be put back: {}",
                    crate::actions::form::plural(l.count, "line"),
                    l.why
                )
            })
            .collect();
        return Err(AppError::BadRequest(format!(
            "Nothing can be reverted. {}",
            why.join(" ")
        )));
    }
    // Where the revert is sent from: the change's group, or the one a move took the lines to.
    let corp = plan.groups.first().map_or(corp, |g| g.corp.clone());
    if plan.groups.iter().any(|g| g.corp != corp) {
        return Err(AppError::BadRequest(
            "The lines are in several device groups now: revert them from each group.".into(),
        ));
    }
    let mode = modes(
        plan.groups
            .iter()
            .map(|g| g.change.mode_for(&user.principal, &g.corp, g.mdns.len())),
    )?;
    let count = plan.lines() as u64;
    let summary = format!(
        "Revert: {} back to each line's value before ({})",
        kind.label(),
        crate::actions::form::plural(plan.groups.len() as u64, "value")
    );
    let groups: Vec<(Change, Vec<Mdn>)> = plan
        .groups
        .iter()
        .map(|g| (g.change.clone(), g.mdns.clone()))
        .collect();
    let work = Work::Groups(groups, summary);
    // The same rules as any change: a request waits for approval, a large revert for a second
    // admin.
    let (hold, missing_reason) = hold_of(&state, &work, mode, &form);
    let confirmed = form.flag("confirmed");
    if !confirmed || missing_reason {
        let intent = Intent {
            mode,
            hold: hold.clone(),
        };
        let page = RevertPreviewPage {
            layout: Layout::signed_in(
                format!("Revert: {}", kind.label()),
                &user.principal,
                &user.csrf,
            ),
            label: kind.label(),
            corp: corp.to_string(),
            count,
            values: plan
                .groups
                .iter()
                .map(|g| (g.value.clone(), g.mdns.len() as u64))
                .collect(),
            more: count.saturating_sub(plan.shown.len() as u64),
            left_out: plan.left_out,
            lines: plan.shown,
            include_unknown,
            post_href: revert_href(parent.id),
            back_href: change_href(parent.id),
            csrf: user.csrf.clone(),
            message: (confirmed && missing_reason).then(|| REASON_MISSING.to_owned()),
            verb: match intent.hold {
                None => "Revert these lines",
                Some(_) => intent.verb(),
            },
            explain: intent.explain(state.config.approval_required_above),
            reason: request_reason(mode, &form),
        };
        return Ok((reason_status(confirmed && missing_reason), page).into_response());
    }
    // The undo on a portal card (`via=portal`) leads back to that card.
    let via = crate::domain::Via::parse(form.first("via"))?;
    let audit = crate::routes::edge::write_context(&session, &user, &corp, kind, &origin)?.via(via);
    let request = Request {
        hold,
        work,
        origin: (Origin::Revert, Some(parent.id)),
        audit,
    };
    let single = match &request.work {
        Work::Groups(g, _) if g.len() == 1 && g[0].1.len() == 1 && request.hold.is_none() => {
            Some(g[0].1[0].clone())
        }
        _ => None,
    };
    let new_id = apply(&state, &user.caller(&session), request)
        .await?
        .settled()
        .await;
    let to = match (via, single) {
        (Some(_), Some(mdn)) => crate::paths::portal_card_saved(&corp, &mdn, new_id).into(),
        (Some(_), None) => crate::paths::change_from_portal(new_id).into(),
        (None, _) => change_href(new_id),
    };
    Ok(Redirect::to(&to).into_response())
}

/// What a request without its reason is told, back on its preview.
const REASON_MISSING: &str =
    "Say why you ask for this change: whoever approves it reads your reason.";

/// The mode of a change made of several: asked for when any part only may be.
fn modes(
    each: impl Iterator<Item = Result<WriteMode, crate::policy::Refusal>>,
) -> Result<WriteMode, AppError> {
    let mut mode = WriteMode::Direct;
    for m in each {
        if m? == WriteMode::Request {
            mode = WriteMode::Request;
        }
    }
    Ok(mode)
}

/// The hold of a retry or revert: a request with the reason typed on its preview (and whether
/// that reason is still missing), or the rules of a change its user may make.
fn hold_of(state: &AppState, work: &Work, mode: WriteMode, form: &RawForm) -> (Option<Hold>, bool) {
    match mode {
        WriteMode::Direct => (hold_for(state, work, None), false),
        WriteMode::Request => match form
            .first(REASON_FIELD)
            .map(str::trim)
            .filter(|r| !r.is_empty())
        {
            Some(reason) => (
                Some(Hold::Request {
                    reason: reason.chars().take(500).collect(),
                    run_at: None,
                }),
                false,
            ),
            None => (
                Some(Hold::Request {
                    reason: String::new(),
                    run_at: None,
                }),
                true,
            ),
        },
    }
}

/// The reason box of a request's preview, with what was typed so far.
fn request_reason(mode: WriteMode, form: &RawForm) -> Option<String> {
    (mode == WriteMode::Request).then(|| form.first(REASON_FIELD).unwrap_or_default().to_owned())
}

/// A preview shown again because its request had no reason is a bad request.
fn reason_status(missing: bool) -> axum::http::StatusCode {
    if missing {
        axum::http::StatusCode::BAD_REQUEST
    } else {
        axum::http::StatusCode::OK
    }
}
