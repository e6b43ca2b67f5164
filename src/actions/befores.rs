//! Lines' values before a change, read from Sentinel: a job chunk's lines just before they are
//! sent (one list page where the job's start located them, else one streamed export read until
//! they are all seen), a large list's lines all at once from one export at its job's start, and
//! the lines of an export stream as [`Device`]s, record by record.
//!
//! Sentinel has no call that reads a given set of lines, so a job locates its lines once, at its
//! start, in the group's list sorted by MDN (positions only: one MDN-column export); a chunk whose
//! lines sat within [`WINDOW_MAX`] rows then reads exactly that list page right before it is sent.
//! A line not on its page (the group changed since) is looked up in an export. A list of at least
//! [`ONE_EXPORT_FROM`] lines would read most of the group page by page: it reads the values of
//! all its lines from one export instead, when its job starts ([`read_all`]).

use std::collections::{HashMap, HashSet};

use futures::StreamExt;
use secrecy::SecretString;

use super::ActionKind;
use super::catalog::{Action, Change};
use crate::csv::records::{Field, Splitter, fields, line_end};
use crate::domain::{Column, CorpId, Mdn, SortDir, SortField};
use crate::policy::{Operation, Principal};
use crate::state::AppState;
use crate::upstream::wire::{Device, Label};
use crate::upstream::{ByteStream, ListParams, UpstreamError};

/// Most rows one list page reads for a chunk.
pub const WINDOW_MAX: u32 = 1_000;

/// Lists of at least this many lines read their values before from one export at their job's
/// start ([`read_all`]) instead of a list page per chunk: a line changed by someone else while
/// the job runs then shows the value it had when the job started.
pub const ONE_EXPORT_FROM: usize = 10_000;

/// Where a chunk's lines were in the group's list sorted by MDN when its job started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub offset: u64,
    pub limit: u32,
}

/// The same MDN whatever way Sentinel wrote it.
pub fn canonical(mdn: &str) -> String {
    Mdn::parse(mdn).map_or_else(|_| mdn.to_owned(), |m| m.to_string())
}

/// The whole group (or the list's search and labels), sorted by MDN: one page, or the export.
pub fn sorted(offset: u64, limit: u32, search: Option<String>, labels: Vec<i64>) -> ListParams {
    ListParams {
        offset,
        limit,
        sort: SortField::Mdn,
        sort_dir: SortDir::Asc,
        search_value: search,
        label_ids: labels,
    }
}

/// The export columns a change of `def` reads: the MDN, then what its before-value needs.
pub fn columns(def: &dyn Action) -> Vec<Column> {
    let mut c = vec![Column::Mdn];
    c.extend(def.before_columns().iter().filter(|c| **c != Column::Mdn));
    c
}

/// A [`Device`] from one export record, with the fields its columns give.
fn device(header: &[Option<Column>], f: &[Field]) -> Device {
    let mut d = Device::default();
    for (c, field) in header.iter().zip(f) {
        let (Some(c), Some(v)) = (c, field.value.as_deref()) else {
            continue;
        };
        let text = || (!v.is_empty()).then(|| v.to_owned());
        match c {
            Column::Mdn => d.mdn = v.to_owned(),
            Column::Status => d.status = text(),
            Column::Nickname => d.nickname = text(),
            Column::Note => d.note = text(),
            Column::FilterGroup => d.filter_group = text(),
            Column::CorpId => d.corp_id = text(),
            Column::Imei => d.imei = text(),
            Column::MdnCustomField => d.mdn_custom_field = text(),
            Column::SummerStatus => d.summer_status = text(),
            Column::MonthlyLimit => d.monthly_limit = v.parse().ok(),
            Column::DailyLimit => d.daily_limit = v.parse().ok(),
            Column::Labels => {
                d.labels = Some(
                    v.split(';')
                        .map(str::trim)
                        .filter(|n| !n.is_empty())
                        .map(|n| Label {
                            id: 0,
                            name: n.to_owned(),
                        })
                        .collect(),
                );
            }
            _ => {}
        }
    }
    d
}

