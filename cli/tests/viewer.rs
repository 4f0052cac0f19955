//! The web viewer in real headless Chromium: `world run --listen` serves a fetch-notify world
//! whose plan fetched a page; the test opens `/`, waits for the timeline, clicks the HTTP
//! receipt, and finds the why graph's nodes (the receipt, its intent, the plan, the events, the
//! external input) drawn in the page's SVG. A screenshot is kept as a test artifact.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use common::api::Server;
use common::browser::{Browser, tools};
use common::{ok, serve_files};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_viewer_draws_a_receipts_why_graph() {
    let Some((chromium, chromedriver)) = tools() else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let www = root.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("data.json"), br#"{"temperature": 21}"#).unwrap();
    let page = serve_files(www);
    let dir = root.path().join("fetch").display().to_string();
    ok(&["new", &dir, "--air", "worlds/fetch-notify"]);
    let start = json!({"Start": {"url": "https://example.com/data.json", "method": "GET"}});
    let sent = ok(&[
        "send",
        &dir,
        "demo/FetchNotifyEvent@1",
        &start.to_string(),
        "--http-map",
        &format!("https://example.com=http://{page}"),
        "--json",
    ]);
    let sent: serde_json::Value = serde_json::from_str(&sent).unwrap();
    let receipt = sent["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "receipt")
        .map(|r| r["seq"].as_u64().unwrap())
        .unwrap();

    let server = Server::start(&dir, "127.0.0.1:0", &[]);
    let browser = Browser::start(&chromium, &chromedriver, &root.path().join("profile")).await;
    browser.goto(&server.at("/")).await;
    let row = format!("#records li.record[data-seq=\"{receipt}\"]");
    let rows = browser.wait_for(&row, 1).await;
    browser.click(&rows[0]).await;
    let nodes = browser.wait_for("#why svg g.why-node", 5).await;
    let mut drawn = BTreeSet::new();
    for node in &nodes {
        let seq = browser.attribute(node, "data-seq").await.unwrap();
        drawn.insert(seq.parse::<u64>().unwrap());
    }
    let shot = browser.screenshot().await;
    let artifact = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("viewer-why.png");
    std::fs::write(&artifact, &shot).unwrap();
    println!("screenshot: {}", artifact.display());
    browser.quit().await;
    server.stop();

    // The receipt, back through its intent (4), the plan (3), the reducer's event (2), to the
    // external event (1).
    for seq in [receipt, 4, 3, 2, 1] {
        assert!(
            drawn.contains(&seq),
            "record {seq} is not in the graph: {drawn:?}"
        );
    }
    assert!(shot.starts_with(b"\x89PNG"), "the screenshot is not a PNG");
    assert!(ok(&["replay", &dir]).starts_with("replay ok"));
}
