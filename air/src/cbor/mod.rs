//! Canonical CBOR (AIR.md §2): one encoding for everything hashed or signed.
//!
//! [`Cbor`] is a generic CBOR data item. Encoding is our own and always canonical (RFC 8949
//! core deterministic: definite lengths, shortest heads, map keys sorted by their encoded bytes,
//! no duplicates, no floats), and a top-level encoding starts with the self-describe tag 55799.
//! Decoding (on `minicbor`) is lenient about order, head width, indefinite lengths and the
//! self-describe tag, and strict about what canonical data may never hold: floats, undefined,
//! simple values, duplicate keys, trailing bytes.

mod decode;
mod encode;
mod json;

pub use decode::{DEPTH_MAX, decode};
pub use encode::{
    MapWriter, write_array_head, write_bool, write_bytes, write_head, write_int, write_map_head,
    write_null, write_text, write_uint,
};
pub use json::{JsonCborError, cbor_to_json, json_canonical_bytes, json_to_cbor};

/// The self-describe tag 55799 as it appears in front of every top-level canonical encoding.
pub const SELF_DESCRIBE: [u8; 3] = [0xd9, 0xd9, 0xf7];

/// The tag number of the self-describe tag.
pub const SELF_DESCRIBE_TAG: u64 = 55799;

/// A generic CBOR data item (no floats: canonical data never holds them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cbor {
    /// Major type 0.
    Unsigned(u64),
    /// Major type 1: the value is `-1 - n`.
    Negative(u64),
    /// Major type 2.
    Bytes(Vec<u8>),
    /// Major type 3.
    Text(String),
    /// Major type 4.
    Array(Vec<Cbor>),
    /// Major type 5, in whatever order it was built or decoded; encoding sorts it.
    Map(Vec<(Cbor, Cbor)>),
    /// Major type 6.
    Tag(u64, Box<Cbor>),
    /// `true` / `false`.
    Bool(bool),
    /// `null`.
    Null,
}

/// Why bytes are not acceptable CBOR, with the byte offset where it was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CborError {
    /// Not well-formed CBOR.
    #[error("invalid CBOR at byte {offset}: {reason}")]
    Malformed {
        /// Byte offset into the input.
        offset: usize,
        /// What the decoder found.
        reason: String,
    },
    /// Nesting deeper than [`DEPTH_MAX`].
    #[error("CBOR nests deeper than {DEPTH_MAX} levels at byte {offset}")]
    TooDeep {
        /// Byte offset into the input.
        offset: usize,
    },
    /// A float, `undefined` or a simple value: never part of canonical data.
    #[error("CBOR item not allowed in canonical data ({what}) at byte {offset}")]
    NotAllowed {
        /// Byte offset into the input.
        offset: usize,
        /// The item's kind.
        what: &'static str,
    },
    /// A map holds the same key twice.
    #[error("duplicate map key in CBOR map at byte {offset}")]
    DuplicateKey {
        /// Byte offset of the map.
        offset: usize,
    },
    /// Bytes left over after the top-level item.
    #[error("{count} trailing bytes after the CBOR item, at byte {offset}")]
    Trailing {
        /// Byte offset of the first trailing byte.
        offset: usize,
        /// Number of trailing bytes.
        count: usize,
    },
}

impl Cbor {
    /// Canonical encoding with the self-describe tag in front: the bytes that get hashed.
    pub fn to_canonical(&self) -> Result<Vec<u8>, DuplicateKeyError> {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(&SELF_DESCRIBE);
        self.write_canonical(&mut out)?;
        Ok(out)
    }

    /// Canonical encoding of this item alone (no self-describe tag), appended to `out`.
    pub fn write_canonical(&self, out: &mut Vec<u8>) -> Result<(), DuplicateKeyError> {
        match self {
            Cbor::Unsigned(n) => write_uint(out, *n),
            Cbor::Negative(n) => write_head(out, 1, *n),
            Cbor::Bytes(bytes) => write_bytes(out, bytes),
            Cbor::Text(text) => write_text(out, text),
            Cbor::Array(items) => {
                write_array_head(out, items.len());
                for item in items {
                    item.write_canonical(out)?;
                }
            }
            Cbor::Map(entries) => {
                let mut map = MapWriter::with_capacity(entries.len());
                for (key, value) in entries {
                    let mut key_bytes = Vec::new();
                    key.write_canonical(&mut key_bytes)?;
                    let mut value_bytes = Vec::new();
                    value.write_canonical(&mut value_bytes)?;
                    map.push(key_bytes, value_bytes);
                }
                map.finish(out)?;
            }
            Cbor::Tag(tag, item) => {
                write_head(out, 6, *tag);
                item.write_canonical(out)?;
            }
            Cbor::Bool(value) => write_bool(out, *value),
            Cbor::Null => write_null(out),
        }
        Ok(())
    }

    /// The value as an integer, if it is one (major types 0 and 1).
    pub fn as_i128(&self) -> Option<i128> {
        match self {
            Cbor::Unsigned(n) => Some(i128::from(*n)),
            Cbor::Negative(n) => Some(-1 - i128::from(*n)),
            _ => None,
        }
    }

    /// The text, if this is a text string.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Cbor::Text(text) => Some(text),
            _ => None,
        }
    }

    /// Looks up a text key in a map (linear: envelopes and records are small).
    pub fn get(&self, key: &str) -> Option<&Cbor> {
        match self {
            Cbor::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_text() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// A short name of the item's kind, for error messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Cbor::Unsigned(_) | Cbor::Negative(_) => "integer",
            Cbor::Bytes(_) => "byte string",
            Cbor::Text(_) => "text string",
            Cbor::Array(_) => "array",
            Cbor::Map(_) => "map",
            Cbor::Tag(..) => "tagged item",
            Cbor::Bool(_) => "bool",
            Cbor::Null => "null",
        }
    }
}

/// Two map entries encode to the same key; a canonical map has each key once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("map has a duplicate key")]
pub struct DuplicateKeyError;

/// Renders bytes as lowercase hex (for test vectors and diagnostics).
pub fn to_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// Parses lowercase or uppercase hex; `None` if the text is not hex of even length.
pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}
