//! Views of the fleet's history: the usage page (per-day chart and table, breakdown, idle lines
//! and their cost, per-filter-group proof of use), the idle lines as a selection, and drift.

use askama::Template;
use askama_web::WebTemplate;

use crate::actions::ActionKind;
use crate::actions::MAX_LIST;
use crate::domain::CorpId;
use crate::paths;
use crate::policy::Principal;
use crate::storage::usage::{Drift, LatestRow, SampleRecord, Tracking};
use crate::usage::report::{By, CategoryTotal, DayPoint, IDLE_DAYS};
use crate::usage::{Day, mb, mdn_text};
use crate::views::Layout;
use crate::views::actions::ActionLink;
use crate::views::chart::{BarChart, BarInput};
use crate::views::format::{format_time, thousands};

/// The plot's size (SVG units).
const PLOT_W: u32 = 720;
const PLOT_H: u32 = 160;

/// `$6,180` (cents shown only when there are some).
pub fn money(currency: &str, hundredths: u64) -> String {
    let units = thousands(hundredths / 100);
    match hundredths % 100 {
        0 => format!("{currency}{units}"),
        c => format!("{currency}{units}.{c:02}"),
    }
}

/// "12,345.67 MB".
pub fn mb_words(hundredths: i64) -> String {
    let h = hundredths.max(0) as u64;
    format!("{}.{:02} MB", thousands(h / 100), h % 100)
}

/// Tracking's state as the group's pages show it.
#[derive(Debug, Clone)]
pub struct TrackingView {
    pub active: bool,
    pub paused: bool,
    pub stopped: bool,
    pub who: String,
    pub message: Option<String>,
    pub last_ok: Option<String>,
}

impl TrackingView {
    pub fn new(t: &Tracking) -> Self {
        Self {
            active: t.state == "active",
            paused: t.state == "needs_sign_in",
            stopped: t.state == "stopped",
            who: t
                .user_name
                .clone()
                .or_else(|| t.subject.clone())
                .unwrap_or_default(),
            message: t.message.clone(),
            last_ok: t.last_ok_at.map(format_time),
        }
    }
}

/// One day's column of the chart and row of its table.
#[derive(Debug, Clone)]
pub struct Column {
    pub day: String,
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
    pub usage: String,
    pub used: String,
    pub sampled: bool,
}

/// A sample as the page lists it.
#[derive(Debug, Clone)]
pub struct SampleView {
    pub at: String,
    pub ok: bool,
    pub lines: String,
    pub ms: i64,
    pub message: String,
}

/// A line of the idle selection or the drift table.
#[derive(Debug, Clone)]
pub struct LineView {
    pub mdn: String,
    pub href: String,
    pub nickname: String,
    pub last_used: String,
}

/// `GET /devices/{corpId}/usage`
#[derive(Template, WebTemplate, Debug)]
#[template(path = "pages/usage.html")]
pub struct UsagePage {
    pub layout: Layout,
    pub corp: String,
    pub list_href: String,
    pub tracking_href: String,
    pub csrf: String,
    pub can_track: bool,
    pub tracking: Option<TrackingView>,
    pub has_history: bool,
    pub simulated_note: Option<String>,
    pub from: String,
    pub to: String,
    pub by: String,
    pub bys: Vec<(&'static str, &'static str)>,
    pub idle_days: u32,
    pub idle_options: Vec<u32>,
    pub columns: Vec<Column>,
    pub plot_w: u32,
    pub plot_h: u32,
    pub total_usage: String,
    pub breakdown: Option<BarChart>,
    pub fg_sums: Vec<(String, String, String, String)>,
    pub idle_count: String,
    pub idle_cost: Option<String>,
    pub idle_href: String,
    pub history_days: i32,
    pub csv_href: String,
    pub drift_href: String,
    pub samples: Vec<SampleView>,
}

/// What the usage page is built from.
pub struct UsageInput<'a> {
    pub user: &'a Principal,
    pub csrf: &'a str,
    pub corp: &'a CorpId,
    pub tracking: Option<&'a Tracking>,
    pub from: Day,
    pub to: Day,
    pub by: Option<By>,
    pub idle_days: u32,
    pub days: Vec<DayPoint>,
    pub breakdown: Vec<CategoryTotal>,
    pub fg_sums: Vec<CategoryTotal>,
    pub idle: usize,
    pub cost: Option<(String, u64)>,
    pub first_day: Option<Day>,
    pub today: Day,
    pub samples: Vec<SampleRecord>,
}

