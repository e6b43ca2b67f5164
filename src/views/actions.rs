//! Views of bulk actions: the selection bar on the list, the action form, preview, result and job progress.

use askama::Template;
use askama_web::WebTemplate;

use crate::actions::ActionKind;
use crate::actions::form::{FieldErrors, RawForm};
use crate::actions::preview::PreviewLine;
use crate::actions::run::Outcome;
use crate::domain::CorpId;
use crate::policy::Principal;
use crate::upstream::wire::{SMARTSPOT_BANDS, WriteFailure};
use crate::views::Layout;

/// An action the user may run here (menu item).
#[derive(Debug, Clone)]
pub struct ActionLink {
    pub slug: &'static str,
    pub label: &'static str,
    pub href: String,
    /// May it take "all matching"?
    pub bulk: bool,
}

/// The list page's selection controls; `None` in the self-service view (no change allowed).
#[derive(Debug, Clone)]
pub struct SelectionBar {
    pub corp: String,
    pub actions: Vec<ActionLink>,
    pub total_count: u64,
    pub search: String,
    pub label_ids: String,
}

impl SelectionBar {
    /// The bar for this user, from the scope table; `None` when they may change nothing here.
    pub fn for_user(
        user: &Principal,
        corp: &CorpId,
        total_count: u64,
        search: &str,
        label_ids: &str,
    ) -> Option<Self> {
        if !user.can_change_anything(corp) {
            return None;
        }
        let actions: Vec<ActionLink> = ActionKind::allowed_for(user, corp)
            .into_iter()
            .map(|k| ActionLink {
                slug: k.slug(),
                label: k.label(),
                href: crate::paths::action(corp, k).into(),
                bulk: k.accepts_bulk(),
            })
            .collect();
        if actions.is_empty() {
            return None;
        }
        Some(Self {
            corp: corp.to_string(),
            actions,
            total_count,
            search: search.to_owned(),
            label_ids: label_ids.to_owned(),
        })
    }
}

/// The form's values as typed (kept when the form comes back with errors).
#[derive(Debug, Clone, Default)]
pub struct FormValues(pub RawForm);

impl FormValues {
    pub fn v(&self, name: &str) -> &str {
        self.0.value(name)
    }
    pub fn checked(&self, name: &str) -> bool {
        self.0.flag(name)
    }
    pub fn is(&self, name: &str, value: &str) -> bool {
        self.0.value(name) == value
    }
}

/// The form of one action (also the SmartSpot settings page).
#[derive(Template, WebTemplate, Debug)]
#[template(path = "pages/action_form.html")]
pub struct ActionFormPage {
    pub layout: Layout,
    pub corp: String,
    pub action: &'static str,
    pub label: &'static str,
    pub post_href: String,
    pub back_href: String,
    pub csrf: String,
    /// "3 lines", "all lines matching “Bus”".
    pub target: String,
    /// The selection as hidden fields.
    pub hidden: Vec<(String, String)>,
    pub values: FormValues,
    pub errors: FieldErrors,
    /// Status choices from Sentinel.
    pub statuses: Vec<String>,
    /// Device groups the lines may move to.
    pub groups: Vec<String>,
    pub bands: Vec<&'static str>,
    /// Something to say above the form (e.g. the IMEI rule).
    pub notes: Vec<String>,
    /// SmartSpot settings a user may read but not change.
    pub read_only: bool,
}

impl ActionFormPage {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        user: &Principal,
        csrf: &str,
        corp: &CorpId,
        kind: ActionKind,
        target: String,
        hidden: Vec<(String, String)>,
        values: RawForm,
        errors: FieldErrors,
        back_href: String,
    ) -> Self {
        let mut notes = Vec::new();
        if let Some(net) = kind.operation().rule().network {
            notes.push(format!(
                "Sentinel changes the IMEI of exactly one line, and only on the {net} network."
            ));
        }
        if !kind.accepts_bulk() && kind != ActionKind::SmartspotSettings {
            notes.push(
                "This change applies to lines chosen one by one (not “all matching”).".into(),
            );
        }
        Self {
            layout: Layout::signed_in(kind.label(), user, csrf),
            corp: corp.to_string(),
            action: kind.slug(),
            label: kind.label(),
            post_href: crate::paths::action(corp, kind).into(),
            back_href,
            csrf: csrf.to_owned(),
            target,
            hidden,
            values: FormValues(values),
            errors,
            statuses: Vec::new(),
            groups: Vec::new(),
            bands: SMARTSPOT_BANDS.to_vec(),
            notes,
            read_only: false,
        }
    }

    pub fn err(&self, field: &str) -> &str {
        self.errors.get(field)
    }
}

