//! `GET|POST /devices/{corpId}/import`: the upload form, the diff preview of an uploaded CSV
//! (multipart field `file`), and its confirmation (`confirmed=true`, `plan`) as one change set.

use super::edge::GroupPath;
use axum::body::{Body, to_bytes};
use axum::extract::multipart::MultipartError;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;
use uuid::Uuid;

use crate::actions::ACK_ABOVE;
use crate::actions::apply::{self as change, Request as ChangeRequest, Work, hold_for};
use crate::actions::form::RawForm;
use crate::auth::CurrentUser;
use crate::domain::CorpId;
use crate::error::AppError;
use crate::import::{FileError, Parser, Plan, diff, stored};
use crate::paths;
use crate::state::AppState;
use crate::storage::changes::Origin;
use crate::views::import::{ImportPage, ImportPreviewPage};

/// Room for the multipart framing and the small fields around the file itself: the whole
/// upload may be at most `IMPORT_MAX_BYTES` plus this.
const MULTIPART_SLACK: u64 = 64 * 1024;
/// The confirmation is a small urlencoded form.
const CONFIRM_LIMIT: usize = 64 * 1024;

/// The group, and the import's rule from the scope table, before anything else.
fn authorize(user: &CurrentUser, corp: &CorpId) -> Result<(), AppError> {
    user.principal.check_import(corp)?;
    Ok(())
}

/// `GET /devices/{corpId}/import`
pub async fn form(
    State(state): State<AppState>,
    user: CurrentUser,
    GroupPath(corp): GroupPath,
) -> Result<Response, AppError> {
    authorize(&user, &corp)?;
    Ok(ImportPage::new(&state.config, &user, &corp, None).into_response())
}

/// `POST /devices/{corpId}/import`: a multipart upload answers the preview; the preview's
/// urlencoded confirmation applies its stored plan.
pub async fn submit(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    GroupPath(corp): GroupPath,
    origin: crate::middleware::WriteOrigin,
    req: Request,
) -> Result<Response, AppError> {
    authorize(&user, &corp)?;
    if is_multipart(req.headers()) {
        return upload(&state, &user, &corp, req).await;
    }
    let body = to_bytes(req.into_body(), CONFIRM_LIMIT)
        .await
        .map_err(|_| AppError::BadRequest("The form is too large.".into()))?;
    let form = RawForm::parse(&body)?;
    if !form.flag("confirmed") {
        return Err(AppError::BadRequest(
            "Upload a CSV file (as multipart form data, field “file”) to see what it would change."
                .into(),
        ));
    }
    let id = apply(&state, &user, &session, &corp, &form, &origin).await?;
    Ok(Redirect::to(paths::change(id).as_str()).into_response())
}

fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("multipart/form-data"))
}

/// The form again with why the file was refused; nothing was changed.
fn refused(
    state: &AppState,
    user: &CurrentUser,
    corp: &CorpId,
    status: StatusCode,
    e: FileError,
) -> Response {
    let mut resp = ImportPage::new(&state.config, user, corp, Some(e.0)).into_response();
    *resp.status_mut() = status;
    resp
}

/// Reads the file as it arrives, compares it with the group's lines, keeps the plan, answers the preview.
async fn upload(
    state: &AppState,
    user: &CurrentUser,
    corp: &CorpId,
    req: Request,
) -> Result<Response, AppError> {
    let max = state.config.import_max_bytes;
    let too_large = || {
        FileError(format!(
            "The file is larger than {}: split it, or export fewer columns.",
            crate::import::size_text(max)
        ))
    };
    // Announced too large: refused before a byte of it is read.
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > max.saturating_add(MULTIPART_SLACK)) {
        return Ok(refused(
            state,
            user,
            corp,
            StatusCode::PAYLOAD_TOO_LARGE,
            too_large(),
        ));
    }
    let bad = |msg: String| refused(state, user, corp, StatusCode::BAD_REQUEST, FileError(msg));
    // Not announced (chunked) or announced wrongly: the whole body is capped as it is read,
    // the fields around the file included.
    let read_failed = |e: MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            refused(
                state,
                user,
                corp,
                StatusCode::PAYLOAD_TOO_LARGE,
                too_large(),
            )
        } else {
            bad(format!("The upload could not be read: {}", e.body_text()))
        }
    };
    let cap = usize::try_from(max.saturating_add(MULTIPART_SLACK)).unwrap_or(usize::MAX);
    let req = req.map(|b| Body::new(http_body_util::Limited::new(b, cap)));
    let mut multipart = match Multipart::from_request(req, state).await {
        Ok(m) => m,
        Err(e) => {
            return Ok(bad(format!(
                "The upload could not be read: {}",
                e.body_text()
            )));
        }
    };
    let mut parser = Parser::new(corp.clone(), max, state.config.import_max_rows);
    let mut field = loop {
        match multipart.next_field().await {
            Ok(Some(f)) if f.name() == Some("file") => break f,
            Ok(Some(f)) if f.file_name().is_some() => return Ok(bad(one_file())),
            Ok(Some(_)) => continue,
            Ok(None) => return Ok(bad("Choose a CSV file to upload (field “file”).".into())),
            Err(e) => return Ok(read_failed(e)),
        }
    };
    let file_name = field.file_name().map(str::to_owned);
    loop {
        match field.chunk().await {
            Ok(Some(chunk)) => {
                if let Err(e) = parser.push(&chunk) {
                    let status = if e == too_large() {
                        StatusCode::PAYLOAD_TOO_LARGE
                    } else {
                        StatusCode::BAD_REQUEST
                    };
                    return Ok(refused(state, user, corp, status, e));
                }
            }
            Ok(None) => break,
            Err(e) => return Ok(read_failed(e)),
        }
    }
    // The rest of the form (read within the cap): one file only.
    drop(field);
    loop {
        match multipart.next_field().await {
            Ok(Some(f)) if f.name() == Some("file") || f.file_name().is_some() => {
                return Ok(bad(one_file()));
            }
            Ok(Some(_)) => continue,
            Ok(None) => break,
            Err(e) => return Ok(read_failed(e)),
        }
    }
    let upload = match parser.finish() {
        Ok(u) => u,
        Err(e) => return Ok(refused(state, user, corp, StatusCode::BAD_REQUEST, e)),
    };
    let preview = diff::preview(state, &user.reader(), corp, upload).await?;
    let plan_id = if preview.plan.groups.is_empty() {
        None
    } else {
        Some(stored::store(state, &user.principal, corp, &preview.plan).await?)
    };
    tracing::info!(
        corp = %corp,
        rows = preview.rows,
        lines = preview.lines_changed,
        refused = preview.refused_total,
        "CSV import previewed"
    );
    Ok(ImportPreviewPage::new(user, corp, file_name, &preview, plan_id).into_response())
}

