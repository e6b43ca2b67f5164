//! The device group overview (issue 13): one streamed CSV export aggregated as it arrives.
//!
//! Memory is bounded by what the page shows: counts per category, a histogram, the top 20,
//! and one compact table of lines ([`LineRec`], 24 bytes each, at most [`MAX_LINES_KEPT`]) from
//! which every figure's selection and CSV are read. No row of the export is kept as text.
//!
//! Columns (all real `list_devices` export columns): usage over the last 30 days is
//! `LAST_30_DAYS_USED`, usage this month `MONTHLY_AMOUNT_USED`, the monthly limit
//! `MONTHLY_LIMIT` (all in MB). The export has no "device type" column: the nearest real one,
//! `DEVICE_NAME` (the model, e.g. "Kajeet SmartSpot 6"), stands for it.

pub mod cache;
mod figure;

pub use figure::*;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use csv_core::{ReadRecordResult, Reader};

use crate::domain::Column;
use crate::upstream::UpstreamError;

/// The export columns the overview asks for.
pub const EXPORT_COLUMNS: [Column; 9] = [
    Column::Mdn,
    Column::Status,
    Column::FilterGroup,
    Column::Network,
    Column::DeviceName,
    Column::Last30DaysUsed,
    Column::MonthlyAmountUsed,
    Column::MonthlyLimit,
    Column::Nickname,
];

/// Lines kept for selections and CSVs (24 bytes each: 6 MB). Counts stay exact beyond it.
pub const MAX_LINES_KEPT: usize = 250_000;
/// A CSV record longer than this is not an export we can read.
const MAX_RECORD_BYTES: usize = 1 << 20;

/// A top-20 line: its record and nickname.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopLine {
    pub rec: LineRec,
    pub nickname: String,
}

/// Heap order: more used this month first; among equals, the lower MDN.
#[derive(Debug, PartialEq, Eq)]
struct TopKey(u32, Reverse<u64>, TopLine);

impl Ord for TopKey {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.0, self.1).cmp(&(o.0, o.1))
    }
}
impl PartialOrd for TopKey {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

/// The computed overview of one device group.
#[derive(Debug, Clone)]
pub struct Overview {
    pub computed_at: time::OffsetDateTime,
    /// How long the export took to stream and aggregate.
    pub elapsed: Duration,
    pub total: u64,
    /// Active lines (status `active`, any case).
    pub active: u64,
    /// Per [`Dimension`], in [`Dimension::ALL`] order.
    pub categories: [Categories; 4],
    pub usage: [u64; USAGE_BUCKETS],
    pub over_limit: u64,
    pub near_limit: u64,
    pub under_limit: u64,
    pub no_limit: u64,
    /// Idle count at [`Overview::idle_mb`] (exact even when the table is truncated).
    pub idle: u64,
    pub idle_mb: IdleMb,
    /// Most used this month first.
    pub top: Vec<TopLine>,
    /// Rows whose MDN could not be read (counted nowhere else).
    pub skipped: u64,
    lines: Vec<LineRec>,
}

impl Overview {
    pub fn categories(&self, d: Dimension) -> &Categories {
        &self.categories[d.index()]
    }

    /// Did the group have more lines than the table keeps?
    pub fn truncated(&self) -> bool {
        (self.lines.len() as u64) < self.total
    }

    /// Idle lines at `idle` (from the table unless it is the threshold streamed with).
    pub fn idle_count(&self, idle: IdleMb) -> u64 {
        if idle == self.idle_mb {
            return self.idle;
        }
        self.lines.iter().filter(|l| self.is_idle(l, idle)).count() as u64
    }

    fn is_active(&self, l: &LineRec) -> bool {
        self.categories[0]
            .names
            .get(usize::from(l.cats[0]))
            .is_some_and(|s| s.eq_ignore_ascii_case("active"))
    }

    fn is_idle(&self, l: &LineRec, idle: IdleMb) -> bool {
        self.is_active(l) && idle.is_idle(l.last30)
    }

    /// The category name of a line.
    pub fn name(&self, d: Dimension, l: &LineRec) -> &str {
        self.categories[d.index()]
            .names
            .get(usize::from(l.cats[d.index()]))
            .map_or("", String::as_str)
    }

    /// The figure as a test on one line of the table (`None` for the top list, which is its own list).
    pub fn matcher(&self, fig: &Figure, idle: IdleMb) -> Option<Matcher> {
        Some(match fig {
            Figure::Top => return None,
            Figure::Category(d, v) => match self.categories(*d).index_of(v) {
                Some(i) => Matcher::Category(d.index(), i),
                None => Matcher::Nothing,
            },
            Figure::Usage(b) => Matcher::Usage(*b),
            Figure::OverLimit => Matcher::OverLimit,
            Figure::NearLimit => Matcher::NearLimit,
            Figure::UnderLimit => Matcher::UnderLimit,
            Figure::NoLimit => Matcher::NoLimit,
            Figure::Idle => Matcher::Idle(idle),
        })
    }

