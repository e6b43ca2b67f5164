//! Shared test helpers: a simulator and a console on random ports over real HTTP, each test with a
//! database of its own, and a browser-like [`Session`] to drive them in a few lines.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use reqwest::cookie::{CookieStore, Jar};
use sentinel_console::config::{Config, IdentityConfig, OAuthConfig};
use sentinel_console::simulator::{RecordedRequest, SimConfig, Simulator};
use sentinel_console::startup::Application;
use sentinel_console::state::AppState;
use url::Url;

pub use crate::panic_guard::PanicGuard;

// ---- simulator ---------------------------------------------------------------------------------

/// A running simulator on its own port.
#[derive(Clone)]
pub struct TestSim {
    pub addr: SocketAddr,
    pub sim: Simulator,
}

impl TestSim {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn api_base(&self) -> Url {
        Url::parse(&self.url("/sentinel/api")).expect("url")
    }

    /// "METHOD path?query" of every API request the simulator saw.
    pub fn api_calls(&self) -> Vec<String> {
        self.sim
            .api_requests()
            .iter()
            .map(|r| match &r.query {
                Some(q) => format!("{} {}?{q}", r.method, r.path),
                None => format!("{} {}", r.method, r.path),
            })
            .collect()
    }

    /// Slows every write (`PUT`) whose path contains `path` down by `by`, until faults are
    /// cleared (the simulator checks the token after the delay).
    pub fn slow_writes(&self, path: &str, by: std::time::Duration) {
        self.sim.add_fault(sentinel_console::simulator::Fault {
            kind: sentinel_console::simulator::FaultKind::Latency(by),
            path_contains: Some(path.into()),
            method: Some("PUT".into()),
            times: None,
        });
    }

    /// The API requests with `method` whose path ends with `suffix` (e.g. `PUT`, `/nickname`).
    pub fn api_requests_to(&self, method: &str, suffix: &str) -> Vec<RecordedRequest> {
        self.sim
            .api_requests()
            .into_iter()
            .filter(|r| r.method == method && r.path.ends_with(suffix))
            .collect()
    }
}

/// Starts a simulator on a random loopback port.
pub async fn spawn_sim(cfg: SimConfig) -> TestSim {
    let sim = Simulator::new(cfg);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind simulator");
    let addr = listener.local_addr().expect("addr");
    let router = sim.router();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    TestSim { addr, sim }
}

pub fn default_sim_config() -> SimConfig {
    SimConfig {
        large_group_size: 2_000,
        token_ttl: Duration::from_secs(3600),
        redirect_uris: Vec::new(),
        control_endpoints: true,
    }
}

// ---- databases and configuration ---------------------------------------------------------------

/// A fresh SQLite database file for one test.
pub fn sqlite_url() -> String {
    let dir = std::env::temp_dir().join("sentinel-console-tests");
    std::fs::create_dir_all(&dir).expect("temp dir");
    format!(
        "sqlite://{}?mode=rwc",
        dir.join(format!("{}.db", uuid::Uuid::new_v4())).display()
    )
}

/// A fresh PostgreSQL database on the machine's server (127.0.0.1:5432, trust auth).
pub async fn postgres_url() -> String {
    use sqlx::Connection;
    let admin = std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let name = format!("sc_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("PostgreSQL at 127.0.0.1:5432 (set TEST_POSTGRES_URL to change)");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let mut url = Url::parse(&admin).expect("admin url");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// The console configuration pointing at `sim` for both the API and sign-in.
pub fn config_for(sim: &TestSim, database_url: &str) -> Config {
    let mut cfg = Config::for_tests(database_url);
    cfg.sentinel_api_url = Some(sim.api_base());
    cfg.identity = IdentityConfig::OAuth(OAuthConfig::manual(
        Url::parse(&sim.url("/oauth/authorize")).expect("url"),
        Url::parse(&sim.url("/oauth/token")).expect("url"),
        Some(Url::parse(&sim.url("/oauth/revoke")).expect("url")),
        "sentinel-console",
    ));
    cfg
}

// ---- consoles ----------------------------------------------------------------------------------

/// A running console, the simulator it talks to, and its own browser session (`app.get(…)`,
/// `app.csrf()`, `app.post_action(…)` act through it).
pub struct TestApp {
    pub addr: SocketAddr,
    pub sim: TestSim,
    pub state: AppState,
    pub database_url: String,
    pub session: Session,
    /// Fails the test, when it is dropped, if the console or simulator panicked meanwhile.
    pub panics: PanicGuard,
}

impl Deref for TestApp {
    type Target = Session;
    fn deref(&self) -> &Session {
        &self.session
    }
}

/// Spawns a simulator and a console on SQLite.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(default_sim_config(), |_| {}).await
}

/// Spawns a simulator and a console, letting the test adjust the console's configuration.
pub async fn spawn_app_with(sim_cfg: SimConfig, tweak: impl FnOnce(&mut Config)) -> TestApp {
    let sim = spawn_sim(sim_cfg).await;
    let database_url = sqlite_url();
    let mut cfg = config_for(&sim, &database_url);
    tweak(&mut cfg);
    spawn_console(sim, cfg).await
}

/// Starts a console with `cfg` beside an already running simulator.
pub async fn spawn_console(sim: TestSim, cfg: Config) -> TestApp {
    let app = Application::build(cfg).await.expect("build console");
    run_console(sim, app)
}

/// Runs an already built console (for tests that look at it before it serves) beside `sim`.
pub fn run_console(sim: TestSim, app: Application) -> TestApp {
    let addr = app.local_addr();
    let state = app.state().clone();
    let database_url = state.config.database_url.clone();
    tokio::spawn(async move {
        let _ = app.run_until_stopped(std::future::pending()).await;
    });
    TestApp {
        addr,
        sim,
        state,
        database_url,
        session: Session::new(&format!("http://{addr}")),
        panics: PanicGuard::for_test(),
    }
}

/// The embedded default (demo mode, its own simulator inside) on a random port: its base URL,
/// and a guard that fails the test if it panicked.
pub struct Embedded {
    pub base: String,
    pub panics: PanicGuard,
}

impl Deref for Embedded {
    type Target = str;
    fn deref(&self) -> &str {
        &self.base
    }
}

impl std::fmt::Display for Embedded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.base)
    }
}

