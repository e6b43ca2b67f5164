//! What routes take from the request before anything else: the query parsed into its type, the
//! path's device group parsed ([`GroupPath`]) and checked against the scope table, and a write's audit context (who, from
//! where, within the write limit), and one line of a group looked up. Each rejects with the app's
//! error.

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use tower_sessions::Session;

use crate::actions::ActionKind;
use crate::actions::limit;
use crate::actions::run::AuditContext;
use crate::auth::CurrentUser;
use crate::domain::{CorpId, ListQuery, Mdn, SearchValue};
use crate::error::AppError;
use crate::middleware::WriteOrigin;
use crate::policy::Operation;
use crate::state::AppState;
use crate::upstream::ListParams;
use crate::upstream::wire::Device;

/// Parses a query string into `T` (all fields optional strings), as a 400 when malformed or
/// when a value holds a control character.
pub fn parse_query<T: serde::de::DeserializeOwned + Default>(
    raw: Option<&str>,
) -> Result<T, AppError> {
    match raw {
        None | Some("") => Ok(T::default()),
        Some(q) => {
            crate::domain::form_pairs::decode(q.as_bytes())?;
            serde_urlencoded::from_str(q)
                .map_err(|_| AppError::BadRequest("The address has a malformed query.".into()))
        }
    }
}

/// The device group a route's path names (`{corp_id}`), parsed once at the edge: a malformed one
/// is the app's own error, before the handler runs. Which operations the user may run on it is
/// the handler's check ([`authorize`]), against the scope table.
pub struct GroupPath(pub CorpId);

impl<S: Send + Sync> FromRequestParts<S> for GroupPath {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::NotFound("There is no such page.".into()))?;
        let raw = params
            .iter()
            .find(|(name, _)| *name == "corp_id")
            .map(|(_, value)| value)
            .ok_or_else(|| AppError::NotFound("There is no such page.".into()))?;
        Ok(GroupPath(CorpId::parse(raw)?))
    }
}

/// Checks the user may run `op` on the path's device group: before any upstream call.
pub fn authorize(user: &CurrentUser, corp: &CorpId, op: Operation) -> Result<(), AppError> {
    user.principal.check(op, corp)?;
    Ok(())
}

/// A confirmed write: the per-session write limit, then who is writing, from where (the audit context).
pub fn write_context(
    session: &Session,
    user: &CurrentUser,
    corp: &CorpId,
    kind: ActionKind,
    origin: &WriteOrigin,
) -> Result<AuditContext, AppError> {
    let key = session
        .id()
        .map(|id| id.to_string())
        .unwrap_or_else(|| user.principal.subject.clone());
    limit::check_write(&key)?;
    Ok(AuditContext::new(
        &user.principal,
        corp,
        kind,
        origin.request_id.clone(),
        origin.client_request_id.clone(),
    ))
}

/// One line of a device group, read with the user's token (after the caller's scope check).
pub async fn find_line(
    state: &AppState,
    user: &CurrentUser,
    corp: &CorpId,
    mdn: &Mdn,
) -> Result<Device, AppError> {
    // The API has no single-line read: search by the MDN's digits and keep the exact match.
    let q = ListQuery {
        search: SearchValue::parse(&mdn.digits())?,
        ..ListQuery::default()
    };
    let found = state
        .upstream
        .list_devices(&user.token, corp, &ListParams::from(&q))
        .await?;
    found
        .devices
        .into_iter()
        .find(|d| Mdn::parse(&d.mdn).is_ok_and(|m| m == *mdn))
        .ok_or_else(|| AppError::NotFound(format!("Device group {corp} has no line {mdn}.")))
}
