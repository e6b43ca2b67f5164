//! Views of bulk actions: the selection bar on the list, the action form, preview, result and job progress.

use askama::Template;
use askama_web::WebTemplate;

use crate::actions::ActionKind;
use crate::actions::catalog::Selection;
use crate::actions::catalog::field::{Field, Kind};
use crate::actions::form::{FieldErrors, RawForm};
use crate::actions::preview::PreviewLine;
use crate::actions::run::Outcome;
use crate::domain::CorpId;
use crate::outcome::ChangeResult;
use crate::policy::Principal;
use crate::upstream::wire::WriteFailure;
use crate::views::Layout;

/// An action the user may run here (menu item).
#[derive(Debug, Clone)]
pub struct ActionLink {
    pub slug: &'static str,
    pub label: &'static str,
    pub href: String,
    /// The same form opened by POST, for a selection too long for a URL (`app.js` switches to it).
    pub form_href: String,
    /// May it take "all matching"?
    pub bulk: bool,
    /// The user may only request it (the button says "Request: …").
    pub request: bool,
}

impl ActionLink {
    /// The link to `kind`'s form at `href` (the plain form, or one with the lines in its query).
    pub fn new(corp: &CorpId, kind: ActionKind, href: String, bulk: bool) -> Self {
        Self {
            slug: kind.slug(),
            label: kind.label(),
            href,
            form_href: crate::paths::action_form(corp, kind).into(),
            bulk,
            request: false,
        }
    }
}

/// The list page's selection controls; `None` in the self-service view (no change allowed).
#[derive(Debug, Clone)]
pub struct SelectionBar {
    pub corp: String,
    pub actions: Vec<ActionLink>,
    pub total_count: u64,
    pub search: String,
    pub label_ids: String,
    /// A list filtered from the latest sample: its filters, sent as `list_…` so that the server
    /// turns "select all" into the snapshot's explicit lines (never the upstream's select-all).
    pub filter: Vec<(&'static str, String)>,
}

impl SelectionBar {
    /// The bar of a list filtered from the latest sample.
    pub fn with_filter(mut self, filter: &crate::domain::ListFilter) -> Self {
        self.filter = filter.to_pairs();
        self
    }

    /// The bar for this user, from the scope table; `None` when they may change nothing here.
    pub fn for_user(
        user: &Principal,
        corp: &CorpId,
        total_count: u64,
        search: &str,
        label_ids: &str,
    ) -> Option<Self> {
        let requestable = ActionKind::requestable_for(user, corp);
        if !user.can_change_anything(corp) && requestable.is_empty() {
            return None;
        }
        let link = |k: ActionKind| {
            ActionLink::new(
                corp,
                k,
                crate::paths::action(corp, k).into(),
                k.accepts_bulk(),
            )
        };
        let actions: Vec<ActionLink> = ActionKind::allowed_for(user, corp)
            .into_iter()
            .map(link)
            .chain(requestable.into_iter().map(|k| ActionLink {
                request: true,
                ..link(k)
            }))
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
            filter: Vec::new(),
        })
    }
}

/// How a field is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Widget {
    Input,
    Textarea,
    Select,
    Radios,
    /// "Leave unchanged", "No limit" or "Set to" a number in GB or MB, in a fieldset.
    Limit,
    Checkbox,
}

/// One `<option>` or radio button.
#[derive(Debug, Clone)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// A field of the action form, ready to draw: its description joined with the value typed and its error.
#[derive(Debug, Clone)]
pub struct FieldView {
    pub name: &'static str,
    pub id: String,
    pub label: &'static str,
    /// The fieldset legend of a limit ("Monthly limit").
    pub legend: String,
    pub help: &'static str,
    pub widget: Widget,
    /// `text`, `number` or `password` for an input.
    pub input_type: &'static str,
    pub value: String,
    pub error: String,
    pub required: bool,
    pub minlength: Option<usize>,
    pub maxlength: Option<usize>,
    pub min: Option<u32>,
    pub max: Option<u32>,
    pub rows: u8,
    pub numeric: bool,
    pub autocomplete: &'static str,
    pub choices: Vec<Choice>,
    /// A checkbox is ticked; for a limit, "No limit" is.
    pub checked: bool,
    /// A secret: the read-only view says "never shown".
    pub secret: bool,
    /// A limit's choice: `keep`, `none` or `set`.
    pub limit_mode: &'static str,
    /// A limit's unit: `GB` or `MB`.
    pub unit: &'static str,
    /// Suggestions for a text (a datalist: the values the group's lines have).
    pub suggestions: Vec<String>,
}

