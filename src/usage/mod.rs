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

pub use crate::domain::day::{CELL, Cell, Day, MONTH_DAYS, ROW_BYTES, Zone};

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
