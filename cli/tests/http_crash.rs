//! Crash safety for HTTP (issue 4's acceptance): `world run` is killed with SIGKILL while the
//! plan's `http.request` is at a local server (journaled, dispatched, no receipt). The next
//! `world run` sends it again with the same `Idempotency-Key` (the intent hash); exactly one
//! receipt is accepted and the reducer hears the result once. The server counts the keys.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::world;

#[path = "../../adapters/tests/http_server/mod.rs"]
mod http_server;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use http_server::{Reply, Server};
use worldline_kernel::World;
use worldline_kernel::record::{EventOrigin, RecordBody};

/// `(receipts, events the plan raised)`.
fn journal_counts(dir: &Path) -> (usize, usize) {
    let world = World::open(dir).unwrap();
    let records = world.records(0, 10_000).unwrap();
    let receipts = records
        .iter()
        .filter(|(r, _)| matches!(r.body, RecordBody::Receipt(_)))
        .count();
    let raised = records
        .iter()
        .filter(|(r, _)| {
            matches!(
                r.body,
                RecordBody::DomainEvent {
                    origin: EventOrigin::Plan { .. },
                    ..
                }
            )
        })
        .count();
    (receipts, raised)
}

#[test]
fn a_host_killed_mid_request_resends_it_with_the_same_key_and_accepts_one_receipt() {
    let hold = Arc::new(AtomicBool::new(true));
    let held = hold.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(Server::start(move |_| {
        let reply = Reply::ok(b"fresh data");
        if held.load(Ordering::SeqCst) {
            reply.delay(Duration::from_secs(60))
        } else {
            reply
        }
    }));
    let map = format!("https://example.com={}", server.url(""));
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("fetch");
    let dir_text = dir.to_str().unwrap();
    let (code, _, stderr) = world(&["new", dir_text, "--air", "worlds/fetch-notify"]);
    assert_eq!(code, 0, "{stderr}");
    let start = r#"{"Start": {"url": "https://example.com/data.json", "method": "GET"}}"#;
    let (code, stdout, stderr) = world(&[
        "send",
        dir_text,
        "demo/FetchNotifyEvent@1",
        start,
        "--timeout-ms",
        "0",
        "--http-map",
        &map,
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("effect_intent"), "{stdout}");

    // A host that has the request out at the (stalling) server is killed.
    let before = server.seen().len();
    let mut host = Command::new(env!("CARGO_BIN_EXE_world"))
        .args(["run", dir_text, "--http-map", &map])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(host.stdout.take().unwrap()).lines();
    let started = Instant::now();
    while !lines
        .next()
        .unwrap()
        .unwrap()
        .contains("dispatched http.request")
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "never dispatched"
        );
    }
    while server.seen().len() == before {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "never reached the server"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    host.kill().unwrap();
    host.wait().unwrap();
    assert_eq!(journal_counts(&dir), (0, 0), "no receipt before the crash");

    // The next host sends the same request again; this time the server answers.
    hold.store(false, Ordering::SeqCst);
    let (code, stdout, stderr) = world(&[
        "run",
        dir_text,
        "--http-map",
        &map,
        "--stop-after-ms",
        "5000",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("receipt http.request ok"), "{stdout}");
    assert_eq!(
        journal_counts(&dir),
        (1, 1),
        "one receipt, one result for the reducer"
    );
    let keys = server.key_counts();
    assert_eq!(
        keys.len(),
        1,
        "every attempt carried the same key: {keys:?}"
    );
    assert!(keys.values().all(|&n| n >= 2), "{keys:?}");
    let world_state = World::open(&dir).unwrap();
    let name = worldline_air::Name::parse("demo/FetchNotify@1").unwrap();
    let state = world_state
        .state(&name, &[])
        .unwrap()
        .unwrap()
        .to_plain_json();
    assert_eq!(state["pc"], serde_json::json!({"$tag": "Done"}));
    assert_eq!(state["last_status"], serde_json::json!(200));
    drop(world_state);
    let (code, stdout, stderr) = world(&["replay", dir_text]);
    assert_eq!(code, 0, "{stdout}{stderr}");
}