    pub fn matches(&self, m: Matcher, l: &LineRec) -> bool {
        match m {
            Matcher::Nothing => false,
            Matcher::Category(k, i) => l.cats[k] == i,
            Matcher::Usage(b) => usage_bucket(l.last30) == b,
            Matcher::OverLimit => l.over_limit(),
            Matcher::NearLimit => l.near_limit(),
            Matcher::UnderLimit => l.has_limit() && !l.over_limit() && !l.near_limit(),
            Matcher::NoLimit => !l.has_limit(),
            Matcher::Idle(idle) => self.is_idle(l, idle),
        }
    }

    /// The kept lines, in the export's order (MDN ascending).
    pub fn table(&self) -> &[LineRec] {
        &self.lines
    }

    /// The lines behind a figure (the top list: most used first).
    pub fn lines_of<'a>(
        &'a self,
        fig: &Figure,
        idle: IdleMb,
    ) -> Box<dyn Iterator<Item = &'a LineRec> + 'a> {
        match self.matcher(fig, idle) {
            None => Box::new(self.top.iter().map(|t| &t.rec)),
            Some(m) => Box::new(self.lines.iter().filter(move |l| self.matches(m, l))),
        }
    }

    /// The exact count of a figure (streamed counts, not the possibly truncated table).
    pub fn count_of(&self, fig: &Figure, idle: IdleMb) -> u64 {
        match fig {
            Figure::Top => self.top.len() as u64,
            Figure::Category(d, v) => {
                let c = self.categories(*d);
                c.index_of(v).map_or(0, |i| c.counts[usize::from(i)])
            }
            Figure::Usage(b) => self.usage[*b],
            Figure::OverLimit => self.over_limit,
            Figure::NearLimit => self.near_limit,
            Figure::UnderLimit => self.under_limit,
            Figure::NoLimit => self.no_limit,
            Figure::Idle => self.idle_count(idle),
        }
    }
}

/// A figure other than the top list, resolved against the categories seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matcher {
    /// A category value the group does not have.
    Nothing,
    Category(usize, u8),
    Usage(usize),
    OverLimit,
    NearLimit,
    UnderLimit,
    NoLimit,
    Idle(IdleMb),
}

/// Where each needed column sits in the export's rows.
#[derive(Debug, Clone, Copy)]
struct Positions {
    mdn: usize,
    cats: [usize; 4],
    last30: usize,
    month: usize,
    limit: usize,
    nickname: Option<usize>,
}

/// Push-style aggregation of the export: feed chunks as they arrive, then [`Aggregator::finish`].
pub struct Aggregator {
    reader: Reader,
    out: Vec<u8>,
    out_len: usize,
    ends: Vec<usize>,
    ends_len: usize,
    pos: Option<Positions>,
    idle: IdleMb,
    top: BinaryHeap<Reverse<TopKey>>,
    ov: Overview,
    started: std::time::Instant,
}

impl Aggregator {
    pub fn new(idle: IdleMb) -> Self {
        Self {
            reader: Reader::new(),
            out: vec![0; 4096],
            out_len: 0,
            ends: vec![0; 32],
            ends_len: 0,
            pos: None,
            idle,
            top: BinaryHeap::with_capacity(TOP_N + 1),
            ov: Overview {
                computed_at: time::OffsetDateTime::now_utc(),
                elapsed: Duration::ZERO,
                total: 0,
                active: 0,
                categories: Default::default(),
                usage: [0; USAGE_BUCKETS],
                over_limit: 0,
                near_limit: 0,
                under_limit: 0,
                no_limit: 0,
                idle: 0,
                idle_mb: idle,
                top: Vec::new(),
                skipped: 0,
                lines: Vec::new(),
            },
            started: std::time::Instant::now(),
        }
    }

