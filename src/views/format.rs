//! The one place values become words on a screen: statuses, counts and plurals, data sizes, limits.

/// A line status as people read it: `active` and `ACTIVE` both read "Active", `PENDING_ACTIVATION`
/// "Pending activation"; empty stays empty.
pub fn status_label(status: &str) -> String {
    let words = status.trim().replace('_', " ").to_lowercase();
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The badge class of a status (its colour).
pub fn status_class(status: &str) -> &'static str {
    match status.trim().to_ascii_lowercase().as_str() {
        "active" => "badge-active",
        "suspended" => "badge-suspended",
        _ => "badge",
    }
}

/// A count with thousands separators: `20,000`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A count and its noun: `1 line`, `2,500 lines` (never "1 lines").
pub fn counted(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", count(n), if n == 1 { one } else { many })
}

/// Megabytes for people: `812 MB`, `31.2 GB` (1 GB = 1,024 MB, as Sentinel counts); `—` when unknown.
pub fn data_size(mb: Option<f64>) -> String {
    match mb {
        None => "—".into(),
        Some(v) if v >= 1024.0 => format!("{:.1} GB", v / 1024.0),
        Some(v) => format!("{v:.0} MB"),
    }
}

/// A data limit, exact (a setting is never rounded): `10 GB`, `1500 MB`, `No limit` — the
/// spelling forms, previews, results and the import read back.
pub fn data_limit(mb: Option<f64>) -> String {
    crate::domain::data_limit::text(mb)
}

/// How long ago `then` was, as people say it: `just now`, `5 minutes ago`, `yesterday`, `2 days ago`.
pub fn ago(then: time::OffsetDateTime, now: time::OffsetDateTime) -> String {
    let secs = (now - then).whole_seconds().max(0);
    let (n, one, many) = match secs {
        s if s < 60 => return "just now".into(),
        s if s < 3_600 => (s / 60, "minute", "minutes"),
        s if s < 86_400 => (s / 3_600, "hour", "hours"),
        s if s < 2 * 86_400 => return "yesterday".into(),
        s if s < 60 * 86_400 => (s / 86_400, "day", "days"),
        s if s < 730 * 86_400 => (s / (30 * 86_400), "month", "months"),
        s => (s / (365 * 86_400), "year", "years"),
    };
    format!(
        "{} ago",
        counted(u64::try_from(n).unwrap_or_default(), one, many)
    )
}

/// An RFC 3339 time as [`ago`] words from now; the text itself when it is not one.
pub fn ago_text(rfc3339: &str) -> String {
    use time::format_description::well_known::Rfc3339;
    match time::OffsetDateTime::parse(rfc3339.trim(), &Rfc3339) {
        Ok(t) => ago(t, time::OffsetDateTime::now_utc()),
        Err(_) => rfc3339.to_owned(),
    }
}

/// "1,234" (the page's counts are read at a glance).
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// "2026-11-25 14:03:07 UTC".
pub fn format_time(t: time::OffsetDateTime) -> String {
    t.format(time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
    ))
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_the_same_whatever_the_spelling() {
        assert_eq!(status_label("active"), "Active");
        assert_eq!(status_label("SUSPENDED"), "Suspended");
        assert_eq!(status_label("PENDING_ACTIVATION"), "Pending activation");
        assert_eq!(status_label(""), "");
        assert_eq!(status_class("ACTIVE"), "badge-active");
    }

    #[test]
    fn counts_have_separators_and_plurals() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(20_000), "20,000");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(counted(1, "change", "changes"), "1 change");
        assert_eq!(counted(2500, "line", "lines"), "2,500 lines");
    }

    #[test]
    fn sizes_in_mb_and_gb() {
        assert_eq!(data_size(Some(812.0)), "812 MB");
        assert_eq!(data_size(Some(31.2 * 1024.0)), "31.2 GB");
        assert_eq!(data_size(None), "—");
        assert_eq!(data_limit(None), "No limit");
    }

    #[test]
    fn times_read_as_how_long_ago() {
        let now = time::macros::datetime!(2026-12-07 12:00 UTC);
        let before = |s: i64| ago(now - time::Duration::seconds(s), now);
        assert_eq!(before(10), "just now");
        assert_eq!(before(60), "1 minute ago");
        assert_eq!(before(5 * 60), "5 minutes ago");
        assert_eq!(before(3 * 3_600), "3 hours ago");
        assert_eq!(before(30 * 3_600), "yesterday");
        assert_eq!(before(2 * 86_400), "2 days ago");
        assert_eq!(before(90 * 86_400), "3 months ago");
        assert_eq!(before(800 * 86_400), "2 years ago");
        assert_eq!(ago_text("not a time"), "not a time");
    }
}
