//! Integration tests of the patch compiler (AIR.md §8): every operation, every rejection code,
//! all-reasons-at-once reporting, transactional order, and stable hashes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value as Json, json};
use worldline_air::catalog::Catalog;
use worldline_air::load::{SourceFile, load_sources};
use worldline_air::nodes::{DefKind, Node};
use worldline_air::patch::{
    CompiledPatch, DefChange, DefChangeAction, PatchDoc, block_hash, compile,
};
use worldline_air::plane::BuildOptions;
use worldline_air::{AirError, ControlPlane, Hash, Name};

// ---------------------------------------------------------------------------------------------
// The base world: a counter reducer, a plan started by a trigger, a policy and a timer grant.
// ---------------------------------------------------------------------------------------------

const MANIFEST: &str = r#"{
  "$kind": "manifest",
  "air_version": "1",
  "schemas": [
    {"name": "demo/CounterPc@1"},
    {"name": "demo/CounterState@1"},
    {"name": "demo/CounterStart@1"},
    {"name": "demo/CounterTick@1"},
    {"name": "demo/CounterEvent@1"},
    {"name": "demo/Req@1"},
    {"name": "demo/Note@1"}
  ],
  "modules": [{"name": "demo/CounterSM@1"}],
  "plans": [{"name": "demo/bump_plan@1"}],
  "effects": [],
  "caps": [],
  "policies": [{"name": "demo/allow_all@1"}],
  "defaults": {
    "policy": "demo/allow_all@1",
    "cap_grants": [{"name": "timer_grant", "cap": "sys/timer@1", "params": {"record": {}}}]
  },
  "routing": {
    "events": [{"event": "demo/CounterEvent@1", "reducer": "demo/CounterSM@1"}],
    "inboxes": []
  },
  "triggers": [{"event": "demo/Req@1", "plan": "demo/bump_plan@1"}]
}"#;

const SCHEMAS: &str = r#"[
  {"$kind": "defschema", "name": "demo/CounterPc@1",
   "type": {"variant": {"Idle": {"unit": {}}, "Counting": {"unit": {}}, "Done": {"unit": {}}}}},
  {"$kind": "defschema", "name": "demo/CounterState@1",
   "type": {"record": {"pc": {"ref": "demo/CounterPc@1"}, "remaining": {"nat": {}}}}},
  {"$kind": "defschema", "name": "demo/CounterStart@1",
   "type": {"record": {"target": {"nat": {}}}}},
  {"$kind": "defschema", "name": "demo/CounterTick@1", "type": {"unit": {}}},
  {"$kind": "defschema", "name": "demo/CounterEvent@1",
   "type": {"variant": {"Start": {"ref": "demo/CounterStart@1"},
                        "Tick": {"ref": "demo/CounterTick@1"}}}},
  {"$kind": "defschema", "name": "demo/Req@1",
   "type": {"record": {"request_id": {"nat": {}}, "n": {"nat": {}}}}},
  {"$kind": "defschema", "name": "demo/Note@1", "type": {"record": {"body": {"text": {}}}}}
]"#;

const MODULE: &str = r#"{
  "$kind": "defmodule",
  "name": "demo/CounterSM@1",
  "module_kind": "reducer",
  "abi": {"reducer": {"state": "demo/CounterState@1", "event": "demo/CounterEvent@1",
                      "effects_emitted": [], "cap_slots": {}}}
}"#;

const PLAN: &str = r#"{
  "$kind": "defplan",
  "name": "demo/bump_plan@1",
  "input": "demo/Req@1",
  "steps": [
    {"id": "bump", "op": "assign",
     "expr": {"op": "add", "args": [{"ref": "@plan.input.n"}, {"nat": 1}]},
     "bind": {"as": "bumped"}},
    {"id": "done", "op": "end"}
  ],
  "edges": [{"from": "bump", "to": "done"}]
}"#;

const POLICY: &str = r#"{
  "$kind": "defpolicy",
  "name": "demo/allow_all@1",
  "rules": [{"when": {}, "decision": "allow"}]
}"#;

fn sources() -> Vec<SourceFile> {
    [
        ("air/manifest.air.json", MANIFEST),
        ("air/schemas.air.json", SCHEMAS),
        ("air/module.air.json", MODULE),
        ("air/plan.air.json", PLAN),
        ("air/policy.air.json", POLICY),
    ]
    .into_iter()
    .map(|(name, text)| SourceFile {
        name: name.to_owned(),
        text: text.to_owned(),
    })
    .collect()
}

fn base() -> ControlPlane {
    load_sources(&sources(), &BuildOptions::default())
        .unwrap_or_else(|e| panic!("the base world should load:\n{e}"))
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn name(text: &str) -> Name {
    Name::parse(text).unwrap()
}

/// The hash of a definition in a plane, as a `pre_hash` text.
fn def_hash(plane: &ControlPlane, kind: DefKind, def: &str) -> String {
    plane
        .def(kind, &name(def))
        .unwrap_or_else(|| panic!("{kind} {def} should exist"))
        .hash
        .to_string()
}

fn doc(base: &ControlPlane, patches: Json) -> Json {
    json!({
        "version": "1",
        "base_manifest_hash": base.manifest_hash().to_string(),
        "patches": patches,
    })
}

fn ok(base: &ControlPlane, patches: Json) -> CompiledPatch {
    compile(base, &doc(base, patches), &BuildOptions::default())
        .unwrap_or_else(|e| panic!("the patch should compile:\n{e}"))
}

fn errors(base: &ControlPlane, doc_json: &Json) -> Vec<AirError> {
    match compile(base, doc_json, &BuildOptions::default()) {
        Ok(compiled) => panic!(
            "the patch should be rejected, got manifest {}",
            compiled.plane.manifest_hash()
        ),
        Err(errors) => errors.0,
    }
}

fn errs(base: &ControlPlane, patches: Json) -> Vec<AirError> {
    errors(base, &doc(base, patches))
}

/// `(code, path)` of every error, in order.
fn codes(errors: &[AirError]) -> Vec<(&'static str, String)> {
    errors.iter().map(|e| (e.code, e.path.clone())).collect()
}

fn change(kind: DefKind, def: &str, action: DefChangeAction) -> DefChange {
    DefChange {
        kind,
        name: name(def),
        action,
    }
}

fn listed(plane: &ControlPlane, section: &str) -> Vec<String> {
    plane
        .manifest()
        .sections()
        .into_iter()
        .find(|(s, _)| *s == section)
        .unwrap_or_else(|| panic!("no section {section}"))
        .1
        .iter()
        .map(|r| r.name.to_string())
        .collect()
}

fn schema_node(def: &str, ty: Json) -> Json {
    json!({"$kind": "defschema", "name": def, "type": ty})
}

fn text_record(field: &str) -> Json {
    json!({"record": {field: {"text": {}}}})
}

const ZERO_HASH: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

// ---------------------------------------------------------------------------------------------
// The base itself
// ---------------------------------------------------------------------------------------------

#[test]
fn base_world_loads_with_every_definition() {
    let base = base();
    assert_eq!(
        listed(&base, "schemas"),
        [
            "demo/CounterPc@1",
            "demo/CounterState@1",
            "demo/CounterStart@1",
            "demo/CounterTick@1",
            "demo/CounterEvent@1",
            "demo/Req@1",
            "demo/Note@1",
        ]
    );
    assert_eq!(listed(&base, "plans"), ["demo/bump_plan@1"]);
    assert_eq!(base.manifest().triggers.len(), 1);
    assert_eq!(base.manifest().routing.events.len(), 1);
    assert_eq!(base.manifest_hash(), self::base().manifest_hash());
}

/// SHA-256 of the canonical CBOR of some JSON: an independent way to compute hashes.
fn json_hash(json: &Json) -> Hash {
    let cbor = worldline_air::cbor::json_to_cbor(json).unwrap();
    Hash::of(&cbor.to_canonical().unwrap())
}

fn other_reducer(def: &str) -> Json {
    json!({
        "$kind": "defmodule",
        "name": def,
        "module_kind": "reducer",
        "abi": {"reducer": {"state": "demo/CounterState@1", "event": "demo/CounterEvent@1",
                            "effects_emitted": [], "cap_slots": {}}}
    })
}

fn echo_plan(def: &str) -> Json {
    json!({
        "$kind": "defplan",
        "name": def,
        "input": "demo/Note@1",
        "steps": [
            {"id": "copy", "op": "assign", "expr": {"ref": "@plan.input.body"},
             "bind": {"as": "copied"}},
            {"id": "done", "op": "end"}
        ],
        "edges": [{"from": "copy", "to": "done"}]
    })
}

// ---------------------------------------------------------------------------------------------
// add_def
// ---------------------------------------------------------------------------------------------

#[test]
fn add_def_of_a_new_schema() {
    let base = base();
    let node = schema_node("demo/Extra@1", text_record("label"));
    let compiled = ok(
        &base,
        json!([{"add_def": {"kind": "defschema", "node": node}}]),
    );
    let plane = &compiled.plane;
    assert_eq!(
        listed(plane, "schemas").last().map(String::as_str),
        Some("demo/Extra@1")
    );
    assert_eq!(listed(plane, "schemas").len(), 8);
    assert_eq!(
        compiled.changes,
        [change(
            DefKind::Schema,
            "demo/Extra@1",
            DefChangeAction::Added
        )]
    );
    assert_ne!(plane.manifest_hash(), base.manifest_hash());
    // The new node is hashed, and its manifest entry carries that hash.
    let expected = Node::from_json(&node, "$").unwrap().hash().unwrap();
    assert_eq!(
        def_hash(plane, DefKind::Schema, "demo/Extra@1"),
        expected.to_string()
    );
    let entry = plane
        .manifest()
        .schemas
        .iter()
        .find(|r| r.name == name("demo/Extra@1"))
        .unwrap();
    assert_eq!(entry.hash, Some(expected));
    // Nothing else moved.
    for (key, def) in base.defs() {
        assert_eq!(plane.defs()[key].hash, def.hash, "{key:?}");
    }
}

#[test]
fn a_patched_plane_equals_the_same_world_loaded_from_files() {
    let base = base();
    let node = schema_node("demo/Extra@1", text_record("label"));
    let compiled = ok(
        &base,
        json!([{"add_def": {"kind": "defschema", "node": node}}]),
    );

    let mut manifest: Json = serde_json::from_str(MANIFEST).unwrap();
    manifest["schemas"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "demo/Extra@1"}));
    let mut files = sources();
    files[0].text = manifest.to_string();
    files.push(SourceFile {
        name: "air/extra.air.json".to_owned(),
        text: node.to_string(),
    });
    let loaded = load_sources(&files, &BuildOptions::default()).unwrap();
    assert_eq!(compiled.plane.manifest_hash(), loaded.manifest_hash());
    assert_eq!(compiled.plane.manifest(), loaded.manifest());
}

