//! The upload compared with the lines' values now, read from one streamed export of the group:
//! unchanged cells skipped, every changed value parsed by its action's own form, rows refused
//! with their reason, and the changes grouped by column and value (one upstream call per group).

use std::collections::HashMap;

use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::parse::{Header, Upload, Wanted, key_mdn, mdn_key};
use super::{DIFF_SHOWN, REFUSED_SHOWN, Refused, Why, action_of, field_of, is_limit};
use crate::actions::CHUNK_SIZE;
use crate::actions::catalog::field::ParseCtx;
use crate::actions::catalog::limit_text;
use crate::actions::error::ChangeError;
use crate::actions::form::{Change, RawForm};
use crate::csv::records::{Splitter, fields, line_end};
use crate::domain::{Column, CorpId, Mdn, SortDir, SortField};
use crate::identity::caller::Caller;
use crate::policy::{Operation, Principal};
use crate::state::AppState;
use crate::upstream::vocabulary::Statuses;
use crate::upstream::with_idle_timeout;
use crate::upstream::{ListParams, UpstreamError};

/// One upstream change and the lines it is sent for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanGroup {
    pub change: Change,
    pub mdns: Vec<Mdn>,
}

/// What confirming the import sends: kept server-side between preview and confirmation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub groups: Vec<PlanGroup>,
}

impl Plan {
    /// Lines changed, counting a line once per group it is in.
    pub fn lines(&self) -> usize {
        self.groups.iter().map(|g| g.mdns.len()).sum()
    }

    /// Upstream calls: a group is cut into chunks of [`CHUNK_SIZE`] lines.
    pub fn calls(&self) -> usize {
        self.groups
            .iter()
            .map(|g| g.mdns.len().div_ceil(CHUNK_SIZE))
            .sum()
    }
}

/// One changed cell, as the preview lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffLine {
    pub row: u32,
    pub mdn: String,
    pub column: Column,
    pub before: String,
    pub after: String,
}

/// The import's preview: what will change, what will not, and why.
#[derive(Debug, Clone, Default)]
pub struct Preview {
    pub rows: u64,
    pub columns: Vec<Column>,
    pub ignored: Vec<String>,
    /// Changed lines per column.
    pub counts: Vec<(Column, u64)>,
    /// Lines with at least one change, rows with none.
    pub lines_changed: u64,
    pub unchanged: u64,
    pub cells_changed: u64,
    /// The first [`DIFF_SHOWN`] changed cells, in the upstream's order.
    pub shown: Vec<DiffLine>,
    /// The first [`REFUSED_SHOWN`] refused rows by row number, and how many there are.
    pub refused: Vec<Refused>,
    pub refused_total: u64,
    pub refused_by: Vec<(Why, u64)>,
    pub plan: Plan,
}

/// A limit cell: MB, no limit (empty), or text that is not a limit (kept for the form's message).
#[derive(Debug, Clone, PartialEq)]
enum LimitCell {
    Mb(Option<f64>),
    Bad(String),
}

impl LimitCell {
    fn parse(raw: &str, decimal_comma: bool) -> Self {
        let t = raw.trim();
        // A semicolon file from a spreadsheet in a comma-decimal locale writes 10240,5.
        let normal;
        let t = if decimal_comma && t.matches(',').count() == 1 && !t.contains('.') {
            normal = t.replace(',', ".");
            normal.as_str()
        } else {
            t
        };
        // The console's own spelling ("10 GB", "500 MB", "No limit") or the export's MB.
        match crate::domain::data_limit::parse(t) {
            Ok(v) => LimitCell::Mb(v),
            Err(_) => LimitCell::Bad(raw.trim().to_owned()),
        }
    }

    fn same(&self, other: Option<f64>) -> bool {
        match (self, other) {
            (LimitCell::Mb(None), None) => true,
            // The export writes two decimals: compare to the hundredth.
            (LimitCell::Mb(Some(a)), Some(b)) => (a - b).abs() < 0.005,
            _ => false,
        }
    }

