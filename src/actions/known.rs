//! The values a device group's lines have for a field (its filter groups): read from one export of that column, kept a minute per group, suggested by the form and checked by the preview.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use secrecy::SecretString;

use super::befores::{DeviceReader, sorted};
use crate::domain::{Column, CorpId};
use crate::policy::{Operation, Principal};
use crate::state::AppState;
use crate::upstream::wire::Device;

/// How long a group's values are kept before they are read again.
const KEEP: Duration = Duration::from_secs(60);
/// Most distinct values kept (a free-text column would otherwise grow without bound).
const MAX_VALUES: usize = 200;

type Key = (String, &'static str);
type Kept = (Instant, Arc<Vec<String>>);
/// How a field's value is read off a line.
type ReadField = fn(&Device) -> Option<&str>;
static CACHE: LazyLock<Mutex<HashMap<Key, Kept>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// The column of a field whose values come from the lines, and how to read it off a line.
fn reader(column: Column) -> Option<(&'static str, ReadField)> {
    match column {
        Column::FilterGroup => Some(("filter", |d| d.filter_group.as_deref())),
        _ => None,
    }
}

/// The distinct values of `column` among `corp`'s lines, sorted; empty when the user may not
/// list the group, the column is not one read here, or Sentinel could not be read (a
/// suggestion, never a reason to fail a page).
pub async fn values(
    state: &AppState,
    user: &Principal,
    token: &SecretString,
    corp: &CorpId,
    column: Column,
) -> Arc<Vec<String>> {
    let Some((name, value_of)) = reader(column) else {
        return Arc::default();
    };
    if !user.can(Operation::ListDevices, corp) {
        return Arc::default();
    }
    let key = (corp.to_string(), name);
    if let Ok(cache) = CACHE.lock() {
        if let Some((at, v)) = cache.get(&key) {
            if at.elapsed() < KEEP {
                return v.clone();
            }
        }
    }
    let read = async {
        let mut stream = state
            .upstream
            .export_devices_csv(
                token,
                corp,
                &sorted(0, 25, None, vec![]),
                &[Column::Mdn, column],
            )
            .await?;
        // Case-insensitively distinct, keeping the first spelling seen.
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        let mut reader = DeviceReader::default();
        let mut devices = Vec::new();
        while let Some(chunk) = stream.next().await {
            reader.push(&chunk?, &mut devices)?;
            for d in devices.drain(..) {
                if let Some(v) = value_of(&d).map(str::trim).filter(|v| !v.is_empty()) {
                    if seen.len() < MAX_VALUES {
                        seen.entry(v.to_lowercase()).or_insert_with(|| v.to_owned());
                    }
                }
            }
        }
        reader.finish(&mut devices);
        for d in &devices {
            if let Some(v) = value_of(d).map(str::trim).filter(|v| !v.is_empty()) {
                seen.entry(v.to_lowercase()).or_insert_with(|| v.to_owned());
            }
        }
        Ok::<_, crate::upstream::UpstreamError>(seen.into_values().collect::<Vec<String>>())
    };
    match read.await {
        Ok(v) => {
            let v = Arc::new(v);
            if let Ok(mut cache) = CACHE.lock() {
                cache.insert(key, (Instant::now(), v.clone()));
            }
            v
        }
        Err(e) => {
            tracing::debug!(error = %e, corp = %corp, "the group's values could not be read");
            Arc::default()
        }
    }
}

/// A line as a selection names it: its nickname (when it has one) and MDN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedLine {
    pub mdn: String,
    pub nickname: Option<String>,
}

/// Lines a selection is named by (the first few of it).
pub const NAMED: usize = 3;

type KeptName = (Instant, Option<String>);
static NICKNAMES: LazyLock<Mutex<HashMap<(String, String), KeptName>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The first [`NAMED`] of `mdns` with their nicknames: one search per line not read within a
/// minute, side by side; a line not read is named by its MDN alone.
pub async fn names(
    state: &AppState,
    user: &Principal,
    token: &SecretString,
    corp: &CorpId,
    mdns: &[String],
) -> Vec<NamedLine> {
    let first: Vec<String> = mdns.iter().take(NAMED).cloned().collect();
    if !user.can(Operation::ListDevices, corp) {
        return first
            .into_iter()
            .map(|mdn| NamedLine {
                mdn,
                nickname: None,
            })
            .collect();
    }
    let reads = first.into_iter().map(|mdn| async move {
        let key = (corp.to_string(), mdn.clone());
        if let Ok(cache) = NICKNAMES.lock() {
            if let Some((at, nick)) = cache.get(&key) {
                if at.elapsed() < KEEP {
                    return NamedLine {
                        mdn,
                        nickname: nick.clone(),
                    };
                }
            }
        }
        let p = sorted(0, 5, Some(mdn.clone()), vec![]);
        let nickname = match state.upstream.list_devices(token, corp, &p).await {
            Ok(page) => {
                let nick = page
                    .devices
                    .into_iter()
                    .find(|d| super::befores::canonical(&d.mdn) == mdn)
                    .and_then(|d| d.nickname)
                    .filter(|n| !n.trim().is_empty());
                if let Ok(mut cache) = NICKNAMES.lock() {
                    if cache.len() > 10_000 {
                        cache.clear();
                    }
                    cache.insert(key, (Instant::now(), nick.clone()));
                }
                nick
            }
            Err(_) => None,
        };
        NamedLine { mdn, nickname }
    });
    futures::future::join_all(reads).await
}

/// The same as [`names`] for lines already read (a preview's), no call made.
pub fn named_from(devices: &[&Device]) -> Vec<NamedLine> {
    devices
        .iter()
        .take(NAMED)
        .map(|d| NamedLine {
            mdn: super::befores::canonical(&d.mdn),
            nickname: d.nickname.clone().filter(|n| !n.trim().is_empty()),
        })
        .collect()
}

/// Is `value` one of `known` (compared without regard to case, as Sentinel does)?
pub fn is_known(known: &[String], value: &str) -> bool {
    known.iter().any(|k| k.eq_ignore_ascii_case(value.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_compare_without_regard_to_case() {
        let known = vec!["Staff".to_owned(), "Student_HS".to_owned()];
        assert!(is_known(&known, "staff"));
        assert!(is_known(&known, " Student_HS "));
        assert!(!is_known(&known, "Staf"));
    }
}