#[test]
fn add_def_of_a_plan_and_its_trigger() {
    let base = base();
    let triggers_hash = block_hash(&base.manifest().triggers).to_string();
    let compiled = ok(
        &base,
        json!([
            {"add_def": {"kind": "defplan", "node": echo_plan("demo/echo_plan@1")}},
            {"set_triggers": {"pre_hash": triggers_hash, "triggers": [
                {"event": "demo/Req@1", "plan": "demo/bump_plan@1"},
                {"event": "demo/Note@1", "plan": "demo/echo_plan@1"}
            ]}}
        ]),
    );
    assert_eq!(
        listed(&compiled.plane, "plans"),
        ["demo/bump_plan@1", "demo/echo_plan@1"]
    );
    let triggers = &compiled.plane.manifest().triggers;
    assert_eq!(triggers.len(), 2);
    assert_eq!(triggers[1].event, name("demo/Note@1"));
    assert_eq!(triggers[1].plan, name("demo/echo_plan@1"));
    assert!(compiled.plane.plan(&name("demo/echo_plan@1")).is_some());
    assert_eq!(
        compiled.changes,
        [change(
            DefKind::Plan,
            "demo/echo_plan@1",
            DefChangeAction::Added
        )]
    );
}

#[test]
fn add_def_of_an_existing_name_is_already_defined() {
    let base = base();
    let node = schema_node("demo/Note@1", text_record("other"));
    let errors = errs(
        &base,
        json!([{"add_def": {"kind": "defschema", "node": node}}]),
    );
    assert_eq!(
        codes(&errors),
        [("already_defined", "$.patches[0].add_def".to_owned())]
    );
    assert_eq!(errors[0].file.as_deref(), Some("patch"));
    assert!(
        errors[0].message.contains("demo/Note@1"),
        "{}",
        errors[0].message
    );
}

#[test]
fn add_def_twice_in_one_patch_is_already_defined() {
    let base = base();
    let node = schema_node("demo/Extra@1", text_record("label"));
    let errors = errs(
        &base,
        json!([
            {"add_def": {"kind": "defschema", "node": node}},
            {"add_def": {"kind": "defschema", "node": node}}
        ]),
    );
    assert_eq!(
        codes(&errors),
        [("already_defined", "$.patches[1].add_def".to_owned())]
    );
}

#[test]
fn add_def_of_a_sys_name_is_sys_edit() {
    let base = base();
    let node = schema_node("sys/Mine@1", text_record("x"));
    let errors = errs(
        &base,
        json!([{"add_def": {"kind": "defschema", "node": node}}]),
    );
    assert_eq!(
        codes(&errors),
        [("sys_edit", "$.patches[0].add_def".to_owned())]
    );
    // Even a byte-identical copy of a built-in may not be added.
    let builtin = Catalog::get()
        .node(DefKind::Schema, &name("sys/TimerSetParams@1"))
        .unwrap()
        .to_json();
    let errors = errs(
        &base,
        json!([{"add_def": {"kind": "defschema", "node": builtin}}]),
    );
    assert_eq!(
        codes(&errors),
        [("sys_edit", "$.patches[0].add_def".to_owned())]
    );
}

#[test]
fn add_def_whose_node_is_another_kind_is_kind_mismatch() {
    let base = base();
    let node = schema_node("demo/Extra@1", text_record("label"));
    let errors = errs(
        &base,
        json!([{"add_def": {"kind": "defplan", "node": node}}]),
    );
    assert_eq!(
        codes(&errors),
        [(
            "kind_mismatch",
            "$.patches[0].add_def.node.$kind".to_owned()
        )]
    );
}

#[test]
fn add_def_of_a_manifest_is_bad_kind() {
    let base = base();
    let manifest: Json = serde_json::from_str(MANIFEST).unwrap();
    let errors = errs(
        &base,
        json!([{"add_def": {"kind": "manifest", "node": manifest}}]),
    );
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].code, "bad_kind");
    assert_eq!(errors[0].path, "$.patches[0].add_def.node");
}

#[test]
fn add_def_of_a_malformed_node_points_into_the_patch() {
    let base = base();
    let node = schema_node("demo/Extra@1", json!({"record": {"x": {"float": {}}}}));
    let errors = errs(
        &base,
        json!([{"add_def": {"kind": "defschema", "node": node}}]),
    );
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].code, "bad_type");
    assert!(
        errors[0].path.starts_with("$.patches[0].add_def.node.type"),
        "{}",
        errors[0].path
    );
}

#[test]
fn validation_errors_in_added_nodes_point_into_the_patch() {
    let base = base();
    let errors = errs(
        &base,
        json!([
            {"set_defaults": {"policy": null}},
            {"add_def": {"kind": "defschema",
                         "node": schema_node("demo/X@1", json!({"ref": "demo/Ghost@1"}))}}
        ]),
    );
    assert_eq!(
        codes(&errors),
        [(
            "dangling_ref",
            "$.patches[1].add_def.node.type.ref".to_owned()
        )]
    );
    assert_eq!(errors[0].file.as_deref(), Some("patch"));
    assert!(
        errors[0].message.contains("demo/Ghost@1"),
        "{}",
        errors[0].message
    );
}

// ---------------------------------------------------------------------------------------------
// replace_def
// ---------------------------------------------------------------------------------------------

#[test]
fn replace_def_with_the_right_pre_hash() {
    let base = base();
    let old = def_hash(&base, DefKind::Schema, "demo/Note@1");
    let node = schema_node(
        "demo/Note@1",
        json!({"record": {"body": {"text": {}}, "author": {"option": {"text": {}}}}}),
    );
    let compiled = ok(
        &base,
        json!([{"replace_def": {"kind": "defschema", "name": "demo/Note@1",
                                "new_node": node, "pre_hash": old}}]),
    );
    assert_eq!(
        compiled.changes,
        [change(
            DefKind::Schema,
            "demo/Note@1",
            DefChangeAction::Changed
        )]
    );
    let new = def_hash(&compiled.plane, DefKind::Schema, "demo/Note@1");
    assert_ne!(new, old);
    assert_eq!(
        new,
        Node::from_json(&node, "$")
            .unwrap()
            .hash()
            .unwrap()
            .to_string()
    );
    // Same position in the manifest, new hash on the entry.
    assert_eq!(listed(&compiled.plane, "schemas"), listed(&base, "schemas"));
    let entry = &compiled.plane.manifest().schemas[6];
    assert_eq!(entry.hash.map(|h| h.to_string()), Some(new));
    assert_ne!(compiled.plane.manifest_hash(), base.manifest_hash());
}

#[test]
fn replace_def_of_a_plan_changes_its_steps() {
    let base = base();
    let mut plan: Json = serde_json::from_str(PLAN).unwrap();
    plan["steps"][0]["expr"] = json!({"op": "mul", "args": [{"ref": "@plan.input.n"}, {"nat": 2}]});
    let compiled = ok(
        &base,
        json!([{"replace_def": {"kind": "defplan", "name": "demo/bump_plan@1", "new_node": plan,
                                "pre_hash": def_hash(&base, DefKind::Plan, "demo/bump_plan@1")}}]),
    );
    assert_eq!(
        compiled.changes,
        [change(
            DefKind::Plan,
            "demo/bump_plan@1",
            DefChangeAction::Changed
        )]
    );
    let step = &compiled
        .plane
        .plan(&name("demo/bump_plan@1"))
        .unwrap()
        .steps[0];
    assert!(
        serde_json::to_string(step).unwrap().contains("\"mul\""),
        "{step:?}"
    );
}

