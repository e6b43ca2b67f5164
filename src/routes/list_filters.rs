//! A tracked group's list filtered from its latest sample (CONTRACT §6: `status`, `network`,
//! `filterGroup`, `device`), and such a list's "select all" turned into its explicit lines.

use crate::actions::MAX_LIST;
use crate::actions::form::RawForm;
use crate::domain::{CorpId, ListFilter, ListQuery, SortDir, SortField};
use crate::error::AppError;
use crate::state::AppState;
use crate::storage::usage::SnapshotOrder;
use crate::upstream::wire::Device;
use crate::usage::mdn_text;
use crate::usage::snapshot::Snapshot;
use crate::views::list_filters::device_of;

/// The group's latest sample when it is tracked and has one.
pub async fn snapshot(state: &AppState, corp: &CorpId) -> Result<Option<Snapshot>, AppError> {
    let Some(t) = listed_tracking(state, corp).await? else {
        return Ok(None);
    };
    Ok(Snapshot::of(&state.db, &state.snapshots, &t).await?)
}

/// A group's tracking as the list pages read it: reused for a moment (see
/// [`crate::storage::usage::TrackingCache`]).
pub async fn listed_tracking(
    state: &AppState,
    corp: &CorpId,
) -> Result<Option<crate::storage::usage::Tracking>, AppError> {
    if let Some(t) = state.tracking.get(corp.as_str()) {
        return Ok(t);
    }
    let t = state.db.usage_tracking(corp.as_str()).await?;
    state.tracking.insert(corp.as_str().to_owned(), t.clone());
    Ok(t)
}

/// Filters on a group that has no snapshot to read them from: a clear refusal.
pub fn untracked(corp: &CorpId) -> AppError {
    AppError::BadRequest(format!(
        "The list of {corp} can be filtered by status, network, filter group or device only while \
         its usage is tracked: the filters read the latest sample. Start tracking on the group's \
         usage page, or search the list instead."
    ))
}

fn order(sort: SortField) -> SnapshotOrder {
    match sort {
        SortField::Status => SnapshotOrder::Status,
        SortField::FilterGroup => SnapshotOrder::FilterGroup,
        SortField::DeviceName => SnapshotOrder::Device,
        SortField::MediaCenterStatus => SnapshotOrder::MediaCenter,
        SortField::MonthlyAmountUsed => SnapshotOrder::MonthUsed,
        SortField::DayAmountUsed => SnapshotOrder::DayUsed,
        SortField::Last30DaysUsed => SnapshotOrder::Last30,
        SortField::MonthlyLimit => SnapshotOrder::MonthlyLimit,
        SortField::DailyLimit => SnapshotOrder::DailyLimit,
        // Not kept in a sample: by MDN.
        SortField::Mdn | SortField::EsnHex | SortField::Uicc => SnapshotOrder::Mdn,
    }
}

/// One page of the filtered list (searched by MDN digits and nickname), and how many match.
pub async fn page(
    state: &AppState,
    corp: &CorpId,
    s: &Snapshot,
    q: &ListQuery,
) -> Result<(Vec<Device>, u64), AppError> {
    let w = s
        .resolve(&q.filter, q.search.as_str())
        .map_err(AppError::BadRequest)?;
    let (rows, total) = state
        .db
        .usage_snapshot_page(
            s.gid,
            &s.stamp,
            &w,
            order(q.sort),
            q.sort_dir == SortDir::Desc,
            q.offset.min(i64::MAX as u64) as i64,
            i64::from(q.limit.get()),
        )
        .await?;
    let devices = rows.iter().map(|r| device_of(s, corp, r)).collect();
    Ok((devices, total.max(0) as u64))
}

/// "Select all matching" on a filtered list: the snapshot's matching lines (less those unticked
/// on the page) as an explicit list of `mdns`, so a change never reaches a line the list did not
/// show. Any other form passes unchanged.
pub async fn explicit_selection(
    state: &AppState,
    corp: &CorpId,
    form: RawForm,
) -> Result<RawForm, AppError> {
    if !form.flag("select_all") {
        return Ok(form);
    }
    let pairs = form.echo_pairs();
    let filter =
        ListFilter::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())), "list_")?;
    if filter.is_empty() {
        return Ok(form);
    }
    let s = snapshot(state, corp)
        .await?
        .ok_or_else(|| untracked(corp))?;
    let w = s
        .resolve(&filter, form.value("list_searchValue"))
        .map_err(AppError::BadRequest)?;
    let ticked: Vec<&str> = form.all("mdns").collect();
    let unticked: Vec<String> = form
        .all("page_mdns")
        .flat_map(|v| v.split(','))
        .filter(|m| !m.is_empty() && !ticked.contains(m))
        .map(|m| m.chars().filter(char::is_ascii_digit).collect())
        .collect();
    let lines: Vec<String> = state
        .db
        .usage_snapshot_mdns(s.gid, &s.stamp, &w)
        .await?
        .into_iter()
        .filter(|m| !unticked.contains(&format!("{m:010}")))
        .map(|m| mdn_text(m as u64))
        .collect();
    if lines.is_empty() {
        return Err(AppError::BadRequest(
            "No line of the latest sample matches these filters any more: nothing is selected."
                .into(),
        ));
    }
    if lines.len() > MAX_LIST {
        return Err(AppError::BadRequest(format!(
            "{} lines match: at most {MAX_LIST} can be changed at once from a filtered list. \
             Narrow the filters.",
            lines.len()
        )));
    }
    let mut out: Vec<(String, String)> = pairs
        .into_iter()
        .filter(|(k, _)| {
            !k.starts_with("list_")
                && !matches!(
                    k.as_str(),
                    "select_all"
                        | "mdns"
                        | "page_mdns"
                        | "excluded_mdns"
                        | "searchValue"
                        | "labelIds"
                )
        })
        .collect();
    out.extend(lines.into_iter().map(|m| ("mdns".to_owned(), m)));
    Ok(RawForm::from_pairs(out))
}
