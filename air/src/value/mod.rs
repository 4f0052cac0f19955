//! Typed values (AIR.md §3): what reducers see, what plans compute, what gets journaled.
//!
//! A [`Value`] carries its own type tags, so it encodes to canonical CBOR without a schema.
//! Values enter through three doors, each checked against a [`TypeExpr`]:
//! - [`Value::from_cbor`]: lenient CBOR (any order, optional self-describe tag, missing
//!   `none` fields) read through the schema;
//! - [`Value::from_plain_json`]: the plain JSON lens, read through the schema;
//! - [`Value::from_tagged_json`] then [`Value::normalize`]: the tagged lens, which needs no
//!   schema until normalization.
//!
//! All three yield the same normalized value, hence the same bytes ([`Value::to_canonical`]).

mod canonical;
mod dec128;
mod decode;
mod encode;
mod normalize;
mod plain;
pub mod tagged;

use std::collections::BTreeMap;

pub use canonical::is_canonical;
pub use dec128::{Dec128, Dec128Error};
pub(crate) use normalize::{sort_map, sort_set};
pub use plain::{from_any_json, map_key_text};

use crate::hash::Hash;

/// Largest byte string or text a value may hold (16 MiB); larger data belongs in a blob.
pub const BYTES_LEN_MAX: usize = 16 << 20;

/// A typed value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `unit`, or an `option` that is none.
    Null,
    /// `bool`.
    Bool(bool),
    /// `int`.
    Int(i64),
    /// `nat`.
    Nat(u64),
    /// `dec128`.
    Dec128(Dec128),
    /// `bytes`.
    Bytes(Vec<u8>),
    /// `text`.
    Text(String),
    /// `time`: nanoseconds since the epoch.
    Time(u64),
    /// `duration`: nanoseconds.
    Duration(u64),
    /// `hash`.
    Hash(Hash),
    /// `uuid`, lowercase hyphenated.
    Uuid(String),
    /// `record`: field name → value.
    Record(BTreeMap<String, Value>),
    /// `variant`: the arm and its value (`None` for a unit arm).
    Variant {
        /// Arm name.
        tag: String,
        /// The arm's value; absent for unit arms.
        value: Option<Box<Value>>,
    },
    /// `list`.
    List(Vec<Value>),
    /// `set`: sorted by canonical bytes and deduplicated once normalized.
    Set(Vec<Value>),
    /// `map`: sorted by canonical key bytes once normalized.
    Map(Vec<(Value, Value)>),
}

/// A value that does not fit its type, located by a path inside the value (`$.items[2].id`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ValueError {
    /// Path inside the value.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl ValueError {
    /// An error at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> ValueError {
        ValueError {
            path: path.into(),
            message: message.into(),
        }
    }

    /// The same error with its path re-rooted under `prefix` (a path ending where `$` was).
    pub fn under(mut self, prefix: &str) -> ValueError {
        self.path = format!(
            "{prefix}{}",
            self.path.strip_prefix('$').unwrap_or(&self.path)
        );
        self
    }
}

impl Value {
    /// The name of this value's form, for error messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Nat(_) => "nat",
            Value::Dec128(_) => "dec128",
            Value::Bytes(_) => "bytes",
            Value::Text(_) => "text",
            Value::Time(_) => "time",
            Value::Duration(_) => "duration",
            Value::Hash(_) => "hash",
            Value::Uuid(_) => "uuid",
            Value::Record(_) => "record",
            Value::Variant { .. } => "variant",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::Map(_) => "map",
        }
    }

    /// Canonical CBOR with the self-describe tag: the bytes that are hashed and journaled.
    pub fn to_canonical(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(&crate::cbor::SELF_DESCRIBE);
        self.write_cbor(&mut out);
        out
    }

    /// The value's hash: SHA-256 of [`Value::to_canonical`].
    pub fn hash(&self) -> Hash {
        Hash::of(&self.to_canonical())
    }

    /// A record field, if this is a record that has it.
    pub fn field(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Record(fields) => fields.get(name),
            _ => None,
        }
    }

    /// Builds a record from `(field, value)` pairs.
    pub fn record<const N: usize>(fields: [(&str, Value); N]) -> Value {
        Value::Record(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    /// Builds a variant; `value` is `None` for a unit arm.
    pub fn variant(tag: &str, value: Option<Value>) -> Value {
        Value::Variant {
            tag: tag.to_owned(),
            value: value.map(Box::new),
        }
    }
}