#[test]
fn replace_def_with_an_identical_node_changes_nothing() {
    let base = base();
    let node = base
        .def(DefKind::Schema, &name("demo/Note@1"))
        .unwrap()
        .node
        .to_json();
    let compiled = ok(
        &base,
        json!([{"replace_def": {"kind": "defschema", "name": "demo/Note@1", "new_node": node,
                                "pre_hash": def_hash(&base, DefKind::Schema, "demo/Note@1")}}]),
    );
    assert_eq!(compiled.changes, []);
    assert_eq!(compiled.plane.manifest_hash(), base.manifest_hash());
}

#[test]
fn replace_def_with_a_stale_pre_hash() {
    let base = base();
    let node = schema_node("demo/Note@1", text_record("other"));
    let stale = def_hash(&base, DefKind::Schema, "demo/Req@1");
    let errors = errs(
        &base,
        json!([{"replace_def": {"kind": "defschema", "name": "demo/Note@1",
                                "new_node": node, "pre_hash": stale}}]),
    );
    assert_eq!(
        codes(&errors),
        [(
            "stale_pre_hash",
            "$.patches[0].replace_def.pre_hash".to_owned()
        )]
    );
    assert_eq!(errors[0].file.as_deref(), Some("patch"));
    let current = def_hash(&base, DefKind::Schema, "demo/Note@1");
    assert!(
        errors[0].message.contains(&current),
        "{}",
        errors[0].message
    );
    assert!(errors[0].message.contains(&stale), "{}", errors[0].message);
}

#[test]
fn replace_def_of_an_unknown_definition_is_unknown_def() {
    let base = base();
    let node = schema_node("demo/Nope@1", text_record("x"));
    let errors = errs(
        &base,
        json!([{"replace_def": {"kind": "defschema", "name": "demo/Nope@1",
                                "new_node": node, "pre_hash": ZERO_HASH}}]),
    );
    assert_eq!(
        codes(&errors),
        [("unknown_def", "$.patches[0].replace_def".to_owned())]
    );
    // The name exists, but as another kind.
    let errors = errs(
        &base,
        json!([{"replace_def": {"kind": "defplan", "name": "demo/Note@1",
                                "new_node": echo_plan("demo/Note@1"), "pre_hash": ZERO_HASH}}]),
    );
    assert_eq!(
        codes(&errors),
        [("unknown_def", "$.patches[0].replace_def".to_owned())]
    );
}

#[test]
fn replace_def_of_a_sys_name_is_sys_edit() {
    let base = base();
    let sys = "sys/TimerSetParams@1";
    let hash = Catalog::get()
        .hash(DefKind::Schema, &name(sys))
        .unwrap()
        .to_string();
    let errors = errs(
        &base,
        json!([{"replace_def": {"kind": "defschema", "name": sys,
                                "new_node": schema_node(sys, text_record("x")),
                                "pre_hash": hash}}]),
    );
    assert_eq!(
        codes(&errors),
        [("sys_edit", "$.patches[0].replace_def".to_owned())]
    );
}

#[test]
fn replace_def_with_another_name_is_name_mismatch() {
    let base = base();
    let errors = errs(
        &base,
        json!([{"replace_def": {"kind": "defschema", "name": "demo/Note@1",
                                "new_node": schema_node("demo/Note@2", text_record("body")),
                                "pre_hash": def_hash(&base, DefKind::Schema, "demo/Note@1")}}]),
    );
    assert_eq!(
        codes(&errors),
        [(
            "name_mismatch",
            "$.patches[0].replace_def.new_node.name".to_owned()
        )]
    );
    assert!(
        errors[0].message.contains("demo/Note@2"),
        "{}",
        errors[0].message
    );
}

#[test]
fn replace_def_with_a_node_of_another_kind_is_kind_mismatch() {
    let base = base();
    let errors = errs(
        &base,
        json!([{"replace_def": {"kind": "defschema", "name": "demo/Note@1",
                                "new_node": echo_plan("demo/Note@1"),
                                "pre_hash": def_hash(&base, DefKind::Schema, "demo/Note@1")}}]),
    );
    assert_eq!(
        codes(&errors),
        [(
            "kind_mismatch",
            "$.patches[0].replace_def.new_node.$kind".to_owned()
        )]
    );
}

// ---------------------------------------------------------------------------------------------
// remove_def
// ---------------------------------------------------------------------------------------------

#[test]
fn remove_def_of_an_unreferenced_schema() {
    let base = base();
    let compiled = ok(
        &base,
        json!([{"remove_def": {"kind": "defschema", "name": "demo/Note@1",
                               "pre_hash": def_hash(&base, DefKind::Schema, "demo/Note@1")}}]),
    );
    assert_eq!(
        compiled.changes,
        [change(
            DefKind::Schema,
            "demo/Note@1",
            DefChangeAction::Removed
        )]
    );
    assert!(!listed(&compiled.plane, "schemas").contains(&"demo/Note@1".to_owned()));
    assert_eq!(listed(&compiled.plane, "schemas").len(), 6);
    assert!(
        compiled
            .plane
            .def(DefKind::Schema, &name("demo/Note@1"))
            .is_none()
    );
    assert_ne!(compiled.plane.manifest_hash(), base.manifest_hash());
}

#[test]
fn remove_def_with_a_stale_or_unknown_target() {
    let base = base();
    let errors = errs(
        &base,
        json!([{"remove_def": {"kind": "defschema", "name": "demo/Note@1", "pre_hash": ZERO_HASH}}]),
    );
    assert_eq!(
        codes(&errors),
        [(
            "stale_pre_hash",
            "$.patches[0].remove_def.pre_hash".to_owned()
        )]
    );
    let errors = errs(
        &base,
        json!([{"remove_def": {"kind": "defpolicy", "name": "demo/nope@1", "pre_hash": ZERO_HASH}}]),
    );
    assert_eq!(
        codes(&errors),
        [("unknown_def", "$.patches[0].remove_def".to_owned())]
    );
}

#[test]
fn remove_def_of_a_sys_name_is_sys_edit() {
    let base = base();
    let sys = "sys/TimerSetParams@1";
    let hash = Catalog::get().hash(DefKind::Schema, &name(sys)).unwrap();
    let errors = errs(
        &base,
        json!([{"remove_def": {"kind": "defschema", "name": sys, "pre_hash": hash.to_string()}}]),
    );
    assert_eq!(
        codes(&errors),
        [("sys_edit", "$.patches[0].remove_def".to_owned())]
    );
}

#[test]
fn removing_a_schema_still_referenced_reports_the_validation_error() {
    let base = base();
    let errors = errs(
        &base,
        json!([{"remove_def": {"kind": "defschema", "name": "demo/CounterStart@1",
                               "pre_hash": def_hash(&base, DefKind::Schema, "demo/CounterStart@1")}}]),
    );
    // Reported where the dangling reference is: in the (unchanged) node that still uses it.
    assert_eq!(
        codes(&errors),
        [("dangling_ref", "$.type.variant.Start.ref".to_owned())]
    );
    assert_eq!(
        errors[0].file.as_deref(),
        Some("defschema demo/CounterEvent@1")
    );
    assert!(
        errors[0].message.contains("demo/CounterStart@1"),
        "{}",
        errors[0].message
    );
}

#[test]
fn removing_the_default_policy_reports_the_validation_error() {
    let base = base();
    let errors = errs(
        &base,
        json!([{"remove_def": {"kind": "defpolicy", "name": "demo/allow_all@1",
                               "pre_hash": def_hash(&base, DefKind::Policy, "demo/allow_all@1")}}]),
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].code, "dangling_ref");
    assert!(
        errors[0].message.contains("demo/allow_all@1"),
        "{}",
        errors[0].message
    );
}

#[test]
fn removing_a_plan_with_a_trigger_reports_the_validation_error() {
    let base = base();
    let errors = errs(
        &base,
        json!([{"remove_def": {"kind": "defplan", "name": "demo/bump_plan@1",
                               "pre_hash": def_hash(&base, DefKind::Plan, "demo/bump_plan@1")}}]),
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].code, "dangling_ref");
    assert!(
        errors[0].message.contains("demo/bump_plan@1"),
        "{}",
        errors[0].message
    );
}

// ---------------------------------------------------------------------------------------------
// The base manifest hash
// ---------------------------------------------------------------------------------------------

#[test]
fn a_stale_base_manifest_hash_is_stale_base() {
    let base = base();
    let mut doc_json = doc(
        &base,
        json!([{"add_def": {"kind": "defschema",
                            "node": schema_node("demo/Extra@1", text_record("x"))}}]),
    );
    doc_json["base_manifest_hash"] = json!(ZERO_HASH);
    let errors = errors(&base, &doc_json);
    assert_eq!(
        codes(&errors),
        [("stale_base", "$.base_manifest_hash".to_owned())]
    );
    assert_eq!(errors[0].file.as_deref(), Some("patch"));
    assert!(
        errors[0]
            .message
            .contains(&base.manifest_hash().to_string()),
        "{}",
        errors[0].message
    );
}

