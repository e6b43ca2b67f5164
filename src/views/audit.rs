//! Views of the audit log: the filterable, paged table of changes made through the console.

use askama::Template;
use askama_web::WebTemplate;

use super::audit_words::{self as words, Stamp};
use crate::paths::{self, Href};
use crate::storage::audit::AuditRecord;
use crate::views::Layout;

/// One audit record as shown: in words (see [`super::audit_words`]), linking to its change set.
#[derive(Debug, Clone)]
pub struct AuditRow {
    pub at: Stamp,
    pub user: String,
    pub subject: String,
    pub roles: String,
    pub corp: String,
    /// The action's slug (`data-action`) and its label.
    pub action: String,
    pub action_label: String,
    pub selection: String,
    pub fields: String,
    pub line_count: i64,
    pub updated: i64,
    pub failed: i64,
    pub unknown: i64,
    pub outcome: String,
    pub upstream_status: String,
    pub request_id: String,
    /// The change set (every change made since change sets exist has one).
    pub change_href: Option<Href>,
    /// "portal" for a change made from the self-service portal; empty for the admin console.
    pub via: String,
    /// Its change set's id, when it has one.
    pub change_id: Option<uuid::Uuid>,
    /// The change a retry or revert redoes.
    pub redo_of: Option<RedoOf>,
}

/// "Revert of change 1a2b3c4d", linked.
#[derive(Debug, Clone)]
pub struct RedoOf {
    /// "Revert", "Retry".
    pub what: &'static str,
    pub href: Href,
    /// The change's short name (the start of its id).
    pub short: String,
}

impl RedoOf {
    pub fn new(origin: crate::storage::changes::Origin, parent: uuid::Uuid) -> Self {
        use crate::storage::changes::Origin;
        Self {
            what: match origin {
                Origin::Revert => "Revert",
                Origin::Retry => "Retry",
                Origin::Change => "Change",
            },
            href: paths::change(parent),
            short: parent.simple().to_string().chars().take(8).collect(),
        }
    }
}

impl From<&AuditRecord> for AuditRow {
    fn from(r: &AuditRecord) -> Self {
        Self {
            at: Stamp::new(r.at),
            user: r.user_name.clone().unwrap_or_else(|| r.subject.clone()),
            subject: r.subject.clone(),
            roles: r.roles.clone(),
            corp: r.corp_id.clone(),
            action: r.action.clone(),
            action_label: words::action_label(&r.action),
            selection: words::selection(&r.selection, r.line_count),
            fields: words::fields(&r.action, &r.fields),
            line_count: r.line_count,
            updated: r.updated,
            failed: r.failed,
            unknown: r.unknown,
            // A step in a change set's life sent nothing: say which step, not "ok".
            outcome: match r.event.as_deref() {
                Some(e) => event_words(e).to_owned(),
                None => r.outcome.to_string(),
            },
            upstream_status: r.upstream_status.map(|s| s.to_string()).unwrap_or_default(),
            request_id: r.request_id.clone().unwrap_or_default(),
            change_href: r.job_id.as_ref().map(paths::change),
            via: r.via.clone().unwrap_or_default(),
            change_id: r
                .job_id
                .as_deref()
                .and_then(|j| uuid::Uuid::parse_str(j).ok()),
            redo_of: None,
        }
    }
}

/// A change set's step as the audit log names it (nothing was sent at that step).
fn event_words(event: &str) -> &'static str {
    match event {
        "requested" => "requested (waits for approval)",
        "approved" => "approved",
        "rejected" => "rejected (nothing sent)",
        "scheduled" => "scheduled",
        "cancelled" => "cancelled (nothing sent)",
        "expired" => "expired (nothing sent)",
        "needs_sign_in" => "needs sign-in (nothing sent)",
        _ => "step",
    }
}

/// A choice in a filter drop-down.
#[derive(Debug, Clone)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// `GET /audit`.
#[derive(Template, WebTemplate, Debug)]
#[template(path = "pages/audit.html")]
pub struct AuditPage {
    pub layout: Layout,
    pub rows: Vec<AuditRow>,
    pub total: u64,
    pub from_n: u64,
    pub to_n: u64,
    pub users: Vec<Choice>,
    pub actions: Vec<Choice>,
    pub groups: Vec<Choice>,
    /// Free-text device group filter (when the user's groups are not known).
    pub group_text: Option<String>,
    pub date_from: String,
    pub date_to: String,
    pub prev_href: Option<Href>,
    pub next_href: Option<Href>,
    pub csv_href: Href,
    /// The filter form's target.
    pub form_href: Href,
    /// What the user is allowed to see, in words.
    pub scope_note: String,
}
