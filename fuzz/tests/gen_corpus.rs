#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Writes the seed corpus `fuzz/corpus/<target>/` from the test worlds. Ignored by default (the
//! corpus is committed); regenerate with
//! `cargo test -p worldline-fuzz --test gen_corpus -- --ignored`. Regression inputs
//! (`regress-*`) are never touched.

use std::path::{Path, PathBuf};

use serde_json::{Value as Json, json};
use worldline_air::cbor::{self, Cbor};
use worldline_air::nodes::DefKind;
use worldline_air::{Hash, Name, Value};
use worldline_fuzz::fixtures;
use worldline_kernel::config::WorldConfig;
use worldline_kernel::effects::receipt::{self, RECEIPT_SIGNATURE_TAG};
use worldline_kernel::lineage::bundle::export;
use worldline_kernel::record::{ReceiptBody, Record, RecordBody, Stamp};
use worldline_kernel::{Ingress, World};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn corpus(target: &str) -> PathBuf {
    let dir = repo().join("fuzz/corpus").join(target);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("seed-") {
            std::fs::remove_file(path).unwrap();
        }
    }
    dir
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(format!("seed-{name}")), bytes).unwrap();
}

/// The counter world on the hand-written WAT reducer (a small binary keeps the bundle small).
fn counter_world(dir: &Path) -> World {
    let module = format!(
        "demo/CounterSM@1={}",
        repo().join("modules/wat/counter.wat").display()
    );
    let mut world = worldline_cli::world_cmd::create_world(
        dir,
        &repo().join("worlds/counter"),
        &[module],
        WorldConfig {
            snapshot_every: 4,
            ..WorldConfig::default()
        },
    )
    .unwrap();
    for i in 0..6u64 {
        let event = if i % 4 == 0 {
            json!({"Start": {"target": 2}})
        } else {
            json!("Tick")
        };
        let input = world
            .event_from_json("demo/CounterEvent@1", &event)
            .unwrap();
        let ingress = Ingress {
            now_ns: 1_900_000_000_000_000_000 + i * 1_000,
            entropy: [i as u8; 32],
        };
        world.submit(vec![(input, ingress)], true).unwrap();
    }
    world
}

fn air_corpus() {
    let dir = corpus("air_load");
    let mut worlds: Vec<PathBuf> = std::fs::read_dir(repo().join("worlds"))
        .unwrap()
        .map(|e| e.unwrap().path().join("air"))
        .filter(|p| p.is_dir())
        .collect();
    worlds.sort();
    for air in worlds {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&air)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(".air.json"))
            .collect();
        files.sort();
        let mut nodes = Vec::new();
        for file in files {
            match serde_json::from_str::<Json>(&std::fs::read_to_string(file).unwrap()).unwrap() {
                Json::Array(items) => nodes.extend(items),
                node => nodes.push(node),
            }
        }
        let name = air
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let text = serde_json::to_string(&Json::Array(nodes)).unwrap();
        write(&dir, &format!("{name}.air.json"), text.as_bytes());
    }
}

fn value_corpus() {
    let dir = corpus("value_normalize");
    let plane = fixtures::counter_plane().unwrap();
    let cases: [(u8, Json); 12] = [
        (0, json!({"pc": "Idle", "remaining": 3})),
        (0, json!({"pc": {"$tag": "Counting"}, "remaining": 0})),
        (1, json!({"Start": {"target": 5}})),
        (1, json!("Tick")),
        (
            1,
            json!({"variant": {"tag": "Tick", "value": {"unit": null}}}),
        ),
        (
            2,
            json!({"b": true, "i": -7, "n": 18_446_744_073_709_551_615u64, "d": "-1.250",
                   "by": "AAEC", "t": "héllo", "tm": "2030-01-01T00:00:00.5Z", "du": 1_500,
                   "h": Hash::of(b"x").to_string(), "u": "6F9619FF-8B86-D011-B42D-00C04FC964FF",
                   "z": null, "o": null}),
        ),
        (
            3,
            json!(["1", "0.10", "-0", "1e3", "79228162514264337593543950335"]),
        ),
        (4, json!(["b", "a", "b", ""])),
        (5, json!({"6f9619ff-8b86-d011-b42d-00c04fc964ff": null})),
        (
            6,
            json!([{"key": -1, "value": [1, 2]}, {"key": 3, "value": []}]),
        ),
        (7, json!({"$tag": "B", "$value": [3, 1, 3]})),
        (7, json!({"C": {"target": 1}})),
    ];
    for (index, (selector, value)) in cases.iter().enumerate() {
        let mut json_input = vec![*selector];
        json_input.extend_from_slice(serde_json::to_string(value).unwrap().as_bytes());
        write(&dir, &format!("json-{index}"), &json_input);
        // The same value through the CBOR door, when it reads.
        if let Some(ty) = type_for(usize::from(*selector))
            && let Ok(normal) = worldline_air::value::from_any_json(value, &ty, plane)
        {
            let mut cbor_input = vec![*selector | 0x80];
            cbor_input.extend_from_slice(&normal.to_cbor_body());
            write(&dir, &format!("cbor-{index}"), &cbor_input);
        }
    }
}

