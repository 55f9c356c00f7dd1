//! Middleware every vendor call passes: injected faults and the call log.

use super::{header, reply, St};
use crate::calls::{vendor_of, CallRecord, OrgTag};
use crate::faults::FaultAction;
use crate::xero::problem;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::time::Duration;

/// An answer whose body fails mid-stream: the client sees a dropped connection.
fn dropped() -> Response {
    let stream = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "sandbox: injected connection drop",
        ))
    });
    Response::new(Body::from_stream(stream))
}

/// Applies the fault rules and logs the call (not `/sandbox/*` helper calls).
pub async fn global(State(st): St, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if path.starts_with("/sandbox") {
        return next.run(req).await;
    }
    let started_ms = st.clock.elapsed_ms();
    let query = req.uri().query().unwrap_or("").to_string();
    let method = req.method().to_string();
    let idem = header(req.headers(), "idempotency-key").map(str::to_string);
    let vendor = vendor_of(&path);
    let action = st.faults.lock().unwrap().decide(&path);
    let (resp, status) = match action {
        FaultAction::None => {
            let r = next.run(req).await;
            let s = r.status().as_u16();
            (r, s)
        }
        FaultAction::Slow(ms) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            let r = next.run(req).await;
            let s = r.status().as_u16();
            (r, s)
        }
        FaultAction::Error(code) => {
            let body = if vendor.starts_with("zoho") {
                crate::zoho::zerr(
                    "INTERNAL_ERROR",
                    "Internal server error occurred.",
                    json!({}),
                )
            } else if vendor == "canvas" {
                crate::canvas::error("An error occurred.")
            } else if vendor == "blackboard" {
                json!({"status": code, "message": "Injected fault"})
            } else {
                problem(code, "Service Unavailable", "Injected fault")
            };
            (reply((code, Some(body))), code)
        }
        // Canvas throttles with 403 "Rate Limit Exceeded", never 429.
        FaultAction::Burst429 if vendor == "canvas" => (
            (
                axum::http::StatusCode::FORBIDDEN,
                "403 Forbidden (Rate Limit Exceeded)\n",
            )
                .into_response(),
            403,
        ),
        FaultAction::Burst429 => {
            let mut r = if vendor.starts_with("zoho") {
                reply((
                    429,
                    Some(crate::zoho::zerr(
                        "LIMIT_REACHED",
                        "Record count exceeded",
                        json!({}),
                    )),
                ))
            } else if vendor == "blackboard" {
                reply((
                    429,
                    Some(json!({"status": 429, "message": "Too many requests"})),
                ))
            } else {
                reply((
                    429,
                    Some(problem(
                        429,
                        "Too Many Requests",
                        "Injected rate limit burst",
                    )),
                ))
            };
            r.headers_mut()
                .insert("retry-after", HeaderValue::from_static("1"));
            if vendor.starts_with("xero") {
                r.headers_mut()
                    .insert("x-rate-limit-problem", HeaderValue::from_static("minute"));
            }
            (r, 429)
        }
        FaultAction::Timeout(ms) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            (dropped(), 0)
        }
        FaultAction::Drop => (dropped(), 0),
    };
    st.calls.push(CallRecord {
        seq: 0,
        at_ms: st.clock.elapsed_ms(),
        started_ms,
        vendor: vendor.to_string(),
        method,
        path,
        query,
        status,
        fault: action.name().map(str::to_string),
        idempotency_key: idem,
        organisation: resp.extensions().get::<OrgTag>().map(|t| t.0.clone()),
    });
    resp
}
