//! The 19 operations of the Sentinel devices API: the shared error answer and the auth check every handler starts with.

mod body;
mod detail;
mod list;
mod params;
mod reassign;
mod select;
mod smartspot;
mod updates;

use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

pub use detail::{devices_by_imei, health, possible_statuses};
pub use list::{customized_list, list_devices, totals};
pub use reassign::{update_device_group, update_imei};
pub use smartspot::{get_smartspot, update_smartspot, update_smartspot_multi};
pub use updates::{
    bulk_delete_labels, update_data_limits, update_filter_group, update_mdn_custom_field,
    update_nickname, update_note, update_status, update_summer_usage,
};

use super::Simulator;
use super::data;
use super::idp::DemoUser;
use super::rules::{self, Caller, Op};

/// The API's JSON error answer `{"error", "message"}`.
#[derive(Debug, Clone)]
pub struct ApiErr {
    pub status: StatusCode,
    pub error: String,
    pub message: String,
}

impl ApiErr {
    pub fn new(status: StatusCode, error: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            error: error.to_owned(),
            message: message.into(),
        }
    }
    pub fn bad_request(m: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", m)
    }
    pub fn unauthorized(m: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", m)
    }
    pub fn forbidden(m: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", m)
    }
    pub fn not_found(m: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", m)
    }
    pub fn unprocessable(m: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable_entity", m)
    }
    /// The real API's quirk for an empty result.
    pub fn no_devices() -> Self {
        Self::not_found("NO DEVICES FOUND")
    }
}

impl IntoResponse for ApiErr {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"error": self.error, "message": self.message})),
        )
            .into_response()
    }
}

type ApiResult = Result<Response, ApiErr>;

/// Authenticates and authorises a call on a device group; returns the user and the group's id.
fn begin(
    sim: &Simulator,
    headers: &HeaderMap,
    corp: &str,
    op: Op,
) -> Result<(&'static DemoUser, &'static str), ApiErr> {
    let user = sim.authenticate(headers)?;
    let kind = data::kind_of(corp).ok_or_else(|| group_not_found(corp))?;
    let caller = caller(user);
    rules::check_corp(&caller, corp).map_err(ApiErr::forbidden)?;
    rules::check_op(&caller, op).map_err(ApiErr::forbidden)?;
    Ok((user, kind.corp_id()))
}

/// The 404 of a device group that does not exist.
fn group_not_found(corp: &str) -> ApiErr {
    ApiErr::not_found(format!("Device group {corp} was not found."))
}

fn caller(u: &'static DemoUser) -> Caller<'static> {
    Caller {
        roles: u.roles,
        corp_ids: u.corp_ids,
        account_type: u.account_type,
    }
}

/// Any other path under the simulator.
pub async fn not_found() -> Response {
    ApiErr::not_found("There is no such resource.").into_response()
}