    fn text(&self) -> String {
        match self {
            LimitCell::Mb(v) => limit_text(*v),
            LimitCell::Bad(s) => s.clone(),
        }
    }

    fn pairs(&self, name: &str, out: &mut Vec<(String, String)>) {
        match self {
            LimitCell::Mb(None) => out.push((format!("{name}None"), "true".into())),
            LimitCell::Mb(Some(v)) => out.push((name.into(), v.to_string())),
            LimitCell::Bad(s) => out.push((name.into(), s.clone())),
        }
    }
}

/// The text as compared: line ends as one.
fn same_text(a: &str, b: &str) -> bool {
    a == b || a.replace("\r\n", "\n") == b.replace("\r\n", "\n")
}

/// Compares the upload with the upstream's export, record by record.
pub struct Differ<'a> {
    corp: &'a CorpId,
    header: Header,
    wanted: HashMap<u64, Wanted>,
    conflicts: HashMap<u64, Vec<u32>>,
    decimal_comma: bool,
    /// Why the user may not change each column (`None`: allowed), in header order.
    refusals: Vec<Option<String>>,
    /// Sentinel's statuses, when they could be read (then a status must be one of them).
    statuses: Option<Statuses>,
    /// The export's cell index of MDN, of each header column, and of both limits.
    at_mdn: Option<usize>,
    at: Vec<Option<usize>>,
    at_limits: [Option<usize>; 2],
    /// Changes parsed once per (column, value): the group they join, or the form's message.
    parsed: HashMap<(Column, String), Result<usize, String>>,
    out: Preview,
}

/// The export columns to read: MDN, the file's columns, and both limits when one is changed
/// (Sentinel sets both in one call, so the other is sent as it is).
pub fn upstream_columns(header: &Header) -> Vec<Column> {
    let mut cols = vec![Column::Mdn];
    for (_, c) in &header.columns {
        if is_limit(*c) {
            for l in [Column::MonthlyLimit, Column::DailyLimit] {
                if !cols.contains(&l) {
                    cols.push(l);
                }
            }
        } else if !cols.contains(c) {
            cols.push(*c);
        }
    }
    cols
}

impl<'a> Differ<'a> {
    pub fn new(
        user: &'a Principal,
        corp: &'a CorpId,
        upload: Upload,
        statuses: Option<Statuses>,
    ) -> Result<Self, ChangeError> {
        let header = upload
            .header()
            .map_err(|e| ChangeError::Invalid(e.0))?
            .clone();
        let refusals = header
            .columns
            .iter()
            .map(|(_, c)| user.check_import_column(*c, corp).err().map(|r| r.0))
            .collect();
        let out = Preview {
            rows: upload.rows,
            columns: header.columns.iter().map(|(_, c)| *c).collect(),
            ignored: header.ignored.clone(),
            refused: upload.refused,
            counts: header.columns.iter().map(|(_, c)| (*c, 0)).collect(),
            ..Preview::default()
        };
        Ok(Self {
            corp,
            at: vec![None; header.columns.len()],
            header,
            wanted: upload.wanted,
            conflicts: upload.conflicts,
            decimal_comma: upload.delimiter == b';',
            refusals,
            statuses,
            at_mdn: None,
            at_limits: [None, None],
            parsed: HashMap::new(),
            out,
        })
    }

