//! Type expressions (AIR.md §3): the shape of every typed value.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json, json};

use crate::error::AirError;
use crate::json::{join_key, kind_of};
use crate::name::Name;

/// Longest record field or variant arm name, in bytes.
pub const FIELD_LEN_MAX: usize = 64;

/// A type expression: a primitive, a composite, or a reference to a `defschema`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TypeExpr {
    /// `true` / `false`.
    Bool,
    /// Signed 64-bit integer.
    Int,
    /// Unsigned 64-bit integer.
    Nat,
    /// Decimal number, carried as its normalized decimal string.
    Dec128,
    /// Byte string.
    Bytes,
    /// UTF-8 text.
    Text,
    /// Nanoseconds since the Unix epoch.
    Time,
    /// Nanoseconds.
    Duration,
    /// A `sha256:` hash.
    Hash,
    /// A UUID, lowercase hyphenated.
    Uuid,
    /// The unit value (CBOR null).
    Unit,
    /// All fields present; optional ones are `option`.
    Record(BTreeMap<String, TypeExpr>),
    /// Exactly one of the arms.
    Variant(BTreeMap<String, TypeExpr>),
    /// Ordered sequence.
    List(Box<TypeExpr>),
    /// Deduplicated, sorted by canonical bytes.
    Set(Box<TypeExpr>),
    /// Sorted by canonical key bytes; keys are int, nat, text, uuid or hash.
    Map {
        /// Key type (a primitive).
        key: Box<TypeExpr>,
        /// Value type.
        value: Box<TypeExpr>,
    },
    /// Null for none, the bare value for some.
    Option(Box<TypeExpr>),
    /// A named `defschema`.
    Ref(Name),
}

/// Resolves schema names to their types: implemented by a loaded world and by the catalog.
pub trait SchemaLookup {
    /// The type a `defschema` of that name declares, if it exists.
    fn schema_type(&self, name: &Name) -> Option<&TypeExpr>;
}

impl SchemaLookup for BTreeMap<Name, TypeExpr> {
    fn schema_type(&self, name: &Name) -> Option<&TypeExpr> {
        self.get(name)
    }
}

const PRIMITIVES: [(&str, TypeExpr); 11] = [
    ("bool", TypeExpr::Bool),
    ("int", TypeExpr::Int),
    ("nat", TypeExpr::Nat),
    ("dec128", TypeExpr::Dec128),
    ("bytes", TypeExpr::Bytes),
    ("text", TypeExpr::Text),
    ("time", TypeExpr::Time),
    ("duration", TypeExpr::Duration),
    ("hash", TypeExpr::Hash),
    ("uuid", TypeExpr::Uuid),
    ("unit", TypeExpr::Unit),
];

/// The key that marks a comment inside type expressions (and nodes): ignored, never hashed.
pub const COMMENT_KEY: &str = "$comment";

impl TypeExpr {
    /// True for the five types a map key may have.
    pub fn is_map_key(&self) -> bool {
        matches!(
            self,
            TypeExpr::Int | TypeExpr::Nat | TypeExpr::Text | TypeExpr::Uuid | TypeExpr::Hash
        )
    }

