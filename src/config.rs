//! Configuration from the environment (CONTRACT §3); defaults give the embedded demo mode.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use crate::client_addr::TrustedProxies;
mod usage;
pub use usage::UsageSettings;

/// Where users sign in.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // built once at start-up; boxing buys nothing
pub enum IdentityConfig {
    /// An external OAuth 2.0 provider (authorization code + PKCE).
    OAuth(OAuthConfig),
    /// The embedded demo sign-in served by the embedded simulator.
    Demo,
    /// The vendor's own `POST /v1.0/auth/token` (username + password), when
    /// `SENTINEL_API_URL` is set and no OAuth provider is configured.
    SentinelPassword,
}

/// An OAuth 2.0 provider (OpenID Connect when found by discovery).
#[derive(Debug, Clone)]
pub struct OAuthConfig {
    pub endpoints: OAuthEndpoints,
    pub client_id: String,
    /// Optional: a public client uses PKCE alone.
    pub client_secret: Option<SecretString>,
    /// `OAUTH_ROLES_CLAIM`: `scope` (the granted scopes), or the claim holding the role scopes.
    pub roles_claim: String,
    /// `OAUTH_CORP_IDS_CLAIM`: the claim (or token response field) listing the device groups.
    pub corp_ids_claim: String,
}

/// `OAUTH_ROLES_CLAIM` unset: roles are the granted scopes.
pub const DEFAULT_ROLES_CLAIM: &str = "scope";
/// `OAUTH_CORP_IDS_CLAIM` unset.
pub const DEFAULT_CORP_IDS_CLAIM: &str = "corp_ids";

/// Where the provider's endpoints come from.
#[derive(Debug, Clone)]
pub enum OAuthEndpoints {
    /// `OAUTH_ISSUER_URL`: OpenID Connect discovery (`/.well-known/openid-configuration`).
    Discovery { issuer: Url },
    /// `OAUTH_AUTHORIZE_URL`, `OAUTH_TOKEN_URL`, optional `OAUTH_REVOKE_URL` (plain OAuth 2.0).
    Manual {
        authorize_url: Url,
        token_url: Url,
        revoke_url: Option<Url>,
    },
}

impl OAuthConfig {
    /// A plain OAuth 2.0 provider at these endpoints, public client `client_id`, default claims.
    pub fn manual(
        authorize_url: Url,
        token_url: Url,
        revoke_url: Option<Url>,
        client_id: &str,
    ) -> Self {
        Self {
            endpoints: OAuthEndpoints::Manual {
                authorize_url,
                token_url,
                revoke_url,
            },
            client_id: client_id.to_owned(),
            client_secret: None,
            roles_claim: DEFAULT_ROLES_CLAIM.into(),
            corp_ids_claim: DEFAULT_CORP_IDS_CLAIM.into(),
        }
    }
}

/// Everything the console reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind_addr: SocketAddr,
    /// `None`: derived from the bound address (`http://` + address).
    pub public_url: Option<Url>,
    pub database_url: String,
    /// `None`: the embedded Sentinel simulator.
    pub sentinel_api_url: Option<Url>,
    pub identity: IdentityConfig,
    pub log_filter: String,
    /// Upstream request timeout.
    pub upstream_timeout: Duration,
    /// Session idle timeout.
    pub session_idle: Duration,
    /// Session absolute lifetime.
    pub session_absolute: Duration,
    /// Embedded simulator: size of the large device group.
    pub sim_large_group: u64,
    /// Embedded demo sign-in: access-token lifetime.
    pub demo_token_ttl: Duration,
    /// `TOKEN_ENCRYPTION_KEY` (validated: base64 of 32 bytes); `None`: a key file in `data_dir`.
    pub token_encryption_key: Option<SecretString>,
    /// Where generated files live (the token key file; the default SQLite database is there too).
    pub data_dir: PathBuf,
    /// `DEMO=1`: run the embedded demo even on a non-loopback bind address.
    pub demo_forced: bool,
    /// `METRICS_BIND_ADDR`: where `GET /metrics` is served; `None`: no metrics listener.
    pub metrics_bind_addr: Option<SocketAddr>,
    /// `IMPORT_MAX_BYTES`: the largest CSV the import accepts.
    pub import_max_bytes: u64,
    /// `IMPORT_MAX_ROWS`: the most data rows the import accepts.
    pub import_max_rows: u64,
    /// `APPROVAL_REQUIRED_ABOVE`: an admin's own change over this many lines (and any destructive
    /// change) waits for a second admin; `None`: off.
    pub approval_required_above: Option<u64>,
    /// `REQUEST_TTL_DAYS`: a request no one approved or rejected by then expires.
    pub request_ttl: Duration,
    /// How often the scheduler looks for due changes (`SCHEDULER_TICK_MS`).
    pub scheduler_tick: Duration,
    /// `TRUSTED_PROXIES`: reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
    /// The fleet's history (CONTRACT §6).
    pub usage: UsageSettings,
}

