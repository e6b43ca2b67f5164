//! Views of the self-service portal: the look-up page, its results fragment (a short list or one line's card), and the card.

use askama::Template;
use askama_web::WebTemplate;

use crate::actions::ActionKind;
use crate::actions::form::Target;
use crate::domain::CorpId;
use crate::paths;
use crate::policy::{Operation, PortalActions};
use crate::upstream::wire::{Device, Health, SmartSpotSettings};
use crate::views::Layout;
use crate::views::devices::DeviceRow;
use crate::views::format::{data_limit, data_size};

// ---- URLs: one small function each ------------------------------------------------------------

/// The portal's home (the look-up box).
pub fn portal_href() -> String {
    paths::portal("").into()
}

/// The portal's look-up of `q` (a stable address: bookmarks, the back button, a change's way back).
pub fn lookup_href(q: &str) -> String {
    paths::portal(q).into()
}

/// The card of one line: `GET /portal/{corpId}/{mdn}`.
pub fn card_href(corp: &CorpId, mdn: &str) -> String {
    paths::portal_card(corp, mdn).into()
}

/// The SmartSpot settings form, opened from the portal (it leads back here).
pub fn smartspot_href(corp: &CorpId, imei: &str) -> String {
    paths::smartspot_via_portal(corp, imei).into()
}

/// Where a change made from the portal leads back to: the line's card (one line), the look-up of
/// the SmartSpot's IMEI, or the portal's home.
pub fn return_href(corp: &CorpId, target: &Target) -> String {
    match target {
        Target::Lines(m) if m.len() == 1 => card_href(corp, m[0].as_str()),
        Target::Imeis(i) if i.len() == 1 => lookup_href(i[0].as_str()),
        _ => portal_href(),
    }
}

// ---- the card ---------------------------------------------------------------------------------

/// Usage against a limit, as a bar with the numbers.
#[derive(Debug, Clone)]
pub struct UsageBar {
    pub id: &'static str,
    pub label: &'static str,
    pub used: String,
    pub limit: String,
    /// `<progress>` value and max (the bar is full when over the limit).
    pub value: f64,
    pub max: f64,
    pub has_limit: bool,
    pub over: bool,
}

impl UsageBar {
    fn new(id: &'static str, label: &'static str, used: Option<f64>, limit: Option<f64>) -> Self {
        let u = used.unwrap_or(0.0).max(0.0);
        let (value, max, has_limit) = match limit {
            Some(l) if l > 0.0 => (u.min(l), l, true),
            _ => (0.0, 1.0, false),
        };
        Self {
            id,
            label,
            used: data_size(used),
            limit: data_limit(limit),
            value,
            max,
            has_limit,
            over: limit.is_some_and(|l| u > l),
        }
    }

    /// What a screen reader says for the bar.
    pub fn spoken(&self) -> String {
        let over = if self.over { ", over the limit" } else { "" };
        format!(
            "{}: {} used of {}{over}",
            self.label,
            self.used,
            self.limit.to_lowercase()
        )
    }
}

/// A label and its value (settings, health checks).
#[derive(Debug, Clone)]
pub struct Pair {
    pub label: String,
    pub value: String,
    pub ok: Option<bool>,
}

/// The one-tap form for the MDN custom field (posted to the action pipeline: preview, then confirm).
#[derive(Debug, Clone)]
pub struct DirectField {
    pub post_href: String,
    pub name: &'static str,
    pub label: &'static str,
    pub value: String,
    pub maxlength: usize,
}

