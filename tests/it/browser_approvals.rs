//! A request and its approval in a real headless Chromium: a readonly user finds a line on the
//! portal and requests its suspension with a reason; a technician sees it counted in the header,
//! opens it from the inbox, previews the current values and approves it; the requester sees it
//! done. Screenshots go to `target/browser-approval-*.png`.

use crate::browser::{Step, artifact, click, have_browser, in_browser, js, text, url, wait_until};
use crate::helpers::*;

use fantoccini::Client;

const CORP: &str = "NORTHSTAR-ISD";
const MDN: &str = "304-228-6302";

async fn shot(c: &Client, name: &str) {
    if let Ok(png) = c.screenshot().await {
        let _ = std::fs::write(artifact(name), png);
    }
}

async fn sign_out(c: &Client) -> Step<()> {
    click(c, "header form.inline button[type=submit]").await?;
    wait_until("signed out", || async move {
        Ok(url(c).await?.path().contains("signed-out").then_some(()))
    })
    .await
}

async fn state_of(c: &Client) -> Step<Option<String>> {
    let v = js(
        c,
        "const e = document.querySelector('#job-progress'); return e ? e.getAttribute('data-state') : null;",
    )
    .await?;
    Ok(v.as_str().map(str::to_owned))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_readonly_request_approved_by_a_technician_in_a_real_browser() {
    if !have_browser() {
        return;
    }
    let app = spawn_app().await;
    let base = app.base.clone();
    let app = &app;
    in_browser("approval", |c, _| async move {
        let c = &c;
        let base = base.as_str();
        // The requester: the portal, the line's card, "Request: suspend or resume the line".
        c.goto(&format!("{base}/portal?q={MDN}"))
            .await
            .map_err(|e| format!("open the portal: {e}"))?;
        click(c, "button[name=user][value=readonly]").await?;
        wait_until("the line card", || async move {
            Ok(text(c, "#card-mdn").await?.filter(|m| m == MDN).map(|_| ()))
        })
        .await?;
        click(c, "#card-request a[href*='/actions/status']").await?;
        wait_until("the request form", || async move {
            Ok(text(c, "#request-note").await?.map(|_| ()))
        })
        .await?;
        js(
            c,
            "const f = document.querySelector('#action-form');
             const r = f.querySelector('input[name=status][value=SUSPENDED]');
             if (r) { r.checked = true; } else { f.querySelector('[name=status]').value = 'SUSPENDED'; }
             f.querySelector('[name=reason]').value = 'Lost on the bus';
             return true;",
        )
        .await?;
        shot(c, "browser-approval-request-form.png").await;
        click(c, "#action-form button[type=submit]").await?;
        wait_until("the request's preview", || async move {
            Ok(text(c, "#preview-explain").await?.map(|_| ()))
        })
        .await?;
        let verb = text(c, "#confirm-form button[type=submit]").await?.unwrap_or_default();
        if verb != "Send the request" {
            return Err(format!("the confirm button says {verb:?}"));
        }
        click(c, "#confirm-form button[type=submit]").await?;
        let change = wait_until("the request's page", || async move {
            let u = url(c).await?;
            Ok(u.path().starts_with("/changes/").then(|| u.path().to_owned()))
        })
        .await?;
        let waiting = state_of(c).await?;
        if waiting.as_deref() != Some("awaiting_approval") {
            return Err(format!("the request is {waiting:?}"));
        }
        if !app.sim.api_requests_to("PUT", "/status").is_empty() {
            return Err("a request sent something".into());
        }
        shot(c, "browser-approval-waiting.png").await;
        sign_out(c).await?;

        // The approver: the header counts it; the inbox lists it; approve after the preview.
        c.goto(&format!("{base}/changes?state=awaiting_approval"))
            .await
            .map_err(|e| format!("open the inbox: {e}"))?;
        click(c, "button[name=user][value=tech]").await?;
        wait_until("the count in the header", || async move {
            Ok(text(c, "#inbox-count .badge").await?.filter(|n| n == "1").map(|_| ()))
        })
        .await?;
        click(c, &format!("a[href='{change}']")).await?;
        wait_until("the approve button", || async move {
            Ok(text(c, "#approve-start button").await?.map(|_| ()))
        })
        .await?;
        click(c, "#approve-start button").await?;
        wait_until("the approval preview with current values", || async move {
            let reason = text(c, "#approve-reason").await?;
            let row = text(c, &format!("#preview tr[data-mdn='{MDN}']")).await?;
            Ok((reason.as_deref() == Some("Lost on the bus") && row.is_some()).then_some(()))
        })
        .await?;
        shot(c, "browser-approval-preview.png").await;
        click(c, "#approve-form button[type=submit]").await?;
        wait_until("the approved change done", || async move {
            Ok((state_of(c).await?.as_deref() == Some("done")).then_some(()))
        })
        .await?;
        sign_out(c).await?;

        // The requester sees it done, approved by the technician, with news in the header.
        c.goto(&format!("{base}{change}"))
            .await
            .map_err(|e| format!("open the request: {e}"))?;
        click(c, "button[name=user][value=readonly]").await?;
        wait_until("the request done, approved", || async move {
            let done = state_of(c).await?.as_deref() == Some("done");
            let notice = text(c, "#change-notice").await?.unwrap_or_default();
            let news = text(c, "#inbox .inbox-notice").await?.unwrap_or_default();
            Ok((done && notice.starts_with("Approved by") && news.contains("approved"))
                .then_some(()))
        })
        .await?;
        shot(c, "browser-approval-done.png").await;
        Ok(())
    })
    .await;
    let writes = app.sim.api_requests_to("PUT", "/status");
    assert_eq!(writes.len(), 1, "one upstream write, by the approver");
    let status = app
        .sim
        .sim
        .device(CORP, MDN)
        .and_then(|d| d.status)
        .unwrap_or_default();
    assert!(status.eq_ignore_ascii_case("SUSPENDED"), "{status}");
}
