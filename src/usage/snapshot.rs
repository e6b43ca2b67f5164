//! A tracked group's list from its latest sample (CONTRACT §6): the filter values it offers (each
//! with its count), a list filter resolved to the snapshot's names (compared without regard to
//! case; a value no line has is refused with the values there are), and its lines.

use time::OffsetDateTime;

use crate::domain::{FilterField, ListFilter};
use crate::storage::Db;
use crate::storage::usage::{SnapshotCache, SnapshotWhere, Tracking};

/// A filter field's values in a snapshot: `(name, names id, lines)`, by name.
pub type FieldValues = Vec<(FilterField, Vec<(String, i32, i64)>)>;

/// The newest kept sample of a tracked group, and its distinct filter values.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub gid: i32,
    /// When it was taken (as stored, to select its lines).
    pub stamp: String,
    pub taken_at: OffsetDateTime,
    /// Per filter field: `(name, names id, lines)` by name.
    pub values: FieldValues,
}

impl Snapshot {
    /// The snapshot of a group being tracked (not stopped) that has one.
    pub async fn of(
        db: &Db,
        cache: &SnapshotCache,
        t: &Tracking,
    ) -> Result<Option<Self>, sqlx::Error> {
        if t.state == "stopped" {
            return Ok(None);
        }
        let Some((stamp, taken_at)) = db.usage_snapshot_at(t.gid).await? else {
            return Ok(None);
        };
        let key = (t.gid, stamp.clone());
        let counts = match cache.get(&key) {
            Some(c) => c,
            None => {
                let names = db.usage_names_by_id().await?;
                let counted: Vec<(u8, i32, i64, String)> = db
                    .usage_snapshot_values(t.gid, &stamp)
                    .await?
                    .into_iter()
                    .map(|(col, id, n)| (col, id, n, names.get(&id).cloned().unwrap_or_default()))
                    .collect();
                let c = std::sync::Arc::new(counted);
                cache.insert(key, c.clone());
                c
            }
        };
        let mut values: FieldValues = FilterField::ALL
            .into_iter()
            .map(|f| (f, Vec::new()))
            .collect();
        for (col, id, n, name) in counts.iter() {
            if let Some((_, v)) = values.get_mut(usize::from(*col)) {
                v.push((name.clone(), *id, *n));
            }
        }
        for (_, v) in &mut values {
            v.sort_by_key(|a| a.0.to_lowercase());
        }
        Ok(Some(Self {
            gid: t.gid,
            stamp,
            taken_at,
            values,
        }))
    }

    /// The distinct values of one field.
    pub fn values_of(&self, f: FilterField) -> &[(String, i32, i64)] {
        self.values
            .iter()
            .find(|(g, _)| *g == f)
            .map(|(_, v)| v.as_slice())
            .unwrap_or_default()
    }

    /// The name of a names id.
    pub fn name(&self, f: FilterField, id: i32) -> &str {
        self.values_of(f)
            .iter()
            .find(|(_, i, _)| *i == id)
            .map_or("", |(n, _, _)| n.as_str())
    }

    /// The filter (and a search of MDN digits and nicknames) as names ids; a value no line of
    /// the snapshot has is refused, naming the values there are.
    pub fn resolve(&self, filter: &ListFilter, search: &str) -> Result<SnapshotWhere, String> {
        let mut w = SnapshotWhere {
            search: (!search.trim().is_empty()).then(|| search.trim().to_lowercase()),
            ..SnapshotWhere::default()
        };
        for (f, value) in filter.entries() {
            let known = self.values_of(*f);
            let ids: Vec<i32> = known
                .iter()
                .filter(|(n, _, _)| n.trim().eq_ignore_ascii_case(value.trim()))
                .map(|(_, i, _)| *i)
                .collect();
            if ids.is_empty() {
                let seen: Vec<&str> = known
                    .iter()
                    .map(|(n, _, _)| n.as_str())
                    .filter(|n| !n.is_empty())
                    .collect();
                return Err(format!(
                    "No line of the latest sample has the {} “{value}”. {}",
                    f.label().to_lowercase(),
                    if seen.is_empty() {
                        "It has no values for this field.".to_owned()
                    } else {
                        format!("Values seen: {}.", seen.join(", "))
                    }
                ));
            }
            let slot = match f {
                FilterField::Status => &mut w.status,
                FilterField::Network => &mut w.network,
                FilterField::FilterGroup => &mut w.filter_group,
                FilterField::Device => &mut w.device,
            };
            slot.extend(ids);
        }
        Ok(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap() -> Snapshot {
        Snapshot {
            gid: 1,
            stamp: String::new(),
            taken_at: OffsetDateTime::UNIX_EPOCH,
            values: vec![
                (
                    FilterField::Status,
                    vec![("active".into(), 3, 20), ("suspended".into(), 4, 4)],
                ),
                (FilterField::Network, vec![("LTE".into(), 5, 24)]),
                (FilterField::FilterGroup, vec![]),
                (FilterField::Device, vec![]),
            ],
        }
    }

    #[test]
    fn values_resolve_without_regard_to_case_and_unknown_ones_are_named() {
        let f = ListFilter::parse(Some("status=ACTIVE&status=Suspended&network=lte")).unwrap();
        let w = snap().resolve(&f, " Bus ").unwrap();
        assert_eq!((w.status, w.network), (vec![3, 4], vec![5]));
        assert_eq!(w.search.as_deref(), Some("bus"));
        let bad = ListFilter::parse(Some("status=gone")).unwrap();
        let e = snap().resolve(&bad, "").unwrap_err();
        assert!(
            e.contains("“gone”") && e.contains("active, suspended"),
            "{e}"
        );
        let none = ListFilter::parse(Some("device=x")).unwrap();
        assert!(snap().resolve(&none, "").unwrap_err().contains("no values"));
    }
}