impl UsagePage {
    pub fn new(i: UsageInput<'_>) -> Self {
        let corp = i.corp;
        let max = i
            .days
            .iter()
            .filter_map(|d| d.usage)
            .max()
            .unwrap_or(0)
            .max(1);
        let n = i.days.len().max(1) as u32;
        let w = (PLOT_W / n).max(1);
        let columns = i
            .days
            .iter()
            .enumerate()
            .map(|(k, d)| {
                let u = d.usage.unwrap_or(0);
                let h = ((u as f64 / max as f64) * f64::from(PLOT_H)).round() as u32;
                let h = if u > 0 { h.max(1) } else { 0 };
                Column {
                    day: d.day.iso(),
                    x: k as u32 * w,
                    y: PLOT_H - h,
                    w: w.saturating_sub(1).max(1),
                    h,
                    usage: d.usage.map_or_else(|| "not sampled".into(), mb_words),
                    used: if d.usage.is_some() {
                        format!(
                            "{} of {}",
                            thousands(d.used_lines as u64),
                            thousands(d.sampled_lines as u64)
                        )
                    } else {
                        String::new()
                    },
                    sampled: d.usage.is_some(),
                }
            })
            .collect();
        let total: i64 = i.days.iter().filter_map(|d| d.usage).sum();
        let (from, to) = (i.from.iso(), i.to.iso());
        let by_str = i.by.map(By::as_str).unwrap_or("");
        let breakdown = i.by.map(|by| {
            let whole = i.breakdown.iter().map(|c| c.usage.max(0) as u64).sum();
            let bars = i
                .breakdown
                .iter()
                .map(|c| BarInput {
                    label: if c.name.is_empty() {
                        "(none)".into()
                    } else {
                        c.name.clone()
                    },
                    magnitude: c.usage.max(0) as u64,
                    value: mb_words(c.usage),
                    href: paths::devices_where(corp, by.as_str(), &c.name).into(),
                    link_text: format!("{} line-days used", thousands(c.days_used.max(0) as u64)),
                    csv_href: None,
                })
                .collect();
            BarChart::new(
                "usage-by",
                format!("Usage by {}", by.label().to_lowercase()),
                format!(
                    "Usage from {from} to {to} by {}.",
                    by.label().to_lowercase()
                ),
                by.label(),
                "Usage",
                bars,
                whole,
            )
        });
        let idle_cost = i.cost.map(|(cur, per)| money(&cur, per * i.idle as u64));
        let history_days = i.first_day.map_or(0, |f| i.today.0 - f.0 + 1);
        Self {
            layout: Layout::signed_in(format!("{corp} usage"), i.user, i.csrf),
            corp: corp.to_string(),
            list_href: paths::group(corp).into(),
            tracking_href: paths::tracking(corp).into(),
            csrf: i.csrf.to_owned(),
            can_track: i.user.can_track(corp),
            tracking: i.tracking.map(TrackingView::new),
            has_history: i.first_day.is_some(),
            simulated_note: i.tracking.and_then(|t| t.simulated_before).map(|d| {
                format!(
                    "Days before {} are simulated history, filled in by the demo: no sample was taken then.",
                    Day(d).iso()
                )
            }),
            by: by_str.to_owned(),
            bys: By::ALL.iter().map(|b| (b.as_str(), b.label())).collect(),
            idle_days: i.idle_days,
            idle_options: IDLE_DAYS.to_vec(),
            columns,
            plot_w: PLOT_W,
            plot_h: PLOT_H,
            total_usage: mb_words(total),
            breakdown,
            fg_sums: i
                .fg_sums
                .iter()
                .map(|c| {
                    (
                        if c.name.is_empty() { "(none)".into() } else { c.name.clone() },
                        mb_words(c.usage),
                        thousands(c.days_used.max(0) as u64),
                        thousands(c.days_sampled.max(0) as u64),
                    )
                })
                .collect(),
            idle_count: thousands(i.idle as u64),
            idle_cost,
            idle_href: paths::usage_idle(corp, i.idle_days).into(),
            history_days,
            csv_href: paths::usage_csv(corp, &from, &to).into(),
            drift_href: paths::drift(corp).into(),
            samples: i
                .samples
                .iter()
                .map(|s| SampleView {
                    at: format_time(s.taken_at),
                    ok: s.ok,
                    lines: thousands(s.lines.max(0) as u64),
                    ms: s.elapsed_ms,
                    message: s.message.clone().unwrap_or_default(),
                })
                .collect(),
            from,
            to,
        }
    }
}

