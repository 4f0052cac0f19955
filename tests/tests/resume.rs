//! Catch-up in the kernel (`World::resume`), with ingress times chosen by the test: no gap under
//! `GAP_NS_MIN`, one `gap` and one `sys/WorldResumed@1` (origin `kernel`) at it, none for a
//! second resume in a row, the reducer that routes the event sees the gap, a plan it triggers
//! runs, and opening from a snapshot and replay from genesis reproduce every byte.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value as Json, json};
use worldline_air::Name;
use worldline_air::load::SourceFile;
use worldline_kernel::config::WorldConfig;
use worldline_kernel::record::{EventOrigin, Record, RecordBody};
use worldline_kernel::world::{GAP_NS_MIN, replay};
use worldline_kernel::{CreateOptions, Ingress, World};
use worldline_tests::sources::air_sources;
use worldline_tests::world::{records, repo};

/// Genesis time of every world here.
const T0_NS: u64 = 1_700_000_000_000_000_000;

fn at(now_ns: u64) -> Ingress {
    Ingress {
        now_ns,
        entropy: [5; 32],
    }
}

fn package(name: &str) -> Vec<u8> {
    worldline_cli::modules::build_package(&repo().join("modules"), name).unwrap()
}

/// The catch-up world (`worlds/catch-up`) at `T0_NS`, a snapshot every `snapshot_every` records.
fn catch_up_world(dir: &Path, snapshot_every: u64) -> World {
    let binaries = BTreeMap::from([
        (
            Name::parse("demo/TimerSM@1").unwrap(),
            package("hello-timer"),
        ),
        (
            Name::parse("demo/ResumeLog@1").unwrap(),
            package("resume-log"),
        ),
    ]);
    let options = CreateOptions {
        config: WorldConfig {
            snapshot_every,
            ..WorldConfig::default()
        },
        seed: [7; 32],
        ingress: at(T0_NS),
    };
    let air = air_sources(&repo().join("worlds/catch-up/air"));
    World::create(dir, &air, binaries, options).unwrap()
}

fn resume_log(world: &World) -> Json {
    let name = Name::parse("demo/ResumeLog@1").unwrap();
    world
        .state(&name, &[])
        .unwrap()
        .map_or(Json::Null, |v| v.to_plain_json())
}

fn gaps(world: &World) -> Vec<Record> {
    records(world)
        .into_iter()
        .filter(|r| matches!(r.body, RecordBody::Gap { .. }))
        .collect()
}

#[test]
fn a_silence_under_the_threshold_journals_nothing() {
    let scratch = tempfile::tempdir().unwrap();
    let mut world = catch_up_world(&scratch.path().join("w"), 10_000);
    let head = world.head();
    assert_eq!(world.resume(at(T0_NS + GAP_NS_MIN - 1)).unwrap(), None);
    assert_eq!(world.head(), head, "nothing was appended");
    // An input later resets the silence: a minute after genesis but seconds after the input.
    let start = json!({"Start": {"deliver_at_ns": 0}});
    let event = world.event_from_json("demo/TimerEvent@1", &start).unwrap();
    world
        .submit(vec![(event, at(T0_NS + GAP_NS_MIN - 1))], true)
        .unwrap();
    let head = world.head();
    assert_eq!(world.resume(at(T0_NS + GAP_NS_MIN + 1)).unwrap(), None);
    assert_eq!(world.head(), head);
    assert!(gaps(&world).is_empty());
    assert_eq!(resume_log(&world), Json::Null, "the reducer heard nothing");
}

#[test]
fn a_silence_at_the_threshold_journals_one_gap_and_a_second_resume_none() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("w");
    let mut world = catch_up_world(&dir, 10_000);
    let to_ns = T0_NS + GAP_NS_MIN;
    let resumed = world.resume(at(to_ns)).unwrap().unwrap();
    assert_eq!((resumed.from_ns, resumed.to_ns), (T0_NS, to_ns));
    assert_eq!(resumed.seqs, [1, 2], "the gap, then sys/WorldResumed@1");
    assert_eq!(world.head().seq, 2);

    let journal = records(&world);
    let gap = &journal[1];
    assert_eq!(
        gap.body,
        RecordBody::Gap {
            from_ns: T0_NS,
            to_ns
        }
    );
    assert!(gap.causes.is_empty());
    let stamp = gap.stamp.as_ref().expect("a gap is an input");
    assert_eq!((stamp.now_ns, stamp.logical_now_ns), (to_ns, to_ns));
    let RecordBody::DomainEvent { schema, origin, .. } = &journal[2].body else {
        panic!("not an event: {:?}", journal[2].body);
    };
    assert_eq!(schema.as_str(), "sys/WorldResumed@1");
    assert_eq!(*origin, EventOrigin::Kernel);
    assert_eq!(journal[2].causes, [1]);
    assert!(journal[2].stamp.is_none(), "derived, not an input");

    // The reducer routed to it saw the gap, the DID and the height when the world stopped.
    let seen = json!({
        "from_ns": T0_NS, "to_ns": to_ns, "gap_ns": GAP_NS_MIN, "did": world.did(),
        "journal_height": 0, "last_checkpoint": null,
    });
    let expected = json!({"resumes": 1, "missed_ns": GAP_NS_MIN, "last": seen});
    assert_eq!(resume_log(&world), expected);

    // At once, or a second later: the gap is now the last input, so nothing more.
    assert_eq!(world.resume(at(to_ns)).unwrap(), None);
    assert_eq!(world.resume(at(to_ns + 1_000_000_000)).unwrap(), None);
    assert_eq!(world.head().seq, 2);
    assert_eq!(gaps(&world).len(), 1);

    // A second downtime: a second gap from the first one's time.
    let later_ns = to_ns + 3 * GAP_NS_MIN;
    let resumed = world.resume(at(later_ns)).unwrap().unwrap();
    assert_eq!((resumed.from_ns, resumed.to_ns), (to_ns, later_ns));
    let log = resume_log(&world);
    assert_eq!(log["resumes"], json!(2));
    assert_eq!(log["missed_ns"], json!(4 * GAP_NS_MIN));
    assert_eq!(log["last"]["journal_height"], json!(2));
    drop(world);
    let report = replay(&dir).unwrap();
    assert_eq!(report.records, 5);
}

