//! Signing in (`/portal/login`, a form posting the field `token`: one of
//! the service's API tokens, or the portal password) and out
//! (`POST /portal/logout`). The sign-in form has its own CSRF token, kept
//! in a short-lived cookie. A host of several projects signs in with the
//! same form and the same session cookie ([`crate::host`]).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::html;
use serde::Deserialize;

use super::session::{cookie, set_cookie, COOKIE, LOGIN_COOKIE};
use super::{csrf_ok, csrf_refused, Signed};
use crate::auth::{one_of, random_secret, same_secret};
use crate::portal::layout::bare_page;
use crate::service::ServiceState;

/// How long the sign-in form stays valid.
const LOGIN_FORM_SECS: u64 = 3600;

/// True when the service is reached over https (cookies are then Secure).
fn secure(state: &ServiceState) -> bool {
    state.public_url.starts_with("https://")
}

/// `GET /portal/login`: the form.
pub async fn form(State(state): State<Arc<ServiceState>>) -> Response {
    login_page(secure(&state), StatusCode::OK, None)
}

/// The sign-in form, answered with `status` and `problem` shown; its CSRF
/// cookie is Secure when `secure`.
pub fn login_page(secure: bool, status: StatusCode, problem: Option<&str>) -> Response {
    let csrf = random_secret(32);
    let body = html! {
        p.lead { "Sign in with one of the service's API tokens (" code { "serve.api_tokens" } ") or the portal password." }
        @if let Some(problem) = problem { p.error-box role="alert" { (problem) } }
        form.stack method="post" action="/portal/login" {
            input type="hidden" name="csrf" value=(csrf);
            div {
                label for="token" { "Token or password" }
                input #token type="password" name="token" autocomplete="current-password" required autofocus;
            }
            div { button type="submit" { "Sign in" } }
        }
    };
    (
        status,
        [(
            header::SET_COOKIE,
            set_cookie(LOGIN_COOKIE, &csrf, LOGIN_FORM_SECS, secure),
        )],
        Html(bare_page("Sign in", body).into_string()),
    )
        .into_response()
}

/// The fields of the sign-in form.
#[derive(Debug, Deserialize)]
pub struct SignIn {
    /// An API token or the portal password.
    #[serde(default)]
    pub token: String,
    /// The form's CSRF token.
    #[serde(default)]
    pub csrf: String,
}

/// `POST /portal/login`: opens a session and goes to the dashboard.
pub async fn sign_in(
    State(state): State<Arc<ServiceState>>,
    headers: HeaderMap,
    Form(form): Form<SignIn>,
) -> Response {
    if !form_csrf_ok(&headers, &form) {
        return csrf_refused();
    }
    if !opens(&state, &form.token) {
        tracing::warn!("a portal sign-in with a wrong token was refused");
        return login_page(
            secure(&state),
            StatusCode::UNAUTHORIZED,
            Some("That is not one of the service's tokens, nor its password."),
        );
    }
    let ttl = state.config.session_ttl;
    let id = state.sessions.open(ttl, vec![state.name.clone()]);
    signed_in(&id, ttl, secure(&state), "/")
}

/// True when the sign-in form carries the CSRF token of its cookie.
pub fn form_csrf_ok(headers: &HeaderMap, form: &SignIn) -> bool {
    let expected = cookie(headers, LOGIN_COOKIE).unwrap_or("");
    !expected.is_empty() && same_secret(form.csrf.as_bytes(), expected.as_bytes())
}

/// True when `token` is one of the project's API tokens or its portal
/// password.
pub fn opens(state: &ServiceState, token: &str) -> bool {
    let password_ok = state
        .config
        .portal_password
        .as_deref()
        .is_some_and(|p| same_secret(token.as_bytes(), p.as_bytes()));
    !token.is_empty() && (one_of(token, &state.config.api_tokens) || password_ok)
}

/// The answer to a sign-in that opened session `id` lasting `ttl`: its
/// cookie set, the form's cookie cleared, and on to `to`.
pub fn signed_in(id: &str, ttl: std::time::Duration, secure: bool, to: &str) -> Response {
    let mut response = Redirect::to(to).into_response();
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        set_cookie(COOKIE, id, ttl.as_secs().max(1), secure)
            .parse()
            .expect("cookie"),
    );
    headers.append(
        header::SET_COOKIE,
        set_cookie(LOGIN_COOKIE, "", 0, secure)
            .parse()
            .expect("cookie"),
    );
    response
}

/// The sign-out form's field.
#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    /// The session's CSRF token.
    #[serde(default)]
    pub csrf: String,
}

/// `POST /portal/logout`: closes the session.
pub async fn logout(
    State(state): State<Arc<ServiceState>>,
    Extension(signed): Extension<Signed>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    if !csrf_ok(&signed, &form.csrf) {
        return csrf_refused();
    }
    state.sessions.close(&signed.id);
    (
        [(
            header::SET_COOKIE,
            set_cookie(COOKIE, "", 0, secure(&state)),
        )],
        Redirect::to("/portal/login"),
    )
        .into_response()
}
