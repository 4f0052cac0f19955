//! Effects end to end, in process: the AgentOS timer and blob worlds with their real adapters,
//! one test per admission denial code (the decision journaled, nothing dispatched), and forged
//! receipts refused without changing the world. Every world here is replayed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};
use worldline_adapters::{Host, HostOptions, Quiescence};
use worldline_air::load::SourceFile;
use worldline_air::{Hash, Name};
use worldline_kernel::config::WorldConfig;
use worldline_kernel::governance::GovState;
use worldline_kernel::identity::WorldKey;
use worldline_kernel::record::{ReceiptBody, RecordBody};
use worldline_kernel::world::replay;
use worldline_kernel::{CreateOptions, Ingress, KernelError, World};
use worldline_tests::sources::air_sources;
use worldline_tests::world::{records, repo};

fn now_ns() -> u64 {
    worldline_adapters::clock::now_ns()
}

fn ingress() -> Ingress {
    Ingress {
        now_ns: now_ns(),
        entropy: [3; 32],
    }
}

/// The Rust module of a package in modules/, built as `world new` builds it.
fn package(name: &str) -> Vec<u8> {
    worldline_cli::modules::build_package(&repo().join("modules"), name).unwrap()
}

fn create(dir: &Path, air: Vec<SourceFile>, module: &str, wasm: Vec<u8>) -> World {
    create_with(
        dir,
        air,
        BTreeMap::from([(Name::parse(module).unwrap(), wasm)]),
    )
}

fn create_with(dir: &Path, air: Vec<SourceFile>, binaries: BTreeMap<Name, Vec<u8>>) -> World {
    let options = CreateOptions {
        config: WorldConfig::default(),
        seed: [9; 32],
        ingress: ingress(),
    };
    World::create(dir, &air, binaries, options).unwrap()
}

fn state(world: &World, reducer: &str) -> Json {
    let value = world
        .state(&Name::parse(reducer).unwrap(), &[])
        .unwrap()
        .unwrap();
    value.to_plain_json()
}

fn assert_replays(dir: &Path) {
    let report = replay(dir).unwrap();
    assert!(report.records > 0);
}

#[test]
fn hello_timer_fires_after_a_real_two_second_timer() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("w");
    let air = air_sources(&repo().join("worlds/hello-timer/air"));
    let world = create(&dir, air, "demo/TimerSM@1", package("hello-timer"));
    let mut host = Host::start(world, HostOptions::default()).unwrap();
    let deadline_ns = now_ns() + 2_000_000_000;
    let start = json!({"Start": {"deliver_at_ns": deadline_ns, "key": "hello"}});
    let event = host
        .world()
        .event_from_json("demo/TimerEvent@1", &start)
        .unwrap();
    let began = Instant::now();
    host.submit(vec![event]).unwrap();
    assert_eq!(
        state(host.world(), "demo/TimerSM@1")["pc"],
        json!({"$tag": "Awaiting"})
    );
    let quiet = host.run_until_quiescent(Duration::from_secs(20)).unwrap();
    assert_eq!(quiet, Quiescence::Quiet);
    assert!(
        began.elapsed() >= Duration::from_millis(1900),
        "fired early"
    );
    let world = host.into_world();
    let s = state(&world, "demo/TimerSM@1");
    assert_eq!(s["pc"], json!({"$tag": "Done"}));
    assert_eq!(s["fired_key"], json!("hello"));
    let receipts: Vec<ReceiptBody> = records(&world)
        .into_iter()
        .filter_map(|r| match r.body {
            RecordBody::Receipt(receipt) => Some(receipt),
            _ => None,
        })
        .collect();
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0].adapter_id, "timer");
    assert!(receipts[0].finished_ns >= deadline_ns);
    drop(world);
    assert_replays(&dir);
}

