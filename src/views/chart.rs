//! A server-rendered bar chart (HTML bars that stay readable on a phone) with its numbers in a
//! table on demand (no JavaScript).
//!
//! Geometry is computed here so the template only places what it is given; presentation is
//! by classes in `app.css` (the CSP forbids `style=` attributes).

use askama::Template;

/// The SVG's width; labels take the left part, bars the rest.
const WIDTH: u32 = 520;
const LABEL_RIGHT: u32 = 175;
const BAR_LEFT: u32 = 180;
/// Longest bar; what is left is for the value after it.
const BAR_MAX: u32 = 250;
const ROW: u32 = 24;
/// Characters of a label the SVG shows (the table has it whole).
const LABEL_CHARS: usize = 26;

/// One bar as the template draws it.
#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    pub short_label: String,
    /// The number shown (a count of lines, or MB).
    pub value: String,
    /// Share of the chart's whole, e.g. "12.3%".
    pub share: String,
    /// Where a click leads: the lines behind the bar.
    pub href: String,
    pub link_text: String,
    /// The bar's lines as a CSV download, where the bar is a set of lines.
    pub csv_href: Option<String>,
    pub y: u32,
    pub text_y: u32,
    pub width: u32,
    pub value_x: u32,
}

/// What a caller gives for each bar.
#[derive(Debug, Clone)]
pub struct BarInput {
    pub label: String,
    pub magnitude: u64,
    pub value: String,
    pub href: String,
    pub link_text: String,
    pub csv_href: Option<String>,
}

/// A figure: a heading, a picture, the same numbers as a table, and links to the lines.
#[derive(Template, Debug, Clone)]
#[template(path = "fragments/overview_chart.html")]
pub struct BarChart {
    pub id: String,
    pub title: String,
    /// One sentence for screen readers (`<desc>`), and shown under the heading.
    pub summary: String,
    /// The first column's header in the table ("Status", "Usage").
    pub label_header: String,
    pub value_header: String,
    pub bars: Vec<Bar>,
    pub width: u32,
    pub height: u32,
    pub label_right: u32,
    pub bar_left: u32,
    /// A remark on where the numbers come from.
    pub note: Option<String>,
    /// The bars' full length (each bar's `width` is out of it).
    pub bar_max: u32,
    /// The summary's element id, when a page names it.
    pub summary_id: Option<&'static str>,
    /// What to do about the figure (a finding's "Act on …", its CSV).
    pub actions: Vec<ChartAction>,
    /// A figure with nothing in it, shown folded away.
    pub quiet: bool,
}

/// A link under a figure's summary: the first is its main action; `download` links are files.
#[derive(Debug, Clone)]
pub struct ChartAction {
    pub id: &'static str,
    pub href: String,
    pub label: String,
    pub download: bool,
}

impl BarChart {
    /// Lays out `bars`; shares are of `whole` (0: no shares).
    pub fn new(
        id: &str,
        title: impl Into<String>,
        summary: impl Into<String>,
        label_header: &str,
        value_header: &str,
        inputs: Vec<BarInput>,
        whole: u64,
    ) -> Self {
        let max = inputs.iter().map(|b| b.magnitude).max().unwrap_or(0);
        let bars = inputs
            .into_iter()
            .enumerate()
            .map(|(i, b)| {
                let y = 4 + i as u32 * ROW;
                // A non-zero value gets at least a sliver, so it is visible at all.
                let width = match (b.magnitude, max) {
                    (0, _) | (_, 0) => 0,
                    (m, max) => {
                        ((m as f64 / max as f64 * f64::from(BAR_MAX)).round() as u32).max(2)
                    }
                };
                let short_label = if b.label.chars().count() > LABEL_CHARS {
                    let mut s: String = b.label.chars().take(LABEL_CHARS - 1).collect();
                    s.push('…');
                    s
                } else {
                    b.label.clone()
                };
                Bar {
                    short_label,
                    share: share(b.magnitude, whole),
                    label: b.label,
                    value: b.value,
                    href: b.href,
                    link_text: b.link_text,
                    csv_href: b.csv_href,
                    y,
                    text_y: y + 13,
                    width,
                    value_x: BAR_LEFT + width + 6,
                }
            })
            .collect::<Vec<_>>();
        let height = 8 + bars.len() as u32 * ROW;
        Self {
            id: id.to_owned(),
            title: title.into(),
            summary: summary.into(),
            label_header: label_header.to_owned(),
            value_header: value_header.to_owned(),
            bars,
            width: WIDTH,
            height,
            label_right: LABEL_RIGHT,
            bar_left: BAR_LEFT,
            note: None,
            bar_max: BAR_MAX,
            summary_id: None,
            actions: Vec::new(),
            quiet: false,
        }
    }

    /// Names the summary's element (`id`).
    pub fn with_summary_id(mut self, id: &'static str) -> Self {
        self.summary_id = Some(id);
        self
    }

    /// Adds a link under the summary.
    pub fn with_action(mut self, a: ChartAction) -> Self {
        self.actions.push(a);
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
}

/// `part` of `whole` as a percentage with one decimal; "" when there is no whole.
pub fn share(part: u64, whole: u64) -> String {
    if whole == 0 {
        return String::new();
    }
    let tenths = (part as u128 * 1000 + whole as u128 / 2) / whole as u128;
    format!("{}.{}%", tenths / 10, tenths % 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_and_widths() {
        assert_eq!(share(1, 3), "33.3%");
        assert_eq!(share(0, 0), "");
        let b = |m| BarInput {
            label: "a very long category label indeed, longer than the SVG shows".into(),
            magnitude: m,
            value: m.to_string(),
            href: "/x".into(),
            link_text: "lines".into(),
            csv_href: None,
        };
        let c = BarChart::new("t", "T", "S", "L", "V", vec![b(1000), b(1), b(0)], 1001);
        assert_eq!(c.bars[0].width, BAR_MAX);
        assert_eq!(c.bars[1].width, 2);
        assert_eq!(c.bars[2].width, 0);
        assert!(c.bars[0].short_label.ends_with('…'));
        // Bars as meters in a list, the numbers in a table: no inline style (the CSP forbids it).
        let html = c.to_string();
        assert!(html.contains("<meter class=\"hbar-meter\""), "{html}");
        assert!(html.contains("<table class=\"figure-table\""), "{html}");
        assert!(!html.contains("style="), "{html}");
    }
}
