//! The demo OAuth 2.0 identity provider (authorization code + PKCE S256, refresh rotation, RFC 7009
//! revocation), the vendor's password sign-in, and bearer-token checks for the API.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};
use url::Url;

use super::api::ApiErr;
use super::{Simulator, lock};
use crate::upstream::wire::PasswordTokenRequest;

/// A demo user; `sub` is the login name.
#[derive(Debug)]
pub struct DemoUser {
    pub login: &'static str,
    pub name: &'static str,
    pub email: &'static str,
    pub roles: &'static [&'static str],
    pub corp_ids: &'static [&'static str],
    pub account_type: Option<&'static str>,
    /// What this user's role may do, in one sentence (the demo sign-in page).
    pub about: &'static str,
}

const ALL_GROUPS: &[&str] = &["NORTHSTAR-ISD", "NORTHSTAR-ISD-HS", "FLEET-LARGE"];

/// One demo user per role, plus a user limited to one device group and a Kajeet Choice user.
pub const USERS: &[DemoUser] = &[
    DemoUser {
        login: "super",
        name: "Morgan Ellis (Super administrator)",
        email: "morgan@northstar.example",
        roles: &["org_super"],
        corp_ids: ALL_GROUPS,
        account_type: None,
        about: "A super administrator: may make every change the console offers, data limits included, in every device group.",
    },
    DemoUser {
        login: "tech",
        name: "Dana Whitfield (Technician)",
        email: "dana@northstar.example",
        roles: &["org_tech"],
        corp_ids: ALL_GROUPS,
        account_type: None,
        about: "A technician: may make every change, from status and nicknames to data limits, labels and SmartSpot settings.",
    },
    DemoUser {
        login: "kajeet",
        name: "Riley Chen (Kajeet-managed)",
        email: "riley@kajeet.example",
        roles: &["org_kajeetmanaged"],
        corp_ids: ALL_GROUPS,
        account_type: None,
        about: "A Kajeet-managed account: may change status, nicknames, notes, groups and IMEIs and delete labels, but not data limits.",
    },
    DemoUser {
        login: "manager",
        name: "Jordan Alvarez (Manager plus)",
        email: "jordan@northstar.example",
        roles: &["org_managerplus"],
        corp_ids: ALL_GROUPS,
        account_type: None,
        about: "A manager plus: may change status, nicknames, notes, groups and IMEIs and delete labels, but not data limits.",
    },
    DemoUser {
        login: "media",
        name: "Sam Okafor (Media center)",
        email: "sam@northstar.example",
        roles: &["org_mediacenter"],
        corp_ids: ALL_GROUPS,
        account_type: None,
        about: "A media center account: sees every line but may change only the MDN custom field and SmartSpot settings.",
    },
    DemoUser {
        login: "readonly",
        name: "Casey Brooks (Read only)",
        email: "casey@northstar.example",
        roles: &["readonly"],
        corp_ids: ALL_GROUPS,
        account_type: None,
        about: "A read-only account: sees and exports every line, and every change is refused.",
    },
    DemoUser {
        login: "limited",
        name: "Avery Patel (Technician, NORTHSTAR-ISD only)",
        email: "avery@northstar.example",
        roles: &["org_tech"],
        corp_ids: &["NORTHSTAR-ISD"],
        account_type: None,
        about: "A technician who may open only NORTHSTAR-ISD: the other device groups are refused.",
    },
    DemoUser {
        login: "choice",
        name: "Taylor Nguyen (Technician, Kajeet Choice)",
        email: "taylor@northstar.example",
        roles: &["org_tech"],
        corp_ids: ALL_GROUPS,
        account_type: Some("kajeet_choice"),
        about: "A technician on a Kajeet Choice account: everything a technician may do, plus the summer usage setting.",
    },
];

pub fn user(login: &str) -> Option<&'static DemoUser> {
    USERS.iter().find(|u| u.login == login)
}

const CODE_TTL: Duration = Duration::from_secs(60);
/// Several console instances may race to refresh: a rotated refresh token still answers for this long.
const REUSE_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug)]
struct AccessToken {
    user: &'static str,
    expires: Instant,
    /// The refresh token this access token came with (revoking that revokes this).
    refresh: Option<String>,
}

#[derive(Debug, Clone)]
struct Pair {
    access: String,
    refresh: String,
}

