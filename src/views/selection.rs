//! The one way a selection is named on every page (action form, preview, change, request and approval pages): its first lines by nickname and MDN, "+ N more", and the exact count.

use crate::actions::known::NamedLine;
use crate::views::format::{count, counted};

/// "Bus 4 (521-267-1508)", or the MDN alone.
fn line(l: &NamedLine) -> String {
    match &l.nickname {
        Some(n) => format!("{n} ({})", l.mdn),
        None => l.mdn.clone(),
    }
}

/// A selection in words: "3 lines: Bus 4 (521-267-1508), 304-228-6302, Cart (555-…)";
/// "48 lines: Bus 4 (521-267-1508), … + 45 more"; with `scope` (a select-all's description),
/// "411 lines — all lines matching “Bus” except 1: Bus 4 (…), … + 408 more". `total`: the
/// exact count when known; `first`: its first lines (none: the count and scope alone).
pub fn named(first: &[NamedLine], total: Option<u64>, scope: Option<&str>) -> String {
    let mut head = match (total, scope) {
        (Some(n), Some(s)) => format!("{} — {s}", counted(n, "line", "lines")),
        (Some(n), None) => counted(n, "line", "lines"),
        (None, Some(s)) => s.to_owned(),
        (None, None) => "the selected lines".to_owned(),
    };
    if first.is_empty() {
        return head;
    }
    let names: Vec<String> = first.iter().map(line).collect();
    head.push_str(": ");
    head.push_str(&names.join(", "));
    let more = total.map(|n| n.saturating_sub(first.len() as u64));
    match more {
        Some(m) if m > 0 => head.push_str(&format!(" + {} more", count(m))),
        Some(_) => {}
        None => head.push_str(" …"),
    }
    head
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(mdn: &str, nick: Option<&str>) -> NamedLine {
        NamedLine {
            mdn: mdn.into(),
            nickname: nick.map(Into::into),
        }
    }

    #[test]
    fn a_selection_names_its_first_lines_and_counts_the_rest() {
        let first = [
            l("521-267-1508", Some("Bus 4")),
            l("304-228-6302", None),
            l("555-010-0001", Some("Cart")),
        ];
        assert_eq!(
            named(&first, Some(48), None),
            "48 lines: Bus 4 (521-267-1508), 304-228-6302, Cart (555-010-0001) + 45 more"
        );
        assert_eq!(
            named(&first[..1], Some(1), None),
            "1 line: Bus 4 (521-267-1508)"
        );
        assert_eq!(
            named(
                &first[..2],
                Some(1_411),
                Some("all lines matching “Bus” except 1")
            ),
            "1,411 lines — all lines matching “Bus” except 1: Bus 4 (521-267-1508), 304-228-6302 + 1,409 more"
        );
        assert_eq!(
            named(&[], None, Some("all lines matching “Bus”")),
            "all lines matching “Bus”"
        );
    }
}