#[test]
fn a_patch_written_against_an_older_manifest_is_stale_base() {
    let base = base();
    let first = ok(
        &base,
        json!([{"add_def": {"kind": "defschema",
                            "node": schema_node("demo/Extra@1", text_record("x"))}}]),
    );
    // A second patch written against `base` cannot apply to the patched plane.
    let second = doc(
        &base,
        json!([{"add_def": {"kind": "defschema",
                            "node": schema_node("demo/Other@1", text_record("x"))}}]),
    );
    let errors = errors(&first.plane, &second);
    assert_eq!(
        codes(&errors),
        [("stale_base", "$.base_manifest_hash".to_owned())]
    );
}

// ---------------------------------------------------------------------------------------------
// Block operations
// ---------------------------------------------------------------------------------------------

#[test]
fn block_hash_is_the_hash_of_the_block_as_it_appears_in_the_manifest() {
    let base = base();
    let manifest = Node::Manifest(base.manifest().clone()).to_json();
    assert_eq!(
        block_hash(&base.manifest().routing.events),
        json_hash(&manifest["routing"]["events"])
    );
    assert_eq!(
        block_hash(&base.manifest().triggers),
        json_hash(&manifest["triggers"])
    );
    assert_ne!(
        block_hash(&base.manifest().routing.events),
        block_hash(&base.manifest().triggers)
    );
}

#[test]
fn set_routing_events_with_the_right_pre_hash() {
    let base = base();
    let pre_hash = block_hash(&base.manifest().routing.events).to_string();
    let compiled = ok(
        &base,
        json!([
            {"add_def": {"kind": "defmodule", "node": other_reducer("demo/OtherSM@1")}},
            {"set_routing_events": {"pre_hash": pre_hash, "events": [
                {"event": "demo/CounterEvent@1", "reducer": "demo/CounterSM@1"},
                {"event": "demo/CounterEvent@1", "reducer": "demo/OtherSM@1"}
            ]}}
        ]),
    );
    let events = &compiled.plane.manifest().routing.events;
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].reducer, name("demo/OtherSM@1"));
    assert_eq!(
        compiled.changes,
        [change(
            DefKind::Module,
            "demo/OtherSM@1",
            DefChangeAction::Added
        )]
    );
}

#[test]
fn set_routing_events_to_empty() {
    let base = base();
    let pre_hash = block_hash(&base.manifest().routing.events).to_string();
    let compiled = ok(
        &base,
        json!([{"set_routing_events": {"pre_hash": pre_hash, "events": []}}]),
    );
    assert!(compiled.plane.manifest().routing.events.is_empty());
    assert_eq!(compiled.changes, []);
    assert_ne!(compiled.plane.manifest_hash(), base.manifest_hash());
}

#[test]
fn set_routing_events_with_a_wrong_pre_hash() {
    let base = base();
    let wrong = block_hash(&base.manifest().triggers).to_string();
    let errors = errs(
        &base,
        json!([{"set_routing_events": {"pre_hash": wrong, "events": []}}]),
    );
    assert_eq!(
        codes(&errors),
        [(
            "stale_pre_hash",
            "$.patches[0].set_routing_events.pre_hash".to_owned()
        )]
    );
    assert!(
        errors[0].message.contains("routing.events"),
        "{}",
        errors[0].message
    );
}

#[test]
fn set_routing_events_to_an_unknown_reducer_is_invalid() {
    let base = base();
    let pre_hash = block_hash(&base.manifest().routing.events).to_string();
    let errors = errs(
        &base,
        json!([{"set_routing_events": {"pre_hash": pre_hash, "events": [
            {"event": "demo/CounterEvent@1", "reducer": "demo/Ghost@1"}
        ]}}]),
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].code, "dangling_ref");
    assert!(
        errors[0].message.contains("demo/Ghost@1"),
        "{}",
        errors[0].message
    );
}

#[test]
fn set_routing_events_with_the_wrong_event_schema_is_routing_mismatch() {
    let base = base();
    let pre_hash = block_hash(&base.manifest().routing.events).to_string();
    let errors = errs(
        &base,
        json!([{"set_routing_events": {"pre_hash": pre_hash, "events": [
            {"event": "demo/Note@1", "reducer": "demo/CounterSM@1"}
        ]}}]),
    );
    assert_eq!(
        codes(&errors),
        [("routing_mismatch", "$.routing.events[0].event".to_owned())]
    );
    assert_eq!(errors[0].file.as_deref(), Some("patched manifest"));
}

#[test]
fn set_triggers_replaces_the_block() {
    let base = base();
    let pre_hash = block_hash(&base.manifest().triggers).to_string();
    let compiled = ok(
        &base,
        json!([{"set_triggers": {"pre_hash": pre_hash, "triggers": [
            {"event": "demo/Req@1", "plan": "demo/bump_plan@1", "correlate_by": "request_id"}
        ]}}]),
    );
    let triggers = &compiled.plane.manifest().triggers;
    assert_eq!(triggers.len(), 1);
    assert_eq!(triggers[0].correlate_by.as_deref(), Some("request_id"));
    assert_ne!(compiled.plane.manifest_hash(), base.manifest_hash());

    let cleared = ok(
        &base,
        json!([{"set_triggers": {"pre_hash": block_hash(&base.manifest().triggers).to_string(),
                                 "triggers": []}}]),
    );
    assert!(cleared.plane.manifest().triggers.is_empty());
}

#[test]
fn set_triggers_with_a_wrong_pre_hash() {
    let base = base();
    let wrong = block_hash(&Vec::<u8>::new()).to_string();
    let errors = errs(
        &base,
        json!([{"set_triggers": {"pre_hash": wrong, "triggers": []}}]),
    );
    assert_eq!(
        codes(&errors),
        [(
            "stale_pre_hash",
            "$.patches[0].set_triggers.pre_hash".to_owned()
        )]
    );
}

#[test]
fn set_triggers_with_a_mismatched_event_is_invalid() {
    let base = base();
    let errors = errs(
        &base,
        json!([{"set_triggers": {"pre_hash": block_hash(&base.manifest().triggers).to_string(),
                                 "triggers": [{"event": "demo/Note@1", "plan": "demo/bump_plan@1"}]}}]),
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].code, "trigger_mismatch");
}

#[test]
fn empty_blocks_take_the_hash_of_an_empty_block() {
    let base = base();
    let empty_list = block_hash(&base.manifest().routing.inboxes).to_string();
    assert_eq!(empty_list, json_hash(&json!([])).to_string());
    let empty_map = block_hash(&base.manifest().module_bindings).to_string();
    assert_eq!(empty_map, json_hash(&json!({})).to_string());
    let compiled = ok(
        &base,
        json!([
            {"set_routing_inboxes": {"pre_hash": empty_list, "inboxes": []}},
            {"set_module_bindings": {"pre_hash": empty_map, "bindings": {}}},
            {"set_secrets": {"pre_hash": block_hash(&base.manifest().secrets).to_string(),
                             "secrets": []}}
        ]),
    );
    assert_eq!(compiled.plane.manifest_hash(), base.manifest_hash());
    let errors = errs(
        &base,
        json!([
            {"set_routing_inboxes": {"pre_hash": ZERO_HASH, "inboxes": []}},
            {"set_module_bindings": {"pre_hash": ZERO_HASH, "bindings": {}}},
            {"set_secrets": {"pre_hash": ZERO_HASH, "secrets": []}}
        ]),
    );
    assert_eq!(
        codes(&errors),
        [
            (
                "stale_pre_hash",
                "$.patches[0].set_routing_inboxes.pre_hash".to_owned()
            ),
            (
                "stale_pre_hash",
                "$.patches[1].set_module_bindings.pre_hash".to_owned()
            ),
            (
                "stale_pre_hash",
                "$.patches[2].set_secrets.pre_hash".to_owned()
            ),
        ]
    );
}

#[test]
fn inline_secret_declarations_are_bad_patch() {
    let base = base();
    let errors = errs(
        &base,
        json!([{"set_secrets": {"pre_hash": block_hash(&base.manifest().secrets).to_string(),
                                "secrets": [{"alias": "api_key", "binding_id": "env:KEY"}]}}]),
    );
    assert_eq!(
        codes(&errors),
        [(
            "bad_patch",
            "$.patches[0].set_secrets.secrets[0]".to_owned()
        )]
    );
}

// ---------------------------------------------------------------------------------------------
// set_defaults
// ---------------------------------------------------------------------------------------------

#[test]
fn set_defaults_clears_the_policy_with_null() {
    let base = base();
    let compiled = ok(&base, json!([{"set_defaults": {"policy": null}}]));
    let defaults = &compiled.plane.manifest().defaults;
    assert_eq!(defaults.policy, None);
    // Grants untouched.
    assert_eq!(defaults.cap_grants, base.manifest().defaults.cap_grants);
    assert_ne!(compiled.plane.manifest_hash(), base.manifest_hash());
    assert_eq!(compiled.changes, []);
}

