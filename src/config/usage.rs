//! The history's settings (CONTRACT §6): sampling interval, raw retention, time zone, line cost, demo history.

use std::time::Duration;

use super::{ConfigError, var};
use crate::domain::day::Zone;

/// `USAGE_*`, `LINE_MONTHLY_COST`, `COST_CURRENCY` and `DEMO_HISTORY_DAYS`.
#[derive(Debug, Clone)]
pub struct UsageSettings {
    /// `USAGE_SAMPLE_SECS`: how often a tracked group is sampled (all instances together).
    pub sample_every: Duration,
    /// `USAGE_RAW_RETENTION_DAYS`: how long raw samples are kept.
    pub raw_retention_days: u32,
    /// `USAGE_TIME_ZONE`: whose midnight ends a usage day.
    pub zone: Zone,
    /// `LINE_MONTHLY_COST` in hundredths (cents); `None`: costs are not shown.
    pub line_monthly_cost: Option<u64>,
    /// `COST_CURRENCY`: the sign printed before a cost.
    pub currency: String,
    /// `DEMO_HISTORY_DAYS`: days of simulated history the demo fills in at first start.
    pub demo_history_days: u32,
}

impl Default for UsageSettings {
    fn default() -> Self {
        Self {
            sample_every: Duration::from_secs(3600),
            raw_retention_days: 14,
            zone: Zone::default(),
            line_monthly_cost: None,
            currency: "$".into(),
            demo_history_days: 90,
        }
    }
}

fn number(name: &str, max: u64) -> Result<Option<u64>, ConfigError> {
    var(name)
        .map(|v| {
            v.parse::<u64>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| ConfigError(format!("{name}={v:?} is not a number from 1 to {max}")))
        })
        .transpose()
}

/// `12.50` as 1250 hundredths.
fn cost(v: &str) -> Option<u64> {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if int.is_empty()
        || frac.len() > 2
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let frac = format!("{frac:0<2}");
    int.parse::<u64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(frac.parse().ok()?)
}

impl UsageSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let d = Self::default();
        Ok(Self {
            sample_every: number("USAGE_SAMPLE_SECS", 366 * 86_400)?
                .map_or(d.sample_every, Duration::from_secs),
            raw_retention_days: number("USAGE_RAW_RETENTION_DAYS", 3650)?
                .map_or(d.raw_retention_days, |n| n as u32),
            zone: match var("USAGE_TIME_ZONE") {
                Some(v) => {
                    Zone::parse(&v).map_err(|e| ConfigError(format!("USAGE_TIME_ZONE: {e}")))?
                }
                None => d.zone,
            },
            line_monthly_cost: var("LINE_MONTHLY_COST")
                .map(|v| {
                    cost(&v).ok_or_else(|| {
                        ConfigError(format!(
                            "LINE_MONTHLY_COST={v:?} is not an amount such as 15 or 12.50"
                        ))
                    })
                })
                .transpose()?,
            currency: var("COST_CURRENCY").unwrap_or(d.currency),
            demo_history_days: number("DEMO_HISTORY_DAYS", 3650)?
                .map_or(d.demo_history_days, |n| n as u32),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::cost;

    #[test]
    fn costs_are_decimal_amounts() {
        assert_eq!(cost("15"), Some(1500));
        assert_eq!(cost("12.5"), Some(1250));
        assert_eq!(cost("12.05"), Some(1205));
        for bad in ["", ".5", "1.234", "-1", "1e3", "abc"] {
            assert_eq!(cost(bad), None, "{bad}");
        }
    }
}
