//! The preview of a change: how many lines, the first ones with current → new values, and warnings.
//!
//! Current values come from the list (first page only); nothing is written here.

use std::collections::HashMap;

use secrecy::SecretString;

use super::error::ChangeError;
use super::form::{Change, Target};
use super::{ActionKind, PREVIEW_LINES};
use crate::domain::{CorpId, Mdn};
use crate::policy::{Operation, Principal};
use crate::state::AppState;
use crate::upstream::wire::Device;

/// One line of the preview.
#[derive(Debug, Clone)]
pub struct PreviewLine {
    pub mdn: String,
    pub current: String,
    pub new: String,
    /// What the upstream will refuse for this line (e.g. not on ARCNT for an IMEI change).
    pub warning: Option<String>,
    /// Which of several changes of the line this row is (an import's column), when there are.
    pub what: Option<&'static str>,
}

/// Do the rows name which change of their line each is (see [`PreviewLine::what`])?
pub fn by_change(lines: &[PreviewLine]) -> bool {
    lines.iter().any(|l| l.what.is_some())
}

/// What the preview shows.
#[derive(Debug, Clone, Default)]
pub struct Preview {
    /// Lines the change will touch; `None` when it could not be counted.
    pub count: Option<u64>,
    pub lines: Vec<PreviewLine>,
    /// Lines beyond the ones listed.
    pub more: u64,
    pub warnings: Vec<String>,
    /// Why current values are missing, when they are.
    pub load_problem: Option<String>,
}

/// Pages of the list read to find the current values of an explicit list.
const MAX_PAGES: u64 = 4;
const PAGE: u32 = 500;

use super::befores::sorted as params;

/// Current values of some lines of an explicit list (at most a few list pages).
pub async fn load_lines(
    state: &AppState,
    token: &SecretString,
    corp: &CorpId,
    wanted: &[Mdn],
) -> Result<HashMap<String, Device>, ChangeError> {
    let mut found = HashMap::new();
    if wanted.len() == 1 {
        // One line: its MDN is a search.
        let p = params(0, 25, Some(wanted[0].to_string()), vec![]);
        let page = state.upstream.list_devices(token, corp, &p).await?;
        for d in page.devices {
            found.insert(d.mdn.clone(), d);
        }
        return Ok(found);
    }
    for n in 0..MAX_PAGES {
        let page = state
            .upstream
            .list_devices(
                token,
                corp,
                &params(n * u64::from(PAGE), PAGE, None, vec![]),
            )
            .await?;
        let last = page.devices.len() < PAGE as usize;
        for d in page.devices {
            if let Ok(m) = Mdn::parse(&d.mdn) {
                if wanted.contains(&m) {
                    found.insert(m.to_string(), d);
                }
            }
        }
        if last || found.len() == wanted.len() {
            break;
        }
    }
    Ok(found)
}

fn line(
    change: &Change,
    rule_network: Option<&str>,
    mdn: String,
    d: Option<&Device>,
) -> PreviewLine {
    let (current, new) = change.before_after(d);
    let warning = rule_network.and_then(|need| match d.and_then(|d| d.network.as_deref()) {
        Some(net) if net.eq_ignore_ascii_case(need) => None,
        Some(net) => Some(format!(
            "Network is {net}, not {need}: Sentinel will refuse this line."
        )),
        None => Some(format!(
            "Network unknown: Sentinel changes only {need} lines."
        )),
    });
    PreviewLine {
        mdn,
        current,
        new,
        warning,
        what: None,
    }
}