#[derive(Debug)]
struct RefreshToken {
    user: &'static str,
    client_id: String,
    /// When it was used and what it gave: reuse within the grace period returns the same pair.
    used: Option<(Instant, Pair)>,
}

#[derive(Debug)]
struct Code {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    user: &'static str,
    expires: Instant,
}

/// Tokens and codes in memory.
#[derive(Debug, Default)]
pub struct IdpState {
    access: HashMap<String, AccessToken>,
    refresh: HashMap<String, RefreshToken>,
    codes: HashMap<String, Code>,
}

fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

impl IdpState {
    fn issue(&mut self, user: &'static str, client_id: &str, ttl: Duration) -> Pair {
        let pair = Pair {
            access: random_token(),
            refresh: random_token(),
        };
        self.access.insert(
            pair.access.clone(),
            AccessToken {
                user,
                expires: Instant::now() + ttl,
                refresh: Some(pair.refresh.clone()),
            },
        );
        self.refresh.insert(
            pair.refresh.clone(),
            RefreshToken {
                user,
                client_id: client_id.to_owned(),
                used: None,
            },
        );
        pair
    }

    fn revoke(&mut self, token: &str) {
        if self.access.remove(token).is_some() {
            return;
        }
        if self.refresh.remove(token).is_some() {
            self.access
                .retain(|_, a| a.refresh.as_deref() != Some(token));
        }
    }
}

/// A fresh access token for `login` (the in-process shortcut of the password sign-in).
pub fn issue_for(sim: &Simulator, login: &'static str) -> String {
    let ttl = sim.inner.cfg.token_ttl;
    lock(&sim.inner.idp)
        .issue(login, "sentinel-sim", ttl)
        .access
}

impl Simulator {
    /// The user behind an API call's `Authorization: Bearer` header.
    pub(crate) fn authenticate(&self, headers: &HeaderMap) -> Result<&'static DemoUser, ApiErr> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiErr::unauthorized("The request has no bearer token (Authorization: Bearer …).")
            })?;
        let idp = lock(&self.inner.idp);
        let found = idp
            .access
            .get(token)
            .ok_or_else(|| ApiErr::unauthorized("The access token is unknown or was revoked."))?;
        if found.expires <= Instant::now() {
            return Err(ApiErr::unauthorized("The access token has expired."));
        }
        user(found.user).ok_or_else(|| ApiErr::unauthorized("The access token is unknown."))
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{t}</title>\n<link rel=\"stylesheet\" href=\"/static/app.css\">\n</head>\n<body>\n\
         <header class=\"top\"><span class=\"brand\">Sentinel Console</span></header>\n\
         <main id=\"main\">\n<div class=\"demo-signin\">\n<h1>{t}</h1>\n<div class=\"card\">\n{body}\n</div>\n</div>\n</main>\n\
         <footer class=\"foot\"><p class=\"demo-notice\"><strong>Demo mode:</strong> simulated data and sign-in.</p></footer>\n\
         </body>\n</html>\n",
        t = escape(title)
    );
    let mut resp = (status, Html(html)).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn bad_authorize(problem: &str) -> Response {
    page(
        StatusCode::BAD_REQUEST,
        "Sign-in request refused",
        &format!(
            "<p>The application that sent you here made a sign-in request the demo identity provider cannot accept:</p>\n\
             <p><strong>{}</strong></p>\n<p>Go back to the application and start the sign-in again.</p>",
            escape(problem)
        ),
    )
}

fn pairs(s: &str) -> Result<Vec<(String, String)>, String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(s)
        .map_err(|_| "The request's parameters are not valid form encoding.".to_owned())
}

fn get<'a>(p: &'a [(String, String)], k: &str) -> Option<&'a str> {
    p.iter()
        .find(|(key, _)| key == k)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// Is `redirect` a URI this provider may send a code to? Registered URIs match exactly; with none
/// registered (the standalone simulator), only a loopback `http` URI ending in `/auth/callback`,
/// so that the browser is never sent with a code to another host.
fn redirect_allowed(redirect: &Url, registered: &[Url]) -> bool {
    if redirect.fragment().is_some() || !redirect.username().is_empty() {
        return false;
    }
    if !registered.is_empty() {
        return registered.iter().any(|r| r == redirect);
    }
    let loopback = match redirect.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    redirect.scheme() == "http" && loopback && redirect.path().ends_with("/auth/callback")
}

