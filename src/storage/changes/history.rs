//! One line's history: every change set of a device group that touched it, newest first, with
//! the line's own before → after and outcome (rows of its own, and select-all blocks).

use std::collections::HashSet;

use super::*;

/// Change sets a line's history shows at most.
pub const HISTORY_LIMIT: u32 = 50;

/// One change set that touched a line, and that line in it.
#[derive(Clone, Debug, PartialEq)]
pub struct LineChange {
    pub set: ChangeSet,
    pub line: ChangeLine,
}

#[derive(sqlx::FromRow)]
struct HistoryRow {
    change_id: String,
    created_at: String,
    seq: i32,
    mdn: String,
    before_value: Option<String>,
    after_value: Option<String>,
    outcome: String,
    message: Option<String>,
}

#[derive(sqlx::FromRow)]
struct BlockHit {
    change_id: String,
    created_at: String,
    first_seq: i32,
    data: String,
}

impl Db {
    /// The change sets of device group `corp` that touched the line known by any of `ids` (its
    /// MDN as stored, its IMEI for SmartSpot changes), newest first, at most `limit`.
    pub async fn change_history_of_line(
        &self,
        corp: &str,
        ids: &[String],
        limit: u32,
    ) -> Result<Vec<LineChange>, sqlx::Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let limit = i64::from(limit.clamp(1, 200));
        let n = ids.len();
        // Lines stored one by one (explicit lists, imports, and the lines a bulk answer singled out).
        let rows_sql = format!(
            "SELECT l.change_id, s.created_at, l.seq, l.mdn, l.before_value, l.after_value, \
             {LINE_OUTCOME} AS outcome, \
             CASE WHEN l.outcome = 'pending' AND s.rest_outcome IS NOT NULL THEN s.rest_message ELSE l.message END \
             AS message FROM change_lines l JOIN change_sets s ON s.id = l.change_id \
             WHERE l.mdn IN ({}) AND s.corp_id = ${} ORDER BY s.created_at DESC, l.seq LIMIT ${}",
            placeholders(1, n),
            n + 1,
            n + 2
        );
        // Select-all blocks hold their lines as JSON text: a quoted id inside is a line of theirs.
        let blocks_sql = format!(
            "SELECT b.change_id, s.created_at, b.first_seq, b.data FROM change_line_blocks b \
             JOIN change_sets s ON s.id = b.change_id WHERE s.corp_id = $1 AND ({}) \
             ORDER BY s.created_at DESC LIMIT ${}",
            (0..n)
                .map(|i| format!("b.data LIKE ${}", i + 2))
                .collect::<Vec<_>>()
                .join(" OR "),
            n + 2
        );
        let patterns: Vec<String> = ids
            .iter()
            .map(|id| format!("%\"{}\"%", id.replace(['%', '_', '\\'], "")))
            .collect();
        let (rows, hits) = with_pool!(self, pool => {
            let mut q = sqlx::query_as::<_, HistoryRow>(&rows_sql);
            for id in ids {
                q = q.bind(id);
            }
            let rows = q.bind(corp).bind(limit).fetch_all(pool).await?;
            let mut q = sqlx::query_as::<_, BlockHit>(&blocks_sql).bind(corp);
            for p in &patterns {
                q = q.bind(p);
            }
            let hits = q.bind(limit).fetch_all(pool).await?;
            (rows, hits)
        });
        // (created_at, change id, the line), one per change set: its own row first.
        let mut found: Vec<(String, String, ChangeLine)> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        for r in rows {
            if !seen.insert(r.change_id.clone()) {
                continue;
            }
            let line = ChangeLine {
                seq: r.seq,
                mdn: r.mdn,
                before_value: r.before_value,
                after_value: r.after_value,
                outcome: r.outcome.parse().map_err(decode)?,
                message: r.message,
            };
            found.push((r.created_at, r.change_id, line));
        }
        for h in hits {
            if seen.contains(&h.change_id) {
                continue;
            }
            let pairs: Vec<(String, Option<String>)> =
                serde_json::from_str(&h.data).map_err(decode)?;
            let Some(i) = pairs.iter().position(|(m, _)| ids.contains(m)) else {
                continue;
            };
            let seq = h
                .first_seq
                .saturating_add(i32::try_from(i).unwrap_or(i32::MAX));
            let resolved = self
                .change_block_lines(&h.change_id, seq, seq.saturating_add(1))
                .await?;
            if let Some(line) = resolved.into_iter().next() {
                seen.insert(h.change_id.clone());
                found.push((h.created_at, h.change_id, line));
            }
        }
        found.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.cmp(&a.1)));
        found.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let mut out = Vec::with_capacity(found.len());
        for (_, id, line) in found {
            let id = Uuid::parse_str(&id).map_err(decode)?;
            if let Some(set) = self.change_get(id).await? {
                out.push(LineChange { set, line });
            }
        }
        Ok(out)
    }
}
