//! A change set in a real headless Chromium: tech ticks a page of 600 lines (two job chunks), moves
//! them to another filter group and confirms; the change page shows the live progress (htmx polling)
//! while Sentinel is slowed, then the per-line results, filtered by outcome; Revert previews the
//! values restored and, confirmed, puts every line back to the filter group it had; the audit log
//! shows both changes in words, in the reader's time zone, each opening its change set. Screenshots go
//! to `target/browser-change-*.png`. Skipped (with a note) when Chromium is missing, unless `CI` is set.

use crate::browser::{
    Step, artifact, click, have_browser, in_browser, js, number_in, numbers, rows_of, text, url,
    wait_until,
};
use crate::helpers::*;

use std::time::Duration;

use fantoccini::{Client, Locator};
use sentinel_console::actions::CHUNK_SIZE;
use sentinel_console::simulator::{Fault, FaultKind, SimConfig};

const LARGE: &str = "FLEET-LARGE";
/// Lines ticked: more than one chunk, so the change runs as a background job with progress.
const LINES: usize = 600;
const _: () = assert!(
    LINES > CHUNK_SIZE,
    "the change must take more than one chunk"
);
const NEW_GROUP: &str = "Unfiltered";
/// How long Sentinel takes to answer the first write: long enough to see the progress bar.
const SLOW: Duration = Duration::from_secs(5);

async fn shot(c: &Client, name: &str) {
    if let Ok(png) = c.screenshot().await {
        let _ = std::fs::write(artifact(name), png);
    }
}

/// The `data-*` attribute `attr` of the first element matching `css`.
async fn attr_of(c: &Client, css: &str, attr: &str) -> Step<Option<String>> {
    let v = js(
        c,
        &format!(
            "const e = document.querySelector({}); return e ? e.getAttribute({}) : null;",
            serde_json::json!(css),
            serde_json::json!(attr)
        ),
    )
    .await?;
    Ok(v.as_str().map(str::to_owned))
}

/// The `data-outcome` of every row of the change's lines table.
async fn line_outcomes(c: &Client) -> Step<Vec<String>> {
    let v = js(
        c,
        "return Array.from(document.querySelectorAll('table#change-lines tbody tr')).map(r => r.getAttribute('data-outcome'));",
    )
    .await?;
    serde_json::from_value(v).map_err(|e| format!("line outcomes: {e}"))
}

/// Clicks the outcome filter whose label starts with `label` and waits for the lines it shows.
async fn filter_lines(c: &Client, label: &str, want: u64) -> Step<()> {
    let links = c
        .find_all(Locator::Css("#change-lines-section nav a[hx-get]"))
        .await
        .map_err(|e| format!("filter links: {e}"))?;
    let mut found = None;
    for l in links {
        if l.text().await.unwrap_or_default().starts_with(label) {
            found = Some(l);
            break;
        }
    }
    found
        .ok_or_else(|| format!("no filter “{label}”"))?
        .click()
        .await
        .map_err(|e| format!("click the filter {label}: {e}"))?;
    wait_until(&format!("the lines filtered by “{label}”"), || async move {
        let current = text(c, "#change-lines-section nav a[aria-current]").await?;
        let range = text(c, "#change-lines-section p.range")
            .await?
            .unwrap_or_default();
        let shown = if want == 0 {
            range.starts_with("No lines")
        } else {
            numbers(&range).last() == Some(&want)
        };
        Ok((current.is_some_and(|t| t.starts_with(label)) && shown).then_some(()))
    })
    .await
}

