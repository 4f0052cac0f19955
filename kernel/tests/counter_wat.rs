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