/// An export stream read record by record into [`Device`]s (at most one partial record held).
#[derive(Default)]
pub struct DeviceReader {
    splitter: Splitter,
    header: Option<Vec<Option<Column>>>,
}

impl DeviceReader {
    fn take(&mut self, raw: &[u8], out: &mut Vec<Device>) {
        let (content, _) = line_end(raw);
        if content.is_empty() {
            return;
        }
        let f = fields(content);
        match &self.header {
            None => {
                self.header = Some(
                    f.iter()
                        .map(|f| f.value.as_deref().and_then(|v| Column::parse(v).ok()))
                        .collect(),
                );
            }
            Some(h) => out.push(device(h, &f)),
        }
    }

    /// Feeds a chunk of the stream; appends the lines it completes to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<Device>) -> Result<(), UpstreamError> {
        let mut recs: Vec<Vec<u8>> = Vec::new();
        self.splitter.push(chunk, |r| {
            recs.push(r.to_vec());
            Ok(())
        })?;
        for r in recs {
            self.take(&r, out);
        }
        Ok(())
    }

    /// The stream ended: its last line, when it had no line end.
    pub fn finish(&mut self, out: &mut Vec<Device>) {
        if let Some(rest) = self.splitter.finish() {
            self.take(&rest, out);
        }
    }
}

/// What each action reads of each line (its [`Action::before`] text), by canonical MDN.
pub type ValuesNow = HashMap<String, HashMap<ActionKind, String>>;

/// The values `kinds` read of the lines in `wanted` (canonical MDNs), as they are now: one export
/// of the group with every column they read, stopped once every line was seen. Lines not found
/// are left out.
pub async fn read_values(
    state: &AppState,
    token: &SecretString,
    corp: &CorpId,
    kinds: &[ActionKind],
    wanted: &HashSet<String>,
) -> Result<ValuesNow, UpstreamError> {
    let mut cols: Vec<Column> = Vec::new();
    for k in kinds {
        for c in columns(k.def()) {
            if !cols.contains(&c) {
                cols.push(c);
            }
        }
    }
    let stream = state
        .upstream
        .export_devices_csv(token, corp, &sorted(0, 25, None, vec![]), &cols)
        .await?;
    let mut out: ValuesNow = HashMap::with_capacity(wanted.len());
    read_until(stream, |devices| {
        for d in devices {
            let m = canonical(&d.mdn);
            if wanted.contains(&m) && !out.contains_key(&m) {
                let values = kinds.iter().map(|k| (*k, k.def().before(&d))).collect();
                out.insert(m, values);
            }
        }
        out.len() < wanted.len()
    })
    .await?;
    Ok(out)
}

/// Reads `stream` until `each` (given every line so far) says it has seen enough (`false`).
async fn read_until(
    mut stream: ByteStream,
    mut each: impl FnMut(Vec<Device>) -> bool,
) -> Result<(), UpstreamError> {
    let mut reader = DeviceReader::default();
    while let Some(chunk) = stream.next().await {
        let mut devices = Vec::new();
        reader.push(&chunk?, &mut devices)?;
        if !each(devices) {
            // Dropping the stream closes the connection: the rest is never produced.
            return Ok(());
        }
    }
    let mut devices = Vec::new();
    reader.finish(&mut devices);
    each(devices);
    Ok(())
}

/// Where each chunk's lines are in the group's list sorted by MDN (one MDN-column export), for
/// the chunks whose lines sit within [`WINDOW_MAX`] rows. Nothing on any failure: the chunks
/// then read an export each.
pub async fn locate(
    state: &AppState,
    token: &SecretString,
    corp: &CorpId,
    chunks: &[Vec<Mdn>],
) -> Vec<Option<Window>> {
    let mut chunk_of: HashMap<String, usize> = HashMap::new();
    for (i, c) in chunks.iter().enumerate() {
        for m in c {
            chunk_of.insert(m.to_string(), i);
        }
    }
    // A read may be tried again (unlike a write): once, so that one failed answer does not
    // turn every chunk of the job into a whole export.
    for attempt in 1..=2 {
        match locate_once(state, token, corp, chunks, &chunk_of).await {
            Ok(w) => return w,
            Err(e) if attempt == 1 => {
                tracing::debug!(error = %e, "locating the job's lines failed; trying once more");
            }
            Err(e) => {
                tracing::warn!(error = %e, "the job's lines could not be located; chunks read an export each");
            }
        }
    }
    vec![None; chunks.len()]
}

