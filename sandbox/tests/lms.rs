//! The LMS imitations over HTTP: Canvas (bearer and refresh-token auth,
//! `Link` paging, Rails-style forms, its 403 throttle, its error bodies) and
//! Blackboard (client credentials in Basic auth, `offset`/`limit` paging
//! with `paging.nextPage`, the application's 429, `modified` filters,
//! grades); and the Zoho side the LMS extensions add (Deals' course lookup,
//! the Grades custom module).

mod support;

use reqwest::Client;
use serde_json::{json, Value};
use std::time::Duration;
use support::*;
use syncwright_sandbox::*;

fn canvas_seed() -> Value {
    json!({
        "accounts": [{"id": 1, "name": "Demo School"}],
        "courses": (1..=5).map(|i| json!({"id": 100 + i, "name": format!("Course {i}"), "course_code": format!("C-{i}"), "account_id": 1, "workflow_state": "available"})).collect::<Vec<_>>(),
        "users": [{"id": 201, "name": "Ada Lovelace", "login_id": "ada@example.com", "email": "ada@example.com"}]
    })
}

fn blackboard_seed() -> Value {
    json!({
        "users": (1..=5).map(|i| json!({"id": format!("_{}_1", 10 + i), "userName": format!("user{i}"), "name": {"given": "U", "family": format!("{i}")}, "contact": {"email": format!("u{i}@example.com")}})).collect::<Vec<_>>(),
        "courses": [{"id": "_50_1", "courseId": "BIO-101", "name": "Biology"}],
        "columns": [{"id": "_70_1", "course": "_50_1", "name": "Midterm", "score": {"possible": 100.0}}],
        "grades": [{"columnId": "_70_1", "userId": "_11_1", "score": 87.0, "text": "87.00", "status": "Graded"}]
    })
}

async fn lms_sandbox() -> Sandbox {
    start(SandboxConfig {
        canvas: CanvasConfig {
            seed: canvas_seed(),
            ..Default::default()
        },
        blackboard: BlackboardConfig {
            seed: blackboard_seed(),
            ..Default::default()
        },
        ..Default::default()
    })
    .await
}

const CANVAS_AUTH: &str = "Bearer sandbox-canvas-token";

