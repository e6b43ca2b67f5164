//! Bulk actions over HTTP: the action forms, preview and confirmation, running, and job progress.
//!
//! Order of every POST: unknown action → 404; the scope table → 403 (before any upstream
//! call); a malformed selection → 400; bad fields → the form again (400); no `confirmed=true`
//! → the preview; confirmed → rate limit, then a change set (see [`crate::actions::changeset`])
//! and 303 to its page.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;
use uuid::Uuid;

use super::edge::{GroupPath, write_context};
use crate::actions::apply::{Request, Work, apply};
use crate::actions::catalog::Selection;
use crate::actions::catalog::field::Kind as FieldKind;
use crate::actions::deferred::{self, Intent};
use crate::actions::error::ChangeError;
use crate::actions::form::{self, Change, FieldErrors, RawForm, Target};
use crate::actions::{ActionKind, preview};
use crate::auth::CurrentUser;
use crate::domain::{CorpId, Imei, Mdn, Via};
use crate::error::AppError;
use crate::middleware::WriteOrigin;
use crate::paths;
use crate::policy::Operation;
use crate::policy::WriteMode;
use crate::state::AppState;
use crate::storage::changes::Origin;
use crate::views::Layout;
use crate::views::actions::{ActionFormPage, FieldChoices, FormInput, PreviewPage, WhenView};

/// Session key prefix of a Wi-Fi password typed in the form, kept server-side until confirmation.
const PASSWORD_KEY: &str = "actions.wifi_password.";

fn kind_of(slug: &str) -> Result<ActionKind, AppError> {
    ActionKind::from_slug(slug)
        .ok_or_else(|| AppError::NotFound(format!("There is no action “{slug}”.")))
}

/// The SmartSpot settings action (its own page opens it for one device).
fn smartspot_kind() -> Result<ActionKind, AppError> {
    ActionKind::all()
        .find(|k| k.selection() == Selection::Imeis)
        .ok_or_else(|| AppError::NotFound("SmartSpot settings are not available.".into()))
}

/// Where the form and preview lead back to: the list, or the portal's card of the line.
fn back_href(corp: &CorpId, target: &Target, via: Option<Via>) -> String {
    match via {
        Some(Via::Portal) => crate::views::portal::return_href(corp, target),
        None => paths::group(corp).into(),
    }
}

/// The form field `via` (a portal form posts `via=portal`), parsed at the edge.
fn via_of(form: &RawForm) -> Result<Option<Via>, AppError> {
    Ok(Via::parse(form.first("via"))?)
}

/// "Select all matching" from the list: row boxes left unticked on the page become exclusions.
fn with_page_exclusions(form: RawForm) -> RawForm {
    if !form.flag("select_all") {
        return form;
    }
    let ticked: Vec<&str> = form.all("mdns").collect();
    // The list's bar names its filter `list_*` so the page keeps one `searchValue` field (the search box).
    let mut pairs: Vec<(String, String)> = form
        .echo_pairs()
        .into_iter()
        .filter(|(k, _)| k != "mdns" && k != "page_mdns")
        .map(|(k, v)| match k.as_str() {
            "list_searchValue" => ("searchValue".to_owned(), v),
            "list_labelIds" => ("labelIds".to_owned(), v),
            _ => (k, v),
        })
        .collect();
    // The page's MDNs come as one comma-separated field (or repeated fields).
    for m in form.all("page_mdns").flat_map(|v| v.split(',')) {
        if !m.is_empty() && !ticked.contains(&m) {
            pairs.push(("excluded_mdns".into(), m.to_owned()));
        }
    }
    RawForm::from_pairs(pairs)
}

/// An IMEI action opened from selected lines: their IMEIs (read from the list).
async fn imeis_from_lines(
    state: &AppState,
    user: &CurrentUser,
    corp: &CorpId,
    form: RawForm,
) -> Result<RawForm, AppError> {
    if form.first("imeis").is_some() || form.first("mdns").is_none() {
        return Ok(form);
    }
    let mut mdns = Vec::new();
    for m in form.all("mdns") {
        mdns.push(Mdn::parse(m)?);
    }
    mdns.truncate(crate::actions::MAX_IMEIS);
    let found = preview::load_lines(state, &user.token, corp, &mdns).await?;
    let mut pairs: Vec<(String, String)> = Vec::new();
    for m in &mdns {
        if let Some(i) = found
            .get(m.as_str())
            .and_then(|d| d.imei.as_deref())
            .and_then(|i| Imei::parse(i).ok())
        {
            pairs.push(("imeis".into(), i.to_string()));
        }
    }
    if pairs.is_empty() {
        return Err(AppError::BadRequest(
            "None of the selected lines has a SmartSpot IMEI.".into(),
        ));
    }
    Ok(RawForm::from_pairs(pairs))
}

