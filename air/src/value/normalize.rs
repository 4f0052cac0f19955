//! Value + type → normalized value: the check every payload passes before it is hashed.

use std::collections::BTreeMap;

use crate::hash::Hash;
use crate::json::{join_index, join_key};
use crate::types::{SchemaLookup, TypeExpr};

use super::decode::is_optional;
use super::{Dec128, Value, ValueError};

impl Value {
    /// Checks `self` against `ty` and returns its normal form.
    ///
    /// Numbers convert between `int`, `nat`, `time` and `duration` when the value fits; text
    /// converts to `hash`, `uuid` and `dec128` when it parses; null fills a missing `option`
    /// field; sets are sorted and deduplicated, maps sorted. Anything else is an error naming
    /// the path inside the value.
    pub fn normalize(self, ty: &TypeExpr, schemas: &dyn SchemaLookup) -> Result<Value, ValueError> {
        normalize(self, ty, schemas, "$")
    }
}

fn mismatch(path: &str, ty: &TypeExpr, value: &Value) -> ValueError {
    ValueError::new(
        path,
        format!("expected {}, found {}", ty.keyword(), value.kind_name()),
    )
}

fn as_u64(value: &Value) -> Option<u64> {
    match value {
        Value::Nat(n) | Value::Time(n) | Value::Duration(n) => Some(*n),
        Value::Int(n) => u64::try_from(*n).ok(),
        _ => None,
    }
}

fn normalize(
    value: Value,
    ty: &TypeExpr,
    schemas: &dyn SchemaLookup,
    path: &str,
) -> Result<Value, ValueError> {
    let out = match (ty, value) {
        (TypeExpr::Ref(name), value) => {
            let target = schemas
                .schema_type(name)
                .ok_or_else(|| ValueError::new(path, format!("schema {name} is not defined")))?;
            return normalize(value, target, schemas, path);
        }
        (TypeExpr::Option(_), Value::Null) => Value::Null,
        (TypeExpr::Option(inner), value) => normalize(value, inner, schemas, path)?,
        (TypeExpr::Unit, Value::Null) => Value::Null,
        (TypeExpr::Bool, Value::Bool(b)) => Value::Bool(b),
        (TypeExpr::Int, Value::Int(n)) => Value::Int(n),
        (TypeExpr::Int, value @ (Value::Nat(_) | Value::Time(_) | Value::Duration(_))) => {
            let n = as_u64(&value).unwrap_or(u64::MAX);
            Value::Int(
                i64::try_from(n)
                    .map_err(|_| ValueError::new(path, format!("{n} is out of range for int")))?,
            )
        }
        (
            TypeExpr::Nat | TypeExpr::Time | TypeExpr::Duration,
            value @ (Value::Nat(_) | Value::Int(_) | Value::Time(_) | Value::Duration(_)),
        ) => {
            let n = as_u64(&value).ok_or_else(|| {
                ValueError::new(path, format!("{} must not be negative", ty.keyword()))
            })?;
            match ty {
                TypeExpr::Nat => Value::Nat(n),
                TypeExpr::Time => Value::Time(n),
                _ => Value::Duration(n),
            }
        }
        (TypeExpr::Dec128, Value::Dec128(d)) => Value::Dec128(d),
        (TypeExpr::Dec128, Value::Text(text)) => {
            Value::Dec128(Dec128::parse(&text).map_err(|e| ValueError::new(path, e.to_string()))?)
        }
        (TypeExpr::Dec128, Value::Int(n)) => Value::Dec128(
            Dec128::parse(&n.to_string()).map_err(|e| ValueError::new(path, e.to_string()))?,
        ),
        (TypeExpr::Dec128, Value::Nat(n)) => Value::Dec128(
            Dec128::parse(&n.to_string()).map_err(|e| ValueError::new(path, e.to_string()))?,
        ),
        (TypeExpr::Bytes, Value::Bytes(b)) => Value::Bytes(b),
        (TypeExpr::Text, Value::Text(t)) => Value::Text(t),
        (TypeExpr::Hash, Value::Hash(h)) => Value::Hash(h),
        (TypeExpr::Hash, Value::Text(t)) => Value::Hash(
            t.parse::<Hash>()
                .map_err(|e| ValueError::new(path, e.to_string()))?,
        ),
        (TypeExpr::Uuid, Value::Uuid(u) | Value::Text(u)) => Value::Uuid(parse_uuid(&u, path)?),
        (TypeExpr::List(inner), Value::List(items) | Value::Set(items)) => {
            Value::List(normalize_items(items, inner, schemas, path)?)
        }
        (TypeExpr::Set(inner), Value::Set(items) | Value::List(items)) => {
            Value::Set(sort_set(normalize_items(items, inner, schemas, path)?))
        }
        (TypeExpr::Map { key, value }, Value::Map(entries)) => {
            let mut out = Vec::with_capacity(entries.len());
            for (index, (entry_key, entry_value)) in entries.into_iter().enumerate() {
                let entry_key =
                    normalize(entry_key, key, schemas, &format!("{path}[key {index}]"))?;
                let value_path = format!("{path}[{}]", super::plain::map_key_text(&entry_key));
                out.push((
                    entry_key,
                    normalize(entry_value, value, schemas, &value_path)?,
                ));
            }
            Value::Map(sort_map(out, path)?)
        }
        (TypeExpr::Record(fields), Value::Record(mut given)) => {
            if let Some(unknown) = given.keys().find(|k| !fields.contains_key(*k)) {
                return Err(ValueError::new(join_key(path, unknown), "unknown field"));
            }
            let mut out = BTreeMap::new();
            for (field, field_type) in fields {
                let field_path = join_key(path, field);
                let value = match given.remove(field) {
                    Some(value) => normalize(value, field_type, schemas, &field_path)?,
                    None if is_optional(field_type, schemas) => Value::Null,
                    None => return Err(ValueError::new(field_path, "missing field")),
                };
                out.insert(field.clone(), value);
            }
            Value::Record(out)
        }
        (TypeExpr::Variant(arms), Value::Variant { tag, value }) => {
            let arm_type = check_variant_arm(arms, &tag, path)?;
            let value_path = join_key(path, "$value");
            let value = match (arm_type.resolve(schemas), value) {
                (Some(TypeExpr::Unit), None) => None,
                (Some(TypeExpr::Unit), Some(inner)) if *inner == Value::Null => None,
                (_, None) if is_optional(arm_type, schemas) => Some(Box::new(Value::Null)),
                (_, None) => {
                    return Err(ValueError::new(
                        value_path,
                        format!("arm `{tag}` needs a value"),
                    ));
                }
                (_, Some(inner)) => {
                    Some(Box::new(normalize(*inner, arm_type, schemas, &value_path)?))
                }
            };
            Value::Variant { tag, value }
        }
        (ty, value) => return Err(mismatch(path, ty, &value)),
    };
    Ok(out)
}

