//! The audit log in words: a record's action, selection, fields and time as people read them.
//!
//! Everything is read back from what the record stores (`audit.csv` keeps the machine form), so an
//! old record reads as well as a new one; a secret was never stored and is never shown.

use serde_json::Value;
use time::OffsetDateTime;

use crate::actions::ActionKind;
use crate::actions::catalog::field::{Kind, Values};
use crate::actions::form::plural;
use crate::upstream::wire::BulkSelection;

/// Lines or devices named before the rest is only counted.
const NAMED: usize = 3;

/// The action's menu label ("Change status"); the slug itself for an action no longer in the catalogue.
pub fn action_label(slug: &str) -> String {
    ActionKind::from_slug(slug).map_or_else(|| slug.to_owned(), |a| a.label().to_owned())
}

/// "a, b, c" or "a, b, c, …" for a longer list.
fn named(items: &[String]) -> String {
    let mut s = items
        .iter()
        .take(NAMED)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > NAMED {
        s.push_str(", …");
    }
    s
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The selection in words: "3 lines: 5551230001, …", "all 49 lines matching “Bus”",
/// "2 SmartSpot devices: 490154203237518, …". `line_count`: the lines the change covered.
pub fn selection(v: &Value, line_count: i64) -> String {
    if let Some(m) = v.get("mdns") {
        let m = strings(m);
        return format!("{}: {}", plural(m.len() as u64, "line"), named(&m));
    }
    if let Some(i) = v.get("imeis") {
        let i = strings(i);
        return format!(
            "{}: {}",
            plural(i.len() as u64, "SmartSpot device"),
            named(&i)
        );
    }
    if let Some(b) = v.get("bulkSelection") {
        return match serde_json::from_value::<BulkSelection>(b.clone()) {
            Ok(b) => select_all(&b, line_count),
            Err(_) => format!("all matching lines ({b})"),
        };
    }
    v.to_string()
}

fn select_all(b: &BulkSelection, line_count: i64) -> String {
    let mut s = match line_count {
        0 => "no line".to_owned(),
        1 => "the one line".to_owned(),
        n => format!("all {n} lines"),
    };
    let mut narrowed = false;
    if let Some(q) = b.search_value.as_deref().filter(|q| !q.is_empty()) {
        s.push_str(&format!(" matching “{q}”"));
        narrowed = true;
    }
    if let Some(ids) = b.label_ids.as_ref().filter(|i| !i.is_empty()) {
        let ids: Vec<String> = ids.iter().map(|i| format!("#{i}")).collect();
        // The list's label filter keeps a line carrying any of them.
        s.push_str(&match ids.as_slice() {
            [one] => format!(" with label {one}"),
            many => format!(" with any of the labels {}", many.join(", ")),
        });
        narrowed = true;
    }
    if let Some(g) = b.filter_group.as_deref().filter(|g| !g.is_empty()) {
        s.push_str(&format!(" in filter group {g}"));
        narrowed = true;
    }
    if let Some(st) = b.status.as_deref().filter(|s| !s.is_empty()) {
        s.push_str(&format!(" with status {}", super::format::status_label(st)));
        narrowed = true;
    }
    if !narrowed {
        s.push_str(" of the device group");
    }
    let excluded: Vec<String> = b
        .excluded_mdns
        .iter()
        .flatten()
        .map(ToString::to_string)
        .collect();
    match excluded.len() {
        0 => {}
        n if n <= NAMED => s.push_str(&format!(", except {}", excluded.join(", "))),
        n => s.push_str(&format!(", except {}", plural(n as u64, "line"))),
    }
    s
}

/// The fields in words, through the action's own summary ("Status → SUSPENDED (reason: Summer
/// break)"); a secret that was set says only that it was ("new Wi-Fi password").
pub fn fields(slug: &str, stored: &Value) -> String {
    let Some(kind) = ActionKind::from_slug(slug) else {
        return generic(stored);
    };
    if let Some(chunks) = stored.get("perChunk").and_then(Value::as_array) {
        return per_value(kind, chunks);
    }
    one(kind, stored)
}

/// Values shown of a change that set each line its own (a revert) before the rest are counted.
const VALUES_NAMED: usize = 4;

/// A change whose chunks each set their own value (a revert, an import): per column (each
/// chunk's own action), each value once with its lines: "Nickname → “Bus 4” (4 lines);
/// Nickname → “Bus 5” (2 lines) · Status → ACTIVE (2 lines)".
fn per_value(kind: ActionKind, chunks: &[Value]) -> String {
    let mut columns: Vec<(ActionKind, Vec<(String, u64)>)> = Vec::new();
    for c in chunks {
        let k = c
            .get("action")
            .and_then(Value::as_str)
            .and_then(ActionKind::from_slug)
            .unwrap_or(kind);
        let text = one(k, c.get("fields").unwrap_or(&Value::Null));
        let lines = c.get("lines").and_then(Value::as_u64).unwrap_or(0);
        let at = match columns.iter().position(|(a, _)| *a == k) {
            Some(i) => i,
            None => {
                columns.push((k, Vec::new()));
                columns.len() - 1
            }
        };
        let values = &mut columns[at].1;
        match values.iter_mut().find(|(t, _)| *t == text) {
            Some((_, n)) => *n += lines,
            None => values.push((text, lines)),
        }
    }
    columns
        .iter()
        .map(|(_, values)| {
            let mut s = values
                .iter()
                .take(VALUES_NAMED)
                .map(|(t, n)| format!("{t} ({})", plural(*n, "line")))
                .collect::<Vec<_>>()
                .join("; ");
            if values.len() > VALUES_NAMED {
                let more = (values.len() - VALUES_NAMED) as u64;
                s.push_str(&format!("; and {}", plural(more, "other value")));
            }
            s
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// One set of fields in the action's words.
fn one(kind: ActionKind, stored: &Value) -> String {
    let secrets: Vec<&str> = kind
        .fields()
        .iter()
        .filter(|f| matches!(f.kind, Kind::Secret { .. }))
        .filter(|f| stored.get(f.name).is_some_and(|v| !v.is_null()))
        .map(|f| f.noun)
        .collect();
    let mut s = match Values::from_json(kind.fields(), stored) {
        Ok(v) => kind.def().summary(&v),
        // A record the catalogue no longer reads: each field under its label.
        Err(_) => kind
            .fields()
            .iter()
            .filter(|f| !matches!(f.kind, Kind::Secret { .. }))
            .filter_map(|f| {
                stored
                    .get(f.name)
                    .map(|v| format!("{}: {}", f.label, plain(v)))
            })
            .collect::<Vec<_>>()
            .join("; "),
    };
    for noun in secrets {
        s.push_str(&format!(", new {noun}"));
    }
    s
}

/// An unknown action's fields as "name: value" pairs.
fn generic(stored: &Value) -> String {
    match stored.as_object() {
        Some(m) => m
            .iter()
            .map(|(k, v)| format!("{k}: {}", plain(v)))
            .collect::<Vec<_>>()
            .join("; "),
        None => stored.to_string(),
    }
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "—".into(),
        other => other.to_string(),
    }
}

/// A moment for a `<time>` element: machine form, and UTC text (the page's JS shows the reader's zone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// RFC 3339 in UTC: the `datetime` attribute.
    pub iso: String,
    /// "2026-12-02 05:04 UTC": the text without JS.
    pub utc: String,
    /// "2026-12-02 05:04:17 UTC": the hover title.
    pub utc_full: String,
}

impl Stamp {
    pub fn new(at: OffsetDateTime) -> Self {
        let at = at.to_offset(time::UtcOffset::UTC);
        let short = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
        let full =
            time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
        Self {
            iso: at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            utc: format!("{} UTC", at.format(&short).unwrap_or_default()),
            utc_full: format!("{} UTC", at.format(&full).unwrap_or_default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selections_read_as_words() {
        let one = json!({"mdns": ["5212671508"]});
        assert_eq!(selection(&one, 1), "1 line: 5212671508");
        let many = json!({"mdns": ["1", "2", "3", "4"]});
        assert_eq!(selection(&many, 4), "4 lines: 1, 2, 3, …");
        let all = json!({"bulkSelection": {"selectAll": true, "searchValue": "Bus"}});
        assert_eq!(selection(&all, 49), "all 49 lines matching “Bus”");
        let all = json!({"bulkSelection": {"selectAll": true, "labelIds": [3, 7],
            "excludedMdns": ["5551230001"]}});
        assert_eq!(
            selection(&all, 12),
            "all 12 lines with any of the labels #3, #7, except 555-123-0001"
        );
        let all = json!({"bulkSelection": {"selectAll": true}});
        assert_eq!(selection(&all, 499), "all 499 lines of the device group");
        let imeis = json!({"imeis": ["490154203237518"]});
        assert_eq!(selection(&imeis, 1), "1 SmartSpot device: 490154203237518");
    }

    #[test]
    fn fields_read_through_the_action_and_never_show_a_secret() {
        let s = fields(
            "status",
            &json!({"status": "SUSPENDED", "reason": "Summer break"}),
        );
        assert_eq!(s, "Status → SUSPENDED (reason: Summer break)");
        let s = fields(
            "smartspot-settings",
            &json!({"ssid": "Bus-47", "wifiPassword": "[redacted]", "maxClients": 10,
                "band": "dual", "contentFilterEnabled": true, "hotspotEnabled": true}),
        );
        assert!(
            s.starts_with("SSID → Bus-47") && s.ends_with(", new Wi-Fi password"),
            "{s}"
        );
        assert!(!s.contains("redacted"), "{s}");
        // A record the catalogue cannot read any more still reads, under the fields' labels.
        let s = fields("imei", &json!({"imei": "not an imei"}));
        assert_eq!(s, "New IMEI: not an imei");
        // A revert: each line back to its own value, each value once.
        let s = fields(
            "nickname",
            &json!({"perChunk": [
                {"fields": {"nickname": "Bus 4"}, "lines": 1},
                {"fields": {"nickname": "Bus 5"}, "lines": 2},
                {"fields": {"nickname": "Bus 4"}, "lines": 3},
            ]}),
        );
        assert_eq!(
            s,
            "Nickname → “Bus 4” (4 lines); Nickname → “Bus 5” (2 lines)"
        );
        // An import of two columns (or its revert): each column on its own.
        let s = fields(
            "nickname",
            &json!({"perChunk": [
                {"action": "nickname", "fields": {"nickname": "Bus 4"}, "lines": 2},
                {"action": "status", "fields": {"status": "ACTIVE", "reason": null}, "lines": 2},
            ]}),
        );
        assert!(
            s.starts_with("Nickname → “Bus 4” (2 lines) · Status → ACTIVE"),
            "{s}"
        );
        assert_eq!(action_label("status"), "Change status");
        assert_eq!(action_label("gone"), "gone");
    }

    #[test]
    fn stamps_are_utc() {
        let at = OffsetDateTime::from_unix_timestamp(1_796_187_857).unwrap();
        let s = Stamp::new(at);
        assert_eq!(s.iso, "2026-12-02T05:04:17Z");
        assert_eq!(s.utc, "2026-12-02 05:04 UTC");
        assert_eq!(s.utc_full, "2026-12-02 05:04:17 UTC");
    }
}
