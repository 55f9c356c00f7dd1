//! `syncwright serve` as a child process against a sandbox the test runs,
//! driven over HTTP with the demo token, and stopped with SIGTERM.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use syncwright_sandbox::{Sandbox, SandboxConfig};

/// The demo API token `serve --sandbox-url` opens the API with.
pub const TOKEN: &str = "sandbox-token";

/// A `serve:` block with no schedule, and notified ids that wait an hour:
/// only what a test asks for runs.
pub const HUSHED: &str = "  schedule:\n    default: off\n  zoho_notifications:\n    debounce: 1h\n";

/// A sandbox seeded with the example's CRM snapshot.
pub async fn example_sandbox() -> Sandbox {
    super::live::sandbox(SandboxConfig {
        crm_seed: super::live::example_crm(),
        ..Default::default()
    })
    .await
}

/// A copy of the repository's mappings, rules and example project, with a
/// project file `serve.yaml` listing `modules` and ending with `serve`
/// (the YAML of the `serve:` block's body, indented by two spaces).
pub fn project(modules: &[&str], serve: &str) -> (tempfile::TempDir, PathBuf) {
    let root = super::harness::root();
    let dir = tempfile::tempdir().unwrap();
    for sub in ["mappings", "rules", "examples/zoho-crm-to-xero"] {
        copy_dir(&root.join(sub), &dir.path().join(sub));
    }
    let mut text = String::from(
        "version: 1\nconnections:\n  crm: {kind: file, path: crm.json}\n  xero: {kind: file, path: out/xero.jsonl}\nmodules:\n",
    );
    for module in modules {
        text.push_str(&format!(
            "  - name: {module}\n    mapping: ../../mappings/{module}.yaml\n"
        ));
    }
    text.push_str("serve:\n");
    text.push_str(serve);
    let config = dir.path().join("examples/zoho-crm-to-xero/serve.yaml");
    std::fs::write(&config, text).unwrap();
    (dir, config)
}

/// Copies the folder `from` to `to`, recursively.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(entry.file_name()));
        } else {
            std::fs::copy(&path, to.join(entry.file_name())).unwrap();
        }
    }
}

/// A free port on the loopback address.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `syncwright serve`.
pub struct Served {
    child: Option<Child>,
    /// Its base URL.
    pub url: String,
    http: reqwest::Client,
    stderr: PathBuf,
}

impl Served {
    /// The Prometheus text of `GET /metrics`.
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Starts `serve --config CONFIG --sandbox-url SANDBOX` with `extra`
    /// arguments, and waits until it answers.
    pub async fn start(config: &Path, sandbox: &str, extra: &[&str]) -> Served {
        let mut args = vec![
            "--config",
            config.to_str().unwrap(),
            "--sandbox-url",
            sandbox,
        ];
        args.extend_from_slice(extra);
        Served::spawn(&args, &config.with_extension("log")).await
    }

    /// Starts `serve ARGS --listen 127.0.0.1:PORT` (its log beside `log`,
    /// named after the port) and waits until it answers.
    pub async fn spawn(args: &[&str], log: &Path) -> Served {
        let port = free_port();
        let stderr = log.with_extension(format!("{port}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_syncwright"))
            .arg("serve")
            .args(args)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("syncwright serve starts");
        let served = Served {
            child: Some(child),
            url: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
            stderr,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(answer) = served
                .http
                .get(format!("{}/healthz", served.url))
                .send()
                .await
            {
                if answer.status().is_success() {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "serve did not answer: {}",
                served.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        served
    }

    /// The process id of the service.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// A request to `path` with the demo token.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(TOKEN)
    }

    /// GET `path` with the token: status and JSON body.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        answer(
            self.request(reqwest::Method::GET, path)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// POST `body` to `path` with the token: status and JSON body.
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        answer(
            self.request(reqwest::Method::POST, path)
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Starts a manual run and returns its id.
    pub async fn start_run(&self, body: Value) -> i64 {
        let (status, answer) = self.post("/api/v1/runs", body).await;
        assert_eq!(status, 202, "{answer}");
        answer["run"].as_i64().unwrap()
    }

    /// Waits until run `id` ends; returns its document.
    pub async fn wait_run(&self, id: i64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let (status, run) = self.get(&format!("/api/v1/runs/{id}")).await;
            assert_eq!(status, 200, "{run}");
            if !matches!(run["state"].as_str(), Some("queued" | "running")) {
                return run;
            }
            assert!(Instant::now() < deadline, "run {id} did not end: {run}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The runs the service recorded, newest first.
    pub async fn runs(&self) -> Vec<Value> {
        let (_, body) = self.get("/api/v1/runs?limit=200").await;
        body["runs"].as_array().cloned().unwrap_or_default()
    }

    /// Sends SIGTERM and waits for the exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("serve did not stop after SIGTERM: {}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A response's status and JSON body (a string when it is not JSON).
pub async fn answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Waits until `check` holds, at most `limit`.
pub async fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    check()
}