/// The authorize request's checks (RFC 6749 §4.1.1 + PKCE mandatory, registered redirect URIs).
fn validate_authorize(p: &[(String, String)], registered: &[Url]) -> Result<(), String> {
    match get(p, "response_type") {
        Some("code") => {}
        Some(other) => {
            return Err(format!(
                "response_type “{other}” is not supported; only “code” is."
            ));
        }
        None => return Err("response_type is missing; it must be “code”.".into()),
    }
    if get(p, "client_id").is_none() {
        return Err("client_id is missing.".into());
    }
    let redirect = get(p, "redirect_uri").ok_or("redirect_uri is missing.")?;
    match Url::parse(redirect) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
            if !redirect_allowed(&u, registered) {
                return Err(format!(
                    "redirect_uri “{redirect}” is not registered for this client."
                ));
            }
        }
        _ => {
            return Err(format!(
                "redirect_uri “{redirect}” is not an absolute http(s) URL."
            ));
        }
    }
    if get(p, "code_challenge").is_none() {
        return Err("code_challenge is missing: PKCE is mandatory.".into());
    }
    match get(p, "code_challenge_method") {
        Some("S256") => Ok(()),
        Some(m) => Err(format!(
            "code_challenge_method “{m}” is not supported; use S256."
        )),
        None => Err("code_challenge_method is missing; it must be S256.".into()),
    }
}

/// One demo user as the sign-in page shows them.
struct UserCard {
    login: &'static str,
    name: &'static str,
    email: &'static str,
    about: &'static str,
    roles: String,
    groups: String,
    account_type: Option<&'static str>,
}

/// The demo sign-in page, in the console's own layout (its footer says demo mode).
#[derive(askama::Template)]
#[template(path = "pages/demo_signin.html")]
struct SignInPage {
    layout: crate::views::Layout,
    hidden: Vec<(String, String)>,
    users: Vec<UserCard>,
}

/// `GET /oauth/authorize`: the demo sign-in page, one form per demo user.
pub async fn authorize_page(State(sim): State<Simulator>, RawQuery(q): RawQuery) -> Response {
    let p = match pairs(q.as_deref().unwrap_or("")) {
        Ok(p) => p,
        Err(e) => return bad_authorize(&e),
    };
    if let Err(e) = validate_authorize(&p, &sim.inner.cfg.redirect_uris) {
        return bad_authorize(&e);
    }
    let mut layout = crate::views::Layout::anonymous("Sign in (demo)", None);
    layout.demo = true;
    let view = SignInPage {
        layout,
        hidden: p.into_iter().filter(|(k, _)| k != "user").collect(),
        users: USERS
            .iter()
            .map(|u| UserCard {
                login: u.login,
                name: u.name,
                email: u.email,
                about: u.about,
                roles: u.roles.join(" "),
                groups: u.corp_ids.join(", "),
                account_type: u.account_type,
            })
            .collect(),
    };
    match askama::Template::render(&view) {
        Ok(html) => {
            let mut resp = (StatusCode::OK, Html(html)).into_response();
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(e) => page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Sign-in page unavailable",
            &format!("<p>{}</p>", escape(&e.to_string())),
        ),
    }
}

