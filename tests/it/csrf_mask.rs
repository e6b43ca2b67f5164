//! The CSRF token against BREACH (issue 22, findings 2 and 7): every page shows its own mask of
//! the session's secret and every such mask is accepted; tokens of another session or malformed
//! ones are refused with the console's error; only the import's upload takes it in the query.

use crate::helpers::*;

const G: &str = "NORTHSTAR-ISD";

/// The list with a reflected search, as an attacker would make it echo a guess.
const LIST: &str = "/devices/NORTHSTAR-ISD?searchValue=csrf";

async fn signed_in(s: &Session) -> bool {
    s.get(&format!("/devices/{G}")).await.status() == 200
}

/// A nickname preview (changes nothing) carrying `csrf`; its status and body.
async fn preview_with(s: &Session, mdn: &str, csrf: &str) -> (u16, String) {
    let r = s
        .post_action(G, "nickname", &[("mdns", mdn), ("nickname", "Bus 7")], csrf)
        .await;
    (r.status().as_u16(), r.text().await.expect("body"))
}

#[tokio::test]
async fn every_page_masks_the_token_afresh_and_every_mask_is_accepted() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let first = app.get_text(LIST).await;
    let second = app.get_text(LIST).await;
    let (a, b) = (
        extract_meta_csrf(&first).expect("meta"),
        extract_meta_csrf(&second).expect("meta"),
    );
    assert_ne!(a, b, "the same token string on two page loads");
    // One response shows one mask: the meta tag, htmx's header and the sign-out form agree.
    assert!(
        first.contains(&format!(r#""X-CSRF-Token": "{a}""#)),
        "hx-headers"
    );
    assert!(attrs(&first, r#"input[name="csrf_token"]"#, "value").contains(&a));
    let lines = app.get_text(&format!("/devices/{G}")).await;
    let mdn = list_mdns(&lines).into_iter().next().expect("a line");
    assert_eq!(preview_with(&app, &mdn, &a).await.0, 200);
    assert_eq!(preview_with(&app, &mdn, &b).await.0, 200);

    // Another session's token (of the same user, well formed) is refused with the console's page.
    let other = app.session_as("tech").await;
    let theirs = other.page_csrf(LIST).await;
    let (status, html) = preview_with(&app, &mdn, &theirs).await;
    assert_eq!(status, 403);
    assert!(html.contains("Reload the page"), "{html:.2000}");
    // Malformed: not base64, truncated, extended, empty.
    let truncated = &a[..a.len() - 1];
    let extended = format!("{a}A");
    for bad in ["%%%not-base64", truncated, extended.as_str(), ""] {
        let (status, html) = preview_with(&app, &mdn, bad).await;
        assert_eq!(status, 403, "{bad}");
        assert!(html.contains("Reload the page"), "{bad}: {html:.2000}");
    }
    assert!(app.sim.api_requests_to("PUT", "/nickname").is_empty());
    // Both sessions still work with their own masks.
    assert_eq!(preview_with(&other, &mdn, &theirs).await.0, 200);
    let r = app
        .post_form("/logout", &[("csrf_token", b.as_str())])
        .await;
    assert_eq!(r.status(), 303);
    assert!(!signed_in(&app).await);
}

/// A multipart body with one text field.
fn multipart_field(name: &str, value: &str) -> (String, String) {
    let b = "----sentinel-csrf-test";
    (
        format!("multipart/form-data; boundary={b}"),
        format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n--{b}--\r\n"
        ),
    )
}

#[tokio::test]
async fn only_the_import_upload_takes_the_token_in_the_query() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let csrf = app.page_csrf(&format!("/devices/{G}/import")).await;
    let post = |path: String| {
        let (ct, body) = multipart_field("nickname", "Bus 7");
        app.client
            .post(app.url(&path))
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let r = post(format!("/logout?csrf_token={csrf}")).await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(signed_in(&app).await, "signed out through a query token");
    let r = post(format!("/devices/{G}/actions/nickname?csrf_token={csrf}"))
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // The upload route still takes it there (the body is no file: refused by the import, not the check).
    let r = post(format!("/devices/{G}/import?csrf_token={csrf}"))
        .await
        .unwrap();
    assert_ne!(r.status(), 403);
    assert!(signed_in(&app).await);
}
