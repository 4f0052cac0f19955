//! Load on the control API: 200 concurrent clients send events to `world run --listen` for 30
//! seconds (`WORLDLINE_LOAD_SECONDS` changes it). Every acknowledged event must be in the
//! journal exactly once, at the seq its answer named, and nothing unacknowledged may appear;
//! the world must replay. Prints throughput and p50/p99 latency (figures, not assertions:
//! speed is shown with benchmarks, not timed tests).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::api::{Server, client};
use common::ok;
use serde_json::{Value as Json, json};

const CLIENTS: u64 = 200;
const SECONDS_DEFAULT: u64 = 30;
/// Each client's events carry `target = client * STRIDE + n`, so every event is unique.
const STRIDE: u64 = 10_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_clients_lose_nothing_and_duplicate_nothing() {
    let seconds = std::env::var("WORLDLINE_LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SECONDS_DEFAULT);
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("counter").display().to_string();
    ok(&["new", &dir, "--air", "worlds/counter"]);
    let server = Server::start(&dir, "127.0.0.1:0", &[]);
    let url = Arc::new(server.at("/events"));
    let http = client();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for client_id in 0..CLIENTS {
        let (url, http) = (Arc::clone(&url), http.clone());
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new(); // (target, seq, latency)
            let mut refused = 0u64;
            let mut n = 0;
            while Instant::now() < deadline {
                let target = client_id * STRIDE + n;
                n += 1;
                let body = json!({"schema": "demo/CounterEvent@1", "value": {"Start": {"target": target}}});
                let sent = Instant::now();
                let answer = http
                    .post(url.as_str())
                    .header("content-type", "application/json")
                    .body(body.to_string())
                    .send()
                    .await;
                let Ok(answer) = answer else {
                    refused += 1;
                    continue;
                };
                let status = answer.status().as_u16();
                let text = answer.text().await.unwrap_or_default();
                if status == 200 {
                    let json: Json = serde_json::from_str(&text).unwrap();
                    acked.push((target, json["seq"].as_u64().unwrap(), sent.elapsed()));
                } else {
                    assert_eq!(status, 503, "an event was refused other than as busy: {text}");
                    refused += 1;
                }
            }
            (acked, refused)
        }));
    }
    let mut acked = Vec::new();
    let mut refused = 0;
    for task in tasks {
        let (a, r) = task.await.unwrap();
        acked.extend(a);
        refused += r;
    }
    server.stop();

    // Every acknowledged event is where its answer said, and appears once; nothing else does.
    // (`world log` pages through the store, so one call reads the whole journal.)
    let log = ok(&["log", &dir, "--limit", "100000000", "--json"]);
    let external: Vec<(u64, u64)> = log
        .lines()
        .map(|line| serde_json::from_str::<Json>(line).unwrap())
        .filter(|r| r["kind"] == "domain_event" && r["body"]["origin"]["kind"] == "external")
        .map(|r| {
            let target = r["body"]["value"]["$value"]["target"].as_u64().unwrap();
            (target, r["seq"].as_u64().unwrap())
        })
        .collect();
    let journal: BTreeMap<u64, u64> = external.iter().copied().collect();
    assert_eq!(
        external.len(),
        journal.len(),
        "an event was journaled twice"
    );
    for (target, seq, _) in &acked {
        if journal.get(target) != Some(seq) {
            let there = ok(&[
                "log",
                &dir,
                "--from",
                &seq.to_string(),
                "--limit",
                "1",
                "--json",
            ]);
            panic!("event {target} (acknowledged at {seq}) is not there: {there}");
        }
    }
    assert_eq!(
        journal.len(),
        acked.len(),
        "an unacknowledged event was journaled"
    );
    assert!(!acked.is_empty());

    let mut latencies: Vec<Duration> = acked.iter().map(|(_, _, l)| *l).collect();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    println!(
        "load: {CLIENTS} clients, {seconds} s: {} events acknowledged ({:.0}/s), {refused} refused as busy, latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        acked.len(),
        acked.len() as f64 / seconds as f64,
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3,
    );
    assert!(ok(&["replay", &dir]).starts_with("replay ok"));
}