    /// The keyword naming this type's form (`record`, `nat`, `ref` …).
    pub fn keyword(&self) -> &'static str {
        match self {
            TypeExpr::Record(_) => "record",
            TypeExpr::Variant(_) => "variant",
            TypeExpr::List(_) => "list",
            TypeExpr::Set(_) => "set",
            TypeExpr::Map { .. } => "map",
            TypeExpr::Option(_) => "option",
            TypeExpr::Ref(_) => "ref",
            primitive => PRIMITIVES
                .iter()
                .find(|(_, t)| t == primitive)
                .map_or("?", |(k, _)| k),
        }
    }

    /// Parses a type expression; `path` is the JSON path of `json`, for errors.
    pub fn from_json(json: &Json, path: &str) -> Result<TypeExpr, AirError> {
        let object = json.as_object().ok_or_else(|| {
            AirError::new(
                path,
                "bad_type",
                format!("expected a type expression object, found {}", kind_of(json)),
            )
        })?;
        let mut keys = object.keys().filter(|k| k.as_str() != COMMENT_KEY);
        let (Some(keyword), None) = (keys.next(), keys.next()) else {
            return Err(AirError::new(
                path,
                "bad_type",
                "a type expression has exactly one key (`record`, `nat`, `ref`, …) besides `$comment`",
            ));
        };
        let body = &object[keyword];
        let body_path = join_key(path, keyword);
        if let Some((_, primitive)) = PRIMITIVES.iter().find(|(k, _)| k == keyword) {
            expect_empty_object(body, &body_path, keyword)?;
            return Ok(primitive.clone());
        }
        match keyword.as_str() {
            "record" => Ok(TypeExpr::Record(fields(body, &body_path, "record", true)?)),
            "variant" => {
                let arms = fields(body, &body_path, "variant", false)?;
                if arms.is_empty() {
                    return Err(AirError::new(
                        body_path,
                        "bad_type",
                        "a variant needs at least one arm",
                    ));
                }
                Ok(TypeExpr::Variant(arms))
            }
            "list" => Ok(TypeExpr::List(Box::new(TypeExpr::from_json(
                body, &body_path,
            )?))),
            "set" => Ok(TypeExpr::Set(Box::new(TypeExpr::from_json(
                body, &body_path,
            )?))),
            "option" => Ok(TypeExpr::Option(Box::new(TypeExpr::from_json(
                body, &body_path,
            )?))),
            "map" => map_type(body, &body_path),
            "ref" => {
                let text = body.as_str().ok_or_else(|| {
                    AirError::new(
                        &body_path,
                        "bad_type",
                        format!("`ref` takes a schema name, found {}", kind_of(body)),
                    )
                })?;
                Name::parse(text)
                    .map(TypeExpr::Ref)
                    .map_err(|e| AirError::new(&body_path, "bad_name", e.to_string()))
            }
            other => Err(AirError::new(
                path,
                "bad_type",
                format!(
                    "unknown type `{other}`; expected a primitive, record, variant, list, set, map, option or ref"
                ),
            )),
        }
    }

    /// The canonical authoring form: what gets hashed (comments dropped, keys sorted on encode).
    pub fn to_json(&self) -> Json {
        match self {
            TypeExpr::Record(fields) => json!({ "record": fields_json(fields) }),
            TypeExpr::Variant(arms) => json!({ "variant": fields_json(arms) }),
            TypeExpr::List(item) => json!({ "list": item.to_json() }),
            TypeExpr::Set(item) => json!({ "set": item.to_json() }),
            TypeExpr::Option(item) => json!({ "option": item.to_json() }),
            TypeExpr::Map { key, value } => {
                json!({ "map": { "key": key.to_json(), "value": value.to_json() } })
            }
            TypeExpr::Ref(name) => json!({ "ref": name.as_str() }),
            primitive => json!({ primitive.keyword(): {} }),
        }
    }

    /// Every schema name this type refers to directly or through its parts.
    pub fn refs(&self, out: &mut Vec<Name>) {
        match self {
            TypeExpr::Record(fields) | TypeExpr::Variant(fields) => {
                fields.values().for_each(|t| t.refs(out));
            }
            TypeExpr::List(item) | TypeExpr::Set(item) | TypeExpr::Option(item) => item.refs(out),
            TypeExpr::Map { key, value } => {
                key.refs(out);
                value.refs(out);
            }
            TypeExpr::Ref(name) => out.push(name.clone()),
            _ => {}
        }
    }

    /// Follows `ref`s until a structural type; `None` if a name does not resolve.
    ///
    /// Bounded: a chain longer than `REF_CHAIN_MAX` is treated as unresolvable (validation
    /// rejects cycles, so this only guards against unvalidated input).
    pub fn resolve<'a>(&'a self, schemas: &'a dyn SchemaLookup) -> Option<&'a TypeExpr> {
        let mut current = self;
        for _ in 0..REF_CHAIN_MAX {
            match current {
                TypeExpr::Ref(name) => current = schemas.schema_type(name)?,
                other => return Some(other),
            }
        }
        None
    }
}

/// Longest chain of `ref` → `ref` followed before giving up.
pub const REF_CHAIN_MAX: usize = 64;

fn expect_empty_object(body: &Json, path: &str, keyword: &str) -> Result<(), AirError> {
    match body.as_object() {
        Some(map) if map.keys().all(|k| k == COMMENT_KEY) => Ok(()),
        _ => Err(AirError::new(
            path,
            "bad_type",
            format!("primitive `{keyword}` is written `{{\"{keyword}\": {{}}}}`"),
        )),
    }
}

