//! The portal: web pages where people sync, see what happened and fix what
//! failed, on the service's listener and over the same jobs as the API.
//! Server-rendered HTML (maud escapes every value), a small stylesheet, and
//! a few lines of plain JavaScript for live progress; every form works
//! without it.

pub mod layout;
pub mod session;

use std::sync::Arc;

use axum::http::{StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::Router;
use maud::html;

use crate::service::ServiceState;

/// The portal's routes.
pub fn router() -> Router<Arc<ServiceState>> {
    Router::new()
}

/// Any path that names nothing: 404, as JSON under `/api`, else a page.
pub async fn not_found(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        return crate::api::error::ApiError::not_found(format!("no API route {}", uri.path()))
            .into_response();
    }
    (
        StatusCode::NOT_FOUND,
        Html(
            layout::bare_page(
                "Not found",
                html! { p { "Nothing here. " a href="/" { "Go to the dashboard" } "." } },
            )
            .into_string(),
        ),
    )
        .into_response()
}
