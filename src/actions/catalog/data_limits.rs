//! Set data limits: `update_data_limits`, a monthly and a daily limit in MB (or none).

use async_trait::async_trait;

use super::field::{Field, Kind, Values};
use super::{Action, Call, Change, RevertCtx, RevertLine, limit_text, selection_of};
use crate::actions::input::Target;
use super::RunError;
use crate::domain::Column;
use crate::policy::Operation;
use crate::upstream::wire::{DataLimitsChange, Device, WriteResult};

pub struct DataLimits;
pub static ACTION: DataLimits = DataLimits;

const FIELDS: &[Field] = &[
    Field::new("monthlyLimit", "MB per month", "monthly limit", Kind::Limit),
    Field::new("dailyLimit", "MB per day", "daily limit", Kind::Limit),
];

fn both(monthly: Option<f64>, daily: Option<f64>) -> String {
    format!("{} / {}", limit_text(monthly), limit_text(daily))
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
        format!(
            "Monthly limit → {}, daily limit → {}",
            limit_text(v.limit("monthlyLimit")),
            limit_text(v.limit("dailyLimit"))
        )
    }
    fn before(&self, d: &Device) -> String {
        both(d.monthly_limit, d.daily_limit)
    }
    fn before_columns(&self) -> &'static [Column] {
        &[Column::MonthlyLimit, Column::DailyLimit]
    }
    fn after(&self, v: &Values) -> String {
        both(v.limit("monthlyLimit"), v.limit("dailyLimit"))
    }
    /// Reads back what [`Action::before`] wrote: "10240 MB / No limit".
    fn revert(&self, line: &RevertLine<'_>, ctx: &RevertCtx<'_>) -> Result<Change, String> {
        let bad = || format!("“{}” is not a pair of limits this console wrote.", line.before);
        let (monthly, daily) = line.before.split_once(" / ").ok_or_else(bad)?;
        let mut pairs = Vec::new();
        for (name, none, text) in [
            ("monthlyLimit", "monthlyLimitNone", monthly),
            ("dailyLimit", "dailyLimitNone", daily),
        ] {
            if text.trim() == "No limit" {
                pairs.push((none, "true"));
            } else {
                let mb = text.trim().strip_suffix(" MB").ok_or_else(bad)?;
                pairs.push((name, mb.trim()));
            }
        }
        super::set_back(self.slug(), &pairs, ctx)
    }
    async fn send(&self, to: Call<'_>, v: &Values, target: &Target) -> Result<WriteResult, RunError> {
        let body = DataLimitsChange {
            selection: selection_of(target)?,
            monthly_limit: v.limit("monthlyLimit"),
            daily_limit: v.limit("dailyLimit"),
        };
        Ok(to.upstream.update_data_limits(to.token, to.corp, &body).await?)
    }
}
