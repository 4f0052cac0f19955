//! Catch-up through the real binary (issue 6's acceptance): a timer is set and its host stops
//! before it fires; the host is started again with the wall clock moved two hours on
//! (`WORLDLINE_CLOCK_OFFSET_MS`). The world journals exactly one `gap`, the overdue timer's
//! receipt comes after it with its real, late delivery time, and the reducer that routes
//! `sys/WorldResumed@1` saw the gap and the world's DID. Every world is replayed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{world, world_with_env};

use std::path::Path;

use worldline_adapters::clock::CLOCK_OFFSET_ENV;
use worldline_air::cbor::{Cbor, decode};
use worldline_kernel::World;
use worldline_kernel::record::{EventOrigin, Record, RecordBody};

/// Two hours, in milliseconds.
const OFFSET_MS: u64 = 2 * 3_600 * 1_000;
const OFFSET_NS: u64 = OFFSET_MS * 1_000_000;

fn now_ns() -> u64 {
    worldline_adapters::clock::now_ns()
}

fn redacted(dir: &Path, f: impl FnOnce()) {
    common::redacted_with(
        dir,
        &[
            (r"\d{12,}", "[NS]"),
            (r"after \d+ s down", "after [S] s down"),
            (r"\(\d+ s down\)", "([S] s down)"),
        ],
        f,
    );
}

fn records(dir: &Path) -> Vec<Record> {
    let world = World::open(dir).unwrap();
    let count = usize::try_from(world.head().seq + 1).unwrap();
    world
        .records(0, count)
        .unwrap()
        .into_iter()
        .map(|(r, _)| r)
        .collect()
}

fn gap_seqs(journal: &[Record]) -> Vec<u64> {
    journal
        .iter()
        .filter(|r| matches!(r.body, RecordBody::Gap { .. }))
        .map(|r| r.seq)
        .collect()
}

fn nat(map: &Cbor, field: &str) -> u64 {
    match map.get(field) {
        Some(Cbor::Unsigned(n)) => *n,
        other => panic!("{field}: {other:?}"),
    }
}

fn state_json(dir: &str, reducer: &str) -> serde_json::Value {
    let (code, stdout, stderr) = world(&["state", dir, reducer, "--json"]);
    assert_eq!(code, 0, "{stderr}");
    serde_json::from_str::<serde_json::Value>(&stdout).unwrap()["state"].clone()
}

fn replays(dir: &str) {
    let (code, stdout, stderr) = world(&["replay", dir]);
    assert_eq!(code, 0, "{stdout}{stderr}");
}

