//! The tagged JSON lens: every value says its own type, so no schema is needed to read it.
//!
//! `{"nat": 3}`, `{"text": "hi"}`, `{"null": {}}`, `{"bytes_b64": "…"}`, `{"time_ns": 5}`,
//! `{"record": {"x": {"int": 1}}}`, `{"list": […]}`, `{"set": […]}`,
//! `{"map": [{"key": …, "value": …}]}`, `{"variant": {"tag": "Start", "value": …}}`.

use base64::Engine as _;
use serde_json::{Map, Value as Json, json};

use crate::hash::Hash;
use crate::json::{join_index, join_key, kind_of};

use super::normalize::parse_uuid;
use super::{Dec128, Value, ValueError};

/// The tagged-lens keys of scalar constants (the rest, [`COMPOSITE_KEYS`], hold other values).
pub const SCALAR_KEYS: [&str; 11] = [
    "null",
    "bool",
    "int",
    "nat",
    "dec128",
    "text",
    "bytes_b64",
    "time_ns",
    "duration_ns",
    "hash",
    "uuid",
];

/// The tagged-lens keys of composite values.
pub const COMPOSITE_KEYS: [&str; 5] = ["record", "list", "set", "map", "variant"];

/// True for a key that starts a tagged-lens value.
pub fn is_tagged_key(key: &str) -> bool {
    SCALAR_KEYS.contains(&key) || COMPOSITE_KEYS.contains(&key)
}

impl Value {
    /// Reads tagged-lens JSON. The result is not yet normalized against any schema.
    pub fn from_tagged_json(json: &Json) -> Result<Value, ValueError> {
        tagged(json, "$")
    }

    /// Renders the value in the tagged lens.
    pub fn to_tagged_json(&self) -> Json {
        match self {
            Value::Null => json!({"null": {}}),
            Value::Bool(b) => json!({"bool": b}),
            Value::Int(n) => json!({"int": n}),
            Value::Nat(n) => json!({"nat": n}),
            Value::Dec128(d) => json!({"dec128": d.to_string()}),
            Value::Bytes(bytes) => {
                json!({"bytes_b64": base64::engine::general_purpose::STANDARD.encode(bytes)})
            }
            Value::Text(text) => json!({"text": text}),
            Value::Time(n) => json!({"time_ns": n}),
            Value::Duration(n) => json!({"duration_ns": n}),
            Value::Hash(hash) => json!({"hash": hash.to_string()}),
            Value::Uuid(uuid) => json!({"uuid": uuid}),
            Value::Record(fields) => {
                json!({"record": Json::Object(fields.iter().map(|(k, v)| (k.clone(), v.to_tagged_json())).collect())})
            }
            Value::Variant { tag, value: None } => json!({"variant": {"tag": tag}}),
            Value::Variant {
                tag,
                value: Some(value),
            } => json!({"variant": {"tag": tag, "value": value.to_tagged_json()}}),
            Value::List(items) => {
                json!({"list": items.iter().map(Value::to_tagged_json).collect::<Vec<_>>()})
            }
            Value::Set(items) => {
                json!({"set": items.iter().map(Value::to_tagged_json).collect::<Vec<_>>()})
            }
            Value::Map(entries) => json!({"map": entries
                .iter()
                .map(|(k, v)| json!({"key": k.to_tagged_json(), "value": v.to_tagged_json()}))
                .collect::<Vec<_>>()}),
        }
    }
}

/// True when `json` has the shape of a tagged-lens value (one key for which [`is_tagged_key`] holds).
pub fn looks_tagged(json: &Json) -> bool {
    json.as_object()
        .is_some_and(|o| o.len() == 1 && o.keys().all(|k| is_tagged_key(k)))
}

