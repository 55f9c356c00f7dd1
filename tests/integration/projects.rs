//! `syncwright serve --projects DIR`: three project folders, each reaching
//! its own organisation of one sandbox, served by one process. A token
//! sees only its projects (in the API and in the portal's project picker),
//! each project's invoices land in its own organisation only, and adding,
//! changing and removing folders takes effect on SIGHUP or
//! `POST /api/v1/reload` without a restart.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use serde_json::{json, Value};
use syncwright_sandbox::{OrganisationSeed, Sandbox, SandboxConfig};

use crate::support::live;
use crate::support::service::{answer, copy_dir, Served, HUSHED};

/// The organisations of the sandbox, in order: the first is acme's.
const NAMES: [&str; 3] = ["acme", "globex", "initech"];

/// A sandbox holding one organisation per name of [`NAMES`], each with the
/// example's CRM invoices.
async fn sandbox() -> Sandbox {
    live::sandbox(SandboxConfig {
        crm_seed: live::example_crm(),
        organisations: NAMES[1..]
            .iter()
            .map(|name| OrganisationSeed {
                name: name.to_string(),
                crm_seed: live::example_crm(),
                xero_seed: None,
            })
            .collect(),
        ..Default::default()
    })
    .await
}

/// Writes project folder `hosted/NAME` reaching the sandbox's organisation
/// `org`, with the API tokens `NAME-token` and `shared-token` and the
/// button key `NAME-button`.
fn write_project(root: &Path, name: &str, sandbox: &Sandbox, org: usize) -> PathBuf {
    let folder = root.join("hosted").join(name);
    std::fs::create_dir_all(&folder).unwrap();
    let connections = sandbox.organisation_connections(org, &[]);
    std::fs::write(
        folder.join("syncwright.yaml"),
        format!(
            "version: 1\n\
             {connections}\
             modules:\n  - name: invoices\n    mapping: ../../mappings/invoices.yaml\n\
             serve:\n  api_tokens: [{name}-token, shared-token]\n  button_keys: [{name}-button]\n\
             {HUSHED}"
        ),
    )
    .unwrap();
    folder
}

/// A directory `hosted/` of the projects `acme` and `globex` (beside copies
/// of the repository's mappings and rules), served by `serve --projects`.
async fn host(sandbox: &Sandbox) -> (tempfile::TempDir, Served) {
    let root = tempfile::tempdir().unwrap();
    let repo = crate::support::harness::root();
    for sub in ["mappings", "rules"] {
        copy_dir(&repo.join(sub), &root.path().join(sub));
    }
    write_project(root.path(), "acme", sandbox, 0);
    write_project(root.path(), "globex", sandbox, 1);
    // A folder that is not a project, and one whose name cannot be a path.
    std::fs::create_dir_all(root.path().join("hosted/notes")).unwrap();
    std::fs::create_dir_all(root.path().join("hosted/bad name")).unwrap();
    std::fs::write(
        root.path().join("hosted/bad name/syncwright.yaml"),
        "version: 1\n",
    )
    .unwrap();
    let hosted = root.path().join("hosted");
    let served = Served::spawn(
        &["--projects", hosted.to_str().unwrap()],
        &root.path().join("serve.log"),
    )
    .await;
    (root, served)
}