#[test]
fn a_host_restarted_two_hours_later_journals_the_gap_and_fires_the_late_timer_after_it() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("catch-up");
    let d = dir.to_str().unwrap();
    let (code, stdout, stderr) = world(&["new", d, "--air", "worlds/catch-up", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let did = serde_json::from_str::<serde_json::Value>(&stdout).unwrap()["did"].clone();

    // A timer ten minutes out; `world send` gives up waiting at once, so no host runs.
    let deadline_ns = now_ns() + 600 * 1_000_000_000;
    let start = format!(r#"{{"Start": {{"deliver_at_ns": {deadline_ns}, "key": "late"}}}}"#);
    let send = ["send", d, "demo/TimerEvent@1", &start, "--timeout-ms", "0"];
    let (code, stdout, stderr) = world(&send);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("effect_intent"), "{stdout}");
    assert!(stderr.contains("still waiting"), "{stderr}");
    assert!(gap_seqs(&records(&dir)).is_empty());

    // The host comes back "two hours later".
    let offset = OFFSET_MS.to_string();
    let env = [(CLOCK_OFFSET_ENV, offset.as_str())];
    let before_ns = now_ns();
    let run = ["run", d, "--stop-after-ms", "1500"];
    let (code, run_out, stderr) = world_with_env(&run, &env);
    let after_ns = now_ns();
    assert_eq!(code, 0, "{stderr}");

    let journal = records(&dir);
    let gaps = gap_seqs(&journal);
    assert_eq!(gaps.len(), 1, "exactly one gap");
    let gap = &journal[usize::try_from(gaps[0]).unwrap()];
    let RecordBody::Gap { from_ns, to_ns } = gap.body else {
        unreachable!()
    };
    // From the last input's logical time to the (moved) time of the restart.
    let last_input = journal[..usize::try_from(gap.seq).unwrap()]
        .iter()
        .rev()
        .find_map(|r| r.stamp.as_ref())
        .unwrap();
    assert_eq!(from_ns, last_input.logical_now_ns);
    assert_eq!(to_ns, gap.stamp.as_ref().unwrap().now_ns);
    assert!(
        (before_ns + OFFSET_NS..=after_ns + OFFSET_NS).contains(&to_ns),
        "the gap ends at the moved clock's restart"
    );
    assert!(to_ns - from_ns >= OFFSET_NS);

    // sys/WorldResumed@1 right after it, raised by the kernel.
    let resumed = &journal[usize::try_from(gap.seq + 1).unwrap()];
    let RecordBody::DomainEvent { schema, origin, .. } = &resumed.body else {
        panic!("{:?}", resumed.body)
    };
    assert_eq!(schema.as_str(), "sys/WorldResumed@1");
    assert_eq!(*origin, EventOrigin::Kernel);
    assert_eq!(resumed.causes, [gap.seq]);

    // The overdue timer fired at once, after the gap, with its real (late) delivery time.
    let receipts: Vec<(u64, &worldline_kernel::record::ReceiptBody)> = journal
        .iter()
        .filter_map(|r| match &r.body {
            RecordBody::Receipt(receipt) => Some((r.seq, receipt)),
            _ => None,
        })
        .collect();
    assert_eq!(receipts.len(), 1);
    let (receipt_seq, receipt) = receipts[0];
    assert!(receipt_seq > gap.seq, "the receipt comes after the gap");
    let delivered_at_ns = nat(&decode(&receipt.payload).unwrap(), "delivered_at_ns");
    assert!(
        delivered_at_ns > deadline_ns,
        "delivered after the deadline"
    );
    assert!(delivered_at_ns >= to_ns, "and at the moved clock's time");
    assert!(receipt.finished_ns >= to_ns);
    let timer = state_json(d, "demo/TimerSM@1");
    assert_eq!(timer["pc"], serde_json::json!({"$tag": "Done"}));
    assert_eq!(timer["fired_key"], serde_json::json!("late"));

    // The reducer that routes sys/WorldResumed@1 saw the gap and the world's DID.
    let log = state_json(d, "demo/ResumeLog@1");
    assert_eq!(log["resumes"], serde_json::json!(1));
    let seen = &log["last"];
    assert_eq!(seen["from_ns"], serde_json::json!(from_ns));
    assert_eq!(seen["to_ns"], serde_json::json!(to_ns));
    assert_eq!(seen["gap_ns"], serde_json::json!(to_ns - from_ns));
    assert_eq!(seen["did"], did);
    assert_eq!(seen["journal_height"], serde_json::json!(gap.seq - 1));
    assert_eq!(seen["last_checkpoint"], serde_json::Value::Null);

    redacted(&dir, || insta::assert_snapshot!("run", run_out));
    let from = gap.seq.to_string();
    let (code, stdout, _) = world(&["log", d, "--from", &from]);
    assert_eq!(code, 0);
    redacted(&dir, || insta::assert_snapshot!("log", stdout));
    replays(d);

    // Started again at once (same moved clock): no second gap.
    let (code, stdout, stderr) = world_with_env(&["run", d, "--stop-after-ms", "200"], &env);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stdout.contains("gap"), "{stdout}");
    assert_eq!(gap_seqs(&records(&dir)), gaps);
    replays(d);
}

#[test]
fn world_send_after_downtime_journals_the_gap_before_its_event() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("send");
    let d = dir.to_str().unwrap();
    let (code, _, stderr) = world(&["new", d, "--air", "worlds/catch-up"]);
    assert_eq!(code, 0, "{stderr}");
    let offset = OFFSET_MS.to_string();
    let env = [(CLOCK_OFFSET_ENV, offset.as_str())];
    let start = r#"{"Start": {"deliver_at_ns": 0, "key": "now"}}"#;
    let (code, stdout, stderr) = world_with_env(&["send", d, "demo/TimerEvent@1", start], &env);
    assert_eq!(code, 0, "{stderr}");
    redacted(&dir, || insta::assert_snapshot!("send", stdout));
    let journal = records(&dir);
    assert_eq!(gap_seqs(&journal), [1]);
    assert!(matches!(journal[3].body, RecordBody::DomainEvent { .. }));
    assert!(
        journal[3].stamp.as_ref().unwrap().now_ns >= now_ns() + OFFSET_NS - 60_000_000_000,
        "the event's stamp is on the moved clock too"
    );
    assert_eq!(state_json(d, "demo/ResumeLog@1")["resumes"], 1);
    replays(d);
}

#[test]
fn a_bad_clock_offset_is_one_line_and_changes_nothing() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("bad");
    let d = dir.to_str().unwrap();
    let (code, _, stderr) = world(&["new", d, "--air", "worlds/catch-up"]);
    assert_eq!(code, 0, "{stderr}");
    let head = World::open(&dir).unwrap().head();
    let start = r#"{"Start": {"deliver_at_ns": 0}}"#;
    for value in ["-5", "2h", "1.5"] {
        let env = [(CLOCK_OFFSET_ENV, value)];
        let send = ["send", d, "demo/TimerEvent@1", start];
        let run = ["run", d, "--stop-after-ms", "10"];
        for args in [&send[..], &run[..]] {
            let (code, _, stderr) = world_with_env(args, &env);
            assert_ne!(code, 0, "{args:?}");
            assert_eq!(stderr.lines().count(), 1, "{stderr}");
            assert!(
                stderr.contains(&format!("{CLOCK_OFFSET_ENV}={value}")),
                "{stderr}"
            );
        }
    }
    assert_eq!(World::open(&dir).unwrap().head(), head, "nothing appended");
    replays(d);
}
