//! The example worlds with their Rust SDK reducers, built from modules/ the way `world new`
//! builds them. Every world is reopened and replayed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use worldline_tests::world::repo;

use serde_json::json;
use worldline_air::Name;
use worldline_kernel::config::WorldConfig;
use worldline_kernel::record::RecordBody;
use worldline_kernel::world::replay;
use worldline_kernel::{Ingress, World};

fn ingress(n: u64) -> Ingress {
    Ingress {
        now_ns: 1_700_000_000_000_000_000 + n,
        entropy: [n as u8; 32],
    }
}

fn send(world: &mut World, schema: &str, events: &[serde_json::Value]) -> Vec<Vec<u64>> {
    let base = world.head().seq;
    let inputs = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            (
                world.event_from_json(schema, e).unwrap(),
                ingress(base + i as u64 + 1),
            )
        })
        .collect();
    world.submit(inputs, true).unwrap()
}

#[test]
fn agentos_counter_reaches_done_with_the_sdk_reducer() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("counter");
    let mut world = worldline_cli::world_cmd::create_world(
        &dir,
        &repo().join("worlds/counter"),
        &[],
        WorldConfig::default(),
    )
    .unwrap();
    send(
        &mut world,
        "demo/CounterEvent@1",
        &[
            json!({"Start": {"target": 3}}),
            json!("Tick"),
            json!("Tick"),
            json!("Tick"),
        ],
    );
    let state = world
        .state(&Name::parse("demo/CounterSM@1").unwrap(), &[])
        .unwrap()
        .unwrap();
    assert_eq!(
        state.to_plain_json(),
        json!({"pc": {"$tag": "Done"}, "remaining": 0})
    );
    assert_eq!(
        state.to_plain_json().to_string(),
        r#"{"pc":{"$tag":"Done"},"remaining":0}"#
    );
    drop(world);
    replay(&dir).unwrap();
}

#[test]
fn cells_hold_ten_thousand_accounts_and_refuse_overdrafts() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("cells");
    let mut world = worldline_cli::world_cmd::create_world(
        &dir,
        &repo().join("worlds/cells"),
        &[],
        WorldConfig::default(),
    )
    .unwrap();
    let deposits: Vec<serde_json::Value> = (0..10_000)
        .map(|i| json!({"Deposit": {"account": format!("acct-{i}"), "amount": 10 + i % 7}}))
        .collect();
    send(&mut world, "demo/LedgerEvent@1", &deposits);
    let ledger = Name::parse("demo/Ledger@1").unwrap();
    assert_eq!(world.states().of_reducer(&ledger).count(), 10_000);
    // A withdrawal within the balance, and one beyond it: the second is a journaled step
    // failure and the cell is unchanged.
    let seqs = send(
        &mut world,
        "demo/LedgerEvent@1",
        &[
            json!({"Withdraw": {"account": "acct-3", "amount": 5}}),
            json!({"Withdraw": {"account": "acct-3", "amount": 500}}),
        ],
    );
    let failed = world.records(seqs[1][0], 2).unwrap();
    match &failed[1].0.body {
        RecordBody::StepFailed {
            code, reason, key, ..
        } => {
            assert_eq!(code, "failed");
            assert!(reason.contains("insufficient funds"), "{reason}");
            assert!(key.is_some(), "a cell's failure names its key");
        }
        other => panic!("expected a step failure, got {}", other.kind()),
    }
    let key = world.cell_key_from_json(&ledger, &json!("acct-3")).unwrap();
    let cell = world.state(&ledger, &key).unwrap().unwrap().to_plain_json();
    assert_eq!(cell, json!({"balance": 8, "deposits": 1, "withdrawals": 1}));
    let root = world.states().root();
    drop(world);
    // 10,000+ records crossed a snapshot: opening reads it and verifies the tail.
    let reopened = World::open(&dir).unwrap();
    assert_eq!(reopened.states().root(), root);
    let pointer = reopened.records(10_001, 1).unwrap();
    assert!(
        matches!(
            pointer[0].0.body,
            RecordBody::SnapshotPointer { height: 10_000, .. }
        ),
        "a snapshot after 10,000 records"
    );
    drop(reopened);
    let report = replay(&dir).unwrap();
    assert_eq!(report.state_root, root);
}