fn tagged(json: &Json, path: &str) -> Result<Value, ValueError> {
    let object = json.as_object().filter(|o| o.len() == 1).ok_or_else(|| {
        ValueError::new(
            path,
            format!(
                "expected a tagged value like {{\"nat\": 3}}, found {}",
                kind_of(json)
            ),
        )
    })?;
    let Some((key, body)) = object.iter().next() else {
        return Err(ValueError::new(path, "empty tagged value"));
    };
    let body_path = join_key(path, key);
    let want = |what: &str| {
        ValueError::new(
            &body_path,
            format!("`{key}` takes {what}, found {}", kind_of(body)),
        )
    };
    let text = || body.as_str().ok_or_else(|| want("a string"));
    let unsigned = || body.as_u64().ok_or_else(|| want("an unsigned integer"));
    Ok(match key.as_str() {
        "null" => match body.as_object() {
            Some(o) if o.is_empty() => Value::Null,
            _ => return Err(want("{}")),
        },
        "bool" => Value::Bool(body.as_bool().ok_or_else(|| want("true or false"))?),
        "int" => Value::Int(
            body.as_i64()
                .ok_or_else(|| want("a 64-bit signed integer"))?,
        ),
        "nat" => Value::Nat(unsigned()?),
        "time_ns" => Value::Time(unsigned()?),
        "duration_ns" => Value::Duration(unsigned()?),
        "dec128" => Value::Dec128(
            Dec128::parse(text()?).map_err(|e| ValueError::new(&body_path, e.to_string()))?,
        ),
        "text" => Value::Text(text()?.to_owned()),
        "bytes_b64" => Value::Bytes(
            base64::engine::general_purpose::STANDARD
                .decode(text()?)
                .map_err(|_| ValueError::new(&body_path, "bytes must be standard base64 text"))?,
        ),
        "hash" => Value::Hash(
            text()?
                .parse::<Hash>()
                .map_err(|e| ValueError::new(&body_path, e.to_string()))?,
        ),
        "uuid" => Value::Uuid(parse_uuid(text()?, &body_path)?),
        "record" => {
            let fields = body.as_object().ok_or_else(|| want("an object"))?;
            let mut out = std::collections::BTreeMap::new();
            for (field, item) in fields {
                out.insert(field.clone(), tagged(item, &join_key(&body_path, field))?);
            }
            Value::Record(out)
        }
        "list" | "set" => {
            let items = body.as_array().ok_or_else(|| want("an array"))?;
            let values = items
                .iter()
                .enumerate()
                .map(|(index, item)| tagged(item, &join_index(&body_path, index)))
                .collect::<Result<Vec<_>, _>>()?;
            if key == "set" {
                Value::Set(values)
            } else {
                Value::List(values)
            }
        }
        "map" => {
            let entries = body
                .as_array()
                .ok_or_else(|| want("an array of {\"key\", \"value\"}"))?;
            let mut out = Vec::with_capacity(entries.len());
            for (index, entry) in entries.iter().enumerate() {
                let entry_path = join_index(&body_path, index);
                let pair = entry
                    .as_object()
                    .filter(|o| o.len() == 2 && o.contains_key("key") && o.contains_key("value"));
                let Some(pair) = pair else {
                    return Err(ValueError::new(
                        entry_path,
                        "a map entry is {\"key\": …, \"value\": …}",
                    ));
                };
                out.push((
                    tagged(&pair["key"], &join_key(&entry_path, "key"))?,
                    tagged(&pair["value"], &join_key(&entry_path, "value"))?,
                ));
            }
            Value::Map(out)
        }
        "variant" => variant(body, &body_path)?,
        other => {
            return Err(ValueError::new(
                path,
                format!(
                    "unknown tagged value `{other}`; expected one of {}, {}",
                    SCALAR_KEYS.join(", "),
                    COMPOSITE_KEYS.join(", ")
                ),
            ));
        }
    })
}

fn variant(body: &Json, path: &str) -> Result<Value, ValueError> {
    let object: &Map<String, Json> = body.as_object().ok_or_else(|| {
        ValueError::new(
            path,
            format!(
                "`variant` takes {{\"tag\": …, \"value\": …}}, found {}",
                kind_of(body)
            ),
        )
    })?;
    if let Some(extra) = object
        .keys()
        .find(|k| !matches!(k.as_str(), "tag" | "value"))
    {
        return Err(ValueError::new(
            join_key(path, extra),
            "a variant holds only `tag` and `value`",
        ));
    }
    let tag = object
        .get("tag")
        .and_then(Json::as_str)
        .ok_or_else(|| ValueError::new(join_key(path, "tag"), "`tag` must be text"))?;
    let value = match object.get("value") {
        Some(value) => Some(Box::new(tagged(value, &join_key(path, "value"))?)),
        None => None,
    };
    Ok(Value::Variant {
        tag: tag.to_owned(),
        value,
    })
}
