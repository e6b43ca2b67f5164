//! A real headless Chromium, driven through chromedriver, signs in and works the device list (htmx search,
//! sort, pagination, back button), runs a bulk change from the selection bar to its audit row, finds no
//! change control as readonly, and downloads a CSV export. Skipped (with a note) when Chromium is missing,
//! unless `CI` is set.

use crate::helpers::*;

use std::future::Future;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long any one step may take before the test gives up (htmx debounce + a cold SQLite + a slow CI box).
pub(crate) const STEP: Duration = Duration::from_secs(20);

pub(crate) type Step<T> = Result<T, String>;

/// A chromedriver child process and the browser profile it uses; both go away on drop.
struct Driver {
    child: Child,
    port: u16,
    profile: PathBuf,
}

impl Driver {
    fn start() -> Self {
        let port = free_port();
        let profile = std::env::temp_dir().join(format!(
            "sentinel-console-chromium-{}",
            uuid::Uuid::new_v4()
        ));
        std::fs::create_dir_all(profile.join("downloads")).expect("browser profile dir");
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn chromedriver");
        Self {
            child,
            port,
            profile,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Where this browser saves downloaded files.
    fn downloads(&self) -> PathBuf {
        self.profile.join("downloads")
    }

    /// Waits until chromedriver answers its status endpoint.
    async fn ready(&self) {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(r) = http.get(format!("{}/status", self.url())).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not start on port {}",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn capabilities(&self) -> serde_json::Map<String, Value> {
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--window-size=1400,1000",
                    format!("--user-data-dir={}", self.profile.display()),
                ],
                // Downloads land in the profile's own folder without asking (the export test reads them there).
                "prefs": {
                    "download.default_directory": self.downloads().display().to_string(),
                    "download.prompt_for_download": false,
                    "download.directory_upgrade": true,
                    "safebrowsing.enabled": false,
                },
            },
            // Lets the test read the browser console (JS errors, CSP violations).
            "goog:loggingPrefs": { "browser": "ALL" },
        });
        match caps {
            Value::Object(map) => map,
            _ => unreachable!("capabilities are an object"),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Polls `check` until it yields `Some`, or fails with `what` after [`STEP`].
pub(crate) async fn wait_until<T, F, Fut>(what: &str, mut check: F) -> Step<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Step<Option<T>>>,
{
    let deadline = Instant::now() + STEP;
    let mut last_err = String::new();
    loop {
        match check().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => {}
            // A swap in flight can make a lookup fail for a moment; only the last error matters.
            Err(e) => last_err = e,
        }
        if Instant::now() >= deadline {
            return Err(format!("timed out waiting for {what} {last_err}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs a script in the page and returns its result.
pub(crate) async fn js(c: &Client, script: &str) -> Step<Value> {
    c.execute(script, vec![])
        .await
        .map_err(|e| format!("script failed: {e}"))
}

pub(crate) async fn url(c: &Client) -> Step<url::Url> {
    c.current_url()
        .await
        .map_err(|e| format!("current url: {e}"))
}

pub(crate) async fn url_has(c: &Client, needle: &str) -> Step<Option<url::Url>> {
    let u = url(c).await?;
    Ok(u.as_str().contains(needle).then_some(u))
}

pub(crate) async fn click(c: &Client, css: &str) -> Step<()> {
    let el = c
        .wait()
        .at_most(STEP)
        .for_element(Locator::Css(css))
        .await
        .map_err(|e| format!("{css} not found: {e}"))?;
    el.click().await.map_err(|e| format!("click {css}: {e}"))
}

/// On the action form of the status action: chooses `status` and submits (to the preview).
pub(crate) async fn submit_status(c: &Client, status: &str) -> Step<()> {
    let select = c
        .wait()
        .at_most(STEP)
        .for_element(Locator::Css("select#f-status"))
        .await
        .map_err(|e| format!("status form: {e}"))?;
    select
        .select_by_value(status)
        .await
        .map_err(|e| format!("choose {status}: {e}"))?;
    click(c, "#action-form button[type=submit]").await
}

/// The visible text of every row of the device table.
async fn rows(c: &Client) -> Step<Vec<String>> {
    let v = js(
        c,
        "return Array.from(document.querySelectorAll('table#devices tbody tr')).map(r => r.innerText.trim());",
    )
    .await?;
    serde_json::from_value(v).map_err(|e| format!("rows: {e}"))
}

/// The text of every element matching `css`.
pub(crate) async fn texts(c: &Client, css: &str) -> Step<Vec<String>> {
    let script = format!(
        "return Array.from(document.querySelectorAll({})).map(e => e.textContent.trim());",
        json!(css)
    );
    serde_json::from_value(js(c, &script).await?).map_err(|e| format!("{css}: {e}"))
}

/// The trimmed text of the first element matching `css`, if any.
pub(crate) async fn text(c: &Client, css: &str) -> Step<Option<String>> {
    Ok(texts(c, css).await?.into_iter().next())
}

/// The `data-value` of every `td.col-last30`, as numbers.
async fn last30_values(c: &Client) -> Step<Vec<f64>> {
    let v = js(
        c,
        "return Array.from(document.querySelectorAll('table#devices tbody td.col-last30')).map(td => td.getAttribute('data-value'));",
    )
    .await?;
    let raw: Vec<Option<String>> = serde_json::from_value(v).map_err(|e| format!("last30: {e}"))?;
    raw.into_iter()
        .map(|s| {
            let s = s.ok_or("td.col-last30 without data-value")?;
            s.trim()
                .parse::<f64>()
                .map_err(|_| format!("td.col-last30 data-value {s:?} is not a number"))
        })
        .collect()
}

/// The numbers in a text, in order ("Showing 26–50 of 1,234" gives 26, 50, 1234).
pub(crate) fn numbers(s: &str) -> Vec<u64> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for ch in s.chars().chain(std::iter::once(' ')) {
        if ch.is_ascii_digit() {
            cur.push(ch);
        } else if (ch == ',' || ch == '\u{202f}' || ch == '\u{a0}') && !cur.is_empty() {
            // Thousands separators inside a number.
        } else if !cur.is_empty() {
            out.extend(cur.parse::<u64>().ok());
            cur.clear();
        }
    }
    out
}

fn is_sorted_by(v: &[f64], ascending: bool) -> bool {
    v.windows(2).all(|w| {
        if ascending {
            w[0] <= w[1]
        } else {
            w[0] >= w[1]
        }
    })
}

/// Severe entries of the browser console (uncaught errors, CSP violations), read through chromedriver's log
/// endpoint. `None` when this chromedriver does not offer it.
async fn console_errors(driver: &Driver, c: &Client) -> Option<Vec<String>> {
    let session = c.session_id().await.ok().flatten()?;
    let resp = reqwest::Client::new()
        .post(format!("{}/session/{session}/se/log", driver.url()))
        .json(&json!({ "type": "browser" }))
        .send()
        .await
        .ok()?;
    if !resp.status().is_success() {
        return None;
    }
    let body: Value = resp.json().await.ok()?;
    let entries = body.get("value")?.as_array()?;
    Some(
        entries
            .iter()
            .filter(|e| e.get("level").and_then(Value::as_str) == Some("SEVERE"))
            .filter_map(|e| e.get("message").and_then(Value::as_str).map(str::to_owned))
            // Browsers ask for /favicon.ico on their own; a missing icon is not a page error.
            .filter(|m| !m.contains("favicon.ico"))
            .collect(),
    )
}

pub(crate) fn artifact(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    let _ = std::fs::create_dir_all(&dir);
    dir.join(name)
}

async fn screenshot(c: &Client, name: &str) {
    if let Ok(png) = c.screenshot().await {
        let _ = std::fs::write(artifact(name), png);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_list_in_a_real_browser() {
    let _one = browser_lock().lock().await;
    let have = Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    if !have {
        if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
            panic!(
                "CI is set but {CHROMIUM} or {CHROMEDRIVER} is missing: install them \
                 (apt-get install -y chromium chromium-driver) or run .ci/run, which does"
            );
        }
        println!("skipped: chromium not installed");
        return;
    }

    let app = spawn_app().await;

    // Without a session the list sends the browser to sign in, remembering where it was going.
    let resp = app.get("/devices/NORTHSTAR-ISD").await;
    assert!(
        resp.status().is_redirection(),
        "unsigned list: {}",
        resp.status()
    );
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        location.starts_with("/login?") && location.contains("next="),
        "unsigned list should redirect to /login?next=..., got {location:?}"
    );

    let driver = Driver::start();
    driver.ready().await;
    // chromedriver speaks plain HTTP on loopback: no TLS stack needed (and none to choose between).
    let client = ClientBuilder::new(HttpConnector::new())
        .capabilities(driver.capabilities())
        .connect(&driver.url())
        .await
        .expect("start a chromium session through chromedriver");

    let outcome = scenario(&client, &app.base).await;
    let _ = client.execute("window.scrollTo(0, 0);", vec![]).await;
    screenshot(
        &client,
        if outcome.is_ok() {
            "browser-list.png"
        } else {
            "browser-failure.png"
        },
    )
    .await;
    let errors = console_errors(&driver, &client).await;
    let at = client
        .current_url()
        .await
        .map(|u| u.to_string())
        .unwrap_or_default();
    let page_text = js(
        &client,
        "return document.body ? document.body.innerText : '';",
    )
    .await
    .ok()
    .and_then(|v| v.as_str().map(|s| s.chars().take(2000).collect::<String>()))
    .unwrap_or_default();
    let _ = client.close().await;

    if let Err(e) = outcome {
        panic!(
            "browser scenario failed: {e}\nat: {at}\nscreenshot: {}\npage text (start):\n{page_text}",
            artifact("browser-failure.png").display()
        );
    }
    if let Some(errors) = errors {
        assert!(
            errors.is_empty(),
            "the browser console reported errors:\n{}",
            errors.join("\n")
        );
    }
}

/// The user's walk through the device list; every step names what it waited for when it fails.
async fn scenario(c: &Client, base: &str) -> Step<()> {
    // Sign in through the demo identity provider and land back on the list.
    c.goto(&format!("{base}/devices/NORTHSTAR-ISD"))
        .await
        .map_err(|e| format!("open the list: {e}"))?;
    click(c, "button[name=user][value=tech]").await?;
    wait_until("the list after sign-in", || async move {
        let u = url(c).await?;
        Ok((u.as_str().starts_with(base) && u.path() == "/devices/NORTHSTAR-ISD").then_some(()))
    })
    .await?;

    // First page: 25 rows out of 499.
    wait_until("25 rows in table#devices", || async move {
        Ok((rows(c).await?.len() == 25).then_some(()))
    })
    .await?;
    let all_totals = &wait_until("#totals to show 499", || async move {
        Ok(text(c, "#totals")
            .await?
            .filter(|t| numbers(t).contains(&499)))
    })
    .await?;

    // Search (htmx, debounced): the URL follows and every row matches.
    let search = c
        .wait()
        .at_most(STEP)
        .for_element(Locator::Css("input[name=searchValue]"))
        .await
        .map_err(|e| format!("search box: {e}"))?;
    search
        .send_keys("Bus")
        .await
        .map_err(|e| format!("type in search: {e}"))?;
    wait_until(
        "searchValue=Bus in the URL and only Bus rows",
        || async move {
            if url_has(c, "searchValue=Bus").await?.is_none() {
                return Ok(None);
            }
            let names = texts(c, "table#devices tbody td.col-nickname").await?;
            let all_bus =
                !names.is_empty() && names.iter().all(|n| n.to_lowercase().contains("bus"));
            Ok(all_bus.then_some(()))
        },
    )
    .await?;
    // One count for the matches (the range); the cards keep counting the whole group, and say so.
    wait_until("#range to count the matches", || async move {
        let range = text(c, "#range").await?.unwrap_or_default();
        Ok(
            (range.contains("matching") && numbers(&range).last().is_some_and(|n| *n < 499))
                .then_some(()),
        )
    })
    .await?;
    let totals_now = text(c, "#totals").await?.unwrap_or_default();
    if totals_now != *all_totals || !totals_now.contains("in the group") {
        return Err(format!(
            "the group's cards changed with a search: {totals_now:?}"
        ));
    }

    // Clearing the search brings back all 499 lines (keyboard, so htmx sees real input events).
    search
        .send_keys("\u{E003}\u{E003}\u{E003}")
        .await
        .map_err(|e| format!("clear search: {e}"))?;
    wait_until("the full list after clearing the search", || async move {
        let u = url(c).await?;
        let searching = u
            .query_pairs()
            .any(|(k, v)| k == "searchValue" && !v.is_empty());
        let totals = text(c, "#totals").await?.unwrap_or_default();
        Ok(
            (!searching && numbers(&totals).contains(&499) && rows(c).await?.len() == 25)
                .then_some(()),
        )
    })
    .await?;

    // Show the last-30-days column through the column chooser: the URL shares the view.
    click(c, "#column-chooser summary").await?;
    click(c, "#column-chooser input[value=last30]").await?;
    wait_until("columns=…last30 in the URL and its header", || async move {
        let shown = url_has(c, "last30").await?.is_some()
            && !texts(c, "th a[data-sort=LAST_30_DAYS_USED]")
                .await?
                .is_empty();
        Ok(shown.then_some(()))
    })
    .await?;
    // Sort by last-30-days usage: the URL says so and the rows are in order.
    click(c, "th a[data-sort=LAST_30_DAYS_USED]").await?;
    wait_until("sort=LAST_30_DAYS_USED and sorted rows", || async move {
        let Some(u) = url_has(c, "sort=LAST_30_DAYS_USED").await? else {
            return Ok(None);
        };
        let dir = u
            .query_pairs()
            .find(|(k, _)| k == "sortDir")
            .map(|(_, v)| v.to_ascii_uppercase());
        let values = last30_values(c).await?;
        if values.len() != 25 {
            return Ok(None);
        }
        let ok = match dir.as_deref() {
            Some("ASC") => is_sorted_by(&values, true),
            Some("DESC") => is_sorted_by(&values, false),
            _ => is_sorted_by(&values, true) || is_sorted_by(&values, false),
        };
        Ok(ok.then_some(()))
    })
    .await?;
    let sorted_url = &url(c).await?;
    let first_page = &rows(c).await?;

    // Next page: offset 25, "Showing 26–50 of 499".
    click(c, "a[rel=next]").await?;
    wait_until("offset=25 and #range 26–50 of 499", || async move {
        if url_has(c, "offset=25").await?.is_none() {
            return Ok(None);
        }
        let range = text(c, "#range").await?.unwrap_or_default();
        let ok = numbers(&range) == [26, 50, 499];
        Ok((ok && rows(c).await? != *first_page).then_some(()))
    })
    .await?;
    let second_page = rows(c).await?;
    if second_page.len() != 25 {
        return Err(format!("page 2 has {} rows, not 25", second_page.len()));
    }

    // Back: the URL and the first page's rows return.
    c.back().await.map_err(|e| format!("back: {e}"))?;
    wait_until("the first page again after Back", || async move {
        let u = url(c).await?;
        Ok((u == *sorted_url && rows(c).await? == *first_page).then_some(()))
    })
    .await?;
    Ok(())
}

/// One browser at a time: the machine is small and Chromium is not.
fn browser_lock() -> &'static tokio::sync::Mutex<()> {
    static LOCK: std::sync::OnceLock<tokio::sync::Mutex<()>> = std::sync::OnceLock::new();
    LOCK.get_or_init(|| tokio::sync::Mutex::new(()))
}

/// Whether Chromium and chromedriver are here; under `CI` their absence is a failure.
pub(crate) fn have_browser() -> bool {
    let have = Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    if !have {
        if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
            panic!("CI is set but {CHROMIUM} or {CHROMEDRIVER} is missing");
        }
        println!("skipped: chromium not installed");
    }
    have
}

/// Runs `scenario` in a fresh browser (own profile, no cookies) and fails with the page, a screenshot and
/// the browser console's errors when it fails.
pub(crate) async fn in_browser<F, Fut>(name: &str, scenario: F)
where
    F: FnOnce(Client, PathBuf) -> Fut,
    Fut: Future<Output = Step<()>>,
{
    in_browser_expecting(name, &[], scenario).await
}

/// [`in_browser`], where browser console messages containing one of `expected` are no failure
/// (a page the console does not serve, a status the scenario provokes).
pub(crate) async fn in_browser_expecting<F, Fut>(name: &str, expected: &[&str], scenario: F)
where
    F: FnOnce(Client, PathBuf) -> Fut,
    Fut: Future<Output = Step<()>>,
{
    let _one = browser_lock().lock().await;
    let driver = Driver::start();
    driver.ready().await;
    let client = ClientBuilder::new(HttpConnector::new())
        .capabilities(driver.capabilities())
        .connect(&driver.url())
        .await
        .expect("start a chromium session through chromedriver");
    let outcome = scenario(client.clone(), driver.downloads()).await;
    let shot = if outcome.is_ok() {
        format!("browser-{name}.png")
    } else {
        format!("browser-{name}-failure.png")
    };
    screenshot(&client, &shot).await;
    // A line that reports no health gets its page with status 409 by design; the browser logs that status.
    // So do error pages a test opens on purpose (their address carries `expected-error`).
    let errors = console_errors(&driver, &client).await.map(|errors| {
        errors
            .into_iter()
            .filter(|m| !(m.contains("/health") && m.contains("status of 409")))
            .filter(|m| !expected.iter().any(|e| m.contains(e)))
            .filter(|m| !m.contains("expected-error"))
            .collect::<Vec<_>>()
    });
    let at = client
        .current_url()
        .await
        .map(|u| u.to_string())
        .unwrap_or_default();
    let page_text = js(
        &client,
        "return document.body ? document.body.innerText : '';",
    )
    .await
    .ok()
    .and_then(|v| v.as_str().map(|s| s.chars().take(2000).collect::<String>()))
    .unwrap_or_default();
    let _ = client.close().await;
    if let Err(e) = outcome {
        panic!(
            "browser scenario {name} failed: {e}\nat: {at}\nscreenshot: {}\npage text (start):\n{page_text}",
            artifact(&shot).display()
        );
    }
    if let Some(errors) = errors {
        assert!(
            errors.is_empty(),
            "the browser console reported errors in {name}:\n{}",
            errors.join("\n")
        );
    }
}

const CORP: &str = "NORTHSTAR-ISD";

/// Opens the group's list, signs in as `user` through the demo identity provider and waits for 25 rows.
/// Opens `path` (signed out), picks `user` on the demo sign-in and waits to be back on `path`.
pub(crate) async fn sign_in_at(c: &Client, base: &str, path: &str, user: &str) -> Step<()> {
    c.goto(&format!("{base}{path}"))
        .await
        .map_err(|e| format!("open {path}: {e}"))?;
    click(c, &format!("button[name=user][value={user}]")).await?;
    let want = path.split('?').next().unwrap_or(path).to_owned();
    let want = &want;
    wait_until(&format!("{path} after sign-in"), || async move {
        let u = url(c).await?;
        Ok((u.as_str().starts_with(base) && u.path() == want.as_str()).then_some(()))
    })
    .await
}

pub(crate) async fn sign_in_to_list(c: &Client, base: &str, user: &str) -> Step<()> {
    sign_in_at(c, base, &format!("/devices/{CORP}"), user).await?;
    wait_until("25 rows in table#devices", || async move {
        Ok((rows(c).await?.len() == 25).then_some(()))
    })
    .await
}

/// Types a search and waits until the list shows only its matches; gives the number of matching lines.
async fn search_for(c: &Client, term: &str) -> Step<u64> {
    let search = c
        .wait()
        .at_most(STEP)
        .for_element(Locator::Css("input[name=searchValue]"))
        .await
        .map_err(|e| format!("search box: {e}"))?;
    search
        .send_keys(term)
        .await
        .map_err(|e| format!("type in search: {e}"))?;
    let needle = term.to_lowercase();
    let needle = &needle;
    wait_until(
        "the search in the URL and only matching rows",
        || async move {
            if url_has(c, "searchValue=").await?.is_none() {
                return Ok(None);
            }
            let names = texts(c, "table#devices tbody td.col-nickname").await?;
            let ok = !names.is_empty() && names.iter().all(|n| n.to_lowercase().contains(needle));
            if !ok {
                return Ok(None);
            }
            let range = text(c, "#range").await?.unwrap_or_default();
            Ok(numbers(&range).last().copied().filter(|n| *n < 499))
        },
    )
    .await
}

/// The number the selection bar shows.
async fn selected_count(c: &Client) -> Step<Option<u64>> {
    Ok(text(c, "[data-selected-count]")
        .await?
        .and_then(|t| t.parse().ok()))
}

async fn wait_selected(c: &Client, n: u64) -> Step<()> {
    wait_until(&format!("the bar to say {n} selected"), || async move {
        Ok((selected_count(c).await? == Some(n)).then_some(()))
    })
    .await
}

/// Ticks the row box of the `nth` (1-based) row and gives its MDN.
async fn tick_row(c: &Client, nth: usize) -> Step<String> {
    let css = format!("table#devices tbody tr:nth-child({nth}) input[name=mdns]");
    click(c, &css).await?;
    let v = js(
        c,
        &format!(
            "const b = document.querySelector({}); return b && b.checked ? b.value : null;",
            json!(css)
        ),
    )
    .await?;
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{css} is not ticked after a click"))
}

pub(crate) async fn number_in(c: &Client, css: &str) -> Step<Option<u64>> {
    Ok(text(c, css)
        .await?
        .and_then(|t| numbers(&t).first().copied()))
}

/// Issue 3: tech selects all "Bus" lines, suspends them with a reason, confirms, sees the per-line result
/// and the audit row; then a selection made over two pages reaches the preview whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_change_from_the_selection_bar_in_a_real_browser() {
    if !have_browser() {
        return;
    }
    let app = spawn_app().await;
    let base = app.base.clone();
    in_browser("bulk-change", |c, _| async move {
        let c = &c;
        let base = base.as_str();
        sign_in_to_list(c, base, "tech").await?;
        let n = search_for(c, "Bus").await?;
        if n < 2 {
            return Err(format!("only {n} lines match Bus"));
        }

        // Nothing ticked: no action bar. Ticking the page shows it; then select all matching: the bar
        // counts every match.
        let bar = "return getComputedStyle(document.getElementById('selection-bar')).display;";
        if js(c, bar).await? != json!("none") {
            return Err("the action bar shows with nothing selected".into());
        }
        click(c, "input[data-select-page]").await?;
        click(c, "input[name=select_all]").await?;
        wait_selected(c, n).await?;
        click(c, "#selection-bar button[data-action=status]").await?;
        wait_until("the status form", || async move {
            url_has(c, &format!("/devices/{CORP}/actions/status")).await
        })
        .await?;
        let select = c
            .wait()
            .at_most(STEP)
            .for_element(Locator::Css("select#f-status"))
            .await
            .map_err(|e| format!("status choices: {e}"))?;
        select
            .select_by_value("SUSPENDED")
            .await
            .map_err(|e| format!("choose SUSPENDED: {e}"))?;
        c.find(Locator::Css("#f-reason"))
            .await
            .map_err(|e| format!("reason field: {e}"))?
            .send_keys("Lost on the bus route (browser test)")
            .await
            .map_err(|e| format!("type the reason: {e}"))?;
        click(c, "#action-form button[type=submit]").await?;

        // The preview: N lines (the first 50 listed), the tick above 10, nothing changed yet.
        wait_until("the preview to count the lines", || async move {
            Ok((number_in(c, "#preview-count").await? == Some(n)).then_some(()))
        })
        .await?;
        let listed = rows_of(c, "table#preview tbody tr").await?;
        if listed as u64 != n.min(50) {
            return Err(format!("the preview lists {listed} lines, expected {}", n.min(50)));
        }
        let ack = text(c, "#confirm-form label").await?;
        if n > 10 {
            let want = format!("Yes, change these {n} lines");
            if ack.as_deref() != Some(want.as_str()) {
                return Err(format!("the confirmation tick says {ack:?}, expected {want:?}"));
            }
            click(c, "#confirm-form input[name=acknowledged]").await?;
        }
        // The result (directly, or at the end of a job's progress): every line accounted for.
        apply_and_wait_outcome(c)
            .await
        .and_then(|o| {
            if o == "ok" || o == "partial" {
                Ok(())
            } else {
                Err(format!("the change ended {o:?}"))
            }
        })?;
        let updated = number_in(c, "#result-updated").await?.unwrap_or(0);
        let failed = number_in(c, "#result-failed").await?.unwrap_or(0);
        if updated + failed != n || updated == 0 {
            return Err(format!("result: {updated} changed + {failed} not changed, expected {n} in all"));
        }

        // The audit log has the change.
        c.goto(&format!("{base}/audit"))
            .await
            .map_err(|e| format!("open /audit: {e}"))?;
        let want_lines = n.to_string();
        let want_lines = &want_lines;
        wait_until("the audit row of the status change", || async move {
            let v = js(
                c,
                "return Array.from(document.querySelectorAll('table#audit tbody tr')).map(r => [r.getAttribute('data-action') || '', r.innerText]);",
            )
            .await?;
            let rows: Vec<(String, String)> =
                serde_json::from_value(v).map_err(|e| format!("audit rows: {e}"))?;
            Ok(rows
                .iter()
                .any(|(a, t)| {
                    a.to_lowercase().contains("status")
                        && t.contains(CORP)
                        && t.contains("SUSPENDED")
                        && t.split_whitespace().any(|w| w == want_lines)
                })
                .then_some(()))
        })
        .await?;

        // A confirmed change forgets its selection; a new one spans pages.
        c.goto(&format!("{base}/devices/{CORP}"))
            .await
            .map_err(|e| format!("open the list again: {e}"))?;
        wait_until("25 rows and nothing selected", || async move {
            Ok((rows(c).await?.len() == 25 && selected_count(c).await? == Some(0)).then_some(()))
        })
        .await?;
        let mut picked = vec![tick_row(c, 1).await?, tick_row(c, 2).await?];
        wait_selected(c, 2).await?;
        let first_page = &rows(c).await?;
        click(c, "a[rel=next]").await?;
        wait_until("page 2", || async move {
            Ok((url_has(c, "offset=25").await?.is_some() && rows(c).await? != *first_page)
                .then_some(()))
        })
        .await?;
        // The bar still counts the two lines of page 1.
        wait_selected(c, 2).await?;
        picked.push(tick_row(c, 1).await?);
        wait_selected(c, 3).await?;
        click(c, "#selection-bar button[data-action=nickname]").await?;
        wait_until("the nickname form", || async move {
            url_has(c, &format!("/devices/{CORP}/actions/nickname")).await
        })
        .await?;
        c.find(Locator::Css("#f-nickname"))
            .await
            .map_err(|e| format!("nickname field: {e}"))?
            .send_keys("Across pages")
            .await
            .map_err(|e| format!("type the nickname: {e}"))?;
        click(c, "#action-form button[type=submit]").await?;
        wait_until("the preview of 3 lines", || async move {
            Ok((number_in(c, "#preview-count").await? == Some(3)).then_some(()))
        })
        .await?;
        let v = js(
            c,
            "return Array.from(document.querySelectorAll('table#preview tbody tr')).map(r => r.getAttribute('data-mdn'));",
        )
        .await?;
        let mut shown: Vec<String> =
            serde_json::from_value(v).map_err(|e| format!("preview rows: {e}"))?;
        shown.sort();
        picked.sort();
        if shown != picked {
            return Err(format!("the preview lists {shown:?}, selected were {picked:?}"));
        }

        // Not confirmed: the list still remembers the three lines until "clear".
        c.goto(&format!("{base}/devices/{CORP}"))
            .await
            .map_err(|e| format!("back to the list: {e}"))?;
        wait_selected(c, 3).await?;
        if rows_of(c, "table#devices input[name=mdns]:checked").await? != 2 {
            return Err("page 1 does not show its two remembered lines ticked".into());
        }
        click(c, "#selection-bar button[type=reset]").await?;
        wait_selected(c, 0).await?;
        if rows_of(c, "table#devices input[name=mdns]:checked").await? != 0 {
            return Err("\"clear\" left boxes ticked".into());
        }
        Ok(())
    })
    .await;
}

/// How many elements match `css`.
/// Applies the previewed change and waits for the change page's outcome (`data-outcome`).
pub(crate) async fn apply_and_wait_outcome(c: &Client) -> Step<String> {
    click(c, "#confirm-form button[type=submit]").await?;
    wait_until("the per-line result", || async move {
        let outcome = js(
            c,
            "const r = document.querySelector('#action-result'); return r ? r.getAttribute('data-outcome') : null;",
        )
        .await?;
        Ok(outcome.as_str().map(str::to_owned))
    })
    .await
}

pub(crate) async fn rows_of(c: &Client, css: &str) -> Step<usize> {
    let v = js(
        c,
        &format!("return document.querySelectorAll({}).length;", json!(css)),
    )
    .await?;
    v.as_u64()
        .map(|n| n as usize)
        .ok_or_else(|| format!("count of {css}: {v}"))
}

/// Anything on the page that would start a change.
/// Controls that would change a line directly (a request for approval is not one: issue 9).
async fn change_controls(c: &Client) -> Step<usize> {
    let v = js(
        c,
        "const direct = document.querySelectorAll(\"form[action*='/actions/']:not(#selection-form), details.row-actions\").length; \
         const asks = Array.from(document.querySelectorAll(\"a[href*='/actions/'], button[formaction*='/actions/']\")) \
           .filter(e => !e.textContent.trim().startsWith('Request: ')).length; \
         return direct + asks;",
    )
    .await?;
    Ok(v.as_u64().unwrap_or(u64::MAX) as usize)
}

/// Issue 3, the self-service view: readonly sees the list and the line's pages without any control
/// that changes a line (since issue 9 it may select lines and *request* changes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readonly_finds_no_change_control_in_a_real_browser() {
    if !have_browser() {
        return;
    }
    let app = spawn_app().await;
    let base = app.base.clone();
    in_browser("readonly", |c, _| async move {
        let c = &c;
        sign_in_to_list(c, &base, "readonly").await?;
        let found = change_controls(c).await?;
        if found != 0 {
            return Err(format!("the list shows {found} change controls to readonly"));
        }
        // The line's own pages: health, and the IMEI page where the line has one.
        let links: Vec<String> = serde_json::from_value(
            js(
                c,
                "const r = document.querySelector('table#devices tbody tr'); \
                 return Array.from(r.querySelectorAll('td.col-mdn a, td.col-imei a')).map(a => a.href);",
            )
            .await?,
        )
        .map_err(|e| format!("line links: {e}"))?;
        if links.is_empty() {
            return Err("the first row links to no page of its line".into());
        }
        for link in &links {
            c.goto(link)
                .await
                .map_err(|e| format!("open {link}: {e}"))?;
            wait_until(&format!("{link} to load"), || async move {
                let ready = js(c, "return document.readyState;").await?;
                let h1 = text(c, "h1").await?;
                Ok((ready == "complete" && h1.is_some()).then_some(()))
            })
            .await?;
            let found = change_controls(c).await?;
            if found != 0 {
                return Err(format!("{link} shows {found} change controls to readonly"));
            }
        }
        Ok(())
    })
    .await;
}

