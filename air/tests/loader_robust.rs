//! No input makes the loader panic: random JSON built from AIR's own vocabulary, and random
//! mutations of a valid world, must each load or fail with errors, never panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use serde_json::{Map, Value as Json};
use worldline_air::load::{SourceFile, load_sources};
use worldline_air::plane::BuildOptions;

const WORLD: &str = include_str!("../../worlds/counter/air/schemas.air.json");
const MODULE: &str = include_str!("../../worlds/counter/air/module.air.json");
const MANIFEST: &str = include_str!("../../worlds/counter/air/manifest.air.json");

/// Words that steer random objects into the parsers' interesting branches.
const KEYS: &[&str] = &[
    "$kind",
    "name",
    "type",
    "record",
    "variant",
    "ref",
    "option",
    "list",
    "set",
    "map",
    "key",
    "value",
    "nat",
    "int",
    "text",
    "unit",
    "manifest",
    "schemas",
    "modules",
    "plans",
    "effects",
    "caps",
    "policies",
    "routing",
    "events",
    "triggers",
    "defaults",
    "steps",
    "edges",
    "op",
    "args",
    "id",
    "bind",
    "as",
    "air_version",
    "abi",
    "reducer",
    "state",
    "event",
    "module_kind",
    "cap_grants",
    "params",
    "when",
    "rules",
    "decision",
    "$tag",
    "$value",
    "from",
    "to",
];

const WORDS: &[&str] = &[
    "defschema",
    "defmodule",
    "defplan",
    "defeffect",
    "defcap",
    "defpolicy",
    "defsecret",
    "manifest",
    "defmigration",
    "1",
    "reducer",
    "pure",
    "demo/X@1",
    "sys/TimerFired@1",
    "demo/CounterState@1",
    "@var:x",
    "@plan.input.a",
    "end",
    "emit_effect",
    "add",
    "allow",
    "sha256:0000000000000000000000000000000000000000000000000000000000000000",
    "",
];

fn json_leaf() -> impl Strategy<Value = Json> {
    prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(Json::from),
        any::<u64>().prop_map(Json::from),
        (-1.0e6f64..1.0e6).prop_map(Json::from),
        prop::sample::select(WORDS).prop_map(|w| Json::String(w.to_owned())),
        Just(Json::Object(Map::new())),
    ]
}

fn json_tree() -> impl Strategy<Value = Json> {
    json_leaf().prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Json::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|pairs| {
                Json::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

fn load_one(json: &Json) {
    let files = [SourceFile {
        name: "case.air.json".to_owned(),
        text: json.to_string(),
    }];
    let _ = load_sources(&files, &BuildOptions::default());
}

/// Replaces the `index`-th node (in pre-order) of `json` with `replacement`.
fn mutate(json: &mut Json, index: &mut usize, replacement: &Json) -> bool {
    if *index == 0 {
        *json = replacement.clone();
        return true;
    }
    *index -= 1;
    match json {
        Json::Array(items) => items
            .iter_mut()
            .any(|item| mutate(item, index, replacement)),
        Json::Object(map) => map
            .values_mut()
            .any(|item| mutate(item, index, replacement)),
        _ => false,
    }
}

fn counter_world() -> Json {
    let mut nodes = Vec::new();
    for text in [WORLD, MODULE] {
        nodes.extend(serde_json::from_str::<Vec<Json>>(text).unwrap());
    }
    nodes.push(serde_json::from_str(MANIFEST).unwrap());
    Json::Array(nodes)
}

#[test]
fn the_unmutated_world_loads() {
    let files = [SourceFile {
        name: "w.air.json".to_owned(),
        text: counter_world().to_string(),
    }];
    load_sources(&files, &BuildOptions::default()).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_json_never_panics(json in json_tree()) {
        load_one(&json);
        load_one(&Json::Array(vec![json]));
    }

    #[test]
    fn mutated_worlds_never_panic(index in 0usize..400, replacement in json_tree()) {
        let mut world = counter_world();
        let mut at = index;
        mutate(&mut world, &mut at, &replacement);
        load_one(&world);
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,200}") {
        let files = [SourceFile { name: "t.air.json".to_owned(), text }];
        let _ = load_sources(&files, &BuildOptions::default());
    }
}