/// The preview: what will change, and the confirmation form.
#[derive(Template, WebTemplate, Debug)]
#[template(path = "pages/action_preview.html")]
pub struct PreviewPage {
    pub layout: Layout,
    pub corp: String,
    pub label: &'static str,
    pub summary: String,
    pub target: String,
    pub post_href: String,
    pub back_href: String,
    pub csrf: String,
    pub count: Option<u64>,
    pub lines: Vec<PreviewLine>,
    pub more: u64,
    pub warnings: Vec<String>,
    pub load_problem: Option<String>,
    /// The "Yes, change these N lines" box is required.
    pub needs_ack: bool,
    pub ack_label: String,
    /// Why the user is back on the preview (e.g. the box was not ticked).
    pub message: Option<String>,
    pub hidden: Vec<(String, String)>,
}

/// A per-line failure as shown.
#[derive(Debug, Clone)]
pub struct FailureRow {
    pub mdn: String,
    pub reason: String,
}

/// The result of a change (synchronous, or a finished job).
#[derive(Template, Debug, Clone)]
#[template(path = "fragments/action_result.html")]
pub struct ResultFragment {
    pub outcome: String,
    pub headline: String,
    pub updated: u64,
    pub failed: Vec<FailureRow>,
    pub unknown: Vec<String>,
    pub unknown_all: bool,
    pub error: Option<String>,
    pub back_href: String,
    pub audit_href: String,
    /// The device group, so the browser forgets the selection this change used.
    pub corp: String,
}

impl ResultFragment {
    pub fn new(o: &Outcome, corp: &CorpId) -> Self {
        let headline = match o.outcome.as_str() {
            "ok" => format!(
                "Done: {} changed.",
                crate::actions::form::plural(o.updated, "line")
            ),
            "partial" => format!(
                "Partly done: {} changed, {} not changed, {} unknown.",
                o.updated,
                o.failed.len(),
                o.unknown.len()
            ),
            "refused" => "Sentinel refused this change. Nothing was changed.".into(),
            _ if !o.unknown.is_empty() || o.unknown_all => {
                "The outcome of this change is unknown for some lines.".into()
            }
            _ => "Nothing was changed.".into(),
        };
        Self {
            outcome: o.outcome.clone(),
            headline,
            updated: o.updated,
            failed: o
                .failed
                .iter()
                .map(|WriteFailure { mdn, reason }| FailureRow {
                    mdn: mdn.clone(),
                    reason: reason.clone(),
                })
                .collect(),
            unknown: o.unknown.clone(),
            unknown_all: o.unknown_all,
            error: o.error.clone(),
            corp: corp.to_string(),
            back_href: crate::paths::group(corp).into(),
            audit_href: crate::paths::audit_of_group(corp).into(),
        }
    }

    /// The alert class for the outcome.
    pub fn class(&self) -> &'static str {
        match self.outcome.as_str() {
            "ok" => "alert alert-ok",
            "partial" => "alert alert-warn",
            _ => "alert alert-error",
        }
    }
}

/// The result page of a change made in one call.
#[derive(Template, WebTemplate, Debug)]
#[template(path = "pages/action_result.html")]
pub struct ResultPage {
    pub layout: Layout,
    pub corp: String,
    pub label: &'static str,
    pub summary: String,
    pub target: String,
    pub result: ResultFragment,
}

/// A job's progress (polled by htmx until done) and, at the end, its result.
#[derive(Template, WebTemplate, Debug, Clone)]
#[template(path = "fragments/job_progress.html")]
pub struct JobFragment {
    pub href: String,
    pub finished: bool,
    pub state: String,
    pub done_chunks: i64,
    pub total_chunks: i64,
    pub total_lines: i64,
    pub percent: i64,
    pub updated_so_far: u64,
    pub problems_so_far: u64,
    pub result: Option<ResultFragment>,
}

/// The job page.
#[derive(Template, WebTemplate, Debug)]
#[template(path = "pages/job.html")]
pub struct JobPage {
    pub layout: Layout,
    pub corp: String,
    pub label: String,
    pub progress: JobFragment,
}
