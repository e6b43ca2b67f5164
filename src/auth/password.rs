//! The Sentinel username/password sign-in (`POST /v1.0/auth/token`), for deployments without an
//! OAuth provider. The password is passed through once and never stored; there is no refresh.
//! Failed attempts slow down further ones per (user name, client) and per client
//! ([`crate::identity::throttle`]).

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::Value;
use tower_sessions::Session;

use super::csrf::ensure_token;
use super::safe_next;
use super::signin::complete_sign_in;
use crate::client_addr::ClientAddr;
use crate::domain::{CorpId, MAX_USER_NAME, Role, UserName};
use crate::error::AppError;
use crate::identity::session::{Secret, Tokens};
use crate::policy::Principal;
use crate::state::AppState;
use crate::upstream::UpstreamError;
use crate::views::Layout;

/// The username/password form.
#[derive(Template, WebTemplate, Debug)]
#[template(path = "pages/login.html")]
pub struct LoginPage {
    pub layout: Layout,
    /// The form's target.
    pub action: crate::paths::Href,
    pub csrf: String,
    pub next: String,
    pub username: String,
    pub problem: Option<String>,
}

/// `GET /login` in password mode: the form, with a pre-session CSRF token.
pub async fn form(session: &Session, next: String) -> Result<Response, AppError> {
    let csrf = ensure_token(session).await?.masked();
    Ok(page(csrf, next, String::new(), None).into_response())
}

fn page(csrf: String, next: String, username: String, problem: Option<String>) -> LoginPage {
    LoginPage {
        layout: Layout::anonymous("Sign in", Some(csrf.clone())),
        action: crate::paths::login_form(),
        csrf,
        next,
        username,
        problem,
    }
}

#[derive(Deserialize)]
pub struct LoginForm {
    pub username: String,
    pub password: SecretString,
    #[serde(default)]
    pub next: Option<String>,
}

/// `POST /login` (CSRF already checked by the middleware against the form's pre-session token).
pub async fn submit(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    session: Session,
    Form(f): Form<LoginForm>,
) -> Result<Response, AppError> {
    if !state.auth.is_password_mode() {
        return Err(AppError::NotFound(
            "This console signs in through its identity provider.".into(),
        ));
    }
    let next = safe_next(f.next.as_deref());
    let username = match UserName::parse(&f.username) {
        Ok(u) => u,
        Err(e) => {
            let typed = f.username.trim().chars().take(MAX_USER_NAME).collect();
            return again(&session, next, typed, &e.0, StatusCode::BAD_REQUEST).await;
        }
    };
    let person = username.folded();
    let throttle = &state.auth.throttle;
    if let Err(t) = throttle.check(&person, client) {
        tracing::warn!(held_by = ?t.by, %client, "password sign-in held back");
        let mut resp = again(
            &session,
            next,
            username.as_str().to_owned(),
            &t.message(),
            StatusCode::TOO_MANY_REQUESTS,
        )
        .await?;
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(t.retry_after_secs));
        return Ok(resp);
    }
    let answer = match state
        .upstream
        .password_token(username.as_str(), &f.password)
        .await
    {
        Ok(a) => a,
        Err(UpstreamError::Status { status, .. }) if matches!(status.as_u16(), 400 | 401 | 403) => {
            tracing::info!(status = status.as_u16(), %client, "password sign-in refused");
            throttle.failed(&person, client);
            return again(
                &session,
                next,
                username.as_str().to_owned(),
                "Sentinel did not accept that username and password.",
                StatusCode::UNAUTHORIZED,
            )
            .await;
        }
        Err(e) => return Err(e.into()),
    };
    throttle.succeeded(&person, client);
    let principal = principal_from_details(&username, &answer.details);
    let tokens = Tokens::received(Secret::new(answer.token), None, None);
    complete_sign_in(&session, principal, tokens).await?;
    Ok(Redirect::to(&next).into_response())
}

