//! The `rest` connector against the sandbox's Canvas and Blackboard, over
//! HTTP: `link_header` paging (Canvas) and `offset_limit` with the body's
//! next page (Blackboard); bearer, refresh-token (Canvas) and
//! client-credentials-in-Basic (Blackboard) auth, one token per
//! connection, fetched again once after a 401; form and JSON writes with
//! path placeholders; error messages as the record's outcome; throttling
//! (Canvas's 403, Blackboard's 429) waited out, never a failure; listings
//! `for_each` parent; `modified_since`; related records; `find`.

mod support;

use std::sync::Arc;

use serde_json::{json, Value};
use support::{connect, item, query_param};
use syncwright_engine::connector::{Connector, ExtractRequest, FindPurpose, Source, SourceItem};
use syncwright_sandbox::{
    BlackboardConfig, CanvasConfig, Sandbox, SandboxConfig, CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN,
};

fn canvas_seed() -> Value {
    json!({
        "accounts": [{"id": 1, "name": "Demo School"}],
        "courses": (1..=5).map(|i| json!({"id": 100 + i, "name": format!("Course {i}"), "course_code": format!("C-{i}"), "account_id": 1})).collect::<Vec<_>>(),
        "users": [{"id": 201, "name": "Ada Lovelace", "login_id": "ada@example.com"}]
    })
}

fn blackboard_seed() -> Value {
    json!({
        "users": (1..=5).map(|i| json!({"id": format!("_{}_1", 10 + i), "userName": format!("user{i}"), "name": {"given": "U", "family": format!("{i}")}})).collect::<Vec<_>>(),
        "courses": [
            {"id": "_50_1", "courseId": "BIO-101", "name": "Biology"},
            {"id": "_51_1", "courseId": "CHEM-101", "name": "Chemistry"}
        ],
        "columns": [
            {"id": "_70_1", "course": "_50_1", "name": "Midterm"},
            {"id": "_71_1", "course": "_50_1", "name": "Final"},
            {"id": "_72_1", "course": "_51_1", "name": "Lab"}
        ],
        "grades": [
            {"columnId": "_70_1", "userId": "_11_1", "score": 87.0},
            {"columnId": "_71_1", "userId": "_11_1", "score": 91.0},
            {"columnId": "_72_1", "userId": "_12_1", "score": 75.5}
        ]
    })
}

async fn sandbox(canvas: CanvasConfig, blackboard: BlackboardConfig) -> Sandbox {
    support::sandbox(SandboxConfig {
        canvas: CanvasConfig {
            seed: canvas_seed(),
            ..canvas
        },
        blackboard: BlackboardConfig {
            seed: blackboard_seed(),
            ..blackboard
        },
        ..Default::default()
    })
    .await
}

/// A Canvas connection with `auth`.
fn canvas_options(sb: &Sandbox, auth: Value) -> Value {
    json!({
        "base_url": format!("{}/api/v1", sb.urls().canvas),
        "account": "1",
        "auth": auth,
        "rate_limit": {
            "remaining_header": "X-Rate-Limit-Remaining",
            "low_water": 1,
            "pause_secs": 0.2,
            "throttle": [{"status": 403, "body_contains": "Rate Limit Exceeded"}]
        },
        "resources": {
            "courses": {
                "list": {"path": "/accounts/{account}/courses", "paging": {"style": "link_header", "page_size": 2}},
                "get": "/courses/{id}"
            },
            "users": {
                "list": {"path": "/accounts/{account}/users", "paging": {"style": "link_header"}},
                "get": "/users/{id}",
                "create": {"path": "/accounts/{account}/users", "body": "form"},
                "update": {"method": "PUT", "path": "/users/{id}", "body": "form"}
            },
            "enrollments": {
                "create": {"path": "/courses/{course_id}/enrollments", "body": "form"}
            }
        }
    })
}

fn canvas_bearer(sb: &Sandbox) -> Arc<dyn Connector> {
    connect(
        "rest",
        canvas_options(
            sb,
            json!({"kind": "bearer", "token": "sandbox-canvas-token"}),
        ),
        std::path::Path::new("."),
    )
}

