//! The portal: web pages where people sync, see what happened and fix what
//! failed, on the service's listener and over the same jobs as the API.
//! Server-rendered HTML (maud escapes every value), a small stylesheet, and
//! a few lines of plain JavaScript for live progress; every form works
//! without it. Sign-in takes an API token or the portal password and opens
//! a session ([`session`]); every form carries the session's CSRF token.

pub mod attention;
pub mod dashboard;
pub mod layout;
pub mod login;
pub mod mapping;
pub mod plan;
pub mod runs;
pub mod session;
pub mod sync;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, Uri};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};

use crate::service::ServiceState;

/// The signed-in session of a request.
#[derive(Debug, Clone)]
pub struct Signed {
    /// The session's id.
    pub id: String,
    /// Its CSRF token, for the forms of the page.
    pub csrf: String,
    /// The path the project's routes are under (empty, or `/projects/NAME`).
    pub base: String,
}

impl Signed {
    /// The path of `path` (which starts with `/`) under the project's base.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// The portal's routes.
pub fn router(state: Arc<ServiceState>) -> Router<Arc<ServiceState>> {
    let signed_in =
        Router::new()
            .route("/", get(dashboard::page))
            .route(
                "/portal",
                get(|State(state): State<Arc<ServiceState>>| async move {
                    Redirect::to(&state.at("/"))
                }),
            )
            .route("/portal/sync", get(sync::form).post(sync::start))
            .route("/portal/runs", get(runs::list))
            .route("/portal/runs/{id}", get(runs::one))
            .route("/portal/attention", get(attention::page))
            .route("/portal/retry", post(attention::retry))
            .route("/portal/plan", get(plan::page))
            .route("/portal/mapping", get(mapping::page))
            .route("/portal/logout", post(login::logout))
            .route_layer(from_fn_with_state(state, require_session));
    Router::new()
        .route("/portal/login", get(login::form).post(login::sign_in))
        .merge(signed_in)
}

/// Lets a request through with a live session that sees the project; else
/// to the sign-in page (the host's, in a host of several projects).
async fn require_session(
    State(state): State<Arc<ServiceState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let signed = session::cookie(request.headers(), session::COOKIE)
        .and_then(|id| state.sessions.get(id).map(|s| (id.to_string(), s)))
        .filter(|(_, s)| s.sees(&state.name));
    match signed {
        Some((id, session)) => {
            request.extensions_mut().insert(Signed {
                id,
                csrf: session.csrf,
                base: state.base.clone(),
            });
            next.run(request).await
        }
        None => Redirect::to("/portal/login").into_response(),
    }
}

/// True when a form's `csrf` field is the session's token.
pub fn csrf_ok(signed: &Signed, given: &str) -> bool {
    crate::auth::same_secret(given.as_bytes(), signed.csrf.as_bytes())
}

/// The answer to a form without the session's CSRF token: 403.
pub fn csrf_refused() -> Response {
    message_page(
        StatusCode::FORBIDDEN,
        "Form refused",
        html! {
            p { "This form did not come from your signed-in page (its security token is missing or old), so nothing was done." }
            p { a href="/" { "Go back to the start" } " and try again." }
        },
    )
}

/// A page with a status and a short message.
pub fn message_page(status: StatusCode, title: &str, body: Markup) -> Response {
    (status, Html(layout::bare_page(title, body).into_string())).into_response()
}

/// A portal page as a response.
pub fn render(title: &str, current: &str, signed: &Signed, body: Markup) -> Response {
    Html(layout::page(title, current, signed, body).into_string()).into_response()
}

/// Any path that names nothing: 404, as JSON under `/api`, else a page.
pub async fn not_found(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        return crate::api::error::ApiError::not_found(format!("no API route {}", uri.path()))
            .into_response();
    }
    message_page(
        StatusCode::NOT_FOUND,
        "Not found",
        html! { p { "Nothing here. " a href="/" { "Go to the dashboard" } "." } },
    )
}
