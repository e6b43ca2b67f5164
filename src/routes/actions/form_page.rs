//! The action form's parts: the choices its fields need, its "When" and request parts, what a
//! link pre-fills, and the page itself (shared by the first form and a form sent back with errors).

use super::*;

/// Choices the action's fields need from elsewhere: Sentinel's statuses, the user's other groups.
pub(super) async fn choices_for(
    state: &AppState,
    user: &CurrentUser,
    corp: &CorpId,
    kind: ActionKind,
) -> Result<FieldChoices, AppError> {
    let mut choices = FieldChoices::default();
    for f in kind.fields() {
        match f.kind {
            FieldKind::Status => {
                if user
                    .principal
                    .check(Operation::GetPossibleStatuses, corp)
                    .is_err()
                    && user.principal.may_request(kind.operation(), corp)
                {
                    // A requester's token may not read Sentinel's list: offer the statuses the
                    // vendor documents; the approver's preview and Sentinel check the value.
                    choices.statuses = crate::upstream::vocabulary::Statuses::documented()
                        .as_slice()
                        .to_vec();
                    continue;
                }
                user.principal.check(Operation::GetPossibleStatuses, corp)?;
                choices.statuses = state
                    .upstream
                    .get_possible_statuses(&user.token, corp)
                    .await?;
            }
            FieldKind::DeviceGroup => {
                choices.groups = user
                    .principal
                    .corp_ids
                    .iter()
                    .flatten()
                    .filter(|c| *c != corp)
                    .map(|c| c.to_string())
                    .collect();
            }
            _ => {}
        }
        if let Some(column) = f.suggest {
            let known =
                crate::actions::known::values(state, &user.principal, &user.token, corp, column)
                    .await;
            if !known.is_empty() {
                choices.suggestions.push((f.name, known.to_vec()));
            }
        }
    }
    Ok(choices)
}

/// The form page with the choices it needs.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn form_page(
    state: &AppState,
    user: &CurrentUser,
    corp: &CorpId,
    kind: ActionKind,
    target: &Target,
    values: RawForm,
    errors: FieldErrors,
    via: Option<Via>,
    session: &Session,
) -> Result<ActionFormPage, AppError> {
    let choices = choices_for(state, user, corp, kind).await?;
    let when = when_view(state, session, user, corp, kind, target, &values).await?;
    Ok(ActionFormPage::new(
        kind,
        FormInput {
            when,
            user: &user.principal,
            csrf: &user.csrf,
            corp,
            target: form_target(state, user, corp, target).await,
            hidden: hidden_pairs(target, via),
            values: &values,
            errors: &errors,
            choices: &choices,
            back_href: back_href(corp, target, via),
        },
    ))
}

/// The selection as the form names it: its first lines by nickname and MDN, and its exact
/// count (a select-all: one list page of its first lines, which also counts it).
async fn form_target(
    state: &AppState,
    user: &CurrentUser,
    corp: &CorpId,
    target: &Target,
) -> String {
    use crate::actions::known::{self, NAMED};
    match target {
        Target::Imeis(_) => target.describe(),
        Target::Lines(m) => {
            let mdns: Vec<String> = m.iter().take(NAMED).map(ToString::to_string).collect();
            let names = known::names(state, &user.principal, &user.token, corp, &mdns).await;
            named_target(target, &names, Some(m.len() as u64))
        }
        Target::Bulk(b) => {
            if !user.principal.can(Operation::ListDevices, corp) {
                return named_target(target, &[], None);
            }
            let excluded = b.excluded_mdns.clone().unwrap_or_default();
            let p = crate::actions::befores::sorted(
                0,
                u32::try_from((NAMED + excluded.len()).min(1_000)).unwrap_or(1_000),
                b.search_value.clone(),
                b.label_ids.clone().unwrap_or_default(),
            );
            match state.upstream.list_devices(&user.token, corp, &p).await {
                Ok(page) => {
                    let kept: Vec<&crate::upstream::wire::Device> = page
                        .devices
                        .iter()
                        .filter(|d| Mdn::parse(&d.mdn).map_or(true, |m| !excluded.contains(&m)))
                        .collect();
                    let count = page.total_count.saturating_sub(excluded.len() as u64);
                    named_target(target, &known::named_from(&kept), Some(count))
                }
                Err(_) => named_target(target, &[], None),
            }
        }
    }
}

/// The form's "When" and request parts for this user (the scope table decides "request").
pub(super) async fn when_view(
    state: &AppState,
    session: &Session,
    user: &CurrentUser,
    corp: &CorpId,
    kind: ActionKind,
    target: &Target,
    values: &RawForm,
) -> Result<WhenView, AppError> {
    let request = user.principal.write_mode(kind.operation(), corp) == Ok(WriteMode::Request);
    let schedulable = !matches!(target, Target::Imeis(_));
    let note = if schedulable {
        let until = crate::identity::session::auth_of(session)
            .await?
            .and_then(|a| crate::identity::grant::acts_until(&a.tokens));
        let password = state.auth.is_password_mode();
        match until {
            Some(t) => Some(format!(
                "{}: a change can be scheduled only until {}, when it ends.",
                crate::identity::grant::why_not_renewable(password),
                crate::domain::when::utc(t)
            )),
            None if password => Some("You signed in with your Sentinel password: a scheduled change runs only if your sign-in still lasts at its time.".into()),
            None => None,
        }
    } else {
        None
    };
    Ok(WhenView {
        request,
        reason_field: request
            && !kind
                .fields()
                .iter()
                .any(|f| f.name == deferred::REASON_FIELD),
        reason: values.value(deferred::REASON_FIELD).to_owned(),
        schedulable,
        later: values.first("when") == Some("later") || !values.value("run_at").trim().is_empty(),
        run_at: values.value("run_at").to_owned(),
        note,
        mine_href: paths::changes(None, true).into(),
    })
}

/// The form's hidden fields: the selection, and where the change is made from.
pub(super) fn hidden_pairs(target: &Target, via: Option<Via>) -> Vec<(String, String)> {
    let mut pairs = target.to_pairs();
    if let Some(v) = via {
        pairs.push(("via".into(), v.as_str().into()));
    }
    pairs
}

/// Fields a link may pre-fill in a new form ("Schedule the reverse"): the action's own, and when.
pub(super) fn prefilled(kind: ActionKind, form: &RawForm) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = kind
        .def()
        .defaults()
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    for key in kind
        .fields()
        .iter()
        .filter(|f| !matches!(f.kind, FieldKind::Secret { .. }))
        .flat_map(|f| {
            // A limit comes with its choice, unit and "No limit" box.
            let limit = f.kind == FieldKind::Limit;
            std::iter::once(f.name.to_owned()).chain(
                ["Mode", "Unit", "None"]
                    .into_iter()
                    .filter(move |_| limit)
                    .map(move |suffix| format!("{}{suffix}", f.name)),
            )
        })
        .chain(["when".to_owned(), "run_at".to_owned()])
    {
        let key = key.as_str();
        if let Some(v) = form.first(key) {
            out.retain(|(k, _)| k != key);
            out.push((key.to_owned(), v.to_owned()));
        }
    }
    out
}
