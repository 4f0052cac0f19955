//! One function per fuzz target. Each takes arbitrary bytes, must return for every input (the
//! code under test answers with typed errors) and asserts the round-trip properties noted on it.
//! [`ALL`] lists them by name, as `fuzz/harness/fuzz_targets/` and the corpus test use them.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::Value as Json;
use worldline_air::cbor;
use worldline_air::load::{SourceFile, load_sources};
use worldline_air::nodes::{DefKind, Node};
use worldline_air::patch::compile;
use worldline_air::plane::BuildOptions;
use worldline_air::value::{from_any_json, is_canonical};
use worldline_air::{Name, SchemaLookup, TypeExpr, Value};
use worldline_kernel::effects::receipt::{self, RECEIPT_SIGNATURE_TAG};
use worldline_kernel::host::envelope::{ReducerOutput, decode_pure_output};
use worldline_kernel::lineage::bundle::{read_header, verify_bundle};
use worldline_kernel::record::{Record, RecordBody};

use crate::fixtures;

/// A fuzz target: arbitrary bytes in, nothing out; a panic is a finding.
pub type Target = fn(&[u8]);

/// Every target with its name (the name of its corpus folder and of its libFuzzer binary).
pub const ALL: [(&str, Target); 7] = [
    ("cbor_decode", cbor_decode),
    ("air_load", air_load),
    ("value_normalize", value_normalize),
    ("patch_compile", patch_compile),
    ("envelope_decode", envelope_decode),
    ("receipt_admission", receipt_admission),
    ("bundle_verify", bundle_verify),
];

/// Canonical CBOR decode. When the bytes decode, the item has a canonical encoding, that
/// encoding decodes to the same item, and re-encoding is a fixed point; bytes that already are
/// canonical (with or without the self-describe tag) re-encode to themselves.
pub fn cbor_decode(data: &[u8]) {
    let Ok(item) = cbor::decode(data) else {
        return;
    };
    let canonical = match item.to_canonical() {
        Ok(bytes) => bytes,
        Err(error) => panic!("a decoded item has no canonical form: {error}"),
    };
    // Map entries keep their decoded order, so items are compared by their canonical bytes.
    let reread = cbor::decode(&canonical).map(|item| item.to_canonical());
    assert_eq!(
        reread,
        Ok(Ok(canonical.clone())),
        "canonical bytes do not decode and re-encode to themselves"
    );
    // Items are not compared after decoding the untagged body: a leading self-describe tag is
    // dropped on decode, so the body of `Tag(55799, x)` reads back as `x` (regression test
    // `cbor_double_self_describe_tag`).
    // The JSON lens must not panic either (it may refuse: bytes, tags, large integers).
    if let Ok(json) = cbor::cbor_to_json(&item) {
        let _ = cbor::json_to_cbor(&json);
    }
}

/// AIR JSON load and validate: the bytes as the text of a one-file world (a node or an array of
/// nodes). Loading is deterministic: a world that loads twice has the same manifest hash.
pub fn air_load(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let files = [SourceFile {
        name: "fuzz.air.json".to_owned(),
        text: text.to_owned(),
    }];
    let options = BuildOptions::default();
    if let Ok(plane) = load_sources(&files, &options) {
        let again = load_sources(&files, &options).map(|p| p.manifest_hash());
        assert_eq!(again.ok(), Some(plane.manifest_hash()), "loading drifts");
    }
}