/// The types of `targets::value_normalize`, by the same index (a few are enough to seed).
fn type_for(index: usize) -> Option<worldline_air::TypeExpr> {
    let plane = fixtures::counter_plane()?;
    let named = |n: &str| plane.schema_type_of(&Name::parse(n).ok()?).cloned();
    let parse = |j: Json| worldline_air::TypeExpr::from_json(&j, "$").ok();
    match index {
        0 => named("demo/CounterState@1"),
        1 => named("demo/CounterEvent@1"),
        2 => parse(
            json!({"record": {"b": {"bool": {}}, "i": {"int": {}}, "n": {"nat": {}},
            "d": {"dec128": {}}, "by": {"bytes": {}}, "t": {"text": {}}, "tm": {"time": {}},
            "du": {"duration": {}}, "h": {"hash": {}}, "u": {"uuid": {}}, "z": {"unit": {}},
            "o": {"option": {"int": {}}}}}),
        ),
        3 => parse(json!({"list": {"dec128": {}}})),
        4 => parse(json!({"set": {"text": {}}})),
        5 => parse(json!({"map": {"key": {"uuid": {}}, "value": {"option": {"hash": {}}}}})),
        6 => parse(json!({"map": {"key": {"int": {}}, "value": {"list": {"nat": {}}}}})),
        7 => parse(
            json!({"variant": {"A": {"unit": {}}, "B": {"set": {"int": {}}},
            "C": {"ref": "demo/CounterStart@1"}}}),
        ),
        _ => None,
    }
}

fn patch_corpus() {
    let dir = corpus("patch_compile");
    let plane = fixtures::counter_plane().unwrap();
    let base = plane.manifest_hash().to_string();
    let def_hash = |kind, name: &str| {
        plane
            .def(kind, &Name::parse(name).unwrap())
            .unwrap()
            .hash
            .to_string()
    };
    let docs = [
        json!({"version": "1", "base_manifest_hash": "@base", "patches": [
            {"add_def": {"kind": "defschema", "node": {"$kind": "defschema", "name": "demo/Note@1",
             "type": {"record": {"body": {"text": {}}}}}}}]}),
        json!({"version": "1", "base_manifest_hash": base, "patches": [
            {"replace_def": {"kind": "defschema", "name": "demo/CounterStart@1",
             "new_node": {"$kind": "defschema", "name": "demo/CounterStart@1",
                          "type": {"record": {"target": {"nat": {}}, "note": {"option": {"text": {}}}}}},
             "pre_hash": def_hash(DefKind::Schema, "demo/CounterStart@1")}}]}),
        json!({"base_manifest_hash": "@base", "patches": [
            {"remove_def": {"kind": "defschema", "name": "demo/CounterTick@1",
             "pre_hash": def_hash(DefKind::Schema, "demo/CounterTick@1")}}]}),
        json!({"base_manifest_hash": "@base", "patches": [
            {"set_manifest_refs": {"remove": [{"kind": "defschema", "name": "demo/CounterPc@1"}]}},
            {"set_defaults": {"policy": null}}]}),
        json!({"base_manifest_hash": "@base", "patches": [
            {"set_routing_events": {"pre_hash": base, "events": []}}]}),
    ];
    for (index, doc) in docs.iter().enumerate() {
        write(
            &dir,
            &format!("{index}.json"),
            serde_json::to_string(doc).unwrap().as_bytes(),
        );
    }
}

fn map(entries: Vec<(&str, Cbor)>) -> Cbor {
    Cbor::Map(
        entries
            .into_iter()
            .map(|(k, v)| (Cbor::Text(k.to_owned()), v))
            .collect(),
    )
}

fn envelope_corpus() {
    let dir = corpus("envelope_decode");
    let state = |pc: &str, remaining: u64| {
        Value::record([
            ("pc", Value::variant(pc, None)),
            ("remaining", Value::Nat(remaining)),
        ])
        .to_cbor_body()
    };
    let start =
        Value::variant("Start", Some(Value::record([("target", Value::Nat(3))]))).to_cbor_body();
    let envelopes = [
        map(vec![("state", Cbor::Bytes(state("Counting", 2)))]),
        map(vec![
            ("state", Cbor::Null),
            ("ann", Cbor::Bytes(vec![1, 2])),
        ]),
        map(vec![
            ("state", Cbor::Bytes(state("Done", 0))),
            (
                "domain_events",
                Cbor::Array(vec![map(vec![
                    ("schema", Cbor::Text("demo/CounterEvent@1".into())),
                    ("value", Cbor::Bytes(start)),
                    ("key", Cbor::Null),
                ])]),
            ),
            (
                "effects",
                Cbor::Array(vec![map(vec![
                    ("kind", Cbor::Text("timer.set".into())),
                    ("params_cbor", Cbor::Bytes(vec![0xa0])),
                    ("cap_slot", Cbor::Text("default".into())),
                    ("idempotency_key", Cbor::Bytes(vec![0; 32])),
                ])]),
            ),
        ]),
        map(vec![("output", Cbor::Bytes(vec![0xf6]))]),
    ];
    for (index, envelope) in envelopes.iter().enumerate() {
        write(
            &dir,
            &format!("{index}.cbor"),
            &envelope.to_canonical().unwrap(),
        );
    }
    // Non-canonical forms: an indefinite map without the tag, a state with fields reordered.
    write(
        &dir,
        "indefinite.cbor",
        &[0xbf, 0x65, b's', b't', b'a', b't', b'e', 0x41, 0xf6, 0xff],
    );
}

