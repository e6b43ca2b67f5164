//! Numbers read from the cells of an export, row after row without allocating: an MDN as a
//! number, an amount of MB in hundredths.

/// The MDN's 10 digits as a number.
/// The same rule as [`crate::domain::Mdn::parse`] (10 digits, with dashes, spaces, dots or parentheses),
/// without its allocations: this runs for every row.
pub fn mdn_number(s: &str) -> Option<u64> {
    let (mut n, mut digits) = (0u64, 0u32);
    for b in s.trim().bytes() {
        match b {
            b'0'..=b'9' => {
                n = n * 10 + u64::from(b - b'0');
                digits += 1;
                if digits > 10 {
                    return None;
                }
            }
            b'-' | b' ' | b'.' | b'(' | b')' => {}
            _ => return None,
        }
    }
    (digits == 10).then_some(n)
}

/// MB with up to two decimals as hundredths (saturating); `None` when empty or not a number.
pub fn amount(s: &str) -> Option<u32> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let v: f64 = s.parse().ok()?;
    if !v.is_finite() {
        return None;
    }
    Some((v * 100.0).round().clamp(0.0, f64::from(u32::MAX - 1)) as u32)
}
