//! `world new | send | state | log | replay | demo` through the real binary. Output is pinned by
//! insta with the variable parts (hashes, DIDs, times, paths) redacted. Every world is replayed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::world;

use std::path::Path;

fn redacted(dir: &Path, f: impl FnOnce()) {
    common::redacted_with(dir, &[], f);
}

fn new_counter(dir: &Path) {
    let (code, stdout, stderr) = world(&["new", dir.to_str().unwrap(), "--air", "worlds/counter"]);
    assert_eq!(code, 0, "{stderr}");
    redacted(dir, || insta::assert_snapshot!("new", stdout));
}

#[test]
fn counter_world_by_hand() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("counter");
    let d = dir.to_str().unwrap();
    new_counter(&dir);
    let mut sent = String::new();
    for event in [
        r#"{"Start": {"target": 3}}"#,
        r#""Tick""#,
        r#"{"$tag": "Tick"}"#,
        r#"{"Tick": null}"#,
    ] {
        let (code, stdout, stderr) = world(&["send", d, "demo/CounterEvent@1", event]);
        assert_eq!((code, stderr.as_str()), (0, ""));
        sent.push_str(&stdout);
    }
    redacted(&dir, || insta::assert_snapshot!("send", sent));
    let (code, stdout, _) = world(&["state", d, "demo/CounterSM@1"]);
    assert_eq!(code, 0);
    let state: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        state,
        serde_json::json!({"pc": {"$tag": "Done"}, "remaining": 0})
    );
    let (code, stdout, _) = world(&["log", d]);
    assert_eq!(code, 0);
    redacted(&dir, || insta::assert_snapshot!("log", stdout));
    let (code, stdout, _) = world(&["log", d, "--json", "--from", "1", "--limit", "1"]);
    assert_eq!(code, 0);
    let record: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(
        record["body"]["value"],
        serde_json::json!({"$tag": "Start", "$value": {"target": 3}})
    );
    let (code, stdout, _) = world(&["replay", d]);
    assert_eq!(code, 0);
    redacted(&dir, || insta::assert_snapshot!("replay", stdout));
}

#[test]
fn bad_input_gets_one_line_and_changes_nothing() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("counter");
    let d = dir.to_str().unwrap();
    new_counter(&dir);
    let (_, before, _) = world(&["log", d, "--json"]);
    let mut errors = String::new();
    let cases: [&[&str]; 8] = [
        &[
            "send",
            d,
            "demo/CounterEvent@1",
            r#"{"Start": {"target": -1}}"#,
        ],
        &[
            "send",
            d,
            "demo/CounterEvent@1",
            r#"{"Start": {"target": 3, "extra": 1}}"#,
        ],
        &["send", d, "demo/CounterEvent@1", r#"{"Reset": null}"#],
        &[
            "send",
            d,
            "demo/CounterEvent@1",
            r#"{"Start": {"target": 3}"#,
        ],
        &["send", d, "demo/Nope@1", "{}"],
        &[
            "send",
            d,
            "demo/CounterEvent@1",
            r#"{"$schema": "x", "$tag": "Tick"}"#,
        ],
        &["state", d, "demo/Nope@1"],
        &[
            "send",
            "/nonexistent/world",
            "demo/CounterEvent@1",
            r#""Tick""#,
        ],
    ];
    for args in cases {
        let (code, stdout, stderr) = world(args);
        assert_eq!((code, stdout.as_str()), (1, ""), "{args:?}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: one line: {stderr}");
        errors.push_str(&stderr);
    }
    redacted(&dir, || insta::assert_snapshot!("bad_input", errors));
    let (_, after, _) = world(&["log", d, "--json"]);
    assert_eq!(before, after, "nothing was journaled");
    let (code, _, stderr) = world(&["new", d, "--air", "worlds/counter"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("is already a world"), "{stderr}");
    let (code, _, _) = world(&["replay", d]);
    assert_eq!(code, 0);
}

#[test]
fn bench_runs_a_small_workload() {
    let (code, stdout, stderr) = world(&["bench", "counter", "--events", "300", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let figures: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(figures["events"], 300);
    assert!(figures["ingest_batched_events_per_s"].as_f64().unwrap() > 0.0);
    assert!(figures["replay_inputs"].as_u64().unwrap() >= 300);
    // The Rust counter, built at opt-level 3, stays within the kernel issue's size budget.
    let module_bytes = figures["module_bytes"].as_u64().unwrap();
    assert!(module_bytes < 100 << 10, "{module_bytes} bytes");
}