/// Issue 4: the Export CSV panel's Download button saves a file whose header is the ticked columns and whose
/// rows are the lines matching the search.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_download_in_a_real_browser() {
    if !have_browser() {
        return;
    }
    let app = spawn_app().await;
    let base = app.base.clone();
    in_browser("export", |c, downloads| async move {
        let c = &c;
        sign_in_to_list(c, &base, "tech").await?;
        let n = search_for(c, "Bus").await?;
        click(c, "#export-link").await?;
        // Exactly three columns: untick the rest, tick these.
        let want = ["MDN", "NICKNAME", "STATUS"];
        js(
            c,
            &format!(
                "const want = {}; document.querySelectorAll('#export-form input[name=columns]').forEach(b => {{ b.checked = want.includes(b.value); }}); return null;",
                json!(want)
            ),
        )
        .await?;
        let ticked: Vec<String> = serde_json::from_value(
            js(
                c,
                "return Array.from(document.querySelectorAll('#export-form input[name=columns]:checked')).map(b => b.value);",
            )
            .await?,
        )
        .map_err(|e| format!("ticked columns: {e}"))?;
        if ticked.len() != want.len() {
            return Err(format!("ticked {ticked:?}, wanted {want:?}"));
        }
        click(c, "#export-form button[type=submit]").await?;

        let downloads = &downloads;
        let file = wait_until("a finished .csv download", || async move {
            let Ok(dir) = std::fs::read_dir(downloads) else {
                return Ok(None);
            };
            let names: Vec<PathBuf> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
            // Chromium writes `.crdownload` until the file is complete.
            if names.iter().any(|p| p.extension().is_some_and(|x| x == "crdownload")) {
                return Ok(None);
            }
            Ok(names
                .into_iter()
                .find(|p| p.extension().is_some_and(|x| x == "csv")))
        })
        .await?;
        let name = file
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !name.starts_with(&format!("{CORP}-devices-")) {
            return Err(format!("the file is called {name:?}"));
        }
        let body = std::fs::read_to_string(&file).map_err(|e| format!("read {name}: {e}"))?;
        let mut lines = body.lines().filter(|l| !l.is_empty());
        let header: Vec<String> = lines
            .next()
            .unwrap_or_default()
            .split(',')
            .map(|h| h.trim().trim_matches('"').to_owned())
            .collect();
        if header != ticked {
            return Err(format!("the header is {header:?}, the ticked columns {ticked:?}"));
        }
        let data = lines.count() as u64;
        if data != n {
            return Err(format!("the file has {data} data rows, {n} lines match"));
        }
        Ok(())
    })
    .await;
}