/// `GET /devices/{corpId}/usage/idle`: the idle lines, ready for a bulk change.
#[derive(Template, WebTemplate, Debug)]
#[template(path = "pages/usage_lines.html")]
pub struct IdleLinesPage {
    pub layout: Layout,
    pub corp: String,
    pub back_href: String,
    pub heading: String,
    pub count: String,
    pub cost: Option<String>,
    pub rows: Vec<LineView>,
    pub mdns: Vec<String>,
    pub actions: Vec<ActionLink>,
    pub csrf: String,
    pub cap_note: Option<String>,
}

impl IdleLinesPage {
    pub fn new(
        user: &Principal,
        csrf: &str,
        corp: &CorpId,
        idle_days: u32,
        lines: &[LatestRow],
        cost: Option<(String, u64)>,
    ) -> Self {
        let mdns: Vec<String> = lines
            .iter()
            .take(MAX_LIST)
            .map(|l| mdn_text(l.mdn.max(0) as u64))
            .collect();
        let rows = lines
            .iter()
            .take(100)
            .map(|l| {
                let mdn = mdn_text(l.mdn.max(0) as u64);
                LineView {
                    href: paths::line(corp, &mdn).into(),
                    mdn,
                    nickname: l.nickname.clone(),
                    last_used: l
                        .last_used()
                        .map_or_else(|| "never since tracking began".into(), |d| Day(d).iso()),
                }
            })
            .collect();
        let n = mdns.len();
        let actions = ActionKind::allowed_for(user, corp)
            .into_iter()
            .filter(|k| k.operation().check_line_count(Some(n as u64)).is_ok())
            .filter(|k| k.selection() != crate::actions::catalog::Selection::Imeis)
            .map(|k| ActionLink::new(corp, k, paths::action_form(corp, k).into(), false))
            .collect();
        let heading = format!("Lines idle for {idle_days} days or more");
        Self {
            layout: Layout::signed_in(format!("{corp}: {heading}"), user, csrf),
            corp: corp.to_string(),
            back_href: paths::usage_at(corp, "", "", "", idle_days).into(),
            heading,
            count: thousands(lines.len() as u64),
            cost: cost.map(|(c, per)| money(&c, per * lines.len() as u64)),
            rows,
            cap_note: (lines.len() > n).then(|| {
                format!(
                    "One change can list at most {} lines: the first {} are selected.",
                    thousands(MAX_LIST as u64),
                    thousands(MAX_LIST as u64)
                )
            }),
            actions: if n == 0 { Vec::new() } else { actions },
            mdns,
            csrf: csrf.to_owned(),
        }
    }
}

/// A drift row as the page shows it.
#[derive(Debug, Clone)]
pub struct DriftView {
    pub mdn: String,
    pub line_href: String,
    pub field: String,
    pub before: String,
    pub after: String,
    pub seen: String,
    /// The action form with the line and its value before, when there is one.
    pub put_back: Option<String>,
}

/// The action and field that put a drifted value back (in the operation's vocabulary).
pub fn put_back(corp: &CorpId, d: &Drift) -> Option<String> {
    let mdn = mdn_text(d.mdn.max(0) as u64);
    let (slug, field, value) = match d.field.as_str() {
        "STATUS" => ("status", "status", d.before.to_uppercase()),
        "NICKNAME" => ("nickname", "nickname", d.before.clone()),
        "FILTER_GROUP" => ("filter-group", "filterGroup", d.before.clone()),
        "MONTHLY_LIMIT" => ("data-limits", "monthlyLimit", d.before.clone()),
        "DAILY_LIMIT" => ("data-limits", "dailyLimit", d.before.clone()),
        _ => return None,
    };
    let kind = ActionKind::from_slug(slug)?;
    Some(paths::action_form_with(corp, kind, &[("mdns".into(), mdn), (field.into(), value)]).into())
}

/// `GET /devices/{corpId}/drift`
#[derive(Template, WebTemplate, Debug)]
#[template(path = "pages/drift.html")]
pub struct DriftPage {
    pub layout: Layout,
    pub corp: String,
    pub usage_href: String,
    pub csv_href: String,
    pub tracked: bool,
    pub rows: Vec<DriftView>,
}

