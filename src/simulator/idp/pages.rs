//! The provider's HTML: the demo sign-in page (in the console's layout) and the plain page of a refused request.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

pub(super) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

pub(super) fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{t}</title>\n<link rel=\"stylesheet\" href=\"/static/app.css\">\n</head>\n<body>\n\
         <header class=\"top\"><span class=\"brand\">Sentinel Console</span></header>\n\
         <main id=\"main\">\n<div class=\"demo-signin\">\n<h1>{t}</h1>\n<div class=\"card\">\n{body}\n</div>\n</div>\n</main>\n\
         <footer class=\"foot\"><p class=\"demo-notice\"><strong>Demo mode:</strong> simulated data and sign-in.</p></footer>\n\
         </body>\n</html>\n",
        t = escape(title)
    );
    let mut resp = (status, Html(html)).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

pub(super) fn bad_authorize(problem: &str) -> Response {
    page(
        StatusCode::BAD_REQUEST,
        "Sign-in request refused",
        &format!(
            "<p>The application that sent you here made a sign-in request the demo identity provider cannot accept:</p>\n\
             <p><strong>{}</strong></p>\n<p>Go back to the application and start the sign-in again.</p>",
            escape(problem)
        ),
    )
}

/// One demo user as the sign-in page shows them.
pub(super) struct UserCard {
    pub(super) login: &'static str,
    pub(super) name: &'static str,
    pub(super) email: &'static str,
    pub(super) about: &'static str,
    pub(super) roles: String,
    pub(super) groups: String,
    pub(super) account_type: Option<&'static str>,
}

/// The demo sign-in page, in the console's own layout (its footer says demo mode).
#[derive(askama::Template)]
#[template(path = "pages/demo_signin.html")]
pub(super) struct SignInPage {
    pub(super) layout: crate::views::Layout,
    pub(super) hidden: Vec<(String, String)>,
    pub(super) users: Vec<UserCard>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_html() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
