//! `world run` as a real process: killed with SIGKILL between an intent and its receipt, and
//! started after a timer fell due while no host ran. Every world is replayed afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::world;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use worldline_kernel::World;
use worldline_kernel::record::{ReceiptBody, RecordBody};

fn now_ns() -> u64 {
    worldline_adapters::clock::now_ns()
}

/// A hello-timer world whose timer (due `delay` from now) is journaled and open, with no host
/// running: `world send` gives up waiting at once.
fn world_with_pending_timer(dir: &Path, delay: Duration, key: &str) -> u64 {
    let dir_text = dir.to_str().unwrap();
    let (code, _, stderr) = world(&["new", dir_text, "--air", "worlds/hello-timer"]);
    assert_eq!(code, 0, "{stderr}");
    let deadline_ns = now_ns() + u64::try_from(delay.as_nanos()).unwrap();
    let start = format!(r#"{{"Start": {{"deliver_at_ns": {deadline_ns}, "key": "{key}"}}}}"#);
    let (code, stdout, stderr) = world(&[
        "send",
        dir_text,
        "demo/TimerEvent@1",
        &start,
        "--timeout-ms",
        "0",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("effect_intent"), "{stdout}");
    assert!(stderr.contains("still waiting"), "{stderr}");
    deadline_ns
}

fn receipts(dir: &Path) -> Vec<ReceiptBody> {
    let world = World::open(dir).unwrap();
    world
        .records(0, 10_000)
        .unwrap()
        .into_iter()
        .filter_map(|(r, _)| match r.body {
            RecordBody::Receipt(receipt) => Some(receipt),
            _ => None,
        })
        .collect()
}

fn timer_state(dir: &Path) -> serde_json::Value {
    let world = World::open(dir).unwrap();
    let name = worldline_air::Name::parse("demo/TimerSM@1").unwrap();
    world.state(&name, &[]).unwrap().unwrap().to_plain_json()
}

fn replays(dir: &Path) {
    let (code, stdout, stderr) = world(&["replay", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
}

#[test]
fn a_killed_host_resumes_its_open_intent_and_accepts_exactly_one_receipt() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("timer");
    let deadline_ns = world_with_pending_timer(&dir, Duration::from_millis(3000), "crash");

    // A host that has dispatched the timer is killed before the timer is due.
    let mut host = Command::new(env!("CARGO_BIN_EXE_world"))
        .args(["run", dir.to_str().unwrap()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(host.stdout.take().unwrap()).lines();
    let started = Instant::now();
    loop {
        let line = lines.next().unwrap().unwrap();
        if line.contains("dispatched timer.set") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the host never dispatched"
        );
    }
    host.kill().unwrap();
    host.wait().unwrap();
    assert!(
        now_ns() < deadline_ns,
        "the kill came after the deadline; the test proves nothing"
    );
    assert!(receipts(&dir).is_empty());

    // The next host dispatches the same intent again; its receipt is accepted once.
    let (code, stdout, stderr) = world(&["run", dir.to_str().unwrap(), "--stop-after-ms", "5000"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("receipt timer.set ok"), "{stdout}");
    let receipts = receipts(&dir);
    assert_eq!(receipts.len(), 1, "exactly one accepted receipt");
    let state = timer_state(&dir);
    assert_eq!(state["pc"], serde_json::json!({"$tag": "Done"}));
    assert_eq!(state["fired_key"], serde_json::json!("crash"));
    replays(&dir);
}

#[test]
fn a_timer_due_while_no_host_ran_fires_on_restart_with_its_real_late_time() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("late");
    let deadline_ns = world_with_pending_timer(&dir, Duration::from_millis(500), "late");
    std::thread::sleep(Duration::from_millis(2000));
    let (code, stdout, stderr) = world(&["run", dir.to_str().unwrap(), "--stop-after-ms", "1500"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("receipt timer.set ok"), "{stdout}");
    let receipts = receipts(&dir);
    assert_eq!(receipts.len(), 1);
    let payload = worldline_air::cbor::decode(&receipts[0].payload).unwrap();
    let delivered_at_ns = match payload.get("delivered_at_ns") {
        Some(worldline_air::cbor::Cbor::Unsigned(ns)) => *ns,
        other => panic!("delivered_at_ns: {other:?}"),
    };
    assert!(
        delivered_at_ns >= deadline_ns + 1_400_000_000,
        "the receipt shows the real, late delivery time ({} ms late)",
        (delivered_at_ns.saturating_sub(deadline_ns)) / 1_000_000
    );
    assert_eq!(timer_state(&dir)["fired_key"], serde_json::json!("late"));
    replays(&dir);
}

#[test]
fn bad_input_to_run_and_send_is_one_line_and_changes_nothing() {
    let scratch = tempfile::tempdir().unwrap();
    let not_a_world = scratch.path().join("empty");
    std::fs::create_dir(&not_a_world).unwrap();
    let (code, _, stderr) = world(&[
        "run",
        not_a_world.to_str().unwrap(),
        "--stop-after-ms",
        "10",
    ]);
    assert_ne!(code, 0);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("empty") && stderr.contains("is not a world"),
        "{stderr}"
    );

    let dir = scratch.path().join("timer");
    let dir_text = dir.to_str().unwrap();
    world_with_pending_timer(&dir, Duration::from_secs(3600), "later");
    let head = World::open(&dir).unwrap().head();

    let tick = r#"{"Start": {"deliver_at_ns": 0}}"#;
    let (code, _, stderr) = world(&[
        "send",
        dir_text,
        "demo/TimerEvent@1",
        tick,
        "--http-map",
        "bogus",
    ]);
    assert_ne!(code, 0);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--http-map bogus"), "{stderr}");
    assert_eq!(
        World::open(&dir).unwrap().head(),
        head,
        "nothing was appended"
    );
    // The LLM and secret flags: each bad value is named in one line, for send and run alike.
    for (flag, value) in [
        ("--llm-url", "bogus"),
        ("--llm-url", "openai=ftp://127.0.0.1/v1"),
        ("--secret", "bogus"),
        ("--secret", "llm_api_key=vault:key"),
    ] {
        let send = ["send", dir_text, "demo/TimerEvent@1", tick, flag, value];
        let run = ["run", dir_text, "--stop-after-ms", "10", flag, value];
        for args in [&send[..], &run[..]] {
            let (code, _, stderr) = world(args);
            assert_ne!(code, 0, "{args:?}");
            assert_eq!(stderr.lines().count(), 1, "{stderr}");
            assert!(stderr.contains(&format!("{flag} {value}")), "{stderr}");
        }
        assert_eq!(World::open(&dir).unwrap().head(), head, "{flag} {value}");
    }

    // A damaged adapter key file is named, and the world is left as it was.
    let key = dir.join(".world/adapters/timer.key");
    std::fs::write(&key, "not a key\n").unwrap();
    let (code, _, stderr) = world(&["run", dir_text, "--stop-after-ms", "10"]);
    assert_ne!(code, 0);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("timer.key"), "{stderr}");
    assert_eq!(World::open(&dir).unwrap().head(), head);
    replays(&dir);
}