/// The form again, with what went wrong (the username kept, the password not).
async fn again(
    session: &Session,
    next: String,
    username: String,
    problem: &str,
    status: StatusCode,
) -> Result<Response, AppError> {
    let csrf = ensure_token(session).await?.masked();
    Ok((status, page(csrf, next, username, Some(problem.into()))).into_response())
}

fn str_field<'a>(details: &'a Value, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| details.get(*n).and_then(Value::as_str))
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The user from the vendor's `details`: `corpId` is their one device group; roles from
/// `scope` / `roles` when present, else read-only (the safe default: reads, no changes). The
/// subject is Sentinel's user id; without one, the user name case-folded, so that one person
/// is one subject whatever the spelling typed (the two-person rule compares subjects).
pub fn principal_from_details(username: &UserName, details: &Value) -> Principal {
    let mut scope = String::new();
    for key in ["scope", "scopes", "roles", "role"] {
        match details.get(key) {
            Some(Value::String(s)) => {
                scope.push(' ');
                scope.push_str(s);
            }
            Some(Value::Array(items)) => {
                for s in items.iter().filter_map(Value::as_str) {
                    scope.push(' ');
                    scope.push_str(s);
                }
            }
            _ => {}
        }
    }
    let mut roles = Role::from_scope_str(&scope);
    if roles.is_empty() {
        roles = vec![Role::Readonly];
    }
    let corp_ids = str_field(details, &["corpId", "corp_id"])
        .and_then(|c| CorpId::parse(c).ok())
        .map(|c| vec![c]);
    let name = str_field(details, &["name", "fullName"])
        .map(str::to_owned)
        .or_else(|| {
            let first = str_field(details, &["firstName"]);
            let last = str_field(details, &["lastName"]);
            match (first, last) {
                (Some(f), Some(l)) => Some(format!("{f} {l}")),
                (Some(x), None) | (None, Some(x)) => Some(x.to_owned()),
                (None, None) => None,
            }
        });
    Principal {
        subject: str_field(details, &["userId", "sub"])
            .map(str::to_owned)
            .or_else(|| {
                str_field(details, &["username"])
                    .and_then(|u| UserName::parse(u).ok())
                    .map(|u| u.folded())
            })
            .unwrap_or_else(|| username.folded()),
        name,
        email: str_field(details, &["email"]).map(str::to_owned),
        roles,
        corp_ids,
        account_type: str_field(details, &["accountType", "account_type"]).map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn name(s: &str) -> UserName {
        UserName::parse(s).unwrap()
    }

    #[test]
    fn details_without_roles_are_read_only() {
        let p = principal_from_details(&name("ann"), &json!({"corpId": "NORTHSTAR-ISD"}));
        assert_eq!(p.subject, "ann");
        assert_eq!(p.roles, vec![Role::Readonly]);
        assert_eq!(p.corp_ids.unwrap()[0].as_str(), "NORTHSTAR-ISD");
    }

    #[test]
    fn details_with_roles() {
        let p = principal_from_details(
            &name("ann"),
            &json!({"corpId": "X1", "roles": ["org_tech", "weird"], "firstName": "Ann",
                    "lastName": "Lee", "accountType": "kajeet_choice"}),
        );
        assert_eq!(p.roles, vec![Role::OrgTech]);
        assert_eq!(p.name.as_deref(), Some("Ann Lee"));
        assert_eq!(p.account_type.as_deref(), Some("kajeet_choice"));
    }

    #[test]
    fn without_a_user_id_the_subject_is_the_folded_name() {
        let details = json!({"corpId": "X1"});
        let a = principal_from_details(&name(" Ann.Lee "), &details);
        let b = principal_from_details(&name("ANN.LEE"), &details);
        assert_eq!(
            (a.subject.as_str(), b.subject.as_str()),
            ("ann.lee", "ann.lee")
        );
        let echoed = principal_from_details(&name("x"), &json!({"username": " Ann "}));
        assert_eq!(echoed.subject, "ann");
        let id = principal_from_details(&name("ANN"), &json!({"userId": "U-17"}));
        assert_eq!(id.subject, "U-17");
    }
}
