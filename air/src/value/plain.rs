//! The plain JSON lens: ordinary JSON read through a schema, and values rendered back to it.
//!
//! `{"target": 3}` for a record, `{"$tag": "Start", "$value": {…}}` or `{"Start": {…}}` for a
//! variant (`"Done"` or `{"$tag": "Done"}` for a unit arm), base64 text for bytes, integer
//! nanoseconds or RFC 3339 text for time, an object (or `[{"key", "value"}]`) for a map.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Map, Value as Json};

use crate::hash::Hash;
use crate::json::{join_index, join_key, kind_of};
use crate::types::{SchemaLookup, TypeExpr};

use super::decode::is_optional;
use super::normalize::{check_variant_arm, parse_uuid, sort_map, sort_set};
use super::{BYTES_LEN_MAX, Dec128, Value, ValueError};

/// Reads JSON in either lens: the tagged lens when it reads and fits the type, else the plain lens.
///
/// When both fail, the error reported is the tagged lens's if the JSON is shaped like a tagged
/// value (`{"record": …}`), else the plain lens's: the one the author most likely meant.
pub fn from_any_json(
    json: &Json,
    ty: &TypeExpr,
    schemas: &dyn SchemaLookup,
) -> Result<Value, ValueError> {
    let tagged = Value::from_tagged_json(json).and_then(|value| value.normalize(ty, schemas));
    match tagged {
        Ok(normal) => Ok(normal),
        Err(tagged_error) => match Value::from_plain_json(json, ty, schemas) {
            Ok(value) => Ok(value),
            Err(_) if super::tagged::looks_tagged(json) => Err(tagged_error),
            Err(plain_error) => Err(plain_error),
        },
    }
}

impl Value {
    /// Reads plain-lens JSON as a value of type `ty`, normalized.
    pub fn from_plain_json(
        json: &Json,
        ty: &TypeExpr,
        schemas: &dyn SchemaLookup,
    ) -> Result<Value, ValueError> {
        plain(json, ty, schemas, "$")
    }

    /// Renders the value as plain-lens JSON, for people (and for `--json` output).
    pub fn to_plain_json(&self) -> Json {
        match self {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Int(n) => Json::from(*n),
            Value::Nat(n) | Value::Time(n) | Value::Duration(n) => Json::from(*n),
            Value::Dec128(d) => Json::String(d.to_string()),
            Value::Bytes(bytes) => {
                Json::String(base64::engine::general_purpose::STANDARD.encode(bytes))
            }
            Value::Text(text) | Value::Uuid(text) => Json::String(text.clone()),
            Value::Hash(hash) => Json::String(hash.to_string()),
            Value::Record(fields) => Json::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_plain_json()))
                    .collect(),
            ),
            Value::Variant { tag, value } => {
                let mut object = Map::new();
                object.insert("$tag".into(), Json::String(tag.clone()));
                if let Some(value) = value {
                    object.insert("$value".into(), value.to_plain_json());
                }
                Json::Object(object)
            }
            Value::List(items) | Value::Set(items) => {
                Json::Array(items.iter().map(Value::to_plain_json).collect())
            }
            Value::Map(entries) => Json::Object(
                entries
                    .iter()
                    .map(|(k, v)| (map_key_text(k), v.to_plain_json()))
                    .collect(),
            ),
        }
    }
}

/// The text a map key takes as a JSON object key (and in paths).
pub fn map_key_text(key: &Value) -> String {
    match key {
        Value::Text(text) | Value::Uuid(text) => text.clone(),
        Value::Nat(n) => n.to_string(),
        Value::Int(n) => n.to_string(),
        Value::Hash(hash) => hash.to_string(),
        other => format!("<{}>", other.kind_name()),
    }
}

fn mismatch(path: &str, ty: &TypeExpr, json: &Json) -> ValueError {
    ValueError::new(
        path,
        format!("expected {}, found {}", ty.keyword(), kind_of(json)),
    )
}

fn parse_err(path: &str, error: impl ToString) -> ValueError {
    ValueError::new(path, error.to_string())
}

