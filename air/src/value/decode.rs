//! Typed CBOR → value: lenient about form, strict about type.

use std::collections::BTreeMap;

use crate::cbor::{self, Cbor};
use crate::hash::Hash;
use crate::json::{join_index, join_key};
use crate::types::{SchemaLookup, TypeExpr};

use super::normalize::{check_variant_arm, parse_uuid, sort_map, sort_set};
use super::{Dec128, Value, ValueError};

impl Value {
    /// Decodes CBOR bytes (self-describe tag optional) as a value of type `ty`.
    pub fn from_cbor_bytes(
        bytes: &[u8],
        ty: &TypeExpr,
        schemas: &dyn SchemaLookup,
    ) -> Result<Value, ValueError> {
        let item = cbor::decode(bytes).map_err(|e| ValueError::new("$", e.to_string()))?;
        Value::from_cbor(&item, ty, schemas)
    }

    /// Reads a decoded CBOR item as a value of type `ty`.
    ///
    /// Lenient where the meaning is unambiguous: fields in any order, a record's missing
    /// `option` field is none, a unit arm may carry `"$value": null`, sets may be unsorted or
    /// repeat elements. Everything else must match the type exactly.
    pub fn from_cbor(
        item: &Cbor,
        ty: &TypeExpr,
        schemas: &dyn SchemaLookup,
    ) -> Result<Value, ValueError> {
        decode(item, ty, schemas, &mut String::from("$"))
    }
}

fn mismatch(path: &str, ty: &TypeExpr, item: &Cbor) -> ValueError {
    ValueError::new(
        path,
        format!("expected {}, found {}", ty.keyword(), item.kind_name()),
    )
}

fn decode(
    item: &Cbor,
    ty: &TypeExpr,
    schemas: &dyn SchemaLookup,
    path: &mut String,
) -> Result<Value, ValueError> {
    let wrong = || mismatch(path, ty, item);
    Ok(match ty {
        TypeExpr::Bool => match item {
            Cbor::Bool(value) => Value::Bool(*value),
            _ => return Err(wrong()),
        },
        TypeExpr::Int => match item.as_i128() {
            Some(value) => Value::Int(i64::try_from(value).map_err(|_| {
                ValueError::new(path.as_str(), format!("{value} is out of range for int"))
            })?),
            None => return Err(wrong()),
        },
        TypeExpr::Nat | TypeExpr::Time | TypeExpr::Duration => match item {
            Cbor::Unsigned(value) => match ty {
                TypeExpr::Nat => Value::Nat(*value),
                TypeExpr::Time => Value::Time(*value),
                _ => Value::Duration(*value),
            },
            Cbor::Negative(_) => {
                return Err(ValueError::new(
                    path.as_str(),
                    format!("{} must not be negative", ty.keyword()),
                ));
            }
            _ => return Err(wrong()),
        },
        TypeExpr::Dec128 => match item {
            Cbor::Text(text) => Value::Dec128(
                Dec128::parse(text).map_err(|e| ValueError::new(path.as_str(), e.to_string()))?,
            ),
            _ => return Err(wrong()),
        },
        TypeExpr::Bytes => match item {
            Cbor::Bytes(bytes) => Value::Bytes(bytes.clone()),
            _ => return Err(wrong()),
        },
        TypeExpr::Text => match item {
            Cbor::Text(text) => Value::Text(text.clone()),
            _ => return Err(wrong()),
        },
        TypeExpr::Hash => match item {
            Cbor::Text(text) => Value::Hash(
                text.parse::<Hash>()
                    .map_err(|e| ValueError::new(path.as_str(), e.to_string()))?,
            ),
            _ => return Err(wrong()),
        },
        TypeExpr::Uuid => match item {
            Cbor::Text(text) => Value::Uuid(parse_uuid(text, path)?),
            _ => return Err(wrong()),
        },
        TypeExpr::Unit => match item {
            Cbor::Null => Value::Null,
            _ => return Err(wrong()),
        },
        TypeExpr::Option(inner) => match item {
            Cbor::Null => Value::Null,
            some => decode(some, inner, schemas, path)?,
        },
        TypeExpr::List(inner) | TypeExpr::Set(inner) => {
            let Cbor::Array(items) = item else {
                return Err(wrong());
            };
            let mut values = Vec::with_capacity(items.len());
            for (index, element) in items.iter().enumerate() {
                let mut element_path = join_index(path, index);
                values.push(decode(element, inner, schemas, &mut element_path)?);
            }
            if matches!(ty, TypeExpr::Set(_)) {
                Value::Set(sort_set(values))
            } else {
                Value::List(values)
            }
        }
        TypeExpr::Map { key, value } => {
            let Cbor::Map(entries) = item else {
                return Err(wrong());
            };
            let mut out = Vec::with_capacity(entries.len());
            for (entry_key, entry_value) in entries {
                let mut key_path = format!("{path}[key]");
                let key_value = decode(entry_key, key, schemas, &mut key_path)?;
                let mut value_path = format!("{path}[{}]", super::plain::map_key_text(&key_value));
                out.push((
                    key_value,
                    decode(entry_value, value, schemas, &mut value_path)?,
                ));
            }
            Value::Map(sort_map(out, path)?)
        }
        TypeExpr::Record(fields) => record(item, fields, schemas, path)?,
        TypeExpr::Variant(arms) => variant(item, arms, schemas, path)?,
        TypeExpr::Ref(name) => {
            let target = schemas.schema_type(name).ok_or_else(|| {
                ValueError::new(path.as_str(), format!("schema {name} is not defined"))
            })?;
            decode(item, target, schemas, path)?
        }
    })
}

