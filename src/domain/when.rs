//! When a change runs (`run_at`): a local date and time with the offset the browser gave, or
//! RFC 3339; parsed once at the edge into a UTC instant.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

use super::ParseError;

/// A time a change is scheduled for, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct RunAt(OffsetDateTime);

/// The furthest ahead a change may be scheduled.
pub const MAX_AHEAD_DAYS: i64 = 400;

impl RunAt {
    /// `text` as `YYYY-MM-DDTHH:MM[:SS]` in the user's time zone (`offset_minutes` east of UTC,
    /// as the form's script reports it for that date; none: UTC) or RFC 3339; it must lie ahead of `now`.
    pub fn parse(
        text: &str,
        offset_minutes: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Self, ParseError> {
        let text = text.trim();
        let at = match OffsetDateTime::parse(text, &Rfc3339) {
            Ok(t) => t,
            Err(_) => {
                let local = PrimitiveDateTime::parse(
                    text,
                    format_description!("[year]-[month]-[day]T[hour]:[minute]"),
                )
                .or_else(|_| {
                    PrimitiveDateTime::parse(
                        text,
                        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
                    )
                })
                .map_err(|_| {
                    ParseError(format!(
                        "“{text}” is not a date and time: use the date picker, or write it as 2026-06-15T07:00."
                    ))
                })?;
                let minutes: i32 = match offset_minutes.map(str::trim).filter(|s| !s.is_empty()) {
                    None => 0,
                    Some(m) => m
                        .parse()
                        .ok()
                        .filter(|m: &i32| m.abs() <= 18 * 60)
                        .ok_or_else(|| ParseError("The time zone offset is not valid.".into()))?,
                };
                let offset = UtcOffset::from_whole_seconds(minutes * 60)
                    .map_err(|_| ParseError("The time zone offset is not valid.".into()))?;
                local.assume_offset(offset)
            }
        };
        let at = at.to_offset(UtcOffset::UTC);
        if at <= now {
            return Err(ParseError(
                "That time has passed: choose a time ahead, or “now”.".into(),
            ));
        }
        if at > now + time::Duration::days(MAX_AHEAD_DAYS) {
            return Err(ParseError(format!(
                "A change can be scheduled at most {MAX_AHEAD_DAYS} days ahead."
            )));
        }
        Ok(RunAt(at))
    }

    pub fn utc(self) -> OffsetDateTime {
        self.0
    }
}

/// `2026-06-15 07:00 UTC`.
pub fn utc(t: OffsetDateTime) -> String {
    let fmt = format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    t.to_offset(UtcOffset::UTC).format(&fmt).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn local_time_with_the_browsers_offset() {
        let now = datetime!(2026-05-01 12:00 UTC);
        let r = RunAt::parse("2026-06-15T07:00", Some("120"), now).unwrap();
        assert_eq!(r.utc(), datetime!(2026-06-15 05:00 UTC));
        let r = RunAt::parse("2026-06-15T07:00", None, now).unwrap();
        assert_eq!(r.utc(), datetime!(2026-06-15 07:00 UTC));
        let r = RunAt::parse("2026-06-15T07:00:00-05:00", Some("999"), now).unwrap();
        assert_eq!(r.utc(), datetime!(2026-06-15 12:00 UTC));
    }

    #[test]
    fn refuses_the_past_the_far_future_and_nonsense() {
        let now = datetime!(2026-05-01 12:00 UTC);
        assert!(RunAt::parse("2026-04-30T12:00", None, now).is_err());
        assert!(RunAt::parse("2030-01-01T00:00", None, now).is_err());
        assert!(RunAt::parse("tomorrow", None, now).is_err());
        assert!(RunAt::parse("2026-06-15T07:00", Some("x"), now).is_err());
        assert!(RunAt::parse("2026-06-15T07:00", Some("100000"), now).is_err());
    }
}