fn normalize_items(
    items: Vec<Value>,
    inner: &TypeExpr,
    schemas: &dyn SchemaLookup,
    path: &str,
) -> Result<Vec<Value>, ValueError> {
    items
        .into_iter()
        .enumerate()
        .map(|(index, item)| normalize(item, inner, schemas, &join_index(path, index)))
        .collect()
}

/// The type of arm `tag`, or an error naming the known arms.
pub(super) fn check_variant_arm<'a>(
    arms: &'a BTreeMap<String, TypeExpr>,
    tag: &str,
    path: &str,
) -> Result<&'a TypeExpr, ValueError> {
    arms.get(tag).ok_or_else(|| {
        let known: Vec<&str> = arms.keys().map(String::as_str).collect();
        ValueError::new(
            join_key(path, "$tag"),
            format!("unknown arm `{tag}`; expected one of {}", known.join(", ")),
        )
    })
}

/// Lowercase hyphenated form of a UUID text.
pub(super) fn parse_uuid(text: &str, path: &str) -> Result<String, ValueError> {
    uuid::Uuid::try_parse(text)
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| {
            ValueError::new(
                path,
                format!(
                    "`{}` is not a UUID",
                    text.chars().take(80).collect::<String>()
                ),
            )
        })
}

/// Sorts set elements by canonical bytes and drops repeats.
pub(crate) fn sort_set(items: Vec<Value>) -> Vec<Value> {
    let mut keyed: Vec<(Vec<u8>, Value)> =
        items.into_iter().map(|v| (v.to_cbor_body(), v)).collect();
    keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    keyed.dedup_by(|a, b| a.0 == b.0);
    keyed.into_iter().map(|(_, v)| v).collect()
}

/// Sorts map entries by canonical key bytes; a repeated key is an error.
pub(crate) fn sort_map(
    entries: Vec<(Value, Value)>,
    path: &str,
) -> Result<Vec<(Value, Value)>, ValueError> {
    let mut keyed: Vec<(Vec<u8>, (Value, Value))> = entries
        .into_iter()
        .map(|e| (e.0.to_cbor_body(), e))
        .collect();
    keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    if let Some(pair) = keyed.windows(2).find(|pair| pair[0].0 == pair[1].0) {
        let key = super::plain::map_key_text(&pair[0].1.0);
        return Err(ValueError::new(path, format!("duplicate map key `{key}`")));
    }
    Ok(keyed.into_iter().map(|(_, e)| e).collect())
}