/// A configuration value that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub(crate) String);

/// `IMPORT_MAX_BYTES` unset: 20 MiB.
pub const DEFAULT_IMPORT_MAX_BYTES: u64 = 20 * 1024 * 1024;
/// `IMPORT_MAX_ROWS` unset: a 100,000-line group exported whole fits.
pub const DEFAULT_IMPORT_MAX_ROWS: u64 = 100_000;

fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn url_var(name: &str) -> Result<Option<Url>, ConfigError> {
    var(name)
        .map(|v| Url::parse(&v).map_err(|e| ConfigError(format!("{name}={v:?} is not a URL: {e}"))))
        .transpose()
}

fn count_var(name: &str, default: u64) -> Result<u64, ConfigError> {
    match var(name) {
        None => Ok(default),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| ConfigError(format!("{name}={v:?} is not a positive number"))),
    }
}

fn secs_var(name: &str, default: u64) -> Result<Duration, ConfigError> {
    match var(name) {
        None => Ok(Duration::from_secs(default)),
        Some(v) => v
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| ConfigError(format!("{name}={v:?} is not a number of seconds"))),
    }
}

impl Config {
    /// Reads CONTRACT §3's variables (and a few tuning knobs, all optional).
    pub fn from_env() -> Result<Self, ConfigError> {
        let bind_addr: SocketAddr = var("BIND_ADDR")
            .unwrap_or_else(|| "127.0.0.1:3000".into())
            .parse()
            .map_err(|e| ConfigError(format!("BIND_ADDR: {e}")))?;
        let sentinel_api_url = url_var("SENTINEL_API_URL")?;
        let authorize = url_var("OAUTH_AUTHORIZE_URL")?;
        let token = url_var("OAUTH_TOKEN_URL")?;
        let endpoints = match (url_var("OAUTH_ISSUER_URL")?, authorize, token) {
            (Some(issuer), None, None) => Some(OAuthEndpoints::Discovery { issuer }),
            (None, Some(authorize_url), Some(token_url)) => Some(OAuthEndpoints::Manual {
                authorize_url,
                token_url,
                revoke_url: url_var("OAUTH_REVOKE_URL")?,
            }),
            (None, None, None) => None,
            (Some(_), _, _) => {
                return Err(ConfigError(
                    "OAUTH_ISSUER_URL finds every endpoint by discovery: leave OAUTH_AUTHORIZE_URL \
                     and OAUTH_TOKEN_URL unset with it"
                        .into(),
                ));
            }
            _ => {
                return Err(ConfigError(
                    "set both OAUTH_AUTHORIZE_URL and OAUTH_TOKEN_URL, or neither".into(),
                ));
            }
        };
        let identity = match endpoints {
            Some(endpoints) => IdentityConfig::OAuth(OAuthConfig {
                endpoints,
                client_id: var("OAUTH_CLIENT_ID").unwrap_or_else(|| "sentinel-console".into()),
                client_secret: var("OAUTH_CLIENT_SECRET").map(SecretString::from),
                roles_claim: var("OAUTH_ROLES_CLAIM").unwrap_or_else(|| DEFAULT_ROLES_CLAIM.into()),
                corp_ids_claim: var("OAUTH_CORP_IDS_CLAIM")
                    .unwrap_or_else(|| DEFAULT_CORP_IDS_CLAIM.into()),
            }),
            None if sentinel_api_url.is_some() => IdentityConfig::SentinelPassword,
            None => IdentityConfig::Demo,
        };
        Self {
            bind_addr,
            public_url: url_var("PUBLIC_URL")?,
            database_url: var("DATABASE_URL")
                .unwrap_or_else(|| "sqlite://data/sentinel-console.db?mode=rwc".into()),
            sentinel_api_url,
            identity,
            log_filter: var("RUST_LOG").unwrap_or_else(|| "info".into()),
            upstream_timeout: secs_var("UPSTREAM_TIMEOUT_SECS", 15)?,
            session_idle: secs_var("SESSION_IDLE_SECS", 30 * 60)?,
            session_absolute: secs_var("SESSION_ABSOLUTE_SECS", 12 * 3600)?,
            sim_large_group: var("SIM_LARGE_GROUP")
                .map(|v| {
                    v.parse()
                        .map_err(|_| ConfigError(format!("SIM_LARGE_GROUP={v:?}")))
                })
                .transpose()?
                .unwrap_or(20_000),
            demo_token_ttl: secs_var("DEMO_TOKEN_TTL_SECS", 3600)?,
            token_encryption_key: match var("TOKEN_ENCRYPTION_KEY") {
                Some(k) => {
                    crate::crypto::parse_key(&k).map_err(ConfigError)?;
                    Some(SecretString::from(k))
                }
                None => None,
            },
            data_dir: var("DATA_DIR").map_or_else(|| PathBuf::from("data"), PathBuf::from),
            demo_forced: match var("DEMO").as_deref() {
                None | Some("0") => false,
                Some("1") => true,
                Some(v) => {
                    return Err(ConfigError(format!(
                        "DEMO={v:?}: set DEMO=1 to force the embedded demo, or leave it unset"
                    )));
                }
            },
            metrics_bind_addr: var("METRICS_BIND_ADDR")
                .map(|v| {
                    v.parse()
                        .map_err(|e| ConfigError(format!("METRICS_BIND_ADDR={v:?}: {e}")))
                })
                .transpose()?,
            import_max_bytes: count_var("IMPORT_MAX_BYTES", DEFAULT_IMPORT_MAX_BYTES)?,
            import_max_rows: count_var("IMPORT_MAX_ROWS", DEFAULT_IMPORT_MAX_ROWS)?,
            approval_required_above: var("APPROVAL_REQUIRED_ABOVE")
                .map(|v| {
                    v.parse::<u64>().map_err(|_| {
                        ConfigError(format!(
                            "APPROVAL_REQUIRED_ABOVE={v:?} is not a number of lines"
                        ))
                    })
                })
                .transpose()?,
            request_ttl: match var("REQUEST_TTL_DAYS") {
                None => Duration::from_secs(14 * 86_400),
                Some(v) => v
                    .parse::<u64>()
                    .ok()
                    .filter(|d| (1..=3650).contains(d))
                    .map(|d| Duration::from_secs(d * 86_400))
                    .ok_or_else(|| {
                        ConfigError(format!(
                            "REQUEST_TTL_DAYS={v:?} is not a number of days from 1 to 3650"
                        ))
                    })?,
            },
            scheduler_tick: Duration::from_millis(
                var("SCHEDULER_TICK_MS")
                    .map(|v| {
                        v.parse::<u64>()
                            .map_err(|_| ConfigError(format!("SCHEDULER_TICK_MS={v:?}")))
                    })
                    .transpose()?
                    .unwrap_or(1_000)
                    .max(50),
            ),
            trusted_proxies: TrustedProxies::parse(&var("TRUSTED_PROXIES").unwrap_or_default())
                .map_err(ConfigError)?,
            usage: UsageSettings::from_env()?,
        }
        .checked()
    }

