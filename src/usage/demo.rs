//! The demo's simulated history: at the first start of a demo console, `DEMO_HISTORY_DAYS` of
//! made-up days for `NORTHSTAR-ISD`, computed from one real sample of the embedded simulator and
//! labelled as simulated, so the first visit to the usage page is not empty. Never outside the demo.

use time::OffsetDateTime;

use super::Day;
use super::sample::{self, SAMPLE_COLUMNS, Sample, SampleLine};
use super::sampler::compute;
use crate::domain::{CorpId, ListQuery};
use crate::state::AppState;
use crate::upstream::ListParams;

/// The demo's tracked group.
pub const DEMO_GROUP: &str = "NORTHSTAR-ISD";

/// A made-up day of a line: MB (hundredths) from its last 30 days, a per-line rhythm, quiet
/// weekends, and a few lines idle for the last weeks.
fn made_up(l: &SampleLine, status: &str, day: Day, days_ago: i32) -> u32 {
    let h = l.mdn.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (day.0 as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let idle_lately = l.mdn % 7 == 0 && days_ago < 45;
    if l.last30_used == 0 || idle_lately || !status.eq_ignore_ascii_case("active") {
        return 0;
    }
    let weekend = matches!(
        day.date().weekday(),
        time::Weekday::Saturday | time::Weekday::Sunday
    );
    let base = f64::from(l.last30_used) / 30.0;
    let noise = 0.3 + (h % 1_400) as f64 / 1_000.0;
    let v = base * noise * if weekend { 0.2 } else { 1.0 };
    v.round().clamp(0.0, f64::from(u32::MAX / 4)) as u32
}

/// Fills the simulated history once (nothing when the group has any history already).
pub async fn fill(state: AppState, token: secrecy::SecretString) {
    if let Err(e) = try_fill(&state, &token).await {
        tracing::warn!(error = %e, "the demo's simulated history could not be filled in");
    }
}

async fn try_fill(state: &AppState, token: &secrecy::SecretString) -> anyhow::Result<()> {
    let days = state.config.usage.demo_history_days as i32;
    if days == 0 || state.db.usage_tracking(DEMO_GROUP).await?.is_some() {
        return Ok(());
    }
    let corp = CorpId::parse(DEMO_GROUP)?;
    let stream = state
        .upstream
        .export_devices_csv(
            token,
            &corp,
            &ListParams::from(&ListQuery::default()),
            &SAMPLE_COLUMNS,
        )
        .await?;
    let read = sample::read(stream, state.config.upstream_timeout, 0).await?;
    let lines = &read.lines;
    let Some(t) = state.db.usage_track_history_only(DEMO_GROUP).await? else {
        return Ok(());
    };
    let now = OffsetDateTime::now_utc();
    let today = state.config.usage.zone.day_of(now);
    let mut month_used: Vec<u32> = vec![0; lines.len()];
    for ago in (1..=days).rev() {
        let day = today.plus(-ago);
        let at = now - time::Duration::days(i64::from(ago));
        let sampled: Vec<SampleLine> = lines
            .iter()
            .zip(month_used.iter_mut())
            .map(|(l, m)| {
                let used = made_up(l, read.names.get(l.status), day, ago);
                *m = if day.date().day() == 1 {
                    used
                } else {
                    m.saturating_add(used)
                };
                SampleLine {
                    day_used: used,
                    month_used: *m,
                    ..l.clone()
                }
            })
            .collect();
        let sample = Sample {
            lines: sampled,
            names: read.names.clone(),
        };
        let mut stored = compute(state, &t, sample, day, at).await?;
        stored.drift.clear();
        state.db.usage_store_sample(&t, "", &stored).await?;
    }
    state.db.usage_mark_simulated(t.gid, today.0).await?;
    tracing::info!(
        days,
        lines = lines.len(),
        "demo: simulated usage history filled in"
    );
    Ok(())
}
