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

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use csv_core::{ReadRecordResult, Reader};

use crate::domain::Column;
use crate::error::AppError;
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
/// Distinct values kept per category; the rest are pooled under [`OTHER`].
pub const MAX_CATEGORIES: usize = 100;
/// The pooled category's name.
pub const OTHER: &str = "(other)";
/// The category of an empty cell.
pub const NONE: &str = "(none)";
/// Lines in the top list.
pub const TOP_N: usize = 20;
/// "Near the limit": at or above this share of it (and under the limit itself).
pub const NEAR_LIMIT_PERCENT: u64 = 80;
/// A CSV record longer than this is not an export we can read.
const MAX_RECORD_BYTES: usize = 1 << 20;
/// Most megabytes the idle threshold may name (1 TB).
pub const MAX_IDLE_MB: u32 = 1_000_000;

/// Upper edges (MB, exclusive) of the 30-day usage histogram after its "0 MB" bucket;
/// a last bucket holds everything from the last edge up.
pub const USAGE_EDGES_MB: [u32; 8] = [100, 500, 1024, 2048, 5120, 10_240, 20_480, 51_200];
/// Histogram buckets: "0 MB", one per edge, and "from the last edge up".
pub const USAGE_BUCKETS: usize = USAGE_EDGES_MB.len() + 2;

/// The idle threshold (`idle_mb`): whole megabytes over the last 30 days, 0 meaning "used nothing".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IdleMb(u32);

impl IdleMb {
    /// Parses `idle_mb`: absent or empty is 0; otherwise a whole number from 0 to [`MAX_IDLE_MB`].
    pub fn parse(raw: Option<&str>) -> Result<Self, AppError> {
        let s = raw.map(str::trim).unwrap_or_default();
        if s.is_empty() {
            return Ok(Self(0));
        }
        match s.parse::<u32>() {
            Ok(n) if n <= MAX_IDLE_MB => Ok(Self(n)),
            _ => Err(AppError::BadRequest(format!(
                "The idle threshold must be a whole number of megabytes from 0 to {MAX_IDLE_MB}, not “{s}”."
            ))),
        }
    }
    pub fn mb(self) -> u32 {
        self.0
    }
    /// Is a line that used `last30` hundredths of MB idle? 0: used nothing; n: used under n MB.
    pub fn is_idle(self, last30: u32) -> bool {
        last30 == 0 || u64::from(last30) < u64::from(self.0) * 100
    }
}

/// The four categorical figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    Status,
    FilterGroup,
    Network,
    DeviceType,
}

impl Dimension {
    pub const ALL: [Dimension; 4] = [
        Dimension::Status,
        Dimension::FilterGroup,
        Dimension::Network,
        Dimension::DeviceType,
    ];
    /// The `figure` value in URLs.
    pub fn slug(self) -> &'static str {
        match self {
            Dimension::Status => "status",
            Dimension::FilterGroup => "filter_group",
            Dimension::Network => "network",
            Dimension::DeviceType => "device_type",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Dimension::Status => "status",
            Dimension::FilterGroup => "filter group",
            Dimension::Network => "network",
            Dimension::DeviceType => "device type",
        }
    }
    fn index(self) -> usize {
        self as usize
    }
}

/// One kind of figure, as named in a URL (`figure=…` plus `value=` or `bucket=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Figure {
    Category(Dimension, String),
    Usage(usize),
    OverLimit,
    NearLimit,
    UnderLimit,
    NoLimit,
    Idle,
    Top,
}

impl Figure {
    /// Parses `figure` with its `value` / `bucket`.
    pub fn parse(
        figure: &str,
        value: Option<&str>,
        bucket: Option<&str>,
    ) -> Result<Self, AppError> {
        let bad = |m: String| AppError::BadRequest(m);
        if let Some(d) = Dimension::ALL.into_iter().find(|d| d.slug() == figure) {
            let v = value.ok_or_else(|| bad(format!("Figure “{figure}” needs a value.")))?;
            return Ok(Figure::Category(d, v.to_owned()));
        }
        Ok(match figure {
            "usage" => {
                let b = bucket
                    .and_then(|b| b.trim().parse::<usize>().ok())
                    .filter(|b| *b < USAGE_BUCKETS)
                    .ok_or_else(|| {
                        bad(format!(
                            "The usage figure needs a bucket from 0 to {}.",
                            USAGE_BUCKETS - 1
                        ))
                    })?;
                Figure::Usage(b)
            }
            "over_limit" => Figure::OverLimit,
            "near_limit" => Figure::NearLimit,
            "under_limit" => Figure::UnderLimit,
            "no_limit" => Figure::NoLimit,
            "idle" => Figure::Idle,
            "top" => Figure::Top,
            other => {
                return Err(bad(format!(
                    "There is no figure “{other}”; expected status, filter_group, network, device_type, usage, over_limit, near_limit, under_limit, no_limit, idle or top."
                )));
            }
        })
    }