fn plain(
    json: &Json,
    ty: &TypeExpr,
    schemas: &dyn SchemaLookup,
    path: &str,
) -> Result<Value, ValueError> {
    let wrong = || mismatch(path, ty, json);
    Ok(match ty {
        TypeExpr::Ref(name) => {
            let target = schemas
                .schema_type(name)
                .ok_or_else(|| ValueError::new(path, format!("schema {name} is not defined")))?;
            return plain(json, target, schemas, path);
        }
        TypeExpr::Option(inner) => match json {
            Json::Null => Value::Null,
            some => plain(some, inner, schemas, path)?,
        },
        TypeExpr::Unit => match json {
            Json::Null => Value::Null,
            Json::Object(map) if map.is_empty() => Value::Null,
            _ => return Err(wrong()),
        },
        TypeExpr::Bool => Value::Bool(json.as_bool().ok_or_else(wrong)?),
        TypeExpr::Int => match json {
            Json::Number(n) => Value::Int(n.as_i64().ok_or_else(|| {
                ValueError::new(path, format!("{n} is not an int (64-bit signed integer)"))
            })?),
            _ => return Err(wrong()),
        },
        TypeExpr::Nat | TypeExpr::Duration => match json {
            Json::Number(n) => {
                let n = n.as_u64().ok_or_else(|| {
                    ValueError::new(
                        path,
                        format!("{n} is not a {} (64-bit unsigned integer)", ty.keyword()),
                    )
                })?;
                if *ty == TypeExpr::Nat {
                    Value::Nat(n)
                } else {
                    Value::Duration(n)
                }
            }
            _ => return Err(wrong()),
        },
        TypeExpr::Time => match json {
            Json::Number(n) => Value::Time(n.as_u64().ok_or_else(|| {
                ValueError::new(path, format!("{n} is not a time (unsigned nanoseconds)"))
            })?),
            Json::String(text) => Value::Time(parse_rfc3339(text, path)?),
            _ => return Err(wrong()),
        },
        TypeExpr::Dec128 => match json {
            Json::String(text) => {
                Value::Dec128(Dec128::parse(text).map_err(|e| parse_err(path, e))?)
            }
            Json::Number(n) if !n.is_f64() => {
                Value::Dec128(Dec128::parse(&n.to_string()).map_err(|e| parse_err(path, e))?)
            }
            Json::Number(n) => {
                return Err(ValueError::new(
                    path,
                    format!("write the dec128 {n} as a string to keep every digit"),
                ));
            }
            _ => return Err(wrong()),
        },
        TypeExpr::Bytes => match json {
            Json::String(text) => Value::Bytes(decode_base64(text, path)?),
            _ => return Err(wrong()),
        },
        TypeExpr::Text => match json {
            Json::String(text) if text.len() > BYTES_LEN_MAX => {
                return Err(ValueError::new(path, "text longer than 16 MiB"));
            }
            Json::String(text) => Value::Text(text.clone()),
            _ => return Err(wrong()),
        },
        TypeExpr::Hash => match json {
            Json::String(text) => {
                Value::Hash(text.parse::<Hash>().map_err(|e| parse_err(path, e))?)
            }
            _ => return Err(wrong()),
        },
        TypeExpr::Uuid => match json {
            Json::String(text) => Value::Uuid(parse_uuid(text, path)?),
            _ => return Err(wrong()),
        },
        TypeExpr::List(inner) | TypeExpr::Set(inner) => {
            let items = json.as_array().ok_or_else(wrong)?;
            let values = items
                .iter()
                .enumerate()
                .map(|(index, item)| plain(item, inner, schemas, &join_index(path, index)))
                .collect::<Result<Vec<_>, _>>()?;
            if matches!(ty, TypeExpr::Set(_)) {
                Value::Set(sort_set(values))
            } else {
                Value::List(values)
            }
        }
        TypeExpr::Map { key, value } => map(json, key, value, schemas, path)?,
        TypeExpr::Record(fields) => record(json, fields, schemas, path)?,
        TypeExpr::Variant(arms) => variant(json, arms, schemas, path)?,
    })
}

/// Nanoseconds since the epoch of an RFC 3339 timestamp (not before 1970).
fn parse_rfc3339(text: &str, path: &str) -> Result<u64, ValueError> {
    let parsed = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|e| ValueError::new(path, format!("`{text}` is not an RFC 3339 time: {e}")))?;
    u64::try_from(parsed.unix_timestamp_nanos())
        .map_err(|_| ValueError::new(path, format!("`{text}` is before 1970")))
}

fn decode_base64(text: &str, path: &str) -> Result<Vec<u8>, ValueError> {
    if text.len() > BYTES_LEN_MAX / 3 * 4 + 4 {
        return Err(ValueError::new(path, "bytes longer than 16 MiB"));
    }
    let engines = [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::STANDARD_NO_PAD,
    ];
    engines
        .iter()
        .find_map(|engine| engine.decode(text).ok())
        .ok_or_else(|| ValueError::new(path, "bytes must be standard base64 text"))
}

fn map(
    json: &Json,
    key: &TypeExpr,
    value: &TypeExpr,
    schemas: &dyn SchemaLookup,
    path: &str,
) -> Result<Value, ValueError> {
    let mut out = Vec::new();
    match json {
        Json::Object(object) => {
            for (key_text, item) in object {
                let entry_path = join_key(path, key_text);
                let key_value = map_key_from_text(key_text, key, schemas, &entry_path)?;
                out.push((key_value, plain(item, value, schemas, &entry_path)?));
            }
        }
        Json::Array(entries) => {
            for (index, entry) in entries.iter().enumerate() {
                let entry_path = join_index(path, index);
                let object = entry
                    .as_object()
                    .filter(|o| o.len() == 2 && o.contains_key("key") && o.contains_key("value"));
                let Some(object) = object else {
                    return Err(ValueError::new(
                        entry_path,
                        "a map entry is {\"key\": …, \"value\": …}",
                    ));
                };
                let key_value = plain(&object["key"], key, schemas, &join_key(&entry_path, "key"))?;
                out.push((
                    key_value,
                    plain(
                        &object["value"],
                        value,
                        schemas,
                        &join_key(&entry_path, "value"),
                    )?,
                ));
            }
        }
        other => {
            return Err(ValueError::new(
                path,
                format!("expected map (an object), found {}", kind_of(other)),
            ));
        }
    }
    Ok(Value::Map(sort_map(out, path)?))
}

