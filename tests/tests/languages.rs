//! One reducer, five binaries: the counter of `worlds/counter` written in Rust (the SDK), C
//! (clang), AssemblyScript (asc) and hand-written WAT in both calling forms, each built here from
//! `modules/`. The same inputs must give byte-identical outputs and states, and the same journal
//! apart from what names the binary; undecodable inputs must fail the step in every one of them
//! and leave the state alone. Every world is replayed.
//!
//! Without clang/lld or Node.js/npm the tests skip with a printed reason; under `CI=true` they
//! fail instead (`worldline_tests::skip`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "languages/build.rs"]
mod build;

use std::collections::BTreeMap;
use std::path::Path;

use build::{COUNTER, Reducer, reducers, repo};
use serde_json::json;
use worldline_air::load::{SourceFile, load_sources};
use worldline_air::plane::BuildOptions;
use worldline_air::{Hash, Name, Value};
use worldline_kernel::config::WorldConfig;
use worldline_kernel::host::ReducerHost;
use worldline_kernel::host::envelope::{ReducerInput, ReducerOutput};
use worldline_kernel::identity::public_from_did;
use worldline_kernel::lineage::checkpoint::signature_holds;
use worldline_kernel::record::{Record, RecordBody};
use worldline_kernel::world::{SnapshotExtras, StateMap, replay};
use worldline_kernel::{CreateOptions, Ingress, World};
use worldline_tests::sources::air_sources;

const EVENT: &str = "demo/CounterEvent@1";

/// Time and entropy of input `n`: the same for every language, so stamps can be compared.
fn ingress(n: u64) -> Ingress {
    let mut entropy = [0u8; 32];
    entropy[..8].copy_from_slice(&n.to_le_bytes());
    Ingress {
        now_ns: 1_700_000_000_000_000_000 + n * 1_000_000_000,
        entropy,
    }
}

/// Start{3} counted down, Ticks outside Counting, Start{0}, and a Start and a Tick on each side
/// of every CBOR head-length boundary (the state's `remaining` must be written shortest).
fn sequence() -> Vec<serde_json::Value> {
    let mut events = vec![json!("Tick"), json!({"Start": {"target": 3}})];
    events.extend([json!("Tick"), json!("Tick"), json!("Tick"), json!("Tick")]);
    events.extend([json!({"Start": {"target": 0}}), json!("Tick")]);
    for target in [
        23u64,
        24,
        255,
        256,
        65_535,
        65_536,
        4_294_967_295,
        4_294_967_296,
        u64::MAX,
    ] {
        events.extend([json!({"Start": {"target": target}}), json!("Tick")]);
    }
    events
}

/// What one reducer's world did with a sequence of events.
struct Run {
    /// The counter's stored state after each event.
    states: Vec<Option<Vec<u8>>>,
    /// [`normalized_journal`].
    journal: Vec<Vec<u8>>,
    /// The journal's `step_failed` reasons, in order.
    failures: Vec<String>,
    /// The state root, which replay reproduced.
    root: Hash,
}

/// Runs `events` (plain JSON of `demo/CounterEvent@1`), one durable submit each, through a new
/// world of `air` with `wasm` as the counter; then replays the world.
fn run(air: &[SourceFile], wasm: &[u8], events: &[serde_json::Value]) -> Run {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("world");
    let counter = Name::parse(COUNTER).unwrap();
    let options = CreateOptions {
        // Snapshots every few records put the state's hash into the journal along the way.
        config: WorldConfig {
            snapshot_every: 4,
            ..WorldConfig::default()
        },
        seed: [9; 32],
        ingress: ingress(0),
    };
    let binaries = BTreeMap::from([(counter.clone(), wasm.to_vec())]);
    let mut world = World::create(&dir, air, binaries, options).unwrap();
    assert_eq!(
        world.plane().manifest_hash(),
        manifest_with(air, wasm),
        "the manifest is the AIR with this binary's hash, nothing else"
    );
    let mut states = Vec::new();
    for (i, event) in events.iter().enumerate() {
        let input = world.event_from_json(EVENT, event).unwrap();
        world
            .submit(vec![(input, ingress(i as u64 + 1))], true)
            .unwrap();
        states.push(world.states().get(&counter, &[]).cloned());
    }
    let (journal, failures) = normalized_journal(&world, wasm);
    let root = world.states().root();
    drop(world);
    let report = replay(&dir).unwrap();
    assert_eq!(report.state_root, root);
    assert_eq!(report.records, journal.len() as u64);
    Run {
        states,
        journal,
        failures,
        root,
    }
}

