//! Taking samples: every instance's scheduler claims due tracked groups through the database
//! (one sample per interval however many instances run), samples each on the sign-in kept for
//! it (refreshed each time, with the roles granted then), and stores the result or the failure.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use futures::StreamExt;

use time::OffsetDateTime;

use super::sample::{self, SAMPLE_COLUMNS, Sample, split_labels};
use super::{Cell, Day, Running};
use crate::domain::{CorpId, ListQuery};
use crate::identity::grant;
use crate::state::AppState;
use crate::storage::later;
use crate::storage::usage::{DriftRow, GroupDay, LatestLine, LatestRow, StoredSample, Tracking};
use crate::upstream::{ListParams, UpstreamError};

/// How long a claim on a due group lasts (a dead instance's claim lapses after it).
const CLAIM: Duration = Duration::from_secs(600);
/// The longest back-off after failures (when the interval is longer, the interval).
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// What tracking says when the kept sign-in is gone.
pub const SIGN_IN_GONE: &str = "Tracking is paused: the sign-in kept for it is no longer valid (it expired or was revoked). Resume it to sample again with your sign-in.";

/// Claims and samples every group due now.
pub async fn run_due(state: &AppState) {
    loop {
        let now = OffsetDateTime::now_utc();
        match state
            .db
            .usage_claim_due(&state.instance_id, CLAIM, now)
            .await
        {
            Ok(Some(t)) => sample_one(state, &t).await,
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(error = %e, "looking for due samples failed");
                break;
            }
        }
    }
}

/// The next due time after a good sample: the next whole interval after `now` (late samples
/// do not pile up, and every instance agrees).
fn next_due(due: OffsetDateTime, now: OffsetDateTime, every: Duration) -> OffsetDateTime {
    let step = time::Duration::try_from(every).unwrap_or(time::Duration::HOUR);
    if step <= time::Duration::ZERO || due > now {
        return later(now, every);
    }
    let behind = (now - due).whole_milliseconds() / step.whole_milliseconds().max(1);
    due + step * (behind as i32 + 1).max(1)
}

/// When to try again after `failures` failures in a row (`Retry-After` first).
fn backoff(failures: i32, retry_after: Option<u64>, every: Duration) -> Duration {
    if let Some(s) = retry_after {
        return Duration::from_secs(s.clamp(1, 86_400));
    }
    let exp = Duration::from_secs(1u64 << failures.clamp(0, 12));
    exp.min(every).min(MAX_BACKOFF).max(Duration::from_secs(1))
}

/// Samples one claimed group; every outcome is stored (good, failed or paused).
async fn sample_one(state: &AppState, t: &Tracking) {
    let owner = &state.instance_id;
    let started = std::time::Instant::now();
    let now = OffsetDateTime::now_utc();
    let every = state.config.usage.sample_every;
    let fail = |message: String, retry_after: Option<u64>| {
        let retry = later(
            OffsetDateTime::now_utc(),
            backoff(t.failures + 1, retry_after, every),
        );
        let elapsed = started.elapsed().as_millis() as i64;
        async move {
            tracing::warn!(corp = %t.corp_id, reason = %message, "a usage sample failed");
            if let Err(e) = state
                .db
                .usage_sample_failed(t, owner, now, elapsed, &message, retry)
                .await
            {
                tracing::error!(corp = %t.corp_id, error = %e, "a failed sample could not be recorded");
            }
        }
    };
    let Ok(corp) = CorpId::parse(&t.corp_id) else {
        return fail("The device group's id cannot be read.".into(), None).await;
    };
    let kept = match t.grant_id {
        Some(g) => grant::refreshed(state, g).await,
        None => Ok(None),
    };
    let kept = match kept {
        Ok(Some(k)) => k,
        Ok(None) => return pause(state, t, SIGN_IN_GONE).await,
        Err(e) => return fail(format!("The kept sign-in could not be read: {e}"), None).await,
    };
    if let Err(refused) = kept.principal.check_tracking(&corp) {
        let msg = format!(
            "Tracking is paused: {} Resume it as a user who may track this group.",
            refused.0
        );
        return pause(state, t, &msg).await;
    }
    let token = secrecy::SecretString::from(kept.tokens.access.expose().to_owned());
    let params = ListParams::from(&ListQuery::default());
    // Room for as many lines as last time.
    let expected = state
        .db
        .usage_latest_count(t.gid)
        .await
        .map_or(0, |n| usize::try_from(n).unwrap_or(0));
    let read = async {
        let stream = state
            .upstream
            .export_devices_csv(&token, &corp, &params, &SAMPLE_COLUMNS)
            .await?;
        sample::read(stream, state.config.upstream_timeout, expected).await
    };
    let lines = match read.await {
        Ok(l) => l,
        Err(UpstreamError::Status { message, .. })
            if message.to_ascii_uppercase().contains("NO DEVICES FOUND") =>
        {
            Sample::default()
        }
        Err(e) => {
            let retry_after = match &e {
                UpstreamError::Status { retry_after, .. } => *retry_after,
                _ => None,
            };
            return fail(e.to_string(), retry_after).await;
        }
    };
    let result = async {
        let day = state.config.usage.zone.day_of(now);
        let mut stored = compute(state, t, lines, day, now).await?;
        stored.elapsed_ms = started.elapsed().as_millis() as i64;
        stored.next_due = Some(next_due(t.next_due, OffsetDateTime::now_utc(), every));
        state.db.usage_store_sample(t, owner, &stored).await?;
        let retention = time::Duration::days(i64::from(state.config.usage.raw_retention_days));
        state.db.usage_prune_raw(now - retention).await?;
        Ok::<_, sqlx::Error>(stored.lines.len())
    };
    match result.await {
        Ok(n) => tracing::info!(
            corp = %t.corp_id,
            lines = n,
            ms = started.elapsed().as_millis() as u64,
            "usage sampled"
        ),
        Err(e) => fail(format!("The sample could not be stored: {e}"), None).await,
    }
}