fn fields(
    body: &Json,
    path: &str,
    keyword: &str,
    empty_ok: bool,
) -> Result<BTreeMap<String, TypeExpr>, AirError> {
    let object = body.as_object().ok_or_else(|| {
        AirError::new(
            path,
            "bad_type",
            format!(
                "`{keyword}` takes an object of name → type, found {}",
                kind_of(body)
            ),
        )
    })?;
    let mut out = BTreeMap::new();
    for (field, type_json) in object {
        if field == COMMENT_KEY {
            continue;
        }
        let field_path = join_key(path, field);
        check_field_name(field, &field_path)?;
        out.insert(field.clone(), TypeExpr::from_json(type_json, &field_path)?);
    }
    debug_assert!(empty_ok || !out.is_empty() || object.keys().all(|k| k == COMMENT_KEY));
    Ok(out)
}

/// Field and arm names: `[A-Za-z_][A-Za-z0-9_-]*`, at most 64 bytes (no `$`, no `.`: those
/// belong to the variant encoding and to paths).
pub fn check_field_name(field: &str, path: &str) -> Result<(), AirError> {
    let bytes = field.as_bytes();
    let ok = bytes
        .first()
        .is_some_and(|&b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.len() <= FIELD_LEN_MAX
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(AirError::new(
            path,
            "bad_field_name",
            format!(
                "`{field}` is not a valid field or arm name: expected [A-Za-z_][A-Za-z0-9_-]*, at most 64 bytes"
            ),
        ))
    }
}

fn map_type(body: &Json, path: &str) -> Result<TypeExpr, AirError> {
    let object = body.as_object().ok_or_else(|| {
        AirError::new(
            path,
            "bad_type",
            format!(
                "`map` takes {{\"key\": …, \"value\": …}}, found {}",
                kind_of(body)
            ),
        )
    })?;
    for field in object.keys() {
        if !matches!(field.as_str(), "key" | "value" | COMMENT_KEY) {
            return Err(AirError::new(
                join_key(path, field),
                "bad_type",
                format!("unknown field `{field}` in `map`"),
            ));
        }
    }
    let (Some(key_json), Some(value_json)) = (object.get("key"), object.get("value")) else {
        return Err(AirError::new(
            path,
            "bad_type",
            "`map` needs both `key` and `value`",
        ));
    };
    let key_path = join_key(path, "key");
    let key = TypeExpr::from_json(key_json, &key_path)?;
    if !key.is_map_key() {
        return Err(AirError::new(
            key_path,
            "bad_map_key",
            format!(
                "map keys must be int, nat, text, uuid or hash, not {}",
                key.keyword()
            ),
        ));
    }
    let value = TypeExpr::from_json(value_json, &join_key(path, "value"))?;
    Ok(TypeExpr::Map {
        key: Box::new(key),
        value: Box::new(value),
    })
}

fn fields_json(fields: &BTreeMap<String, TypeExpr>) -> Json {
    Json::Object(
        fields
            .iter()
            .map(|(k, t)| (k.clone(), t.to_json()))
            .collect::<Map<_, _>>(),
    )
}

impl serde::Serialize for TypeExpr {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: Json) -> Result<TypeExpr, AirError> {
        TypeExpr::from_json(&json, "$.type")
    }

    #[test]
    fn comments_are_dropped_and_forms_round_trip() {
        let source = json!({"record": {"a": {"text": {}, "$comment": "x"}, "b": {"map": {"key": {"nat": {}}, "value": {"option": {"ref": "demo/X@1"}}}}}});
        let parsed = parse(source).unwrap();
        let expected = json!({"record": {"a": {"text": {}}, "b": {"map": {"key": {"nat": {}}, "value": {"option": {"ref": "demo/X@1"}}}}}});
        assert_eq!(parsed.to_json(), expected);
        assert_eq!(parse(expected).unwrap(), parsed);
    }

    #[test]
    fn errors_name_the_path() {
        let error = parse(json!({"record": {"x": {"float": {}}}})).unwrap_err();
        assert_eq!(error.path, "$.type.record.x");
        let error =
            parse(json!({"map": {"key": {"bytes": {}}, "value": {"nat": {}}}})).unwrap_err();
        assert_eq!(
            (error.path.as_str(), error.code),
            ("$.type.map.key", "bad_map_key")
        );
        assert_eq!(
            parse(json!({"variant": {}})).unwrap_err().path,
            "$.type.variant"
        );
        assert_eq!(
            parse(json!({"nat": {}, "int": {}})).unwrap_err().code,
            "bad_type"
        );
        assert_eq!(parse(json!({"nat": 1})).unwrap_err().path, "$.type.nat");
        assert_eq!(
            parse(json!({"record": {"$x": {"nat": {}}}}))
                .unwrap_err()
                .code,
            "bad_field_name"
        );
    }
}
