//! Headless Chromium over WebDriver (chromedriver, found on PATH or, when
//! `SYNCWRIGHT_BROWSER_TESTS=1` makes the browser tests mandatory, through
//! `scripts/chromium.sh`, which installs Debian's packages when missing),
//! with screenshots saved under `target/portal-screenshots/`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};

/// A browser session and the driver it runs on.
pub struct Browser {
    /// The WebDriver client.
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
    shots: PathBuf,
}

/// chromedriver's path, or why there is none.
fn driver_path() -> Result<PathBuf, String> {
    if std::env::var("SYNCWRIGHT_BROWSER_TESTS").as_deref() == Ok("1") {
        let script = super::harness::root().join("scripts/chromium.sh");
        let out = Command::new("bash")
            .arg(&script)
            .arg("driver")
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("{}: {e}", script.display()))?;
        let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !out.status.success() || path.is_empty() {
            return Err("scripts/chromium.sh could not provide chromedriver".into());
        }
        return Ok(PathBuf::from(path));
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("chromedriver"))
        .find(|p| p.is_file())
        .ok_or_else(|| "chromedriver is not installed".into())
}

impl Browser {
    /// Starts chromedriver and a headless Chromium; `None` (after one line
    /// saying so) when there is no chromedriver and the browser tests are
    /// not mandatory.
    pub async fn start() -> Option<Browser> {
        let mandatory = std::env::var("SYNCWRIGHT_BROWSER_TESTS").as_deref() == Ok("1");
        let path = match driver_path() {
            Ok(path) => path,
            Err(why) if !mandatory => {
                eprintln!(
                    "browser tests not run: {why} (scripts/chromium.sh install; SYNCWRIGHT_BROWSER_TESTS=1 makes them mandatory)"
                );
                return None;
            }
            Err(why) => panic!("the browser tests are mandatory here: {why}"),
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(&path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            "--hide-scrollbars".into(),
            format!("--user-data-dir={}", profile.path().display()),
            "--window-size=1280,1000".into(),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({ "args": args }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session starts");
        let shots = super::harness::root().join("target/portal-screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        Some(Browser {
            client,
            driver,
            _profile: profile,
            shots,
        })
    }

    /// Saves the page as `NAME-1280.png` and `NAME-375.png`.
    pub async fn shoot(&self, name: &str) {
        for (width, height) in [(1280, 1000), (375, 900)] {
            self.client.set_window_size(width, height).await.unwrap();
            tokio::time::sleep(Duration::from_millis(150)).await;
            let png = self.client.screenshot().await.unwrap();
            std::fs::write(self.shots.join(format!("{name}-{width}.png")), png).unwrap();
        }
        self.client.set_window_size(1280, 1000).await.unwrap();
    }

    /// The visible text of the page's `main`.
    pub async fn main_text(&self) -> String {
        self.client
            .find(fantoccini::Locator::Css("main"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Clicks the element `locator` finds (no page is loaded).
    pub async fn click(&self, locator: fantoccini::Locator<'_>) {
        self.client
            .find(locator)
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    /// Clicks the link or button `locator` finds and waits for the page it
    /// loads.
    pub async fn follow(&self, locator: fantoccini::Locator<'_>) {
        self.mark_page().await;
        self.click(locator).await;
        self.wait_new_page().await;
    }

    /// Submits the form `locator` finds and waits for the page it loads.
    pub async fn submit(&self, locator: fantoccini::Locator<'_>) {
        self.mark_page().await;
        self.client
            .form(locator)
            .await
            .unwrap()
            .submit()
            .await
            .unwrap();
        self.wait_new_page().await;
    }

    /// Marks the page shown, so that its replacement can be told from it.
    async fn mark_page(&self) {
        self.client
            .execute("window.__syncwright_old_page = true;", vec![])
            .await
            .unwrap();
    }

    /// Waits until a page without the mark has loaded (WebDriver's click
    /// may return before the navigation it starts has replaced the page).
    async fn wait_new_page(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let loaded = self
                .client
                .execute(
                    "return window.__syncwright_old_page === undefined \
                     && document.readyState === 'complete';",
                    vec![],
                )
                .await
                .map(|v| v == serde_json::Value::Bool(true))
                .unwrap_or(false);
            if loaded {
                return;
            }
            assert!(Instant::now() < deadline, "the next page did not load");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Ends the session and the driver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
