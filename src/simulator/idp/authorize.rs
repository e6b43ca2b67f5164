//! `/oauth/authorize`: the request's checks (PKCE mandatory, registered redirect URIs), the sign-in page and the code.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use url::Url;

use super::pages::{SignInPage, UserCard, bad_authorize, escape, page};
use super::tokens::{CODE_TTL, Code, random_token};
use super::users::{USERS, user};
use super::{get, pairs};
use crate::simulator::{Simulator, lock};

/// Is `redirect` a URI this provider may send a code to? Registered URIs match exactly; with none
/// registered (the standalone simulator), only a loopback `http` URI ending in `/auth/callback`,
/// so that the browser is never sent with a code to another host.
pub(super) fn redirect_allowed(redirect: &Url, registered: &[Url]) -> bool {
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
pub(super) fn validate_authorize(p: &[(String, String)], registered: &[Url]) -> Result<(), String> {
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
}
