//! What counts as a browser's form post, and the most of one the console reads before a
//! handler (the CSRF check, a preview kept across a sign-out).

use axum::http::{HeaderMap, header};

/// Largest form body read to find `csrf_token`.
pub const FORM_LIMIT: usize = 1024 * 1024;

/// A `application/x-www-form-urlencoded` body.
pub fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.split(';').next().is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        })
}
