//! A real headless Chromium, driven through chromedriver, signs in and works the device list (htmx search,
//! sort, pagination, back button). Skipped (with a note) when Chromium is missing, unless `CI` is set.

mod common;

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
        std::fs::create_dir_all(&profile).expect("browser profile dir");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_list_in_a_real_browser() {
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

    let app = common::spawn_app().await;

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
    wait_until("#totals to change after the search", || async move {
        Ok(text(c, "#totals").await?.filter(|t| t != all_totals))
    })
    .await?;

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
        let ok = range.contains("Showing") && numbers(&range) == [26, 50, 499];
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
