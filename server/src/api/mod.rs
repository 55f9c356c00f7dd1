//! The HTTP routes of the service, on one listener:
//!
//! - `/api/v1/...` (a bearer token needed): the button
//!   (`POST /api/v1/modules/{module}/records/{id}/sync`), runs, jobs,
//!   status and retry ([`runs`], [`button`]);
//! - `GET /sync/{module}/{id}?key=...`: the URL button, with a button key;
//! - `/healthz`, `/readyz`, `/metrics` ([`health`]);
//! - `/hooks/zoho`, `/hooks/xero` ([`crate::hooks`]);
//! - the portal ([`crate::portal`]).
//!
//! Bodies over 1 MiB get 413; every request is logged on one line with its
//! id ([`requests`]); a handler that panics answers 500.

pub mod button;
pub mod error;
pub mod health;
pub mod requests;
pub mod runs;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;

use crate::auth::{bearer, one_of};
use crate::service::ServiceState;
use error::ApiError;

/// Largest request body taken.
const BODY_LIMIT: usize = 1 << 20;

/// Every route of the service.
pub fn router(state: Arc<ServiceState>) -> Router {
    let api = Router::new()
        .route(
            "/api/v1/modules/{module}/records/{id}/sync",
            post(button::sync_record),
        )
        .route("/api/v1/runs", post(runs::start).get(runs::list))
        .route("/api/v1/runs/{id}", get(runs::one))
        .route("/api/v1/jobs/{id}", get(runs::job))
        .route("/api/v1/status", get(runs::status))
        .route("/api/v1/retry", post(runs::retry))
        .route("/api/v1", any(unknown_api))
        .route("/api/v1/{*rest}", any(unknown_api))
        .route_layer(from_fn_with_state(state.clone(), require_token));
    Router::new()
        .merge(api)
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/sync/{module}/{id}", get(button::sync_page))
        .route("/hooks/zoho", post(crate::hooks::zoho::receive))
        .route("/hooks/xero", post(crate::hooks::xero::receive))
        .merge(crate::portal::router(state.clone()))
        .fallback(crate::portal::not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
        .layer(from_fn(requests::log))
        .with_state(state)
}

/// Lets a request through only with one of the service's API tokens in
/// `Authorization: Bearer` (never from the URL).
async fn require_token(
    State(state): State<Arc<ServiceState>>,
    request: Request,
    next: Next,
) -> Response {
    match bearer(request.headers()) {
        Some(token) if one_of(token, &state.config.api_tokens) => next.run(request).await,
        Some(_) => ApiError::unauthorized("the token is not one of the service's API tokens")
            .into_response(),
        None => ApiError::unauthorized(
            "an `Authorization: Bearer <token>` header with one of the service's API tokens is needed",
        )
        .into_response(),
    }
}

/// A path under `/api/v1` that names nothing.
async fn unknown_api(request: Request) -> ApiError {
    ApiError::not_found(format!("no API route {}", request.uri().path()))
}

/// A handler that panicked: 500, in the API's shape.
fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::internal("the service failed on this request").into_response()
}
