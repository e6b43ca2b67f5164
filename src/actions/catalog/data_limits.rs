//! Set data limits: `update_data_limits`, a monthly and a daily limit (GB or MB, or none), each
//! of them may be left as each line has it (the operation takes both: the line's own is sent).

use async_trait::async_trait;

use super::field::{Field, FieldValue, Kind, Values};
use super::{Action, Call, Change, RevertCtx, RevertLine, limit_text, selection_of};
use crate::actions::input::Target;
use super::RunError;
use crate::domain::{Column, data_limit};
use crate::policy::Operation;
use crate::upstream::wire::{DataLimitsChange, Device, WriteResult};

pub struct DataLimits;
pub static ACTION: DataLimits = DataLimits;

const FIELDS: &[Field] = &[
    Field::new("monthlyLimit", "Monthly limit", "monthly limit", Kind::Limit),
    Field::new("dailyLimit", "Daily limit", "daily limit", Kind::Limit),
];

const LIMITS: [&str; 2] = ["monthlyLimit", "dailyLimit"];

/// A limit's new value in words: "10 GB", "No limit", "unchanged".
fn change_text(v: &Values, name: &str) -> String {
    match v.limit_change(name) {
        Some(l) => limit_text(l),
        None => "unchanged".into(),
    }
}

fn both(monthly: Option<f64>, daily: Option<f64>) -> String {
    format!("{} / {}", limit_text(monthly), limit_text(daily))
}

/// Reads back what [`both`] wrote ("10 GB / No limit"; older entries "10240 MB / No limit").
fn read_both(text: &str) -> Result<[Option<f64>; 2], String> {
    let bad = || format!("“{text}” is not a pair of limits this console wrote.");
    let (monthly, daily) = text.split_once(" / ").ok_or_else(bad)?;
    let m = data_limit::parse(monthly).map_err(|_| bad())?;
    let d = data_limit::parse(daily).map_err(|_| bad())?;
    Ok([m, d])
}

#[async_trait]
impl Action for DataLimits {
    fn slug(&self) -> &'static str {
        "data-limits"
    }
    fn label(&self) -> &'static str {
        "Set data limits"
    }
    fn menu_position(&self) -> u8 {
        60
    }
    fn operation(&self) -> Operation {
        Operation::UpdateDataLimits
    }
    fn fields(&self) -> &'static [Field] {
        FIELDS
    }
    fn summary(&self, v: &Values) -> String {
        let part = |name: &str, label: &str| match v.limit_change(name) {
            Some(l) => format!("{label} limit → {}", limit_text(l)),
            None => format!("{} limit unchanged", label.to_lowercase()),
        };
        format!("{}, {}", part("monthlyLimit", "Monthly"), part("dailyLimit", "Daily"))
    }
    fn before(&self, d: &Device) -> String {
        both(d.monthly_limit, d.daily_limit)
    }
    fn before_columns(&self) -> &'static [Column] {
        &[Column::MonthlyLimit, Column::DailyLimit]
    }
    fn after(&self, v: &Values) -> String {
        format!(
            "{} / {}",
            change_text(v, "monthlyLimit"),
            change_text(v, "dailyLimit")
        )
    }
    /// The operation takes both limits: a limit left unchanged is sent as each line has it.
    fn per_line(&self, v: &Values) -> bool {
        LIMITS.iter().any(|n| v.limit_change(n).is_none())
    }
    fn for_line(&self, v: &Values, before: &str) -> Result<Values, String> {
        if !self.per_line(v) {
            return Ok(v.clone());
        }
        let now = read_both(before)?;
        let mut out = v.clone();
        for (name, current) in LIMITS.into_iter().zip(now) {
            if v.limit_change(name).is_none() {
                out = out.with(name, FieldValue::Limit(current));
            }
        }
        Ok(out)
    }
    fn unread_reason(&self) -> String {
        "Not sent: this line's current limits could not be read from Sentinel, and the operation sets both limits (the one left unchanged would have been overwritten).".into()
    }
    /// Reads back what [`Action::before`] wrote: "10 GB / No limit".
    fn revert(&self, line: &RevertLine<'_>, ctx: &RevertCtx<'_>) -> Result<Change, String> {
        let values: Vec<String> = read_both(line.before)?
            .iter()
            .map(|l| l.map(|mb| mb.to_string()).unwrap_or_default())
            .collect();
        let mut pairs = Vec::new();
        for (name, mb) in LIMITS.into_iter().zip(&values) {
            if mb.is_empty() {
                pairs.push((if name == "monthlyLimit" { "monthlyLimitNone" } else { "dailyLimitNone" }, "true"));
            } else {
                pairs.push((name, mb.as_str()));
            }
        }
        super::set_back(self.slug(), &pairs, ctx)
    }
    async fn send(&self, to: Call<'_>, v: &Values, target: &Target) -> Result<WriteResult, RunError> {
        // Both limits, always: a limit left unchanged was filled in per line ([`Action::for_line`]).
        let (Some(monthly_limit), Some(daily_limit)) =
            (v.limit_change("monthlyLimit"), v.limit_change("dailyLimit"))
        else {
            return Err(RunError::Mismatch);
        };
        let body = DataLimitsChange {
            selection: selection_of(target)?,
            monthly_limit,
            daily_limit,
        };
        Ok(to.upstream.update_data_limits(to.token, to.corp, &body).await?)
    }
}