/// `POST /oauth/authorize`: issue a one-time code and send the browser back.
pub async fn authorize_submit(State(sim): State<Simulator>, body: Bytes) -> Response {
    let p = match pairs(&String::from_utf8_lossy(&body)) {
        Ok(p) => p,
        Err(e) => return bad_authorize(&e),
    };
    if let Err(e) = validate_authorize(&p, &sim.inner.cfg.redirect_uris) {
        return bad_authorize(&e);
    }
    let Some(u) = get(&p, "user").and_then(user) else {
        return bad_authorize("Choose one of the demo users.");
    };
    let redirect_uri = get(&p, "redirect_uri").unwrap_or_default().to_owned();
    let Ok(mut target) = Url::parse(&redirect_uri) else {
        return bad_authorize("redirect_uri is not a URL.");
    };
    let code = random_token();
    lock(&sim.inner.idp).codes.insert(
        code.clone(),
        Code {
            client_id: get(&p, "client_id").unwrap_or_default().to_owned(),
            redirect_uri,
            challenge: get(&p, "code_challenge").unwrap_or_default().to_owned(),
            user: u.login,
            expires: Instant::now() + CODE_TTL,
        },
    );
    {
        let mut qp = target.query_pairs_mut();
        qp.append_pair("code", &code);
        if let Some(state) = get(&p, "state") {
            qp.append_pair("state", state);
        }
    }
    let mut resp = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(target.as_str()) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn oauth_error(error: &str, description: &str) -> Response {
    let status = if error == "invalid_client" {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::BAD_REQUEST
    };
    no_store(
        (
            status,
            axum::Json(json!({"error": error, "error_description": description})),
        )
            .into_response(),
    )
}

fn no_store(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

fn token_response(u: &DemoUser, pair: &Pair, ttl: Duration) -> Response {
    let mut body = json!({
        "access_token": pair.access,
        "token_type": "Bearer",
        "expires_in": ttl.as_secs().max(1),
        "refresh_token": pair.refresh,
        "scope": u.roles.join(" "),
        "corp_ids": u.corp_ids,
        "name": u.name,
        "email": u.email,
        "sub": u.login,
    });
    if let (Some(a), Some(obj)) = (u.account_type, body.as_object_mut()) {
        obj.insert("account_type".into(), json!(a));
    }
    no_store((StatusCode::OK, axum::Json(body)).into_response())
}

/// The client id from the form or from HTTP Basic authentication.
fn client_id(p: &[(String, String)], headers: &HeaderMap) -> Option<String> {
    if let Some(c) = get(p, "client_id") {
        return Some(c.to_owned());
    }
    let basic = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(basic.trim()).ok()?).ok()?;
    let id = decoded.split(':').next()?;
    let id = serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("x={id}"))
        .ok()
        .and_then(|v| v.into_iter().next().map(|(_, v)| v))
        .unwrap_or_else(|| id.to_owned());
    (!id.is_empty()).then_some(id)
}

/// `POST /oauth/token` (RFC 6749 §4.1.3 and §6).
pub async fn token(State(sim): State<Simulator>, headers: HeaderMap, body: Bytes) -> Response {
    let p = match pairs(&String::from_utf8_lossy(&body)) {
        Ok(p) => p,
        Err(e) => return oauth_error("invalid_request", &e),
    };
    let client = client_id(&p, &headers);
    let ttl = sim.inner.cfg.token_ttl;
    match get(&p, "grant_type") {
        Some("authorization_code") => {
            let (Some(code), Some(verifier)) = (get(&p, "code"), get(&p, "code_verifier")) else {
                return oauth_error(
                    "invalid_request",
                    "code and code_verifier are required (PKCE is mandatory).",
                );
            };
            let Some(client) = client else {
                return oauth_error("invalid_client", "client_id is missing.");
            };
            let mut idp = lock(&sim.inner.idp);
            // A code is single-use: it is gone after any attempt.
            let Some(c) = idp.codes.remove(code) else {
                return oauth_error(
                    "invalid_grant",
                    "The authorization code is unknown or was already used.",
                );
            };
            if c.expires <= Instant::now() {
                return oauth_error("invalid_grant", "The authorization code has expired.");
            }
            if c.client_id != client {
                return oauth_error(
                    "invalid_grant",
                    "The authorization code was issued to another client.",
                );
            }
            if get(&p, "redirect_uri") != Some(c.redirect_uri.as_str()) {
                return oauth_error(
                    "invalid_grant",
                    "redirect_uri does not match the one of the authorization request.",
                );
            }
            let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            if computed != c.challenge {
                return oauth_error(
                    "invalid_grant",
                    "The PKCE code_verifier does not match the code_challenge.",
                );
            }
            let Some(u) = user(c.user) else {
                return oauth_error("invalid_grant", "The user no longer exists.");
            };
            let pair = idp.issue(u.login, &client, ttl);
            token_response(u, &pair, ttl)
        }
        Some("refresh_token") => {
            let Some(rt) = get(&p, "refresh_token") else {
                return oauth_error("invalid_request", "refresh_token is required.");
            };
            let mut idp = lock(&sim.inner.idp);
            let Some(found) = idp.refresh.get(rt) else {
                return oauth_error(
                    "invalid_grant",
                    "The refresh token is unknown, expired or was revoked.",
                );
            };
            if let Some(c) = &client {
                if *c != found.client_id {
                    return oauth_error(
                        "invalid_grant",
                        "The refresh token was issued to another client.",
                    );
                }
            }
            let (login, client_id) = (found.user, found.client_id.clone());
            let Some(u) = user(login) else {
                return oauth_error("invalid_grant", "The user no longer exists.");
            };
            match &found.used {
                Some((at, pair)) if at.elapsed() <= REUSE_GRACE => {
                    // A racing instance: same answer as the first use.
                    let pair = pair.clone();
                    if idp.access.contains_key(&pair.access) {
                        return token_response(u, &pair, ttl);
                    }
                    oauth_error("invalid_grant", "The refresh token was revoked.")
                }
                Some(_) => oauth_error(
                    "invalid_grant",
                    "The refresh token was already used (it rotates on every refresh).",
                ),
                None => {
                    let pair = idp.issue(login, &client_id, ttl);
                    if let Some(old) = idp.refresh.get_mut(rt) {
                        old.used = Some((Instant::now(), pair.clone()));
                    }
                    token_response(u, &pair, ttl)
                }
            }
        }
        Some(other) => oauth_error(
            "unsupported_grant_type",
            &format!("grant_type “{other}” is not supported."),
        ),
        None => oauth_error("invalid_request", "grant_type is required."),
    }
}