    /// The figure's query string (without `idle_mb`).
    pub fn query(&self) -> String {
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        match self {
            Figure::Category(d, v) => format!("figure={}&value={}", d.slug(), enc(v)),
            Figure::Usage(b) => format!("figure=usage&bucket={b}"),
            Figure::OverLimit => "figure=over_limit".into(),
            Figure::NearLimit => "figure=near_limit".into(),
            Figure::UnderLimit => "figure=under_limit".into(),
            Figure::NoLimit => "figure=no_limit".into(),
            Figure::Idle => "figure=idle".into(),
            Figure::Top => "figure=top".into(),
        }
    }

    /// A short description: "lines on Verizon", "idle lines".
    pub fn describe(&self, idle: IdleMb) -> String {
        match self {
            Figure::Category(Dimension::Status, v) => format!("lines with status {v}"),
            Figure::Category(d, v) => format!("lines with {} {v}", d.label()),
            Figure::Usage(b) => format!("lines that used {} in the last 30 days", usage_label(*b)),
            Figure::OverLimit => "lines at or over their monthly limit".into(),
            Figure::NearLimit => format!(
                "lines at {NEAR_LIMIT_PERCENT}% or more of their monthly limit, not yet over it"
            ),
            Figure::UnderLimit => {
                format!("lines under {NEAR_LIMIT_PERCENT}% of their monthly limit")
            }
            Figure::NoLimit => "lines without a monthly limit".into(),
            Figure::Idle if idle.mb() == 0 => {
                "idle lines: active, used nothing in the last 30 days".into()
            }
            Figure::Idle => format!(
                "idle lines: active, used under {} MB in the last 30 days",
                idle.mb()
            ),
            Figure::Top => format!("the top {TOP_N} lines by usage this month"),
        }
    }
}

/// A histogram bucket's label.
pub fn usage_label(bucket: usize) -> String {
    let mb = |m: u32| {
        if m >= 1024 && m % 1024 == 0 {
            format!("{} GB", m / 1024)
        } else {
            format!("{m} MB")
        }
    };
    match bucket {
        0 => "0 MB".into(),
        1 => format!("under {}", mb(USAGE_EDGES_MB[0])),
        b if b < USAGE_BUCKETS - 1 => {
            format!(
                "{}–{}",
                mb(USAGE_EDGES_MB[b - 2]),
                mb(USAGE_EDGES_MB[b - 1])
            )
        }
        _ => format!("{} and more", mb(USAGE_EDGES_MB[USAGE_EDGES_MB.len() - 1])),
    }
}

/// The histogram bucket of `last30` hundredths of MB.
pub fn usage_bucket(last30: u32) -> usize {
    if last30 == 0 {
        return 0;
    }
    USAGE_EDGES_MB
        .iter()
        .position(|e| u64::from(last30) < u64::from(*e) * 100)
        .map_or(USAGE_BUCKETS - 1, |i| i + 1)
}

/// No monthly limit, in [`LineRec::limit`].
pub const NO_LIMIT: u32 = u32::MAX;

/// One line as the overview keeps it: numbers in hundredths of MB (exact for the export's
/// two decimals), categories as indexes into [`Overview::categories`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineRec {
    pub mdn: u64,
    pub last30: u32,
    pub month: u32,
    pub limit: u32,
    pub cats: [u8; 4],
}

impl LineRec {
    pub fn mdn(&self) -> String {
        let s = format!("{:010}", self.mdn);
        format!("{}-{}-{}", &s[0..3], &s[3..6], &s[6..10])
    }
    pub fn has_limit(&self) -> bool {
        self.limit != NO_LIMIT && self.limit > 0
    }
    pub fn over_limit(&self) -> bool {
        self.has_limit() && self.month >= self.limit
    }
    pub fn near_limit(&self) -> bool {
        self.has_limit()
            && !self.over_limit()
            && u64::from(self.month) * 100 >= u64::from(self.limit) * NEAR_LIMIT_PERCENT
    }
}