/// Scope check for the target's size (SmartSpot: several devices use `-multi`).
fn check_op(
    user: &CurrentUser,
    corp: &CorpId,
    kind: ActionKind,
    target: &Target,
) -> Result<(), AppError> {
    let n = target.known_count().unwrap_or(2) as usize;
    user.principal.write_mode(kind.operation_for(n), corp)?;
    Ok(())
}

/// `GET /devices/{corpId}/actions/{action}?mdns=..` (or `select_all=true&searchValue=..`): the action's form.
pub async fn show_form(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    GroupPath(corp): GroupPath,
    Path((_, action)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, AppError> {
    form_for_selection(
        &state,
        &user,
        &session,
        &corp,
        &action,
        raw.unwrap_or_default().as_bytes(),
    )
    .await
}

/// `POST /devices/{corpId}/actions/{action}/form`: the same form for a selection too long for a
/// URL (the list's bar posts thousands of lines here); it changes nothing.
pub async fn show_form_posted(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    GroupPath(corp): GroupPath,
    Path((_, action)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, AppError> {
    form_for_selection(&state, &user, &session, &corp, &action, &body).await
}

async fn form_for_selection(
    state: &AppState,
    user: &CurrentUser,
    session: &Session,
    corp: &CorpId,
    action: &str,
    raw: &[u8],
) -> Result<Response, AppError> {
    let kind = kind_of(action)?;
    let corp = corp.clone();
    user.principal.write_mode(kind.operation(), &corp)?;
    // A list filtered from the latest sample selects its explicit lines.
    let form = super::list_filters::explicit_selection(state, &corp, RawForm::parse(raw)?).await?;
    let mut form = with_page_exclusions(form);
    if kind.selection() == Selection::Imeis {
        form = imeis_from_lines(state, user, &corp, form).await?;
    }
    let via = via_of(&form)?;
    if kind.selection() != Selection::Imeis
        && !form.flag("select_all")
        && form.all("mdns").all(|m| m.trim().is_empty())
    {
        // No line chosen (a bookmarked or bare link): say what to do, not a bare 400.
        let page = crate::views::MessagePage {
            layout: Layout::signed_in(kind.label(), &user.principal, &user.csrf),
            heading: format!("{}: choose the lines first", kind.label()),
            message: format!(
                "No line is selected. Tick the lines in the list of {corp} (or “Select all” matching a search), then choose “{}” in the bar above the list.",
                kind.label()
            ),
            link: Some((
                paths::group(&corp).into(),
                format!("Go to the {corp} lines"),
            )),
        };
        return Ok((StatusCode::BAD_REQUEST, page).into_response());
    }
    let target = form::parse_target(kind, &form)?;
    check_op(user, &corp, kind, &target)?;
    // A new form starts from the action's defaults (the single-device SmartSpot page pre-fills
    // from Sentinel), and what a link pre-fills.
    let values = RawForm::from_pairs(prefilled(kind, &form));
    let page = form_page(
        state,
        user,
        &corp,
        kind,
        &target,
        values,
        FieldErrors::default(),
        via,
        session,
    )
    .await?;
    Ok(page.into_response())
}

/// `GET /devices/{corpId}/smartspot/{imei}`: one device's SmartSpot settings, as a form when the user may change them.
pub async fn smartspot(
    State(state): State<AppState>,
    user: CurrentUser,
    GroupPath(corp): GroupPath,
    Path((_, imei)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, AppError> {
    user.principal
        .check(Operation::GetSmartspotSettings, &corp)?;
    // `?via=portal`: opened from the portal's card, which the form leads back to.
    let via = via_of(&RawForm::parse(raw.unwrap_or_default().as_bytes())?)?;
    let imei = Imei::parse(&imei)?;
    let s = state
        .upstream
        .get_smartspot_settings(&user.token, &corp, &imei)
        .await?;
    let v = &s.values;
    let mut pairs: Vec<(String, String)> = Vec::new();
    if let Some(x) = &v.ssid {
        pairs.push(("ssid".into(), x.clone()));
    }
    if let Some(x) = v.max_clients {
        pairs.push(("maxClients".into(), x.to_string()));
    }
    if let Some(x) = &v.band {
        pairs.push(("band".into(), x.clone()));
    }
    if v.content_filter_enabled == Some(true) {
        pairs.push(("contentFilterEnabled".into(), "true".into()));
    }
    if v.hotspot_enabled == Some(true) {
        pairs.push(("hotspotEnabled".into(), "true".into()));
    }
    // The password is write-only: never read into the page, even if Sentinel sent one.
    let target = Target::Imeis(vec![imei.clone()]);
    let kind = smartspot_kind()?;
    let page = ActionFormPage::new(
        kind,
        FormInput {
            user: &user.principal,
            csrf: &user.csrf,
            corp: &corp,
            target: format!("SmartSpot {imei}"),
            hidden: hidden_pairs(&target, via),
            when: WhenView::default(),
            values: &RawForm::from_pairs(pairs),
            errors: &FieldErrors::default(),
            choices: &FieldChoices::default(),
            back_href: back_href(&corp, &target, via),
        },
    );
    Ok(page.into_response())
}

/// `POST /devices/{corpId}/actions/{action}`: validate, preview, or (with `confirmed=true`) apply.
pub async fn submit(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    GroupPath(corp): GroupPath,
    Path((_, action)): Path<(String, String)>,
    origin: WriteOrigin,
    body: Bytes,
) -> Result<Response, AppError> {
    let kind = kind_of(&action)?;
    // The scope table first: a forbidden change never reaches the upstream, not even as a preview
    // read. A user who may only request it gets the request form.
    let mode = user.principal.write_mode(kind.operation(), &corp)?;
    let form =
        super::list_filters::explicit_selection(&state, &corp, RawForm::parse(&body)?).await?;
    let via = via_of(&form)?;
    let target = form::parse_target(kind, &form)?;
    check_op(&user, &corp, kind, &target)?;

    // The Wi-Fi password: typed now, or kept in the session since the preview.
    let stash_key = form
        .first("wifiPasswordRef")
        .filter(|r| r.len() <= 64 && r.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .map(|r| format!("{PASSWORD_KEY}{r}"));
    let mut password = form
        .first("wifiPassword")
        .filter(|p| !p.is_empty())
        .map(str::to_owned);
    if password.is_none() {
        if let Some(k) = &stash_key {
            password = session.get::<String>(k).await?;
        }
    }

    // The operation's line limit (IMEI: one line) is a bad request, not a refusal of the user.
    kind.operation()
        .check_line_count(target.known_count())
        .map_err(|r| AppError::BadRequest(r.0))?;
    let change = match form::parse_change(kind, &corp, &form, password.as_deref()) {
        Ok(c) => c,
        Err(errors) => {
            let values = RawForm::from_pairs(form.echo_pairs());
            let page = form_page(
                &state, &user, &corp, kind, &target, values, errors, via, &session,
            )
            .await?;
            return Ok((StatusCode::BAD_REQUEST, page).into_response());
        }
    };
    let count = target.known_count();
    if mode == WriteMode::Direct {
        change.authorize(&user.principal, &corp, count.unwrap_or(2) as usize)?;
    }
    // Now, at a time, or after approval (a bad time or a missing reason: the form again).
    let intent = match deferred::intent(&state, &user.principal, &corp, kind, &target, &form) {
        Ok(i) => i,
        Err(ChangeError::Invalid(msg)) => {
            let values = RawForm::from_pairs(form.echo_pairs());
            let mut errors = FieldErrors::default();
            let field = if msg.contains("reason") {
                deferred::REASON_FIELD
            } else {
                "run_at"
            };
            errors.add(field, msg);
            let page = form_page(
                &state, &user, &corp, kind, &target, values, errors, via, &session,
            )
            .await?;
            return Ok((StatusCode::BAD_REQUEST, page).into_response());
        }
        Err(e) => return Err(e.into()),
    };
    let needs_ack = target.needs_ack();
    let confirmed = form.flag("confirmed");
    // What the preview asked to be ticked is asked again, from the same (kept) reading.
    let unticked = confirmed
        && preview::checks(&state, &user.principal, &user.token, &corp, &change)
            .await
            .iter()
            .any(|c| !form.flag(c.name));
    if !confirmed || (needs_ack && !form.flag("acknowledged")) || unticked {
        let message = confirmed.then(|| {
            if unticked {
                "Tick the box under the warning to go on (or go back and change the value), then apply again.".to_owned()
            } else {
                "Tick the box to confirm how many lines will change, then apply again.".to_owned()
            }
        });
        let status = if confirmed {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        };
        let page = preview_page(
            &state,
            &user,
            &session,
            &corp,
            kind,
            &target,
            &change,
            &form,
            password,
            message,
            back_href(&corp, &target, via),
            &intent,
        )
        .await?;
        return Ok((status, page).into_response());
    }

    let audit = write_context(&session, &user, &corp, kind, &origin)?.via(via);
    if let Some(k) = &stash_key {
        // Used once: the password leaves the session store with this change.
        let _ = session.remove::<String>(k).await;
    }

    // From the portal, a change of one line made now leads back to its card ("Saved", with its
    // undo); a request, a scheduled change or a SmartSpot's to the change set's page.
    let card_line = match &target {
        Target::Lines(m) if m.len() == 1 && intent.hold.is_none() => m.first().cloned(),
        _ => None,
    };
    // Every confirmed change is a change set, stored before anything is sent (held, when a
    // request, a second admin or a time says so).
    let request = Request {
        work: Work::One(change, target),
        hold: intent.hold.clone(),
        origin: (Origin::Change, None),
        audit,
    };
    let id = apply(&state, &user.caller(&session), request)
        .await?
        .settled()
        .await;
    let to = match (via, card_line) {
        (Some(Via::Portal), Some(mdn)) => paths::portal_card_saved(&corp, &mdn, id),
        (Some(Via::Portal), None) => paths::change_from_portal(id),
        (None, _) => paths::change(id),
    };
    Ok(Redirect::to(to.as_str()).into_response())
}

#[allow(clippy::too_many_arguments)]
async fn preview_page(
    state: &AppState,
    user: &CurrentUser,
    session: &Session,
    corp: &CorpId,
    kind: ActionKind,
    target: &Target,
    change: &Change,
    form: &RawForm,
    password: Option<String>,
    message: Option<String>,
    back_href: String,
    intent: &Intent,
) -> Result<PreviewPage, AppError> {
    let p = preview::build(
        state,
        &user.principal,
        &user.token,
        corp,
        kind,
        target,
        change,
    )
    .await;
    let mut hidden: Vec<(String, String)> = form.echo_pairs();
    if let Some(pw) = password {
        // Never rendered back: the confirmation carries a reference to the session-held value.
        let r = Uuid::new_v4().simple().to_string();
        session.insert(&format!("{PASSWORD_KEY}{r}"), pw).await?;
        hidden.push(("wifiPasswordRef".into(), r));
    }
    let n = p.count.or(target.known_count());
    let needs_ack = target.needs_ack();
    Ok(PreviewPage {
        layout: Layout::signed_in(
            format!("Preview: {}", kind.label()),
            &user.principal,
            &user.csrf,
        ),
        corp: corp.to_string(),
        label: kind.label(),
        summary: change.summary(),
        target: named_target(target, &p.names, n),
        post_href: paths::action(corp, kind).into(),
        back_href,
        csrf: user.csrf.clone(),
        count: n,
        lines: p.lines,
        more: p.more,
        warnings: p.warnings,
        load_problem: p.load_problem,
        checks: p.checks,
        needs_ack,
        ack_label: match (n, &p.replaced) {
            (Some(n), Some(r)) => format!("Yes, change these {n} lines, replacing {r} they have"),
            (Some(n), None) => format!("Yes, change these {n} lines"),
            (None, Some(r)) => format!("Yes, change all these lines, replacing {r} they have"),
            (None, None) => "Yes, change all these lines".to_owned(),
        },
        message,
        hidden,
        verb: intent.verb(),
        explain: intent.explain(state.config.approval_required_above),
        // The form asked it; it comes back with the echoed fields.
        reason: None,
    })
}

/// The selection named by its first lines and its exact count (see [`crate::views::selection`]).
pub(crate) fn named_target(
    target: &Target,
    names: &[crate::actions::known::NamedLine],
    count: Option<u64>,
) -> String {
    match target {
        Target::Imeis(_) => target.describe(),
        Target::Lines(_) => crate::views::selection::named(names, count, None),
        Target::Bulk(_) => crate::views::selection::named(names, count, Some(&target.describe())),
    }
}

mod form_page;
pub(crate) use form_page::form_page;
use form_page::{hidden_pairs, prefilled};