fn blackboard_options(sb: &Sandbox) -> Value {
    json!({
        "base_url": format!("{}/learn/api/public", sb.urls().blackboard),
        "auth": {
            "kind": "client_credentials",
            "token_url": format!("{}/learn/api/public/v1/oauth2/token", sb.urls().blackboard),
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET
        },
        "rate_limit": {
            "remaining_header": "X-Rate-Limit-Remaining",
            "reset_header": "X-Rate-Limit-Reset"
        },
        "resources": {
            "users": {
                "list": {
                    "path": "/v1/users",
                    "records": "$.results",
                    "paging": {"style": "offset_limit", "page_size": 2, "next_page": "$.paging.nextPage"},
                    "modified_since": {"param": "modified", "format": "rfc3339_millis", "query": {"modifiedCompare": "greaterOrEqual"}}
                },
                "get": "/v1/users/{id}",
                "create": {"path": "/v1/users"},
                "update": {"method": "PATCH", "path": "/v1/users/{id}"},
                "find": "/v1/users/userName:{userName}"
            },
            "courses": {
                "list": {"path": "/v3/courses", "records": "$.results", "paging": {"style": "offset_limit", "next_page": "$.paging.nextPage"}}
            },
            "columns": {
                "list": {
                    "path": "/v2/courses/{course.id}/gradebook/columns",
                    "records": "$.results",
                    "paging": {"style": "offset_limit", "next_page": "$.paging.nextPage"},
                    "for_each": {"resource": "courses", "as": "course"}
                }
            },
            "grades": {
                "id": "{column.id}:{userId}",
                "list": {
                    "path": "/v2/courses/{column.course.id}/gradebook/columns/{column.id}/users",
                    "records": "$.results",
                    "paging": {"style": "offset_limit", "next_page": "$.paging.nextPage"},
                    "for_each": {"resource": "columns", "as": "column"}
                }
            }
        }
    })
}

fn blackboard(sb: &Sandbox) -> Arc<dyn Connector> {
    connect("rest", blackboard_options(sb), std::path::Path::new("."))
}

fn request(module: &str) -> ExtractRequest {
    ExtractRequest {
        module: module.into(),
        ..Default::default()
    }
}

async fn read_all(source: &mut dyn Source, request: ExtractRequest) -> Vec<Value> {
    source.open(&request).await.unwrap();
    let mut out = Vec::new();
    while let Some(batch) = source.next_batch().await.unwrap() {
        for item in batch {
            match item {
                SourceItem::Record(r) => out.push(r),
                SourceItem::Unreadable { reason, .. } => panic!("unreadable: {reason}"),
            }
        }
    }
    out
}