#[test]
fn blob_echo_round_trips_through_the_cas() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("w");
    let air = air_sources(&repo().join("worlds/blob-echo/air"));
    let world = create(&dir, air, "demo/BlobEchoSM@1", package("blob-echo"));
    let mut host = Host::start(world, HostOptions::default()).unwrap();
    let data = b"hello, blob";
    let start = json!({"Start": {"data": base64(data)}});
    let event = host
        .world()
        .event_from_json("demo/BlobEchoEvent@1", &start)
        .unwrap();
    host.submit(vec![event]).unwrap();
    let quiet = host.run_until_quiescent(Duration::from_secs(10)).unwrap();
    assert_eq!(quiet, Quiescence::Quiet);
    let world = host.into_world();
    let s = state(&world, "demo/BlobEchoSM@1");
    let expected = Hash::of(data).to_string();
    assert_eq!(s["pc"], json!({"$tag": "Done"}));
    assert_eq!(s["stored_blob_ref"], json!(expected));
    assert_eq!(s["retrieved_blob_ref"], s["stored_blob_ref"]);
    assert_eq!(s["retrieved_blob_hash"], json!(expected));
    assert_eq!(world.object(&Hash::of(data)).unwrap().unwrap(), data);
    drop(world);
    assert_replays(&dir);
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The emitter world, its manifest changed by `edit`.
fn emitter_world(dir: &Path, edit: impl FnOnce(&mut Json)) -> World {
    let mut sources = air_sources(&repo().join("tests/data/emitter/air"));
    let mut nodes: Json = serde_json::from_str(&sources[0].text).unwrap();
    edit(&mut nodes);
    sources[0].text = nodes.to_string();
    create(dir, sources, "test/Emitter@1", emitter_wasm())
}

fn emitter_wasm() -> Vec<u8> {
    static WASM: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    WASM.get_or_init(|| package("emitter")).clone()
}

fn node<'a>(nodes: &'a mut Json, kind: &str) -> &'a mut Json {
    nodes
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|n| n["$kind"] == kind)
        .unwrap()
}

/// CBOR of a typed value given in the tagged JSON lens (what a reducer would write).
fn cbor(json: Json) -> Vec<u8> {
    let bytes = worldline_air::cbor::json_canonical_bytes(&json).unwrap();
    match bytes.strip_prefix(&worldline_air::cbor::SELF_DESCRIBE) {
        Some(body) => body.to_vec(),
        None => bytes,
    }
}

fn timer_params(deliver_at_ns: u64) -> Vec<u8> {
    cbor(json!({"deliver_at_ns": deliver_at_ns, "key": "k"}))
}

/// Sends an `Emit` event; returns the decisions journaled for the intent it caused.
fn emit(
    world: &mut World,
    kind: &str,
    params: &[u8],
    slot: Option<&str>,
) -> Vec<(String, bool, String)> {
    let spec = json!({"Emit": {
        "kind": kind,
        "params": base64(params),
        "cap_slot": slot,
        "idempotency_key": null,
    }});
    let event = world.event_from_json("test/EmitterEvent@1", &spec).unwrap();
    let appended = world.submit(vec![(event, ingress())], true).unwrap();
    let seqs = &appended[0];
    let records = world.records(seqs[0], seqs.len()).unwrap();
    assert!(
        records
            .iter()
            .any(|(r, _)| matches!(r.body, RecordBody::EffectIntent(_))),
        "every effect is journaled as an intent"
    );
    records
        .into_iter()
        .filter_map(|(r, _)| match r.body {
            RecordBody::Admission(a) => Some((a.stage, a.allowed, a.code)),
            _ => None,
        })
        .collect()
}

/// One denial: the decision is journaled with its code, nothing is dispatched, and the world
/// replays.
fn assert_denied(
    edit: impl FnOnce(&mut Json),
    kind: &str,
    params: &[u8],
    slot: Option<&str>,
    code: &str,
) {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("w");
    let mut world = emitter_world(&dir, edit);
    let decisions = emit(&mut world, kind, params, slot);
    let last = decisions.last().unwrap();
    assert_eq!((last.1, last.2.as_str()), (false, code), "{decisions:?}");
    assert!(
        world.take_dispatch().is_empty(),
        "a denied intent is never dispatched"
    );
    assert!(world.open_intents().is_empty());
    drop(world);
    assert_replays(&dir);
}

