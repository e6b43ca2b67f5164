//! The fleet's history (issue 24): what a sample of a tracked group holds, how a line's day is
//! computed from its samples, and the compact day cells kept for ever (no HTTP here).
//!
//! - [`sample`]: one CSV export stream read into [`SampleLine`]s
//! - [`sampler`]: due samples claimed, taken on the kept sign-in, stored; back-off and pausing
//! - [`report`]: what the pages and CSVs read back (days, idle lines, proof of use, drift)
//! - [`snapshot`]: a tracked group's list filtered from its latest sample
//! - [`demo`]: the demo's simulated history

pub mod demo;
pub mod report;
pub mod sample;
pub mod sampler;
pub mod snapshot;

use time::{Date, OffsetDateTime};

/// Bytes of one day cell.
pub const CELL: usize = 16;
/// Cells of a month row (day of month 1..=31).
pub const MONTH_DAYS: usize = 31;
/// A month row's bytes.
pub const ROW_BYTES: usize = CELL * MONTH_DAYS;
/// A limit that is not set.
const NO_LIMIT: u32 = u32::MAX;

/// A day: days since 1970-01-01 (in `USAGE_TIME_ZONE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub i32);

/// Julian day number of 1970-01-01.
const EPOCH_JULIAN: i32 = 2_440_588;

impl Day {
    pub fn of_date(d: Date) -> Self {
        Day(d.to_julian_day() - EPOCH_JULIAN)
    }
    pub fn date(self) -> Date {
        Date::from_julian_day(self.0 + EPOCH_JULIAN).unwrap_or(Date::MIN)
    }
    /// `year * 12 + month - 1`: the month row the day is in.
    pub fn month(self) -> i32 {
        let d = self.date();
        d.year() * 12 + i32::from(u8::from(d.month())) - 1
    }
    /// 0-based day of month: the cell in its month row.
    pub fn cell(self) -> usize {
        usize::from(self.date().day()) - 1
    }
    /// The first day of month row `m`.
    pub fn first_of_month(m: i32) -> Self {
        let (y, mo) = (m.div_euclid(12), m.rem_euclid(12) + 1);
        let month = time::Month::try_from(mo as u8).unwrap_or(time::Month::January);
        Day::of_date(Date::from_calendar_date(y, month, 1).unwrap_or(Date::MIN))
    }
    pub fn plus(self, n: i32) -> Self {
        Day(self.0 + n)
    }
    /// `YYYY-MM-DD`.
    pub fn iso(self) -> String {
        let d = self.date();
        format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
    }
    /// Parses `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Option<Self> {
        let fmt = time::macros::format_description!("[year]-[month]-[day]");
        Date::parse(s.trim(), &fmt).ok().map(Day::of_date)
    }
}

/// The days of one time zone (`USAGE_TIME_ZONE`).
#[derive(Debug, Clone)]
pub struct Zone(pub jiff::tz::TimeZone);

impl Default for Zone {
    fn default() -> Self {
        Zone(jiff::tz::TimeZone::UTC)
    }
}

impl Zone {
    /// An IANA name (`America/Chicago`); `UTC` needs no time zone database.
    pub fn parse(name: &str) -> Result<Self, String> {
        if name.eq_ignore_ascii_case("UTC") {
            return Ok(Self::default());
        }
        jiff::tz::TimeZone::get(name)
            .map(Zone)
            .map_err(|e| format!("{name:?} is not a known IANA time zone: {e}"))
    }

    /// The day `t` falls on here.
    pub fn day_of(&self, t: OffsetDateTime) -> Day {
        let Ok(ts) = jiff::Timestamp::from_second(t.unix_timestamp()) else {
            return Day::of_date(t.date());
        };
        let d = ts.to_zoned(self.0.clone()).date();
        let month = time::Month::try_from(d.month() as u8).unwrap_or(time::Month::January);
        Date::from_calendar_date(i32::from(d.year()), month, d.day() as u8)
            .map(Day::of_date)
            .unwrap_or_else(|_| Day::of_date(t.date()))
    }
}

/// What is kept of a line for one day: its usage and what it was set to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cell {
    /// Hundredths of MB.
    pub usage: u32,
    /// A `usage_names` id; 0: not sampled that day.
    pub status: u16,
    pub filter_group: u16,
    pub monthly_limit: Option<u32>,
    pub daily_limit: Option<u32>,
}

impl Cell {
    pub fn sampled(&self) -> bool {
        self.status != 0
    }
    pub fn used(&self) -> bool {
        self.sampled() && self.usage > 0
    }
    pub fn encode(&self) -> [u8; CELL] {
        let mut b = [0u8; CELL];
        b[0..4].copy_from_slice(&self.usage.to_le_bytes());
        b[4..6].copy_from_slice(&self.status.to_le_bytes());
        b[6..8].copy_from_slice(&self.filter_group.to_le_bytes());
        b[8..12].copy_from_slice(&self.monthly_limit.unwrap_or(NO_LIMIT).to_le_bytes());
        b[12..16].copy_from_slice(&self.daily_limit.unwrap_or(NO_LIMIT).to_le_bytes());
        b
    }
    pub fn decode(b: &[u8]) -> Self {
        let u32_at = |i: usize| {
            b.get(i..i + 4)
                .and_then(|s| s.try_into().ok())
                .map_or(0, u32::from_le_bytes)
        };
        let u16_at = |i: usize| {
            b.get(i..i + 2)
                .and_then(|s| s.try_into().ok())
                .map_or(0, u16::from_le_bytes)
        };
        let limit = |v: u32| (v != NO_LIMIT).then_some(v);
        Self {
            usage: u32_at(0),
            status: u16_at(4),
            filter_group: u16_at(6),
            monthly_limit: limit(u32_at(8)),
            daily_limit: limit(u32_at(12)),
        }
    }
    /// The cells of a month row (missing bytes read as not sampled).
    pub fn row(days: &[u8]) -> impl Iterator<Item = Cell> + '_ {
        (0..MONTH_DAYS)
            .map(move |i| Cell::decode(days.get(i * CELL..(i + 1) * CELL).unwrap_or(&[])))
    }
}

