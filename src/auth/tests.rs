//! Unit tests of the sign-in helpers (the local `next` address).

use super::*;

#[test]
fn next_must_be_local() {
    for bad in [
        "//evil.example",
        "https://evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
        "evil",
        "",
        "/a\nb",
        "/a\\b",
        "\t/x",
    ] {
        assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
    }
    assert_eq!(safe_next(None), "/");
    for good in ["/", "/devices/NORTHSTAR-ISD?offset=25&sort=MDN", "/audit"] {
        assert_eq!(safe_next(Some(good)), good);
    }
}