/// One line's card: who it is, whether it works, how much it used, and what this user may do.
#[derive(Template, Debug, Clone)]
#[template(path = "fragments/line_card.html")]
pub struct LineCard {
    pub corp: String,
    pub corp_description: String,
    pub card_href: String,
    pub csrf: String,
    pub mdn: String,
    pub nickname: String,
    pub status: String,
    pub status_class: &'static str,
    pub status_words: &'static str,
    pub online: Option<bool>,
    pub device_name: String,
    pub network: String,
    pub filter_group: String,
    pub labels: Vec<String>,
    pub mdn_custom_field: String,
    pub month: UsageBar,
    pub day: UsageBar,
    /// The health check, when the line reports health and the user may read it.
    pub health: Option<Health>,
    /// Why the health is missing, when it was asked for.
    pub health_note: Option<String>,
    /// The SmartSpot's settings (never the Wi-Fi password).
    pub smartspot: Vec<Pair>,
    pub smartspot_note: Option<String>,
    pub smartspot_href: Option<String>,
    pub direct_mdn_field: Option<DirectField>,
    /// The admin line page, for users who may make the common changes there.
    pub admin_href: Option<String>,
    /// The common changes this user may not make (what a change request will be for).
    pub not_allowed: Vec<&'static str>,
    /// "Request a change" links: the change in words, and its request form.
    pub requests: Vec<(&'static str, String)>,
    /// The line's 90-day usage strip, when its group is tracked (issue 24).
    pub history: Option<crate::views::usage::LineHistory>,
    /// When the health check last heard from the line, in words ("2 days ago"), and as stated.
    pub last_seen: Option<(String, String)>,
    /// What was just saved from this card, with its undo.
    pub saved: Option<Saved>,
    /// Shown inside the admin line page (its heading is the page's).
    pub on_line_page: bool,
}

/// The notice after a change made from the card: what was saved (or put back), and the undo.
#[derive(Debug, Clone)]
pub struct Saved {
    /// "Saved" or "Put back".
    pub title: &'static str,
    pub words: String,
    /// The undo: a revert of that change set, through the normal pipeline (absent when the scope
    /// table does not allow it, or when nothing changed).
    pub undo: Option<Undo>,
    /// The change set's own page.
    pub change_href: String,
    /// The change did not go through (failed or unknown): the words say so.
    pub problem: bool,
}

impl Saved {
    /// The notice for change set `c` (made from the card) and its one line `l`; `undo_allowed`
    /// from the scope table.
    pub fn new(
        c: &crate::storage::changes::ChangeSet,
        l: Option<&crate::storage::changes::ChangeLine>,
        undo_allowed: bool,
    ) -> Self {
        use crate::storage::changes::{ChangeState, LineState, Origin};
        let quote = |v: Option<&String>| match v.map(String::as_str) {
            None | Some("") => "empty".to_owned(),
            Some(v) => format!("“{v}”"),
        };
        let what = crate::views::changes::change_title(c);
        let (before, after) = (
            quote(l.and_then(|l| l.before_value.as_ref())),
            quote(l.and_then(|l| l.after_value.as_ref())),
        );
        let reverted = c.origin == Origin::Revert;
        let outcome = l.map(|l| l.outcome);
        let (title, words, problem) = match (c.state, outcome) {
            (_, Some(LineState::Changed)) if reverted => {
                ("Put back", format!("{what}: {after} again."), false)
            }
            (_, Some(LineState::Changed)) => {
                ("Saved", format!("{what}: {before} → {after}."), false)
            }
            (_, Some(LineState::Failed)) => (
                "Not saved",
                format!(
                    "Sentinel refused it: {}",
                    l.and_then(|l| l.message.clone()).unwrap_or_default()
                ),
                true,
            ),
            (s, _) if !s.is_finished() && s != ChangeState::NeedsSignIn => (
                "Saving",
                "Sentinel has not answered yet: the details page shows when it does.".to_owned(),
                false,
            ),
            _ => (
                "Not sure it was saved",
                "No answer came from Sentinel: look at the line again in a moment.".to_owned(),
                true,
            ),
        };
        let undo =
            (undo_allowed && !reverted && outcome == Some(LineState::Changed)).then(|| Undo {
                post_href: paths::portal_undo(c.id).into(),
                label: format!("Undo (put back {before})"),
            });
        Self {
            title,
            words,
            undo,
            change_href: paths::change_from_portal(c.id).into(),
            problem,
        }
    }
}

/// The undo button of a [`Saved`] notice: a confirmed revert of `post_href`'s change set.
#[derive(Debug, Clone)]
pub struct Undo {
    pub post_href: String,
    pub label: String,
}

/// The words of a change a portal user may ask for.
fn change_words(op: Operation) -> &'static str {
    match op {
        Operation::UpdateStatus => "suspend or resume the line",
        Operation::UpdateDataLimits => "raise or lower its data limits",
        Operation::UpdateNickname => "rename it",
        Operation::UpdateFilterGroup => "move it to another filter group",
        _ => "change it",
    }
}