/// The manifest hash of `air` with `wasm` as the counter's binary.
fn manifest_with(air: &[SourceFile], wasm: &[u8]) -> Hash {
    let options = BuildOptions {
        require_hashes: false,
        module_hashes: BTreeMap::from([(Name::parse(COUNTER).unwrap(), Hash::of(wasm))]),
    };
    load_sources(air, &options).unwrap().manifest_hash()
}

/// The world's records as canonical bytes, with what legitimately differs between two binaries
/// of one reducer set to fixed values; and the `step_failed` reasons.
///
/// What differs, and why: a module's `wasm_hash` is part of the manifest, so each binary gives
/// its world another manifest hash (`run` checks it is exactly the AIR plus this binary's hash);
/// it appears in the genesis body and in every input's stamp. A `step_failed` names the binary
/// (`module_hash`) and carries the module's own message (`reason`, returned for the caller to
/// check). Each value is checked to be exactly what it must be before it is replaced, so nothing
/// else can hide behind the replacement. The chain hashes cover the manifest hash, so they
/// differ too and are not compared; every record's other bytes are (seqs, causes, times,
/// entropy, event values, failure codes, and the snapshot hashes, which cover the states).
/// A checkpoint signs the manifest and chain hashes: its signature is checked, then it is
/// compared by height and state root; a snapshot names the last checkpoint's hash, so it is
/// compared as the same snapshot without that hash, after checking that re-encoding it with
/// the hash gives the stored bytes.
fn normalized_journal(world: &World, wasm: &[u8]) -> (Vec<Vec<u8>>, Vec<String>) {
    let manifest = world.plane().manifest_hash();
    let mut failures = Vec::new();
    let mut journal = Vec::new();
    for (mut record, _) in world.records(0, 1000).unwrap() {
        if let Some(stamp) = &mut record.stamp {
            assert_eq!(stamp.manifest_hash, manifest, "seq {}", record.seq);
            stamp.manifest_hash = Hash::ZERO;
        }
        match &mut record.body {
            RecordBody::Genesis(genesis) => {
                assert_eq!(genesis.manifest_hash, manifest);
                genesis.manifest_hash = Hash::ZERO;
            }
            RecordBody::StepFailed {
                module_hash,
                reason,
                ..
            } => {
                assert_eq!(*module_hash, Hash::of(wasm), "seq {}", record.seq);
                *module_hash = Hash::ZERO;
                failures.push(std::mem::take(reason));
            }
            RecordBody::Checkpoint(checkpoint) => {
                assert_eq!(checkpoint.manifest_hash, manifest, "seq {}", record.seq);
                let public = public_from_did(world.did()).unwrap();
                assert!(signature_holds(&public, world.did(), checkpoint));
                checkpoint.manifest_hash = Hash::ZERO;
                checkpoint.head_record_hash = Hash::ZERO;
                checkpoint.prev_checkpoint_hash = Hash::ZERO;
                checkpoint.signature = Vec::new();
            }
            RecordBody::SnapshotPointer { snapshot_hash, .. } => {
                *snapshot_hash = snapshot_without_checkpoint(world, snapshot_hash);
            }
            RecordBody::DomainEvent { .. } => {}
            other => panic!("a {} record in the counter world", other.kind()),
        }
        journal.push(record.encode());
    }
    assert_eq!(journal.len() as u64, world.head().seq + 1);
    (journal, failures)
}

