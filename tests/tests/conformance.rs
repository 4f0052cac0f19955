#![allow(clippy::unwrap_used, clippy::expect_used)] // tests state their expectations by unwrapping
//! AgentOS AIR v1 conformance: published vectors bit for bit, example worlds load unchanged,
//! the built-in catalog equals theirs field for field.

use std::collections::BTreeMap;

use serde_json::Value as Json;
use worldline_air::Hash;
use worldline_air::catalog::Catalog;
use worldline_air::cbor::{json_to_cbor, to_hex};
use worldline_air::load::load_sources;
use worldline_air::nodes::Node;
use worldline_air::plane::BuildOptions;
use worldline_tests::conformance::agentos_dir;
use worldline_tests::sources::air_sources;

fn read_json(path: &std::path::Path) -> Json {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn published_vectors_reproduce_bit_for_bit() {
    let Some(dir) = agentos_dir("published_vectors_reproduce_bit_for_bit") else {
        return;
    };
    let mut count = 0;
    for file in ["canonical-cbor.json", "schemas.json", "plans.json"] {
        for vector in read_json(&dir.join("test-vectors").join(file))
            .as_array()
            .unwrap()
        {
            let label = vector["label"].as_str().unwrap();
            let bytes = json_to_cbor(&vector["json"])
                .unwrap()
                .to_canonical()
                .unwrap();
            assert_eq!(
                to_hex(&bytes),
                vector["cbor_hex"].as_str().unwrap(),
                "{file} {label}: bytes"
            );
            assert_eq!(
                Hash::of(&bytes).to_string(),
                vector["hash"].as_str().unwrap(),
                "{file} {label}: hash"
            );
            // Whole AIR nodes must also hash the same through the typed node (the canonical form).
            if vector["json"].get("$kind").is_some() {
                let node = Node::from_json(&vector["json"], "$").unwrap();
                assert_eq!(
                    node.hash().unwrap().to_string(),
                    vector["hash"].as_str().unwrap(),
                    "{file} {label}: node hash"
                );
            }
            count += 1;
        }
    }
    assert_eq!(count, 5, "the five published vectors");
}

#[test]
fn every_example_world_loads_unchanged() {
    let Some(dir) = agentos_dir("every_example_world_loads_unchanged") else {
        return;
    };
    let mut examples: Vec<_> = std::fs::read_dir(dir.join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    examples.sort();
    assert_eq!(examples.len(), 5);
    for example in examples {
        let plane = load_sources(&air_sources(&example.join("air")), &BuildOptions::default())
            .unwrap_or_else(|e| panic!("{}:\n{e}", example.display()));
        // Loading twice gives the same manifest hash (nothing depends on order or time).
        let again =
            load_sources(&air_sources(&example.join("air")), &BuildOptions::default()).unwrap();
        assert_eq!(plane.manifest_hash(), again.manifest_hash());
    }
}

fn strip_comments(json: &Json) -> Json {
    match json {
        Json::Object(map) => Json::Object(
            map.iter()
                .filter(|(k, _)| *k != "$comment")
                .map(|(k, v)| (k.clone(), strip_comments(v)))
                .collect(),
        ),
        Json::Array(items) => Json::Array(items.iter().map(strip_comments).collect()),
        other => other.clone(),
    }
}

#[test]
fn builtin_catalog_equals_agentos_field_for_field() {
    let Some(dir) = agentos_dir("builtin_catalog_equals_agentos_field_for_field") else {
        return;
    };
    let ours: BTreeMap<String, Json> = Catalog::get()
        .nodes()
        .into_iter()
        .map(|node| {
            (
                format!("{} {}", node.kind(), node.name().unwrap()),
                node.to_json(),
            )
        })
        .collect();
    let mut theirs: BTreeMap<String, Json> = BTreeMap::new();
    for file in [
        "builtin-schemas",
        "builtin-effects",
        "builtin-caps",
        "builtin-modules",
    ] {
        for node in read_json(&dir.join(format!("defs/{file}.air.json")))
            .as_array()
            .unwrap()
        {
            let key = format!(
                "{} {}",
                node["$kind"].as_str().unwrap(),
                node["name"].as_str().unwrap()
            );
            theirs.insert(key, strip_comments(node));
        }
    }
    assert_eq!(theirs.len(), 82 + 25 + 8 + 6);
    // Ours is a superset: exactly the additions `spec/air.md` lists ("Catalog additions").
    let additions: Vec<&str> = ours
        .keys()
        .filter(|key| !theirs.contains_key(*key))
        .map(String::as_str)
        .collect();
    assert_eq!(additions, ["defschema sys/WorldResumed@1"]);
    for (key, their_node) in &theirs {
        let mut our_node = ours
            .get(key)
            .unwrap_or_else(|| panic!("{key} is missing from our catalog"))
            .clone();
        if key.starts_with("defmodule") {
            // The one deliberate difference: AgentOS ships a zero placeholder, we the built-in's identity.
            assert_eq!(
                their_node["wasm_hash"],
                Json::String(Hash::ZERO.to_string()),
                "{key}"
            );
            let name = worldline_air::Name::parse(their_node["name"].as_str().unwrap()).unwrap();
            assert_eq!(
                our_node["wasm_hash"],
                Json::String(worldline_air::catalog::builtin_module_hash(&name).to_string())
            );
            our_node["wasm_hash"] = their_node["wasm_hash"].clone();
        }
        assert_eq!(&our_node, their_node, "{key} differs");
    }
}
