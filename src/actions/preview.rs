//! The preview of a change: how many lines, the first ones with current → new values, and warnings.
//!
//! Current values come from the list (first page only); nothing is written here.

use std::collections::HashMap;

use secrecy::SecretString;

use super::error::ChangeError;
use super::form::{Change, Target};
use super::input::VALUE_CHECK;
use super::known::NamedLine;
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
    /// Ticks the confirmation needs besides the line count (a value no line has).
    pub checks: Vec<Check>,
    /// The first lines, by nickname and MDN, that the selection is named by.
    pub names: Vec<NamedLine>,
    /// Values lines have that the change replaces ("45 nicknames"): the confirmation's tick names them.
    pub replaced: Option<String>,
}

/// The first of `mdns` named from the lines read (a line not read: its MDN alone).
fn names_of(mdns: &[Mdn], loaded: &HashMap<String, Device>) -> Vec<NamedLine> {
    mdns.iter()
        .take(super::known::NAMED)
        .map(|m| NamedLine {
            mdn: m.to_string(),
            nickname: loaded
                .get(m.as_str())
                .and_then(|d| d.nickname.clone())
                .filter(|n| !n.trim().is_empty()),
        })
        .collect()
}

/// A tick the confirmation needs, with what the preview says about it. The confirmation is
/// refused without it (see [`checks`]): the same decision made again, from what was shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The confirm form's checkbox.
    pub name: &'static str,
    pub label: String,
    pub warning: String,
}

/// How many of `target`'s lines have a value that `change` replaces by another (one export of
/// the column, read to its end), with the first such line as an example. `None`: the action
/// replaces no text, or the lines could not be read.
async fn replaced(
    state: &AppState,
    user: &Principal,
    token: &SecretString,
    corp: &CorpId,
    change: &Change,
    target: &Target,
) -> Option<(u64, String, String)> {
    use futures::StreamExt;
    let def = change.action.def();
    if !def.replaces_text() || !user.can(Operation::ListDevices, corp) {
        return None;
    }
    let (p, wanted, excluded): (_, Option<std::collections::HashSet<String>>, Vec<String>) =
        match target {
            Target::Lines(m) => (
                params(0, 25, None, vec![]),
                Some(m.iter().map(ToString::to_string).collect()),
                Vec::new(),
            ),
            Target::Bulk(b) => (
                params(
                    0,
                    25,
                    b.search_value.clone(),
                    b.label_ids.clone().unwrap_or_default(),
                ),
                None,
                b.excluded_mdns
                    .iter()
                    .flatten()
                    .map(ToString::to_string)
                    .collect(),
            ),
            Target::Imeis(_) => return None,
        };
    let mut stream = state
        .upstream
        .export_devices_csv(token, corp, &p, &super::befores::columns(def))
        .await
        .ok()?;
    let mut reader = super::befores::DeviceReader::default();
    let mut devices = Vec::new();
    let mut count = 0u64;
    let mut example: Option<(String, String)> = None;
    let mut take = |devices: &mut Vec<Device>| {
        for d in devices.drain(..) {
            let mdn = super::befores::canonical(&d.mdn);
            let inside = match &wanted {
                Some(w) => w.contains(&mdn),
                None => !excluded.contains(&mdn),
            };
            if !inside {
                continue;
            }
            let before = def.before(&d);
            if !before.trim().is_empty() && before != def.after_line(&change.values, Some(&before))
            {
                count += 1;
                example.get_or_insert((mdn, before));
            }
        }
    };
    while let Some(chunk) = stream.next().await {
        reader.push(&chunk.ok()?, &mut devices).ok()?;
        take(&mut devices);
    }
    reader.finish(&mut devices);
    take(&mut devices);
    let (mdn, value) = example.unwrap_or_default();
    Some((count, mdn, value))
}

/// What `change` needs ticked before it is sent: a value (a filter group) that no line of the
/// group has, which Sentinel refuses for every line when it does not exist. Read from the
/// group's values kept a minute ([`super::known`]), so it costs a confirmation nothing.
pub async fn checks(
    state: &AppState,
    user: &Principal,
    token: &SecretString,
    corp: &CorpId,
    change: &Change,
) -> Vec<Check> {
    let mut out = Vec::new();
    for f in change.action.fields() {
        let Some(column) = f.suggest else { continue };
        let value = change.values.text(f.name).trim();
        if value.is_empty() {
            continue;
        }
        let known = super::known::values(state, user, token, corp, column).await;
        if known.is_empty() || super::known::is_known(&known, value) {
            continue;
        }
        out.push(Check {
            name: VALUE_CHECK,
            label: format!("“{value}” is right: send it anyway"),
            warning: format!(
                "No line of {corp} is in {noun} “{value}”. If it does not exist, Sentinel refuses it for every line. The {noun}s its lines use: {}.",
                known.join(", "),
                noun = f.noun
            ),
        });
    }
    out
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
    out.names = names_of(&shown, &loaded);
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
            out.names = names_of(shown, &loaded);
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
                    out.names = super::known::named_from(&devices.iter().collect::<Vec<_>>());
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
    out.checks = checks(state, user, token, corp, change).await;
    if let Some((n, mdn, value)) = replaced(state, user, token, corp, change, target).await {
        if n > 0 {
            let noun = change.action.fields().first().map_or("value", |f| f.noun);
            let values = if n == 1 {
                format!("1 {noun}")
            } else {
                format!("{n} {noun}s")
            };
            out.warnings.push(format!(
                "This replaces {values} that lines already have (for example “{value}” on {mdn}). The values before are kept in the change's record, so it can be reverted."
            ));
            out.replaced = Some(values);
        }
    }
    out
}
