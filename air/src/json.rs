//! Strict JSON reading and JSON paths.
//!
//! `serde_json` silently keeps the last of two equal keys; for AIR files and payloads that hides
//! mistakes, so [`parse_strict`] refuses duplicate keys. JSON paths in every error message use
//! the `$.a.b[3]` form, with `$["odd key"]` for keys that are not plain identifiers.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value as Json};

/// Why a text is not acceptable JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSON at line {line}, column {column}: {reason}")]
pub struct JsonSyntaxError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub reason: String,
}

/// Parses JSON, refusing duplicate object keys.
pub fn parse_strict(text: &str) -> Result<Json, JsonSyntaxError> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = StrictSeed
        .deserialize(&mut deserializer)
        .map_err(syntax_error)?;
    deserializer.end().map_err(syntax_error)?;
    Ok(value)
}

fn syntax_error(error: serde_json::Error) -> JsonSyntaxError {
    let reason = error.to_string();
    // serde_json appends " at line L column C"; we report those as fields.
    let reason = match reason.rfind(" at line ") {
        Some(index) => reason[..index].to_owned(),
        None => reason,
    };
    JsonSyntaxError {
        line: error.line(),
        column: error.column(),
        reason,
    }
}

/// Appends `.key` (or `["key"]`) to a JSON path.
pub fn push_key(path: &mut String, key: &str) {
    let plain = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if plain {
        path.push('.');
        path.push_str(key);
    } else {
        path.push_str(&format!("[{}]", Json::String(key.to_owned())));
    }
}

/// Appends `[index]` to a JSON path.
pub fn push_index(path: &mut String, index: usize) {
    path.push_str(&format!("[{index}]"));
}

/// `path` extended by `.key`.
pub fn join_key(path: &str, key: &str) -> String {
    let mut out = path.to_owned();
    push_key(&mut out, key);
    out
}

/// `path` extended by `[index]`.
pub fn join_index(path: &str, index: usize) -> String {
    let mut out = path.to_owned();
    push_index(&mut out, index);
    out
}

/// A short description of a JSON value's kind, for error messages.
pub fn kind_of(json: &Json) -> &'static str {
    match json {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(n) if n.is_f64() => "a non-integer number",
        Json::Number(_) => "an integer",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

struct StrictSeed;

impl<'de> DeserializeSeed<'de> for StrictSeed {
    type Value = Json;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Json, E> {
        Ok(Json::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Json, E> {
        Ok(Json::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Json, E> {
        Ok(Json::Number(value.into()))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Json, E> {
        Number::from_f64(value)
            .map(Json::Number)
            .ok_or_else(|| E::custom("number is not finite"))
    }

    fn visit_str<E>(self, value: &str) -> Result<Json, E> {
        Ok(Json::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Json, E> {
        Ok(Json::String(value))
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(StrictSeed)? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Json, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate key `{key}`")));
            }
            let value = access.next_value_seed(StrictSeed)?;
            map.insert(key, value);
        }
        Ok(Json::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_refused_with_position() {
        let error = parse_strict("{\n  \"a\": 1,\n  \"a\": 2\n}").unwrap_err();
        assert_eq!(error.reason, "duplicate key `a`");
        assert_eq!(error.line, 3);
    }

    #[test]
    fn trailing_garbage_is_refused() {
        assert!(parse_strict("{} x").is_err());
        assert!(parse_strict("[1, 2]").is_ok());
    }

    #[test]
    fn paths_quote_odd_keys() {
        let mut path = String::from("$");
        push_key(&mut path, "routing");
        push_index(&mut path, 2);
        push_key(&mut path, "a b");
        assert_eq!(path, "$.routing[2][\"a b\"]");
    }
}