/// Hundredths of MB as "1234.56".
pub fn hundredths(v: u32) -> String {
    format!("{}.{:02}", v / 100, v % 100)
}

/// Distinct values of one column and their counts.
#[derive(Debug, Clone, Default)]
pub struct Categories {
    pub names: Vec<String>,
    pub counts: Vec<u64>,
}

impl Categories {
    fn add(&mut self, raw: &str) -> u8 {
        let v = match raw.trim() {
            "" => NONE,
            v => v,
        };
        let i = match self.names.iter().position(|n| n == v) {
            Some(i) => i,
            None if self.names.len() < MAX_CATEGORIES => {
                self.names.push(v.to_owned());
                self.counts.push(0);
                self.names.len() - 1
            }
            None => match self.names.iter().position(|n| n == OTHER) {
                Some(i) => i,
                None => {
                    self.names.push(OTHER.to_owned());
                    self.counts.push(0);
                    self.names.len() - 1
                }
            },
        };
        self.counts[i] += 1;
        // MAX_CATEGORIES + 1 fits in a u8.
        i as u8
    }

    pub fn index_of(&self, name: &str) -> Option<u8> {
        self.names.iter().position(|n| n == name).map(|i| i as u8)
    }

    /// (name, count), most lines first, then by name.
    pub fn sorted(&self) -> Vec<(&str, u64)> {
        let mut v: Vec<(&str, u64)> = self
            .names
            .iter()
            .map(String::as_str)
            .zip(self.counts.iter().copied())
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v
    }
}

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

/// The MDN's 10 digits as a number.
/// The same rule as [`crate::domain::Mdn::parse`] (10 digits, with dashes, spaces, dots or parentheses),
/// without its allocations: this runs for every row.
fn mdn_number(s: &str) -> Option<u64> {
    let (mut n, mut digits) = (0u64, 0u32);
    for b in s.trim().bytes() {
        match b {
            b'0'..=b'9' => {
                n = n * 10 + u64::from(b - b'0');
                digits += 1;
                if digits > 10 {
                    return None;
                }
            }
            b'-' | b' ' | b'.' | b'(' | b')' => {}
            _ => return None,
        }
    }
    (digits == 10).then_some(n)
}

/// MB with up to two decimals as hundredths (saturating); `None` when empty or not a number.
fn amount(s: &str) -> Option<u32> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let v: f64 = s.parse().ok()?;
    if !v.is_finite() {
        return None;
    }
    Some((v * 100.0).round().clamp(0.0, f64::from(u32::MAX - 1)) as u32)
}

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

    const CSV: &str = "MDN,STATUS,FILTER_GROUP,NETWORK,DEVICE_NAME,LAST_30_DAYS_USED,MONTHLY_AMOUNT_USED,MONTHLY_LIMIT,NICKNAME\r\n\
521-267-1508,active,Staff,Verizon,Kajeet ENT-BYOD,0.00,0.00,5120.00,\"Bus, 47\"\r\n\
304-228-6302,suspended,Student_K8,T-Mobile,SmartSpot AOL-BYOD,8106.85,8106.85,,Gym\r\n\
614-300-0001,active,Staff,Verizon,Franklin T10,99.99,4200.00,5120.00,\r\n\
614-300-0002,active,,AT&T,Franklin T10,60000,6000.00,5120.00,x";

    fn run(chunk: usize, idle: u32) -> Overview {
        let mut a = Aggregator::new(IdleMb(idle));
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
        assert_eq!(o.idle_count(IdleMb(0)), 1);
        assert_eq!(o.lines_of(&Figure::Idle, IdleMb(100)).count(), 2);
        assert!(IdleMb::parse(Some("-1")).is_err());
        assert!(IdleMb::parse(Some("1.5")).is_err());
        assert_eq!(IdleMb::parse(None).unwrap(), IdleMb(0));
    }

    #[test]
    fn empty_and_header_only() {
        assert_eq!(Aggregator::new(IdleMb(0)).finish().unwrap().total, 0);
        let mut a = Aggregator::new(IdleMb(0));
        a.push(CSV.lines().next().unwrap().as_bytes()).unwrap();
        assert_eq!(a.finish().unwrap().total, 0);
        let mut a = Aggregator::new(IdleMb(0));
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