fn receipt_record(payload: Vec<u8>, status: &str, sign: bool) -> Vec<u8> {
    let open = fixtures::open_intent().unwrap();
    let mut body = ReceiptBody {
        intent_hash: open.intent.intent_hash,
        adapter_id: fixtures::ADAPTER_ID.to_owned(),
        status: status.to_owned(),
        payload,
        cost_cents: Some(0),
        started_ns: 1_900_000_000_000_000_000,
        finished_ns: 1_900_000_000_000_000_100,
        error: None,
        signature: vec![0; 64],
    };
    if sign {
        body.signature = fixtures::adapter_key()
            .sign(RECEIPT_SIGNATURE_TAG, &receipt::signing_bytes(&body))
            .to_vec();
    }
    Record {
        seq: 6,
        causes: vec![],
        stamp: Some(Stamp {
            now_ns: 1_900_000_000_000_000_200,
            logical_now_ns: 1_900_000_000_000_000_200,
            entropy: [3; 32],
            manifest_hash: fixtures::timer_plane().unwrap().manifest_hash(),
        }),
        body: RecordBody::Receipt(body),
    }
    .encode()
}

fn receipt_corpus(records: &[Vec<u8>]) {
    let dir = corpus("receipt_admission");
    let payload = |key: Value| {
        Value::record([
            ("delivered_at_ns", Value::Nat(1_900_000_000_000_000_050)),
            ("key", key),
        ])
        .to_cbor_body()
    };
    let cases = [
        (0u8, receipt_record(payload(Value::Null), "ok", true)),
        (
            2,
            receipt_record(payload(Value::Text("k".into())), "ok", false),
        ),
        (3, receipt_record(payload(Value::Null), "timeout", false)),
        (
            2,
            receipt_record(vec![0xa1, 0x63, b'k', b'e', b'y', 0xf6], "error", false),
        ),
    ];
    for (index, (flags, record)) in cases.iter().enumerate() {
        let mut input = vec![*flags];
        input.extend_from_slice(record);
        write(&dir, &format!("receipt-{index}"), &input);
    }
    for (index, record) in records.iter().take(8).enumerate() {
        let mut input = vec![0];
        input.extend_from_slice(record);
        write(&dir, &format!("record-{index}"), &input);
    }
}

fn cbor_corpus(records: &[Vec<u8>]) {
    let dir = corpus("cbor_decode");
    for (index, record) in records.iter().take(12).enumerate() {
        write(&dir, &format!("record-{index}.cbor"), record);
    }
    let hand: [(&str, &str); 8] = [
        ("empty-map", "a0"),
        ("tagged-map", "d9d9f7a0"),
        ("indefinite", "9f0102ff"),
        ("long-head", "1b0000000000000001"),
        ("negative", "3bffffffffffffffff"),
        ("text-chunks", "7f6161616262ff"),
        ("unsorted", "a2616202616101"),
        ("nested-tag", "c1c2a1f5f4"),
    ];
    for (name, hex) in hand {
        write(&dir, &format!("{name}.cbor"), &cbor::from_hex(hex).unwrap());
    }
}

fn bundle_corpus(world: &mut World) {
    let dir = corpus("bundle_verify");
    let mut bytes = Vec::new();
    export(world, &mut bytes, false, &mut |_| {}).unwrap();
    write(&dir, "counter.bundle", &bytes);
    let mut keyed = Vec::new();
    export(world, &mut keyed, true, &mut |_| {}).unwrap();
    write(&dir, "counter-with-key.bundle", &keyed);
}

#[test]
#[ignore = "writes fuzz/corpus/; run by hand to regenerate the seeds"]
fn generate_corpus() {
    let temp = tempfile::tempdir().unwrap();
    let mut world = counter_world(&temp.path().join("counter"));
    let records: Vec<Vec<u8>> = world
        .records(0, 64)
        .unwrap()
        .into_iter()
        .map(|(record, _)| record.encode())
        .collect();
    air_corpus();
    value_corpus();
    patch_corpus();
    envelope_corpus();
    receipt_corpus(&records);
    cbor_corpus(&records);
    bundle_corpus(&mut world);
}