/// What the card was built from besides the line itself.
#[derive(Debug, Clone)]
pub struct CardInput {
    pub actions: PortalActions,
    pub csrf: String,
    pub health: Option<Health>,
    pub health_note: Option<String>,
    pub smartspot: Option<SmartSpotSettings>,
    pub smartspot_note: Option<String>,
}

impl LineCard {
    pub fn new(corp: &CorpId, d: &Device, i: CardInput) -> Self {
        let row = DeviceRow::new(corp, d, &crate::domain::ListQuery::default());
        // Never "Working" beside "Offline": an active line whose device is not connected says so.
        let status_words = match (row.status_class, row.online) {
            ("badge-active", Some(false)) => "Active, but the device is not connected right now.",
            ("badge-active", _) => "Working: the line is active.",
            ("badge-suspended", _) => "Not working: the line is suspended.",
            _ => "See the status.",
        };
        let last_seen = i.health.as_ref().and_then(|h| {
            h.last_seen
                .as_deref()
                .map(|t| (crate::views::format::ago_text(t), t.to_owned()))
        });
        let a = &i.actions;
        let yes_no = |b: Option<bool>| match b {
            Some(true) => "on".to_owned(),
            Some(false) => "off".to_owned(),
            None => "—".to_owned(),
        };
        let smartspot = i
            .smartspot
            .as_ref()
            .map(|s| {
                let v = &s.values;
                vec![
                    Pair {
                        label: "Wi-Fi name (SSID)".into(),
                        value: v.ssid.clone().unwrap_or_else(|| "—".into()),
                        ok: None,
                    },
                    Pair {
                        label: "Hotspot".into(),
                        value: yes_no(v.hotspot_enabled),
                        ok: None,
                    },
                    Pair {
                        label: "Content filter".into(),
                        value: yes_no(v.content_filter_enabled),
                        ok: None,
                    },
                    Pair {
                        label: "Most devices at once".into(),
                        value: v
                            .max_clients
                            .map(|n| n.to_string())
                            .unwrap_or_else(|| "—".into()),
                        ok: None,
                    },
                    Pair {
                        label: "Band".into(),
                        value: v.band.clone().unwrap_or_else(|| "—".into()),
                        ok: None,
                    },
                ]
            })
            .unwrap_or_default();
        let direct_mdn_field = a.mdn_custom_field.then(|| {
            let kind = ActionKind::all().find(|k| k.operation() == Operation::UpdateMdnCustomField);
            DirectField {
                post_href: kind
                    .map(|k| String::from(paths::action(corp, k)))
                    .unwrap_or_default(),
                name: "mdnCustomField",
                label: "Asset tag",
                value: d.mdn_custom_field.clone().unwrap_or_default(),
                maxlength: 64,
            }
        });
        Self {
            corp: corp.to_string(),
            corp_description: d.corp_description.clone().unwrap_or_default(),
            card_href: card_href(corp, &d.mdn),
            csrf: i.csrf,
            mdn: row.mdn.clone(),
            nickname: row.nickname.clone(),
            status: row.status.clone(),
            status_class: row.status_class,
            status_words,
            online: row.online,
            device_name: row.device_name.clone(),
            network: row.network.clone(),
            filter_group: row.filter_group.clone(),
            labels: row.labels.iter().map(|l| l.name.clone()).collect(),
            mdn_custom_field: d.mdn_custom_field.clone().unwrap_or_default(),
            month: UsageBar::new(
                "usage-month",
                "This month",
                d.monthly_amount_used,
                d.monthly_limit,
            ),
            day: UsageBar::new("usage-day", "Today", d.day_amount_used, d.daily_limit),
            health: i.health,
            health_note: i.health_note,
            smartspot,
            smartspot_note: i.smartspot_note,
            smartspot_href: a
                .smartspot_settings
                .then(|| d.imei.as_deref().map(|imei| smartspot_href(corp, imei)))
                .flatten(),
            direct_mdn_field,
            admin_href: a.admin_page.then(|| row.line_href.to_string()),
            not_allowed: a.not_allowed.iter().map(|op| change_words(*op)).collect(),
            requests: a
                .requestable
                .iter()
                .filter_map(|op| {
                    let kind = ActionKind::all().find(|k| k.operation() == *op)?;
                    Some((
                        change_words(*op),
                        paths::action_from_portal(corp, kind, &row.mdn).into(),
                    ))
                })
                .collect(),
            history: None,
            last_seen,
            saved: None,
            on_line_page: false,
        }
    }
}