/// The preview of lines that each get several changes (an import: one group of lines per
/// column and value): one row per line and change, read from one load of the lines shown.
pub async fn build_groups(
    state: &AppState,
    token: &SecretString,
    corp: &CorpId,
    groups: &[(Change, Vec<Mdn>)],
) -> Preview {
    let mut out = Preview::default();
    // Each line's changes, lines in the order they first appear.
    let mut order: Vec<&Mdn> = Vec::new();
    let mut of_line: HashMap<&Mdn, Vec<&Change>> = HashMap::new();
    for (change, mdns) in groups {
        for m in mdns {
            let changes = of_line.entry(m).or_default();
            if changes.is_empty() {
                order.push(m);
            }
            changes.push(change);
        }
    }
    let mut shown: Vec<Mdn> = Vec::new();
    let mut rows = 0;
    for m in &order {
        if rows >= PREVIEW_LINES {
            break;
        }
        rows += of_line.get(m).map_or(0, Vec::len);
        shown.push((*m).clone());
    }
    let loaded = match load_lines(state, token, corp, &shown).await {
        Ok(found) => found,
        Err(e) => {
            out.load_problem = Some(format!(
                "Current values could not be loaded: {}",
                e.user_message()
            ));
            HashMap::new()
        }
    };
    for m in &shown {
        for change in of_line.get(m).into_iter().flatten() {
            let network = change.action.operation().rule().network;
            let mut row = line(change, network, m.to_string(), loaded.get(m.as_str()));
            row.what = Some(change.action.label());
            out.lines.push(row);
        }
    }
    out.count = Some(order.len() as u64);
    out.more = order.len().saturating_sub(shown.len()) as u64;
    let refused = out.lines.iter().filter(|l| l.warning.is_some()).count();
    if refused > 0 {
        out.warnings.push(format!(
            "{refused} of the changes shown will be refused by Sentinel (see the warnings per line)."
        ));
    }
    out
}

/// Builds the preview of `change` on `target`.
pub async fn build(
    state: &AppState,
    user: &Principal,
    token: &SecretString,
    corp: &CorpId,
    kind: ActionKind,
    target: &Target,
    change: &Change,
) -> Preview {
    let network = kind.operation().rule().network;
    let mut out = Preview::default();
    match target {
        Target::Lines(mdns) => {
            let shown = &mdns[..mdns.len().min(PREVIEW_LINES)];
            let loaded = match load_lines(state, token, corp, shown).await {
                Ok(m) => m,
                Err(e) => {
                    out.load_problem = Some(format!(
                        "Current values could not be loaded: {}",
                        e.user_message()
                    ));
                    HashMap::new()
                }
            };
            out.count = Some(mdns.len() as u64);
            out.lines = shown
                .iter()
                .map(|m| line(change, network, m.to_string(), loaded.get(m.as_str())))
                .collect();
            out.more = (mdns.len() - shown.len()) as u64;
        }
        Target::Imeis(imeis) => {
            out.count = Some(imeis.len() as u64);
            out.lines = imeis
                .iter()
                .take(PREVIEW_LINES)
                .map(|i| PreviewLine {
                    mdn: format!("IMEI {i}"),
                    current: "—".into(),
                    new: change.summary(),
                    warning: None,
                    what: None,
                })
                .collect();
            out.more = imeis.len().saturating_sub(PREVIEW_LINES) as u64;
        }
        Target::Bulk(b) => {
            let excluded = b.excluded_mdns.clone().unwrap_or_default();
            // The upstream's own selection when the role may use it; else the plain list with the same filter.
            let page = if user.can(Operation::CustomizedList, corp) {
                state
                    .upstream
                    .customized_list(
                        token,
                        corp,
                        &params(0, PREVIEW_LINES as u32, None, vec![]),
                        b,
                    )
                    .await
                    .map(|p| (p.total_count, p.devices))
            } else {
                let p = params(
                    0,
                    (PREVIEW_LINES + excluded.len().min(PREVIEW_LINES)) as u32,
                    b.search_value.clone(),
                    b.label_ids.clone().unwrap_or_default(),
                );
                state.upstream.list_devices(token, corp, &p).await.map(|p| {
                    let devices: Vec<Device> = p
                        .devices
                        .into_iter()
                        .filter(|d| Mdn::parse(&d.mdn).map_or(true, |m| !excluded.contains(&m)))
                        .collect();
                    (p.total_count.saturating_sub(excluded.len() as u64), devices)
                })
            };
            match page {
                Ok((total, devices)) => {
                    out.count = Some(total);
                    out.lines = devices
                        .iter()
                        .take(PREVIEW_LINES)
                        .map(|d| line(change, network, d.mdn.clone(), Some(d)))
                        .collect();
                    out.more = total.saturating_sub(out.lines.len() as u64);
                }
                Err(e) => {
                    out.load_problem = Some(format!(
                        "The matching lines could not be counted: {}",
                        e.described().message
                    ));
                }
            }
        }
    }
    let refused = out.lines.iter().filter(|l| l.warning.is_some()).count();
    if refused > 0 {
        out.warnings.push(format!(
            "{refused} of the lines shown will be refused by Sentinel (see the warnings per line)."
        ));
    }
    if let Some(w) = kind.def().preview_warning() {
        out.warnings.push(w.into());
    }
    out
}