/// A line's running figures for its current day (kept with its latest sample).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Running {
    pub day: Day,
    /// Samples taken that day.
    pub samples: u32,
    /// Growth of the month's usage since the day's first sample (hundredths of MB).
    pub growth: u64,
    /// The month's usage at the last sample.
    pub month_used: u32,
    /// The day's usage at the last sample (what the API says).
    pub day_used: u32,
    pub first_day: Day,
    /// The last day before `day` with usage (the current day's own use is [`Running::usage`]).
    pub used_before: Option<Day>,
}

impl Running {
    /// The first sample of a line.
    pub fn first(day: Day, month_used: u32, day_used: u32) -> Self {
        Self {
            day,
            samples: 1,
            growth: 0,
            month_used,
            day_used,
            first_day: day,
            used_before: None,
        }
    }

    /// After one more sample on `day`: the growth of `monthlyAmountUsed` between the day's first
    /// and last samples (a drop is a new billing cycle: the new value counts).
    pub fn next(&self, day: Day, month_used: u32, day_used: u32) -> Self {
        let mut r = *self;
        if day != self.day {
            r.used_before = self.last_used();
            r.day = day;
            r.samples = 1;
            r.growth = 0;
        } else {
            r.samples += 1;
            r.growth += u64::from(if month_used >= self.month_used {
                month_used - self.month_used
            } else {
                month_used
            });
        }
        r.month_used = month_used;
        r.day_used = day_used;
        r
    }

    /// The day's usage so far: with one sample, what the API calls today's usage.
    pub fn usage(&self) -> u32 {
        if self.samples <= 1 {
            self.day_used
        } else {
            self.growth.min(u64::from(u32::MAX - 1)) as u32
        }
    }

    /// The last day with usage, the current one included.
    pub fn last_used(&self) -> Option<Day> {
        if self.usage() > 0 {
            Some(self.day)
        } else {
            self.used_before
        }
    }
}

/// The 10 digits of an MDN as the export prints them (`521-267-1508`).
pub fn mdn_text(mdn: u64) -> String {
    let s = format!("{mdn:010}");
    format!("{}-{}-{}", &s[0..3], &s[3..6], &s[6..10])
}

/// Hundredths of MB as MB with two decimals.
pub fn mb(v: u64) -> String {
    format!("{}.{:02}", v / 100, v % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_round_trip() {
        let c = Cell {
            usage: 123_456,
            status: 3,
            filter_group: 9,
            monthly_limit: Some(512_000),
            daily_limit: None,
        };
        assert_eq!(Cell::decode(&c.encode()), c);
        assert!(!Cell::decode(&[0; CELL]).sampled());
    }

    #[test]
    fn days_and_months() {
        let d = Day::parse("2026-02-28").unwrap();
        assert_eq!(d.iso(), "2026-02-28");
        assert_eq!(d.cell(), 27);
        assert_eq!(d.plus(1).iso(), "2026-03-01");
        assert_eq!(Day::first_of_month(d.month()).iso(), "2026-02-01");
        assert_eq!(Day::parse("1970-01-01"), Some(Day(0)));
        assert!(Day::parse("2026-02-30").is_none());
    }

    #[test]
    fn a_day_is_the_growth_between_its_first_and_last_sample() {
        let d = Day(100);
        let r = Running::first(d, 1_000, 300);
        assert_eq!(r.usage(), 300, "one sample: the API's day usage");
        let r = r.next(d, 1_500, 800);
        assert_eq!(r.usage(), 500);
        // A drop: a new billing cycle, the new value counts.
        let r = r.next(d, 200, 1_000);
        assert_eq!(r.usage(), 700);
        let r = r.next(d.plus(1), 200, 0);
        assert_eq!((r.usage(), r.samples), (0, 1));
        assert_eq!(r.last_used(), Some(d));
        let r = r.next(d.plus(1), 200, 0);
        assert_eq!(r.usage(), 0);
        assert_eq!(r.last_used(), Some(d));
        // Today's first sample said 300 used; the growth since then is what counts.
        let r = Running::first(d, 1_000, 300).next(d, 1_000, 300);
        assert_eq!((r.usage(), r.last_used()), (0, None));
    }

    #[test]
    fn zones_move_midnight() {
        let t = time::macros::datetime!(2026-03-10 03:00 UTC);
        assert_eq!(Zone::default().day_of(t).iso(), "2026-03-10");
        let chicago = Zone::parse("America/Chicago").unwrap();
        assert_eq!(chicago.day_of(t).iso(), "2026-03-09");
        assert!(Zone::parse("Mars/Olympus").is_err());
    }
}
