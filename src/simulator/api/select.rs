//! The writes' common steps: the selected lines, applying a change to each, and the `WriteResult`.

use std::collections::HashSet;

use axum::Json;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::body::{bulk_filter, check_selection, decode, json_body, require_field};
use super::{ApiErr, begin};
use crate::simulator::data::Line;
use crate::simulator::idp::DemoUser;
use crate::simulator::rules::Op;
use crate::simulator::validate::{SortDir, SortField};
use crate::simulator::wire::{DeviceSelection, WriteFailure, WriteResult};
use crate::simulator::{Simulator, lock};

/// The selected line ids, plus the MDNs that are not in the group.
pub(super) fn resolve(
    sim: &Simulator,
    corp: &str,
    sel: &DeviceSelection,
) -> (Vec<u32>, Vec<WriteFailure>) {
    let mut world = lock(&sim.inner.world);
    let Some(g) = world.group_mut(corp) else {
        return (Vec::new(), Vec::new());
    };
    match sel {
        DeviceSelection::Mdns { mdns } => {
            let mut seen = HashSet::new();
            let mut ids = Vec::new();
            let mut failed = Vec::new();
            for m in mdns {
                if !seen.insert(m.as_str().to_owned()) {
                    continue;
                }
                match g.find_mdn(m.as_str()) {
                    Some(id) => ids.push(id),
                    None => failed.push(WriteFailure {
                        mdn: m.as_str().to_owned(),
                        reason: "Device not found".into(),
                    }),
                }
            }
            (ids, failed)
        }
        DeviceSelection::Bulk { bulk_selection } => {
            let ids = g.query(SortField::Mdn, SortDir::Asc, &bulk_filter(bulk_selection));
            (ids.as_ref().clone(), Vec::new())
        }
    }
}

/// Applies `change` to each line; a line it refuses goes to `failed` with the reason.
pub(super) fn apply(
    sim: &Simulator,
    corp: &str,
    ids: &[u32],
    mut failed: Vec<WriteFailure>,
    mut change: impl FnMut(&mut Line) -> Result<(), String>,
) -> Response {
    let mut updated = 0;
    let mut world = lock(&sim.inner.world);
    if let Some(g) = world.group_mut(corp) {
        for id in ids {
            let Some(mut line) = g.line(*id) else {
                continue;
            };
            if let Some(reason) = g.refusal(*id) {
                failed.push(WriteFailure {
                    mdn: line.mdn.clone(),
                    reason: reason.to_owned(),
                });
                continue;
            }
            match change(&mut line) {
                Ok(()) => {
                    g.set(*id, line);
                    updated += 1;
                }
                Err(reason) => failed.push(WriteFailure {
                    mdn: line.mdn.clone(),
                    reason,
                }),
            }
        }
    }
    Json(WriteResult { updated, failed }).into_response()
}

pub(super) fn selection_write<T: DeserializeOwned>(
    sim: &Simulator,
    headers: &HeaderMap,
    corp: &str,
    op: Op,
    body: &[u8],
    required: &[&str],
) -> Result<(&'static DemoUser, &'static str, Value, T), ApiErr> {
    let (user, corp) = begin(sim, headers, corp, op)?;
    let v = json_body(body)?;
    check_selection(&v)?;
    for r in required {
        require_field(&v, r)?;
    }
    let parsed = decode(v.clone())?;
    Ok((user, corp, v, parsed))
}