#[test]
fn an_allowed_intent_is_decided_twice_and_dispatched_once() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("w");
    let mut world = emitter_world(&dir, |_| {});
    let decisions = emit(
        &mut world,
        "timer.set",
        &timer_params(u64::MAX),
        Some("timer"),
    );
    assert_eq!(
        decisions,
        vec![
            ("capability".into(), true, "allowed".into()),
            ("policy".into(), true, "allowed".into())
        ]
    );
    assert_eq!(world.take_dispatch().len(), 1);
    assert!(
        world.take_dispatch().is_empty(),
        "each intent is handed out once"
    );
    // An identical second intent while the first is open is not admitted again.
    let again = emit(
        &mut world,
        "timer.set",
        &timer_params(u64::MAX),
        Some("timer"),
    );
    assert_eq!(again[0].2, "intent_duplicate");
    drop(world);
    assert_replays(&dir);
    // After a restart, the open intent is handed out again (at-least-once dispatch).
    let mut reopened = World::open(&dir).unwrap();
    assert_eq!(reopened.take_dispatch().len(), 1);
}

#[test]
fn denial_effect_unknown() {
    assert_denied(|_| {}, "http.request", &[0xa0], None, "effect_unknown");
}

#[test]
fn denial_origin_not_allowed() {
    let edit = |n: &mut Json| {
        node(n, "defmodule")["abi"]["reducer"]["effects_emitted"] =
            json!(["timer.set", "blob.put"]);
    };
    let params = cbor(json!({"blob_ref": Hash::of(b"x").to_string()}));
    assert_denied(
        edit,
        "blob.get",
        &params,
        Some("blob"),
        "origin_not_allowed",
    );
}

#[test]
fn denial_params_invalid() {
    let params = cbor(json!({"deliver_at_ns": "soon"}));
    assert_denied(
        |_| {},
        "timer.set",
        &params,
        Some("timer"),
        "params_invalid",
    );
}

#[test]
fn denial_grant_missing() {
    let edit = |n: &mut Json| {
        let manifest = node(n, "manifest");
        manifest["defaults"]["cap_grants"] =
            json!([{"name": "blob_grant", "cap": "sys/blob@1", "params": {}}]);
        manifest["module_bindings"] = json!({"test/Emitter@1": {"slots": {"blob": "blob_grant"}}});
    };
    assert_denied(
        edit,
        "timer.set",
        &timer_params(u64::MAX),
        Some("timer"),
        "grant_missing",
    );
}

#[test]
fn denial_grant_expired() {
    let edit = |n: &mut Json| {
        node(n, "manifest")["defaults"]["cap_grants"][0]["expiry_ns"] = json!(1_000);
    };
    assert_denied(
        edit,
        "timer.set",
        &timer_params(u64::MAX),
        Some("timer"),
        "grant_expired",
    );
}

#[test]
fn denial_cap_type_mismatch() {
    // A timer through the blob slot: the slot's grant is a blob cap.
    assert_denied(
        |_| {},
        "timer.set",
        &timer_params(u64::MAX),
        Some("blob"),
        "cap_type_mismatch",
    );
}

#[test]
fn denial_policy_denied_by_rule_and_by_absence() {
    let by_rule = |n: &mut Json| {
        node(n, "defpolicy")["rules"][0]["decision"] = json!("deny");
    };
    assert_denied(
        by_rule,
        "timer.set",
        &timer_params(u64::MAX),
        Some("timer"),
        "policy_denied",
    );
    let no_policy = |n: &mut Json| {
        node(n, "manifest")["defaults"]
            .as_object_mut()
            .unwrap()
            .remove("policy");
    };
    assert_denied(
        no_policy,
        "timer.set",
        &timer_params(u64::MAX),
        Some("timer"),
        "policy_denied",
    );
}

/// A WAT pure module that answers every check with the same CapCheckOutput.
fn enforcer_wat(output: &Json) -> Vec<u8> {
    let inner = cbor(output.clone());
    let mut envelope = vec![0xa1, 0x66];
    envelope.extend_from_slice(b"output");
    envelope.push(0x58);
    envelope.push(u8::try_from(inner.len()).unwrap());
    envelope.extend_from_slice(&inner);
    let data: String = envelope.iter().map(|b| format!("\\{b:02x}")).collect();
    let text = format!(
        r#"(module
  (memory (export "memory") 1)
  (data (i32.const 0) "{data}")
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "run") (param i32 i32) (result i32 i32) (i32.const 0) (i32.const {len})))"#,
        len = envelope.len()
    );
    wat::parse_str(text).unwrap()
}

