//! A real headless Chromium starts tracking a device group from its overview, sees the usage chart,
//! opens the idle lines and suspends them (form, preview, confirmation, the change's page), then sees
//! the drift page, the list filtered from the latest sample and a portal card's usage strip. Every
//! page is checked with axe-core and photographed (`target/screenshots/`). Skipped (with a note) when
//! Chromium is missing, unless `CI` is set.

use std::time::Duration;

use fantoccini::Client;
use serde_json::json;

use crate::browser::{
    Step, apply_and_wait_outcome, click, have_browser, in_browser, js, number_in, rows_of,
    sign_in_at, submit_status, wait_until,
};
use crate::browser_portal::{axe_check, axe_source, no_horizontal_scroll, shot};
use crate::helpers::*;

const HS: &str = "NORTHSTAR-ISD-HS";

/// Checks the page in view with axe at a phone's and a desktop's width, and photographs both.
async fn look(c: &Client, axe: Option<&str>, name: &str) -> Step<()> {
    for (w, h) in [(390, 844), (1400, 1000)] {
        c.set_window_size(w, h)
            .await
            .map_err(|e| format!("window size: {e}"))?;
        let what = format!("{name} at {w}x{h}");
        no_horizontal_scroll(c, &what).await?;
        axe_check(c, axe, &what).await?;
        shot(c, &format!("usage-{name}-{w}x{h}")).await?;
    }
    Ok(())
}

async fn open(c: &Client, url: &str, ready: &str) -> Step<()> {
    c.goto(url).await.map_err(|e| format!("open {url}: {e}"))?;
    let script = format!("return !!document.querySelector({});", json!(ready));
    let script = &script;
    wait_until(&format!("{ready} on {url}"), || async move {
        Ok((js(c, script).await? == json!(true)).then_some(()))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracking_idle_lines_suspend_and_drift_in_a_real_browser() {
    if !have_browser() {
        return;
    }
    let axe = axe_source();
    let app = spawn_app_with(default_sim_config(), |cfg| {
        cfg.usage.sample_every = Duration::from_secs(2);
        cfg.usage.line_monthly_cost = Some(1_500);
    })
    .await;
    let base = app.base.clone();
    in_browser("usage", |c, _| async move {
        let c = &c;
        let base = base.as_str();
        let axe = axe.as_deref();
        sign_in_at(c, base, &format!("/devices/{HS}/overview"), "tech").await?;
        c.set_window_size(1400, 1000)
            .await
            .map_err(|e| format!("window size: {e}"))?;

        // The overview offers tracking; starting it lands on the usage page.
        click(c, "#overview-tracking-start").await?;
        wait_until("the usage page", || async move {
            Ok(crate::browser::url(c)
                .await?
                .path()
                .ends_with("/usage")
                .then_some(()))
        })
        .await?;

        // The chart once two samples are in (idle over 7 days: usage that did not grow today).
        let usage = format!("{base}/devices/{HS}/usage?idle_days=7");
        let usage = usage.as_str();
        let n = wait_until("two samples and idle lines", || async move {
            c.goto(usage).await.map_err(|e| format!("open: {e}"))?;
            let samples = rows_of(c, "#samples tbody tr").await?;
            let bars = rows_of(c, "svg.chart rect.chart-bar").await?;
            let idle = number_in(c, "#idle-count").await?.unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(400)).await;
            Ok((samples >= 2 && bars > 0 && idle > 0).then_some(idle))
        })
        .await?;
        look(c, axe, "page").await?;

        // The overview now leads to the history and its idle lines.
        open(c, &format!("{base}/devices/{HS}/overview"), "#overview-idle-link").await?;
        look(c, axe, "overview").await?;

        // The idle lines as a selection → suspend: form, preview, confirmation.
        open(c, usage, "#idle-link").await?;
        c.set_window_size(1400, 1000)
            .await
            .map_err(|e| format!("window size: {e}"))?;
        click(c, "#idle-link").await?;
        wait_until("the idle lines", || async move {
            Ok(number_in(c, "#selection-count")
                .await?
                .filter(|m| *m == n))
        })
        .await?;
        look(c, axe, "idle-lines").await?;
        c.set_window_size(1400, 1000)
            .await
            .map_err(|e| format!("window size: {e}"))?;
        click(c, "#usage-selection button[data-action=status]").await?;
        submit_status(c, "SUSPENDED").await?;
        wait_until("the preview of the idle lines", || async move {
            Ok((number_in(c, "#preview-count").await? == Some(n)).then_some(()))
        })
        .await?;
        if rows_of(c, "#confirm-form input[name=acknowledged]").await? > 0 {
            click(c, "#confirm-form input[name=acknowledged]").await?;
        }
        let outcome = apply_and_wait_outcome(c).await?;
        if outcome != "ok" {
            return Err(format!("the suspension ended {outcome:?}"));
        }
        look(c, axe, "change").await?;

        // Drift: the console's own change is none.
        open(
            c,
            &format!("{base}/devices/{HS}/drift"),
            "#drift-none, #drift-rows",
        )
        .await?;
        look(c, axe, "drift").await?;

        // The list filtered from the latest sample, and a line's strip on the portal's card.
        let filtered = format!("{base}/devices/{HS}?status=suspended");
        open(c, &filtered, "#as-of").await?;
        look(c, axe, "filtered-list").await?;
        let mdn = js(
            c,
            "const r = document.querySelector('table#devices tbody tr'); return r ? r.dataset.mdn : null;",
        )
        .await?;
        let mdn = mdn.as_str().ok_or("no line in the filtered list")?.to_owned();
        open(c, &format!("{base}/portal?q={mdn}"), "#line-card #line-history").await?;
        look(c, axe, "portal-card").await?;
        Ok(())
    })
    .await;
}
