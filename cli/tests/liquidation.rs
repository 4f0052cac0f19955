//! Issue 6 item 7's acceptance: `worlds/liquidation/demo.sh --short` runs against the real
//! binaries (a real price server on 127.0.0.1, wasmtime, redb). Host A is killed during the
//! drawdown, the price crosses while no host runs, the world is exported and imported as host B,
//! which journals the gap and finds the breach in the feed's history, with a time inside the
//! gap. `world verify` passes with A's DID over both hosts' checkpoints, and B replays.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{repo, world};

use std::process::Command;

use worldline_kernel::World;
use worldline_kernel::record::RecordBody;

/// The position's liquidation price in the demo, cents ($12,600 × 150% / 10 ETH).
const LIQUIDATION_CENTS: u64 = 189_000;

fn json(args: &[&str]) -> serde_json::Value {
    let (code, stdout, stderr) = world(args);
    assert_eq!(code, 0, "{args:?}: {stdout}{stderr}");
    serde_json::from_str(&stdout).unwrap()
}

#[test]
fn the_short_demo_finds_the_breach_in_the_gap_and_verifies_across_both_hosts() {
    let scratch = tempfile::tempdir().unwrap();
    let demo_dir = scratch.path().join("demo");
    let output = Command::new("bash")
        .arg(repo().join("worlds/liquidation/demo.sh"))
        .arg("--short")
        .env("WORLD", env!("CARGO_BIN_EXE_world"))
        .env("PRICE_SERVER", env!("CARGO_BIN_EXE_price-server"))
        .env("DEMO_DIR", &demo_dir)
        .current_dir(repo())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("verify ok"), "{stdout}");

    let a = demo_dir.join("host-a/world");
    let b = demo_dir.join("host-b/world");
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let new: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(demo_dir.join("new.json")).unwrap()).unwrap();
    let did_a = new["did"].as_str().unwrap();

    // Exactly one gap, on host B.
    let world_b = World::open(std::path::Path::new(b)).unwrap();
    let count = usize::try_from(world_b.head().seq + 1).unwrap();
    let journal: Vec<_> = world_b.records(0, count).unwrap();
    let gaps: Vec<(u64, u64)> = journal
        .iter()
        .filter_map(|(r, _)| match r.body {
            RecordBody::Gap { from_ns, to_ns } => Some((from_ns, to_ns)),
            _ => None,
        })
        .collect();
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    let (from_ns, to_ns) = gaps[0];
    // Checkpoints on both sides of the gap: A's (at export) and B's (clean shutdown).
    let gap_seq = journal
        .iter()
        .find(|(r, _)| matches!(r.body, RecordBody::Gap { .. }))
        .unwrap()
        .0
        .seq;
    let checkpoints: Vec<u64> = journal
        .iter()
        .filter(|(r, _)| matches!(r.body, RecordBody::Checkpoint { .. }))
        .map(|(r, _)| r.seq)
        .collect();
    assert!(checkpoints.iter().any(|s| *s < gap_seq), "{checkpoints:?}");
    assert!(checkpoints.iter().any(|s| *s > gap_seq), "{checkpoints:?}");
    drop(world_b);

    // The breach came from the history, at a time inside the gap, at or below the threshold.
    let state = json(&["state", b, "demo/Liquidation@1", "--json"])["state"].clone();
    let breach = &state["breach"];
    assert_eq!(breach["via"], "history", "{state}");
    let at_ns = breach["at_ns"].as_u64().unwrap();
    assert!(
        (from_ns..=to_ns).contains(&at_ns),
        "{breach} not in {from_ns}..={to_ns}"
    );
    assert!(breach["price_cents"].as_u64().unwrap() <= LIQUIDATION_CENTS);
    assert!(breach["detected_at_ns"].as_u64().unwrap() >= to_ns);
    assert_eq!(state["gaps"][0]["from_ns"].as_u64(), Some(from_ns));
    assert!(state["gaps"][0]["slots_checked"].as_u64().unwrap() > 0);
    // Host A polled and saw no breach before it was killed.
    let state_a = json(&["state", a, "demo/Liquidation@1", "--json"])["state"].clone();
    assert!(state_a["polls"].as_u64().unwrap() > 0, "{state_a}");
    assert!(state_a["breach"].is_null(), "{state_a}");
    assert!(state_a["last_price_cents"].as_u64().unwrap() > LIQUIDATION_CENTS);

    // One lineage: B verifies under A's DID, with checkpoints signed by both hosts.
    let report = json(&["verify", b, "--did", did_a, "--json"]);
    assert_eq!(report["ok"], true);
    assert_eq!(report["did"], did_a);
    assert!(report["checkpoints"].as_u64().unwrap() >= 2, "{report}");
    let (code, out, err) = world(&["replay", b]);
    assert_eq!(code, 0, "{out}{err}");
}