#[test]
fn set_defaults_sets_a_new_policy() {
    let base = base();
    let deny = json!({"$kind": "defpolicy", "name": "demo/deny_all@1",
                      "rules": [{"when": {}, "decision": "deny"}]});
    let compiled = ok(
        &base,
        json!([
            {"add_def": {"kind": "defpolicy", "node": deny}},
            {"set_defaults": {"policy": "demo/deny_all@1"}}
        ]),
    );
    assert_eq!(
        compiled.plane.manifest().defaults.policy,
        Some(name("demo/deny_all@1"))
    );
    assert_eq!(
        compiled.changes,
        [change(
            DefKind::Policy,
            "demo/deny_all@1",
            DefChangeAction::Added
        )]
    );
}

#[test]
fn set_defaults_to_an_unlisted_policy_is_invalid() {
    let base = base();
    let errors = errs(&base, json!([{"set_defaults": {"policy": "demo/ghost@1"}}]));
    assert_eq!(
        codes(&errors),
        [("dangling_ref", "$.defaults.policy".to_owned())]
    );
    // Errors in the resulting manifest are located in it.
    assert_eq!(errors[0].file.as_deref(), Some("patched manifest"));
    assert!(
        errors[0].message.contains("demo/ghost@1"),
        "{}",
        errors[0].message
    );
}

#[test]
fn set_defaults_replaces_the_grants() {
    let base = base();
    let compiled = ok(
        &base,
        json!([{"set_defaults": {"cap_grants": [
            {"name": "timer_a", "cap": "sys/timer@1", "params": {}},
            {"name": "timer_b", "cap": "sys/timer@1", "params": {"record": {}}, "expiry_ns": 5}
        ]}}]),
    );
    let defaults = &compiled.plane.manifest().defaults;
    assert_eq!(defaults.policy, Some(name("demo/allow_all@1")));
    let grants: Vec<&str> = defaults
        .cap_grants
        .iter()
        .map(|g| g.name.as_str())
        .collect();
    assert_eq!(grants, ["timer_a", "timer_b"]);
    assert_eq!(defaults.cap_grants[1].expiry_ns, Some(5));
    assert!(compiled.plane.grant_params("timer_a").is_some());
    assert!(compiled.plane.grant_params("timer_grant").is_none());

    let cleared = ok(&base, json!([{"set_defaults": {"cap_grants": []}}]));
    assert!(cleared.plane.manifest().defaults.cap_grants.is_empty());
}

#[test]
fn set_defaults_with_bad_grants_is_invalid() {
    let base = base();
    let errors = errs(
        &base,
        json!([{"set_defaults": {"cap_grants": [
            {"name": "g", "cap": "sys/timer@1", "params": {"record": {"x": {"nat": 1}}}}
        ]}}]),
    );
    assert_eq!(
        codes(&errors),
        [(
            "bad_grant_params",
            "$.defaults.cap_grants[0].params.x".to_owned()
        )]
    );

    let errors = errs(
        &base,
        json!([{"set_defaults": {"cap_grants": [
            {"name": "g", "cap": "sys/timer@1", "params": {}},
            {"name": "g", "cap": "sys/timer@1", "params": {}}
        ]}}]),
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].code, "duplicate_grant");
}

// ---------------------------------------------------------------------------------------------
// set_manifest_refs
// ---------------------------------------------------------------------------------------------

#[test]
fn set_manifest_refs_adds_a_sys_schema_with_its_catalog_hash() {
    let base = base();
    let sys = name("sys/TimerSetParams@1");
    let hash = Catalog::get().hash(DefKind::Schema, &sys).unwrap();
    let compiled = ok(
        &base,
        json!([{"set_manifest_refs": {"add": [
            {"kind": "defschema", "name": sys.to_string(), "hash": hash.to_string()}
        ]}}]),
    );
    assert_eq!(
        listed(&compiled.plane, "schemas")
            .last()
            .map(String::as_str),
        Some("sys/TimerSetParams@1")
    );
    assert_eq!(
        compiled.plane.def(DefKind::Schema, &sys).unwrap().hash,
        hash
    );
    assert_eq!(
        compiled.changes,
        [change(
            DefKind::Schema,
            "sys/TimerSetParams@1",
            DefChangeAction::Added
        )]
    );
    assert_ne!(compiled.plane.manifest_hash(), base.manifest_hash());

    // And removes it again.
    let removed = ok(
        &compiled.plane,
        json!([{"set_manifest_refs": {"remove": [
            {"kind": "defschema", "name": "sys/TimerSetParams@1"}
        ]}}]),
    );
    assert_eq!(removed.plane.manifest_hash(), base.manifest_hash());
    assert_eq!(
        removed.changes,
        [change(
            DefKind::Schema,
            "sys/TimerSetParams@1",
            DefChangeAction::Removed
        )]
    );
}

#[test]
fn set_manifest_refs_adds_a_sys_effect() {
    let base = base();
    let sys = name("sys/timer.set@1");
    let hash = Catalog::get().hash(DefKind::Effect, &sys).unwrap();
    let compiled = ok(
        &base,
        json!([{"set_manifest_refs": {"add": [
            {"kind": "defeffect", "name": "sys/timer.set@1", "hash": hash.to_string()}
        ]}}]),
    );
    assert_eq!(listed(&compiled.plane, "effects"), ["sys/timer.set@1"]);
    assert_eq!(
        compiled.plane.effect_by_kind("timer.set").unwrap().name,
        sys
    );
}

#[test]
fn set_manifest_refs_with_a_wrong_hash_is_hash_mismatch() {
    let base = base();
    let wrong = Catalog::get()
        .hash(DefKind::Schema, &name("sys/TimerFired@1"))
        .unwrap();
    let errors = errs(
        &base,
        json!([{"set_manifest_refs": {"add": [
            {"kind": "defschema", "name": "sys/TimerSetParams@1", "hash": wrong.to_string()}
        ]}}]),
    );
    assert_eq!(
        codes(&errors),
        [(
            "hash_mismatch",
            "$.patches[0].set_manifest_refs.add[0]".to_owned()
        )]
    );
    assert!(
        errors[0].message.contains(&wrong.to_string()),
        "{}",
        errors[0].message
    );
}

#[test]
fn set_manifest_refs_of_an_unknown_builtin_is_unknown_def() {
    let base = base();
    let errors = errs(
        &base,
        json!([{"set_manifest_refs": {"add": [
            {"kind": "defschema", "name": "sys/NoSuchThing@1", "hash": ZERO_HASH}
        ]}}]),
    );
    assert_eq!(
        codes(&errors),
        [(
            "unknown_def",
            "$.patches[0].set_manifest_refs.add[0]".to_owned()
        )]
    );
    // A built-in effect name listed under the wrong kind.
    let hash = Catalog::get()
        .hash(DefKind::Effect, &name("sys/timer.set@1"))
        .unwrap();
    let errors = errs(
        &base,
        json!([{"set_manifest_refs": {"add": [
            {"kind": "defschema", "name": "sys/timer.set@1", "hash": hash.to_string()}
        ]}}]),
    );
    assert_eq!(
        codes(&errors),
        [(
            "unknown_def",
            "$.patches[0].set_manifest_refs.add[0]".to_owned()
        )]
    );
}

#[test]
fn set_manifest_refs_needs_add_or_remove() {
    let base = base();
    let errors = errs(&base, json!([{"set_manifest_refs": {}}]));
    assert_eq!(
        codes(&errors),
        [("bad_patch", "$.patches[0].set_manifest_refs".to_owned())]
    );
}

#[test]
fn set_manifest_refs_unlisting_a_world_definition_is_invalid() {
    let base = base();
    let errors = errs(
        &base,
        json!([{"set_manifest_refs": {"remove": [{"kind": "defschema", "name": "demo/Note@1"}]}}]),
    );
    assert_eq!(codes(&errors), [("unlisted_def", "$".to_owned())]);
    assert_eq!(errors[0].file.as_deref(), Some("defschema demo/Note@1"));
}

// ---------------------------------------------------------------------------------------------
// All reasons at once
// ---------------------------------------------------------------------------------------------

