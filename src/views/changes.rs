//! Views of change sets: the list, one change set's page, its progress and its lines (fragments
//! the page includes and htmx swaps).

use askama::Template;
use askama_web::WebTemplate;
use uuid::Uuid;

use crate::actions::ActionKind;
use crate::paths;
use crate::storage::changes::{ChangeLine, ChangeSet, ChangeState, LineState};
use crate::views::Layout;
use crate::views::actions::ResultFragment;
use crate::views::redo::{RetryOffer, RevertOffer};

/// Lines shown per page of a change set.
pub const LINES_PAGE: u32 = 50;

// ---- URLs: the views' names for the routes built by `crate::paths` ----------------------------

/// `/changes`, with the list's filters.
pub fn changes_href(state: Option<&str>, mine: bool, offset: u64) -> String {
    paths::changes_page(state, mine, offset).into()
}

/// `/changes/{id}`.
pub fn change_href(id: Uuid) -> String {
    paths::change(id).into()
}

/// `/changes/{id}?part=lines…`: the lines fragment, filtered and paged.
pub fn lines_href(id: Uuid, outcome: Option<LineState>, offset: u64) -> String {
    paths::change_lines(id, outcome.map(|o| o.as_str()), offset).into()
}

/// `/changes/{id}/lines.csv`.
pub fn lines_csv_href(id: Uuid) -> String {
    paths::change_lines_csv(id).into()
}

/// `/changes/{id}/retry`.
pub fn retry_href(id: Uuid) -> String {
    paths::change_retry(id).into()
}

/// `/changes/{id}/revert`.
pub fn revert_href(id: Uuid) -> String {
    paths::change_revert(id).into()
}

/// An action's label, or its slug when it is no longer in the catalogue.
pub fn action_label(slug: &str) -> String {
    ActionKind::from_slug(slug).map_or_else(|| slug.to_owned(), |k| k.label().to_owned())
}

/// What a change set is called: its action's label, or "Several changes" when its chunks carry
/// changes of different actions (a CSV import of several columns, or its revert).
pub fn change_title(c: &ChangeSet) -> String {
    let per = crate::actions::changeset::chunk_changes(&c.fields).unwrap_or_default();
    match per.first() {
        Some((_, first)) if per.iter().any(|(_, ch)| ch.action != first.action) => {
            "Several changes".to_owned()
        }
        _ => action_label(&c.action),
    }
}

fn when(t: time::OffsetDateTime) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    t.format(&fmt).unwrap_or_default()
}

/// A time shown to people: UTC text that the page's script rewrites into the reader's time zone
/// (`datetime` attribute), UTC on hover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moment {
    /// RFC 3339 UTC.
    pub iso: String,
    /// `2026-06-15 07:00 UTC`.
    pub utc: String,
}

/// See [`Moment`].
pub fn utc_time(t: time::OffsetDateTime) -> Moment {
    let t = t.to_offset(time::UtcOffset::UTC);
    Moment {
        iso: t
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        utc: crate::domain::when::utc(t),
    }
}

// ---- the list ----------------------------------------------------------------------------------

/// One row of `/changes`.
#[derive(Debug, Clone)]
pub struct ChangeRow {
    pub href: String,
    pub at: String,
    pub user: String,
    pub corp: String,
    pub action: String,
    pub summary: String,
    pub selection: String,
    pub state: &'static str,
    pub state_label: &'static str,
    pub total: i64,
    pub changed: i64,
    pub failed: i64,
    pub unknown: i64,
    pub made: Moment,
    /// When a scheduled change runs (shown while it waits).
    pub run_at: Option<Moment>,
    /// Why it was requested (shown while it waits for approval).
    pub reason: Option<String>,
}

impl ChangeRow {
    pub fn new(c: &ChangeSet) -> Self {
        Self {
            href: change_href(c.id),
            at: when(c.created_at),
            user: c.user_name.clone().unwrap_or_else(|| c.subject.clone()),
            corp: c.corp_id.clone(),
            action: change_title(c),
            summary: c.summary.clone(),
            selection: c.selection_text.clone(),
            state: c.state.as_str(),
            state_label: c.state.label(),
            total: c.total_lines,
            changed: c.changed,
            failed: c.failed,
            unknown: c.unknown,
            made: utc_time(c.created_at),
            run_at: matches!(
                c.state,
                ChangeState::Scheduled | ChangeState::AwaitingApproval
            )
            .then_some(c.life.run_at)
            .flatten()
            .map(utc_time),
            reason: (c.state == ChangeState::AwaitingApproval)
                .then(|| c.life.request_reason.clone())
                .flatten(),
        }
    }
}

/// A filter link.
#[derive(Debug, Clone)]
pub struct FilterLink {
    pub label: String,
    pub href: String,
    pub current: bool,
}

