//! Views of the device group overview: the page of figures and a figure's lines as a selection.

use super::format::{format_time, thousands};
use askama::Template;
use askama_web::WebTemplate;

use crate::actions::catalog::Selection;
use crate::actions::{ActionKind, MAX_IMEIS, MAX_LIST};
use crate::domain::CorpId;
use crate::overview::{
    Dimension, Figure, IdleMb, LineRec, MAX_LINES_KEPT, NEAR_LIMIT_PERCENT, Overview, TOP_N,
    USAGE_BUCKETS, usage_label,
};
use crate::paths;
use crate::policy::Principal;
use crate::views::Layout;
use crate::views::actions::ActionLink;
use crate::views::chart::{BarChart, BarInput, ChartAction};

/// Lines listed on a selection page; the rest are counted (all are in the form).
pub const SELECTION_ROWS: usize = 100;

/// The overview's links for a group and idle threshold (built by [`crate::paths`]).
#[derive(Debug, Clone)]
pub struct Paths {
    corp: CorpId,
    idle: IdleMb,
}

impl Paths {
    pub fn new(corp: &CorpId, idle: IdleMb) -> Self {
        Self {
            corp: corp.clone(),
            idle,
        }
    }
    pub fn page(&self) -> String {
        paths::overview(&self.corp).into()
    }
    pub fn page_at_idle(&self) -> String {
        paths::overview_at(&self.corp, self.idle.mb()).into()
    }
    pub fn lines(&self, f: &Figure) -> String {
        paths::overview_lines(&self.corp, &f.query(), self.idle.mb()).into()
    }
    pub fn csv(&self, f: &Figure) -> String {
        paths::overview_lines_csv(&self.corp, &f.query(), self.idle.mb()).into()
    }
}

fn lines_text(n: u64) -> String {
    if n == 1 {
        "1 line".into()
    } else {
        format!("{} lines", thousands(n))
    }
}

/// A bar for a figure that is a set of lines.
fn figure_bar(p: &Paths, label: String, fig: Figure, n: u64) -> BarInput {
    BarInput {
        label,
        magnitude: n,
        value: thousands(n),
        href: p.lines(&fig),
        link_text: lines_text(n),
        csv_href: Some(p.csv(&fig)),
    }
}

/// Everything below the page head (the htmx swap target): the findings first, ranked by how many
/// lines each puts at cost or at risk, then the figures that describe the group, then the
/// findings with nothing in them, folded.
#[derive(Template, WebTemplate, Debug, Clone)]
#[template(path = "fragments/overview_figures.html")]
pub struct OverviewFigures {
    pub page_href: String,
    pub computed_at: String,
    pub elapsed_ms: u128,
    pub total: String,
    pub active: String,
    pub idle_mb: u32,
    pub notes: Vec<String>,
    /// Idle lines (paid for, not used) and lines at or near their limit, largest first, each
    /// with how many lines it puts at cost or at risk.
    pub findings: Vec<(u64, BarChart)>,
    /// Findings with no line in them ("Paid for, not used: 0").
    pub quiet: Vec<BarChart>,
    pub usage: BarChart,
    pub categories: Vec<BarChart>,
    pub top: BarChart,
}