/// The types [`value_normalize`] reads values as: the counter's schemas and a few that use
/// every primitive and every composite.
fn value_types() -> &'static [TypeExpr] {
    static TYPES: OnceLock<Vec<TypeExpr>> = OnceLock::new();
    TYPES.get_or_init(|| {
        let name = |text: &str| Name::parse(text).ok().map(TypeExpr::Ref);
        let boxed = Box::new;
        let record = |fields: Vec<(&str, TypeExpr)>| {
            TypeExpr::Record(
                fields
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect::<BTreeMap<_, _>>(),
            )
        };
        let mut types: Vec<TypeExpr> = ["demo/CounterState@1", "demo/CounterEvent@1"]
            .into_iter()
            .filter_map(name)
            .collect();
        types.push(record(vec![
            ("b", TypeExpr::Bool),
            ("i", TypeExpr::Int),
            ("n", TypeExpr::Nat),
            ("d", TypeExpr::Dec128),
            ("by", TypeExpr::Bytes),
            ("t", TypeExpr::Text),
            ("tm", TypeExpr::Time),
            ("du", TypeExpr::Duration),
            ("h", TypeExpr::Hash),
            ("u", TypeExpr::Uuid),
            ("z", TypeExpr::Unit),
            ("o", TypeExpr::Option(boxed(TypeExpr::Int))),
        ]));
        types.push(TypeExpr::List(boxed(TypeExpr::Dec128)));
        types.push(TypeExpr::Set(boxed(TypeExpr::Text)));
        types.push(TypeExpr::Map {
            key: boxed(TypeExpr::Uuid),
            value: boxed(TypeExpr::Option(boxed(TypeExpr::Hash))),
        });
        types.push(TypeExpr::Map {
            key: boxed(TypeExpr::Int),
            value: boxed(TypeExpr::List(boxed(TypeExpr::Nat))),
        });
        let mut arms = BTreeMap::new();
        arms.insert("A".to_owned(), TypeExpr::Unit);
        arms.insert("B".to_owned(), TypeExpr::Set(boxed(TypeExpr::Int)));
        if let Some(start) = name("demo/CounterStart@1") {
            arms.insert("C".to_owned(), start);
        }
        types.push(TypeExpr::Variant(arms));
        types
    })
}

/// Checks the round trips of a normalized value of type `ty`.
fn check_value(value: &Value, ty: &TypeExpr, schemas: &dyn SchemaLookup) {
    let body = value.to_cbor_body();
    assert!(
        is_canonical(&body, ty, schemas),
        "the encoding of a normalized value is not recognized as canonical"
    );
    assert_eq!(
        Value::from_cbor_bytes(&body, ty, schemas).as_ref(),
        Ok(value),
        "CBOR round trip"
    );
    assert_eq!(
        value.clone().normalize(ty, schemas).as_ref(),
        Ok(value),
        "normalizing is not idempotent"
    );
    assert_eq!(
        Value::from_plain_json(&value.to_plain_json(), ty, schemas).as_ref(),
        Ok(value),
        "plain JSON round trip"
    );
    let tagged =
        Value::from_tagged_json(&value.to_tagged_json()).and_then(|v| v.normalize(ty, schemas));
    assert_eq!(tagged.as_ref(), Ok(value), "tagged JSON round trip");
}

/// Typed value normalization. The first byte picks a type (and, by its high bit, a door); the
/// rest is JSON (either lens) or CBOR. A value that reads is checked by round trips through
/// CBOR, plain JSON and tagged JSON; CBOR that `is_canonical` accepts decodes and re-encodes
/// to the same bytes.
pub fn value_normalize(data: &[u8]) {
    let (Some((&selector, rest)), Some(plane)) = (data.split_first(), fixtures::counter_plane())
    else {
        return;
    };
    let types = value_types();
    let Some(ty) = types.get(usize::from(selector & 0x7f) % types.len().max(1)) else {
        return;
    };
    let value = if selector & 0x80 == 0 {
        let Ok(json) = serde_json::from_slice::<Json>(rest) else {
            return;
        };
        from_any_json(&json, ty, plane)
    } else {
        let decoded = Value::from_cbor_bytes(rest, ty, plane);
        if is_canonical(rest, ty, plane) {
            let body = decoded.as_ref().map(Value::to_cbor_body);
            assert_eq!(
                body.as_deref(),
                Ok(rest),
                "is_canonical accepted non-canonical bytes"
            );
        }
        decoded
    };
    if let Ok(value) = value {
        check_value(&value, ty, plane);
    }
}

/// The placeholder a patch corpus entry writes for the base manifest hash, which the target
/// replaces with the counter world's (a fuzzer cannot guess a SHA-256).
pub const BASE_PLACEHOLDER: &str = "@base";

/// Patch compile: the bytes as a patch document against the counter world's control plane.
/// A patch that compiles is compiled again to the same manifest (the compiler is pure).
pub fn patch_compile(data: &[u8]) {
    let (Ok(mut json), Some(plane)) = (
        serde_json::from_slice::<Json>(data),
        fixtures::counter_plane(),
    ) else {
        return;
    };
    if let Some(base) = json.get_mut("base_manifest_hash")
        && base.as_str() == Some(BASE_PLACEHOLDER)
    {
        *base = Json::String(plane.manifest_hash().to_string());
    }
    let options = BuildOptions::default();
    if let Ok(compiled) = compile(plane, &json, &options) {
        let again = compile(plane, &json, &options).map(|c| c.plane.manifest_hash());
        assert_eq!(
            again.ok(),
            Some(compiled.plane.manifest_hash()),
            "patching drifts"
        );
    }
}

