//! Askama views: one base layout, page structs that wrap the fragment structs they include,
//! so a full page and its htmx swap render the same markup.

pub mod actions;
pub mod audit;
pub mod audit_words;
pub mod changes;
pub mod chart;
pub mod devices;
pub mod export;
pub mod format;
pub mod import;
pub mod line;
pub mod list_filters;
pub mod overview;
pub mod portal;
pub mod redo;
pub mod selection;
pub mod usage;

use askama::Template;
use askama_web::WebTemplate;

use crate::policy::Principal;

/// The session's CSRF token, masked for this response: put in request extensions by the auth
/// layer for every page.
#[derive(Debug, Clone)]
pub struct CsrfToken(pub String);

/// The signed-in user as the header shows them.
#[derive(Debug, Clone)]
pub struct UserView {
    pub name: String,
    pub roles: String,
    /// The header's "To approve" (asked of the policy).
    pub approves: bool,
}

impl From<&Principal> for UserView {
    fn from(p: &Principal) -> Self {
        Self {
            name: p.display_name().to_owned(),
            roles: p.roles_label(),
            approves: p.may_approve_any(),
        }
    }
}

tokio::task_local! {
    /// Set for each request by [`demo_scope`]: is this console running the embedded demo?
    static DEMO_MODE: bool;
}

/// Runs a request's handling with the demo flag every [`Layout`] built inside it reads.
pub async fn demo_scope<F: std::future::Future>(demo: bool, f: F) -> F::Output {
    DEMO_MODE.scope(demo, f).await
}

/// Is the current request served by a console in demo mode (false outside a request)?
pub fn demo_mode() -> bool {
    DEMO_MODE.try_with(|d| *d).unwrap_or(false)
}

/// What the base layout needs on every page.
#[derive(Debug, Clone)]
pub struct Layout {
    pub title: String,
    pub user: Option<UserView>,
    pub csrf: Option<String>,
    /// Demo mode: the footer says the data and the sign-in are simulated.
    pub demo: bool,
}

impl Layout {
    /// A static file's versioned URL (see [`crate::assets::asset_url`]).
    pub fn asset(&self, path: &str) -> String {
        crate::assets::asset_url(path)
    }

    /// The header's links (see [`crate::paths`]).
    pub fn home_href(&self) -> crate::paths::Href {
        crate::paths::home()
    }
    pub fn portal_href(&self) -> crate::paths::Href {
        crate::paths::portal("")
    }
    pub fn changes_href(&self) -> crate::paths::Href {
        crate::paths::changes(None, false)
    }
    pub fn inbox_href(&self) -> crate::paths::Href {
        crate::paths::changes_inbox()
    }
    pub fn waiting_href(&self) -> crate::paths::Href {
        crate::paths::changes(Some("awaiting_approval"), false)
    }
    pub fn audit_href(&self) -> crate::paths::Href {
        crate::paths::audit_form()
    }
    pub fn logout_href(&self) -> crate::paths::Href {
        crate::paths::logout()
    }

    pub fn anonymous(title: &str, csrf: Option<String>) -> Self {
        Self {
            title: title.to_owned(),
            user: None,
            csrf,
            demo: demo_mode(),
        }
    }
    pub fn signed_in(title: impl Into<String>, user: &Principal, csrf: &str) -> Self {
        Self {
            title: title.into(),
            user: Some(user.into()),
            csrf: Some(csrf.to_owned()),
            demo: demo_mode(),
        }
    }
}

/// A link out of an error: where a person can go on from there.
#[derive(Debug, Clone)]
pub struct WayOn {
    pub label: &'static str,
    pub href: crate::paths::Href,
}

/// An error as a fragment (htmx) and inside the error page: its title once, what happened in words,
/// and the ways on (never a bare status code).
#[derive(Template, Debug, Clone)]
#[template(path = "fragments/error.html")]
pub struct ErrorFragment {
    pub title: String,
    pub message: String,
    pub ways: Vec<WayOn>,
}

/// An error as a full page.
#[derive(Template, Debug)]
#[template(path = "pages/error.html")]
pub struct ErrorPage {
    pub layout: Layout,
    pub error: ErrorFragment,
}

/// A simple page with a title and a message (signed out, and the like).
#[derive(Template, WebTemplate, Debug)]
#[template(path = "pages/message.html")]
pub struct MessagePage {
    pub layout: Layout,
    pub heading: String,
    pub message: String,
    pub link: Option<(String, String)>,
}

/// The upstream refused a sign-in the identity provider just made: says so, offers sign-out.
#[derive(Template, WebTemplate, Debug)]
#[template(path = "pages/refused.html")]
pub struct RefusedPage {
    pub layout: Layout,
    /// What Sentinel said.
    pub reason: String,
}