impl OverviewFigures {
    pub fn new(corp: &CorpId, ov: &Overview, idle: IdleMb) -> Self {
        let p = Paths::new(corp, idle);
        let idle_count = ov.count_of(&Figure::Idle, idle);
        let idle_sentence = if idle.mb() == 0 {
            format!(
                "{} of {} active lines used nothing in the last 30 days.",
                thousands(idle_count),
                thousands(ov.active)
            )
        } else {
            format!(
                "{} of {} active lines used less than {} MB in the last 30 days.",
                thousands(idle_count),
                thousands(ov.active),
                idle.mb()
            )
        };
        let mut idle_bars = vec![figure_bar(&p, "Idle".into(), Figure::Idle, idle_count)];
        let active_name = ov
            .categories(Dimension::Status)
            .names
            .iter()
            .find(|n| n.eq_ignore_ascii_case("active"))
            .cloned();
        if let Some(a) = active_name {
            let f = Figure::Category(Dimension::Status, a);
            idle_bars.push(figure_bar(&p, "All active lines".into(), f, ov.active));
        }
        let mut idle_chart = BarChart::new(
            "fig-idle",
            "Paid for, not used",
            idle_sentence,
            "Lines",
            "Lines",
            if ov.total == 0 { Vec::new() } else { idle_bars },
            ov.active,
        )
        .with_summary_id("idle-sentence")
        .with_note("Idle: active, and no data used in the last 30 days (or less than the threshold you set). The district pays for these lines and nobody uses them.");
        if idle_count > 0 {
            idle_chart = idle_chart
                .with_action(ChartAction {
                    id: "idle-lines",
                    href: p.lines(&Figure::Idle),
                    label: format!("Act on the {}", idle_words(idle_count)),
                    download: false,
                })
                .with_action(ChartAction {
                    id: "idle-csv",
                    href: p.csv(&Figure::Idle),
                    label: "Download them as CSV".into(),
                    download: true,
                });
        }

        let limit_bars = [
            ("At or over the limit", Figure::OverLimit, ov.over_limit),
            ("80% of the limit or more", Figure::NearLimit, ov.near_limit),
            ("Under 80% of the limit", Figure::UnderLimit, ov.under_limit),
            ("No monthly limit", Figure::NoLimit, ov.no_limit),
        ];
        let at_risk = ov.over_limit + ov.near_limit;
        let mut limits = BarChart::new(
            "fig-limits",
            "At or near the monthly limit",
            format!(
                "{} at or over their monthly limit, {} at {NEAR_LIMIT_PERCENT}% of it or more, {} without a limit.",
                lines_text(ov.over_limit),
                lines_text(ov.near_limit),
                lines_text(ov.no_limit)
            ),
            "Lines",
            "Lines",
            if ov.total == 0 {
                Vec::new()
            } else {
                limit_bars
                    .into_iter()
                    .map(|(l, f, n)| figure_bar(&p, l.into(), f, n))
                    .collect()
            },
            ov.total,
        )
        .with_note("Data used this month against each line's monthly limit. “80% or more” counts lines not yet at the limit, so no line is in two bars.");
        if ov.over_limit > 0 {
            limits = limits.with_action(ChartAction {
                id: "over-limit-lines",
                href: p.lines(&Figure::OverLimit),
                label: format!(
                    "Act on the {} at or over the limit",
                    lines_text(ov.over_limit)
                ),
                download: false,
            });
        } else if ov.near_limit > 0 {
            limits = limits.with_action(ChartAction {
                id: "near-limit-lines",
                href: p.lines(&Figure::NearLimit),
                label: format!("Act on the {} near the limit", lines_text(ov.near_limit)),
                download: false,
            });
        }

        let usage = BarChart::new(
            "fig-usage",
            "Usage over the last 30 days",
            format!(
                "How much each of the {} used in the last 30 days.",
                lines_text(ov.total)
            ),
            "Used",
            "Lines",
            if ov.total == 0 {
                Vec::new()
            } else {
                (0..USAGE_BUCKETS)
                    .map(|b| figure_bar(&p, usage_label(b), Figure::Usage(b), ov.usage[b]))
                    .collect()
            },
            ov.total,
        )
        .with_note("Data used in the last 30 days; GB here means 1,024 MB.");

        let categories = Dimension::ALL
            .into_iter()
            .map(|d| {
                let c = ov.categories(d);
                let bars: Vec<BarInput> = c
                    .sorted()
                    .into_iter()
                    .map(|(name, n)| {
                        let f = Figure::Category(d, name.to_owned());
                        figure_bar(&p, name.to_owned(), f, n)
                    })
                    .collect();
                let chart = BarChart::new(
                    &format!("fig-{}", d.slug().replace('_', "-")),
                    format!("Lines by {}", d.label()),
                    format!(
                        "{} {}s among {}.",
                        c.names.len(),
                        d.label(),
                        lines_text(ov.total)
                    ),
                    capitalise(d.label()).as_str(),
                    "Lines",
                    bars,
                    ov.total,
                );
                if d == Dimension::DeviceType {
                    chart.with_note("The device model, as Sentinel names it.")
                } else {
                    chart
                }
            })
            .collect();

        let top = BarChart::new(
            "fig-top",
            format!("Top {TOP_N} lines by usage this month"),
            format!(
                "The {} that used the most data this month.",
                lines_text(ov.top.len() as u64)
            ),
            "Line",
            "Used this month",
            ov.top
                .iter()
                .map(|t| BarInput {
                    label: if t.nickname.is_empty() {
                        t.rec.mdn()
                    } else {
                        format!("{} {}", t.rec.mdn(), t.nickname)
                    },
                    magnitude: u64::from(t.rec.month),
                    value: mb_text(t.rec.month),
                    href: line_href(corp, &t.rec),
                    link_text: "the line".into(),
                    csv_href: None,
                })
                .collect(),
            0,
        );

        let mut notes = Vec::new();
        if ov.truncated() {
            notes.push(format!(
                "This group has {} lines: the counts are exact, but selections and CSVs hold the first {} (by MDN).",
                thousands(ov.total),
                thousands(MAX_LINES_KEPT as u64)
            ));
        }
        if ov.skipped > 0 {
            notes.push(format!(
                "{} in the export had no readable MDN and are left out.",
                lines_text(ov.skipped)
            ));
        }
        // Findings, ranked by how many lines each puts at cost (idle) or at risk (the limit);
        // one with nothing in it goes last, folded.
        let mut ranked = vec![(idle_count, idle_chart), (at_risk, limits)];
        ranked.sort_by_key(|r| std::cmp::Reverse(r.0));
        let (findings, quiet): (Vec<_>, Vec<_>) = ranked.into_iter().partition(|(n, _)| *n > 0);
        Self {
            page_href: p.page(),
            computed_at: format_time(ov.computed_at),
            elapsed_ms: ov.elapsed.as_millis(),
            total: thousands(ov.total),
            active: thousands(ov.active),
            idle_mb: idle.mb(),
            notes,
            findings,
            quiet: quiet
                .into_iter()
                .map(|(_, mut c)| {
                    c.quiet = true;
                    c
                })
                .collect(),
            usage,
            categories,
            top,
        }
    }
}

