//! `world air …` through the real binary: output and error messages pinned by insta.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;

use common::{repo, world_in as world};

#[test]
fn check_counter_world() {
    let (code, stdout, stderr) = world(&repo(), &["air", "check", "worlds/counter"]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    insta::assert_snapshot!(stdout);
}

#[test]
fn check_counter_world_json() {
    let (code, stdout, _) = world(&repo(), &["air", "check", "worlds/counter", "--json"]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    insta::assert_json_snapshot!(json);
}

#[test]
fn require_hashes_refuses_authoring_files_without_them() {
    let (code, stdout, stderr) = world(
        &repo(),
        &["air", "check", "worlds/counter", "--require-hashes"],
    );
    assert_eq!((code, stdout.as_str()), (1, ""));
    insta::assert_snapshot!(stderr);
}

#[test]
fn a_supplied_module_binary_fills_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("counter.wasm");
    std::fs::write(&wasm, b"\0asm\x01\0\0\0").unwrap();
    let module = format!("demo/CounterSM@1={}", wasm.display());
    let (code, stdout, _) = world(
        &repo(),
        &[
            "air",
            "check",
            "worlds/counter",
            "--module",
            &module,
            "--json",
        ],
    );
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["modules_without_binary"], serde_json::json!([]));
    let (_, unbound, _) = world(&repo(), &["air", "check", "worlds/counter", "--json"]);
    let unbound: serde_json::Value = serde_json::from_str(&unbound).unwrap();
    assert_ne!(
        json["manifest_hash"], unbound["manifest_hash"],
        "the binary is part of the identity"
    );
}

#[test]
fn every_error_is_one_line_with_file_and_path() {
    let dir = tempfile::tempdir().unwrap();
    let air = dir.path().join("broken");
    std::fs::create_dir(&air).unwrap();
    for file in std::fs::read_dir(repo().join("worlds/counter/air")).unwrap() {
        let file = file.unwrap().path();
        std::fs::copy(&file, air.join(file.file_name().unwrap())).unwrap();
    }
    let manifest = air.join("manifest.air.json");
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    json["routing"]["events"][0]["event"] = "demo/CounterTick@1".into();
    std::fs::write(&manifest, serde_json::to_string_pretty(&json).unwrap()).unwrap();
    std::fs::write(air.join("extra.air.json"), r#"[{"$kind": "defschema", "name": "sys/Mine@1", "type": {"nat": {}}}, {"$kind": "defschema", "name": "demo/Unlisted@1", "type": {"option": {"unit": {}}}}]"#).unwrap();
    let before = std::fs::read_dir(&air).unwrap().count();
    let (code, stdout, stderr) = world(dir.path(), &["air", "check", "broken"]);
    assert_eq!((code, stdout.as_str()), (1, ""));
    insta::assert_snapshot!(stderr);
    assert_eq!(
        std::fs::read_dir(&air).unwrap().count(),
        before,
        "checking writes nothing"
    );

    let (code, stdout, _) = world(dir.path(), &["air", "check", "broken", "--json"]);
    assert_eq!(code, 1);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["ok"], false);
    assert!(
        json["errors"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["file"].is_string() && e["path"].is_string() && e["code"].is_string())
    );
}

#[test]
fn a_node_that_does_not_parse_still_lets_the_others_be_checked() {
    let dir = tempfile::tempdir().unwrap();
    let air = dir.path().join("w");
    std::fs::create_dir(&air).unwrap();
    std::fs::write(
        air.join("a.air.json"),
        r#"{"$kind": "manifest", "air_version": "2"}"#,
    )
    .unwrap();
    std::fs::write(
        air.join("b.air.json"),
        r#"{"$kind": "defschema", "name": "sys/Mine@1", "type": {"nat": {}}}"#,
    )
    .unwrap();
    let (code, _, stderr) = world(dir.path(), &["air", "check", "w"]);
    assert_eq!(code, 1);
    insta::assert_snapshot!(stderr);
}

#[test]
fn missing_directory_and_empty_directory_fail_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = world(dir.path(), &["air", "check", "nowhere"]);
    assert_eq!(code, 1);
    assert_eq!(stderr, "error: nowhere: not a directory\n");
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    let (code, _, stderr) = world(dir.path(), &["air", "check", "empty"]);
    assert_eq!(code, 1);
    assert_eq!(stderr, "error: empty: no *.air.json files\n");
}

