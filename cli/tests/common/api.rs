//! Driving `world run --listen` in tests: the process, and a real HTTP client.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value as Json;

/// How long a `world run` may take to start listening (it builds nothing, but CI is slow).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `world run DIR --listen …`.
pub struct Server {
    child: Child,
    /// The API's base URL.
    pub url: String,
}

impl Server {
    /// Starts `world run DIR --listen LISTEN EXTRA…` and waits until it listens.
    pub fn start(dir: &str, listen: &str, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_world"))
            .args(["run", dir, "--listen", listen])
            .args(extra)
            .current_dir(super::repo())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        // Reads every line (so the pipe never fills); passes on the URL.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix("listening on ") {
                    let _ = tx.send(url.to_owned());
                }
            }
        });
        let url = rx
            .recv_timeout(START_TIMEOUT)
            .expect("world run did not listen");
        Server { child, url }
    }

    /// The URL of `path`.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// SIGTERM, then waits for a clean exit.
    pub fn stop(mut self) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let status = self.child.wait().unwrap();
        assert!(status.success(), "world run exited with {status}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP client (no proxy).
pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// Status and JSON body (a string if not JSON).
pub async fn answer(response: reqwest::Response) -> (u16, Json) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Json::String(text));
    (status, body)
}

/// GET, with a bearer token if given.
pub async fn get(c: &reqwest::Client, url: &str, token: Option<&str>) -> (u16, Json) {
    let mut request = c.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    answer(request.send().await.unwrap()).await
}

/// POST a body, with a bearer token if given.
pub async fn post(c: &reqwest::Client, url: &str, body: &str, token: Option<&str>) -> (u16, Json) {
    let mut request = c
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    answer(request.send().await.unwrap()).await
}
