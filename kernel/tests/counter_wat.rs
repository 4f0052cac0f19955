//! The counter world run by reducers written against ABI.md alone: hand-written WAT in both
//! calling conventions. Every world here is reopened and replayed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::json;
use worldline_kernel::World;
use worldline_kernel::config::WorldConfig;
use worldline_kernel::world::replay;

fn run_counter(wat_file: &str) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let mut world = create(
        dir.path(),
        &repo().join("worlds/counter/air"),
        &[("demo/CounterSM@1", wat(wat_file))],
        WorldConfig::default(),
    );
    send(
        &mut world,
        &[("demo/CounterEvent@1", json!({"Start": {"target": 3}}))],
    );
    assert_eq!(
        state_json(&world, "demo/CounterSM@1"),
        json!({"pc": {"$tag": "Counting"}, "remaining": 3})
    );
    send(
        &mut world,
        &[
            ("demo/CounterEvent@1", json!({"$tag": "Tick"})),
            ("demo/CounterEvent@1", json!("Tick")),
            ("demo/CounterEvent@1", json!({"Tick": null})),
        ],
    );
    let state = state_json(&world, "demo/CounterSM@1");
    drop(world);
    let reopened = World::open(dir.path()).unwrap();
    assert_eq!(state_json(&reopened, "demo/CounterSM@1"), state);
    drop(reopened);
    let report = replay(dir.path()).unwrap();
    assert_eq!(report.records, 5);
    state
}

#[test]
fn multi_value_wat_counter_reaches_done() {
    assert_eq!(
        run_counter("counter.wat"),
        json!({"pc": {"$tag": "Done"}, "remaining": 0})
    );
}

#[test]
fn return_slot_wat_counter_reaches_the_same_state() {
    assert_eq!(
        run_counter("counter_retslot.wat"),
        json!({"pc": {"$tag": "Done"}, "remaining": 0})
    );
}

#[test]
fn replay_names_the_first_divergent_seq() {
    use worldline_kernel::KernelError;
    use worldline_kernel::record::{Record, RecordBody};
    use worldline_kernel::store::{Batch, RedbStore, Store};

    let dir = tempfile::tempdir().unwrap();
    let mut world = create(
        dir.path(),
        &repo().join("worlds/counter/air"),
        &[("demo/CounterSM@1", wat("counter.wat"))],
        WorldConfig::default(),
    );
    send(
        &mut world,
        &[
            ("demo/CounterEvent@1", json!({"Start": {"target": 5}})),
            ("demo/CounterEvent@1", json!("Tick")),
            ("demo/CounterEvent@1", json!("Tick")),
        ],
    );
    drop(world);
    // Rewrite record 2 (a Tick) as a Start, keeping its stored chain hash.
    let mut store = RedbStore::open(&dir.path().join(".world/world.redb")).unwrap();
    let (seq, bytes, hash) = store.records(2, 1).unwrap().remove(0);
    let mut record = Record::decode(&bytes).unwrap();
    let RecordBody::DomainEvent { value, .. } = &mut record.body else {
        panic!("record 2 is an event")
    };
    *value = worldline_air::Value::variant(
        "Start",
        Some(worldline_air::Value::record([(
            "target",
            worldline_air::Value::Nat(9),
        )])),
    )
    .to_cbor_body();
    store
        .commit(
            &Batch {
                records: vec![(seq, record.encode(), hash)],
                ..Batch::default()
            },
            true,
        )
        .unwrap();
    drop(store);
    match replay(dir.path()) {
        Err(KernelError::Diverged { seq, reason }) => {
            assert_eq!(seq, 2);
            assert!(reason.contains("chain hash"), "{reason}");
        }
        other => panic!("expected a divergence, got {other:?}"),
    }
}