#[test]
fn hash_of_a_node_a_node_array_and_a_plain_value() {
    let dir = tempfile::tempdir().unwrap();
    // The AgentOS `defschema_point` vector: its published hash.
    let point = r#"{"$kind":"defschema","name":"com.acme/Point@1","type":{"record":{"x":{"int":{}},"y":{"int":{}}}}}"#;
    std::fs::write(dir.path().join("point.json"), point).unwrap();
    let (code, stdout, _) = world(dir.path(), &["air", "hash", "point.json"]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout,
        "sha256:9b74eadb8810612f1becfbf9b4502cccb0ef290b90e3e912b316fc279e779add  defschema com.acme/Point@1\n"
    );
    // The `simple_record` vector: a plain JSON value.
    std::fs::write(dir.path().join("value.json"), r#"{"b": 2, "a": 1}"#).unwrap();
    let (_, stdout, _) = world(dir.path(), &["air", "hash", "value.json"]);
    assert_eq!(
        stdout,
        "sha256:7d5fc784e8d341244b992c902413575266e3140e9081fe12fc95849cf27e7df6  value\n"
    );
    let (code, stdout, _) = world(
        &repo(),
        &["air", "hash", "worlds/counter/air/schemas.air.json"],
    );
    assert_eq!(code, 0);
    insta::assert_snapshot!(stdout);
}

#[test]
fn hash_errors_name_file_and_place() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("float.json"), r#"{"a": [1, 2.5]}"#).unwrap();
    std::fs::write(dir.path().join("bad.json"), r#"{"a": 1,}"#).unwrap();
    std::fs::write(
        dir.path().join("node.json"),
        r#"{"$kind": "defschema", "name": "x", "type": {"nat": {}}}"#,
    )
    .unwrap();
    let mut lines = Vec::new();
    for file in ["float.json", "bad.json", "node.json"] {
        let (code, stdout, stderr) = world(dir.path(), &["air", "hash", file]);
        assert_eq!((code, stdout.as_str()), (1, ""), "{file}");
        assert_eq!(stderr.lines().count(), 1, "{file}: one line");
        lines.push(stderr);
    }
    insta::assert_snapshot!(lines.concat());
}

#[test]
fn schema_prints_every_kind_and_writes_files() {
    let (code, stdout, _) = world(&repo(), &["air", "schema"]);
    assert_eq!(code, 0);
    let all: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let mut files: Vec<&String> = all.as_object().unwrap().keys().collect();
    files.sort();
    insta::assert_debug_snapshot!(files);
    let dir = tempfile::tempdir().unwrap();
    let (code, _, _) = world(dir.path(), &["air", "schema", "--out", "out"]);
    assert_eq!(code, 0);
    for (file, schema) in all.as_object().unwrap() {
        let written: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("out").join(file)).unwrap(),
        )
        .unwrap();
        assert_eq!(&written, schema, "{file}");
    }
}

#[test]
fn counter_world_is_the_agentos_example_unchanged() {
    let Some(conformance) = conformance_dir() else {
        return;
    };
    let theirs = conformance.join("agentos-air-v1/examples/00-counter/air");
    for file in ["manifest.air.json", "module.air.json", "schemas.air.json"] {
        let ours = std::fs::read(repo().join("worlds/counter/air").join(file)).unwrap();
        assert_eq!(ours, std::fs::read(theirs.join(file)).unwrap(), "{file}");
    }
}

#[test]
fn every_agentos_example_passes_air_check_unchanged() {
    let Some(conformance) =
        conformance::conformance_dir("every_agentos_example_passes_air_check_unchanged")
    else {
        return;
    };
    let examples = conformance.join("agentos-air-v1/examples");
    let mut names: Vec<String> = std::fs::read_dir(&examples)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 5);
    let mut out = String::new();
    for name in names {
        let (code, stdout, stderr) = world(&examples, &["air", "check", &name]);
        assert_eq!((code, stderr.as_str()), (0, ""), "{name}");
        out.push_str(&stdout);
    }
    insta::assert_snapshot!(out);
}

#[path = "../../tests/src/conformance.rs"]
mod conformance;

fn conformance_dir() -> Option<PathBuf> {
    conformance::conformance_dir("counter_world_is_the_agentos_example_unchanged")
}