fn guarded_world(dir: &Path, verdict: &Json) -> World {
    let enforcer = enforcer_wat(verdict);
    let mut sources = air_sources(&repo().join("tests/data/emitter/air"));
    let mut nodes: Json = serde_json::from_str(&sources[0].text).unwrap();
    let list = nodes.as_array_mut().unwrap();
    list.push(
        json!({"$kind": "defmodule", "name": "test/Guard@1", "module_kind": "pure",
        "wasm_hash": Hash::of(&enforcer).to_string(),
        "abi": {"pure": {"input": "sys/CapCheckInput@1", "output": "sys/CapCheckOutput@1"}}}),
    );
    list.push(
        json!({"$kind": "defcap", "name": "test/guarded_timer@1", "cap_type": "timer",
        "schema": {"record": {}}, "enforcer": {"module": "test/Guard@1"}}),
    );
    let manifest = node(&mut nodes, "manifest");
    manifest["modules"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "test/Guard@1"}));
    manifest["caps"] = json!([{"name": "test/guarded_timer@1"}]);
    manifest["schemas"].as_array_mut().unwrap().extend([
        json!({"name": "sys/CapCheckInput@1"}),
        json!({"name": "sys/CapCheckOutput@1"}),
    ]);
    manifest["defaults"]["cap_grants"][0]["cap"] = json!("test/guarded_timer@1");
    sources[0].text = nodes.to_string();
    let binaries = BTreeMap::from([
        (Name::parse("test/Emitter@1").unwrap(), emitter_wasm()),
        (Name::parse("test/Guard@1").unwrap(), enforcer),
    ]);
    create_with(dir, sources, binaries)
}

#[test]
fn a_pure_module_enforcer_decides_through_the_reducer_host() {
    let scratch = tempfile::tempdir().unwrap();
    let deny = json!({"constraints_ok": false, "deny": {"code": "timer_guarded", "message": "no timers today"}});
    let dir = scratch.path().join("deny");
    let mut world = guarded_world(&dir, &deny);
    let decisions = emit(
        &mut world,
        "timer.set",
        &timer_params(u64::MAX),
        Some("timer"),
    );
    assert_eq!(
        decisions,
        vec![("capability".into(), false, "timer_guarded".into())]
    );
    assert!(world.take_dispatch().is_empty());
    drop(world);
    assert_replays(&dir);

    let allow = json!({"constraints_ok": true, "deny": null});
    let dir = scratch.path().join("allow");
    let mut world = guarded_world(&dir, &allow);
    let decisions = emit(
        &mut world,
        "timer.set",
        &timer_params(u64::MAX),
        Some("timer"),
    );
    assert!(decisions.iter().all(|d| d.1), "{decisions:?}");
    assert_eq!(world.take_dispatch().len(), 1);
}

/// A world with one open timer intent and a registered adapter key; returns the intent hash.
fn world_with_open_timer(dir: &Path, signer: &WorldKey) -> (World, Hash) {
    let mut world = emitter_world(dir, |_| {});
    world
        .register_adapter("timer", signer.public(), ingress())
        .unwrap()
        .unwrap();
    emit(&mut world, "timer.set", &timer_params(5), Some("timer"));
    let hash = world.open_intents()[0].intent.intent_hash;
    (world, hash)
}

fn signed_receipt(signer: &WorldKey, intent_hash: Hash) -> ReceiptBody {
    let mut receipt = ReceiptBody {
        intent_hash,
        adapter_id: "timer".into(),
        status: "ok".into(),
        payload: cbor(json!({"delivered_at_ns": 7, "key": "k"})),
        cost_cents: None,
        started_ns: 1,
        finished_ns: 2,
        error: None,
        signature: Vec::new(),
    };
    let bytes = worldline_kernel::effects::receipt::signing_bytes(&receipt);
    receipt.signature = signer
        .sign(
            worldline_kernel::effects::receipt::RECEIPT_SIGNATURE_TAG,
            &bytes,
        )
        .to_vec();
    receipt
}