async fn locate_once(
    state: &AppState,
    token: &SecretString,
    corp: &CorpId,
    chunks: &[Vec<Mdn>],
    chunk_of: &HashMap<String, usize>,
) -> Result<Vec<Option<Window>>, UpstreamError> {
    let mut chunk_of = chunk_of.clone();
    let mut span: Vec<Option<(u64, u64)>> = vec![None; chunks.len()];
    let mut row = 0u64;
    let mut left = chunk_of.len();
    let read = async {
        let stream = state
            .upstream
            .export_devices_csv(token, corp, &sorted(0, 25, None, vec![]), &[Column::Mdn])
            .await?;
        read_until(stream, |devices| {
            for d in devices {
                if let Some(i) = chunk_of.remove(&canonical(&d.mdn)) {
                    left -= 1;
                    let s = span[i].get_or_insert((row, row));
                    s.0 = s.0.min(row);
                    s.1 = s.1.max(row);
                }
                row += 1;
            }
            left > 0
        })
        .await
    };
    read.await?;
    Ok(span
        .into_iter()
        .map(|s| {
            let (lo, hi) = s?;
            let limit = u32::try_from(hi - lo + 1)
                .ok()
                .filter(|n| *n <= WINDOW_MAX)?;
            Some(Window { offset: lo, limit })
        })
        .collect())
}

/// The current value of each line of `chunks` (line numbers from `firsts`), by line number,
/// from ONE export of the group read until every line is seen: what a large list reads at its
/// job's start instead of a list page per chunk. Lines Sentinel does not list are left out.
/// A read may be tried again (unlike a write): twice; `None` when it cannot be read (then the
/// chunks read their own).
pub async fn read_all(
    state: &AppState,
    token: &SecretString,
    corp: &CorpId,
    def: &dyn Action,
    chunks: &[(usize, Vec<Mdn>)],
    firsts: &[i32],
) -> Option<HashMap<i32, String>> {
    for attempt in 1..=2 {
        match read_all_once(state, token, corp, def, chunks, firsts).await {
            Ok(all) => return Some(all),
            Err(e) => {
                tracing::warn!(attempt, error = %e, "the list's values before could not be read from one export")
            }
        }
    }
    None
}

async fn read_all_once(
    state: &AppState,
    token: &SecretString,
    corp: &CorpId,
    def: &dyn Action,
    chunks: &[(usize, Vec<Mdn>)],
    firsts: &[i32],
) -> Result<HashMap<i32, String>, UpstreamError> {
    let mut wanted: HashMap<String, i32> = HashMap::new();
    for (i, mdns) in chunks {
        let first = firsts.get(*i).copied().unwrap_or_default();
        for (k, m) in mdns.iter().enumerate() {
            let seq = first.saturating_add(i32::try_from(k).unwrap_or(i32::MAX));
            wanted.insert(m.to_string(), seq);
        }
    }
    let mut found = HashMap::with_capacity(wanted.len());
    let stream = state
        .upstream
        .export_devices_csv(token, corp, &sorted(0, 25, None, vec![]), &columns(def))
        .await?;
    read_until(stream, |devices| {
        for d in devices {
            if let Some(seq) = wanted.remove(&canonical(&d.mdn)) {
                found.insert(seq, def.before(&d));
            }
        }
        !wanted.is_empty()
    })
    .await?;
    Ok(found)
}

