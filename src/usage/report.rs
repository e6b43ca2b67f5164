//! What the history's pages and files read back: usage per day and per category, idle lines,
//! proof of use per line (streamed), one line's strip.

use std::collections::HashMap;

use bytes::Bytes;

use super::{Cell, Day, mb, mdn_text};
use crate::storage::Db;
use crate::storage::usage::{LatestRow, MonthRow};

/// The `by` breakdowns of the usage page (CONTRACT §6), with their stored dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    FilterGroup,
    Device,
    Network,
    Status,
    Label,
}

impl By {
    pub const ALL: [By; 5] = [
        By::FilterGroup,
        By::Device,
        By::Network,
        By::Status,
        By::Label,
    ];
    pub fn parse(s: &str) -> Result<Self, String> {
        By::ALL
            .into_iter()
            .find(|b| b.as_str() == s.trim())
            .ok_or_else(|| {
                format!(
                    "“{s}” is not a breakdown; expected filter_group, device, network, status or label."
                )
            })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            By::FilterGroup => "filter_group",
            By::Device => "device",
            By::Network => "network",
            By::Status => "status",
            By::Label => "label",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            By::FilterGroup => "Filter group",
            By::Device => "Device",
            By::Network => "Network",
            By::Status => "Status",
            By::Label => "Label",
        }
    }
    pub fn dim(self) -> i16 {
        match self {
            By::FilterGroup => 1,
            By::Device => 2,
            By::Network => 3,
            By::Status => 4,
            By::Label => 5,
        }
    }
}

/// The offered idle thresholds, in days.
pub const IDLE_DAYS: [u32; 4] = [7, 30, 60, 90];

/// One day of the group: `None` figures when no sample was stored that day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayPoint {
    pub day: Day,
    pub usage: Option<i64>,
    pub used_lines: i32,
    pub sampled_lines: i32,
}

/// Usage per day over `from..=to`, every day present (unsampled ones as `None`).
pub async fn per_day(db: &Db, gid: i32, from: Day, to: Day) -> Result<Vec<DayPoint>, sqlx::Error> {
    let figs = db.usage_day_figures(gid, 0, from.0, to.0).await?;
    let by_day: HashMap<i32, _> = figs.into_iter().map(|f| (f.day, f)).collect();
    Ok((from.0..=to.0)
        .map(|d| match by_day.get(&d) {
            Some(f) => DayPoint {
                day: Day(d),
                usage: Some(f.usage),
                used_lines: f.used_lines,
                sampled_lines: f.sampled_lines,
            },
            None => DayPoint {
                day: Day(d),
                usage: None,
                used_lines: 0,
                sampled_lines: 0,
            },
        })
        .collect())
}

/// One category over a range: usage and line-days used (the proof of use summed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryTotal {
    pub name: String,
    pub usage: i64,
    pub days_used: i64,
    pub days_sampled: i64,
}

/// Usage over `from..=to` per category of `by`, most used first.
pub async fn breakdown(
    db: &Db,
    gid: i32,
    by: By,
    from: Day,
    to: Day,
) -> Result<Vec<CategoryTotal>, sqlx::Error> {
    let figs = db.usage_day_figures(gid, by.dim(), from.0, to.0).await?;
    let names = db.usage_names_by_id().await?;
    let mut sums: HashMap<i32, CategoryTotal> = HashMap::new();
    for f in figs {
        let e = sums.entry(f.name).or_insert_with(|| CategoryTotal {
            name: names.get(&f.name).cloned().unwrap_or_default(),
            usage: 0,
            days_used: 0,
            days_sampled: 0,
        });
        e.usage += f.usage;
        e.days_used += i64::from(f.used_lines);
        e.days_sampled += i64::from(f.sampled_lines);
    }
    let mut out: Vec<CategoryTotal> = sums.into_values().collect();
    out.sort_by(|a, b| b.usage.cmp(&a.usage).then(a.name.cmp(&b.name)));
    Ok(out)
}

/// Lines with no usage on any of the last `days` days up to `today` (never used included).
pub async fn idle(db: &Db, gid: i32, today: Day, days: u32) -> Result<Vec<LatestRow>, sqlx::Error> {
    let since = today.plus(1 - days as i32);
    db.usage_idle(gid, since.0).await
}

/// The proof of use's header (CONTRACT §6).
pub const PROOF_HEADER: &str =
    "MDN,NICKNAME,DAYS_USED,USAGE_MB,FIRST_USED,LAST_USED,DAYS_SAMPLED\r\n";

/// One line's proof of use being summed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Proof {
    pub days_used: u32,
    pub usage: u64,
    pub first_used: Option<Day>,
    pub last_used: Option<Day>,
    pub days_sampled: u32,
}