    /// Feeds one chunk of the CSV body.
    pub fn push(&mut self, mut input: &[u8]) -> Result<(), UpstreamError> {
        loop {
            let (res, nin, nout, nend) = self.reader.read_record(
                input,
                &mut self.out[self.out_len..],
                &mut self.ends[self.ends_len..],
            );
            input = &input[nin..];
            self.out_len += nout;
            self.ends_len += nend;
            match res {
                ReadRecordResult::InputEmpty => return Ok(()),
                ReadRecordResult::OutputFull => {
                    if self.out.len() >= MAX_RECORD_BYTES {
                        return Err(UpstreamError::BadBody(
                            "a CSV record is longer than 1 MiB".into(),
                        ));
                    }
                    let n = self.out.len() * 2;
                    self.out.resize(n, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    let n = self.ends.len() * 2;
                    self.ends.resize(n, 0);
                }
                ReadRecordResult::Record => {
                    self.record()?;
                    self.out_len = 0;
                    self.ends_len = 0;
                }
                ReadRecordResult::End => return Ok(()),
            }
        }
    }

    /// The body ended: the last record (without a line end) counts too.
    pub fn finish(mut self) -> Result<Overview, UpstreamError> {
        self.push(&[])?;
        let mut top: Vec<TopLine> = self.top.into_iter().map(|Reverse(k)| k.2).collect();
        top.sort_by(|a, b| {
            b.rec
                .month
                .cmp(&a.rec.month)
                .then(a.rec.mdn.cmp(&b.rec.mdn))
        });
        self.ov.top = top;
        self.ov.lines.shrink_to_fit();
        self.ov.elapsed = self.started.elapsed();
        Ok(self.ov)
    }

    fn field(&self, i: usize) -> &str {
        field(&self.out, &self.ends[..self.ends_len], i)
    }

    fn record(&mut self) -> Result<(), UpstreamError> {
        let Some(p) = self.pos else {
            return self.header();
        };
        // A blank line is no row.
        if self.ends_len <= 1 && self.field(0).trim().is_empty() {
            return Ok(());
        }
        let Some(mdn) = mdn_number(self.field(p.mdn)) else {
            self.ov.skipped += 1;
            return Ok(());
        };
        let mut cats = [0u8; 4];
        // Disjoint borrows: the row's bytes and the counts it adds to.
        let (out, ends) = (&self.out, &self.ends[..self.ends_len]);
        for (k, col) in p.cats.iter().enumerate() {
            cats[k] = self.ov.categories[k].add(field(out, ends, *col));
        }
        let rec = LineRec {
            mdn,
            last30: amount(self.field(p.last30)).unwrap_or(0),
            month: amount(self.field(p.month)).unwrap_or(0),
            limit: amount(self.field(p.limit)).unwrap_or(NO_LIMIT),
            cats,
        };
        let active = self.field(p.cats[0]).trim().eq_ignore_ascii_case("active");
        let ov = &mut self.ov;
        ov.total += 1;
        if active {
            ov.active += 1;
            if self.idle.is_idle(rec.last30) {
                ov.idle += 1;
            }
        }
        ov.usage[usage_bucket(rec.last30)] += 1;
        if !rec.has_limit() {
            ov.no_limit += 1;
        } else if rec.over_limit() {
            ov.over_limit += 1;
        } else if rec.near_limit() {
            ov.near_limit += 1;
        } else {
            ov.under_limit += 1;
        }
        if ov.lines.len() < MAX_LINES_KEPT {
            ov.lines.push(rec);
        }
        let key = (rec.month, Reverse(rec.mdn));
        let enters = self.top.len() < TOP_N
            || self
                .top
                .peek()
                .is_some_and(|Reverse(min)| key > (min.0, min.1));
        if enters {
            let nickname = p
                .nickname
                .map(|i| self.field(i).to_owned())
                .unwrap_or_default();
            self.top
                .push(Reverse(TopKey(key.0, key.1, TopLine { rec, nickname })));
            if self.top.len() > TOP_N {
                self.top.pop();
            }
        }
        Ok(())
    }

    fn header(&mut self) -> Result<(), UpstreamError> {
        let names: Vec<String> = (0..self.ends_len)
            .map(|i| {
                self.field(i)
                    .trim()
                    .trim_start_matches('\u{feff}')
                    .to_owned()
            })
            .collect();
        let find = |c: Column| {
            names.iter().position(|n| n == c.as_str()).ok_or_else(|| {
                UpstreamError::BadBody(format!("the CSV export has no {} column", c.as_str()))
            })
        };
        self.pos = Some(Positions {
            mdn: find(Column::Mdn)?,
            cats: [
                find(Column::Status)?,
                find(Column::FilterGroup)?,
                find(Column::Network)?,
                find(Column::DeviceName)?,
            ],
            last30: find(Column::Last30DaysUsed)?,
            month: find(Column::MonthlyAmountUsed)?,
            limit: find(Column::MonthlyLimit)?,
            nickname: find(Column::Nickname).ok(),
        });
        Ok(())
    }
}

/// Field `i` of a record read by csv-core (`ends`: each field's end in `out`); "" when absent.
fn field<'a>(out: &'a [u8], ends: &[usize], i: usize) -> &'a str {
    let Some(end) = ends.get(i) else {
        return "";
    };
    let start = if i == 0 { 0 } else { ends[i - 1] };
    std::str::from_utf8(&out[start..*end]).unwrap_or("")
}