impl DriftPage {
    pub fn new(
        user: &Principal,
        csrf: &str,
        corp: &CorpId,
        tracked: bool,
        drift: &[Drift],
    ) -> Self {
        Self {
            layout: Layout::signed_in(format!("{corp} drift"), user, csrf),
            corp: corp.to_string(),
            usage_href: paths::usage(corp).into(),
            csv_href: paths::drift_csv(corp).into(),
            tracked,
            rows: drift
                .iter()
                .map(|d| {
                    let mdn = mdn_text(d.mdn.max(0) as u64);
                    DriftView {
                        line_href: paths::line(corp, &mdn).into(),
                        mdn,
                        field: d.field.clone(),
                        before: d.before.clone(),
                        after: d.after.clone(),
                        seen: format_time(d.seen_at),
                        put_back: put_back(corp, d),
                    }
                })
                .collect(),
        }
    }
}

/// The drift CSV's rows (CONTRACT §6: MDN, field, before, after, when seen).
pub fn drift_csv(drift: &[Drift]) -> String {
    let mut out = String::from("MDN,FIELD,BEFORE,AFTER,SEEN_AT\r\n");
    for d in drift {
        let seen = d
            .seen_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        out.push_str(&crate::csv::write_row([
            mdn_text(d.mdn.max(0) as u64).as_str(),
            &d.field,
            &d.before,
            &d.after,
            &seen,
        ]));
    }
    out
}

/// A line's 90-day strip and its "used on X of the last 30 days" (line page, portal card).
#[derive(Debug, Clone)]
pub struct LineHistory {
    pub cells: Vec<StripCell>,
    pub used_30: u32,
    pub sampled_30: u32,
    /// The group's history, for whoever may read it.
    pub usage_href: Option<String>,
    /// The strip's heading level (`h2` on the line page, `h3` in the portal's card).
    pub heading: &'static str,
}

/// One day of a line's strip.
#[derive(Debug, Clone)]
pub struct StripCell {
    pub day: String,
    /// `none` (not sampled), `idle`, `low`, `mid`, `high`.
    pub level: &'static str,
    pub usage: String,
}

impl LineHistory {
    pub fn new(corp: &CorpId, days: &[(Day, crate::usage::Cell)]) -> Self {
        let max = days.iter().map(|(_, c)| c.usage).max().unwrap_or(0).max(1);
        let cells = days
            .iter()
            .map(|(d, c)| StripCell {
                day: d.iso(),
                level: if !c.sampled() {
                    "none"
                } else if c.usage == 0 {
                    "idle"
                } else if c.usage * 3 < max {
                    "low"
                } else if c.usage * 3 < max * 2 {
                    "mid"
                } else {
                    "high"
                },
                usage: if c.sampled() {
                    format!("{} MB", mb(u64::from(c.usage)))
                } else {
                    "not sampled".into()
                },
            })
            .collect();
        let last30 = &days[days.len().saturating_sub(30)..];
        Self {
            cells,
            used_30: last30.iter().filter(|(_, c)| c.used()).count() as u32,
            sampled_30: last30.iter().filter(|(_, c)| c.sampled()).count() as u32,
            usage_href: Some(paths::usage(corp).into()),
            heading: "h2",
        }
    }

    /// In the portal's card: under its sections, linking the group's history only for a reader.
    pub fn in_card(mut self, may_read_group: bool) -> Self {
        self.heading = "h3";
        if !may_read_group {
            self.usage_href = None;
        }
        self
    }
}

/// The list's link to the usage page, and tracking's pause (the group's pages say so).
#[derive(Debug, Clone)]
pub struct UsageLink {
    pub href: String,
    pub paused: bool,
}

/// The overview's way to the history (issue 24): the usage page and its idle lines where the
/// group is tracked, an offer to start tracking where it is not (to roles that may).
#[derive(Template, Debug, Clone)]
#[template(path = "fragments/usage_overview.html")]
pub struct OverviewUsage {
    pub usage_href: String,
    /// The idle lines (30 days), once the group has history.
    pub idle_href: Option<String>,
    pub tracked: bool,
    pub paused: bool,
    /// The start form's target, when offered.
    pub start_href: Option<String>,
    pub csrf: String,
}

impl OverviewUsage {
    pub fn new(user: &Principal, csrf: &str, corp: &CorpId, t: Option<&Tracking>) -> Self {
        let tracked = t.is_some_and(|t| t.state != "stopped");
        Self {
            usage_href: paths::usage(corp).into(),
            idle_href: t.map(|_| paths::usage_idle(corp, 30).into()),
            tracked,
            paused: t.is_some_and(|t| t.state == "needs_sign_in"),
            start_href: user
                .offer_tracking(corp, tracked)
                .then(|| paths::tracking(corp).into()),
            csrf: csrf.to_owned(),
        }
    }
}
