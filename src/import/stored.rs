//! The import's plan kept server-side between its preview and its confirmation (a database row
//! with an expiry, so a 50,000-line plan is never posted back and any instance can confirm it).

use std::time::Duration;

use super::Plan;
use crate::actions::error::ChangeError;
use crate::domain::CorpId;
use crate::policy::Principal;
use crate::state::AppState;

/// How long a preview can be confirmed.
pub const PLAN_TTL: Duration = Duration::from_secs(30 * 60);

/// A plan id as the confirm form posts it: a UUID, nothing else reaches the database.
pub fn parse_id(raw: &str) -> Result<String, ChangeError> {
    uuid::Uuid::parse_str(raw.trim())
        .map(|u| u.to_string())
        .map_err(|_| {
            ChangeError::Invalid(
                "The confirmation does not name an import preview; upload the file again.".into(),
            )
        })
}

/// Stores the plan for `user` in `corp`; returns its new random id.
pub async fn store(
    state: &AppState,
    user: &Principal,
    corp: &CorpId,
    plan: &Plan,
) -> Result<String, ChangeError> {
    let id = uuid::Uuid::new_v4().to_string();
    put(state, user, corp, &id, plan).await?;
    Ok(id)
}

/// Stores (again) the plan under `id`.
pub async fn put(
    state: &AppState,
    user: &Principal,
    corp: &CorpId,
    id: &str,
    plan: &Plan,
) -> Result<(), ChangeError> {
    let json = serde_json::to_string(plan).map_err(|e| ChangeError::Internal(e.into()))?;
    state
        .db
        .import_plan_put(id, &user.subject, corp.as_str(), &json, PLAN_TTL)
        .await?;
    Ok(())
}

/// The user's plan `id` for `corp`, removed as it is read (a plan is applied once).
pub async fn take(
    state: &AppState,
    user: &Principal,
    corp: &CorpId,
    id: &str,
) -> Result<Plan, ChangeError> {
    let json = state
        .db
        .import_plan_take(id, &user.subject, corp.as_str())
        .await?
        .ok_or_else(|| {
            ChangeError::Invalid(
                "This import preview has expired or was already applied. Upload the file again to see what it would change now.".into(),
            )
        })?;
    serde_json::from_str(&json).map_err(|e| ChangeError::Internal(e.into()))
}