pub async fn spawn_embedded() -> Embedded {
    let panics = PanicGuard::for_test();
    let app = Application::build(Config::for_tests(&sqlite_url()))
        .await
        .expect("build");
    let base = format!("http://{}", app.local_addr());
    tokio::spawn(async move {
        let _ = app.run_until_stopped(std::future::pending()).await;
    });
    Embedded { base, panics }
}

impl TestApp {
    /// Signs the app's own session in through the demo identity provider as `user` (e.g. "tech").
    pub async fn sign_in(&self, user: &str) -> &Session {
        self.session.sign_in_to(user, "/").await;
        &self.session
    }

    /// Another browser (its own cookie jar) on this console, signed out.
    pub fn new_session(&self) -> Session {
        Session::new(&self.base)
    }

    /// Another browser on this console, signed in as `user`.
    pub async fn session_as(&self, user: &str) -> Session {
        let s = self.new_session();
        s.sign_in_to(user, "/").await;
        s
    }

    /// Another console (its own SQLite database, its own session) on the same simulator.
    pub async fn another_console(&self) -> TestApp {
        spawn_console(self.sim.clone(), config_for(&self.sim, &sqlite_url())).await
    }
}

/// A console on a runtime (and thread) of its own, so that a test can kill it outright.
pub struct Instance {
    pub base: String,
    kill: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    panics: PanicGuard,
}

