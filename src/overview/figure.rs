//! The overview's figures as named in URLs, the idle threshold, the usage histogram's buckets and
//! the compact line record every figure is tested on, and the counts per category.

use crate::error::AppError;

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
    pub(super) fn index(self) -> usize {
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
    pub fn query(&self) -> Vec<(&'static str, String)> {
        let figure = |f: &str| ("figure", f.to_owned());
        match self {
            Figure::Category(d, v) => vec![figure(d.slug()), ("value", v.clone())],
            Figure::Usage(b) => vec![figure("usage"), ("bucket", b.to_string())],
            Figure::OverLimit => vec![figure("over_limit")],
            Figure::NearLimit => vec![figure("near_limit")],
            Figure::UnderLimit => vec![figure("under_limit")],
            Figure::NoLimit => vec![figure("no_limit")],
            Figure::Idle => vec![figure("idle")],
            Figure::Top => vec![figure("top")],
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
    pub(super) fn add(&mut self, raw: &str) -> u8 {
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