fn one_file() -> String {
    "Upload one CSV file at a time: the form holds more than one file.".into()
}

/// "Import from CSV: Rename (nickname) 12 lines, Set note 3 lines".
fn summary(plan: &Plan) -> String {
    let mut per: Vec<(&'static str, usize)> = Vec::new();
    for g in &plan.groups {
        let label = g.change.action.label();
        match per.iter_mut().find(|(l, _)| *l == label) {
            Some((_, n)) => *n += g.mdns.len(),
            None => per.push((label, g.mdns.len())),
        }
    }
    let parts: Vec<String> = per
        .iter()
        .map(|(l, n)| format!("{l} {}", crate::actions::form::plural(*n as u64, "line")))
        .collect();
    format!("Import from CSV: {}", parts.join(", "))
}

/// The confirmed import: the stored plan, checked again against the scope table now, started as
/// one change set (each group one upstream call per chunk). The one place an import is applied.
async fn apply(
    state: &AppState,
    user: &CurrentUser,
    session: &Session,
    corp: &CorpId,
    form: &RawForm,
    origin: &crate::middleware::WriteOrigin,
) -> Result<Uuid, AppError> {
    let plan_id = stored::parse_id(form.value("plan"))?;
    let plan = stored::take(state, &user.principal, corp, &plan_id).await?;
    // Any refusal from here on leaves the plan as it was, to be confirmed again.
    let checked = (|| {
        let first = plan
            .groups
            .first()
            .ok_or_else(|| AppError::BadRequest("This import changes nothing.".into()))?;
        let lines = plan.lines() as u64;
        for g in &plan.groups {
            g.change.authorize(&user.principal, corp, g.mdns.len())?;
        }
        // "When": now, or at a date and time (a bad time changes nothing).
        let run_at = (form.first("when") != Some("now")
            && form.first("run_at").is_some_and(|t| !t.trim().is_empty()))
        .then(|| {
            crate::domain::RunAt::parse(
                form.value("run_at"),
                form.first("tz_offset"),
                time::OffsetDateTime::now_utc(),
            )
        })
        .transpose()?;
        if lines > ACK_ABOVE && !form.flag("acknowledged") {
            return Err(AppError::BadRequest(format!(
                "Tick “Yes, change these {} lines” to apply the import.",
                plan.lines()
            )));
        }
        let audit =
            crate::routes::edge::write_context(session, user, corp, first.change.action, origin)?;
        Ok::<_, AppError>((audit, run_at))
    })();
    let (audit, run_at) = match checked {
        Ok(a) => a,
        Err(e) => {
            stored::put(state, &user.principal, corp, &plan_id, &plan).await?;
            return Err(e);
        }
    };
    let summary = summary(&plan);
    let groups: Vec<_> = plan
        .groups
        .into_iter()
        .map(|g| (g.change, g.mdns))
        .collect();
    // A second admin's approval, or a time: stored, nothing sent (the change set's rules).
    let work = Work::Groups(groups, summary);
    let request = ChangeRequest {
        hold: hold_for(state, &work, run_at),
        work,
        origin: (Origin::Change, None),
        audit,
    };
    let id = change::apply(state, &user.caller(session), request)
        .await?
        .settled()
        .await;
    Ok(id)
}