/// `GET /changes`.
#[derive(Template, WebTemplate, Debug)]
#[template(path = "pages/changes.html")]
pub struct ChangesPage {
    pub layout: Layout,
    pub rows: Vec<ChangeRow>,
    pub states: Vec<FilterLink>,
    pub mine: FilterLink,
    pub total: u64,
    pub prev_href: Option<String>,
    pub next_href: Option<String>,
}

impl ChangesPage {
    /// The filter tabs, keeping "mine": all, running, needing attention, waiting for approval
    /// (another state, reached by its URL, is shown as a tab of its own while it is chosen).
    pub fn state_links(current: Option<&str>, mine: bool) -> Vec<FilterLink> {
        let tabs = [
            (None, "All".to_owned()),
            (Some(ChangeState::Running.as_str()), "Running".to_owned()),
            (Some(NEEDS_ATTENTION), "Needs attention".to_owned()),
            (
                Some(ChangeState::AwaitingApproval.as_str()),
                "Waiting for approval".to_owned(),
            ),
        ];
        let mut out: Vec<FilterLink> = tabs
            .iter()
            .map(|(state, label)| FilterLink {
                label: label.clone(),
                href: changes_href(*state, mine, 0),
                current: current == *state,
            })
            .collect();
        if let Some(other) = current.filter(|c| tabs.iter().all(|(s, _)| *s != Some(*c))) {
            let label = other
                .parse::<ChangeState>()
                .map_or_else(|_| other.to_owned(), |s| s.label().to_owned());
            out.push(FilterLink {
                label,
                href: changes_href(Some(other), mine, 0),
                current: true,
            });
        }
        out
    }
}

/// The `state` filter of the changes that need someone's attention: failed (in part or whole)
/// or stopped for a sign-in.
pub const NEEDS_ATTENTION: &str = "needs_attention";

/// The states [`NEEDS_ATTENTION`] stands for.
pub const ATTENTION_STATES: [ChangeState; 3] = [
    ChangeState::Failed,
    ChangeState::DoneWithFailures,
    ChangeState::NeedsSignIn,
];

// ---- one change set ----------------------------------------------------------------------------

/// The progress of a change set (polled by htmx while it runs) and, once finished, its result.
#[derive(Template, WebTemplate, Debug, Clone)]
#[template(path = "fragments/change_progress.html")]
pub struct ProgressFragment {
    pub href: String,
    pub finished: bool,
    pub state: &'static str,
    pub state_label: &'static str,
    pub total_lines: i64,
    pub done_lines: i64,
    pub percent: i64,
    pub changed: i64,
    pub problems: i64,
    /// Lines handed to Sentinel so far: those with a result and those of calls in flight.
    pub sent: i64,
    /// Lines done per second since it began to be sent ("180 lines/s"), once it can be told.
    pub rate: Option<String>,
    pub message: Option<String>,
    /// Where a change that has not run stands (waiting since, scheduled for, decided by).
    pub notice: Option<String>,
    pub run_at: Option<Moment>,
    pub result: Option<ResultFragment>,
}

/// What a change set's page says about its life before it ran, in words.
fn life_notice(c: &ChangeSet) -> Option<String> {
    let by = c.life.decided_by_name.clone().or(c.life.decided_by.clone());
    let at = c.life.decided_at.map(crate::domain::when::utc);
    match (c.state, by, at) {
        (ChangeState::AwaitingApproval, _, _) => Some(match &c.life.expires_at {
            Some(e) => format!(
                "Waiting for approval: nothing has been sent. Someone whose role allows this change must approve it by {}, or it expires.",
                crate::domain::when::utc(*e)
            ),
            None => "Waiting for approval: nothing has been sent.".into(),
        }),
        (ChangeState::Rejected, Some(by), Some(at)) => Some(format!(
            "Rejected by {by} at {at}: {}. Nothing was sent.",
            c.life.decision_reason.clone().unwrap_or_default()
        )),
        (ChangeState::Scheduled, Some(by), _) => Some(format!(
            "Approved by {by}; it runs at its time on their behalf. Nothing has been sent yet."
        )),
        (ChangeState::Scheduled, None, _) => {
            Some("Scheduled: nothing has been sent yet. It runs by itself at its time.".into())
        }
        (ChangeState::Cancelled, Some(by), Some(at)) => {
            Some(format!("Cancelled by {by} at {at}. Nothing was sent."))
        }
        (_, Some(by), Some(at)) if c.life.request_reason.is_some() || c.life.plan.is_some() => {
            Some(format!("Approved by {by} at {at}."))
        }
        _ => None,
    }
}

