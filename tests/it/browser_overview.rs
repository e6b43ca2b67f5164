//! A real headless Chromium opens the device group overview from the list, raises the idle threshold,
//! and suspends the idle lines: their figure, its selection, the status form, the usual preview, the
//! result; then the overview (forgotten by the change) shows no idle line left. Skipped (with a note)
//! when Chromium is missing, unless `CI` is set. The browser harness is the one of `tests/browser.rs`.
#![allow(dead_code)]

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
const STEP: Duration = Duration::from_secs(20);

type Step<T> = Result<T, String>;

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
async fn wait_until<T, F, Fut>(what: &str, mut check: F) -> Step<T>
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
async fn js(c: &Client, script: &str) -> Step<Value> {
    c.execute(script, vec![])
        .await
        .map_err(|e| format!("script failed: {e}"))
}

async fn url(c: &Client) -> Step<url::Url> {
    c.current_url()
        .await
        .map_err(|e| format!("current url: {e}"))
}

async fn url_has(c: &Client, needle: &str) -> Step<Option<url::Url>> {
    let u = url(c).await?;
    Ok(u.as_str().contains(needle).then_some(u))
}

async fn click(c: &Client, css: &str) -> Step<()> {
    let el = c
        .wait()
        .at_most(STEP)
        .for_element(Locator::Css(css))
        .await
        .map_err(|e| format!("{css} not found: {e}"))?;
    el.click().await.map_err(|e| format!("click {css}: {e}"))
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
async fn texts(c: &Client, css: &str) -> Step<Vec<String>> {
    let script = format!(
        "return Array.from(document.querySelectorAll({})).map(e => e.textContent.trim());",
        json!(css)
    );
    serde_json::from_value(js(c, &script).await?).map_err(|e| format!("{css}: {e}"))
}

/// The trimmed text of the first element matching `css`, if any.
async fn text(c: &Client, css: &str) -> Step<Option<String>> {
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
fn numbers(s: &str) -> Vec<u64> {
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

fn artifact(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    let _ = std::fs::create_dir_all(&dir);
    dir.join(name)
}

async fn screenshot(c: &Client, name: &str) {
    if let Ok(png) = c.screenshot().await {
        let _ = std::fs::write(artifact(name), png);
    }
}

/// One browser at a time: the machine is small and Chromium is not.
fn browser_lock() -> &'static tokio::sync::Mutex<()> {
    static LOCK: std::sync::OnceLock<tokio::sync::Mutex<()>> = std::sync::OnceLock::new();
    LOCK.get_or_init(|| tokio::sync::Mutex::new(()))
}

/// Whether Chromium and chromedriver are here; under `CI` their absence is a failure.
fn have_browser() -> bool {
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
async fn in_browser<F, Fut>(name: &str, scenario: F)
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
    let errors = console_errors(&driver, &client).await.map(|errors| {
        errors
            .into_iter()
            .filter(|m| !(m.contains("/health") && m.contains("status of 409")))
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
/// The simulator has no line that used nothing; under 3000 MB in 30 days catches a few dozen.
const IDLE_MB: &str = "3000";

/// How many elements match `css`.
async fn rows_of(c: &Client, css: &str) -> Step<usize> {
    let script = format!("return document.querySelectorAll({}).length;", json!(css));
    js(c, &script)
        .await?
        .as_u64()
        .map(|n| n as usize)
        .ok_or_else(|| format!("count of {css}"))
}

/// The first number in an element's text ("1,234 lines" gives 1234).
async fn number_in(c: &Client, css: &str) -> Step<Option<u64>> {
    Ok(text(c, css)
        .await?
        .and_then(|t| numbers(&t).into_iter().next()))
}

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
        c.goto(&format!("{base}/devices/{CORP}"))
            .await
            .map_err(|e| format!("open the list: {e}"))?;
        click(c, "button[name=user][value=tech]").await?;
        wait_until("the list after sign-in", || async move {
            let u = url(c).await?;
            Ok((u.path() == format!("/devices/{CORP}")).then_some(()))
        })
        .await?;

        // From the list to the overview, then the admin's idle threshold.
        click(c, "#overview-link").await?;
        wait_until("the overview", || async move {
            Ok(text(c, "#overview-total").await?.filter(|t| t == "499").map(|_| ()))
        })
        .await?;
        let svgs = rows_of(c, "svg.chart[role=img] title").await?;
        if svgs < 7 {
            return Err(format!("only {svgs} titled charts on the overview"));
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
        let select = c
            .wait()
            .at_most(STEP)
            .for_element(Locator::Css("select#f-status"))
            .await
            .map_err(|e| format!("status form: {e}"))?;
        select
            .select_by_value("SUSPENDED")
            .await
            .map_err(|e| format!("choose SUSPENDED: {e}"))?;
        click(c, "#action-form button[type=submit]").await?;

        // The usual preview: these N lines, nothing changed yet.
        wait_until("the preview of the idle lines", || async move {
            Ok((number_in(c, "#preview-count").await? == Some(n)).then_some(()))
        })
        .await?;
        if n > 10 {
            click(c, "#confirm-form input[name=acknowledged]").await?;
        }
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
        .and_then(|o| if o == "ok" { Ok(()) } else { Err(format!("the change ended {o:?}")) })?;

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
