//! The portal of a host of several projects: one sign-in (`/portal/login`,
//! the same form and field `token` as a single project's) opens a session
//! that sees every project whose API tokens or portal password the token
//! is, and `/` lists those projects, each linking to its own portal under
//! `/projects/NAME/`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;

use super::{HostState, Hosted};
use crate::portal::login::{form_csrf_ok, login_page, opens, signed_in, CsrfOnly, SignIn};
use crate::portal::session::{cookie, set_cookie, Session, COOKIE};
use crate::portal::{csrf_refused, layout};

/// True when the host is reached over https (cookies are then Secure):
/// every project of the host says so, or none does.
fn secure(host: &HostState) -> bool {
    host.projects()
        .first()
        .is_some_and(|p| p.state.public_url.starts_with("https://"))
}

/// The live session of the request, if any.
fn session(host: &HostState, headers: &HeaderMap) -> Option<(String, Session)> {
    let id = cookie(headers, COOKIE)?;
    host.sessions.get(id).map(|s| (id.to_string(), s))
}

/// `GET /portal/login`: the form.
pub async fn form(State(host): State<Arc<HostState>>) -> Response {
    login_page(secure(&host), StatusCode::OK, None)
}

/// `POST /portal/login`: opens a session seeing every project the token
/// opens, and goes to the list of them.
pub async fn sign_in(
    State(host): State<Arc<HostState>>,
    headers: HeaderMap,
    Form(form): Form<SignIn>,
) -> Response {
    if !form_csrf_ok(&headers, &form) {
        return csrf_refused();
    }
    let opened: Vec<Arc<Hosted>> = host
        .projects()
        .into_iter()
        .filter(|p| opens(&p.state, &form.token))
        .collect();
    if opened.is_empty() {
        tracing::warn!("a portal sign-in with a wrong token was refused");
        return login_page(
            secure(&host),
            StatusCode::UNAUTHORIZED,
            Some("That is not the token or password of any project served here."),
        );
    }
    let ttl = opened
        .iter()
        .map(|p| p.state.config.session_ttl)
        .min()
        .unwrap_or_default();
    let names = opened.iter().map(|p| p.name().to_string()).collect();
    let id = host.sessions.open(ttl, names);
    signed_in(&id, ttl, secure(&host), "/")
}

/// `POST /portal/logout`: closes the session.
pub async fn logout(
    State(host): State<Arc<HostState>>,
    headers: HeaderMap,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let Some((id, session)) = session(&host, &headers) else {
        return Redirect::to("/portal/login").into_response();
    };
    if !crate::auth::same_secret(form.csrf.as_bytes(), session.csrf.as_bytes()) {
        return csrf_refused();
    }
    host.sessions.close(&id);
    (
        [(header::SET_COOKIE, set_cookie(COOKIE, "", 0, secure(&host)))],
        Redirect::to("/portal/login"),
    )
        .into_response()
}

/// `GET /`: the projects the session sees, each with its modules and the
/// organisations it reached; the sign-in form without a session.
pub async fn page(State(host): State<Arc<HostState>>, headers: HeaderMap) -> Response {
    let Some((_, session)) = session(&host, &headers) else {
        return Redirect::to("/portal/login").into_response();
    };
    let projects: Vec<Arc<Hosted>> = host
        .projects()
        .into_iter()
        .filter(|p| session.sees(p.name()))
        .collect();
    let body = html! {
        @if projects.is_empty() {
            p.muted { "None of your projects is served right now." }
        } @else {
            p.lead { "Pick a project." }
            ul.projects {
                @for project in &projects {
                    li.card {
                        h2 { a href=(project.state.at("/")) { (project.name()) } }
                        @let modules = &project.state.project.modules;
                        p.muted {
                            (modules.len()) @if modules.len() == 1 { " module: " } @else { " modules: " }
                            (modules.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", "))
                        }
                        dl.facts {
                            @for connected in &project.state.organisations {
                                dt { (connected.connection) }
                                dd {
                                    @if let Some(org) = &connected.organisation { (org.name) }
                                    @else { span.muted { "not reached" } }
                                }
                            }
                        }
                    }
                }
            }
        }
        form.signout method="post" action="/portal/logout" {
            input type="hidden" name="csrf" value=(session.csrf);
            button type="submit" { "Sign out" }
        }
    };
    Html(layout::bare_page("Projects", body).into_string()).into_response()
}