/// The hash of the snapshot `hash` re-encoded without its last checkpoint's hash (height kept),
/// once re-encoding it as it is has given back the stored object.
fn snapshot_without_checkpoint(world: &World, hash: &Hash) -> Hash {
    let store = world.store();
    let bytes = store.cas_get(hash).unwrap().unwrap();
    let snapshot = StateMap::from_snapshot(&bytes, &mut |h| store.cas_get(h)).unwrap();
    let encode = |checkpoint| {
        let effects = snapshot.effects.as_ref().unwrap();
        let extras = SnapshotExtras {
            plans: snapshot.plans.clone(),
            checkpoint,
            governance: None,
            manifest: snapshot.manifest,
        };
        let (height, now) = (snapshot.height, snapshot.logical_now_ns);
        snapshot
            .states
            .snapshot(height, now, effects, &extras, |_| true)
            .0
    };
    assert_eq!(
        encode(snapshot.checkpoint),
        bytes,
        "a snapshot re-encodes to itself"
    );
    Hash::of(&encode(
        snapshot.checkpoint.map(|(height, _)| (height, Hash::ZERO)),
    ))
}

/// Every run against the first (Rust's): states after each event, journal record by record,
/// state root, failure count.
fn assert_same_as_rust(built: &[Reducer], runs: &[Run]) {
    let (rust, expected) = (built[0].language, &runs[0]);
    for (reducer, run) in built.iter().zip(runs).skip(1) {
        let language = reducer.language;
        for (i, (got, want)) in run.states.iter().zip(&expected.states).enumerate() {
            assert_eq!(got, want, "{language} vs {rust}: the state after event {i}");
        }
        assert_eq!(run.journal.len(), expected.journal.len(), "{language}");
        for (seq, (got, want)) in run.journal.iter().zip(&expected.journal).enumerate() {
            assert_eq!(got, want, "{language} vs {rust}: record {seq}");
        }
        assert_eq!(run.root, expected.root, "{language} vs {rust}: state root");
        assert_eq!(run.failures.len(), expected.failures.len(), "{language}");
    }
}

/// `{"pc": {"$tag": arm}, "remaining": n}` as spec/encoding.md spells it, byte by byte.
fn counter_state(arm: &str, remaining_head: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0xa2, 0x62, b'p', b'c', 0xa1, 0x64];
    bytes.extend(b"$tag");
    bytes.push(0x60 + arm.len() as u8);
    bytes.extend(arm.as_bytes());
    bytes.push(0x69);
    bytes.extend(b"remaining");
    bytes.extend(remaining_head);
    bytes
}

#[test]
fn every_language_gives_the_same_states_and_journal() {
    let Some(built) = reducers("every_language_gives_the_same_states_and_journal") else {
        return;
    };
    let air = air_sources(&repo().join("worlds/counter/air"));
    let events = sequence();
    let runs: Vec<Run> = built.iter().map(|r| run(&air, &r.wasm, &events)).collect();
    assert_same_as_rust(built, &runs);
    // And Rust (so every language) against the spec: the first Tick reads a null state as Idle;
    // the last one leaves u64::MAX - 1 behind a 9-byte head.
    let states = &runs[0].states;
    assert_eq!(states[0].as_deref(), Some(&counter_state("Idle", &[0])[..]));
    assert_eq!(states[5].as_deref(), Some(&counter_state("Done", &[0])[..]));
    let heads: [(usize, &[u8]); 5] = [
        (9, &[0x16]),              // Start{23}, Tick
        (11, &[0x17]),             // Start{24}, Tick: down to a one-byte head
        (12, &[0x18, 0xff]),       // Start{255}
        (15, &[0x18, 0xff]),       // Start{256}, Tick
        (16, &[0x19, 0xff, 0xff]), // Start{65535}
    ];
    for (i, remaining) in heads {
        let want = counter_state("Counting", remaining);
        assert_eq!(states[i].as_deref(), Some(&want[..]), "after event {i}");
    }
    let mut max_minus_one = vec![0x1b];
    max_minus_one.extend((u64::MAX - 1).to_be_bytes());
    assert_eq!(
        states.last().unwrap().as_deref(),
        Some(&counter_state("Counting", &max_minus_one)[..])
    );
    assert!(runs[0].failures.is_empty());
    // The snapshots along the way are in the journal, so it covered the states too.
    let snapshots = runs[0]
        .journal
        .iter()
        .filter(|bytes| {
            let record = Record::decode(bytes).unwrap();
            matches!(record.body, RecordBody::SnapshotPointer { .. })
        })
        .count();
    assert!(snapshots >= events.len() / 4, "{snapshots} snapshots");
    // The binaries (hence the manifests) differ; nothing else did.
    let manifests: std::collections::BTreeSet<Hash> =
        built.iter().map(|r| manifest_with(&air, &r.wasm)).collect();
    assert_eq!(manifests.len(), built.len());
}