/// Waits for the change page of a finished change set; gives its outcome.
async fn finished_outcome(c: &Client, what: &str) -> Step<String> {
    wait_until(what, || async move {
        attr_of(c, "#job-progress #action-result", "data-outcome").await
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_set_from_confirm_to_revert_in_a_real_browser() {
    if !have_browser() {
        return;
    }
    let sim = SimConfig {
        large_group_size: 1_000,
        ..default_sim_config()
    };
    // Sentinel's slow answer must stay within the console's timeout (else its lines are unknown).
    let app = spawn_app_with(sim, |cfg| cfg.upstream_timeout = SLOW * 3).await;
    let base = app.base.clone();
    let sim = app.sim.sim.clone();
    // What each line's filter group was, for the end: read through the console's own list.
    app.sign_in("tech").await;
    let before_page = app
        .get_text(&format!(
            "/devices/{LARGE}?limit={LINES}&sort=MDN&sortDir=ASC"
        ))
        .await;
    let mdns = list_mdns(&before_page);
    assert_eq!(mdns.len(), LINES);
    let group_of = |m: &str| {
        sim.device(LARGE, m)
            .and_then(|d| d.filter_group)
            .unwrap_or_default()
    };
    let before: Vec<String> = mdns.iter().map(|m| group_of(m)).collect();
    assert!(
        before.iter().any(|g| g != NEW_GROUP),
        "some lines must change"
    );
    let (mdns, before) = (&mdns, &before);
    let app = &app;

    in_browser("change-set", |c, _| async move {
        let c = &c;
        let base = base.as_str();
        let list = format!("/devices/{LARGE}?limit={LINES}&sort=MDN&sortDir=ASC");
        c.goto(&format!("{base}{list}"))
            .await
            .map_err(|e| format!("open the list: {e}"))?;
        click(c, "button[name=user][value=tech]").await?;
        wait_until("the list of 600 lines after sign-in", || async move {
            let u = url(c).await?;
            let n = rows_of(c, "table#devices tbody tr").await?;
            Ok((u.path() == format!("/devices/{LARGE}") && n == LINES).then_some(()))
        })
        .await?;

        // The whole page, then the action from the bar.
        click(c, "input[data-select-page]").await?;
        wait_until("the bar to count 600", || async move {
            Ok((number_in(c, "[data-selected-count]").await? == Some(LINES as u64))
                .then_some(()))
        })
        .await?;
        click(c, "#selection-bar button[data-action=filter-group]").await?;
        wait_until("the filter group form", || async move {
            Ok(url(c)
                .await?
                .path()
                .contains("/actions/filter-group")
                .then_some(()))
        })
        .await?;
        c.wait()
            .at_most(crate::browser::STEP)
            .for_element(Locator::Css("#f-filterGroup"))
            .await
            .map_err(|e| format!("filter group field: {e}"))?
            .send_keys(NEW_GROUP)
            .await
            .map_err(|e| format!("type the filter group: {e}"))?;
        click(c, "#action-form button[type=submit]").await?;
        wait_until("the preview of 600 lines", || async move {
            Ok((number_in(c, "#preview-count").await? == Some(LINES as u64)).then_some(()))
        })
        .await?;
        click(c, "#confirm-form input[name=acknowledged]").await?;

        // Sentinel is slow to answer the first chunk: the change page shows the job running.
        app.sim.sim.add_fault(Fault {
            kind: FaultKind::Latency(SLOW),
            path_contains: Some("/filterGroup".into()),
            method: Some("PUT".into()),
            times: Some(1),
        });
        app.sim.sim.clear_requests();
        click(c, "#confirm-form button[type=submit]").await?;
        let change = wait_until("the change set's page", || async move {
            let u = url(c).await?;
            Ok(u.path().starts_with("/changes/").then(|| u.path().to_owned()))
        })
        .await?;
        let progress = wait_until("the live progress of the job", || async move {
            let state = attr_of(c, "#job-progress", "data-state").await?;
            let bar = rows_of(c, "#job-progress progress").await?;
            let words = text(c, "#job-progress .progress-text").await?;
            Ok((state.as_deref() == Some("running") && bar == 1)
                .then_some(words)
                .flatten())
        })
        .await?;
        if !progress.contains(&format!("of {LINES} lines done")) {
            return Err(format!("the progress says {progress:?}"));
        }
        // One chunk answered, the other still waiting: the polled fragment moves on its own.
        let partial = wait_until("the progress to count the first chunk", || async move {
            let state = attr_of(c, "#job-progress", "data-state").await?;
            let words = text(c, "#job-progress .progress-text").await?.unwrap_or_default();
            let done = numbers(&words).first().copied().unwrap_or(0);
            Ok((state.as_deref() == Some("running") && done > 0 && done < LINES as u64)
                .then_some(words))
        })
        .await?;
        let value = attr_of(c, "#job-progress progress", "value").await?;
        if value.as_deref().is_none_or(|v| v == "0" || v == "100") {
            return Err(format!("the bar stands at {value:?} while {partial:?}"));
        }
        shot(c, "browser-change-progress.png").await;
        let polling = attr_of(c, "#job-progress", "hx-trigger").await?;
        if polling.as_deref() != Some("every 1s") {
            return Err(format!("the progress does not poll: {polling:?}"));
        }

        // Done: every line changed, in two chunks; the lines table says so, and filters by outcome.
        let outcome = finished_outcome(c, "the change's result").await?;
        if outcome != "ok" {
            return Err(format!("the change ended {outcome:?}"));
        }
        if number_in(c, "#result-updated").await? != Some(LINES as u64) {
            return Err("the result does not count 600 changed lines".into());
        }
        let puts = app.sim.api_requests_to("PUT", "/filterGroup");
        if puts.len() != LINES.div_ceil(CHUNK_SIZE) {
            return Err(format!("{} calls reached Sentinel, not one per chunk", puts.len()));
        }
        wait_until("the lines table to show changed lines", || async move {
            let o = line_outcomes(c).await?;
            Ok((!o.is_empty() && o.iter().all(|o| o == "changed")).then_some(()))
        })
        .await?;
        filter_lines(c, "Not changed", 0).await?;
        if rows_of(c, "table#change-lines tbody tr").await? != 0 {
            return Err("“Not changed” shows lines".into());
        }
        filter_lines(c, "Changed", LINES as u64).await?;
        let changed = line_outcomes(c).await?;
        if changed.is_empty() || changed.iter().any(|o| o != "changed") {
            return Err(format!("“Changed” shows {changed:?}"));
        }
        shot(c, "browser-change-done.png").await;

        // Revert (offered on the page once the change has finished: the live swap replaces only the
        // progress, so the page is loaded again, as the user would): the preview counts the lines and
        // the values restored, nothing sent yet.
        c.refresh().await.map_err(|e| format!("reload the change page: {e}"))?;
        app.sim.sim.clear_requests();
        click(c, "#revert-form button[type=submit]").await?;
        wait_until("the revert preview", || async move {
            Ok(text(c, "#revert-count")
                .await?
                .filter(|t| numbers(t).first() == Some(&(LINES as u64)))
                .map(|_| ()))
        })
        .await?;
        let values = crate::browser::texts(c, "#revert-values li").await?;
        let mut distinct: Vec<&String> = before.iter().collect();
        distinct.sort();
        distinct.dedup();
        if values.len() != distinct.len() {
            return Err(format!("the preview restores {values:?}, the lines had {distinct:?}"));
        }
        if !app.sim.api_requests_to("PUT", "/filterGroup").is_empty() {
            return Err("the revert preview sent a change".into());
        }
        shot(c, "browser-change-revert-preview.png").await;
        click(c, "#confirm-form button[type=submit]").await?;
        let change = &change;
        let revert = wait_until("the revert's change set", || async move {
            let u = url(c).await?;
            // Not the preview's own address (`/changes/{id}/revert`): the new change set's page.
            let new_set = u.path().starts_with("/changes/")
                && u.path() != change.as_str()
                && !u.path().ends_with("/revert");
            Ok(new_set
                .then(|| u.path().to_owned()))
        })
        .await?;
        let revert = &revert;
        let outcome = finished_outcome(c, "the revert's result").await?;
        if outcome != "ok" {
            return Err(format!("the revert ended {outcome:?} ({revert})"));
        }
        let earlier = attr_of(c, "#change-facts a", "href").await?;
        if earlier.as_deref() != Some(change.as_str()) {
            return Err(format!("the revert links to {earlier:?}, not {change}"));
        }

        // The audit log: both changes in words, times in the reader's zone (UTC on hover), each row
        // opening its change set.
        c.goto(&format!("{base}/audit"))
            .await
            .map_err(|e| format!("open /audit: {e}"))?;
        let rows = wait_until("two audit rows, their times shown locally", || async move {
            let v = js(
                c,
                "return Array.from(document.querySelectorAll('table#audit tbody tr')).map(r => {                    const t = r.querySelector('time');                    const want = new Intl.DateTimeFormat(undefined, {year: 'numeric', month: 'short',                      day: 'numeric', hour: '2-digit', minute: '2-digit', timeZoneName: 'short'})                      .format(new Date(t.getAttribute('datetime')));                    return [r.cells[3].innerText, r.cells[4].innerText, t.textContent, want,                      t.getAttribute('title') || '', t.hasAttribute('data-local-shown'), r.cells[5].innerText]; });",
            )
            .await?;
            let rows: Vec<(String, String, String, String, String, bool, String)> =
                serde_json::from_value(v).map_err(|e| format!("audit rows: {e}"))?;
            Ok((rows.len() == 2 && rows.iter().all(|r| r.5)).then_some(rows))
        })
        .await?;
        for (action, _, shown, want, title, _, _) in &rows {
            if action != "Move to filter group" || shown != want || !title.ends_with(" UTC") {
                return Err(format!(
                    "audit row {action:?}: time {shown:?} (expected {want:?}), title {title:?}"
                ));
            }
        }
        if !rows[1].1.starts_with(&format!("{LINES} lines: "))
            || rows[1].6 != format!("Filter group → {NEW_GROUP}")
        {
            return Err(format!("the change reads {:?}: {:?}", rows[1].1, rows[1].6));
        }
        if !(rows[0].6.starts_with("Revert of change ") && rows[0].6.contains(": Filter group → ")) {
            return Err(format!("the revert's fields read {:?}", rows[0].6));
        }
        shot(c, "browser-change-audit.png").await;
        click(c, "table#audit tbody tr:nth-child(1) a.change-link").await?;
        wait_until("the revert's page from its audit row", || async move {
            Ok((url(c).await?.path() == revert.as_str()).then_some(()))
        })
        .await?;
        Ok(())
    })
    .await;

    // What reached Sentinel: every line has its filter group from before again.
    let now: Vec<String> = mdns.iter().map(|m| group_of(m)).collect();
    let differ = now.iter().zip(before).filter(|(a, b)| a != b).count();
    assert_eq!(
        differ, 0,
        "{differ} lines did not get their filter group back"
    );
}

/// Issue 21: suspend three lines from the list, revert the change from its page, and the list
/// shows them active again (the revert sent `ACTIVE`, the status operation's own spelling, for
/// lines the list reads as `active`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspend_three_lines_then_revert_and_the_list_shows_them_active_again() {
    if !have_browser() {
        return;
    }
    let app = spawn_app().await;
    let base = app.base.clone();
    let app = &app;
    let picked = std::sync::Mutex::new(Vec::new());
    let picked_ref = &picked;
    in_browser("revert-status", |c, _| async move {
        let c = &c;
        let base = base.as_str();
        crate::browser::sign_in_to_list(c, base, "tech").await?;
        let v = js(
            c,
            "return Array.from(document.querySelectorAll('table#devices tbody tr'))              .filter(r => r.querySelector('td.col-status .badge').innerText.trim().toLowerCase() === 'active')              .slice(0, 3).map(r => r.getAttribute('data-mdn'));",
        )
        .await?;
        let mdns: Vec<String> = serde_json::from_value(v).map_err(|e| format!("rows: {e}"))?;
        if mdns.len() != 3 {
            return Err(format!("three active lines on the first page: {mdns:?}"));
        }
        for m in &mdns {
            click(c, &format!("table#devices input[name=mdns][value='{m}']")).await?;
        }
        wait_until("the bar to count 3", || async move {
            Ok((number_in(c, "[data-selected-count]").await? == Some(3)).then_some(()))
        })
        .await?;
        click(c, "#selection-bar button[data-action=status]").await?;
        c.wait()
            .at_most(crate::browser::STEP)
            .for_element(Locator::Css("select#f-status"))
            .await
            .map_err(|e| format!("status choices: {e}"))?
            .select_by_value("SUSPENDED")
            .await
            .map_err(|e| format!("choose SUSPENDED: {e}"))?;
        click(c, "#action-form button[type=submit]").await?;
        wait_until("the preview of 3 lines", || async move {
            Ok((number_in(c, "#preview-count").await? == Some(3)).then_some(()))
        })
        .await?;
        let outcome = crate::browser::apply_and_wait_outcome(c).await?;
        if outcome != "ok" {
            return Err(format!("the suspension ended {outcome:?}"));
        }
        let change = url(c).await?.path().to_owned();
        for m in &mdns {
            let d = app.sim.sim.device(CORP_DISTRICT, m).ok_or("line gone")?;
            if d.status.as_deref() != Some("suspended") {
                return Err(format!("{m} is {:?} after the suspension", d.status));
            }
        }

        // The change page offers the revert and says what it does; its preview names the value
        // restored in the operation's own spelling, and nothing left out.
        c.refresh().await.map_err(|e| format!("reload the change page: {e}"))?;
        let label = text(c, "#revert-form button[type=submit]").await?;
        if label.as_deref() != Some("Revert the 3 lines changed…") {
            return Err(format!("the revert button reads {label:?}"));
        }
        click(c, "#revert-form button[type=submit]").await?;
        wait_until("the revert preview", || async move {
            Ok(text(c, "#revert-count")
                .await?
                .filter(|t| numbers(t).first() == Some(&3))
                .map(|_| ()))
        })
        .await?;
        let values = crate::browser::texts(c, "#revert-values li").await?;
        if values != ["“ACTIVE”: 3 lines"] {
            return Err(format!("the preview restores {values:?}"));
        }
        if rows_of(c, "#revert-left-out li").await? != 0 {
            return Err("the preview leaves lines out".into());
        }
        shot(c, "browser-revert-status-preview.png").await;
        click(c, "#confirm-form button[type=submit]").await?;
        let change = &change;
        wait_until("the revert's change set", || async move {
            let u = url(c).await?;
            Ok((u.path().starts_with("/changes/")
                && u.path() != change.as_str()
                && !u.path().ends_with("/revert"))
            .then_some(()))
        })
        .await?;
        let outcome = finished_outcome(c, "the revert's result").await?;
        if outcome != "ok" {
            return Err(format!("the revert ended {outcome:?}"));
        }

        // The list, as the user sees it: the three lines are active again.
        c.goto(&format!("{base}/devices/{CORP_DISTRICT}"))
            .await
            .map_err(|e| format!("open the list: {e}"))?;
        let mdns = &mdns;
        wait_until("the three lines active in the list", || async move {
            let mut all = true;
            for m in mdns {
                let s = text(c, &format!("table#devices tr[data-mdn='{m}'] td.col-status .badge"))
                    .await?;
                all &= s.as_deref().map(str::trim) == Some("Active");
            }
            Ok(all.then_some(()))
        })
        .await?;
        shot(c, "browser-revert-status-list.png").await;
        if let Ok(mut p) = picked_ref.lock() {
            *p = mdns.clone();
        }
        Ok(())
    })
    .await;
    // What reached Sentinel: one status call back, spelled as the operation takes it.
    let sent = app.sim.api_requests_to("PUT", "/status");
    if let Some(last) = sent.last() {
        assert!(last.body.contains(r#""status":"ACTIVE""#), "{}", last.body);
    }
    for m in picked.lock().map(|p| p.clone()).unwrap_or_default() {
        let d = app.sim.sim.device(CORP_DISTRICT, &m).expect("line");
        assert_eq!(d.status.as_deref(), Some("active"), "{m}");
    }
}

const CORP_DISTRICT: &str = "NORTHSTAR-ISD";
