//! The JSON Schemas published in `spec/schemas/` are exactly what the code generates.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

#[test]
fn published_schemas_are_current() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../spec/schemas");
    let generated = worldline_air::schema_gen::all_schemas();
    assert_eq!(
        generated.len(),
        9,
        "eight node kinds and the patch document"
    );
    let mut stale = Vec::new();
    for (file, schema) in &generated {
        let expected = format!("{}\n", serde_json::to_string_pretty(schema).unwrap());
        match std::fs::read_to_string(dir.join(file)) {
            Ok(published) if published == expected => {}
            _ => stale.push(file.clone()),
        }
    }
    assert!(
        stale.is_empty(),
        "spec/schemas is stale ({}): run `cargo run -p worldline-cli -- air schema --out spec/schemas`",
        stale.join(", ")
    );
    let published = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(
        published,
        generated.len(),
        "spec/schemas holds files the code no longer generates"
    );
}

#[test]
fn schemas_describe_the_kinds_they_name() {
    for (file, schema) in worldline_air::schema_gen::all_schemas() {
        assert_eq!(
            schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "{file}"
        );
        if file != "patch.schema.json" {
            let kind = file.trim_end_matches(".schema.json");
            assert_eq!(schema["properties"]["$kind"]["const"], kind, "{file}");
            assert_eq!(schema["required"][0], "$kind", "{file}");
        }
    }
}