#[test]
fn several_problems_are_all_reported() {
    let base = base();
    let mut doc_json = doc(
        &base,
        json!([
            {"replace_def": {"kind": "defschema", "name": "demo/Note@1",
                             "new_node": schema_node("demo/Note@1", text_record("x")),
                             "pre_hash": ZERO_HASH}},
            {"add_def": {"kind": "defschema", "node": schema_node("sys/Mine@1", text_record("x"))}},
            {"add_def": {"kind": "defschema", "node": schema_node("demo/Req@1", text_record("x"))}},
            {"add_def": {"kind": "defschema", "node": schema_node("demo/Fine@1", text_record("x"))}},
            {"set_triggers": {"pre_hash": ZERO_HASH, "triggers": []}},
            {"remove_def": {"kind": "defschema", "name": "demo/Ghost@1", "pre_hash": ZERO_HASH}}
        ]),
    );
    doc_json["base_manifest_hash"] = json!(ZERO_HASH);
    let errors = errors(&base, &doc_json);
    assert_eq!(
        codes(&errors),
        [
            ("stale_base", "$.base_manifest_hash".to_owned()),
            (
                "stale_pre_hash",
                "$.patches[0].replace_def.pre_hash".to_owned()
            ),
            ("sys_edit", "$.patches[1].add_def".to_owned()),
            ("already_defined", "$.patches[2].add_def".to_owned()),
            (
                "stale_pre_hash",
                "$.patches[4].set_triggers.pre_hash".to_owned()
            ),
            ("unknown_def", "$.patches[5].remove_def".to_owned()),
        ]
    );
    assert!(errors.iter().all(|e| e.file.as_deref() == Some("patch")));
}

#[test]
fn op_errors_and_validation_errors_are_reported_together() {
    let base = base();
    let errors = errs(
        &base,
        json!([
            {"add_def": {"kind": "defschema", "node": schema_node("sys/Mine@1", text_record("x"))}},
            {"set_defaults": {"policy": "demo/ghost@1"}}
        ]),
    );
    let found: Vec<&str> = errors.iter().map(|e| e.code).collect();
    assert_eq!(found, ["sys_edit", "dangling_ref"], "{errors:?}");
    assert_eq!(errors[0].path, "$.patches[0].add_def");
}

// ---------------------------------------------------------------------------------------------
// One transaction, in order
// ---------------------------------------------------------------------------------------------

#[test]
fn ops_apply_in_order_each_seeing_the_previous() {
    let base = base();
    let first = schema_node("demo/Note@1", text_record("first"));
    let second = schema_node("demo/Note@1", text_record("second"));
    let first_hash = Node::from_json(&first, "$").unwrap().hash().unwrap();
    let compiled = ok(
        &base,
        json!([
            {"replace_def": {"kind": "defschema", "name": "demo/Note@1", "new_node": first,
                             "pre_hash": def_hash(&base, DefKind::Schema, "demo/Note@1")}},
            {"replace_def": {"kind": "defschema", "name": "demo/Note@1", "new_node": second,
                             "pre_hash": first_hash.to_string()}}
        ]),
    );
    assert_eq!(
        def_hash(&compiled.plane, DefKind::Schema, "demo/Note@1"),
        Node::from_json(&second, "$")
            .unwrap()
            .hash()
            .unwrap()
            .to_string()
    );

    // The second replace names the base hash, which the first replace made stale.
    let errors = errs(
        &base,
        json!([
            {"replace_def": {"kind": "defschema", "name": "demo/Note@1", "new_node": first,
                             "pre_hash": def_hash(&base, DefKind::Schema, "demo/Note@1")}},
            {"replace_def": {"kind": "defschema", "name": "demo/Note@1", "new_node": second,
                             "pre_hash": def_hash(&base, DefKind::Schema, "demo/Note@1")}}
        ]),
    );
    assert_eq!(
        codes(&errors),
        [(
            "stale_pre_hash",
            "$.patches[1].replace_def.pre_hash".to_owned()
        )]
    );
}

#[test]
fn a_def_added_earlier_can_be_replaced_or_removed_later() {
    let base = base();
    let node = schema_node("demo/Extra@1", text_record("a"));
    let hash = Node::from_json(&node, "$")
        .unwrap()
        .hash()
        .unwrap()
        .to_string();
    let replaced = ok(
        &base,
        json!([
            {"add_def": {"kind": "defschema", "node": node}},
            {"replace_def": {"kind": "defschema", "name": "demo/Extra@1",
                             "new_node": schema_node("demo/Extra@1", text_record("b")),
                             "pre_hash": hash}}
        ]),
    );
    assert_eq!(
        replaced.changes,
        [change(
            DefKind::Schema,
            "demo/Extra@1",
            DefChangeAction::Added
        )]
    );
    let removed = ok(
        &base,
        json!([
            {"add_def": {"kind": "defschema", "node": node}},
            {"remove_def": {"kind": "defschema", "name": "demo/Extra@1", "pre_hash": hash}}
        ]),
    );
    assert_eq!(removed.changes, []);
    assert_eq!(removed.plane.manifest_hash(), base.manifest_hash());
}

#[test]
fn the_order_of_ops_matters() {
    let base = base();
    let node = schema_node("demo/Extra@1", text_record("a"));
    let hash = Node::from_json(&node, "$")
        .unwrap()
        .hash()
        .unwrap()
        .to_string();
    // Removing before adding: the definition does not exist yet.
    let errors = errs(
        &base,
        json!([
            {"remove_def": {"kind": "defschema", "name": "demo/Extra@1", "pre_hash": hash}},
            {"add_def": {"kind": "defschema", "node": node}}
        ]),
    );
    assert_eq!(
        codes(&errors),
        [("unknown_def", "$.patches[0].remove_def".to_owned())]
    );
    // Removing and re-adding a definition is a change of it.
    let note = def_hash(&base, DefKind::Schema, "demo/Note@1");
    let compiled = ok(
        &base,
        json!([
            {"remove_def": {"kind": "defschema", "name": "demo/Note@1", "pre_hash": note}},
            {"add_def": {"kind": "defschema",
                         "node": schema_node("demo/Note@1", text_record("renamed"))}}
        ]),
    );
    assert_eq!(
        compiled.changes,
        [change(
            DefKind::Schema,
            "demo/Note@1",
            DefChangeAction::Changed
        )]
    );
}

#[test]
fn validation_sees_the_whole_result_not_each_step() {
    let base = base();
    // The trigger names a plan that only a later op adds: fine, the result is what is checked.
    let compiled = ok(
        &base,
        json!([
            {"set_triggers": {"pre_hash": block_hash(&base.manifest().triggers).to_string(),
                              "triggers": [{"event": "demo/Note@1", "plan": "demo/echo_plan@1"}]}},
            {"add_def": {"kind": "defplan", "node": echo_plan("demo/echo_plan@1")}}
        ]),
    );
    assert_eq!(
        compiled.plane.manifest().triggers[0].plan,
        name("demo/echo_plan@1")
    );
    // An intermediate state may be invalid: the referenced schema is briefly gone.
    let start = def_hash(&base, DefKind::Schema, "demo/CounterStart@1");
    let node = base
        .def(DefKind::Schema, &name("demo/CounterStart@1"))
        .unwrap()
        .node
        .to_json();
    let compiled = ok(
        &base,
        json!([
            {"remove_def": {"kind": "defschema", "name": "demo/CounterStart@1", "pre_hash": start}},
            {"add_def": {"kind": "defschema", "node": node}}
        ]),
    );
    assert_eq!(compiled.changes, []);
    // Re-added, so listed last: the manifest differs even though no definition does.
    assert_eq!(
        listed(&compiled.plane, "schemas")
            .last()
            .map(String::as_str),
        Some("demo/CounterStart@1")
    );
    assert_ne!(compiled.plane.manifest_hash(), base.manifest_hash());
}

#[test]
fn validation_errors_in_replacement_nodes_point_into_the_patch() {
    let base = base();
    let errors = errs(
        &base,
        json!([{"replace_def": {"kind": "defschema", "name": "demo/Note@1",
                                "new_node": schema_node("demo/Note@1",
                                                        json!({"list": {"ref": "demo/Ghost@1"}})),
                                "pre_hash": def_hash(&base, DefKind::Schema, "demo/Note@1")}}]),
    );
    assert_eq!(
        codes(&errors),
        [(
            "dangling_ref",
            "$.patches[0].replace_def.new_node.type.list.ref".to_owned()
        )]
    );
    assert_eq!(errors[0].file.as_deref(), Some("patch"));
}

#[test]
fn an_invalid_op_rejects_the_whole_patch() {
    let base = base();
    let errors = errs(
        &base,
        json!([
            {"add_def": {"kind": "defschema", "node": schema_node("demo/Fine@1", text_record("x"))}},
            {"set_defaults": {"policy": null}},
            {"remove_def": {"kind": "defschema", "name": "demo/Note@1", "pre_hash": ZERO_HASH}}
        ]),
    );
    assert_eq!(
        codes(&errors),
        [(
            "stale_pre_hash",
            "$.patches[2].remove_def.pre_hash".to_owned()
        )]
    );
}

