//! Days and the day cells the fleet's history keeps: a day number in `USAGE_TIME_ZONE`, the
//! zone, and one line's day packed in 16 bytes (the storage layout and the services share them).

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
