//! Journeys in a real headless Chromium at 390 × 844 and 1400 × 1000, asserting what a person sees
//! (axe-core clean, nothing scrolling sideways, screenshots in `target/screenshots/`): the admin
//! line page, the overview on a phone, and a change confirmed after signing out elsewhere.

use crate::browser::{
    Step, click, have_browser, in_browser, in_browser_expecting, js, url, wait_until,
};
use crate::browser_portal::{axe_check, axe_source, no_horizontal_scroll, shot};
use crate::helpers::*;

use fantoccini::{Client, Locator};
use serde_json::json;

const CORP: &str = "NORTHSTAR-ISD";
const MDN: &str = "304-228-6302";
const SIZES: [(u32, u32); 2] = [(390, 844), (1400, 1000)];

async fn wait_for(c: &Client, css: &str) -> Step<()> {
    let script = format!("return !!document.querySelector({});", json!(css));
    let script = &script;
    wait_until(css, || async move {
        Ok((js(c, script).await? == json!(true)).then_some(()))
    })
    .await
}

async fn size(c: &Client, w: u32, h: u32) -> Step<()> {
    c.set_window_size(w, h)
        .await
        .map_err(|e| format!("window size {w}×{h}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_line_page_in_a_real_browser() {
    if !have_browser() {
        return;
    }
    let axe = axe_source();
    let app = spawn_app().await;
    // One change of the line to show in its history.
    app.sign_in("tech").await;
    let csrf = app.csrf().await;
    let resp = app
        .post_action(
            CORP,
            "nickname",
            &[("mdns", MDN), ("nickname", "Bus 47"), ("confirmed", "true")],
            &csrf,
        )
        .await;
    let change = location(&resp);
    finished_within(&app.state.db, change_id_of(&resp), 10).await;
    let base = app.base.clone();
    in_browser("line-page", |c, _| async move {
        let c = &c;
        let path = format!("/devices/{CORP}/line/{MDN}");
        crate::browser::sign_in_at(c, &base, &path, "tech").await?;
        for (w, h) in SIZES {
            size(c, w, h).await?;
            c.goto(&format!("{base}{path}"))
                .await
                .map_err(|e| format!("open the line: {e}"))?;
            wait_for(c, "#line-card").await?;
            let tag = format!("{w}x{h}");
            // The line's actions are on screen without scrolling, above the card.
            let top = js(
                c,
                "const a = document.querySelector('nav#change a.button').getBoundingClientRect(); \
                 return [a.top, a.height, window.innerHeight];",
            )
            .await?;
            let (at, height, inner) = (
                top[0].as_f64().unwrap_or(f64::MAX),
                top[1].as_f64().unwrap_or(0.0),
                top[2].as_f64().unwrap_or(0.0),
            );
            if height == 0.0 || at > inner {
                return Err(format!("the actions are below the fold at {tag}: {top}"));
            }
            // The history: the change, before → after, linked.
            let item = js(
                c,
                "const i = document.querySelector('#line-changes li.history-item'); \
                 return i ? [i.querySelector('.history-after').textContent, \
                 i.querySelector('a.history-title').getAttribute('href')] : null;",
            )
            .await?;
            if item != json!(["Bus 47", change.clone()]) {
                return Err(format!("the history at {tag}: {item}"));
            }
            // All details folded; one tap opens them.
            let open = js(c, "return document.getElementById('all-details').open;").await?;
            if open != json!(false) {
                return Err("all details are not folded".into());
            }
            no_horizontal_scroll(c, &format!("the line page at {tag}")).await?;
            axe_check(c, axe.as_deref(), &format!("the line page at {tag}")).await?;
            shot(c, &format!("line-page-{tag}")).await?;
            click(c, "#all-details > summary").await?;
            let shown = js(
                c,
                "return document.querySelector('#line-facts dt').getBoundingClientRect().height;",
            )
            .await?;
            if shown.as_f64().unwrap_or(0.0) <= 0.0 {
                return Err("the details do not open".into());
            }
            no_horizontal_scroll(c, &format!("the line page, details open, at {tag}")).await?;
            shot(c, &format!("line-page-details-{tag}")).await?;
        }
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_on_a_phone_in_a_real_browser() {
    if !have_browser() {
        return;
    }
    let axe = axe_source();
    let app = spawn_app().await;
    let base = app.base.clone();
    in_browser("overview-phone", |c, _| async move {
        let c = &c;
        let path = format!("/devices/{CORP}/overview");
        crate::browser::sign_in_at(c, &base, &path, "tech").await?;
        for (w, h) in SIZES {
            size(c, w, h).await?;
            c.goto(&format!("{base}{path}"))
                .await
                .map_err(|e| format!("open the overview: {e}"))?;
            wait_for(c, "#overview-total").await?;
            let tag = format!("{w}x{h}");
            no_horizontal_scroll(c, &format!("the overview at {tag}")).await?;
            // Chart text as readable as the page's: no label under 12 px.
            let smallest = js(
                c,
                "return Math.min(...Array.from(document.querySelectorAll('.hbar-label, .hbar-value')) \
                 .map(e => parseFloat(getComputedStyle(e).fontSize)));",
            )
            .await?
            .as_f64()
            .unwrap_or(0.0);
            if smallest < 12.0 {
                return Err(format!("chart text is {smallest}px at {tag}"));
            }
            // The findings come first, largest first; an empty one is folded away at the end.
            let order = js(
                c,
                "return Array.from(document.querySelectorAll('#overview > .finding')) \
                 .map(f => parseInt(f.getAttribute('data-count'), 10));",
            )
            .await?;
            let counts: Vec<i64> = serde_json::from_value(order).map_err(|e| e.to_string())?;
            if counts.windows(2).any(|p| p[0] < p[1]) {
                return Err(format!("findings not ranked: {counts:?}"));
            }
            let quiet = js(
                c,
                "const d = document.getElementById('quiet-findings'); \
                 return d ? [d.open, d.querySelectorAll('.figure').length] : null;",
            )
            .await?;
            if quiet != json!([false, 1]) {
                return Err(format!("the empty finding is not folded at the end: {quiet}"));
            }
            // One chart per figure, its numbers on demand.
            let tables_shown = js(
                c,
                // A closed <details> hides its content with `content-visibility: hidden`, whose
                // boxes still measure: what counts is whether the table sits in a closed one.
                "return Array.from(document.querySelectorAll('.figure-table')) \
                 .filter(t => !t.closest('details:not([open])') \
                   && t.getBoundingClientRect().height > 0).length;",
            )
            .await?;
            if tables_shown != json!(0) {
                return Err(format!("{tables_shown} number tables shown unasked"));
            }
            axe_check(c, axe.as_deref(), &format!("the overview at {tag}")).await?;
            shot(c, &format!("overview-{tag}")).await?;
        }
        // The numbers of one figure, asked for.
        click(c, "#fig-status .figure-numbers > summary").await?;
        no_horizontal_scroll(c, "the overview with numbers open").await?;
        shot(c, "overview-numbers-1400x1000").await?;
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_out_mid_preview_in_a_real_browser() {
    if !have_browser() {
        return;
    }
    let axe = axe_source();
    let app = spawn_app().await;
    let base = app.base.clone();
    let sim = app.sim.clone();
    in_browser_expecting("signed-out-preview", &["401"], |c, _| async move {
        let c = &c;
        size(c, 390, 844).await?;
        let form = format!("/devices/{CORP}/actions/nickname?mdns={MDN}");
        crate::browser::sign_in_at(c, &base, &format!("/devices/{CORP}"), "tech").await?;
        c.goto(&format!("{base}{form}"))
            .await
            .map_err(|e| format!("open the form: {e}"))?;
        let field = c
            .wait()
            .at_most(crate::browser::STEP)
            .for_element(Locator::Css("#f-nickname"))
            .await
            .map_err(|e| format!("nickname field: {e}"))?;
        field
            .send_keys("Kept bus")
            .await
            .map_err(|e| format!("type: {e}"))?;
        click(c, "#action-form button[type=submit]").await?;
        wait_for(c, "#confirm-form").await?;
        // Another tab signs out.
        js(
            c,
            "const t = document.querySelector('meta[name=csrf-token]').content; \
             fetch('/logout', {method: 'POST', headers: {'Content-Type': 'application/x-www-form-urlencoded'}, \
             body: 'csrf_token=' + encodeURIComponent(t)}); return true;",
        )
        .await?;
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        // Confirming now: what happened, in words, and the way on.
        click(c, "#confirm-form button[type=submit]").await?;
        wait_for(c, ".error-page h1").await?;
        let h1 = js(c, "return document.querySelector('.error-page h1').textContent;").await?;
        if h1 != json!("You were signed out — sign in to finish this change") {
            return Err(format!("the page says {h1}"));
        }
        if !sim.api_requests_to("PUT", "/nickname").is_empty() {
            return Err("the change was sent without a session".into());
        }
        no_horizontal_scroll(c, "the signed-out page at 390x844").await?;
        axe_check(c, axe.as_deref(), "the signed-out page").await?;
        shot(c, "signed-out-preview-390x844").await?;
        // Sign in: the same preview again, nothing sent until it is confirmed.
        click(c, ".way-on a.button-primary").await?;
        click(c, "button[name=user][value=tech]").await?;
        wait_for(c, "#confirm-form").await?;
        if url(c).await?.path() != "/changes/resume" {
            return Err(format!("landed on {}", url(c).await?));
        }
        let kept = js(
            c,
            "return document.querySelector('#confirm-form input[name=nickname]').value;",
        )
        .await?;
        if kept != json!("Kept bus") {
            return Err(format!("the preview lost the change: {kept}"));
        }
        if !sim.api_requests_to("PUT", "/nickname").is_empty() {
            return Err("the change was sent before a fresh confirm".into());
        }
        axe_check(c, axe.as_deref(), "the preview after sign-in").await?;
        shot(c, "signed-out-preview-again-390x844").await?;
        let outcome = crate::browser::apply_and_wait_outcome(c).await?;
        if outcome != "ok" {
            return Err(format!("the change ended {outcome:?}"));
        }
        Ok(())
    })
    .await;
}
