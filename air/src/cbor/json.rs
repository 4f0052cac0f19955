//! JSON data as canonical CBOR: the mapping the published test vectors use.
//!
//! Objects become maps with text keys, arrays arrays, strings text, integers integers, `null`
//! null. A JSON number with a fraction or exponent has no canonical form and is an error.

use serde_json::Value as Json;

use super::Cbor;

/// A JSON number that is not an integer in [-2^63, 2^64).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct JsonCborError {
    /// JSON path of the number, e.g. `$.steps[0].value`.
    pub path: String,
    /// Why the number has no canonical form.
    pub reason: String,
}

fn number_reason(number: &serde_json::Number) -> String {
    match number.as_f64() {
        Some(x) if x.fract() == 0.0 => format!("{number} is outside the 64-bit integer range"),
        _ => format!("{number} is not an integer; canonical data has no floats"),
    }
}

/// Converts JSON to a generic CBOR item.
pub fn json_to_cbor(json: &Json) -> Result<Cbor, JsonCborError> {
    convert(json, &mut String::from("$"))
}

fn convert(json: &Json, path: &mut String) -> Result<Cbor, JsonCborError> {
    Ok(match json {
        Json::Null => Cbor::Null,
        Json::Bool(value) => Cbor::Bool(*value),
        Json::Number(number) => {
            if let Some(value) = number.as_u64() {
                Cbor::Unsigned(value)
            } else if let Some(value) = number.as_i64() {
                // Negative: as_u64 failed, so value < 0.
                Cbor::Negative((-1 - i128::from(value)) as u64)
            } else {
                return Err(JsonCborError {
                    path: path.clone(),
                    reason: number_reason(number),
                });
            }
        }
        Json::String(text) => Cbor::Text(text.clone()),
        Json::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{index}]"));
                out.push(convert(item, path)?);
                path.truncate(len);
            }
            Cbor::Array(out)
        }
        Json::Object(map) => {
            let mut out = Vec::with_capacity(map.len());
            for (key, value) in map {
                let len = path.len();
                crate::json::push_key(path, key);
                out.push((Cbor::Text(key.clone()), convert(value, path)?));
                path.truncate(len);
            }
            Cbor::Map(out)
        }
    })
}

/// The canonical CBOR of JSON data (self-describe tag included), written directly.
///
/// Object keys are text, and text keys order canonically by (length, bytes), so entries are
/// sorted by their keys without encoding them first: no intermediate tree is built.
pub fn json_canonical_bytes(json: &Json) -> Result<Vec<u8>, JsonCborError> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(&super::SELF_DESCRIBE);
    write_json(json, &mut out, &mut String::from("$"))?;
    Ok(out)
}

fn write_json(json: &Json, out: &mut Vec<u8>, path: &mut String) -> Result<(), JsonCborError> {
    use super::encode::{
        write_array_head, write_bool, write_head, write_map_head, write_null, write_text,
        write_uint,
    };
    match json {
        Json::Null => write_null(out),
        Json::Bool(value) => write_bool(out, *value),
        Json::Number(number) => {
            if let Some(value) = number.as_u64() {
                write_uint(out, value);
            } else if let Some(value) = number.as_i64() {
                write_head(out, 1, (-1 - i128::from(value)) as u64);
            } else {
                return Err(JsonCborError {
                    path: path.clone(),
                    reason: number_reason(number),
                });
            }
        }
        Json::String(text) => write_text(out, text),
        Json::Array(items) => {
            write_array_head(out, items.len());
            for (index, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{index}]"));
                write_json(item, out, path)?;
                path.truncate(len);
            }
        }
        Json::Object(map) => {
            let mut entries: Vec<(&String, &Json)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.len().cmp(&b.0.len()).then_with(|| a.0.cmp(b.0)));
            write_map_head(out, entries.len());
            for (key, value) in entries {
                write_text(out, key);
                let len = path.len();
                crate::json::push_key(path, key);
                write_json(value, out, path)?;
                path.truncate(len);
            }
        }
    }
    Ok(())
}

/// Converts a CBOR item that came from [`json_to_cbor`] back to JSON (AIR nodes are stored as
/// canonical CBOR and read back this way). Items JSON cannot hold are an error.
pub fn cbor_to_json(item: &Cbor) -> Result<Json, String> {
    Ok(match item {
        Cbor::Null => Json::Null,
        Cbor::Bool(value) => Json::Bool(*value),
        Cbor::Unsigned(n) => Json::from(*n),
        Cbor::Negative(n) => {
            let value = -1 - i128::from(*n);
            Json::from(
                i64::try_from(value).map_err(|_| format!("{value} does not fit a JSON integer"))?,
            )
        }
        Cbor::Text(text) => Json::String(text.clone()),
        Cbor::Array(items) => {
            Json::Array(items.iter().map(cbor_to_json).collect::<Result<_, _>>()?)
        }
        Cbor::Map(entries) => {
            let mut map = serde_json::Map::new();
            for (key, value) in entries {
                let key = key.as_text().ok_or("a map key that is not text")?;
                map.insert(key.to_owned(), cbor_to_json(value)?);
            }
            Json::Object(map)
        }
        Cbor::Bytes(_) => return Err("a byte string".to_owned()),
        Cbor::Tag(tag, _) => return Err(format!("tag {tag}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_are_refused_with_their_path() {
        let error = json_to_cbor(&json!({"a": [1, 2.5]})).unwrap_err();
        assert_eq!(
            error.to_string(),
            "$.a[1]: 2.5 is not an integer; canonical data has no floats"
        );
        let huge: Json = serde_json::from_str("[100000000000000000000000000000]").unwrap();
        assert!(
            json_to_cbor(&huge)
                .unwrap_err()
                .reason
                .contains("outside the 64-bit integer range")
        );
    }

    #[test]
    fn direct_writer_equals_the_tree_path() {
        let json =
            json!({"bb": [1, -2, {"z": null, "a": true}], "a": "x", "ccc": {"": 1, "b": u64::MAX}});
        let via_tree = json_to_cbor(&json).unwrap().to_canonical().unwrap();
        assert_eq!(json_canonical_bytes(&json).unwrap(), via_tree);
        assert!(
            json_canonical_bytes(&json!({"a": [1.5]}))
                .unwrap_err()
                .to_string()
                .starts_with("$.a[0]")
        );
    }

    #[test]
    fn json_round_trips_through_cbor() {
        let json = json!({"a": [1, -2, "x", null, true], "b": {"c": u64::MAX, "d": i64::MIN}});
        assert_eq!(cbor_to_json(&json_to_cbor(&json).unwrap()).unwrap(), json);
    }

    #[test]
    fn extremes_of_both_integer_ranges() {
        assert_eq!(json_to_cbor(&json!(u64::MAX)), Ok(Cbor::Unsigned(u64::MAX)));
        assert_eq!(
            json_to_cbor(&json!(i64::MIN)),
            Ok(Cbor::Negative(i64::MAX as u64))
        );
    }
}
