//! The routes of a host of several projects, on one listener:
//!
//! - `/projects/NAME/...`: everything one project's service answers
//!   (`/api/v1/...`, `/sync/...`, `/hooks/...`, the portal), with NAME's
//!   tokens, keys and sessions;
//! - `/api/v1/...` and `/sync/{module}/{id}?key=...` without a project:
//!   the one project the token (or button key) belongs to; a token of
//!   several projects is asked to name one;
//! - `GET /api/v1/projects`: the projects the token sees;
//! - `POST /api/v1/reload`: reads the project folders again (any project's
//!   token may ask: a reload applies only what is on disk);
//! - `/`, `/portal/login`, `/portal/logout`: the project picker and the
//!   sign-in ([`super::picker`]);
//! - `/healthz`, `/readyz`, `/metrics` for the whole process.

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tower::ServiceExt;

use super::{picker, reload, HostState, Hosted};
use crate::api::error::ApiError;
use crate::auth::bearer;

/// Largest request body taken.
const BODY_LIMIT: usize = 1 << 20;

/// Every route of the host.
pub fn router(host: Arc<HostState>) -> Router {
    Router::new()
        .route("/healthz", get(crate::api::health::healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(crate::api::health::metrics))
        .route("/", get(picker::page))
        .route("/portal", get(|| async { Redirect::to("/") }))
        .route("/portal/login", get(picker::form).post(picker::sign_in))
        .route("/portal/logout", post(picker::logout))
        .route("/api/v1/projects", get(projects))
        .route("/api/v1/reload", post(reload_now))
        // A project's own routes log what they answer.
        .route_layer(axum::middleware::from_fn(crate::api::requests::log))
        .fallback(dispatch)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(host)
}

/// 200 while the host serves (each project answers its own
/// `/projects/NAME/readyz`).
async fn readyz(State(host): State<Arc<HostState>>) -> Response {
    if *host.stopping.borrow() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"ready": false})),
        )
            .into_response();
    }
    Json(json!({"ready": true, "projects": host.projects().len()})).into_response()
}

/// The projects a request's bearer token sees, or the 401 to answer.
fn seen(
    host: &HostState,
    request_headers: &axum::http::HeaderMap,
) -> Result<Vec<Arc<Hosted>>, ApiError> {
    let Some(token) = bearer(request_headers) else {
        return Err(ApiError::unauthorized(
            "an `Authorization: Bearer <token>` header with one of a project's API tokens is needed",
        ));
    };
    let seen = host.seen_by_token(token);
    if seen.is_empty() {
        return Err(ApiError::unauthorized(
            "the token is not one of the API tokens of any project served here",
        ));
    }
    Ok(seen)
}

/// `GET /api/v1/projects`: `{"projects": [{"name", "url", "api", "modules"}]}`
/// for the projects the token sees.
async fn projects(
    State(host): State<Arc<HostState>>,
    headers: axum::http::HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let seen = seen(&host, &headers)?;
    let projects: Vec<_> = seen
        .iter()
        .map(|p| {
            json!({
                "name": p.name(),
                "url": p.state.at("/"),
                "api": p.state.at("/api/v1"),
                "modules": p.state.project.modules.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(json!({ "projects": projects })))
}

/// `POST /api/v1/reload`: reads the project folders again; answers what
/// changed among the projects the token sees (before or after the
/// reload), with the number of projects served.
async fn reload_now(
    State(host): State<Arc<HostState>>,
    headers: axum::http::HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let before: Vec<String> = seen(&host, &headers)?
        .iter()
        .map(|p| p.name().to_string())
        .collect();
    let token = bearer(&headers).unwrap_or_default().to_string();
    let reloaded = reload::reload(&host).await;
    tracing::info!("reloaded: {}", reloaded.summary());
    let visible = |name: &str| {
        before.iter().any(|b| b == name)
            || host.project(name).is_some_and(|p| p.takes_token(&token))
    };
    let mut body = serde_json::to_value(reloaded.seen_by(&visible)).unwrap_or_default();
    body["projects"] = json!(host.projects().len());
    Ok(Json(body))
}

/// Any other path: a project's route, by its prefix or by the credential
/// the request carries.
async fn dispatch(State(host): State<Arc<HostState>>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    if let Some(rest) = path.strip_prefix("/projects/") {
        let (name, tail) = match rest.split_once('/') {
            Some((name, tail)) => (name, format!("/{tail}")),
            None => return Redirect::permanent(&format!("{path}/")).into_response(),
        };
        let Some(project) = host.project(name) else {
            return not_found(&tail, &path);
        };
        if tail == "/portal/login" {
            return Redirect::to("/portal/login").into_response();
        }
        // A token of other projects learns nothing of this one.
        if tail.starts_with("/api/")
            && bearer(request.headers()).is_some_and(|t| !project.takes_token(t))
        {
            return not_found(&tail, &path);
        }
        return forward(&project, request, &tail).await;
    }
    if path.starts_with("/api/") {
        let seen = match seen(&host, request.headers()) {
            Ok(seen) => seen,
            Err(e) => return e.into_response(),
        };
        return match seen.as_slice() {
            [one] => forward(one, request, &path).await,
            several => {
                ApiError::new(
                    StatusCode::CONFLICT,
                    "project_needed",
                    format!(
                    "the token is one of several projects' ({}): name one, as /projects/NAME{path}",
                    several.iter().map(|p| p.name()).collect::<Vec<_>>().join(", ")
                ),
                )
                .into_response()
            }
        };
    }
    if path.starts_with("/sync/") {
        let key = key_of(request.uri());
        let owners: Vec<Arc<Hosted>> = host
            .projects()
            .into_iter()
            .filter(|p| crate::auth::one_of(&key, &p.state.config.button_keys))
            .collect();
        if let [one] = owners.as_slice() {
            return forward(one, request, &path).await;
        }
        // No key, a wrong one, or a key of several projects: the first
        // project answers as it answers a wrong key, naming no project.
        if let Some(first) = host.projects().first() {
            return forward(first, request, &path).await;
        }
    }
    not_found(&path, &path)
}

/// The `key` query parameter of a URL button.
fn key_of(uri: &Uri) -> String {
    axum::extract::Query::<std::collections::HashMap<String, String>>::try_from_uri(uri)
        .ok()
        .and_then(|q| q.0.get("key").cloned())
        .unwrap_or_default()
}

/// Hands `request` to `project`'s routes with its path set to `tail`.
async fn forward(project: &Hosted, mut request: Request, tail: &str) -> Response {
    let target = match request.uri().query() {
        Some(query) => format!("{tail}?{query}"),
        None => tail.to_string(),
    };
    match target.parse::<Uri>() {
        Ok(uri) => *request.uri_mut() = uri,
        Err(_) => {
            return ApiError::bad_request("the path is not one this service reads").into_response()
        }
    }
    let span = project.state.span();
    match tracing::Instrument::instrument(project.router.clone().oneshot(request), span).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// 404 for `path`: JSON when `tail` is an API path, else a page.
fn not_found(tail: &str, path: &str) -> Response {
    if tail.starts_with("/api/") {
        return ApiError::not_found(format!("no project or route {path}")).into_response();
    }
    crate::portal::message_page(
        StatusCode::NOT_FOUND,
        "Not found",
        maud::html! { p { "Nothing here. " a href="/" { "Go to your projects" } "." } },
    )
}