pub(crate) use crate::domain::amounts::{amount, mdn_number};

/// Aggregates a whole CSV stream (the overview's one export).
pub async fn aggregate(
    mut stream: crate::upstream::ByteStream,
    idle: IdleMb,
) -> Result<Overview, UpstreamError> {
    use futures::StreamExt;
    let mut agg = Aggregator::new(idle);
    while let Some(chunk) = stream.next().await {
        agg.push(&chunk?)?;
    }
    agg.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Mdn;

    fn idle_mb(n: u32) -> IdleMb {
        IdleMb::parse(Some(&n.to_string())).unwrap()
    }

    const CSV: &str = "MDN,STATUS,FILTER_GROUP,NETWORK,DEVICE_NAME,LAST_30_DAYS_USED,MONTHLY_AMOUNT_USED,MONTHLY_LIMIT,NICKNAME\r\n\
521-267-1508,active,Staff,Verizon,Kajeet ENT-BYOD,0.00,0.00,5120.00,\"Bus, 47\"\r\n\
304-228-6302,suspended,Student_K8,T-Mobile,SmartSpot AOL-BYOD,8106.85,8106.85,,Gym\r\n\
614-300-0001,active,Staff,Verizon,Franklin T10,99.99,4200.00,5120.00,\r\n\
614-300-0002,active,,AT&T,Franklin T10,60000,6000.00,5120.00,x";

    fn run(chunk: usize, idle: u32) -> Overview {
        let mut a = Aggregator::new(idle_mb(idle));
        for c in CSV.as_bytes().chunks(chunk) {
            a.push(c).unwrap();
        }
        a.finish().unwrap()
    }

    #[test]
    fn figures_any_chunking() {
        for chunk in [1, 3, 7, 64, 4096] {
            let o = run(chunk, 0);
            assert_eq!(o.total, 4, "chunk {chunk}");
            assert_eq!(o.active, 3);
            assert_eq!(o.idle, 1);
            assert_eq!(
                o.categories(Dimension::Status).sorted(),
                vec![("active", 3), ("suspended", 1)]
            );
            assert_eq!(o.categories(Dimension::FilterGroup).index_of(NONE), Some(2));
            assert_eq!(
                (o.over_limit, o.near_limit, o.under_limit, o.no_limit),
                (1, 1, 1, 1)
            );
            assert_eq!(o.usage[0], 1);
            assert_eq!(o.usage[1], 1);
            assert_eq!(o.usage[USAGE_BUCKETS - 1], 1);
            assert_eq!(o.top[0].rec.mdn(), "304-228-6302");
            assert_eq!(o.top[3].nickname, "Bus, 47");
        }
    }

    #[test]
    fn idle_threshold_is_under_n_mb() {
        let o = run(4096, 100);
        assert_eq!(o.idle, 2);
        assert_eq!(o.idle_count(idle_mb(0)), 1);
        assert_eq!(o.lines_of(&Figure::Idle, idle_mb(100)).count(), 2);
        assert!(IdleMb::parse(Some("-1")).is_err());
        assert!(IdleMb::parse(Some("1.5")).is_err());
        assert_eq!(IdleMb::parse(None).unwrap(), idle_mb(0));
    }

    #[test]
    fn empty_and_header_only() {
        assert_eq!(Aggregator::new(idle_mb(0)).finish().unwrap().total, 0);
        let mut a = Aggregator::new(idle_mb(0));
        a.push(CSV.lines().next().unwrap().as_bytes()).unwrap();
        assert_eq!(a.finish().unwrap().total, 0);
        let mut a = Aggregator::new(idle_mb(0));
        assert!(a.push(b"MDN,STATUS\r\n1,2\r\n").is_err());
    }

    #[test]
    fn mdn_rule_matches_the_newtype() {
        for s in [
            "521-267-1508",
            "(521) 267.1508",
            "5212671508",
            "521-267-150",
            "52126715081",
            "521x2671508",
        ] {
            assert_eq!(
                mdn_number(s),
                Mdn::parse(s).ok().map(|m| m.digits().parse().unwrap()),
                "{s}"
            );
        }
    }

    #[test]
    fn buckets_and_labels() {
        assert_eq!(usage_bucket(0), 0);
        assert_eq!(usage_bucket(1), 1);
        assert_eq!(usage_bucket(100 * 100), 2);
        assert_eq!(usage_bucket(51_200 * 100), USAGE_BUCKETS - 1);
        assert_eq!(usage_label(4), "1 GB–2 GB");
        assert_eq!(usage_label(USAGE_BUCKETS - 1), "50 GB and more");
    }
}