impl ProgressFragment {
    pub fn new(c: &ChangeSet, result: Option<ResultFragment>) -> Self {
        let total = c.total_lines.max(1);
        let finished = c.at_rest();
        Self {
            href: paths::change_poll(c.id, c.state.as_str()).into(),
            finished,
            state: c.state.as_str(),
            state_label: c.state.label(),
            total_lines: c.total_lines,
            done_lines: c.done_lines(),
            percent: (c.done_lines() * 100 / total).clamp(0, 100),
            changed: c.changed,
            problems: c.failed + c.unknown,
            sent: c.done_lines(),
            rate: None,
            message: c.message.clone(),
            notice: life_notice(c),
            run_at: c.life.run_at.map(utc_time),
            result: if finished { result } else { None },
        }
    }
}

impl ProgressFragment {
    /// A running change's lines in flight (`in_flight`: lines of calls started without an
    /// answer yet) and its pace since it began to be sent, as of `now`.
    pub fn with_pace(mut self, c: &ChangeSet, in_flight: i64, now: time::OffsetDateTime) -> Self {
        let done = c.done_lines();
        self.sent = (done + in_flight).min(c.total_lines).max(done);
        let since = c.life.started_at.unwrap_or(c.created_at);
        let secs = (now - since).as_seconds_f64();
        self.rate = (done > 0 && secs >= 1.0).then(|| {
            let r = done as f64 / secs;
            if r >= 10.0 {
                format!("{} lines/s", crate::views::format::count(r.round() as u64))
            } else {
                format!("{r:.1} lines/s")
            }
        });
        self
    }
}

/// One line as shown.
#[derive(Debug, Clone)]
pub struct LineRow {
    pub mdn: String,
    pub before: String,
    pub after: String,
    pub outcome: &'static str,
    pub message: String,
}

impl LineRow {
    pub fn new(l: &ChangeLine) -> Self {
        Self {
            mdn: l.mdn.clone(),
            before: l.before_value.clone().unwrap_or_else(|| "—".into()),
            after: l.after_value.clone().unwrap_or_else(|| "—".into()),
            outcome: l.outcome.as_str(),
            message: l.message.clone().unwrap_or_default(),
        }
    }
}

/// The per-line results, filtered by outcome and paged (polled while the change runs).
#[derive(Template, WebTemplate, Debug, Clone)]
#[template(path = "fragments/change_lines.html")]
pub struct LinesFragment {
    /// Where the fragment reloads itself from while the change runs.
    pub poll_href: Option<String>,
    pub filters: Vec<FilterLink>,
    pub rows: Vec<LineRow>,
    pub from_n: u64,
    pub to_n: u64,
    pub matching: u64,
    pub prev_href: Option<String>,
    pub next_href: Option<String>,
    pub csv_href: String,
}

impl LinesFragment {
    pub fn new(
        c: &ChangeSet,
        outcome: Option<LineState>,
        offset: u64,
        lines: &[ChangeLine],
    ) -> Self {
        let count = |o: Option<LineState>| -> u64 {
            let n = match o {
                None => c.total_lines,
                Some(LineState::Changed) => c.changed,
                Some(LineState::Failed) => c.failed,
                Some(LineState::Unknown) => c.unknown,
                Some(LineState::Pending) => c.total_lines - c.done_lines(),
            };
            u64::try_from(n).unwrap_or_default()
        };
        let filters = [
            (None, "All"),
            (Some(LineState::Changed), "Changed"),
            (Some(LineState::Failed), "Not changed"),
            (Some(LineState::Unknown), "Unknown"),
        ]
        .into_iter()
        .map(|(o, label)| FilterLink {
            label: format!("{label} ({})", count(o)),
            href: lines_href(c.id, o, 0),
            current: o == outcome,
        })
        .collect();
        let matching = count(outcome);
        let page = u64::from(LINES_PAGE);
        let shown = lines.len() as u64;
        Self {
            poll_href: (!c.at_rest()).then(|| lines_href(c.id, outcome, offset)),
            filters,
            rows: lines.iter().map(LineRow::new).collect(),
            from_n: if shown == 0 { 0 } else { offset + 1 },
            to_n: offset + shown,
            matching,
            prev_href: (offset > 0).then(|| lines_href(c.id, outcome, offset.saturating_sub(page))),
            next_href: (offset + shown < matching && shown == page)
                .then(|| lines_href(c.id, outcome, offset + page)),
            csv_href: lines_csv_href(c.id),
        }
    }
}