/// Reducer output envelope decode, then the stepper's checks (`world/stepper/check.rs`)
/// re-done over public items against the counter world: the state as `demo/CounterState@1`
/// and every domain event against its schema, canonical bytes kept, others normalized. Also
/// the pure module output envelope.
pub fn envelope_decode(data: &[u8]) {
    let _ = decode_pure_output(data);
    let (Ok(output), Some(plane)) = (ReducerOutput::decode(data), fixtures::counter_plane()) else {
        return;
    };
    let check = |bytes: &[u8], ty: &TypeExpr| {
        let decoded = Value::from_cbor_bytes(bytes, ty, plane);
        if is_canonical(bytes, ty, plane) {
            let body = decoded.as_ref().map(Value::to_cbor_body);
            assert_eq!(
                body.as_deref(),
                Ok(bytes),
                "is_canonical accepted non-canonical bytes"
            );
        }
        if let Ok(value) = decoded {
            let body = value.to_cbor_body();
            assert!(
                is_canonical(&body, ty, plane),
                "a normalized state is not canonical"
            );
        }
    };
    if let (Some(state), Some(ty)) = (
        &output.state,
        Name::parse("demo/CounterState@1")
            .ok()
            .and_then(|n| plane.schema_type_of(&n).cloned()),
    ) {
        check(state, &ty);
    }
    for event in &output.domain_events {
        let ty = Name::parse(&event.schema)
            .ok()
            .filter(|name| plane.def(DefKind::Schema, name).is_some())
            .and_then(|name| plane.schema_type_of(&name).cloned());
        if let Some(ty) = ty {
            check(&event.value, &ty);
        }
    }
}

/// Receipt admission. The first byte holds flags, the rest is a journal record: bit 0 points
/// the receipt at the fixture's open intent and adapter, bit 1 signs it with the fixture's
/// adapter key (so mutated payloads get past the signature). A record that decodes re-encodes
/// and decodes to itself; a receipt goes through `receipt::check` against the hello-timer
/// world's open work, and an accepted one is turned into the reducer's event.
pub fn receipt_admission(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Ok(record) = Record::decode(rest) else {
        return;
    };
    assert_eq!(
        Record::decode(&record.encode()).as_ref().ok(),
        Some(&record),
        "record round trip"
    );
    let RecordBody::Receipt(mut body) = record.body else {
        return;
    };
    let (Some(plane), Some(effects), Some(open)) = (
        fixtures::timer_plane(),
        fixtures::effects_state(),
        fixtures::open_intent(),
    ) else {
        return;
    };
    if flags & 1 != 0 {
        body.intent_hash = open.intent.intent_hash;
        fixtures::ADAPTER_ID.clone_into(&mut body.adapter_id);
    }
    if flags & 2 != 0 {
        let signature =
            fixtures::adapter_key().sign(RECEIPT_SIGNATURE_TAG, &receipt::signing_bytes(&body));
        body.signature = signature.to_vec();
    }
    let Ok(accepted) = receipt::check(plane, &effects, body) else {
        return;
    };
    let module = Name::parse(fixtures::TIMER_REDUCER)
        .ok()
        .and_then(|name| plane.def(DefKind::Module, &name));
    if let Some(Node::Module(module)) = module.map(|def| &def.node) {
        let _ = receipt::event_for_reducer(plane, module, &open, &accepted);
    }
}

/// Bundle verify: the bytes as an exported bundle, verified in memory (nothing is written),
/// and its header read alone.
pub fn bundle_verify(data: &[u8]) {
    let _ = read_header(&mut &data[..]);
    let _ = verify_bundle(&mut &data[..], None, &mut |_| {});
}

/// Runs the target named `name` on `data`; false when there is no such target.
pub fn run(name: &str, data: &[u8]) -> bool {
    match ALL.iter().find(|(n, _)| *n == name) {
        Some((_, target)) => {
            target(data);
            true
        }
        None => false,
    }
}
