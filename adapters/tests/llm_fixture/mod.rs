//! A control plane with chosen `defsecret`s, `llm.generate` params from plain JSON, and a CAS as
//! a map: what the LLM and secret tests build requests from.

// Shared by several test binaries, each of which uses only part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};
use worldline_adapters::llm::{LlmConfig, LlmError, LlmRequest, Message, request_from_params};
use worldline_adapters::secrets::SecretResolver;
use worldline_air::load::{SourceFile, load_sources};
use worldline_air::plane::BuildOptions;
use worldline_air::{ControlPlane, Hash, Name, Value};

/// A world whose manifest lists `secrets` (each a `defsecret` node).
pub fn plane(secrets: &[Json]) -> ControlPlane {
    let names: Vec<Json> = secrets.iter().map(|s| json!({"name": s["name"]})).collect();
    let mut nodes = vec![json!({
        "$kind": "manifest", "air_version": "1",
        "schemas": [], "modules": [], "plans": [], "effects": [{"name": "sys/llm.generate@1"}],
        "caps": [], "policies": [], "secrets": names,
        "defaults": {"cap_grants": []}
    })];
    nodes.extend(secrets.iter().cloned());
    let file = SourceFile {
        name: "world.air.json".into(),
        text: Json::Array(nodes).to_string(),
    };
    load_sources(&[file], &BuildOptions::default()).unwrap()
}

/// A `sys/LlmGenerateParams@1` value from plain JSON.
pub fn params(plane: &ControlPlane, json: Json) -> Value {
    let name = Name::parse("sys/LlmGenerateParams@1").unwrap();
    let ty = plane.schema_type_of(&name).unwrap();
    Value::from_plain_json(&json, ty, plane).unwrap()
}

/// A CAS: blobs by hash.
#[derive(Default)]
pub struct Cas(BTreeMap<Hash, Vec<u8>>);

impl Cas {
    /// Stores `bytes`; returns their hash.
    pub fn put(&mut self, bytes: &[u8]) -> Hash {
        let hash = Hash::of(bytes);
        self.0.insert(hash, bytes.to_vec());
        hash
    }

    /// Stores a `{role, content}` message blob; returns its hash as plain JSON text.
    pub fn message(&mut self, role: &str, content: &str) -> Json {
        let blob = json!({"role": role, "content": content}).to_string();
        Json::String(self.put(blob.as_bytes()).to_string())
    }

    /// The reader `request_from_params` takes.
    pub fn reader(&self) -> impl Fn(&Hash) -> Option<Vec<u8>> + '_ {
        |hash| self.0.get(hash).cloned()
    }
}

/// The request `json` params describe, with messages from `cas` and secrets from `resolver`.
pub fn request(
    plane: &ControlPlane,
    cas: &Cas,
    resolver: &SecretResolver,
    json: Json,
) -> Result<LlmRequest, LlmError> {
    let value = params(plane, json);
    request_from_params(
        plane,
        &value,
        &cas.reader(),
        resolver,
        &LlmConfig::default(),
    )
}

/// The message a draft's output object holds.
pub fn output_message(objects: &[Vec<u8>]) -> Message {
    assert_eq!(objects.len(), 1, "one output object");
    Message::from_blob(&objects[0])
}

/// `(code, message)` of a failed draft's error object.
pub fn error_of(objects: &[Vec<u8>]) -> (String, String) {
    assert_eq!(objects.len(), 1, "one error object");
    let json: Json = serde_json::from_slice(&objects[0]).unwrap();
    (
        json["error"]["code"].as_str().unwrap().to_owned(),
        json["error"]["message"].as_str().unwrap().to_owned(),
    )
}
