//! Reading AIR's JSON shapes field by field, with a JSON path on every error.

use serde_json::{Map, Value as Json};

use crate::error::AirError;
use crate::hash::Hash;
use crate::json::{join_index, join_key, kind_of};
use crate::name::{Ident, KindName, Name};
use crate::types::COMMENT_KEY;

/// A JSON object being read: fields are taken one by one, and [`Obj::finish`] refuses the rest.
pub(crate) struct Obj<'a> {
    map: &'a Map<String, Json>,
    path: String,
    taken: Vec<&'static str>,
}

impl<'a> Obj<'a> {
    /// Starts reading `json`, which must be an object; `what` names it in errors.
    pub fn new(json: &'a Json, path: &str, what: &str) -> Result<Obj<'a>, AirError> {
        let map = json.as_object().ok_or_else(|| {
            AirError::new(
                path,
                "bad_shape",
                format!("expected {what} (an object), found {}", kind_of(json)),
            )
        })?;
        Ok(Obj {
            map,
            path: path.to_owned(),
            taken: Vec::new(),
        })
    }

    /// A required field, read by `parse`.
    pub fn req<T>(
        &mut self,
        key: &'static str,
        parse: impl FnOnce(&Json, &str) -> Result<T, AirError>,
    ) -> Result<T, AirError> {
        self.taken.push(key);
        match self.map.get(key) {
            Some(value) => parse(value, &join_key(&self.path, key)),
            None => Err(AirError::new(
                &self.path,
                "missing_field",
                format!("missing field `{key}`"),
            )),
        }
    }

    /// An optional field; `null` counts as absent.
    pub fn opt<T>(
        &mut self,
        key: &'static str,
        parse: impl FnOnce(&Json, &str) -> Result<T, AirError>,
    ) -> Result<Option<T>, AirError> {
        self.taken.push(key);
        match self.map.get(key) {
            None | Some(Json::Null) => Ok(None),
            Some(value) => parse(value, &join_key(&self.path, key)).map(Some),
        }
    }

    /// The raw JSON of a field, if present.
    pub fn raw(&mut self, key: &'static str) -> Option<&'a Json> {
        self.taken.push(key);
        self.map.get(key)
    }

    /// Marks fields as known without reading them (e.g. `$kind`).
    pub fn skip(&mut self, key: &'static str) {
        self.taken.push(key);
    }

    /// Refuses any field that was not taken (comments aside).
    pub fn finish(self) -> Result<(), AirError> {
        for key in self.map.keys() {
            if key != COMMENT_KEY && !self.taken.contains(&key.as_str()) {
                let mut expected: Vec<&str> = self
                    .taken
                    .iter()
                    .copied()
                    .filter(|k| *k != "$kind")
                    .collect();
                expected.sort_unstable();
                return Err(AirError::new(
                    join_key(&self.path, key),
                    "unknown_field",
                    format!(
                        "unknown field `{key}`; expected one of: {}",
                        expected.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// A definition name.
pub(crate) fn name(json: &Json, path: &str) -> Result<Name, AirError> {
    Name::parse(text(json, path)?).map_err(|e| AirError::new(path, "bad_name", e.to_string()))
}

/// A step id, variable, grant or slot name.
pub(crate) fn ident(json: &Json, path: &str) -> Result<Ident, AirError> {
    Ident::parse(text(json, path)?).map_err(|e| AirError::new(path, "bad_name", e.to_string()))
}

/// An effect kind or cap type.
pub(crate) fn kind_name(json: &Json, path: &str) -> Result<KindName, AirError> {
    KindName::parse(text(json, path)?).map_err(|e| AirError::new(path, "bad_name", e.to_string()))
}

/// A `sha256:` hash.
pub(crate) fn hash(json: &Json, path: &str) -> Result<Hash, AirError> {
    text(json, path)?
        .parse()
        .map_err(|e: crate::hash::HashParseError| AirError::new(path, "bad_hash", e.to_string()))
}

/// A string.
pub(crate) fn text<'a>(json: &'a Json, path: &str) -> Result<&'a str, AirError> {
    json.as_str().ok_or_else(|| {
        AirError::new(
            path,
            "bad_shape",
            format!("expected a string, found {}", kind_of(json)),
        )
    })
}

/// An owned string.
pub(crate) fn string(json: &Json, path: &str) -> Result<String, AirError> {
    text(json, path).map(str::to_owned)
}

/// An unsigned integer.
pub(crate) fn unsigned(json: &Json, path: &str) -> Result<u64, AirError> {
    json.as_u64().ok_or_else(|| {
        AirError::new(
            path,
            "bad_shape",
            format!("expected an unsigned integer, found {}", kind_of(json)),
        )
    })
}

/// An array whose items are read by `item`.
pub(crate) fn list<T>(
    json: &Json,
    path: &str,
    item: impl Fn(&Json, &str) -> Result<T, AirError>,
) -> Result<Vec<T>, AirError> {
    let items = json.as_array().ok_or_else(|| {
        AirError::new(
            path,
            "bad_shape",
            format!("expected an array, found {}", kind_of(json)),
        )
    })?;
    items
        .iter()
        .enumerate()
        .map(|(index, value)| item(value, &join_index(path, index)))
        .collect()
}

/// An object whose keys are read by `key` and values by `value`, in key order.
pub(crate) fn object_of<K: Ord, V>(
    json: &Json,
    path: &str,
    key: impl Fn(&Json, &str) -> Result<K, AirError>,
    value: impl Fn(&Json, &str) -> Result<V, AirError>,
) -> Result<std::collections::BTreeMap<K, V>, AirError> {
    let map = json.as_object().ok_or_else(|| {
        AirError::new(
            path,
            "bad_shape",
            format!("expected an object, found {}", kind_of(json)),
        )
    })?;
    let mut out = std::collections::BTreeMap::new();
    for (k, v) in map {
        if k == COMMENT_KEY {
            continue;
        }
        let item_path = join_key(path, k);
        out.insert(
            key(&Json::String(k.clone()), &item_path)?,
            value(v, &item_path)?,
        );
    }
    Ok(out)
}

/// One of a fixed set of words.
pub(crate) fn word<T: Copy>(json: &Json, path: &str, words: &[(&str, T)]) -> Result<T, AirError> {
    let found = text(json, path)?;
    words
        .iter()
        .find(|(w, _)| *w == found)
        .map(|(_, t)| *t)
        .ok_or_else(|| {
            let expected: Vec<String> = words.iter().map(|(w, _)| format!("`{w}`")).collect();
            AirError::new(
                path,
                "bad_value",
                format!("`{found}` is not one of {}", expected.join(", ")),
            )
        })
}