/// `GET /changes/{id}`.
#[derive(Template, WebTemplate, Debug)]
#[template(path = "pages/change.html")]
pub struct ChangePage {
    pub layout: Layout,
    pub id: String,
    pub action: String,
    pub summary: String,
    pub selection: String,
    pub corp: String,
    pub user: String,
    pub created: Moment,
    pub finished: Option<Moment>,
    /// When it began to be sent, if that was later than it was made (scheduled, approved).
    pub started: Option<Moment>,
    pub origin: &'static str,
    pub parent_href: Option<String>,
    pub csrf: String,
    /// The retry form and what it does ([`crate::views::redo`] decides).
    pub retry: Option<(String, RetryOffer)>,
    /// A change stopped for a sign-in: the form that sends its lines not sent.
    pub finish_href: Option<String>,
    /// The revert form and what it does.
    pub revert: Option<(String, RevertOffer)>,
    /// Why this change can never be reverted, said instead of a revert button.
    pub no_revert: Option<&'static str>,
    pub progress: ProgressFragment,
    pub lines: LinesFragment,
    /// Why it was requested.
    pub request_reason: Option<String>,
    /// The approval buttons, when the policy lets this user decide.
    pub approve_href: Option<String>,
    pub reject_href: Option<String>,
    /// Cancelling a change that waits (its owner, or someone who may approve it).
    pub cancel_href: Option<String>,
    /// "Schedule the reverse": the matching change form, at a later date.
    pub reverse_href: Option<String>,
    /// The check of its unknown lines with Sentinel, and its form.
    pub check: Option<(String, crate::views::redo::CheckOffer)>,
    /// What the check just made found, in words.
    pub checked: Option<String>,
}

impl ChangePage {
    pub fn header(c: &ChangeSet) -> (String, Moment, Option<Moment>) {
        (
            c.user_name.clone().unwrap_or_else(|| c.subject.clone()),
            utc_time(c.created_at),
            c.finished_at.map(utc_time),
        )
    }
}

/// `POST /changes/{id}/revert` before it is confirmed: what will be restored, and what not.
#[derive(Template, WebTemplate, Debug)]
#[template(path = "pages/revert_preview.html")]
pub struct RevertPreviewPage {
    pub layout: Layout,
    pub label: &'static str,
    pub corp: String,
    /// Lines to restore.
    pub count: u64,
    /// (value restored, lines) in order.
    pub values: Vec<(String, u64)>,
    /// Lines that cannot be put back, by reason.
    pub left_out: Vec<crate::actions::revert::LeftOut>,
    pub lines: Vec<crate::actions::preview::PreviewLine>,
    pub more: u64,
    pub include_unknown: bool,
    pub post_href: String,
    pub back_href: String,
    pub csrf: String,
    /// Why the user is back on the preview (a request without its reason).
    pub message: Option<String>,
    /// The confirm button's words ("Revert these lines", "Send the request", …).
    pub verb: &'static str,
    /// What happens instead of sending now (a request, a second admin).
    pub explain: Option<String>,
    /// A request asks its reason here (what was typed so far).
    pub reason: Option<String>,
}

/// `POST /changes/{id}/approve` before it is confirmed: the request, and what it changes now.
#[derive(Template, WebTemplate, Debug)]
#[template(path = "pages/approve_preview.html")]
pub struct ApprovePreviewPage {
    pub layout: Layout,
    pub label: &'static str,
    pub corp: String,
    pub summary: String,
    pub selection: String,
    pub requester: String,
    pub reason: Option<String>,
    pub run_at: Option<Moment>,
    pub count: Option<u64>,
    pub lines: Vec<crate::actions::preview::PreviewLine>,
    pub more: u64,
    pub warnings: Vec<String>,
    pub load_problem: Option<String>,
    /// The digest of the plan shown, which the confirmation carries back.
    pub plan_digest: String,
    pub post_href: String,
    pub back_href: String,
    pub csrf: String,
}

/// News of one of the user's own requests, in the header.
#[derive(Debug, Clone)]
pub struct Notice {
    pub href: String,
    pub text: String,
}

/// `GET /changes/inbox`: how many changes wait for this user's approval, and news of their requests.
#[derive(Template, WebTemplate, Debug)]
#[template(path = "fragments/inbox.html")]
pub struct InboxFragment {
    pub count: usize,
    pub waiting_href: String,
    pub notices: Vec<Notice>,
}

impl Notice {
    /// What the header says about a request of the user's that moved on, if anything.
    pub fn of(c: &ChangeSet) -> Option<Self> {
        if c.life.request_reason.is_none() && c.life.decided_by.is_none() {
            return None;
        }
        let what = format!("Your request “{}”", c.summary);
        let text = match c.state {
            ChangeState::Done => format!("{what} was approved and is done."),
            ChangeState::DoneWithFailures | ChangeState::Failed => {
                format!("{what} was approved; some lines did not change.")
            }
            ChangeState::Running => format!("{what} was approved and is running."),
            ChangeState::Scheduled => format!("{what} was approved and is scheduled."),
            ChangeState::Rejected => format!("{what} was rejected."),
            _ => return None,
        };
        Some(Self {
            href: change_href(c.id),
            text,
        })
    }
}
