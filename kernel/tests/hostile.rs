//! Hostile modules: each misbehaves beside a well-behaved counter routed the same events. Every
//! failure is journaled as a step failure, the counter keeps serving, and replay reproduces it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::json;
use worldline_air::Name;
use worldline_kernel::config::WorldConfig;
use worldline_kernel::record::RecordBody;
use worldline_kernel::world::replay;
use worldline_kernel::{KernelError, World};

/// A module whose `step` body is `body` (it must leave two i32 on the stack).
fn hostile(extra: &str, body: &str) -> Vec<u8> {
    let text = format!(
        r#"(module
            {extra}
            (memory (export "memory") 1)
            (global $top (mut i32) (i32.const 1024))
            (func (export "alloc") (param $n i32) (result i32) (local $p i32)
              global.get $top local.set $p
              global.get $top local.get $n i32.add global.set $top
              local.get $p)
            (func (export "step") (param i32 i32) (result i32 i32) {body}))"#
    );
    wat::parse_str(text).unwrap()
}

/// The counter AIR plus a second reducer `demo/Hostile@1` routed the same events.
fn hostile_air(dir: &std::path::Path) -> std::path::PathBuf {
    let air = dir.join("air");
    std::fs::create_dir(&air).unwrap();
    for file in ["schemas.air.json", "module.air.json"] {
        std::fs::copy(repo().join("worlds/counter/air").join(file), air.join(file)).unwrap();
    }
    let mut manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("worlds/counter/air/manifest.air.json")).unwrap(),
    )
    .unwrap();
    manifest["modules"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "demo/Hostile@1"}));
    manifest["routing"]["events"]
        .as_array_mut()
        .unwrap()
        .push(json!({"event": "demo/CounterEvent@1", "reducer": "demo/Hostile@1"}));
    std::fs::write(air.join("manifest.air.json"), manifest.to_string()).unwrap();
    let module = json!({"$kind": "defmodule", "name": "demo/Hostile@1", "module_kind": "reducer",
        "abi": {"reducer": {"state": "demo/CounterState@1", "event": "demo/CounterEvent@1", "effects_emitted": [], "cap_slots": {}}}});
    std::fs::write(air.join("hostile.air.json"), module.to_string()).unwrap();
    air
}

/// Runs Start{2}, Tick, Tick with a hostile module beside the counter; returns the hostile
/// module's failure codes and reasons.
fn run_hostile(module: Vec<u8>, config: WorldConfig) -> Vec<(String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let air = hostile_air(dir.path());
    let world_dir = dir.path().join("world");
    let mut world = create(
        &world_dir,
        &air,
        &[
            ("demo/CounterSM@1", wat("counter.wat")),
            ("demo/Hostile@1", module),
        ],
        config,
    );
    send(
        &mut world,
        &[("demo/CounterEvent@1", json!({"Start": {"target": 2}}))],
    );
    send(
        &mut world,
        &[
            ("demo/CounterEvent@1", json!("Tick")),
            ("demo/CounterEvent@1", json!("Tick")),
        ],
    );
    assert_eq!(
        state_json(&world, "demo/CounterSM@1"),
        json!({"pc": {"$tag": "Done"}, "remaining": 0}),
        "the counter kept serving"
    );
    assert!(
        world
            .state(&Name::parse("demo/Hostile@1").unwrap(), &[])
            .unwrap()
            .is_none(),
        "a failed step leaves the state as it was"
    );
    let failures: Vec<(String, String)> = world
        .records(0, 100)
        .unwrap()
        .into_iter()
        .filter_map(|(record, _)| match record.body {
            RecordBody::StepFailed {
                reducer,
                code,
                reason,
                ..
            } => {
                assert_eq!(reducer.as_str(), "demo/Hostile@1");
                assert_eq!(
                    record.causes.len(),
                    1,
                    "a failure names the input it was processing"
                );
                Some((code, reason))
            }
            _ => None,
        })
        .collect();
    assert_eq!(failures.len(), 3, "one failure per event");
    drop(world);
    replay(world_dir.as_path()).expect("replay reproduces every failure");
    failures
}

fn codes(failures: &[(String, String)]) -> Vec<&str> {
    failures.iter().map(|(code, _)| code.as_str()).collect()
}

#[test]
fn an_infinite_loop_runs_out_of_fuel() {
    let failures = run_hostile(
        hostile("", "(loop $spin (br $spin)) i32.const 0 i32.const 0"),
        WorldConfig::default(),
    );
    assert_eq!(codes(&failures), ["out_of_fuel"; 3]);
}