/// "idle line" / "3 idle lines".
fn idle_words(n: u64) -> String {
    if n == 1 {
        "1 idle line".into()
    } else {
        format!("{} idle lines", thousands(n))
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// Hundredths of MB for people: "812 MB", "31.2 GB".
pub fn mb_text(h: u32) -> String {
    crate::views::format::data_size(Some(f64::from(h) / 100.0))
}

fn line_href(corp: &CorpId, l: &LineRec) -> String {
    paths::line(corp, l.mdn()).into()
}

/// `GET /devices/{corpId}/overview`
#[derive(Template, WebTemplate, Debug)]
#[template(path = "pages/overview.html")]
pub struct OverviewPage {
    pub layout: Layout,
    pub corp: String,
    pub list_href: String,
    pub figures: OverviewFigures,
    /// The usage history's links, or the offer to start tracking (issue 24).
    pub usage: Option<crate::views::usage::OverviewUsage>,
}

/// One listed line of a selection.
#[derive(Debug, Clone)]
pub struct SelectionRow {
    pub mdn: String,
    pub line_href: String,
    pub status: String,
    pub filter_group: String,
    pub network: String,
    pub device: String,
    pub last30: String,
    pub month: String,
    pub limit: String,
}

/// `GET /devices/{corpId}/overview/lines`: a figure's lines, ready for a bulk action.
#[derive(Template, WebTemplate, Debug)]
#[template(path = "pages/overview_lines.html")]
pub struct SelectionPage {
    pub layout: Layout,
    pub corp: String,
    pub back_href: String,
    pub heading: String,
    pub computed_at: String,
    /// The figure's lines (exact).
    pub count: u64,
    pub count_text: String,
    /// Why the form holds fewer lines than the figure, if it does.
    pub cap_note: Option<String>,
    pub rows: Vec<SelectionRow>,
    pub more: usize,
    /// Every line of the selection (up to [`MAX_LIST`]): the action form's `mdns`.
    pub mdns: Vec<String>,
    pub actions: Vec<ActionLink>,
    pub csv_href: String,
    pub csrf: String,
}

impl SelectionPage {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        user: &Principal,
        csrf: &str,
        corp: &CorpId,
        ov: &Overview,
        fig: &Figure,
        idle: IdleMb,
    ) -> Self {
        let p = Paths::new(corp, idle);
        let count = ov.count_of(fig, idle);
        let mut rows = Vec::new();
        let mut mdns = Vec::new();
        for l in ov.lines_of(fig, idle).take(MAX_LIST) {
            if rows.len() < SELECTION_ROWS {
                rows.push(SelectionRow {
                    mdn: l.mdn(),
                    line_href: line_href(corp, l),
                    status: ov.name(Dimension::Status, l).to_owned(),
                    filter_group: ov.name(Dimension::FilterGroup, l).to_owned(),
                    network: ov.name(Dimension::Network, l).to_owned(),
                    device: ov.name(Dimension::DeviceType, l).to_owned(),
                    last30: mb_text(l.last30),
                    month: mb_text(l.month),
                    limit: if l.has_limit() {
                        mb_text(l.limit)
                    } else {
                        "No limit".into()
                    },
                });
            }
            mdns.push(l.mdn());
        }
        let cap_note = (count > mdns.len() as u64).then(|| {
            if mdns.len() == MAX_LIST {
                format!(
                    "One change can list at most {} lines: the first {} of these {} (by MDN) are selected. For all of them, use “select all” on the list.",
                    thousands(MAX_LIST as u64),
                    thousands(MAX_LIST as u64),
                    thousands(count)
                )
            } else {
                format!(
                    "The overview keeps the first {} lines of a group: {} of these {} are selected.",
                    thousands(MAX_LINES_KEPT as u64),
                    thousands(mdns.len() as u64),
                    thousands(count)
                )
            }
        });
        let n = mdns.len();
        // The scope table decides the actions offered; a few also need a fitting size.
        let actions = ActionKind::allowed_for(user, corp)
            .into_iter()
            .filter(|k| {
                k.operation().check_line_count(Some(n as u64)).is_ok()
                    && (k.selection() != Selection::Imeis || n <= MAX_IMEIS)
            })
            .map(|k| ActionLink::new(corp, k, paths::action_form(corp, k).into(), false))
            .collect();
        let heading = capitalise(&fig.describe(idle));
        Self {
            layout: Layout::signed_in(format!("{corp}: {heading}"), user, csrf),
            corp: corp.to_string(),
            back_href: p.page_at_idle(),
            heading,
            computed_at: format_time(ov.computed_at),
            count,
            count_text: lines_text(count),
            cap_note,
            more: n.saturating_sub(rows.len()),
            rows,
            mdns: if n == 0 { Vec::new() } else { mdns },
            actions: if n == 0 { Vec::new() } else { actions },
            csv_href: p.csv(fig),
            csrf: csrf.to_owned(),
        }
    }
}