impl FieldView {
    pub fn has_error(&self) -> bool {
        !self.error.is_empty()
    }

    /// The value as the read-only view shows it.
    pub fn shown(&self) -> String {
        match self.widget {
            Widget::Checkbox => if self.checked { "on" } else { "off" }.into(),
            _ => self.value.clone(),
        }
    }
}

/// Choices that come from elsewhere than the catalogue: Sentinel's statuses, the user's groups.
#[derive(Debug, Clone, Default)]
pub struct FieldChoices {
    pub statuses: Vec<String>,
    pub groups: Vec<String>,
    /// Values the group's lines have, per field name (suggested, not enforced).
    pub suggestions: Vec<(&'static str, Vec<String>)>,
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn choice(value: &str, label: &str, current: &str) -> Choice {
    Choice {
        value: value.to_owned(),
        label: label.to_owned(),
        selected: value == current,
    }
}

/// One field's description joined with the form's value and error.
fn field_view(
    f: &Field,
    values: &RawForm,
    errors: &FieldErrors,
    choices: &FieldChoices,
) -> FieldView {
    let current = values.value(f.name);
    let mut view = FieldView {
        name: f.name,
        id: format!("f-{}", f.name),
        label: f.label,
        legend: capitalised(f.noun),
        help: f.help,
        widget: Widget::Input,
        input_type: "text",
        value: current.to_owned(),
        error: errors.get(f.name).to_owned(),
        required: false,
        minlength: None,
        maxlength: None,
        min: None,
        max: None,
        rows: 0,
        numeric: false,
        autocomplete: "",
        choices: Vec::new(),
        checked: values.flag(f.name),
        secret: false,
        limit_mode: "",
        unit: "",
        suggestions: Vec::new(),
    };
    match f.kind {
        Kind::Text { min, max, rows } => {
            view.required = min > 0;
            view.maxlength = Some(max);
            view.suggestions = choices
                .suggestions
                .iter()
                .find(|(n, _)| *n == f.name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            if rows > 0 {
                view.widget = Widget::Textarea;
                view.rows = rows;
            }
        }
        Kind::Status => {
            view.widget = Widget::Select;
            view.required = true;
            view.choices = choices
                .statuses
                .iter()
                .map(|s| choice(s, s, current))
                .collect();
        }
        Kind::DeviceGroup => {
            view.required = true;
            if choices.groups.is_empty() {
                view.maxlength = Some(64);
            } else {
                view.widget = Widget::Select;
                view.choices = choices
                    .groups
                    .iter()
                    .map(|g| choice(g, g, current))
                    .collect();
            }
        }
        Kind::Limit => {
            view.widget = Widget::Limit;
            view.input_type = "number";
            view.min = Some(0);
            view.checked = values.flag(&format!("{}None", f.name));
            let mode = values.value(&format!("{}Mode", f.name));
            view.limit_mode = match mode {
                "none" => "none",
                "set" => "set",
                "keep" => "keep",
                _ if view.checked => "none",
                _ if !current.trim().is_empty() => "set",
                _ => "keep",
            };
            let unit = values.first(&format!("{}Unit", f.name));
            view.unit = match unit.and_then(crate::domain::data_limit::Unit::parse) {
                Some(u) => u.as_str(),
                // A value without a unit is MB (the API's own); a new form offers GB.
                None if !current.trim().is_empty() => "MB",
                None => "GB",
            };
        }
        Kind::Radio(options) => {
            view.widget = Widget::Radios;
            view.choices = options.iter().map(|(v, l)| choice(v, l, current)).collect();
        }
        Kind::Select(options) => {
            view.widget = Widget::Select;
            view.choices = options.iter().map(|v| choice(v, v, current)).collect();
        }
        Kind::Count { min, max } => {
            view.input_type = "number";
            view.required = true;
            view.min = Some(min);
            view.max = Some(max);
        }
        Kind::Flag => view.widget = Widget::Checkbox,
        Kind::Imei => {
            view.required = true;
            view.numeric = true;
            view.maxlength = Some(15);
        }
        Kind::Secret { min, max } => {
            view.input_type = "password";
            view.value.clear();
            view.minlength = Some(min);
            view.maxlength = Some(max);
            view.autocomplete = "new-password";
            view.secret = true;
        }
    }
    view
}

/// The form of one action (also the SmartSpot settings page).
#[derive(Template, WebTemplate, Debug)]
#[template(path = "pages/action_form.html")]
pub struct ActionFormPage {
    pub layout: Layout,
    pub corp: String,
    pub label: &'static str,
    pub post_href: String,
    pub back_href: String,
    pub csrf: String,
    /// "3 lines", "all lines matching “Bus”".
    pub target: String,
    /// The selection as hidden fields.
    pub hidden: Vec<(String, String)>,
    pub fields: Vec<FieldView>,
    pub has_errors: bool,
    /// A sentence instead of (or above) the fields.
    pub intro: Option<&'static str>,
    /// Something to say above the form (e.g. the IMEI rule).
    pub notes: Vec<String>,
    /// Settings a user may read but not change (from the scope table).
    pub read_only: bool,
    /// The "When" and request parts of the form.
    pub when: WhenView,
    /// Errors of the request reason and of the time (the fields outside the action's own).
    pub errors_reason: String,
    pub errors_run_at: String,
}

/// The form's "When" choice and, for a user who may only ask, the request's reason.
#[derive(Debug, Clone, Default)]
pub struct WhenView {
    /// The user may only request this change (the scope table).
    pub request: bool,
    /// The request needs a reason field of its own (the action has no `reason` field).
    pub reason_field: bool,
    pub reason: String,
    /// "Now" or "at a time" is offered (not for SmartSpot settings: the password is kept only while the change runs).
    pub schedulable: bool,
    pub later: bool,
    pub run_at: String,
    /// Why scheduling is limited (the password sign-in mode: until the sign-in ends).
    pub note: Option<String>,
    /// The user's own change sets, where a request is followed.
    pub mine_href: String,
}

/// What the action form is drawn from besides the action itself.
#[derive(Debug, Clone)]
pub struct FormInput<'a> {
    pub user: &'a Principal,
    pub when: WhenView,
    pub csrf: &'a str,
    pub corp: &'a CorpId,
    /// "3 lines", "SmartSpot 3557…".
    pub target: String,
    /// The selection as hidden fields.
    pub hidden: Vec<(String, String)>,
    pub values: &'a RawForm,
    pub errors: &'a FieldErrors,
    pub choices: &'a FieldChoices,
    pub back_href: String,
}

impl ActionFormPage {
    pub fn new(kind: ActionKind, i: FormInput<'_>) -> Self {
        let mut notes: Vec<String> = kind.operation().conditions().into_iter().collect();
        if kind.selection() == Selection::Lines {
            notes.push(
                "This change applies to lines chosen one by one (not “all matching”).".into(),
            );
        }
        Self {
            layout: Layout::signed_in(kind.label(), i.user, i.csrf),
            corp: i.corp.to_string(),
            label: kind.label(),
            post_href: crate::paths::action(i.corp, kind).into(),
            back_href: i.back_href,
            csrf: i.csrf.to_owned(),
            target: i.target,
            hidden: i.hidden,
            fields: kind
                .fields()
                .iter()
                .map(|f| {
                    let mut v = field_view(f, i.values, i.errors, i.choices);
                    // A request's reason is the action's own `reason` field when it has one.
                    if i.when.request && f.name == crate::actions::deferred::REASON_FIELD {
                        v.help = "required for a request: whoever approves it reads this";
                        v.required = true;
                    }
                    v
                })
                .collect(),
            has_errors: !i.errors.is_empty(),
            intro: kind.def().intro(),
            notes,
            // Whoever may neither run nor request the action sees its values only (the SmartSpot page).
            read_only: i.user.write_mode(kind.operation(), i.corp).is_err(),
            errors_reason: if i.when.reason_field {
                i.errors
                    .get(crate::actions::deferred::REASON_FIELD)
                    .to_owned()
            } else {
                String::new()
            },
            errors_run_at: i.errors.get("run_at").to_owned(),
            when: i.when,
        }
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
    /// Ticks the confirmation needs besides the line count (a value no line has).
    pub checks: Vec<crate::actions::preview::Check>,
    /// The "Yes, change these N lines" box is required.
    pub needs_ack: bool,
    pub ack_label: String,
    /// Why the user is back on the preview (e.g. the box was not ticked).
    pub message: Option<String>,
    pub hidden: Vec<(String, String)>,
    /// The confirm button's words ("Apply the change", "Send the request", …).
    pub verb: &'static str,
    /// What happens instead of sending now (a request, a second admin, a time).
    pub explain: Option<String>,
    /// A request made from this page asks its reason here (what was typed so far).
    pub reason: Option<String>,
}

/// A per-line failure as shown.
#[derive(Debug, Clone)]
pub struct FailureRow {
    pub mdn: String,
    pub reason: String,
}

/// Lines not changed for one reason: "48 lines: Filter group “Staf” does not exist".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureGroup {
    pub count: u64,
    pub reason: String,
}

impl FailureGroup {
    /// "1 line", "48 lines".
    pub fn lines(&self) -> String {
        crate::views::format::counted(self.count, "line", "lines")
    }
}

/// Reasons, each once with how many lines gave it, the most frequent first.
pub fn group_failures<'a>(reasons: impl IntoIterator<Item = &'a str>) -> Vec<FailureGroup> {
    let mut out: Vec<FailureGroup> = Vec::new();
    for r in reasons {
        let r = if r.trim().is_empty() {
            "Sentinel gave no reason."
        } else {
            r.trim()
        };
        match out.iter_mut().find(|g| g.reason == r) {
            Some(g) => g.count += 1,
            None => out.push(FailureGroup {
                count: 1,
                reason: r.to_owned(),
            }),
        }
    }
    out.sort_by_key(|o| std::cmp::Reverse(o.count));
    out
}

/// The result of a change (synchronous, or a finished job).
#[derive(Template, Debug, Clone)]
#[template(path = "fragments/action_result.html")]
pub struct ResultFragment {
    pub outcome: ChangeResult,
    pub headline: String,
    pub updated: u64,
    pub failed: Vec<FailureRow>,
    /// The reasons lines were not changed, each once.
    pub failure_groups: Vec<FailureGroup>,
    pub unknown: Vec<String>,
    pub unknown_all: bool,
    /// Lines not changed and unknown in all (the lists above may be the first ones only).
    pub failed_count: u64,
    pub unknown_count: u64,
    pub error: Option<String>,
    pub back_href: String,
    /// The words of the way back ("Back to the list", or to the portal's line).
    pub back_label: &'static str,
    pub audit_href: String,
    /// The device group, so the browser forgets the selection this change used.
    pub corp: String,
}

impl ResultFragment {
    pub fn new(o: &Outcome, corp: &CorpId) -> Self {
        let headline = match o.outcome {
            ChangeResult::Ok => format!(
                "Done: {} changed.",
                crate::actions::form::plural(o.updated, "line")
            ),
            ChangeResult::Partial => format!(
                "Partly done: {} changed, {} not changed, {} unknown.",
                o.updated,
                o.failed.len(),
                o.unknown.len()
            ),
            ChangeResult::Refused => "Sentinel refused this change. Nothing was changed.".into(),
            _ if !o.unknown.is_empty() || o.unknown_all => {
                "The outcome of this change is unknown for some lines.".into()
            }
            _ => "Nothing was changed.".into(),
        };
        Self {
            outcome: o.outcome,
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
            failure_groups: group_failures(o.failed.iter().map(|f| f.reason.as_str())),
            unknown: o.unknown.clone(),
            unknown_all: o.unknown_all,
            failed_count: o.failed.len() as u64,
            unknown_count: o.unknown.len() as u64,
            error: o.error.clone(),
            corp: corp.to_string(),
            back_href: crate::paths::group(corp).into(),
            back_label: "Back to the list",
            audit_href: crate::paths::audit_of_group(corp).into(),
        }
    }

    /// The alert class for the outcome.
    pub fn class(&self) -> &'static str {
        self.outcome.alert_class()
    }
}