fn text_keyed<'a>(
    item: &'a Cbor,
    path: &str,
    what: &str,
) -> Result<BTreeMap<&'a str, &'a Cbor>, ValueError> {
    let Cbor::Map(entries) = item else {
        return Err(ValueError::new(
            path,
            format!("expected {what} (a map), found {}", item.kind_name()),
        ));
    };
    let mut out = BTreeMap::new();
    for (key, value) in entries {
        let key = key.as_text().ok_or_else(|| {
            ValueError::new(
                path,
                format!("{what} keys must be text, found {}", key.kind_name()),
            )
        })?;
        out.insert(key, value);
    }
    Ok(out)
}

fn record(
    item: &Cbor,
    fields: &BTreeMap<String, TypeExpr>,
    schemas: &dyn SchemaLookup,
    path: &str,
) -> Result<Value, ValueError> {
    let entries = text_keyed(item, path, "record")?;
    if let Some(unknown) = entries.keys().find(|k| !fields.contains_key(**k)) {
        return Err(ValueError::new(join_key(path, unknown), "unknown field"));
    }
    let mut out = BTreeMap::new();
    for (field, field_type) in fields {
        let mut field_path = join_key(path, field);
        let value = match entries.get(field.as_str()) {
            Some(field_item) => decode(field_item, field_type, schemas, &mut field_path)?,
            None if is_optional(field_type, schemas) => Value::Null,
            None => return Err(ValueError::new(field_path, "missing field")),
        };
        out.insert(field.clone(), value);
    }
    Ok(Value::Record(out))
}

/// True when a type accepts null: an option (possibly behind refs).
pub(super) fn is_optional(ty: &TypeExpr, schemas: &dyn SchemaLookup) -> bool {
    matches!(ty.resolve(schemas), Some(TypeExpr::Option(_)))
}

fn variant(
    item: &Cbor,
    arms: &BTreeMap<String, TypeExpr>,
    schemas: &dyn SchemaLookup,
    path: &str,
) -> Result<Value, ValueError> {
    let entries = text_keyed(item, path, "variant")?;
    if let Some(unknown) = entries.keys().find(|k| !matches!(**k, "$tag" | "$value")) {
        return Err(ValueError::new(
            join_key(path, unknown),
            "a variant holds only `$tag` and `$value`",
        ));
    }
    let tag = entries
        .get("$tag")
        .and_then(|t| t.as_text())
        .ok_or_else(|| ValueError::new(join_key(path, "$tag"), "missing `$tag` text"))?;
    let arm_type = check_variant_arm(arms, tag, path)?;
    let value_path = join_key(path, "$value");
    let value = match (arm_type.resolve(schemas), entries.get("$value")) {
        (Some(TypeExpr::Unit), None | Some(Cbor::Null)) => None,
        (_, None) if is_optional(arm_type, schemas) => Some(Box::new(Value::Null)),
        (_, None) => {
            return Err(ValueError::new(
                value_path,
                format!("arm `{tag}` needs a `$value`"),
            ));
        }
        (_, Some(value_item)) => Some(Box::new(decode(
            value_item,
            arm_type,
            schemas,
            &mut value_path.clone(),
        )?)),
    };
    Ok(Value::Variant {
        tag: tag.to_owned(),
        value,
    })
}