fn refused(world: &mut World, receipt: ReceiptBody) -> &'static str {
    let head = world.head();
    let open = world.open_intents();
    match world.submit_receipt(receipt, Vec::new(), ingress()) {
        Err(KernelError::ReceiptRefused(refusal)) => {
            assert_eq!(world.head(), head, "a refused receipt changes nothing");
            assert_eq!(world.open_intents(), open);
            refusal.code
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn forged_receipts_are_refused_and_change_nothing() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("w");
    let adapter = WorldKey::from_seed([1; 32]);
    let (mut world, intent) = world_with_open_timer(&dir, &adapter);

    let forger = WorldKey::from_seed([2; 32]);
    assert_eq!(
        refused(&mut world, signed_receipt(&forger, intent)),
        "signature_invalid"
    );

    let mut flipped = signed_receipt(&adapter, intent);
    let last = flipped.payload.len() - 1;
    flipped.payload[last] ^= 1;
    assert_eq!(refused(&mut world, flipped), "signature_invalid");

    let mut flipped_signature = signed_receipt(&adapter, intent);
    flipped_signature.signature[0] ^= 1;
    assert_eq!(refused(&mut world, flipped_signature), "signature_invalid");

    let unknown = signed_receipt(&adapter, Hash::of(b"no such intent"));
    assert_eq!(refused(&mut world, unknown), "intent_unknown");

    let mut stranger = signed_receipt(&adapter, intent);
    stranger.adapter_id = "stranger".into();
    assert_eq!(refused(&mut world, stranger), "adapter_unknown");

    let good = signed_receipt(&adapter, intent);
    let seqs = world
        .submit_receipt(good.clone(), Vec::new(), ingress())
        .unwrap();
    assert!(world.open_intents().is_empty());
    assert_eq!(
        state(&world, "test/Emitter@1")["last"],
        json!("timer.set ok"),
        "the receipt reached the reducer"
    );
    assert_eq!(seqs.len(), 1, "the reducer's step emitted nothing");
    assert_eq!(refused(&mut world, good), "receipt_duplicate");
    drop(world);
    assert_replays(&dir);
}

/// No pure enforcer runs in this test: every cap here has a native enforcer.
struct NoPureModules;

impl worldline_kernel::effects::EnforcerRunner for NoPureModules {
    fn run_enforcer(&self, module: &Name, _input: &[u8]) -> Result<Vec<u8>, String> {
        Err(format!("{module}: no pure modules in this test"))
    }
}

#[test]
fn denial_host_not_allowed_for_a_plan_through_the_native_http_enforcer() {
    use worldline_air::load::load_sources;
    use worldline_air::plane::BuildOptions;
    use worldline_kernel::effects::{AdmissionContext, CapRef, EffectsState, IntentRequest, admit};
    use worldline_kernel::record::{Origin, OriginKind};

    let Some(agentos) = worldline_tests::conformance::agentos_dir("denial_host_not_allowed") else {
        return;
    };
    let air = air_sources(&agentos.join("examples/03-fetch-notify/air"));
    let plane = load_sources(&air, &BuildOptions::default()).unwrap();
    let effects = EffectsState::default();
    let ctx = AdmissionContext {
        plane: &plane,
        logical_now_ns: 1,
        effects: &effects,
        enforcers: &NoPureModules,
        governance: &GovState::default(),
    };
    let decide = |url: &str| {
        let params = cbor(json!({"method": "GET", "url": url, "headers": {}, "body_ref": null}));
        let request = IntentRequest {
            kind: "http.request",
            params: &params,
            cap: CapRef::Grant("cap_http_fetch"),
            idempotency_key: None,
            origin: Origin {
                kind: OriginKind::Plan,
                name: Name::parse("demo/fetch_plan@1").unwrap(),
                key: None,
            },
        };
        let admission = admit(&ctx, &request);
        let last = admission.decisions.last().unwrap().clone();
        (admission.allowed(), last.code)
    };
    assert_eq!(
        decide("https://example.com/data"),
        (true, "allowed".to_owned())
    );
    assert_eq!(
        decide("https://evil.example/data"),
        (false, "host_not_allowed".to_owned())
    );
}