/// GET `path` with `token`.
async fn get(served: &Served, path: &str, token: &str) -> (u16, Value) {
    answer(
        reqwest::Client::new()
            .get(format!("{}{path}", served.url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// POST `body` to `path` with `token`.
async fn post(served: &Served, path: &str, token: &str, body: Value) -> (u16, Value) {
    answer(
        reqwest::Client::new()
            .post(format!("{}{path}", served.url))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// The names of the projects `token` sees.
async fn seen(served: &Served, token: &str) -> Vec<String> {
    let (status, body) = get(served, "/api/v1/projects", token).await;
    if status == 401 {
        return Vec::new();
    }
    assert_eq!(status, 200, "{body}");
    body["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect()
}

/// Runs every module of the project at `api` (a run's URL comes back under
/// it) and waits for the run to end; returns the run's document.
async fn sync(served: &Served, api: &str, token: &str) -> Value {
    let (status, started) = post(served, &format!("{api}/runs"), token, json!({})).await;
    assert_eq!(status, 202, "{started}");
    let url = started["url"].as_str().unwrap().to_string();
    assert!(url.starts_with("/projects/"), "{url}");
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let (status, run) = get(served, &url, token).await;
        assert_eq!(status, 200, "{run}");
        if !matches!(run["state"].as_str(), Some("queued" | "running")) {
            return run;
        }
        assert!(std::time::Instant::now() < deadline, "{run}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The number of invoices in organisation `org` of the sandbox.
fn invoices(sandbox: &Sandbox, org: usize) -> usize {
    sandbox.xero_state_of(org, "Invoices").len()
}

/// Signs in to the portal at `url` with `token` as a browser would (the
/// form's CSRF token and cookie); returns the session cookie.
async fn portal_session(url: &str, token: &str) -> Option<String> {
    let http = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let form = http
        .get(format!("{url}/portal/login"))
        .send()
        .await
        .unwrap();
    let login_cookie = form.headers()[SET_COOKIE].to_str().unwrap().to_string();
    let login_cookie = login_cookie.split(';').next().unwrap().to_string();
    let page = form.text().await.unwrap();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    let signed = http
        .post(format!("{url}/portal/login"))
        .header(COOKIE, login_cookie)
        .form(&[("token", token), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    if signed.status() != 303 {
        return None;
    }
    signed
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .find(|c| c.starts_with("syncwright_session=") && c.len() > "syncwright_session=".len())
}

/// GET `path` of the portal with session cookie `session`: the status, the
/// redirect's target and the page.
async fn page(url: &str, path: &str, session: &str) -> (u16, String, String) {
    let http = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let answer = http
        .get(format!("{url}{path}"))
        .header(COOKIE, session)
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    let location = answer
        .headers()
        .get(LOCATION)
        .map(|l| l.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, location, answer.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_serves_many_projects_each_to_its_own_tokens_and_picks_up_new_folders() {
    let sandbox = sandbox().await;
    let (root, mut served) = host(&sandbox).await;
    let hosted = root.path().join("hosted");

    // Each token sees its own projects; a shared one sees both.
    assert_eq!(seen(&served, "acme-token").await, ["acme"]);
    assert_eq!(seen(&served, "globex-token").await, ["globex"]);
    assert_eq!(seen(&served, "shared-token").await, ["acme", "globex"]);
    assert!(seen(&served, "initech-token").await.is_empty());
    let (status, _) = get(&served, "/api/v1/projects", "no-such-token").await;
    assert_eq!(status, 401);

    // Another project's API answers as if it did not exist.
    let (status, body) = get(&served, "/projects/globex/api/v1/runs", "acme-token").await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = get(&served, "/projects/nowhere/api/v1/runs", "acme-token").await;
    assert_eq!(status, 404);
    // Without a project in the path, a token of one project reaches it; a
    // token of several is asked to name one.
    let (status, body) = get(&served, "/api/v1/runs", "shared-token").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("project_needed")),
        "{body}"
    );

    // Each project's invoices land in its own organisation only.
    let run = sync(&served, "/api/v1", "acme-token").await;
    assert_eq!(run["state"], "done", "{run}");
    let acme_created = invoices(&sandbox, 0);
    assert!(acme_created > 0, "{run}");
    assert_eq!(
        invoices(&sandbox, 1),
        0,
        "acme's run reached only acme's organisation"
    );
    let run = sync(&served, "/projects/globex/api/v1", "globex-token").await;
    assert_eq!(run["state"], "done", "{run}");
    assert_eq!(invoices(&sandbox, 1), acme_created);
    assert_eq!(invoices(&sandbox, 0), acme_created);

    // Each project's series carry its name.
    let metrics = served.metrics().await;
    for name in ["acme", "globex"] {
        let series = format!(
            "syncwright_runs_total{{project=\"{name}\",trigger=\"manual\",outcome=\"done\"}} 1"
        );
        assert!(metrics.contains(&series), "{series} in {metrics}");
    }

    // The portal: one sign-in, a picker of the token's projects, and each
    // project's pages under its own path.
    let url = served.url.clone();
    let (status, location, _) = page(&url, "/", "syncwright_session=none").await;
    assert_eq!((status, location.as_str()), (303, "/portal/login"));
    assert!(portal_session(&url, "wrong").await.is_none());
    let acme = portal_session(&url, "acme-token").await.expect("signed in");
    let (status, _, picker) = page(&url, "/", &acme).await;
    assert_eq!(status, 200);
    assert!(picker.contains("href=\"/projects/acme/\""), "{picker}");
    assert!(
        !picker.contains("globex"),
        "acme's token does not see globex: {picker}"
    );
    let (status, _, dashboard) = page(&url, "/projects/acme/", &acme).await;
    assert_eq!(status, 200, "{dashboard}");
    assert!(
        dashboard.contains("href=\"/projects/acme/portal/sync\""),
        "{dashboard}"
    );
    assert!(dashboard.contains("action=\"/projects/acme/portal/logout\""));
    let (status, location, _) = page(&url, "/projects/globex/", &acme).await;
    assert_eq!((status, location.as_str()), (303, "/portal/login"));
    let shared = portal_session(&url, "shared-token")
        .await
        .expect("signed in");
    let (_, _, picker) = page(&url, "/", &shared).await;
    assert!(picker.contains("/projects/acme/") && picker.contains("/projects/globex/"));

    // A folder added is served after SIGHUP, with its own organisation.
    write_project(root.path(), "initech", &sandbox, 2);
    assert!(seen(&served, "initech-token").await.is_empty());
    let hangup = Command::new("kill")
        .args(["-HUP", &served.pid().to_string()])
        .status()
        .unwrap();
    assert!(hangup.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while seen(&served, "initech-token").await.is_empty() {
        assert!(std::time::Instant::now() < deadline, "{}", served.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let run = sync(&served, "/api/v1", "initech-token").await;
    assert_eq!(run["state"], "done", "{run}");
    assert_eq!(invoices(&sandbox, 2), acme_created);

    // A folder removed is stopped, one changed is restarted, the others go on.
    std::fs::rename(hosted.join("globex"), root.path().join("globex-off")).unwrap();
    let acme_file = hosted.join("acme/syncwright.yaml");
    let text = std::fs::read_to_string(&acme_file).unwrap();
    std::fs::write(
        &acme_file,
        format!("{text}  portal_password: acme-password\n"),
    )
    .unwrap();
    let (status, reloaded) = post(&served, "/api/v1/reload", "shared-token", json!({})).await;
    assert_eq!(status, 200, "{reloaded}");
    assert_eq!(reloaded["removed"], json!(["globex"]), "{reloaded}");
    assert_eq!(reloaded["restarted"], json!(["acme"]), "{reloaded}");
    assert_eq!(reloaded["added"], json!([]), "{reloaded}");
    assert_eq!(reloaded["projects"], 2, "{reloaded}");
    assert_eq!(seen(&served, "shared-token").await, ["acme", "initech"]);
    let (status, _) = get(&served, "/projects/globex/api/v1/runs", "globex-token").await;
    assert_eq!(status, 404);
    // The restarted project reads its new settings...
    let by_password = portal_session(&url, "acme-password")
        .await
        .expect("signed in");
    let (_, _, picker) = page(&url, "/", &by_password).await;
    assert!(picker.contains("/projects/acme/") && !picker.contains("/projects/initech/"));
    // ...and kept its state: nothing is created twice.
    let run = sync(&served, "/api/v1", "acme-token").await;
    assert_eq!(run["state"], "done", "{run}");
    assert_eq!(invoices(&sandbox, 0), acme_created, "{run}");
    // A rule or a shared module outside the folders (the rules beside them,
    // which their mapping names) changed: each project reading it restarts.
    for changed in ["rules/invoices/status.rhai", "rules/shared/xero_lines.rhai"] {
        let path = root.path().join(changed);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("{text}\n// Reviewed.\n")).unwrap();
        let (status, reloaded) = post(&served, "/api/v1/reload", "shared-token", json!({})).await;
        assert_eq!(status, 200, "{reloaded}");
        assert_eq!(
            reloaded["restarted"],
            json!(["acme", "initech"]),
            "{changed}: {reloaded}"
        );
        assert_eq!(reloaded["unchanged"], json!([]), "{changed}: {reloaded}");
    }
    // A project file broken on disk leaves the running project as it was.
    std::fs::write(&acme_file, "version: 1\nmodules: [\n").unwrap();
    let (_, reloaded) = post(&served, "/api/v1/reload", "acme-token", json!({})).await;
    assert_eq!(reloaded["failed"][0]["project"], "acme", "{reloaded}");
    assert_eq!(reloaded["unchanged"], json!(["acme"]), "{reloaded}");
    assert_eq!(seen(&served, "acme-token").await, ["acme"]);

    assert_eq!(served.terminate(), Some(0), "{}", served.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_portal_picks_a_project_then_syncs_it_in_a_browser() {
    let Some(browser) = crate::support::browser::Browser::start().await else {
        return;
    };
    let sandbox = sandbox().await;
    let (_root, served) = host(&sandbox).await;
    let url = served.url.clone();
    let client = &browser.client;

    crate::portal::sign_in(&browser, &url, "shared-token").await;
    assert_eq!(client.current_url().await.unwrap().path(), "/");
    let picker = browser.main_text().await;
    assert!(
        picker.contains("acme") && picker.contains("globex"),
        "{picker}"
    );
    browser.shoot("projects").await;
    browser
        .follow(fantoccini::Locator::LinkText("globex"))
        .await;
    assert_eq!(
        client.current_url().await.unwrap().path(),
        "/projects/globex/"
    );
    let dashboard = browser.main_text().await;
    assert!(dashboard.contains("Organisations connected"), "{dashboard}");
    let text = crate::portal::manual_sync(
        &browser,
        &format!("{url}/projects/globex"),
        "create-only",
        false,
    )
    .await;
    assert!(text.contains("INV-10101"), "{text}");
    assert_eq!(sandbox.xero_state_of(1, "Invoices").len(), 9);
    assert!(sandbox.xero_state_of(0, "Invoices").is_empty());
    assert!(
        client
            .current_url()
            .await
            .unwrap()
            .path()
            .starts_with("/projects/globex/portal/runs/"),
        "the run's page is globex's"
    );
    browser.shoot("project-run").await;
    browser.close().await;
}