/// The counter AIR with a wider event: `target` is an `int`, and there is a `Stop` arm. No
/// counter binary knows either, so `Stop` and a negative target reach every reducer as events it
/// cannot decode (the host only sends values that match the AIR, so this is how a reducer meets
/// one: its AIR moved on without it).
fn wider_event_air(dir: &Path) -> Vec<SourceFile> {
    let air = dir.join("air");
    std::fs::create_dir(&air).unwrap();
    for file in ["manifest.air.json", "module.air.json"] {
        std::fs::copy(repo().join("worlds/counter/air").join(file), air.join(file)).unwrap();
    }
    let path = repo().join("worlds/counter/air/schemas.air.json");
    let mut schemas: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for schema in schemas.as_array_mut().unwrap() {
        match schema["name"].as_str().unwrap() {
            "demo/CounterStart@1" => schema["type"]["record"]["target"] = json!({"int": {}}),
            "demo/CounterEvent@1" => schema["type"]["variant"]["Stop"] = json!({"unit": {}}),
            _ => {}
        }
    }
    std::fs::write(air.join("schemas.air.json"), schemas.to_string()).unwrap();
    air_sources(&air)
}

#[test]
fn every_language_fails_an_event_it_cannot_decode_and_keeps_its_state() {
    let test = "every_language_fails_an_event_it_cannot_decode_and_keeps_its_state";
    let Some(built) = reducers(test) else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let air = wider_event_air(scratch.path());
    let events = [
        json!({"Start": {"target": 2}}),
        json!("Tick"),
        json!("Stop"),
        json!({"Start": {"target": -1}}),
        json!("Tick"),
    ];
    let runs: Vec<Run> = built.iter().map(|r| run(&air, &r.wasm, &events)).collect();
    for (reducer, run) in built.iter().zip(&runs) {
        let language = reducer.language;
        // Events 2 and 3 failed: the state after each is the state before it.
        assert_eq!(
            run.states[2], run.states[1],
            "{language}: Stop changed the state"
        );
        assert_eq!(
            run.states[3], run.states[1],
            "{language}: Start{{-1}} changed it"
        );
        assert_eq!(
            run.states[4].as_deref(),
            Some(&counter_state("Done", &[0])[..]),
            "{language}: the counter went on after the failures"
        );
        assert_eq!(run.failures.len(), 2, "{language}: {:?}", run.failures);
        for reason in &run.failures {
            assert!(reason.contains("event"), "{language}: {reason}");
        }
        // Each failure is the module's own (`failed`, not a trap) and follows the event it names.
        let mut failed = 0;
        for (seq, bytes) in run.journal.iter().enumerate() {
            let record = Record::decode(bytes).unwrap();
            if let RecordBody::StepFailed { code, reducer, .. } = record.body {
                assert_eq!(code, "failed", "{language}: seq {seq}");
                assert_eq!(reducer.as_str(), COUNTER);
                assert_eq!(record.causes, [seq as u64 - 1], "{language}: seq {seq}");
                failed += 1;
            }
        }
        assert_eq!(failed, 2, "{language}");
    }
    assert_same_as_rust(built, &runs);
}

