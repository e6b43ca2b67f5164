//! Usage that moves with the clock: per line a steady profile (heavy, light, or idle for weeks),
//! today's usage back to zero at midnight UTC and this month's at the line's billing-cycle day;
//! and the test hooks that add usage or start a new billing cycle on one line.

use std::time::Duration;

use time::OffsetDateTime;

use super::data::Line;
use super::{Simulator, lock};

/// The groups whose usage the clock moves (the large one stays as generated: 100,000 changed
/// lines would each be kept in full).
const MOVING: &[&str] = &["NORTHSTAR-ISD", "NORTHSTAR-ISD-HS"];

/// A line's profile from its MDN: MB per day (0: idle for weeks) and its billing-cycle day.
fn profile(mdn: &str) -> (f64, u8) {
    let h = mdn.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let rate = match h % 10 {
        0 | 1 => 0.0,
        2..=6 => 20.0 + (h >> 8) as f64 % 80.0,
        _ => 500.0 + (h >> 8) as f64 % 2_500.0,
    };
    (rate, ((h >> 20) % 28) as u8 + 1)
}

/// Adds `mb` of usage to a line (today, this month, the last 30 days).
fn add(l: &mut Line, mb: f64) {
    l.day_used += mb;
    l.monthly_used += mb;
    l.last30_used += mb;
}

impl Simulator {
    /// Adds `mb` of usage to a line now (tests). `false`: no such line.
    pub fn add_usage(&self, corp: &str, mdn: &str, mb: f64) -> bool {
        self.change_line(corp, mdn, |l| add(l, mb))
    }

    /// A new billing cycle starts for a line: this month's usage back to zero (tests).
    pub fn new_billing_cycle(&self, corp: &str, mdn: &str) -> bool {
        self.change_line(corp, mdn, |l| l.monthly_used = 0.0)
    }

    fn change_line(&self, corp: &str, mdn: &str, f: impl FnOnce(&mut Line)) -> bool {
        let mut world = lock(&self.inner.world);
        let Some(g) = world.group_mut(corp) else {
            return false;
        };
        let Some(id) = g.find_mdn(mdn) else {
            return false;
        };
        let Some(mut line) = g.line(id) else {
            return false;
        };
        f(&mut line);
        g.set(id, line);
        true
    }

    /// Moves the small groups' usage every `every` for the life of the process (the demo and
    /// the standalone simulator).
    pub fn start_usage_clock(&self, every: Duration) {
        let sim = self.clone();
        tokio::spawn(async move {
            let mut last = OffsetDateTime::now_utc();
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let now = OffsetDateTime::now_utc();
                sim.advance_usage(last, now);
                last = now;
            }
        });
    }

    /// Usage from `from` to `to`: each active line's profile, midnights and cycle days crossed.
    fn advance_usage(&self, from: OffsetDateTime, to: OffsetDateTime) {
        let days = (to - from).as_seconds_f64() / 86_400.0;
        let new_day = to.date() != from.date();
        let mut world = lock(&self.inner.world);
        for corp in MOVING {
            let Some(g) = world.group_mut(corp) else {
                continue;
            };
            let ids: Vec<u32> = g.ids().collect();
            for id in ids {
                let Some(mut l) = g.line(id) else { continue };
                let (rate, cycle_day) = profile(&l.mdn);
                if new_day {
                    l.day_used = 0.0;
                    if to.day() == cycle_day {
                        l.monthly_used = 0.0;
                    }
                }
                if l.status.eq_ignore_ascii_case("active") && rate > 0.0 {
                    add(&mut l, (rate * days * 100.0).round() / 100.0);
                }
                g.set(id, l);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::SimConfig;

    fn sim() -> Simulator {
        Simulator::new(SimConfig {
            large_group_size: 10,
            token_ttl: Duration::from_secs(60),
            redirect_uris: Vec::new(),
            control_endpoints: false,
        })
    }

    #[test]
    fn usage_moves_and_cycles_reset() {
        let s = sim();
        let before = s.device("NORTHSTAR-ISD", "521-267-1508").unwrap();
        assert!(s.add_usage("NORTHSTAR-ISD", "521-267-1508", 12.5));
        let after = s.device("NORTHSTAR-ISD", "521-267-1508").unwrap();
        let month = |d: &crate::simulator::Device| d.monthly_amount_used.unwrap_or_default();
        assert!((month(&after) - month(&before) - 12.5).abs() < 1e-6);
        assert!(s.new_billing_cycle("NORTHSTAR-ISD", "521-267-1508"));
        assert_eq!(
            month(&s.device("NORTHSTAR-ISD", "521-267-1508").unwrap()),
            0.0
        );
        let t0 = time::macros::datetime!(2026-03-01 10:00 UTC);
        s.advance_usage(t0, t0 + time::Duration::hours(24));
        let profiles: Vec<f64> = (0..200)
            .map(|i| profile(&format!("555-000-{i:04}")).0)
            .collect();
        assert!(profiles.contains(&0.0));
        assert!(profiles.iter().any(|r| *r > 500.0));
        assert!(profiles.iter().any(|r| *r > 0.0 && *r < 100.0));
    }
}