/// The current value of each of `mdns` (line numbers from `first`), `(seq, value)`: from its
/// list page when located, from an export (read until every line is seen) otherwise. Lines
/// Sentinel does not list are left out.
#[allow(clippy::too_many_arguments)]
pub async fn read_chunk(
    state: &AppState,
    token: &SecretString,
    user: &Principal,
    corp: &CorpId,
    def: &dyn Action,
    mdns: &[Mdn],
    first: i32,
    window: Option<Window>,
) -> Result<Vec<(i32, String)>, UpstreamError> {
    if !user.can(Operation::ListDevices, corp) {
        return Ok(Vec::new());
    }
    let mut wanted: HashMap<String, i32> = mdns
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let seq = first.saturating_add(i32::try_from(i).unwrap_or(i32::MAX));
            (m.to_string(), seq)
        })
        .collect();
    let mut found = Vec::with_capacity(mdns.len());
    let mut take = |devices: &[Device], wanted: &mut HashMap<String, i32>| {
        for d in devices {
            if let Some(seq) = wanted.remove(&canonical(&d.mdn)) {
                found.push((seq, def.before(d)));
            }
        }
    };
    if let Some(w) = window {
        let p = sorted(w.offset, w.limit, None, vec![]);
        // A read: tried once more on a failed answer.
        let list = match state.upstream.list_devices(token, corp, &p).await {
            Ok(l) => l,
            Err(_) => state.upstream.list_devices(token, corp, &p).await?,
        };
        take(&list.devices, &mut wanted);
    }
    if !wanted.is_empty() {
        let stream = state
            .upstream
            .export_devices_csv(token, corp, &sorted(0, 25, None, vec![]), &columns(def))
            .await?;
        read_until(stream, |devices| {
            take(&devices, &mut wanted);
            !wanted.is_empty()
        })
        .await?;
    }
    Ok(found)
}

/// Lines grouped by the change each needs, and the lines that cannot be sent (with why).
pub type Split<M> = (Vec<(Change, Vec<M>)>, Vec<(M, String)>);

/// `lines` (each with its value now, when it was read) grouped by the change each is sent (see
/// [`super::catalog::Action::per_line`]): one group per distinct change, in first-seen order;
/// the lines that cannot be sent, with why.
pub fn split_by_line<M: Clone>(
    change: &Change,
    lines: impl IntoIterator<Item = (M, Option<String>)>,
) -> Split<M> {
    let mut groups: Vec<(Change, Vec<M>)> = Vec::new();
    let mut refused = Vec::new();
    for (m, before) in lines {
        let sent = match before {
            Some(b) => change.for_line(&b),
            None => Err(change.action.def().unread_reason()),
        };
        match sent {
            Ok(c) => match groups.iter_mut().find(|(g, _)| *g == c) {
                Some((_, ms)) => ms.push(m),
                None => groups.push((c, vec![m])),
            },
            Err(why) => refused.push((m, why)),
        }
    }
    (groups, refused)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_records_become_devices_in_any_chunking() {
        let csv = b"MDN,NICKNAME,MONTHLY_LIMIT,LABELS,UNKNOWN\r\n521-267-1508,\"Bus, 47\",10240.00,Staff;Bus,x\r\n304-228-6302,,,,\r\n";
        for at in 0..csv.len() {
            let mut r = DeviceReader::default();
            let mut out = Vec::new();
            r.push(&csv[..at], &mut out).unwrap();
            r.push(&csv[at..], &mut out).unwrap();
            r.finish(&mut out);
            assert_eq!(out.len(), 2, "split at {at}");
            assert_eq!(out[0].mdn, "521-267-1508");
            assert_eq!(out[0].nickname.as_deref(), Some("Bus, 47"));
            assert_eq!(out[0].monthly_limit, Some(10240.0));
            let labels: Vec<&str> = out[0]
                .labels
                .iter()
                .flatten()
                .map(|l| l.name.as_str())
                .collect();
            assert_eq!(labels, ["Staff", "Bus"]);
            assert_eq!(out[1].nickname, None);
            assert_eq!(out[1].monthly_limit, None);
        }
    }
}