    /// The configuration, or why it must not start (see [`Config::check_demo_bind`]).
    fn checked(self) -> Result<Self, ConfigError> {
        self.check_demo_bind()?;
        Ok(self)
    }

    /// Demo mode: no `SENTINEL_API_URL`, so the embedded simulator (made-up lines, demo sign-in).
    pub fn is_demo(&self) -> bool {
        self.sentinel_api_url.is_none()
    }

    /// The demo signs anyone in without a password: it starts only on a loopback bind address,
    /// or anywhere with an explicit `DEMO=1`.
    pub fn check_demo_bind(&self) -> Result<(), ConfigError> {
        if !self.is_demo() || self.demo_forced || self.bind_addr.ip().is_loopback() {
            return Ok(());
        }
        Err(ConfigError(format!(
            "refusing to start the demo on BIND_ADDR={addr}, which is not a loopback address: \
             with SENTINEL_API_URL unset the console serves simulated lines and a sign-in without \
             password to anyone who can reach it. Set SENTINEL_API_URL (and OAUTH_*) for a real \
             deployment, bind 127.0.0.1, or set DEMO=1 to serve the demo on {addr} anyway.",
            addr = self.bind_addr
        )))
    }

    /// A configuration for tests: embedded everything, a random port, the given database.
    pub fn for_tests(database_url: &str) -> Self {
        Self {
            bind_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            public_url: None,
            database_url: database_url.to_owned(),
            sentinel_api_url: None,
            identity: IdentityConfig::Demo,
            log_filter: "warn".into(),
            upstream_timeout: Duration::from_secs(5),
            session_idle: Duration::from_secs(30 * 60),
            session_absolute: Duration::from_secs(12 * 3600),
            sim_large_group: 2_000,
            demo_token_ttl: Duration::from_secs(3600),
            token_encryption_key: None,
            data_dir: std::env::temp_dir().join("sentinel-console-tests"),
            demo_forced: false,
            metrics_bind_addr: None,
            import_max_bytes: DEFAULT_IMPORT_MAX_BYTES,
            import_max_rows: DEFAULT_IMPORT_MAX_ROWS,
            approval_required_above: None,
            request_ttl: Duration::from_secs(14 * 86_400),
            scheduler_tick: Duration::from_millis(200),
            trusted_proxies: TrustedProxies::default(),
            // No simulated history unless a test asks for it (it would load every demo console).
            usage: UsageSettings {
                demo_history_days: 0,
                ..UsageSettings::default()
            },
        }
    }

    /// Is the console served over https (Secure and `__Host-` cookies, HSTS)?
    pub fn is_https(&self, public_url: &Url) -> bool {
        public_url.scheme() == "https"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(addr: &str) -> Config {
        let mut c = Config::for_tests("sqlite::memory:");
        c.bind_addr = addr.parse().unwrap();
        c
    }

    #[test]
    fn the_demo_starts_on_loopback_only_unless_forced() {
        assert!(at("127.0.0.1:3000").check_demo_bind().is_ok());
        assert!(at("[::1]:3000").check_demo_bind().is_ok());
        let open = at("0.0.0.0:3000")
            .check_demo_bind()
            .unwrap_err()
            .to_string();
        assert!(
            open.contains("DEMO=1") && open.contains("SENTINEL_API_URL"),
            "{open}"
        );
        assert!(at("192.168.1.5:3000").check_demo_bind().is_err());
        let mut forced = at("0.0.0.0:3000");
        forced.demo_forced = true;
        assert!(forced.check_demo_bind().is_ok());
        let mut real = at("0.0.0.0:3000");
        real.sentinel_api_url = Some(Url::parse("https://api.example/sentinel/api").unwrap());
        assert!(real.check_demo_bind().is_ok());
    }
}
