//! A data limit as people write and read it: MB (as Sentinel counts) or GB (1 GB = 1,024 MB), or no limit — one spelling for the list, forms, previews, results and CSV.

/// The largest limit accepted, in MB (about 95 TB: any real plan is far below).
pub const MAX_MB: f64 = 100_000_000.0;

/// A unit a limit is typed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Mb,
    Gb,
}

impl Unit {
    /// `GB` / `gb` / `MB`; anything else is not a unit.
    pub fn parse(s: &str) -> Option<Unit> {
        match s.trim().to_ascii_uppercase().as_str() {
            "MB" => Some(Unit::Mb),
            "GB" => Some(Unit::Gb),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Mb => "MB",
            Unit::Gb => "GB",
        }
    }

    fn mb(self, v: f64) -> f64 {
        match self {
            Unit::Mb => v,
            Unit::Gb => v * 1024.0,
        }
    }
}

/// A number without needless decimals: `10`, `1.5`, `2048.25`.
fn number(v: f64) -> String {
    let rounded = (v * 100.0).round() / 100.0;
    if rounded.fract() == 0.0 {
        format!("{rounded:.0}")
    } else {
        let s = format!("{rounded:.2}");
        s.trim_end_matches('0').to_owned()
    }
}

/// The unit a limit of `mb` reads best in: GB when it is a whole number of GB (or a
/// quarter of one), else MB: a limit is a setting, never rounded for display.
pub fn unit_of(mb: f64) -> Unit {
    let gb = mb / 1024.0;
    if mb >= 1024.0 && (gb * 4.0).fract() == 0.0 {
        Unit::Gb
    } else {
        Unit::Mb
    }
}

/// The value of `mb` in `unit`, as typed in a form (`10`, `1.5`, `500`).
pub fn in_unit(mb: f64, unit: Unit) -> String {
    match unit {
        Unit::Mb => number(mb),
        Unit::Gb => number(mb / 1024.0),
    }
}

/// `10 GB`, `1.5 GB`, `500 MB`, `No limit`: exact, and read back by [`parse`].
pub fn text(mb: Option<f64>) -> String {
    match mb {
        None => "No limit".into(),
        Some(v) => {
            let unit = unit_of(v);
            format!("{} {}", in_unit(v, unit), unit.as_str())
        }
    }
}

/// A limit as written by [`text`], a spreadsheet or a person: `10 GB`, `10240 MB`, `10240`
/// (MB, as Sentinel's export writes it), `No limit` or empty (no limit). `Err`: why not.
pub fn parse(raw: &str) -> Result<Option<f64>, String> {
    let t = raw.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("no limit") {
        return Ok(None);
    }
    let (num, unit) = match t.get(t.len().saturating_sub(2)..).and_then(Unit::parse) {
        Some(u) => (t[..t.len() - 2].trim_end(), u),
        None => (t, Unit::Mb),
    };
    parse_in(num, unit).map(Some)
}

/// A number typed in `unit`, as MB.
pub fn parse_in(num: &str, unit: Unit) -> Result<f64, String> {
    let num = num.trim();
    match num.parse::<f64>() {
        Ok(v) if v.is_finite() && v < 0.0 => Err("A limit cannot be negative.".into()),
        Ok(v) if v.is_finite() && unit.mb(v) <= MAX_MB => Ok(unit.mb(v)),
        _ => Err(format!(
            "“{num}” is not a number of {} (for example {}).",
            unit.as_str(),
            match unit {
                Unit::Gb => "10",
                Unit::Mb => "500",
            }
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_read_in_gb_when_whole_and_mb_otherwise() {
        assert_eq!(text(Some(10240.0)), "10 GB");
        assert_eq!(text(Some(1536.0)), "1.5 GB");
        assert_eq!(text(Some(500.0)), "500 MB");
        assert_eq!(text(Some(1500.0)), "1500 MB");
        assert_eq!(text(Some(0.0)), "0 MB");
        assert_eq!(text(Some(2048.5)), "2048.5 MB");
        assert_eq!(text(None), "No limit");
    }

    #[test]
    fn every_spelling_shown_is_read_back() {
        for mb in [
            None,
            Some(0.0),
            Some(500.0),
            Some(1536.0),
            Some(10240.0),
            Some(2048.5),
        ] {
            assert_eq!(parse(&text(mb)), Ok(mb), "{mb:?}");
        }
        assert_eq!(parse("10240"), Ok(Some(10240.0)));
        assert_eq!(parse(" 10240 MB"), Ok(Some(10240.0)));
        assert_eq!(parse("10gb"), Ok(Some(10240.0)));
        assert_eq!(parse("no limit"), Ok(None));
        assert!(parse("-1").is_err());
        assert!(parse("lots").is_err());
        assert!(parse("1e12 GB").is_err());
        assert_eq!(parse_in("2", Unit::Gb), Ok(2048.0));
    }
}
