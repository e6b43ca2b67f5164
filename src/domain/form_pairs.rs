//! A form body or query string decoded into its pairs once, at the edge: a control character
//! (other than the TAB, CR and LF a textarea holds) is refused there, before any value can reach
//! a database that would choke on it (PostgreSQL refuses NUL in text and JSON).

use super::ParseError;

/// Is `c` a character no field of the console accepts?
fn refused(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\r' | '\n')
}

/// The pairs of an `application/x-www-form-urlencoded` body or query, in order (keys repeat).
/// A pair holding a control character is a clear error naming its field.
pub fn decode(raw: &[u8]) -> Result<Vec<(String, String)>, ParseError> {
    url::form_urlencoded::parse(raw)
        .map(|(k, v)| {
            if let Some(c) = k.chars().chain(v.chars()).find(|c| refused(*c)) {
                let field = if k.chars().any(refused) {
                    "A field name".to_owned()
                } else {
                    format!("“{k}”")
                };
                return Err(ParseError(format!(
                    "{field} contains a control character (U+{:04X}), which cannot be stored: \
                     remove it and try again.",
                    u32::from(c)
                )));
            }
            Ok((k.into_owned(), v.into_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_textarea_line_ends_and_refuses_other_control_characters() {
        assert_eq!(
            decode(b"note=a%0D%0Ab%09c&x=%E2%9C%93").unwrap(),
            vec![
                ("note".to_owned(), "a\r\nb\tc".to_owned()),
                ("x".to_owned(), "✓".to_owned())
            ]
        );
        for (raw, field, code) in [
            (&b"reason=a%00b"[..], "“reason”", "U+0000"),
            (b"user=%1B", "“user”", "U+001B"),
            (b"q=%7F", "“q”", "U+007F"),
            (b"q=%C2%85", "“q”", "U+0085"),
            (b"a%00=1", "A field name", "U+0000"),
        ] {
            let e = decode(raw).unwrap_err().0;
            assert!(e.starts_with(field) && e.contains(code), "{e}");
        }
    }
}
