//! The device list, totals, IMEI look-up and line health.

use axum::response::IntoResponse;

use crate::error::AppError;

pub async fn home() -> Result<axum::response::Response, AppError> {
    Ok("todo".into_response())
}
pub async fn list() -> Result<axum::response::Response, AppError> {
    Ok("todo".into_response())
}
pub async fn totals() -> Result<axum::response::Response, AppError> {
    Ok("todo".into_response())
}
pub async fn by_imei() -> Result<axum::response::Response, AppError> {
    Ok("todo".into_response())
}
pub async fn health() -> Result<axum::response::Response, AppError> {
    Ok("todo".into_response())
}
