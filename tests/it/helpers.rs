//! Test helpers: spawn a standalone simulator and a console pointed at it, each on a random
//! port, over real HTTP, with a database of the test's own.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use sentinel_console::config::{Config, IdentityConfig, OAuthConfig};
use sentinel_console::simulator::{SimConfig, Simulator};
use sentinel_console::startup::{AppState, Application};
use url::Url;

/// A running simulator on its own port.
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

/// A running console and the simulator it talks to.
pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub sim: TestSim,
    pub state: AppState,
    /// A browser-like client: cookie jar, no automatic redirects.
    pub client: reqwest::Client,
    pub database_url: String,
}

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
    cfg.identity = IdentityConfig::OAuth(OAuthConfig {
        authorize_url: Url::parse(&sim.url("/oauth/authorize")).expect("url"),
        token_url: Url::parse(&sim.url("/oauth/token")).expect("url"),
        revoke_url: Some(Url::parse(&sim.url("/oauth/revoke")).expect("url")),
        client_id: "sentinel-console".into(),
        client_secret: None,
    });
    cfg
}

pub fn browser_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
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
    let database_url = cfg.database_url.clone();
    let app = Application::build(cfg).await.expect("build console");
    let addr = app.local_addr();
    let state = app.state().clone();
    tokio::spawn(async move {
        let _ = app.run_until_stopped(std::future::pending()).await;
    });
    TestApp {
        addr,
        base: format!("http://{addr}"),
        sim,
        state,
        client: browser_client(),
        database_url,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Follows redirects by hand (the client never follows them), up to 10 hops, returning the last response.
    pub async fn follow(&self, resp: reqwest::Response) -> reqwest::Response {
        follow_with(&self.client, resp).await
    }

    /// Signs in through the demo identity provider as `user` (e.g. "tech"), landing on `next`.
    pub async fn sign_in_to(&self, user: &str, next: &str) -> reqwest::Response {
        sign_in_with(&self.client, &self.base, user, next).await
    }

    pub async fn sign_in(&self, user: &str) -> reqwest::Response {
        self.sign_in_to(user, "/").await
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

    /// The CSRF token of a page (its `<meta name="csrf-token">`).
    pub async fn csrf(&self) -> String {
        let html = self.get("/").await.text().await.expect("body");
        extract_meta_csrf(&html).expect("csrf meta tag")
    }
}

pub fn extract_meta_csrf(html: &str) -> Option<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(r#"meta[name="csrf-token"]"#).ok()?;
    doc.select(&sel)
        .next()
        .and_then(|m| m.value().attr("content"))
        .map(str::to_owned)
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
    let authorize = login
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("authorize location")
        .to_owned();
    let authorize = Url::parse(&authorize).expect("authorize url");
    // The demo sign-in page posts the authorize query back with the chosen user.
    let mut form: Vec<(String, String)> = authorize
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
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
