//! A real headless Chromium opens the device group overview from the list, raises the idle threshold,
//! and suspends the idle lines: their figure, its selection, the status form, the usual preview, the
//! result; then the overview (forgotten by the change) shows no idle line left. Skipped (with a note)
//! when Chromium is missing, unless `CI` is set. The browser harness is the one of `tests/browser.rs`.
#![allow(dead_code)]

use crate::helpers::*;

use fantoccini::Locator;

use crate::browser::{
    apply_and_wait_outcome, click, have_browser, in_browser, number_in, rows_of, submit_status,
    text, url_has, wait_until,
};

const CORP: &str = "NORTHSTAR-ISD";
/// The simulator has no line that used nothing; under 3000 MB in 30 days catches a few dozen.
const IDLE_MB: &str = "3000";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overview_acts_on_the_idle_lines_in_a_real_browser() {
    if !have_browser() {
        return;
    }
    let app = spawn_app().await;
    let base = app.base.clone();
    in_browser("overview-idle", |c, _| async move {
        let c = &c;
        let base = base.as_str();
        crate::browser::sign_in_at(c, base, &format!("/devices/{CORP}"), "tech").await?;

        // From the list to the overview, then the admin's idle threshold.
        click(c, "#overview-link").await?;
        wait_until("the overview", || async move {
            Ok(text(c, "#overview-total")
                .await?
                .filter(|t| t == "499")
                .map(|_| ()))
        })
        .await?;
        let charts = rows_of(c, "ul.hbars[aria-label]").await?;
        if charts < 7 {
            return Err(format!("only {charts} labelled charts on the overview"));
        }
        let field = c
            .find(Locator::Css("#idle_mb"))
            .await
            .map_err(|e| format!("threshold field: {e}"))?;
        field.clear().await.map_err(|e| format!("clear: {e}"))?;
        field
            .send_keys(IDLE_MB)
            .await
            .map_err(|e| format!("type the threshold: {e}"))?;
        click(c, "#idle-form button[type=submit]").await?;
        wait_until("the overview at the new threshold", || async move {
            url_has(c, &format!("idle_mb={IDLE_MB}")).await
        })
        .await?;
        let n = wait_until("idle lines", || async move {
            Ok(number_in(c, "#idle-sentence").await?.filter(|n| *n > 0))
        })
        .await?;

        // Click one: the idle lines as a selection. Click two: the status change for them.
        click(c, "#idle-lines").await?;
        wait_until("the selection of idle lines", || async move {
            Ok(number_in(c, "#selection-count").await?.filter(|m| *m == n))
        })
        .await?;
        click(c, "#overview-selection button[data-action=status]").await?;
        submit_status(c, "SUSPENDED").await?;

        // The usual preview: these N lines, nothing changed yet.
        wait_until("the preview of the idle lines", || async move {
            Ok((number_in(c, "#preview-count").await? == Some(n)).then_some(()))
        })
        .await?;
        if n > 10 {
            click(c, "#confirm-form input[name=acknowledged]").await?;
        }
        apply_and_wait_outcome(c).await.and_then(|o| {
            if o == "ok" {
                Ok(())
            } else {
                Err(format!("the change ended {o:?}"))
            }
        })?;

        // The change made the overview forget: no idle line is left at that threshold.
        c.goto(&format!("{base}/devices/{CORP}/overview?idle_mb={IDLE_MB}"))
            .await
            .map_err(|e| format!("open the overview again: {e}"))?;
        wait_until("no idle line left", || async move {
            Ok((number_in(c, "#idle-sentence").await? == Some(0)).then_some(()))
        })
        .await?;
        Ok(())
    })
    .await;
}