async fn pause(state: &AppState, t: &Tracking, message: &str) {
    tracing::warn!(corp = %t.corp_id, "usage tracking paused: {message}");
    if let Err(e) = state.db.usage_pause(&t.corp_id, message).await {
        tracing::error!(corp = %t.corp_id, error = %e, "tracking could not be paused");
    }
    // The list pages say so at once.
    state.tracking.invalidate(&t.corp_id);
}

/// A group's day figures being summed.
#[derive(Default)]
struct Figures(HashMap<(i16, i32), GroupDay>);

impl Figures {
    fn add(&mut self, dim: i16, name: i32, usage: u32) {
        let g = self.0.entry((dim, name)).or_insert(GroupDay {
            dim,
            name,
            usage: 0,
            used_lines: 0,
            sampled_lines: 0,
        });
        g.usage += i64::from(usage);
        g.used_lines += i32::from(usage > 0);
        g.sampled_lines += 1;
    }
}

/// What a field of the export was, as text, for drift (limits as MB with two decimals).
fn limit_text(v: Option<i64>) -> String {
    v.map(|v| super::mb(v.max(0) as u64)).unwrap_or_default()
}

/// Turns a sample into what is stored: each line's running day and day cell, the group's day
/// figures, and drift against the previous sample that no change set explains.
pub async fn compute(
    state: &AppState,
    t: &Tracking,
    sample: Sample,
    day: Day,
    now: OffsetDateTime,
) -> Result<StoredSample, sqlx::Error> {
    let Sample {
        lines,
        names: shared,
    } = sample;
    // Every value the lines share is in the sample's table once: the names are read from it,
    // not from each line.
    let mut names: BTreeSet<&str> = BTreeSet::new();
    for (_, v) in shared.all() {
        names.insert(v);
        names.extend(split_labels(v));
    }
    let names: Vec<&str> = names.into_iter().collect();
    let ids = state.db.usage_names(&names).await?;
    let by_id: HashMap<i32, &str> = ids.iter().map(|(n, i)| (*i, n.as_str())).collect();
    let id = |n: &str| ids.get(n).copied().unwrap_or(0);
    // The history's number of each shared value, and of each label list's labels.
    let stored_id: Vec<i32> = shared.all().map(|(_, v)| id(v)).collect();
    let label_ids: Vec<Vec<i32>> = shared
        .all()
        .map(|(_, v)| split_labels(v).map(id).collect())
        .collect();
    let sid = |n: sample::NameId| stored_id.get(n as usize).copied().unwrap_or(0);
    // Both in MDN order: the previous sample is read as a stream beside the new one (never held
    // whole, no map of it).
    let mut prev = Box::pin(state.db.usage_latest_for_sample(t.gid).peekable());
    let mut out = StoredSample {
        taken_at: Some(now),
        day: day.0,
        previous_at: t.last_ok_at,
        ..Default::default()
    };
    out.lines.reserve(lines.len());
    out.cells.reserve(lines.len());
    out.raw.reserve(lines.len() * 16);
    let mut figures = Figures::default();
    for l in lines {
        let mdn = l.mdn as i64;
        let before = previous(prev.as_mut(), mdn).await?;
        let running = match &before {
            Some(p) => Running {
                day: Day(p.day),
                samples: p.samples.max(0) as u32,
                growth: p.growth.max(0) as u64,
                month_used: p.month_used.clamp(0, i64::from(u32::MAX)) as u32,
                day_used: p.day_used.clamp(0, i64::from(u32::MAX)) as u32,
                first_day: Day(p.first_day),
                used_before: p.last_used_day.map(Day),
            }
            .next(day, l.month_used, l.day_used),
            None => Running::first(day, l.month_used, l.day_used),
        };
        let (status, fg) = (sid(l.status), sid(l.filter_group));
        let (network, device) = (sid(l.network), sid(l.device));
        let usage = running.usage();
        figures.add(0, 0, usage);
        figures.add(1, fg, usage);
        figures.add(2, device, usage);
        figures.add(3, network, usage);
        figures.add(4, status, usage);
        for label in label_ids.get(l.labels as usize).into_iter().flatten() {
            figures.add(5, *label, usage);
        }
        let row = LatestLine {
            mdn,
            status,
            filter_group: fg,
            network,
            device,
            month_used: l.month_used,
            day_used: l.day_used,
            last30_used: l.last30_used,
            monthly_limit: l.monthly_limit,
            daily_limit: l.daily_limit,
            day: running.day.0,
            samples: running.samples as i32,
            growth: running.growth.min(i64::MAX as u64) as i64,
            first_day: running.first_day.0,
            last_used_day: running.used_before.map(|d| d.0),
            nickname: l.nickname,
            labels: shared.shared(l.labels),
            summer_status: shared.shared(l.summer_status),
            media_center_status: shared.shared(l.media_center_status),
        };
        if let Some(p) = &before {
            let name = |i: i32| by_id.get(&i).copied().unwrap_or("").to_owned();
            let mut seen = |field: &'static str, b: String, a: String| {
                if b != a {
                    out.drift.push(DriftRow {
                        mdn,
                        field,
                        before: b,
                        after: a,
                    });
                }
            };
            seen("STATUS", name(p.status), name(row.status));
            seen("NICKNAME", p.nickname.clone(), row.nickname.to_string());
            seen("FILTER_GROUP", name(p.filter_group), name(row.filter_group));
            seen(
                "MONTHLY_LIMIT",
                limit_text(p.monthly_limit),
                limit_text(row.monthly_limit.map(i64::from)),
            );
            seen(
                "DAILY_LIMIT",
                limit_text(p.daily_limit),
                limit_text(row.daily_limit.map(i64::from)),
            );
        }
        out.cells.push(
            Cell {
                usage,
                status: status.clamp(0, i32::from(u16::MAX)) as u16,
                filter_group: fg.clamp(0, i32::from(u16::MAX)) as u16,
                monthly_limit: l.monthly_limit,
                daily_limit: l.daily_limit,
            }
            .encode(),
        );
        out.raw.extend_from_slice(&l.mdn.to_le_bytes());
        out.raw.extend_from_slice(&l.month_used.to_le_bytes());
        out.raw.extend_from_slice(&l.day_used.to_le_bytes());
        out.lines.push(row);
    }
    // Its database connection back to the pool before the next query.
    drop(prev);
    if !out.drift.is_empty() {
        let from = t.last_ok_at.unwrap_or(now);
        let explained = state.db.usage_explained_mdns(&t.corp_id, from, now).await?;
        out.drift
            .retain(|d| !explained.contains(&(d.mdn.max(0) as u64)));
    }
    let mut days: Vec<GroupDay> = figures.0.into_values().collect();
    days.sort_by_key(|g| (g.dim, g.name));
    out.group_days = days;
    Ok(out)
}