impl Proof {
    /// Adds a month row's days that fall in `from..=to`.
    pub fn add(&mut self, month: i32, days: &[u8], from: Day, to: Day) {
        // Day arithmetic once per row, not per cell (a year of 100,000 lines is 37 M cells).
        let first = Day::first_of_month(month);
        let len = (Day::first_of_month(month + 1).0 - first.0).clamp(0, 31) as usize;
        for (i, c) in Cell::row(days).enumerate().take(len) {
            let d = first.plus(i as i32);
            if d < from || d > to || !c.sampled() {
                continue;
            }
            self.days_sampled += 1;
            if c.used() {
                self.days_used += 1;
                self.usage += u64::from(c.usage);
                self.first_used = Some(self.first_used.map_or(d, |f| f.min(d)));
                self.last_used = Some(self.last_used.map_or(d, |l| l.max(d)));
            }
        }
    }

    pub fn row(&self, mdn: i64, nickname: &str) -> String {
        let day = |d: Option<Day>| d.map(Day::iso).unwrap_or_default();
        crate::csv::write_row([
            mdn_text(mdn.max(0) as u64).as_str(),
            nickname,
            &self.days_used.to_string(),
            &mb(self.usage),
            &day(self.first_used),
            &day(self.last_used),
            &self.days_sampled.to_string(),
        ])
    }
}

/// The proof of use over `from..=to` as CSV chunks, read as the database streams (constant
/// memory: one line summed at a time, a batch of month rows in flight).
pub fn proof_csv(
    db: Db,
    gid: i32,
    from: Day,
    to: Day,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<MonthRow>>(4);
    tokio::spawn(async move {
        if let Err(e) = db
            .usage_months_scan(gid, from.month(), to.month(), tx)
            .await
        {
            tracing::error!(error = %e, "the proof of use could not be read");
        }
    });
    struct St {
        rx: tokio::sync::mpsc::Receiver<Vec<MonthRow>>,
        current: Option<(i64, String, Proof)>,
        header: bool,
        done: bool,
    }
    let st = St {
        rx,
        current: None,
        header: true,
        done: false,
    };
    futures::stream::unfold(st, move |mut st| async move {
        if st.done {
            return None;
        }
        let mut out = String::new();
        if st.header {
            st.header = false;
            out.push_str(PROOF_HEADER);
        }
        match st.rx.recv().await {
            Some(batch) => {
                for r in batch {
                    if st.current.as_ref().is_some_and(|(m, _, _)| *m != r.mdn) {
                        if let Some((m, n, p)) = st.current.take() {
                            out.push_str(&p.row(m, &n));
                        }
                    }
                    let cur = st
                        .current
                        .get_or_insert_with(|| (r.mdn, r.nickname.clone(), Proof::default()));
                    cur.2.add(r.month, &r.days, from, to);
                }
            }
            None => {
                st.done = true;
                if let Some((m, n, p)) = st.current.take() {
                    out.push_str(&p.row(m, &n));
                }
            }
        }
        Some((Ok(Bytes::from(out)), st))
    })
}

/// One line's days `from..=to` (unsampled days as empty cells).
pub async fn line_days(
    db: &Db,
    gid: i32,
    mdn: i64,
    from: Day,
    to: Day,
) -> Result<Vec<(Day, Cell)>, sqlx::Error> {
    let rows = db
        .usage_line_months(gid, mdn, from.month(), to.month())
        .await?;
    let by_month: HashMap<i32, Vec<u8>> = rows.into_iter().collect();
    Ok((from.0..=to.0)
        .map(|d| {
            let day = Day(d);
            let cell = by_month
                .get(&day.month())
                .map(|days| Cell::decode(days.get(day.cell() * super::CELL..).unwrap_or(&[])))
                .unwrap_or_default();
            (day, cell)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proof_counts_only_sampled_days_in_range() {
        let from = Day::parse("2026-03-02").unwrap();
        let to = Day::parse("2026-03-04").unwrap();
        let mut row = vec![0u8; super::super::ROW_BYTES];
        let put = |row: &mut Vec<u8>, i: usize, usage: u32| {
            let c = Cell {
                usage,
                status: 1,
                ..Default::default()
            };
            row[i * 16..(i + 1) * 16].copy_from_slice(&c.encode());
        };
        put(&mut row, 0, 500); // 03-01: out of range
        put(&mut row, 1, 0); // 03-02: sampled, unused
        put(&mut row, 3, 1234); // 03-04: used
        let mut p = Proof::default();
        p.add(from.month(), &row, from, to);
        assert_eq!(
            p,
            Proof {
                days_used: 1,
                usage: 1234,
                first_used: Some(to),
                last_used: Some(to),
                days_sampled: 2,
            }
        );
        assert_eq!(
            p.row(5_212_671_508, "Bus"),
            "521-267-1508,Bus,1,12.34,2026-03-04,2026-03-04,2\r\n"
        );
    }
}
