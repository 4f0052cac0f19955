//! Worldline's own typed-value vectors (`spec/test-vectors/values.json`): both JSON lenses must
//! give exactly the bytes and hash derived independently by `spec/test-vectors/derive.py`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use serde_json::Value as Json;
use worldline_air::cbor::{from_hex, to_hex};
use worldline_air::value::from_any_json;
use worldline_air::{Hash, Name, TypeExpr, Value};

#[test]
fn typed_value_vectors_reproduce_bit_for_bit() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../spec/test-vectors/values.json"
    );
    let doc: Json = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let schemas: BTreeMap<Name, TypeExpr> = doc["schemas"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, ty)| {
            (
                Name::parse(name).unwrap(),
                TypeExpr::from_json(ty, "$").unwrap(),
            )
        })
        .collect();
    let vectors = doc["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 30);
    for vector in vectors {
        let label = vector["label"].as_str().unwrap();
        let ty = TypeExpr::from_json(&vector["type"], "$.type").unwrap();
        let want_hex = vector["cbor_hex"].as_str().unwrap();
        let want_hash = vector["hash"].as_str().unwrap();

        let plain = Value::from_plain_json(&vector["plain"], &ty, &schemas)
            .unwrap_or_else(|e| panic!("{label}: plain lens: {e}"));
        let tagged = Value::from_tagged_json(&vector["tagged"])
            .and_then(|v| v.normalize(&ty, &schemas))
            .unwrap_or_else(|e| panic!("{label}: tagged lens: {e}"));
        for (lens, value) in [("plain", &plain), ("tagged", &tagged)] {
            assert_eq!(
                to_hex(&value.to_canonical()),
                want_hex,
                "{label}: {lens} lens bytes"
            );
            assert_eq!(
                value.hash().to_string(),
                want_hash,
                "{label}: {lens} lens hash"
            );
        }
        for json in [&vector["plain"], &vector["tagged"]] {
            let value = from_any_json(json, &ty, &schemas).unwrap();
            assert_eq!(
                to_hex(&value.to_canonical()),
                want_hex,
                "{label}: either lens"
            );
        }
        let bytes = from_hex(want_hex).unwrap();
        assert_eq!(
            Hash::of(&bytes).to_string(),
            want_hash,
            "{label}: vector is self-consistent"
        );
        let decoded = Value::from_cbor_bytes(&bytes, &ty, &schemas).unwrap();
        assert_eq!(decoded, plain, "{label}: decode");
        let rendered = Value::from_plain_json(&decoded.to_plain_json(), &ty, &schemas).unwrap();
        assert_eq!(rendered.to_canonical(), bytes, "{label}: render → read");
    }
}
