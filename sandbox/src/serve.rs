//! The accept loop: HTTP/1 and HTTP/2 on one listener, with a deadline for a
//! request's headers and one for the whole request, so a slow or silent
//! client never holds a connection forever.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

/// How long clients get.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// To send a request's headers, from the connection's start or the previous answer.
    pub header_read: Duration,
    /// For the whole request, body included; past it the answer is 408.
    pub request: Duration,
}

/// Serves `app` on `listener` until `stop` fires, then drops every connection.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    t: Timeouts,
    mut stop: oneshot::Receiver<()>,
) {
    let app = app.layer(middleware::from_fn(
        move |req: Request, next: Next| async move {
            match tokio::time::timeout(t.request, next.run(req)).await {
                Ok(r) => r,
                Err(_) => request_timeout(),
            }
        },
    ));
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let svc = TowerToHyperService::new(app.clone());
                let mut builder = Builder::new(TokioExecutor::new());
                builder
                    .http1()
                    .timer(TokioTimer::new())
                    .header_read_timeout(t.header_read);
                conns.spawn(async move {
                    let _ = builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), svc)
                        .await;
                });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    conns.abort_all();
}

fn request_timeout() -> Response {
    (StatusCode::REQUEST_TIMEOUT, "request took too long").into_response()
}
