//! Canned receipts for shadow runs: the smallest value of a receipt schema, so a candidate's
//! plans and reducers can go on without anything leaving the process.

use std::collections::BTreeMap;

use worldline_air::types::SchemaLookup;
use worldline_air::value::Dec128;
use worldline_air::{Hash, TypeExpr, Value};

/// Schema references followed at most this deep (a recursive schema ends in its smallest arm).
const DEPTH_MAX: usize = 32;

/// The smallest value of `ty`: empty collections, zeros, `none`, a variant's first arm; a
/// record field named `status` holding a number is 200 (a canned HTTP answer is a success).
pub fn canned_value(ty: &TypeExpr, schemas: &dyn SchemaLookup) -> Value {
    canned(ty, schemas, 0)
}

fn canned(ty: &TypeExpr, schemas: &dyn SchemaLookup, depth: usize) -> Value {
    if depth > DEPTH_MAX {
        return Value::Null;
    }
    match ty {
        TypeExpr::Bool => Value::Bool(false),
        TypeExpr::Int => Value::Int(0),
        TypeExpr::Nat => Value::Nat(0),
        TypeExpr::Dec128 => Dec128::parse("0").map_or(Value::Null, Value::Dec128),
        TypeExpr::Bytes => Value::Bytes(Vec::new()),
        TypeExpr::Text => Value::Text(String::new()),
        TypeExpr::Time => Value::Time(0),
        TypeExpr::Duration => Value::Duration(0),
        TypeExpr::Hash => Value::Hash(Hash::ZERO),
        TypeExpr::Uuid => Value::Uuid("00000000-0000-0000-0000-000000000000".to_owned()),
        TypeExpr::Unit | TypeExpr::Option(_) => Value::Null,
        TypeExpr::Record(fields) => Value::Record(
            fields
                .iter()
                .map(|(name, ty)| {
                    let value = match (name.as_str(), ty) {
                        ("status", TypeExpr::Nat) => Value::Nat(200),
                        ("status", TypeExpr::Int) => Value::Int(200),
                        _ => canned(ty, schemas, depth + 1),
                    };
                    (name.clone(), value)
                })
                .collect::<BTreeMap<_, _>>(),
        ),
        TypeExpr::Variant(arms) => match arms.iter().next() {
            None => Value::Null,
            Some((tag, TypeExpr::Unit)) => Value::Variant {
                tag: tag.clone(),
                value: None,
            },
            Some((tag, ty)) => Value::Variant {
                tag: tag.clone(),
                value: Some(Box::new(canned(ty, schemas, depth + 1))),
            },
        },
        TypeExpr::List(_) => Value::List(Vec::new()),
        TypeExpr::Set(_) => Value::Set(Vec::new()),
        TypeExpr::Map { .. } => Value::Map(Vec::new()),
        TypeExpr::Ref(name) => match schemas.schema_type(name) {
            Some(ty) => canned(ty, schemas, depth + 1),
            None => Value::Null,
        },
    }
}