// ---- look-up results --------------------------------------------------------------------------

/// One line of a short list of matches.
#[derive(Debug, Clone)]
pub struct MatchRow {
    pub href: String,
    pub mdn: String,
    pub nickname: String,
    pub device_name: String,
    pub corp: String,
    pub status: String,
    pub status_class: &'static str,
    /// Which identifier matched exactly ("IMEI"), if one did.
    pub matched: Option<&'static str>,
}

impl MatchRow {
    pub fn new(corp: &CorpId, d: &Device, matched: Option<&'static str>) -> Self {
        let row = DeviceRow::new(corp, d, &crate::domain::ListQuery::default());
        Self {
            href: card_href(corp, &d.mdn),
            mdn: row.mdn,
            nickname: row.nickname,
            device_name: row.device_name,
            corp: corp.to_string(),
            status: row.status,
            status_class: row.status_class,
            matched,
        }
    }
}

/// What htmx swaps under the look-up box: nothing yet, one line's card, a short list, or "no match".
#[derive(Template, WebTemplate, Debug, Clone, Default)]
#[template(path = "fragments/portal_results.html")]
pub struct PortalResults {
    pub q: String,
    pub card: Option<LineCard>,
    pub matches: Vec<MatchRow>,
    /// More lines matched than are listed.
    pub more: bool,
    /// Device groups that could not be searched, and why.
    pub problems: Vec<String>,
    /// The token names no device group: nothing can be searched.
    pub no_groups: bool,
    /// How many device groups were searched.
    pub searched: usize,
}

impl PortalResults {
    pub fn asked(&self) -> bool {
        !self.q.is_empty()
    }

    /// The device group picker, for a user whose token names no group.
    pub fn home_href(&self) -> paths::Href {
        paths::home()
    }
}

/// The portal page: the look-up box and the results fragment.
#[derive(Template, WebTemplate, Debug)]
#[template(path = "pages/portal.html")]
pub struct PortalPage {
    pub layout: Layout,
    pub action: String,
    pub q: String,
    pub results: PortalResults,
    /// The user's own requests, newest first, and where to see them all.
    pub requests: Vec<RequestRow>,
    pub requests_href: String,
}

/// One of the user's requests, as the portal lists it.
#[derive(Debug, Clone)]
pub struct RequestRow {
    pub href: String,
    pub summary: String,
    pub selection: String,
    pub state: &'static str,
    pub state_label: &'static str,
    pub at: crate::views::changes::Moment,
}

impl RequestRow {
    pub fn new(c: &crate::storage::changes::ChangeSet) -> Self {
        Self {
            href: paths::change_from_portal(c.id).into(),
            summary: c.summary.clone(),
            selection: c.selection_text.clone(),
            state: c.state.as_str(),
            state_label: c.state.label(),
            at: crate::views::changes::utc_time(c.created_at),
        }
    }
}