fn map_key_from_text(
    text: &str,
    key: &TypeExpr,
    schemas: &dyn SchemaLookup,
    path: &str,
) -> Result<Value, ValueError> {
    match key.resolve(schemas) {
        Some(TypeExpr::Int) => text
            .parse::<i64>()
            .map(Value::Int)
            .map_err(|_| ValueError::new(path, format!("map key `{text}` is not an int"))),
        Some(TypeExpr::Nat) => text
            .parse::<u64>()
            .map(Value::Nat)
            .map_err(|_| ValueError::new(path, format!("map key `{text}` is not a nat"))),
        _ => plain(&Json::String(text.to_owned()), key, schemas, path),
    }
}

fn reject_schema_field(object: &Map<String, Json>, path: &str) -> Result<(), ValueError> {
    if object.contains_key("$schema") {
        return Err(ValueError::new(
            join_key(path, "$schema"),
            "a payload must not carry `$schema`; its schema is given by where it is sent",
        ));
    }
    Ok(())
}

fn record(
    json: &Json,
    fields: &BTreeMap<String, TypeExpr>,
    schemas: &dyn SchemaLookup,
    path: &str,
) -> Result<Value, ValueError> {
    let object = json.as_object().ok_or_else(|| {
        ValueError::new(
            path,
            format!("expected record (an object), found {}", kind_of(json)),
        )
    })?;
    reject_schema_field(object, path)?;
    if let Some(unknown) = object.keys().find(|k| !fields.contains_key(*k)) {
        return Err(ValueError::new(join_key(path, unknown), "unknown field"));
    }
    let mut out = BTreeMap::new();
    for (field, field_type) in fields {
        let field_path = join_key(path, field);
        let value = match object.get(field) {
            Some(item) => plain(item, field_type, schemas, &field_path)?,
            None if is_optional(field_type, schemas) => Value::Null,
            None => return Err(ValueError::new(field_path, "missing field")),
        };
        out.insert(field.clone(), value);
    }
    Ok(Value::Record(out))
}

fn variant(
    json: &Json,
    arms: &BTreeMap<String, TypeExpr>,
    schemas: &dyn SchemaLookup,
    path: &str,
) -> Result<Value, ValueError> {
    let (tag, value_json) = match json {
        Json::String(tag) => (tag.as_str(), None),
        Json::Object(object) => {
            reject_schema_field(object, path)?;
            if let Some(tag) = object.get("$tag") {
                if let Some(extra) = object
                    .keys()
                    .find(|k| !matches!(k.as_str(), "$tag" | "$value"))
                {
                    return Err(ValueError::new(
                        join_key(path, extra),
                        "a variant holds only `$tag` and `$value`",
                    ));
                }
                let tag = tag.as_str().ok_or_else(|| {
                    ValueError::new(join_key(path, "$tag"), "`$tag` must be text")
                })?;
                (tag, object.get("$value"))
            } else if object.len() == 1 {
                let (tag, value) = object
                    .iter()
                    .next()
                    .map(|(k, v)| (k.as_str(), v))
                    .unwrap_or(("", &Json::Null));
                (tag, Some(value))
            } else {
                return Err(ValueError::new(
                    path,
                    "a variant is {\"$tag\": arm, \"$value\": …} or {arm: value}",
                ));
            }
        }
        other => {
            return Err(ValueError::new(
                path,
                format!("expected variant, found {}", kind_of(other)),
            ));
        }
    };
    let arm_type = check_variant_arm(arms, tag, path)?;
    let value_path = join_key(path, "$value");
    let value = match (arm_type.resolve(schemas), value_json) {
        (Some(TypeExpr::Unit), None | Some(Json::Null)) => None,
        (Some(TypeExpr::Unit), Some(Json::Object(o))) if o.is_empty() => None,
        (_, None) if is_optional(arm_type, schemas) => Some(Box::new(Value::Null)),
        (_, None) => {
            return Err(ValueError::new(
                value_path,
                format!("arm `{tag}` needs a `$value`"),
            ));
        }
        (_, Some(item)) => Some(Box::new(plain(item, arm_type, schemas, &value_path)?)),
    };
    Ok(Value::Variant {
        tag: tag.to_owned(),
        value,
    })
}