#[test]
fn a_world_opened_from_a_snapshot_reproduces_the_gap_and_its_event() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("w");
    // A snapshot every 2 records: opening starts after genesis and re-runs a gap in the tail,
    // whose event names the DID the stepper learns when opening, not from genesis.
    let mut world = catch_up_world(&dir, 2);
    let start = json!({"Start": {"deliver_at_ns": 0}});
    let event = world.event_from_json("demo/TimerEvent@1", &start).unwrap();
    world.submit(vec![(event, at(T0_NS + 1))], true).unwrap();
    let did = world.did().to_owned();
    drop(world);
    for round in 1..=3 {
        let mut world = World::open(&dir).unwrap();
        let resumed = world.resume(at(T0_NS + round * GAP_NS_MIN * 2)).unwrap();
        assert!(resumed.is_some(), "round {round}");
        assert_eq!(resume_log(&world)["last"]["did"], json!(did));
    }
    let world = World::open(&dir).unwrap();
    assert_eq!(gaps(&world).len(), 3);
    assert_eq!(resume_log(&world)["resumes"], json!(3));
    assert!(
        records(&world)
            .iter()
            .any(|r| matches!(r.body, RecordBody::SnapshotPointer { .. })),
        "the test needs snapshots"
    );
    drop(world);
    replay(&dir).unwrap();
}

#[test]
fn a_world_that_routes_nothing_still_journals_the_gap_and_the_event() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("w");
    let binaries = BTreeMap::from([(
        Name::parse("demo/TimerSM@1").unwrap(),
        package("hello-timer"),
    )]);
    let options = CreateOptions {
        config: WorldConfig::default(),
        seed: [8; 32],
        ingress: at(T0_NS),
    };
    let air = air_sources(&repo().join("worlds/hello-timer/air"));
    let mut world = World::create(&dir, &air, binaries, options).unwrap();
    let resumed = world.resume(at(T0_NS + 2 * GAP_NS_MIN)).unwrap().unwrap();
    assert_eq!(
        resumed.seqs,
        [1, 2],
        "no reducer step, no plan: just the two"
    );
    drop(world);
    replay(&dir).unwrap();
}

/// A plan triggered by `sys/WorldResumed@1` raises what it saw.
const PLAN_AIR: &str = r#"[
  {"$kind": "defschema", "name": "test/Seen@1", "type": {"record": {"gap_ns": {"nat": {}}, "did": {"text": {}}}}},
  {"$kind": "defplan", "name": "test/on_resume@1", "input": "sys/WorldResumed@1",
   "steps": [
     {"id": "tell", "op": "raise_event", "event": "test/Seen@1",
      "value": {"record": {"gap_ns": {"ref": "@plan.input.gap_ns"}, "did": {"ref": "@plan.input.did"}}}},
     {"id": "finish", "op": "end"}
   ],
   "edges": [{"from": "tell", "to": "finish"}]},
  {"$kind": "manifest", "air_version": "1",
   "schemas": [{"name": "test/Seen@1"}, {"name": "sys/WorldResumed@1"}],
   "modules": [], "plans": [{"name": "test/on_resume@1"}], "effects": [], "caps": [], "policies": [],
   "triggers": [{"event": "sys/WorldResumed@1", "plan": "test/on_resume@1"}]}
]"#;

#[test]
fn a_plan_triggered_by_the_resumption_runs_with_it_as_input() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("w");
    let air = vec![SourceFile {
        name: "world.air.json".into(),
        text: PLAN_AIR.into(),
    }];
    let options = CreateOptions {
        config: WorldConfig::default(),
        seed: [6; 32],
        ingress: at(T0_NS),
    };
    let mut world = World::create(&dir, &air, BTreeMap::new(), options).unwrap();
    let resumed = world.resume(at(T0_NS + GAP_NS_MIN)).unwrap().unwrap();
    let journal = records(&world);
    let started = journal
        .iter()
        .find(|r| matches!(r.body, RecordBody::PlanStarted { .. }))
        .expect("the plan started");
    assert_eq!(started.causes, [resumed.seqs[1]], "caused by WorldResumed");
    let ty = world
        .plane()
        .schema_type_of(&Name::parse("test/Seen@1").unwrap())
        .unwrap()
        .clone();
    let seen: Vec<Json> = journal
        .iter()
        .filter_map(|r| match &r.body {
            RecordBody::DomainEvent {
                schema,
                value,
                origin: EventOrigin::Plan { .. },
            } if schema.as_str() == "test/Seen@1" => Some(
                worldline_air::Value::from_cbor_bytes(value, &ty, world.plane())
                    .unwrap()
                    .to_plain_json(),
            ),
            _ => None,
        })
        .collect();
    assert_eq!(seen, [json!({"gap_ns": GAP_NS_MIN, "did": world.did()})]);
    drop(world);
    replay(&dir).unwrap();
}