/// `POST /oauth/revoke` (RFC 7009): always 200, whether or not the token was known.
pub async fn revoke(State(sim): State<Simulator>, body: Bytes) -> Response {
    if let Ok(p) = pairs(&String::from_utf8_lossy(&body)) {
        if let Some(t) = get(&p, "token") {
            lock(&sim.inner.idp).revoke(t);
        }
    }
    StatusCode::OK.into_response()
}

/// `POST /sentinel/api/v1.0/auth/token`: the vendor's own password sign-in.
pub async fn password_token(State(sim): State<Simulator>, body: Bytes) -> Response {
    let req: PasswordTokenRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return ApiErr::bad_request(format!(
                "The body must be JSON {{\"username\", \"password\"}}: {e}"
            ))
            .into_response();
        }
    };
    let Some(u) = user(req.username.trim()).filter(|_| req.password == "demo") else {
        return ApiErr::unauthorized("Unknown user name or wrong password.").into_response();
    };
    let ttl = sim.inner.cfg.token_ttl;
    let pair = lock(&sim.inner.idp).issue(u.login, "sentinel-password", ttl);
    no_store(
        axum::Json(json!({
            "token": pair.access,
            "details": {
                "corpId": u.corp_ids.first().copied().unwrap_or_default(),
                "corpIds": u.corp_ids,
                "name": u.name,
                "email": u.email,
                "scope": u.roles.join(" "),
                "accountType": u.account_type,
            }
        }))
        .into_response(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorize_validation() {
        let ok: Vec<(String, String)> = [
            ("response_type", "code"),
            ("client_id", "c"),
            ("redirect_uri", "http://127.0.0.1:3000/auth/callback"),
            ("code_challenge", "abc"),
            ("code_challenge_method", "S256"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert!(validate_authorize(&ok, &[]).is_ok());
        let mut plain = ok.clone();
        plain[4].1 = "plain".into();
        assert!(validate_authorize(&plain, &[]).is_err());
        let mut rel = ok.clone();
        rel[2].1 = "/auth/callback".into();
        assert!(validate_authorize(&rel, &[]).is_err());
        assert!(validate_authorize(&ok[..3], &[]).is_err());
    }

    #[test]
    fn redirect_uris_are_the_registered_ones_or_a_loopback_callback() {
        let u = |s: &str| Url::parse(s).unwrap();
        // Standalone (nothing registered): loopback http callbacks only.
        for ok in [
            "http://127.0.0.1:41234/auth/callback",
            "http://localhost:3000/auth/callback",
            "http://[::1]:3000/auth/callback",
        ] {
            assert!(redirect_allowed(&u(ok), &[]), "{ok}");
        }
        for bad in [
            "http://evil.example/auth/callback",
            "https://127.0.0.1/auth/callback",
            "http://127.0.0.1:3000/elsewhere",
            "http://127.0.0.1.evil.example/auth/callback",
            "http://user@127.0.0.1:3000/auth/callback",
            "http://127.0.0.1:3000/auth/callback#x",
        ] {
            assert!(!redirect_allowed(&u(bad), &[]), "{bad}");
        }
        // Registered: exactly those.
        let reg = [u("https://console.example/auth/callback")];
        assert!(redirect_allowed(
            &u("https://console.example/auth/callback"),
            &reg
        ));
        assert!(!redirect_allowed(
            &u("http://127.0.0.1:3000/auth/callback"),
            &reg
        ));
        assert!(!redirect_allowed(
            &u("https://console.example/auth/callback?x=1"),
            &reg
        ));
    }

    #[test]
    fn escapes_html() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
