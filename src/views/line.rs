//! The admin line page: the portal's card with the line's actions on top, its usage strip, its
//! change history (before → after, each linked to its change set) and all its fields folded.

use askama::Template;
use askama_web::WebTemplate;

use crate::paths::{self, Href};
use crate::storage::changes::{LineChange, LineState, Origin};
use crate::upstream::wire::Device;
use crate::views::Layout;
use crate::views::changes::{Moment, change_title, utc_time};
use crate::views::devices::DeviceRow;
use crate::views::format::{data_limit, data_size, status_label};
use crate::views::portal::LineCard;

/// One change set in a line's history, as the line page lists it.
#[derive(Debug, Clone)]
pub struct HistoryRow {
    pub href: String,
    pub at: Moment,
    pub title: String,
    pub before: String,
    pub after: String,
    /// The line's outcome (`changed`, `failed`, `unknown`, `pending`) and its words.
    pub outcome: &'static str,
    pub outcome_label: &'static str,
    /// The change set's state, while it is not finished ("Awaiting approval", "Scheduled").
    pub waiting: Option<&'static str>,
    pub who: String,
    /// "Revert" or "Retry" when the change set is one.
    pub origin: Option<&'static str>,
    /// Sentinel's message for a line that failed.
    pub message: String,
}

impl HistoryRow {
    pub fn new(c: &LineChange) -> Self {
        let (set, line) = (&c.set, &c.line);
        let value = |v: &Option<String>| match v.as_deref() {
            None => "—".to_owned(),
            Some("") => "empty".to_owned(),
            Some(v) => v.to_owned(),
        };
        Self {
            href: paths::change(set.id).into(),
            at: utc_time(set.created_at),
            title: change_title(set),
            before: value(&line.before_value),
            after: value(&line.after_value),
            outcome: line.outcome.as_str(),
            outcome_label: match line.outcome {
                LineState::Changed => "Changed",
                LineState::Failed => "Failed",
                LineState::Unknown => "Unknown",
                LineState::Pending => "Not sent yet",
            },
            waiting: (!set.state.is_finished()).then(|| set.state.label()),
            who: set.user_name.clone().unwrap_or_else(|| set.subject.clone()),
            origin: match set.origin {
                Origin::Change => None,
                Origin::Retry => Some("Retry"),
                Origin::Revert => Some("Revert"),
            },
            message: if line.outcome == LineState::Failed {
                line.message.clone().unwrap_or_default()
            } else {
                String::new()
            },
        }
    }
}

/// One fact about a line: a label and its value (empty values are left out).
#[derive(Debug, Clone)]
pub struct Fact {
    pub label: &'static str,
    pub value: String,
}

/// One line, built like the portal's card: the changes this user may make on top, its status,
/// usage against its limits and health, its 90-day usage, every change set that touched it, and
/// every field Sentinel gives folded under "All details".
#[derive(Template, WebTemplate, Debug)]
#[template(path = "pages/line.html")]
pub struct LinePage {
    pub layout: Layout,
    pub corp: String,
    pub back_href: Href,
    pub row: DeviceRow,
    pub card: LineCard,
    pub facts: Vec<Fact>,
    pub smartspot_href: Option<Href>,
    pub actions: Vec<crate::views::actions::ActionLink>,
    /// The change sets that touched the line, newest first.
    pub changes: Vec<HistoryRow>,
    /// The history may hold more than is listed.
    pub more_changes: bool,
}

impl LinePage {
    /// The facts of `d`, in the order people look for them.
    pub fn facts(d: &Device) -> Vec<Fact> {
        let t = |v: &Option<String>| v.clone().unwrap_or_default();
        let yes_no = |v: Option<bool>| match v {
            Some(true) => "yes".to_owned(),
            Some(false) => "no".to_owned(),
            None => String::new(),
        };
        let labels = d
            .labels
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|l| l.name.clone())
            .collect::<Vec<_>>()
            .join(", ");
        let all = [
            ("Nickname", t(&d.nickname)),
            ("Status", status_label(&t(&d.status))),
            ("Online", yes_no(d.online_status)),
            ("Network", t(&d.network)),
            ("Device", t(&d.device_name)),
            ("Filter group", t(&d.filter_group)),
            ("Device group", t(&d.corp_id)),
            ("Labels", labels),
            ("Note", t(&d.note)),
            ("Asset tag", t(&d.mdn_custom_field)),
            ("Summer usage", t(&d.summer_status)),
            ("Media center", status_label(&t(&d.media_center_status))),
            ("Used, last 30 days", data_size(d.last30_days_used)),
            ("Used this month", data_size(d.monthly_amount_used)),
            ("Used today", data_size(d.day_amount_used)),
            ("Monthly limit", data_limit(d.monthly_limit)),
            ("Daily limit", data_limit(d.daily_limit)),
            ("IMEI", t(&d.imei)),
            ("ICCID", t(&d.iccid)),
            ("EID", t(&d.eid)),
            ("UICC", t(&d.uicc)),
            ("ESN (hex)", t(&d.esn_hex)),
            ("MAC", t(&d.mac)),
            ("Serial number", t(&d.oem_serial_number)),
            ("SIM type", t(&d.sim_type)),
            ("APN", t(&d.apn)),
            ("Reports health", yes_no(d.show_health_status)),
        ];
        all.into_iter()
            .filter(|(_, v)| !v.is_empty() && v != "—")
            .map(|(label, value)| Fact { label, value })
            .collect()
    }
}