#[test]
fn changes_are_sorted_by_kind_then_name() {
    let base = base();
    let compiled = ok(
        &base,
        json!([
            {"add_def": {"kind": "defpolicy", "node":
                {"$kind": "defpolicy", "name": "demo/deny_all@1", "rules": []}}},
            {"add_def": {"kind": "defschema", "node": schema_node("demo/Zed@1", text_record("x"))}},
            {"remove_def": {"kind": "defschema", "name": "demo/Note@1",
                            "pre_hash": def_hash(&base, DefKind::Schema, "demo/Note@1")}},
            {"add_def": {"kind": "defschema", "node": schema_node("demo/Abc@1", text_record("x"))}},
            {"add_def": {"kind": "defmodule", "node": other_reducer("demo/OtherSM@1")}}
        ]),
    );
    assert_eq!(
        compiled.changes,
        [
            change(DefKind::Schema, "demo/Abc@1", DefChangeAction::Added),
            change(DefKind::Schema, "demo/Note@1", DefChangeAction::Removed),
            change(DefKind::Schema, "demo/Zed@1", DefChangeAction::Added),
            change(DefKind::Module, "demo/OtherSM@1", DefChangeAction::Added),
            change(DefKind::Policy, "demo/deny_all@1", DefChangeAction::Added),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Hashes
// ---------------------------------------------------------------------------------------------

fn sample_patches() -> Json {
    json!([
        {"add_def": {"kind": "defschema", "node": schema_node("demo/Extra@1", text_record("x"))}},
        {"set_defaults": {"policy": null}}
    ])
}

#[test]
fn the_patch_hash_is_stable() {
    let base = base();
    let doc_json = doc(&base, sample_patches());
    let one = compile(&base, &doc_json, &BuildOptions::default()).unwrap();
    let two = compile(&base, &doc_json.clone(), &BuildOptions::default()).unwrap();
    assert_eq!(one.patch_hash, two.patch_hash);
    assert_eq!(
        one.patch_hash,
        PatchDoc::from_json(&doc_json).unwrap().hash()
    );
    // The document is in canonical shape, so the patch hash is its canonical CBOR's hash.
    assert_eq!(one.patch_hash, json_hash(&doc_json));
    // An omitted version means "1".
    let mut unversioned = doc_json.clone();
    unversioned.as_object_mut().unwrap().remove("version");
    assert_eq!(
        PatchDoc::from_json(&unversioned).unwrap().hash(),
        one.patch_hash
    );
}

#[test]
fn the_patch_hash_changes_with_the_document() {
    let base = base();
    let reference = PatchDoc::from_json(&doc(&base, sample_patches()))
        .unwrap()
        .hash();
    let variants = [
        json!([
            {"add_def": {"kind": "defschema", "node": schema_node("demo/Extra@1", text_record("y"))}},
            {"set_defaults": {"policy": null}}
        ]),
        json!([
            {"set_defaults": {"policy": null}},
            {"add_def": {"kind": "defschema", "node": schema_node("demo/Extra@1", text_record("x"))}}
        ]),
        json!([
            {"add_def": {"kind": "defschema", "node": schema_node("demo/Extra@1", text_record("x"))}}
        ]),
        json!([
            {"add_def": {"kind": "defschema", "node": schema_node("demo/Extra@1", text_record("x"))}},
            {"set_defaults": {}}
        ]),
    ];
    for patches in variants {
        let hash = PatchDoc::from_json(&doc(&base, patches.clone()))
            .unwrap()
            .hash();
        assert_ne!(hash, reference, "{patches}");
    }
    let mut other_base = doc(&base, sample_patches());
    other_base["base_manifest_hash"] = json!(ZERO_HASH);
    assert_ne!(PatchDoc::from_json(&other_base).unwrap().hash(), reference);
}

#[test]

fn documents_with_floats_in_comments_do_not_share_a_patch_hash() {
    let base = base();
    let with_comment = |def: &str, comment: f64| {
        let mut node = schema_node(def, text_record("x"));
        node["$comment"] = json!(comment);
        doc(
            &base,
            json!([{"add_def": {"kind": "defschema", "node": node}}]),
        )
    };
    let a = compile(
        &base,
        &with_comment("demo/A@1", 1.5),
        &BuildOptions::default(),
    );
    let b = compile(
        &base,
        &with_comment("demo/B@1", 2.5),
        &BuildOptions::default(),
    );
    match (a, b) {
        (Ok(a), Ok(b)) => {
            assert_ne!(a.patch_hash, Hash::of(b""));
            assert_ne!(a.patch_hash, b.patch_hash);
        }
        // Rejecting floats outright would also be acceptable.
        (a, b) => assert!(a.is_err() && b.is_err()),
    }
}

#[test]
fn compiling_twice_gives_the_same_manifest() {
    let base = base();
    let doc_json = doc(&base, sample_patches());
    let one = compile(&base, &doc_json, &BuildOptions::default()).unwrap();
    let two = compile(&base, &doc_json, &BuildOptions::default()).unwrap();
    assert_eq!(one.plane.manifest_hash(), two.plane.manifest_hash());
    assert_eq!(one.plane.manifest(), two.plane.manifest());
    assert_eq!(one.changes, two.changes);
    // And against a freshly loaded copy of the same base.
    let three = compile(&self::base(), &doc_json, &BuildOptions::default()).unwrap();
    assert_eq!(one.plane.manifest_hash(), three.plane.manifest_hash());
    // The manifest hash is the node hash of the manifest.
    assert_eq!(
        one.plane.manifest_hash(),
        Node::Manifest(one.plane.manifest().clone()).hash().unwrap()
    );
}

#[test]
fn a_compiled_plane_is_a_valid_base_for_the_next_patch() {
    let base = base();
    let first = ok(&base, sample_patches());
    let second = ok(
        &first.plane,
        json!([{"remove_def": {"kind": "defschema", "name": "demo/Extra@1",
                               "pre_hash": def_hash(&first.plane, DefKind::Schema, "demo/Extra@1")}}]),
    );
    assert_eq!(
        second.changes,
        [change(
            DefKind::Schema,
            "demo/Extra@1",
            DefChangeAction::Removed
        )]
    );
    assert_eq!(second.plane.manifest().defaults.policy, None);
    assert_ne!(second.plane.manifest_hash(), base.manifest_hash());
}

// ---------------------------------------------------------------------------------------------
// Document shape
// ---------------------------------------------------------------------------------------------

#[test]
fn malformed_documents_are_rejected_with_codes() {
    let base = base();
    let hash = base.manifest_hash().to_string();
    let op = json!({"set_defaults": {"policy": null}});
    let cases = [
        (
            json!({"version": "1", "patches": [op]}),
            "missing_field",
            "$",
        ),
        (
            json!({"version": "2", "base_manifest_hash": hash, "patches": [op]}),
            "bad_version",
            "$.version",
        ),
        (
            json!({"base_manifest_hash": "sha256:abc", "patches": [op]}),
            "bad_hash",
            "$.base_manifest_hash",
        ),
        (
            json!({"base_manifest_hash": hash, "patches": []}),
            "bad_patch",
            "$.patches",
        ),
        (
            json!({"base_manifest_hash": hash, "patches": [{"frobnicate": {}}]}),
            "bad_patch",
            "$.patches[0]",
        ),
        (
            json!({"base_manifest_hash": hash, "patches": [{"set_defaults": {}, "set_triggers": {}}]}),
            "bad_patch",
            "$.patches[0]",
        ),
        (
            json!({"base_manifest_hash": hash, "patches": [
                {"add_def": {"kind": "defthing", "node": {}}}
            ]}),
            "bad_kind",
            "$.patches[0].add_def.kind",
        ),
        (
            json!({"base_manifest_hash": hash, "patches": [
                {"remove_def": {"kind": "defschema", "name": "demo/Note@1"}}
            ]}),
            "missing_field",
            "$.patches[0].remove_def",
        ),
        (
            json!({"base_manifest_hash": hash, "patches": [
                {"remove_def": {"kind": "defschema", "name": "Note", "pre_hash": ZERO_HASH}}
            ]}),
            "bad_name",
            "$.patches[0].remove_def.name",
        ),
        (
            json!({"base_manifest_hash": hash, "patches": [
                {"set_defaults": {"policy": null, "extra": 1}}
            ]}),
            "unknown_field",
            "$.patches[0].set_defaults.extra",
        ),
        (
            json!({"base_manifest_hash": hash, "patches": [op], "extra": true}),
            "unknown_field",
            "$.extra",
        ),
        (json!([op]), "bad_shape", "$"),
    ];
    for (doc_json, code, path) in cases {
        let errors = errors(&base, &doc_json);
        assert_eq!(codes(&errors), [(code, path.to_owned())], "{doc_json}");
        assert_eq!(errors[0].file.as_deref(), Some("patch"), "{doc_json}");
    }
}

// ---------------------------------------------------------------------------------------------
// Build options
// ---------------------------------------------------------------------------------------------

#[test]

fn require_hashes_accepts_refs_the_compiler_wrote() {
    let mut files = sources();
    let mut module: Json = serde_json::from_str(MODULE).unwrap();
    module["wasm_hash"] = json!(Hash::of(b"counter wasm").to_string());
    files[2].text = module.to_string();
    let base = load_sources(&files, &BuildOptions::default()).unwrap();
    let strict = BuildOptions {
        require_hashes: true,
        ..BuildOptions::default()
    };
    // The base itself passes the strict check once its manifest is canonical (hashed).
    let noop = doc(&base, json!([{"set_defaults": {}}]));
    compile(&base, &noop, &strict).unwrap();
    let add = doc(
        &base,
        json!([{"add_def": {"kind": "defschema",
                            "node": schema_node("demo/Extra@1", text_record("x"))}}]),
    );
    let compiled = compile(&base, &add, &strict)
        .unwrap_or_else(|e| panic!("a hashed patch result should pass require_hashes:\n{e}"));
    assert!(
        compiled
            .plane
            .def(DefKind::Schema, &name("demo/Extra@1"))
            .is_some()
    );
}

// ---------------------------------------------------------------------------------------------
// More definitions and blocks
// ---------------------------------------------------------------------------------------------

/// Ops that add a timer-emitting reducer (and list what it needs), then bind its cap slot.
fn timer_reducer_ops(base: &ControlPlane, grant: &str) -> Json {
    let effect = Catalog::get()
        .hash(DefKind::Effect, &name("sys/timer.set@1"))
        .unwrap()
        .to_string();
    json!([
        {"add_def": {"kind": "defschema", "node": schema_node("demo/TimerEvent@1", json!(
            {"variant": {"Start": {"ref": "demo/CounterStart@1"},
                         "Fired": {"ref": "sys/TimerFired@1"}}}))}},
        {"add_def": {"kind": "defmodule", "node": {
            "$kind": "defmodule", "name": "demo/TimerSM@1", "module_kind": "reducer",
            "abi": {"reducer": {"state": "demo/CounterState@1", "event": "demo/TimerEvent@1",
                                "effects_emitted": ["timer.set"],
                                "cap_slots": {"default": "timer"}}}}}},
        {"set_manifest_refs": {"add": [
            {"kind": "defeffect", "name": "sys/timer.set@1", "hash": effect}
        ]}},
        {"set_module_bindings": {
            "pre_hash": block_hash(&base.manifest().module_bindings).to_string(),
            "bindings": {"demo/TimerSM@1": {"slots": {"default": grant}}}
        }}
    ])
}

#[test]
fn set_module_bindings_binds_a_new_reducer() {
    let base = base();
    let compiled = ok(&base, timer_reducer_ops(&base, "timer_grant"));
    let bindings = &compiled.plane.manifest().module_bindings;
    assert_eq!(bindings.len(), 1);
    let binding = &bindings[&name("demo/TimerSM@1")];
    assert_eq!(
        binding
            .slots
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect::<Vec<_>>(),
        [("default", "timer_grant")]
    );
    assert_eq!(
        compiled.changes,
        [
            change(DefKind::Schema, "demo/TimerEvent@1", DefChangeAction::Added),
            change(DefKind::Module, "demo/TimerSM@1", DefChangeAction::Added),
            change(DefKind::Effect, "sys/timer.set@1", DefChangeAction::Added),
        ]
    );
    // The next patch must name the new block's hash.
    let next = ok(
        &compiled.plane,
        json!([{"set_module_bindings": {
            "pre_hash": block_hash(bindings).to_string(),
            "bindings": {"demo/TimerSM@1": {"slots": {"default": "timer_grant"}}}
        }}]),
    );
    assert_eq!(next.plane.manifest_hash(), compiled.plane.manifest_hash());
    let errors = errs(
        &compiled.plane,
        json!([{"set_module_bindings": {
            "pre_hash": block_hash(&base.manifest().module_bindings).to_string(),
            "bindings": {}
        }}]),
    );
    assert_eq!(
        codes(&errors),
        [(
            "stale_pre_hash",
            "$.patches[0].set_module_bindings.pre_hash".to_owned()
        )]
    );
}

#[test]
fn set_module_bindings_to_an_unknown_grant_is_invalid() {
    let base = base();
    let errors = errs(&base, timer_reducer_ops(&base, "no_such_grant"));
    assert_eq!(
        codes(&errors),
        [(
            "dangling_ref",
            "$.module_bindings[\"demo/TimerSM@1\"].slots.default".to_owned()
        )]
    );
    assert!(
        errors[0].message.contains("no_such_grant"),
        "{}",
        errors[0].message
    );
}

#[test]
fn set_manifest_refs_adds_a_builtin_module() {
    let base = base();
    let module = name("sys/CapEnforceHttpOut@1");
    let hash = Catalog::get().hash(DefKind::Module, &module).unwrap();
    let compiled = ok(
        &base,
        json!([{"set_manifest_refs": {"add": [
            {"kind": "defmodule", "name": module.to_string(), "hash": hash.to_string()}
        ]}}]),
    );
    assert_eq!(
        listed(&compiled.plane, "modules"),
        ["demo/CounterSM@1", "sys/CapEnforceHttpOut@1"]
    );
    assert_eq!(
        compiled.plane.def(DefKind::Module, &module).unwrap().hash,
        hash
    );
    // A no-op patch on top keeps the built-in listed and the manifest identical.
    let again = ok(&compiled.plane, json!([{"set_defaults": {}}]));
    assert_eq!(again.plane.manifest_hash(), compiled.plane.manifest_hash());
    assert_eq!(again.changes, []);
}

#[test]
fn set_manifest_refs_checks_world_definitions_against_their_current_hash() {
    let base = base();
    let note = def_hash(&base, DefKind::Schema, "demo/Note@1");
    // Already listed with the right hash: nothing changes.
    let compiled = ok(
        &base,
        json!([{"set_manifest_refs": {"add": [
            {"kind": "defschema", "name": "demo/Note@1", "hash": note}
        ]}}]),
    );
    assert_eq!(compiled.plane.manifest_hash(), base.manifest_hash());
    let errors = errs(
        &base,
        json!([{"set_manifest_refs": {"add": [
            {"kind": "defschema", "name": "demo/Note@1", "hash": ZERO_HASH}
        ]}}]),
    );
    assert_eq!(
        codes(&errors),
        [(
            "hash_mismatch",
            "$.patches[0].set_manifest_refs.add[0]".to_owned()
        )]
    );
}

#[test]
fn a_comment_only_replacement_changes_nothing() {
    let base = base();
    let mut node = base
        .def(DefKind::Schema, &name("demo/Note@1"))
        .unwrap()
        .node
        .to_json();
    node["$comment"] = json!("a note about notes");
    let compiled = ok(
        &base,
        json!([{"replace_def": {"kind": "defschema", "name": "demo/Note@1", "new_node": node,
                                "pre_hash": def_hash(&base, DefKind::Schema, "demo/Note@1")}}]),
    );
    assert_eq!(compiled.changes, []);
    assert_eq!(compiled.plane.manifest_hash(), base.manifest_hash());
}

#[test]
fn add_def_of_a_secret_lists_it_in_secrets() {
    let base = base();
    let secret =
        json!({"$kind": "defsecret", "name": "demo/api_key@1", "binding_id": "env:API_KEY"});
    let compiled = ok(
        &base,
        json!([{"add_def": {"kind": "defsecret", "node": secret}}]),
    );
    assert_eq!(listed(&compiled.plane, "secrets"), ["demo/api_key@1"]);
    assert_eq!(
        compiled.changes,
        [change(
            DefKind::Secret,
            "demo/api_key@1",
            DefChangeAction::Added
        )]
    );
    // The secrets block now has another hash.
    assert_ne!(
        block_hash(&compiled.plane.manifest().secrets),
        block_hash(&base.manifest().secrets)
    );
    let remove = ok(
        &compiled.plane,
        json!([{"remove_def": {"kind": "defsecret", "name": "demo/api_key@1",
                               "pre_hash": def_hash(&compiled.plane, DefKind::Secret,
                                                    "demo/api_key@1")}}]),
    );
    assert_eq!(remove.plane.manifest_hash(), base.manifest_hash());
}

#[test]
fn manifest_is_not_a_definition_kind_for_ops() {
    let base = base();
    let errors = errs(
        &base,
        json!([{"set_manifest_refs": {"add": [
            {"kind": "manifest", "name": "demo/Note@1", "hash": ZERO_HASH}
        ]}}]),
    );
    assert_eq!(
        codes(&errors),
        [(
            "unknown_def",
            "$.patches[0].set_manifest_refs.add[0]".to_owned()
        )]
    );
    let errors = errs(
        &base,
        json!([{"remove_def": {"kind": "manifest", "name": "demo/X@1", "pre_hash": ZERO_HASH}}]),
    );
    assert_eq!(
        codes(&errors),
        [("unknown_def", "$.patches[0].remove_def".to_owned())]
    );
    let errors = errs(
        &base,
        json!([{"add_def": {"kind": "defschema",
                            "node": {"$kind": "defmigration", "name": "demo/X@1"}}}]),
    );
    assert_eq!(
        codes(&errors),
        [(
            "reserved_kind",
            "$.patches[0].add_def.node.$kind".to_owned()
        )]
    );
}

#[test]

fn unlisting_a_manifest_kind_points_at_the_op() {
    let base = base();
    let errors = errs(
        &base,
        json!([
            {"set_defaults": {}},
            {"set_manifest_refs": {"remove": [{"kind": "manifest", "name": "demo/X@1"}]}}
        ]),
    );
    assert_eq!(
        codes(&errors),
        [(
            "bad_kind",
            "$.patches[1].set_manifest_refs.remove[0]".to_owned()
        )]
    );
}