fn names(records: &[Value], field: &str) -> Vec<String> {
    records
        .iter()
        .map(|r| r[field].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn link_header_paging_reads_every_page_of_canvas_courses() {
    let sb = sandbox(CanvasConfig::default(), BlackboardConfig::default()).await;
    let connection = canvas_bearer(&sb);
    let mut source = connection.source().unwrap();
    let courses = read_all(source.as_mut(), request("courses")).await;
    assert_eq!(
        names(&courses, "name"),
        ["Course 1", "Course 2", "Course 3", "Course 4", "Course 5"]
    );
    let pages = support::calls(&sb, "canvas", "GET", "/accounts/1/courses");
    assert_eq!(pages.len(), 3, "two courses a page");
    assert_eq!(query_param(&pages[0], "per_page").as_deref(), Some("2"));
    assert_eq!(query_param(&pages[2], "page").as_deref(), Some("3"));
    assert_eq!(source.api_calls(), 3);
    let org = connection.organisation().await.unwrap().unwrap();
    let port = sb.base_url().rsplit(':').next().unwrap().to_string();
    assert_eq!(org.id, format!("rest:127.0.0.1:{port}/1"));
}

#[tokio::test]
async fn offset_limit_paging_follows_blackboards_next_page_with_one_basic_token() {
    let sb = sandbox(CanvasConfig::default(), BlackboardConfig::default()).await;
    let connection = blackboard(&sb);
    let mut source = connection.source().unwrap();
    let users = read_all(source.as_mut(), request("users")).await;
    assert_eq!(
        names(&users, "userName"),
        ["user1", "user2", "user3", "user4", "user5"]
    );
    let pages = support::calls(&sb, "blackboard", "GET", "/v1/users");
    assert_eq!(pages.len(), 3);
    assert_eq!(query_param(&pages[1], "offset").as_deref(), Some("2"));
    let again = read_all(connection.source().unwrap().as_mut(), request("courses")).await;
    assert_eq!(names(&again, "courseId"), ["BIO-101", "CHEM-101"]);
    let tokens = support::calls(&sb, "blackboard", "POST", "/v1/oauth2/token");
    assert_eq!(
        tokens.len(),
        1,
        "one token for every read of the connection"
    );
}

#[tokio::test]
async fn listings_for_each_parent_carry_the_parent_and_a_composite_id() {
    let sb = sandbox(CanvasConfig::default(), BlackboardConfig::default()).await;
    let mut source = blackboard(&sb).source().unwrap();
    let grades = read_all(source.as_mut(), request("grades")).await;
    let seen: Vec<(String, String, f64)> = grades
        .iter()
        .map(|g| {
            (
                g["id"].as_str().unwrap().to_string(),
                g["column"]["course"]["courseId"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                g["score"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("_70_1:_11_1".to_string(), "BIO-101".to_string(), 87.0),
            ("_71_1:_11_1".to_string(), "BIO-101".to_string(), 91.0),
            ("_72_1:_12_1".to_string(), "CHEM-101".to_string(), 75.5),
        ]
    );
    assert_eq!(grades[0]["column"]["name"], "Midterm");
    // Courses once, columns once per course, grades once per column.
    assert_eq!(
        support::calls(&sb, "blackboard", "GET", "/v3/courses").len(),
        1
    );
    assert_eq!(
        support::calls(&sb, "blackboard", "GET", "/gradebook/columns").len(),
        2
    );
    assert_eq!(support::calls(&sb, "blackboard", "GET", "/users").len(), 3);
}

#[tokio::test]
async fn modified_since_asks_blackboard_for_recent_users_only() {
    let sb = sandbox(CanvasConfig::default(), BlackboardConfig::default()).await;
    let client = reqwest::Client::new();
    let since = chrono::Utc::now() - chrono::Duration::seconds(1);
    client
        .patch(format!(
            "{}/sandbox/blackboard/users/userName:user3",
            sb.base_url()
        ))
        .json(&json!({"name": {"given": "Changed"}}))
        .send()
        .await
        .unwrap();
    let mut source = blackboard(&sb).source().unwrap();
    let recent = read_all(
        source.as_mut(),
        ExtractRequest {
            modified_since: Some(since.to_rfc3339()),
            ..request("users")
        },
    )
    .await;
    assert_eq!(names(&recent, "userName"), ["user3"]);
    let call = support::calls(&sb, "blackboard", "GET", "/v1/users").remove(0);
    assert_eq!(
        query_param(&call, "modifiedCompare").as_deref(),
        Some("greaterOrEqual")
    );
    assert!(query_param(&call, "modified").unwrap().ends_with('Z'));
}

#[tokio::test]
async fn related_records_come_by_get_and_by_a_field_of_the_listing() {
    let sb = sandbox(CanvasConfig::default(), BlackboardConfig::default()).await;
    let mut source = canvas_bearer(&sb).source().unwrap();
    let found = source
        .fetch_related("courses", &["103".into(), "999".into()], &[])
        .await
        .unwrap();
    assert_eq!(
        names(&found, "name"),
        ["Course 3"],
        "a missing id is simply absent"
    );
    let by_code = source
        .fetch_related_by("courses", "course_code", &["C-2".into(), "C-5".into()], &[])
        .await
        .unwrap();
    assert_eq!(names(&by_code, "name"), ["Course 2", "Course 5"]);
    source
        .fetch_related_by("courses", "course_code", &["C-1".into()], &[])
        .await
        .unwrap();
    assert_eq!(
        support::calls(&sb, "canvas", "GET", "/accounts/1/courses").len(),
        3,
        "the listing is read once per run"
    );
    let one = read_all(
        source.as_mut(),
        ExtractRequest {
            ids: vec!["104".into()],
            ..request("courses")
        },
    )
    .await;
    assert_eq!(names(&one, "name"), ["Course 4"]);
}

#[tokio::test]
async fn canvas_writes_forms_with_placeholders_and_keeps_its_refusals() {
    let sb = sandbox(CanvasConfig::default(), BlackboardConfig::default()).await;
    let connection = canvas_bearer(&sb);
    let mut sink = connection.sink().unwrap();
    let user = json!({"user": {"name": "Grace Hopper"}, "pseudonym": {"unique_id": "grace@example.com", "sis_user_id": "zoho-1"}});
    let taken =
        json!({"user": {"name": "Ada again"}, "pseudonym": {"unique_id": "ada@example.com"}});
    let results = sink
        .load(
            "users",
            vec![item("c1", user, None), item("c2", taken, None)],
            "key",
        )
        .await
        .unwrap();
    assert!(results[0].ok, "{results:?}");
    let user_id = results[0].target_id.clone().unwrap();
    assert!(!results[1].ok);
    assert_eq!(
        results[1].messages,
        ["HTTP 400 Bad Request: ID already in use for this account and authentication provider"]
    );
    let enrolled = sink
        .load(
            "enrollments",
            vec![item(
                "d1",
                json!({"course_id": "102", "enrollment": {"user_id": user_id, "type": "StudentEnrollment", "enrollment_state": "active"}}),
                None,
            )],
            "key",
        )
        .await
        .unwrap();
    assert!(enrolled[0].ok, "{enrolled:?}");
    let stored = sb.canvas_records("enrollments");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["course_id"], 102);
    assert_eq!(stored[0]["type"], "StudentEnrollment");
    assert_eq!(enrolled[0].target_id, Some(stored[0]["id"].to_string()));
    let renamed = sink
        .load(
            "users",
            vec![item(
                "c1",
                json!({"user": {"name": "Rear Admiral Hopper"}}),
                Some(&user_id),
            )],
            "key",
        )
        .await
        .unwrap();
    assert!(renamed[0].ok);
    let user = sb
        .canvas_records("users")
        .into_iter()
        .find(|u| u["id"].as_u64().map(|n| n.to_string()).as_deref() == Some(user_id.as_str()))
        .unwrap();
    assert_eq!(user["name"], "Rear Admiral Hopper");
    assert_eq!(sink.api_calls(), 4);
}

#[tokio::test]
async fn blackboard_writes_json_and_finds_what_it_already_holds() {
    let sb = sandbox(CanvasConfig::default(), BlackboardConfig::default()).await;
    let mut sink = blackboard(&sb).sink().unwrap();
    let ada = json!({"userName": "ada", "externalId": "zoho-1", "name": {"given": "Ada", "family": "Lovelace"}});
    let results = sink
        .load("users", vec![item("z1", ada.clone(), None)], "key")
        .await
        .unwrap();
    let id = results[0].target_id.clone().unwrap();
    assert!(id.starts_with('_'), "{id}");
    let again = sink
        .load("users", vec![item("z1", ada.clone(), None)], "key")
        .await
        .unwrap();
    assert!(!again[0].ok);
    assert!(
        again[0].messages[0]
            .starts_with("HTTP 409 Conflict: A user with the userName 'ada' already exists"),
        "{:?}",
        again[0].messages
    );
    let patched = sink
        .load(
            "users",
            vec![item(
                "z1",
                json!({"name": {"given": "Augusta Ada"}}),
                Some(&id),
            )],
            "key",
        )
        .await
        .unwrap();
    assert!(patched[0].ok);
    assert_eq!(patched[0].target_id.as_deref(), Some(id.as_str()));
    let found = sink
        .find_existing(
            "users",
            &[
                item("z1", ada, None),
                item("z2", json!({"userName": "nobody"}), None),
            ],
            FindPurpose::Resume,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        found[0].as_ref().and_then(|r| r.target_id.clone()),
        Some(id)
    );
    assert!(found[1].is_none());
}

#[tokio::test]
async fn the_refresh_token_grant_gives_a_token_reused_until_a_401() {
    let sb = sandbox(CanvasConfig::default(), BlackboardConfig::default()).await;
    let connection = connect(
        "rest",
        canvas_options(
            &sb,
            json!({
                "kind": "refresh_token",
                "token_url": format!("{}/login/oauth2/token", sb.urls().canvas),
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "refresh_token": REFRESH_TOKEN
            }),
        ),
        std::path::Path::new("."),
    );
    let mut source = connection.source().unwrap();
    read_all(source.as_mut(), request("courses")).await;
    read_all(source.as_mut(), request("users")).await;
    assert_eq!(
        support::calls(&sb, "canvas", "POST", "/login/oauth2/token").len(),
        1
    );
    sb.expire_tokens();
    let courses = read_all(source.as_mut(), request("courses")).await;
    assert_eq!(courses.len(), 5, "a 401 fetches a new token once");
    let tokens = support::calls(&sb, "canvas", "POST", "/login/oauth2/token");
    assert_eq!(tokens.len(), 2);
    let refused = support::calls(&sb, "canvas", "GET", "/accounts/1/courses")
        .into_iter()
        .filter(|c| c.status == 401)
        .count();
    assert_eq!(refused, 1);
}

#[tokio::test]
async fn a_refused_grant_says_so_and_sends_nothing() {
    let sb = sandbox(CanvasConfig::default(), BlackboardConfig::default()).await;
    let mut options = blackboard_options(&sb);
    options["auth"]["client_secret"] = json!("wrong-secret");
    let connection = connect("rest", options, std::path::Path::new("."));
    let mut sink = connection.sink().unwrap();
    let err = sink
        .load(
            "users",
            vec![item("z1", json!({"userName": "x"}), None)],
            "key",
        )
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(
            err,
            syncwright_engine::connector::ConnectorError::NotSent(_)
        ),
        "{text}"
    );
    assert!(text.contains("invalid_client"), "{text}");
    assert!(!text.contains("wrong-secret"), "{text}");
    assert!(support::calls(&sb, "blackboard", "POST", "/v1/users").is_empty());
}

/// Twelve users to create, one call each.
fn students() -> Vec<syncwright_engine::connector::LoadItem> {
    (0..12)
        .map(|i| {
            item(
                &format!("c{i}"),
                json!({"user": {"name": format!("Student {i}")}, "pseudonym": {"unique_id": format!("s{i}@example.com")}}),
                None,
            )
        })
        .collect()
}

async fn small_canvas_bucket() -> Sandbox {
    sandbox(
        CanvasConfig {
            bucket: 3.0,
            leak_per_sec: 20.0,
            ..Default::default()
        },
        BlackboardConfig::default(),
    )
    .await
}

#[tokio::test]
async fn canvas_throttling_is_waited_out_and_never_a_failure() {
    let sb = small_canvas_bucket().await;
    // Without the remaining header the client cannot see the bucket fill.
    let mut options = canvas_options(
        &sb,
        json!({"kind": "bearer", "token": "sandbox-canvas-token"}),
    );
    options["rate_limit"]
        .as_object_mut()
        .unwrap()
        .remove("remaining_header");
    let mut sink = connect("rest", options, std::path::Path::new("."))
        .sink()
        .unwrap();
    let results = sink.load("users", students(), "key").await.unwrap();
    assert!(results.iter().all(|r| r.ok), "{results:?}");
    let refused = sb.calls().into_iter().filter(|c| c.status == 403).count();
    assert!(refused > 0, "the bucket overflowed at least once");
    assert_eq!(sb.canvas_records("users").len(), 13);
}

#[tokio::test]
async fn a_low_remaining_budget_is_waited_for_before_the_api_refuses() {
    let sb = small_canvas_bucket().await;
    let mut sink = canvas_bearer(&sb).sink().unwrap();
    let results = sink.load("users", students(), "key").await.unwrap();
    assert!(results.iter().all(|r| r.ok), "{results:?}");
    let refused = sb.calls().into_iter().filter(|c| c.status == 403).count();
    assert_eq!(refused, 0, "the client paused when the bucket was full");
}

#[tokio::test]
async fn blackboard_429s_are_waited_out_after_retry_after() {
    let sb = sandbox(
        CanvasConfig::default(),
        BlackboardConfig {
            calls_per_window: 3,
            window_secs: 1.0,
            ..Default::default()
        },
    )
    .await;
    let mut options = blackboard_options(&sb);
    options["rate_limit"] = json!({});
    let mut source = connect("rest", options, std::path::Path::new("."))
        .source()
        .unwrap();
    let grades = read_all(source.as_mut(), request("grades")).await;
    assert_eq!(grades.len(), 3);
    let limited = sb.calls().into_iter().filter(|c| c.status == 429).count();
    assert!(limited > 0, "the budget ran out at least once");
}

#[tokio::test]
async fn an_unknown_resource_is_named_with_the_ones_there_are() {
    let sb = sandbox(CanvasConfig::default(), BlackboardConfig::default()).await;
    let mut source = canvas_bearer(&sb).source().unwrap();
    let err = source.open(&request("sections")).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "the connection has no resource `sections` (resources: courses, enrollments, users)"
    );
    let err = source.open(&request("enrollments")).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "resource `enrollments` has no `list`: it cannot be read"
    );
}