    /// One raw record of the export (the first is its header row).
    pub fn record(&mut self, raw: &[u8]) -> Result<(), UpstreamError> {
        let (content, _) = line_end(raw);
        if content.is_empty() {
            return Ok(());
        }
        let cells: Vec<String> = fields(content)
            .into_iter()
            .map(|f| f.value.unwrap_or_default())
            .collect();
        if self.at_mdn.is_none() {
            let find = |c: Column| cells.iter().position(|n| n.trim() == c.as_str());
            self.at_mdn = Some(find(Column::Mdn).ok_or_else(|| {
                UpstreamError::BadBody("the CSV export has no MDN column".into())
            })?);
            self.at = self.header.columns.iter().map(|(_, c)| find(*c)).collect();
            self.at_limits = [find(Column::MonthlyLimit), find(Column::DailyLimit)];
            return Ok(());
        }
        let cell = |i: Option<usize>| i.and_then(|i| cells.get(i)).map_or("", |s| s.trim());
        let Ok(mdn) = Mdn::parse(cell(self.at_mdn)) else {
            return Ok(());
        };
        let key = mdn_key(&mdn);
        if self.conflicts.contains_key(&key) {
            self.wanted.remove(&key);
            return Ok(());
        }
        let Some(w) = self.wanted.remove(&key) else {
            return Ok(());
        };
        let now: Vec<&str> = self.at.iter().map(|i| cell(*i)).collect();
        let limits = self.at_limits.map(|i| LimitCell::parse(cell(i), false));
        self.line(mdn, &w, &now, &limits);
        Ok(())
    }

