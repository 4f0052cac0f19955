//! JSON Schemas (draft 2020-12) of every node kind and the patch document, for editors and
//! for structural checks outside Rust. Generated with schemars from the node types themselves.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::{Value as Json, json};

use crate::expr::{Expr, ExprOp, ExprOrValue};
use crate::nodes::{
    DefCap, DefEffect, DefKind, DefModule, DefPlan, DefPolicy, DefSchema, DefSecret, Manifest,
};
use crate::types::TypeExpr;

impl JsonSchema for TypeExpr {
    fn schema_name() -> Cow<'static, str> {
        "TypeExpr".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let this = generator.subschema_for::<TypeExpr>().to_value();
        let empty = json!({"type": "object", "maxProperties": 1, "properties": {"$comment": {"type": "string"}}});
        let mut forms: Vec<Json> = ["bool", "int", "nat", "dec128", "bytes", "text", "time", "duration", "hash", "uuid", "unit"]
            .iter()
            .map(|p| json!({"type": "object", "required": [p], "properties": {*p: empty, "$comment": {"type": "string"}}, "additionalProperties": false}))
            .collect();
        let fields = json!({"type": "object", "additionalProperties": this, "propertyNames": {"pattern": "^([A-Za-z_][A-Za-z0-9_-]{0,63}|\\$comment)$"}});
        for (word, body) in [
            ("record", fields.clone()),
            ("variant", fields),
            ("list", this.clone()),
            ("set", this.clone()),
            ("option", this.clone()),
            (
                "ref",
                json!({"type": "string", "pattern": "^[a-z][a-z0-9._-]*/[A-Za-z][A-Za-z0-9._-]*@([1-9][0-9]*)$"}),
            ),
        ] {
            forms.push(json!({"type": "object", "required": [word], "properties": {word: body, "$comment": {"type": "string"}}, "additionalProperties": false}));
        }
        let key_forms: Vec<Json> = ["int", "nat", "text", "uuid", "hash"]
            .iter()
            .map(|p| json!({"type": "object", "required": [p], "properties": {*p: empty}, "additionalProperties": false}))
            .collect();
        let key = json!({ "oneOf": key_forms });
        forms.push(json!({"type": "object", "required": ["map"], "additionalProperties": false, "properties": {
            "map": {"type": "object", "required": ["key", "value"], "additionalProperties": false, "properties": {"key": key, "value": this}},
            "$comment": {"type": "string"}
        }}));
        json_schema!({"description": "A type expression: a primitive, a composite, or a ref to a defschema.", "oneOf": forms})
    }
}

impl JsonSchema for Expr {
    fn schema_name() -> Cow<'static, str> {
        "Expr".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let this = generator.subschema_for::<Expr>().to_value();
        let ops: Vec<&str> = ExprOp::ALL.iter().map(|op| op.word()).collect();
        let single = |word: &str, body: Json| json!({"type": "object", "required": [word], "properties": {word: body}, "additionalProperties": false});
        let forms = vec![
            json!({"type": "object", "required": ["op", "args"], "additionalProperties": false, "properties": {
                "op": {"enum": ops}, "args": {"type": "array", "items": this, "minItems": 1}
            }}),
            single(
                "ref",
                json!({"type": "string", "pattern": "^@(plan\\.input|event|var:[A-Za-z_][A-Za-z0-9_-]*|step:[A-Za-z_][A-Za-z0-9_-]*)(\\.[A-Za-z0-9_$-]+)*$"}),
            ),
            single("null", json!({"type": "object", "maxProperties": 0})),
            single("bool", json!({"type": "boolean"})),
            single("int", json!({"type": "integer"})),
            single("nat", json!({"type": "integer", "minimum": 0})),
            single("dec128", json!({"type": "string"})),
            single("text", json!({"type": "string"})),
            single(
                "bytes_b64",
                json!({"type": "string", "contentEncoding": "base64"}),
            ),
            single("time_ns", json!({"type": "integer", "minimum": 0})),
            single("duration_ns", json!({"type": "integer", "minimum": 0})),
            single(
                "hash",
                json!({"type": "string", "pattern": "^sha256:[0-9a-f]{64}$"}),
            ),
            single("uuid", json!({"type": "string", "format": "uuid"})),
            single(
                "record",
                json!({"type": "object", "additionalProperties": this}),
            ),
            single("list", json!({"type": "array", "items": this})),
            single("set", json!({"type": "array", "items": this})),
            single(
                "map",
                json!({"type": "array", "items": {"type": "object", "required": ["key", "value"], "additionalProperties": false, "properties": {"key": this, "value": this}}}),
            ),
            single(
                "variant",
                json!({"type": "object", "required": ["tag"], "additionalProperties": false, "properties": {"tag": {"type": "string"}, "value": this}}),
            ),
        ];
        json_schema!({"description": "A plan expression: a tagged constant, a constructor, a ref or an op.", "oneOf": forms})
    }
}

impl JsonSchema for ExprOrValue {
    fn schema_name() -> Cow<'static, str> {
        "ExprOrValue".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let expr = generator.subschema_for::<Expr>();
        json_schema!({"description": "An expression, or a plain JSON literal typed by where it is used.", "anyOf": [expr, true]})
    }
}

/// Every schema this crate publishes: `(file name, schema)`, in a stable order.
pub fn all_schemas() -> Vec<(String, Json)> {
    let mut out = vec![
        node_schema::<DefSchema>(DefKind::Schema),
        node_schema::<DefModule>(DefKind::Module),
        node_schema::<DefPlan>(DefKind::Plan),
        node_schema::<DefEffect>(DefKind::Effect),
        node_schema::<DefCap>(DefKind::Cap),
        node_schema::<DefPolicy>(DefKind::Policy),
        node_schema::<DefSecret>(DefKind::Secret),
        node_schema::<Manifest>(DefKind::Manifest),
    ];
    out.push((
        "patch.schema.json".to_owned(),
        root::<crate::patch::PatchDoc>("AIR v1 patch document", None),
    ));
    out
}

fn node_schema<T: JsonSchema>(kind: DefKind) -> (String, Json) {
    (
        format!("{}.schema.json", kind.word()),
        root::<T>(&format!("AIR v1 {}", kind.word()), Some(kind)),
    )
}

fn root<T: JsonSchema>(title: &str, kind: Option<DefKind>) -> Json {
    let generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    let mut schema = generator.into_root_schema_for::<T>().to_value();
    if let Json::Object(map) = &mut schema {
        map.insert("title".into(), Json::String(title.to_owned()));
        if let Some(kind) = kind {
            if let Some(Json::Object(properties)) = map.get_mut("properties") {
                properties.insert("$kind".into(), json!({"const": kind.word()}));
                properties.insert("$comment".into(), json!({"type": "string"}));
            }
            if let Some(Json::Array(required)) = map.get_mut("required") {
                required.insert(0, Json::String("$kind".into()));
            }
        }
    }
    schema
}