impl Instance {
    pub async fn start(cfg: Config) -> Self {
        // Every thread of this instance carries one unique name, so its panics are told apart.
        let name = format!("console-instance-{}", uuid::Uuid::new_v4().simple());
        let panics = PanicGuard::for_threads(&name);
        let (addr_tx, addr_rx) = tokio::sync::oneshot::channel::<SocketAddr>();
        let (kill, killed) = tokio::sync::oneshot::channel::<()>();
        let thread_name = name.clone();
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name(thread_name)
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async move {
                    let app = Application::build(cfg).await.expect("build console");
                    let _ = addr_tx.send(app.local_addr());
                    tokio::select! {
                        _ = app.run_until_stopped(std::future::pending()) => {}
                        _ = killed => {}
                    }
                });
                // Every task of this instance (server, connections, job workers, pools) is dropped
                // where it stands: no graceful shutdown, like a killed process.
                rt.shutdown_background();
            })
            .expect("instance thread");
        let addr = addr_rx.await.expect("console started");
        Self {
            base: format!("http://{addr}"),
            kill: Some(kill),
            thread: Some(thread),
            panics,
        }
    }

    pub fn kill(&mut self) {
        if let Some(k) = self.kill.take() {
            let _ = k.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

// ---- a browser ---------------------------------------------------------------------------------

/// One browser on one console: a cookie jar the test can read, and no automatic redirects.
#[derive(Clone)]
pub struct Session {
    pub client: reqwest::Client,
    pub jar: Arc<Jar>,
    pub base: String,
}

impl Session {
    /// A fresh browser (empty jar) on the console at `base`.
    pub fn new(base: &str) -> Self {
        let jar = Arc::new(Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Self {
            client,
            jar,
            base: base.to_owned(),
        }
    }

    /// The same browser (same cookies) on another console, as behind a load balancer.
    pub fn at(&self, base: &str) -> Self {
        Self {
            base: base.to_owned(),
            ..self.clone()
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("get")
    }

    pub async fn get_htmx(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .header("HX-Request", "true")
            .send()
            .await
            .expect("get")
    }

    /// The body of `GET path`, whatever its status.
    pub async fn get_text(&self, path: &str) -> String {
        self.get(path).await.text().await.expect("body")
    }

    /// Posts a form of the CSRF token alone to `path` (a button with nothing else to say).
    pub async fn post_csrf(&self, path: &str, csrf: &str) -> reqwest::Response {
        self.post_form(path, &[("csrf_token", csrf)]).await
    }

    /// The IMEI of line `mdn` of `corp`, as its row in the list shows it.
    pub async fn imei_of(&self, corp: &str, mdn: &str) -> String {
        let html = self
            .get_text(&format!("/devices/{corp}?searchValue={mdn}&columns=imei"))
            .await;
        let found = texts(&html, &format!("tr[data-mdn='{mdn}'] td.col-imei"));
        found.first().expect("the line's row").trim().to_owned()
    }

    /// Posts `form` (anything `serde_urlencoded` takes: pairs, a struct) to `path` as is.
    pub async fn post_form<T: serde::Serialize + ?Sized>(
        &self,
        path: &str,
        form: &T,
    ) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .expect("post")
    }

    /// Posts `form` and the CSRF token to the `kind` action of `corp` (`/devices/{corp}/actions/{kind}`).
    /// Without `confirmed=true` in `form` that is the preview; with it, the change.
    pub async fn post_action(
        &self,
        corp: &str,
        kind: &str,
        form: &[(&str, &str)],
        csrf: &str,
    ) -> reqwest::Response {
        let mut f = form.to_vec();
        f.push(("csrf_token", csrf));
        self.post_form(&format!("/devices/{corp}/actions/{kind}"), &f)
            .await
    }

    /// Posts a confirmed approval of change set `id` (with this browser's CSRF token).
    pub async fn approve(&self, id: uuid::Uuid) -> reqwest::Response {
        let csrf = self.csrf().await;
        self.post_form(
            &format!("/changes/{id}/approve"),
            &[("csrf_token", csrf.as_str()), ("confirmed", "true")],
        )
        .await
    }

    /// Follows redirects by hand (the client never follows them), up to 10 hops, returning the last response.
    pub async fn follow(&self, resp: reqwest::Response) -> reqwest::Response {
        follow_with(&self.client, resp).await
    }

    /// Signs in through the demo identity provider as `user`, landing on `next`; the landing page.
    pub async fn sign_in_to(&self, user: &str, next: &str) -> reqwest::Response {
        sign_in_with(&self.client, &self.base, user, next).await
    }

    /// The CSRF token of the root page (its `<meta name="csrf-token">`).
    pub async fn csrf(&self) -> String {
        self.page_csrf("/").await
    }

    /// The CSRF token of the page at `path` (after its redirects: `/` sends portal users to `/portal`).
    pub async fn page_csrf(&self, path: &str) -> String {
        let page = self.follow(self.get(path).await).await;
        extract_meta_csrf(&page.text().await.expect("body")).expect("csrf meta tag")
    }

    /// The `Cookie` header this browser sends to its console (for hand-written requests).
    pub fn cookie_header(&self) -> String {
        let url = Url::parse(&self.base).expect("base url");
        self.jar
            .cookies(&url)
            .map(|c| c.to_str().expect("cookie header").to_owned())
            .unwrap_or_default()
    }
}

/// Follows redirects by hand with `client` (which never follows them itself), up to 10 hops.
pub async fn follow_with(
    client: &reqwest::Client,
    mut resp: reqwest::Response,
) -> reqwest::Response {
    for _ in 0..10 {
        if !resp.status().is_redirection() {
            return resp;
        }
        let loc = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .expect("redirect without Location")
            .to_owned();
        let next = Url::parse(resp.url().as_str())
            .and_then(|u| u.join(&loc))
            .expect("location");
        resp = client.get(next).send().await.expect("follow");
    }
    resp
}

/// Signs in through the demo identity provider of the console at `base` as `user`, landing on `next`.
pub async fn sign_in_with(
    client: &reqwest::Client,
    base: &str,
    user: &str,
    next: &str,
) -> reqwest::Response {
    let login = client
        .get(format!(
            "{base}/login?{}",
            serde_urlencoded::to_string([("next", next)]).expect("qs")
        ))
        .send()
        .await
        .expect("login");
    assert!(login.status().is_redirection(), "login: {}", login.status());
    let authorize = Url::parse(&location(&login)).expect("authorize url");
    // The demo sign-in page posts the authorize query back with the chosen user.
    let mut form = query_pairs(&authorize);
    form.push(("user".into(), user.into()));
    let mut post_url = authorize.clone();
    post_url.set_query(None);
    let resp = client
        .post(post_url)
        .form(&form)
        .send()
        .await
        .expect("authorize");
    assert!(
        resp.status().is_redirection(),
        "authorize: {}",
        resp.status()
    );
    follow_with(client, resp).await
}

// ---- responses and pages -----------------------------------------------------------------------

/// The `Location` of a redirect.
pub fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no Location on {}", resp.status()))
        .to_owned()
}

/// A header's value as text, or "" when absent.
pub fn header(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// The query of `url` as owned pairs, in order.
pub fn query_pairs(url: &Url) -> Vec<(String, String)> {
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub fn extract_meta_csrf(html: &str) -> Option<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(r#"meta[name="csrf-token"]"#).ok()?;
    doc.select(&sel)
        .next()
        .and_then(|m| m.value().attr("content"))
        .map(str::to_owned)
}

pub fn selector(css: &str) -> scraper::Selector {
    scraper::Selector::parse(css).expect("selector")
}

/// The trimmed text of every element matching `css`.
pub fn texts(html: &str, css: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    doc.select(&selector(css))
        .map(|e| e.text().collect::<String>().trim().to_owned())
        .collect()
}

/// The `attr` of every element matching `css` that has it.
pub fn attrs(html: &str, css: &str, attr: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    doc.select(&selector(css))
        .filter_map(|e| e.value().attr(attr).map(str::to_owned))
        .collect()
}

/// The MDNs of the rows of a device list page, in order.
pub fn list_mdns(html: &str) -> Vec<String> {
    attrs(html, "table#devices tbody tr", "data-mdn")
}

/// The hidden fields of a preview's confirmation form, without its CSRF token: what confirming posts.
pub fn confirm_fields(preview: &str) -> Vec<(String, String)> {
    let doc = scraper::Html::parse_document(preview);
    doc.select(&selector("#confirm-form input[type=hidden]"))
        .map(|i| {
            (
                i.value().attr("name").unwrap_or_default().to_owned(),
                i.value().attr("value").unwrap_or_default().to_owned(),
            )
        })
        .filter(|(k, _)| k != "csrf_token")
        .collect()
}

/// Borrowed pairs of owned ones (for `post_action` and `post_form`).
pub fn as_pairs(pairs: &[(String, String)]) -> Vec<(&str, &str)> {
    pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

// ---- change sets -------------------------------------------------------------------------------

/// The change set a confirmed POST answered 303 to (`/changes/{id}`, maybe with a query).
pub fn change_id_of(resp: &reqwest::Response) -> uuid::Uuid {
    let loc = location(resp);
    assert!(loc.starts_with("/changes/"), "303 to the change set: {loc}");
    loc.trim_start_matches("/changes/")
        .split('?')
        .next()
        .unwrap_or_default()
        .parse()
        .expect("id")
}

/// Change set `id` once it is finished (polled every 100 ms, at most `secs` seconds).
/// Change set `id` as stored now.
pub async fn stored_change(
    db: &sentinel_console::storage::Db,
    id: uuid::Uuid,
) -> sentinel_console::storage::changes::ChangeSet {
    db.change_get(id).await.expect("read").expect("stored")
}

/// Change set `id` once `done` says so (polled every 100 ms, at most `secs`).
pub async fn change_until(
    db: &sentinel_console::storage::Db,
    id: uuid::Uuid,
    secs: u64,
    what: &str,
    done: impl Fn(&sentinel_console::storage::changes::ChangeSet) -> bool,
) -> sentinel_console::storage::changes::ChangeSet {
    for _ in 0..secs * 10 {
        let c = stored_change(db, id).await;
        if done(&c) {
            return c;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!(
        "change {id} did not {what} within {secs} s: {:?}",
        stored_change(db, id).await.state
    );
}

/// Change set `id` once it has finished.
pub async fn finished_within(
    db: &sentinel_console::storage::Db,
    id: uuid::Uuid,
    secs: u64,
) -> sentinel_console::storage::changes::ChangeSet {
    change_until(db, id, secs, "finish", |c| c.state.is_finished()).await
}

/// Renames a line of `corp` straight at the simulator, as another client of Sentinel would.
pub async fn rename_elsewhere(sim: &TestSim, corp: &str, mdn: &str, nickname: &str) {
    let token = sim.sim.issue_access_token("super").expect("token");
    let resp = reqwest::Client::new()
        .put(sim.url(&format!("/sentinel/api/v1.0/devices/{corp}/nickname")))
        .bearer_auth(token)
        .json(&serde_json::json!({ "mdns": [mdn], "nickname": nickname }))
        .send()
        .await
        .expect("direct write");
    assert_eq!(resp.status(), 200);
}