    /// One line of the file against its values now.
    fn line(&mut self, mdn: Mdn, w: &Wanted, now: &[&str], limits: &[LimitCell; 2]) {
        let mut changes: Vec<(Column, String, String, (Column, String))> = Vec::new();
        let mut problems: Vec<(Why, String)> = Vec::new();
        // The limits the line will have: the file's where it has the column, else as they are.
        let mut new_limits = limits.clone();
        let mut limit_changed = false;
        for i in 0..self.header.columns.len() {
            let col = &self.header.columns[i].1;
            let new = w.cell(i);
            let cur = now.get(i).copied().unwrap_or_default();
            let (before, after, value) = match col {
                Column::MonthlyLimit | Column::DailyLimit => {
                    let k = usize::from(*col == Column::DailyLimit);
                    let cell = LimitCell::parse(new, self.decimal_comma);
                    let current = match &limits[k] {
                        LimitCell::Mb(v) => *v,
                        LimitCell::Bad(_) => None,
                    };
                    if cell.same(current) {
                        continue;
                    }
                    let shown = (limits[k].text(), cell.text());
                    new_limits[k] = cell;
                    limit_changed = true;
                    (shown.0, shown.1, None)
                }
                Column::Status => {
                    if new.eq_ignore_ascii_case(cur) {
                        continue;
                    }
                    // The status operation's own spelling (`active` in a file is sent `ACTIVE`).
                    let value = match self.statuses.as_ref().map(|list| list.map(new)) {
                        Some(Ok(s)) => s.to_owned(),
                        Some(Err(why)) => {
                            problems.push((Why::BadValue, format!("STATUS: {why}")));
                            continue;
                        }
                        None => new.to_owned(),
                    };
                    (cur.to_owned(), value.clone(), Some(value))
                }
                _ => {
                    if same_text(new, cur) {
                        continue;
                    }
                    (cur.to_owned(), new.to_owned(), Some(new.to_owned()))
                }
            };
            if let Some(Some(why)) = self.refusals.get(i) {
                problems.push((Why::NotAllowed, format!("{col}: {why}")));
                continue;
            }
            if let Some(v) = value {
                changes.push((*col, before, after, (*col, v)));
            } else {
                // A limit: the group is the pair, known once every column is read.
                changes.push((*col, before, after, (Column::MonthlyLimit, String::new())));
            }
        }
        if limit_changed {
            let key = format!("{:?}/{:?}", new_limits[0], new_limits[1]);
            for c in changes.iter_mut().filter(|c| is_limit(c.0)) {
                c.3 = (Column::MonthlyLimit, key.clone());
            }
        }
        let mut groups = Vec::with_capacity(changes.len());
        for (col, _, _, key) in &changes {
            let idx = match self.parsed.get(key) {
                Some(r) => r.clone(),
                None => {
                    let r = self.parse_change(*col, &key.1, &new_limits);
                    self.parsed.insert(key.clone(), r.clone());
                    r
                }
            };
            match idx {
                Ok(g) => groups.push(g),
                Err(msg) => problems.push((Why::BadValue, msg)),
            }
        }
        if let Some((why, _)) = problems.first() {
            let message = problems
                .iter()
                .map(|(_, m)| m.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            self.out.refused.push(Refused {
                row: w.row,
                mdn: Some(mdn.to_string()),
                why: *why,
                message,
            });
            return;
        }
        if changes.is_empty() {
            self.out.unchanged += 1;
            return;
        }
        self.out.lines_changed += 1;
        groups.sort_unstable();
        groups.dedup();
        for g in groups {
            if let Some(group) = self.out.plan.groups.get_mut(g) {
                group.mdns.push(mdn.clone());
            }
        }
        for (col, before, after, _) in changes {
            self.out.cells_changed += 1;
            if let Some((_, n)) = self.out.counts.iter_mut().find(|(c, _)| *c == col) {
                *n += 1;
            }
            if self.out.shown.len() < DIFF_SHOWN {
                self.out.shown.push(DiffLine {
                    row: w.row,
                    mdn: mdn.to_string(),
                    column: col,
                    before,
                    after,
                });
            }
        }
    }

    /// The change for one (column, value) as the action's form parses it: a new (empty) group,
    /// or the form's message.
    fn parse_change(
        &mut self,
        col: Column,
        value: &str,
        limits: &[LimitCell; 2],
    ) -> Result<usize, String> {
        let action = action_of(col).ok_or_else(|| format!("{col} cannot be imported."))?;
        let mut pairs = Vec::new();
        if is_limit(col) {
            limits[0].pairs(field_of(Column::MonthlyLimit), &mut pairs);
            limits[1].pairs(field_of(Column::DailyLimit), &mut pairs);
        } else {
            pairs.push((field_of(col).to_owned(), value.to_owned()));
        }
        let ctx = ParseCtx {
            corp: self.corp,
            secret: None,
        };
        let change = Change::parse(action, &RawForm::from_pairs(pairs), &ctx).map_err(|e| {
            let why: Vec<String> = e.0.into_iter().map(|(_, m)| m).collect();
            let name = if is_limit(col) {
                "MONTHLY_LIMIT/DAILY_LIMIT".to_owned()
            } else {
                col.to_string()
            };
            format!("{name}: {}", why.join(" "))
        })?;
        self.out.plan.groups.push(PlanGroup {
            change,
            mdns: Vec::new(),
        });
        Ok(self.out.plan.groups.len() - 1)
    }

    /// The export ended: rows whose MDN it did not have, duplicates, and the counts.
    pub fn finish(mut self) -> Preview {
        for (key, w) in self.wanted.drain() {
            self.out.refused.push(Refused {
                row: w.row,
                mdn: key_mdn(key).map(|m| m.to_string()),
                why: Why::UnknownMdn,
                message: format!("No line of device group {} has this MDN.", self.corp),
            });
        }
        for (key, rows) in self.conflicts.drain() {
            let list: Vec<String> = rows.iter().map(u32::to_string).collect();
            for row in &rows {
                self.out.refused.push(Refused {
                    row: *row,
                    mdn: key_mdn(key).map(|m| m.to_string()),
                    why: Why::Duplicate,
                    message: format!(
                        "This MDN is in rows {} with different values; keep one row per line.",
                        list.join(", ")
                    ),
                });
            }
        }
        let out = &mut self.out;
        out.refused_total = out.refused.len() as u64;
        let mut by: HashMap<Why, u64> = HashMap::new();
        for r in &out.refused {
            *by.entry(r.why).or_default() += 1;
        }
        out.refused_by = by.into_iter().collect();
        out.refused_by.sort();
        out.refused.sort_by_key(|r| r.row);
        out.refused.truncate(REFUSED_SHOWN);
        out.plan.groups.retain(|g| !g.mdns.is_empty());
        self.out
    }
}

/// The preview of an upload: Sentinel's statuses (when the file has STATUS), then one streamed
/// export of the group with the columns the file changes, compared as it arrives.
pub async fn preview(
    state: &AppState,
    user: &Caller,
    corp: &CorpId,
    upload: Upload,
) -> Result<Preview, ChangeError> {
    let header = upload
        .header()
        .map_err(|e| ChangeError::Invalid(e.0))?
        .clone();
    let p = &user.principal;
    p.check(Operation::ListDevices, corp)?;
    let has_status = header.columns.iter().any(|(_, c)| *c == Column::Status);
    let statuses = if has_status && p.can(Operation::GetPossibleStatuses, corp) {
        Some(state.upstream.statuses(&user.token, corp).await?)
    } else {
        None
    };
    let params = ListParams {
        offset: 0,
        limit: 1000,
        sort: SortField::Mdn,
        sort_dir: SortDir::Asc,
        search_value: None,
        label_ids: vec![],
    };
    let stream = state
        .upstream
        .export_devices_csv(&user.token, corp, &params, &upstream_columns(&header))
        .await?;
    let mut stream = with_idle_timeout(stream, state.config.upstream_timeout);
    let mut differ = Differ::new(p, corp, upload, statuses)?;
    let mut splitter = Splitter::default();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        splitter.push(&chunk, |rec| differ.record(rec))?;
    }
    if let Some(rest) = splitter.finish() {
        differ.record(&rest)?;
    }
    Ok(differ.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_cells_read_the_export_and_spreadsheet_spellings() {
        assert_eq!(
            LimitCell::parse("10240.00", false),
            LimitCell::Mb(Some(10240.0))
        );
        assert_eq!(
            LimitCell::parse(" 10240 MB", false),
            LimitCell::Mb(Some(10240.0))
        );
        assert_eq!(LimitCell::parse("", false), LimitCell::Mb(None));
        assert_eq!(LimitCell::parse("No limit", false), LimitCell::Mb(None));
        assert_eq!(
            LimitCell::parse("10 GB", false),
            LimitCell::Mb(Some(10240.0))
        );
        assert_eq!(
            LimitCell::parse("2048,5", true),
            LimitCell::Mb(Some(2048.5))
        );
        assert_eq!(
            LimitCell::parse("2048,5", false),
            LimitCell::Bad("2048,5".into())
        );
        assert_eq!(
            LimitCell::parse("lots", true),
            LimitCell::Bad("lots".into())
        );
        assert!(LimitCell::parse("10240", false).same(Some(10240.001)));
        assert!(!LimitCell::parse("10240", false).same(None));
        assert!(LimitCell::parse("", false).same(None));
    }

    #[test]
    fn one_limit_column_reads_both_from_the_export() {
        let header = Header {
            mdn: 0,
            corp: None,
            columns: vec![(1, Column::Note), (2, Column::DailyLimit)],
            ignored: vec![],
            width: 3,
        };
        assert_eq!(
            upstream_columns(&header),
            [
                Column::Mdn,
                Column::Note,
                Column::MonthlyLimit,
                Column::DailyLimit
            ]
        );
    }

    #[test]
    fn plan_counts_calls_per_chunk() {
        let corp = CorpId::parse("G").unwrap();
        let form = RawForm::from_pairs(vec![("note".into(), "x".into())]);
        let kind = crate::actions::ActionKind::from_slug("note").unwrap();
        let change = Change::parse(
            kind,
            &form,
            &ParseCtx {
                corp: &corp,
                secret: None,
            },
        )
        .unwrap();
        let mdns: Vec<Mdn> = (0..CHUNK_SIZE + 1)
            .map(|i| Mdn::parse(&format!("521{i:07}")).unwrap())
            .collect();
        let plan = Plan {
            groups: vec![PlanGroup { change, mdns }],
        };
        assert_eq!((plan.lines(), plan.calls()), (CHUNK_SIZE + 1, 2));
        let back: Plan = serde_json::from_str(&serde_json::to_string(&plan).unwrap()).unwrap();
        assert_eq!(back, plan);
    }
}