/// The URL of `rel` in a `Link` header.
fn link(response: &reqwest::Response, rel: &str) -> Option<String> {
    let header = response.headers().get("link")?.to_str().ok()?.to_string();
    header.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params.contains(&format!("rel=\"{rel}\"")).then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

#[tokio::test]
async fn canvas_pages_through_the_link_header_and_drops_the_access_token() {
    let sb = lms_sandbox().await;
    let c = Client::new();
    let api = format!("{}/api/v1", sb.urls().canvas);
    let unauthenticated = c
        .get(format!("{api}/accounts/1/courses"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    let mut url = format!("{api}/accounts/1/courses?per_page=2&access_token=sandbox-canvas-token");
    let mut names = Vec::new();
    let mut pages = 0;
    loop {
        let r = c.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers().contains_key("x-rate-limit-remaining"));
        assert!(r.headers().contains_key("x-request-cost"));
        let next = link(&r, "next");
        let page: Vec<Value> = r.json().await.unwrap();
        names.extend(page.iter().map(|c| c["name"].as_str().unwrap().to_string()));
        pages += 1;
        match next {
            Some(next) => {
                assert!(next.starts_with("http://"), "absolute: {next}");
                assert!(
                    !next.contains("access_token"),
                    "the token is not echoed: {next}"
                );
                // The caller re-appends the token it used.
                url = format!("{next}&access_token=sandbox-canvas-token");
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        names,
        ["Course 1", "Course 2", "Course 3", "Course 4", "Course 5"]
    );
    let missing = c
        .get(format!("{api}/courses/999"))
        .header("Authorization", CANVAS_AUTH)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["message"],
        "The specified resource does not exist."
    );
}

#[tokio::test]
async fn canvas_creates_users_from_rails_forms_and_enrolls_them() {
    let sb = lms_sandbox().await;
    let c = Client::new();
    let api = format!("{}/api/v1", sb.urls().canvas);
    let created = c
        .post(format!("{api}/accounts/1/users"))
        .header("Authorization", CANVAS_AUTH)
        .form(&[
            ("user[name]", "Grace Hopper"),
            ("pseudonym[unique_id]", "grace@example.com"),
            ("pseudonym[sis_user_id]", "Z-1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
    let user: Value = created.json().await.unwrap();
    assert_eq!(user["name"], "Grace Hopper");
    assert_eq!(user["sortable_name"], "Hopper, Grace");
    assert_eq!(user["login_id"], "grace@example.com");
    let again = c
        .post(format!("{api}/accounts/1/users"))
        .header("Authorization", CANVAS_AUTH)
        .form(&[
            ("user[name]", "Someone"),
            ("pseudonym[unique_id]", "GRACE@example.com"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400);
    let refusal: Value = again.json().await.unwrap();
    assert_eq!(
        refusal["errors"]["pseudonym"]["unique_id"][0]["message"],
        "ID already in use for this account and authentication provider"
    );
    let enroll = |kind: &'static str| {
        let c = c.clone();
        let url = format!("{api}/courses/101/enrollments");
        let user_id = user["id"].to_string();
        async move {
            c.post(url)
                .header("Authorization", CANVAS_AUTH)
                .json(&json!({"enrollment": {"user_id": user_id, "type": kind, "enrollment_state": "active"}}))
                .send()
                .await
                .unwrap()
        }
    };
    let ok = enroll("TeacherEnrollment").await;
    assert_eq!(ok.status(), 200);
    let enrollment: Value = ok.json().await.unwrap();
    assert_eq!(enrollment["course_id"], 101);
    assert_eq!(enrollment["type"], "TeacherEnrollment");
    assert_eq!(enrollment["enrollment_state"], "active");
    let twice: Value = enroll("TeacherEnrollment").await.json().await.unwrap();
    assert_eq!(twice["id"], enrollment["id"], "the same enrollment again");
    let bad = enroll("Professor").await;
    assert_eq!(bad.status(), 400);
    assert_eq!(sb.canvas_records("enrollments").len(), 1);
}

#[tokio::test]
async fn canvas_issues_tokens_for_its_refresh_token() {
    let sb = lms_sandbox().await;
    let c = Client::new();
    let token_url = format!("{}/login/oauth2/token", sb.urls().canvas);
    let wrong: Value = c
        .post(&token_url)
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("refresh_token", "nope"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(wrong["error"], "invalid_grant");
    let token: Value = c
        .post(&token_url)
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("refresh_token", REFRESH_TOKEN),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = token["access_token"].as_str().unwrap();
    assert_eq!(token["token_type"], "Bearer");
    let (status, _) = get_json(
        &c,
        &format!("{}/api/v1/users/201", sb.urls().canvas),
        &format!("Bearer {access}"),
    )
    .await;
    assert_eq!(status, 200);
    sb.expire_tokens();
    let (status, _) = get_json(
        &c,
        &format!("{}/api/v1/users/201", sb.urls().canvas),
        &format!("Bearer {access}"),
    )
    .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn canvas_throttles_with_403_rate_limit_exceeded_until_the_bucket_drains() {
    let sb = start(SandboxConfig {
        canvas: CanvasConfig {
            seed: canvas_seed(),
            bucket: 3.0,
            leak_per_sec: 5.0,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let c = Client::new();
    let url = format!("{}/api/v1/courses/101", sb.urls().canvas);
    let mut statuses = Vec::new();
    let mut refusal = String::new();
    for _ in 0..5 {
        let r = c
            .get(&url)
            .header("Authorization", CANVAS_AUTH)
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
        if r.status() == 403 {
            assert!(r.headers().contains_key("x-rate-limit-remaining"));
            refusal = r.text().await.unwrap();
        }
    }
    assert_eq!(&statuses[..3], &[200, 200, 200]);
    assert!(statuses[3..].contains(&403), "{statuses:?}");
    assert!(refusal.contains("Rate Limit Exceeded"), "{refusal}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let r = c
        .get(&url)
        .header("Authorization", CANVAS_AUTH)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the bucket drained");
    assert!(sb.calls().iter().all(|call| call.vendor == "canvas"));
}

#[tokio::test]
async fn a_burst_fault_on_canvas_answers_as_canvas_throttles() {
    let sb = start(SandboxConfig {
        canvas: CanvasConfig {
            seed: canvas_seed(),
            ..Default::default()
        },
        faults: vec![FaultRule {
            path_prefix: "/canvas/api".into(),
            burst_429_every: Some(2),
            ..Default::default()
        }],
        ..Default::default()
    })
    .await;
    let c = Client::new();
    let url = format!("{}/api/v1/courses/101", sb.urls().canvas);
    let first = c
        .get(&url)
        .header("Authorization", CANVAS_AUTH)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let second = c
        .get(&url)
        .header("Authorization", CANVAS_AUTH)
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 403);
    assert!(second.text().await.unwrap().contains("Rate Limit Exceeded"));
    assert_eq!(sb.calls()[1].fault.as_deref(), Some("burst429"));
}

async fn blackboard_token(c: &Client, sb: &Sandbox) -> String {
    let r: Value = c
        .post(format!(
            "{}/learn/api/public/v1/oauth2/token",
            sb.urls().blackboard
        ))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    format!("Bearer {}", r["access_token"].as_str().unwrap())
}

#[tokio::test]
async fn blackboard_wants_basic_auth_and_pages_by_next_page() {
    let sb = lms_sandbox().await;
    let c = Client::new();
    let in_body = c
        .post(format!(
            "{}/learn/api/public/v1/oauth2/token",
            sb.urls().blackboard
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(in_body.status(), 401, "the key and secret go in Basic auth");
    let auth = blackboard_token(&c, &sb).await;
    let host = sb.base_url() + "/blackboard";
    let mut path = "/learn/api/public/v1/users?limit=2".to_string();
    let mut seen = Vec::new();
    for _ in 0..10 {
        let (status, body) = get_json(&c, &format!("{host}{path}"), &auth).await;
        assert_eq!(status, 200);
        seen.extend(
            body["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["userName"].as_str().unwrap().to_string()),
        );
        match body["paging"]["nextPage"].as_str() {
            Some(next) => {
                assert!(next.starts_with("/learn/api/public/v1/users?"), "{next}");
                path = next.to_string();
            }
            None => break,
        }
    }
    assert_eq!(seen, ["user1", "user2", "user3", "user4", "user5"]);
    let (status, body) = get_json(
        &c,
        &format!("{host}/learn/api/public/v1/users/userName:nobody"),
        &auth,
    )
    .await;
    assert_eq!((status, body["status"].clone()), (404, json!(404)));
}

#[tokio::test]
async fn blackboard_users_are_created_changed_and_filtered_by_modified() {
    let sb = lms_sandbox().await;
    let c = Client::new();
    let auth = blackboard_token(&c, &sb).await;
    let api = format!("{}/learn/api/public", sb.urls().blackboard);
    let user = json!({"userName": "ada", "externalId": "zoho-1", "name": {"given": "Ada", "family": "Lovelace"}, "contact": {"email": "ada@example.com"}});
    let created = c
        .post(format!("{api}/v1/users"))
        .header("Authorization", &auth)
        .json(&user)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    assert!(id.starts_with('_') && id.ends_with("_1"), "{id}");
    let clash = c
        .post(format!("{api}/v1/users"))
        .header("Authorization", &auth)
        .json(&user)
        .send()
        .await
        .unwrap();
    assert_eq!(clash.status(), 409);
    let clash: Value = clash.json().await.unwrap();
    assert!(clash["message"]
        .as_str()
        .unwrap()
        .contains("already exists"));
    let missing = c
        .post(format!("{api}/v1/users"))
        .header("Authorization", &auth)
        .json(&json!({"userName": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 400);

    tokio::time::sleep(Duration::from_millis(5)).await;
    let patched: Value = c
        .patch(format!("{api}/v1/users/externalId:zoho-1"))
        .header("Authorization", &auth)
        .json(&json!({"name": {"given": "Augusta Ada"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        patched["name"],
        json!({"given": "Augusta Ada", "family": "Lovelace"})
    );
    assert!(patched["modified"].as_str().unwrap() > created["modified"].as_str().unwrap());
    let since = created["modified"].as_str().unwrap();
    let (_, recent) = get_json(
        &c,
        &format!("{api}/v1/users?modified={since}&modifiedCompare=greaterOrEqual"),
        &auth,
    )
    .await;
    let names: Vec<&str> = recent["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ada"], "the seeded users are older");
}

#[tokio::test]
async fn blackboard_grades_are_listed_per_column_and_given_by_teachers() {
    let sb = lms_sandbox().await;
    let c = Client::new();
    let auth = blackboard_token(&c, &sb).await;
    let api = format!("{}/learn/api/public", sb.urls().blackboard);
    let (_, courses) = get_json(&c, &format!("{api}/v3/courses"), &auth).await;
    assert_eq!(courses["results"][0]["courseId"], "BIO-101");
    let (_, columns) = get_json(
        &c,
        &format!("{api}/v2/courses/courseId:BIO-101/gradebook/columns"),
        &auth,
    )
    .await;
    assert_eq!(columns["results"][0]["name"], "Midterm");
    assert!(columns["results"][0].get("course").is_none());
    let given: Value = c
        .patch(format!(
            "{}/sandbox/blackboard/courses/_50_1/columns/_70_1/users/_12_1",
            sb.base_url()
        ))
        .json(&json!({"score": 64.5}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (given["text"].clone(), given["status"].clone()),
        (json!("64.50"), json!("Graded"))
    );
    let (_, grades) = get_json(
        &c,
        &format!("{api}/v2/courses/_50_1/gradebook/columns/_70_1/users"),
        &auth,
    )
    .await;
    let scores: Vec<f64> = grades["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["score"].as_f64().unwrap())
        .collect();
    assert_eq!(scores, [87.0, 64.5]);
    assert!(
        sb.calls().iter().all(|c| c.vendor == "blackboard"),
        "helpers are not logged"
    );
}

#[tokio::test]
async fn blackboard_answers_429_once_the_budget_is_spent() {
    let sb = start(SandboxConfig {
        blackboard: BlackboardConfig {
            seed: blackboard_seed(),
            calls_per_window: 2,
            window_secs: 1.0,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let c = Client::new();
    let auth = blackboard_token(&c, &sb).await;
    let url = format!("{}/learn/api/public/v3/courses", sb.urls().blackboard);
    for remaining in ["1", "0"] {
        let r = c
            .get(&url)
            .header("Authorization", &auth)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-rate-limit-remaining"], remaining);
        assert_eq!(r.headers()["x-rate-limit-limit"], "2");
    }
    let r = c
        .get(&url)
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "1");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], 429);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = c
        .get(&url)
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn zoho_knows_the_deals_course_lookup_and_the_grades_module() {
    let sb = start(SandboxConfig {
        crm_seed: json!({"Grades": [], "Deals": [{"id": "700", "Deal_Name": "Ada's course", "Course": {"id": "800", "name": "Biology"}}]}),
        ..Default::default()
    })
    .await;
    let c = Client::new();
    let auth = zoho_auth(&c, &sb, REFRESH_TOKEN).await;
    let api = format!("{}/crm/v8", sb.urls().zoho_api);
    let (_, fields) = get_json(&c, &format!("{api}/settings/fields?module=Deals"), &auth).await;
    let course = fields["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["api_name"] == "Course")
        .unwrap()
        .clone();
    assert_eq!(course["data_type"], "lookup");
    assert_eq!(course["lookup"]["module"]["api_name"], "Products");
    let (_, modules) = get_json(&c, &format!("{api}/settings/modules"), &auth).await;
    let grades = modules["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["api_name"] == "Grades")
        .unwrap()
        .clone();
    assert_eq!(grades["generated_type"], "custom");
    let refused: Value = c
        .post(format!("{api}/Grades"))
        .header("Authorization", &auth)
        .json(&json!({"data": [{"Score": 10}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(refused["data"][0]["code"], "MANDATORY_NOT_FOUND");
    assert_eq!(refused["data"][0]["details"]["api_name"], "Name");
}