/// The previous sample's row of line `mdn`, read from the stream `prev` (in MDN order), past the
/// rows of lines gone since.
async fn previous<S>(
    mut prev: std::pin::Pin<&mut futures::stream::Peekable<S>>,
    mdn: i64,
) -> Result<Option<LatestRow>, sqlx::Error>
where
    S: futures::Stream<Item = Result<LatestRow, sqlx::Error>>,
{
    loop {
        match prev.as_mut().peek().await {
            None => return Ok(None),
            Some(Ok(p)) if p.mdn > mdn => return Ok(None),
            Some(_) => {}
        }
        match prev.as_mut().next().await {
            Some(Ok(p)) if p.mdn == mdn => return Ok(Some(p)),
            // A line gone since the previous sample.
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e),
            None => return Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn next_due_is_the_next_whole_interval() {
        let due = datetime!(2026-01-01 10:00 UTC);
        let hour = Duration::from_secs(3600);
        assert_eq!(
            next_due(due, datetime!(2026-01-01 10:00:05 UTC), hour),
            datetime!(2026-01-01 11:00 UTC)
        );
        assert_eq!(
            next_due(due, datetime!(2026-01-01 13:30 UTC), hour),
            datetime!(2026-01-01 14:00 UTC)
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_interval_and_obeys_retry_after() {
        let hour = Duration::from_secs(3600);
        assert_eq!(backoff(1, None, hour), Duration::from_secs(2));
        assert_eq!(backoff(3, None, hour), Duration::from_secs(8));
        assert_eq!(backoff(30, None, hour), hour);
        assert_eq!(
            backoff(1, None, Duration::from_secs(1)),
            Duration::from_secs(1)
        );
        assert_eq!(backoff(1, Some(7), hour), Duration::from_secs(7));
    }
}
