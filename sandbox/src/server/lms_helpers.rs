//! `/sandbox/canvas/*` and `/sandbox/blackboard/*`: the LMS imitations'
//! state dumps, and edits as a person makes them in Blackboard (a user
//! created or changed, a grade given), which move `modified` as the API's do.

use super::{json, reply, AppState, St};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, patch};
use axum::Router;
use serde_json::{json, Value};
use std::sync::Arc;

/// The LMS helper routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/sandbox/canvas/{collection}", get(canvas_dump))
        .route(
            "/sandbox/blackboard/users",
            get(|st: St| blackboard_dump(st, Path("users".to_string()))).post(person_creates_user),
        )
        .route("/sandbox/blackboard/{collection}", get(blackboard_dump))
        .route("/sandbox/blackboard/users/{id}", patch(person_edits_user))
        .route(
            "/sandbox/blackboard/courses/{course}/columns/{column}/users/{user}",
            patch(teacher_grades),
        )
}

fn unknown(collection: &str) -> Response {
    reply((
        404,
        Some(json!({"error": format!("no collection `{collection}`")})),
    ))
}

async fn canvas_dump(State(st): St, Path(collection): Path<String>) -> Response {
    match st.canvas.data.lock().unwrap().collection(&collection) {
        Some(records) => json(json!({ collection.clone(): records })),
        None => unknown(&collection),
    }
}

async fn blackboard_dump(State(st): St, Path(collection): Path<String>) -> Response {
    match st.blackboard.data.lock().unwrap().collection(&collection) {
        Some(records) => json(json!({ collection.clone(): records })),
        None => unknown(&collection),
    }
}

fn body_json(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or(Value::Null)
}

async fn person_creates_user(State(st): St, body: Bytes) -> Response {
    let now = st.clock.utc();
    reply(
        st.blackboard
            .data
            .lock()
            .unwrap()
            .create_user(&body_json(&body), now),
    )
}

async fn person_edits_user(State(st): St, Path(id): Path<String>, body: Bytes) -> Response {
    let now = st.clock.utc();
    reply(
        st.blackboard
            .data
            .lock()
            .unwrap()
            .update_user(&id, &body_json(&body), now),
    )
}

async fn teacher_grades(
    State(st): St,
    Path((course, column, user)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    let now = st.clock.utc();
    reply(
        st.blackboard
            .data
            .lock()
            .unwrap()
            .grade(&course, &column, &user, &body_json(&body), now),
    )
}