/// The raw ABI, below the world: the host's own input envelopes, the modules' own output bytes.
/// The world stores the host's re-encoding of a state, so only here does a module's own
/// encoding show: every module must write the identical canonical envelope.
#[test]
fn every_language_writes_the_same_output_bytes_and_fails_the_same_inputs() {
    let test = "every_language_writes_the_same_output_bytes_and_fails_the_same_inputs";
    let Some(built) = reducers(test) else {
        return;
    };
    let mut host = ReducerHost::new(&WorldConfig::default()).unwrap();
    let counter = Name::parse(COUNTER).unwrap();
    let hashes: Vec<Hash> = built.iter().map(|r| Hash::of(&r.wasm)).collect();
    for (reducer, hash) in built.iter().zip(&hashes) {
        host.compile(&counter, *hash, &reducer.wasm, "step")
            .unwrap();
    }
    let step = |state: Option<&[u8]>, value: &[u8]| -> Vec<Result<Vec<u8>, (String, String)>> {
        let input = ReducerInput {
            schema: EVENT,
            value,
            key: None,
            state,
            ctx: None,
        }
        .encode();
        hashes
            .iter()
            .map(|h| {
                host.step(h, &input)
                    .map_err(|e| (e.code.to_owned(), e.reason))
            })
            .collect()
    };
    let start = |target: Value| Value::variant("Start", Some(Value::record([("target", target)])));
    let tick = Value::variant("Tick", None).to_cbor_body();

    // The sequence of the first test: every output envelope byte for byte like Rust's, which
    // is {"state": bytes} written canonically.
    let mut state: Option<Vec<u8>> = None;
    for event in sequence() {
        let value = match event.get("Start") {
            Some(start_event) => start(Value::Nat(start_event["target"].as_u64().unwrap())),
            None => Value::variant("Tick", None),
        }
        .to_cbor_body();
        let outputs = step(state.as_deref(), &value);
        let rust = outputs[0].clone().unwrap();
        for (reducer, output) in built.iter().zip(&outputs) {
            assert_eq!(output.as_ref(), Ok(&rust), "{}", reducer.language);
        }
        let decoded = ReducerOutput::decode(&rust).unwrap();
        // Every counter state is 24 to 255 bytes long: its byte-string head is `58 len`.
        assert!((24..256).contains(&decoded.state.as_ref().unwrap().len()));
        let mut canonical = vec![0xa1, 0x65];
        canonical.extend(b"state");
        canonical.push(0x58);
        canonical.push(decoded.state.as_ref().unwrap().len() as u8);
        canonical.extend(decoded.state.as_ref().unwrap());
        assert_eq!(rust, canonical, "the envelope itself is canonical");
        state = decoded.state;
    }

    // Inputs the counter cannot decode: every module fails the step (never a trap or a bad
    // output), with a message about the part that is wrong.
    let counting = counter_state("Counting", &[3]);
    let mut truncated = start(Value::Nat(300)).to_cbor_body();
    truncated.pop();
    let mut trailing = tick.clone();
    trailing.push(0);
    let bad_events: [(&str, Vec<u8>); 6] = [
        ("unknown arm", Value::variant("Stop", None).to_cbor_body()),
        ("negative target", start(Value::Int(-1)).to_cbor_body()),
        ("text target", start(Value::Text("3".into())).to_cbor_body()),
        ("not a variant", Value::Nat(5).to_cbor_body()),
        ("truncated", truncated),
        ("trailing bytes", trailing),
    ];
    for (case, value) in &bad_events {
        expect_failures(built, step(Some(&counting), value), "event", case);
    }
    let bad_states: [(&str, Vec<u8>); 4] = [
        ("a nat", Value::Nat(1).to_cbor_body()),
        ("an unknown phase", counter_state("Paused", &[3])),
        ("a negative count", counter_state("Counting", &[0x20])),
        ("no remaining", {
            let mut s = counter_state("Idle", &[0]);
            s[0] = 0xa1;
            s.truncate(s.len() - 11);
            s
        }),
    ];
    for (case, state) in &bad_states {
        expect_failures(built, step(Some(state), &tick), "state", case);
    }
}

fn expect_failures(
    built: &[Reducer],
    outputs: Vec<Result<Vec<u8>, (String, String)>>,
    part: &str,
    case: &str,
) {
    for (reducer, output) in built.iter().zip(outputs) {
        let language = reducer.language;
        match output {
            Err((code, reason)) => {
                assert_eq!(code, "failed", "{language}, {part} {case}: {reason}");
                assert!(reason.contains(part), "{language}, {part} {case}: {reason}");
            }
            Ok(bytes) => panic!("{language} accepted a bad {part} ({case}): {bytes:02x?}"),
        }
    }
}
