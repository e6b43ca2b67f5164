//! A chunk's outcome as stored, and the change set's outcome summed from its chunks.

use crate::actions::run::Outcome;
use crate::outcome::ChangeResult;
use crate::storage::jobs::ChunkOutcome;
use crate::upstream::wire::WriteFailure;

pub fn to_chunk_outcome(i: usize, o: &Outcome) -> ChunkOutcome {
    ChunkOutcome {
        chunk: i32::try_from(i).unwrap_or(i32::MAX),
        updated: i64::try_from(o.updated).unwrap_or(i64::MAX),
        failed: o
            .failed
            .iter()
            .map(|f| (f.mdn.clone(), f.reason.clone()))
            .collect(),
        unknown: o.unknown.clone(),
        upstream_status: o.upstream_status.map(i32::from),
        error: o.error.clone(),
    }
}

pub fn from_chunk_outcome(c: &ChunkOutcome) -> Outcome {
    let mut o = Outcome {
        updated: u64::try_from(c.updated).unwrap_or_default(),
        failed: c
            .failed
            .iter()
            .map(|(mdn, reason)| WriteFailure {
                mdn: mdn.clone(),
                reason: reason.clone(),
            })
            .collect(),
        unknown: c.unknown.clone(),
        upstream_status: c.upstream_status.and_then(|s| u16::try_from(s).ok()),
        error: c.error.clone(),
        ..Default::default()
    };
    o.outcome = if o.upstream_status == Some(403) {
        ChangeResult::Refused
    } else {
        o.classify()
    };
    o
}

/// Sums recorded chunks into the job's outcome.
pub fn summarise(chunks: &[ChunkOutcome]) -> Outcome {
    let mut total = Outcome::default();
    for c in chunks {
        total.absorb(from_chunk_outcome(c));
    }
    if total.outcome != ChangeResult::Refused || total.updated > 0 {
        total.outcome = total.classify();
    }
    total
}