#[test]
fn memory_growth_past_the_cap_fails() {
    let body = "(loop $grow (br_if $grow (i32.ne (memory.grow (i32.const 16)) (i32.const -1)))) i32.const 0 i32.const 0";
    let failures = run_hostile(hostile("", body), WorldConfig::default());
    assert_eq!(codes(&failures), ["memory_limit"; 3]);
}

#[test]
fn deep_recursion_overflows_the_stack() {
    let extra = "(func $down (param i32) (result i32) local.get 0 i32.const 1 i32.add call $down)";
    let failures = run_hostile(
        hostile(extra, "i32.const 0 call $down drop i32.const 0 i32.const 0"),
        WorldConfig::default(),
    );
    assert_eq!(codes(&failures), ["stack_overflow"; 3]);
}

#[test]
fn two_mebibytes_of_output_are_refused() {
    let body = "(drop (memory.grow (i32.const 40))) i32.const 0 i32.const 2097152";
    let failures = run_hostile(hostile("", body), WorldConfig::default());
    assert_eq!(codes(&failures), ["output_too_large"; 3]);
}

#[test]
fn invalid_cbor_output_is_refused() {
    let failures = run_hostile(
        hostile(
            "",
            "(i32.store8 (i32.const 0) (i32.const 0xff)) i32.const 0 i32.const 1",
        ),
        WorldConfig::default(),
    );
    assert_eq!(codes(&failures), ["bad_output"; 3]);
    assert!(failures[0].1.contains("not CBOR"), "{}", failures[0].1);
}

#[test]
fn a_state_that_does_not_match_its_schema_is_refused() {
    // {"state": h'01'}: the state is the integer 1, not a CounterState record.
    let data = r#"(data (i32.const 0) "\a1\65state\41\01")"#;
    let failures = run_hostile(
        hostile(data, "i32.const 0 i32.const 9"),
        WorldConfig::default(),
    );
    assert_eq!(codes(&failures), ["bad_output"; 3]);
    assert!(
        failures[0].1.contains("does not match its schema"),
        "{}",
        failures[0].1
    );
}

#[test]
fn a_trap_fails_the_step() {
    let failures = run_hostile(hostile("", "unreachable"), WorldConfig::default());
    assert_eq!(codes(&failures), ["trap"; 3]);
    assert!(failures[0].1.contains("unreachable"), "{}", failures[0].1);
}

#[test]
fn fail_carries_the_module_s_message() {
    let extra = r#"(import "worldline" "fail" (func $fail (param i32 i32))) (data (i32.const 0) "no thanks")"#;
    let failures = run_hostile(
        hostile(
            extra,
            "(call $fail (i32.const 0) (i32.const 9)) i32.const 0 i32.const 0",
        ),
        WorldConfig::default(),
    );
    assert_eq!(failures[0], ("failed".to_owned(), "no thanks".to_owned()));
}

#[test]
fn a_wasi_import_is_refused_at_load_and_nothing_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let air = hostile_air(dir.path());
    let extra = r#"(import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))"#;
    let binaries = [
        ("demo/CounterSM@1", wat("counter.wat")),
        ("demo/Hostile@1", hostile(extra, "i32.const 0 i32.const 0")),
    ];
    let binaries = binaries
        .iter()
        .map(|(n, b)| (Name::parse(n).unwrap(), b.clone()))
        .collect();
    let options = worldline_kernel::CreateOptions {
        config: WorldConfig::default(),
        seed: [1; 32],
        ingress: ingress(0),
    };
    let world_dir = dir.path().join("world");
    let error = World::create(&world_dir, &common::air(&air), binaries, options)
        .err()
        .expect("refused");
    match &error {
        KernelError::Module { module, reason } => {
            assert_eq!(module.as_str(), "demo/Hostile@1");
            assert!(
                reason.contains("wasi_snapshot_preview1.fd_write"),
                "{reason}"
            );
        }
        other => panic!("unexpected error {other}"),
    }
    assert!(
        !world_dir.join(".world").exists(),
        "a refused world leaves nothing behind"
    );
}

#[test]
fn a_smaller_fuel_budget_is_part_of_the_world() {
    // The WAT counter needs a few thousand units per step: with 100 it runs out, every time,
    // and replay (which reads the budget from genesis) reproduces exactly that.
    let config = WorldConfig {
        fuel_per_step: 100,
        ..WorldConfig::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let mut world = create(
        dir.path(),
        &repo().join("worlds/counter/air"),
        &[("demo/CounterSM@1", wat("counter.wat"))],
        config,
    );
    send(
        &mut world,
        &[("demo/CounterEvent@1", json!({"Start": {"target": 1}}))],
    );
    assert_eq!(
        state_json(&world, "demo/CounterSM@1"),
        serde_json::Value::Null
    );
    drop(world);
    replay(dir.path()).unwrap();
}
