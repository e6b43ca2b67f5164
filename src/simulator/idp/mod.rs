//! The demo OAuth 2.0 identity provider (code + PKCE S256, rotating refresh, RFC 7009 revocation) and the vendor's password sign-in.

mod authorize;
mod grant;
mod pages;
mod password;
mod revoke;
mod tokens;
mod users;

pub use authorize::{authorize_page, authorize_submit};
pub use grant::token;
pub use password::password_token;
pub use revoke::revoke;
pub use tokens::{IdpState, issue_for};
pub use users::{DemoUser, user};

/// The form or query parameters of a request, in order.
fn pairs(s: &str) -> Result<Vec<(String, String)>, String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(s)
        .map_err(|_| "The request's parameters are not valid form encoding.".to_owned())
}

fn get<'a>(p: &'a [(String, String)], k: &str) -> Option<&'a str> {
    p.iter()
        .find(|(key, _)| key == k)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}
