//! Headless Chromium through chromedriver, spoken to in W3C WebDriver (a handful of JSON calls
//! over HTTP, made with the reqwest client the API tests already use, rather than a WebDriver
//! crate and its own HTTP stack).
//!
//! [`tools`] finds Debian's `chromium` and `chromedriver`; without them a test skips with a
//! printed reason, except under `CI=true` (`.ci/run` installs them), where it fails.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

/// The W3C key of an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long to wait for chromedriver, and for an element to appear.
const WAIT: Duration = Duration::from_secs(20);

/// `(chromium, chromedriver)`, or `None` (after printing why) when a test should skip.
pub fn tools() -> Option<(String, String)> {
    let find = |name: &str| {
        ["/usr/bin", "/usr/local/bin", "/usr/lib/chromium"]
            .iter()
            .map(|dir| format!("{dir}/{name}"))
            .find(|path| std::path::Path::new(path).exists())
    };
    match (find("chromium"), find("chromedriver")) {
        (Some(browser), Some(driver)) => Some((browser, driver)),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("chromium and chromedriver are needed under CI (.ci/run installs them)")
        }
        _ => {
            println!(
                "skipped: chromium or chromedriver is not installed (apt-get install chromium chromium-driver)"
            );
            None
        }
    }
}

/// A running chromedriver and one headless browser session.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless session.
    pub async fn start(chromium: &str, chromedriver: &str, profile: &std::path::Path) -> Browser {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let http = super::api::client();
        let started = Instant::now();
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(started.elapsed() < WAIT, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // The flags this machine's Chromium needs headless and offline (see the env notes).
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1400,900",
        ]
        .iter()
        .map(|a| a.to_string())
        .chain([format!("--user-data-dir={}", profile.display())])
        .collect::<Vec<_>>();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
        }}});
        let mut browser = Browser {
            driver,
            base,
            session: String::new(),
            http,
        };
        let answer = browser.call("POST", "/session", caps).await;
        browser.session = answer["sessionId"].as_str().unwrap().to_owned();
        browser
    }

    async fn call(&self, method: &str, path: &str, body: Json) -> Json {
        let url = format!("{}{path}", self.base);
        let request = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self
                .http
                .post(url)
                .header("content-type", "application/json")
                .body(body.to_string()),
        };
        let text = request.send().await.unwrap().text().await.unwrap();
        let answer: Json = serde_json::from_str(&text).unwrap();
        answer["value"].clone()
    }

    fn at(&self, path: &str) -> String {
        format!("/session/{}{path}", self.session)
    }

    /// Opens `url`.
    pub async fn goto(&self, url: &str) {
        self.call("POST", &self.at("/url"), json!({"url": url}))
            .await;
    }

    /// Every element matching the CSS `selector`, as WebDriver element ids.
    pub async fn find_all(&self, selector: &str) -> Vec<String> {
        let found = self
            .call(
                "POST",
                &self.at("/elements"),
                json!({"using": "css selector", "value": selector}),
            )
            .await;
        found
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|e| e[ELEMENT_KEY].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits until at least `count` elements match `selector`; returns them.
    pub async fn wait_for(&self, selector: &str, count: usize) -> Vec<String> {
        let started = Instant::now();
        loop {
            let found = self.find_all(selector).await;
            if found.len() >= count {
                return found;
            }
            assert!(
                started.elapsed() < WAIT,
                "{selector}: {} of {count} elements after {WAIT:?}",
                found.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks an element.
    pub async fn click(&self, element: &str) {
        self.call(
            "POST",
            &self.at(&format!("/element/{element}/click")),
            json!({}),
        )
        .await;
    }

    /// An element's attribute.
    pub async fn attribute(&self, element: &str, name: &str) -> Option<String> {
        let value = self
            .call(
                "GET",
                &self.at(&format!("/element/{element}/attribute/{name}")),
                Json::Null,
            )
            .await;
        value.as_str().map(str::to_owned)
    }

    /// A PNG of the window.
    pub async fn screenshot(&self) -> Vec<u8> {
        use base64::Engine as _;
        let encoded = self.call("GET", &self.at("/screenshot"), Json::Null).await;
        base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap())
            .unwrap()
    }

    /// Ends the session and chromedriver.
    pub async fn quit(mut self) {
        self.call("DELETE", &self.at(""), Json::Null).await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}
