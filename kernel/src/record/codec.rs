//! Building and reading the CBOR maps of records, snapshots and envelopes.
//!
//! [`MapBuilder`] always produces canonical CBOR (keys sorted by encoded bytes); [`MapReader`]
//! reads any well-formed map and reports a missing or mistyped field as corrupt data.

use worldline_air::Hash;
use worldline_air::cbor::{self, Cbor};

use crate::error::{KernelError, Result};

/// A canonical CBOR map under construction.
///
/// Entries are written into one buffer as they come; `finish` sorts their offsets by key bytes
/// (canonical order) and copies them out once: two allocations per map, not two per entry.
#[derive(Default)]
pub struct MapBuilder {
    buf: Vec<u8>,
    /// `(key start, value start, end)` of each entry in `buf`.
    entries: Vec<(usize, usize, usize)>,
}

impl MapBuilder {
    /// An empty map.
    pub fn new() -> MapBuilder {
        MapBuilder {
            buf: Vec::with_capacity(128),
            entries: Vec::with_capacity(8),
        }
    }

    /// Writes the key, then `value` writes the value into the buffer.
    fn entry(&mut self, key: &str, value: impl FnOnce(&mut Vec<u8>)) {
        let start = self.buf.len();
        cbor::write_text(&mut self.buf, key);
        let value_start = self.buf.len();
        value(&mut self.buf);
        self.entries.push((start, value_start, self.buf.len()));
    }

    fn put(&mut self, key: &str, value: Vec<u8>) {
        self.entry(key, |buf| buf.extend_from_slice(&value));
    }

    /// An unsigned integer field.
    pub fn uint(&mut self, key: &str, value: u64) {
        self.entry(key, |buf| cbor::write_uint(buf, value));
    }

    /// A text field.
    pub fn text(&mut self, key: &str, value: &str) {
        self.entry(key, |buf| cbor::write_text(buf, value));
    }

    /// A byte-string field.
    pub fn bytes(&mut self, key: &str, value: &[u8]) {
        self.entry(key, |buf| cbor::write_bytes(buf, value));
    }

    /// A hash field (32 raw bytes).
    pub fn hash(&mut self, key: &str, value: &Hash) {
        self.bytes(key, value.as_bytes());
    }

    /// A boolean field.
    pub fn bool(&mut self, key: &str, value: bool) {
        self.entry(key, |buf| cbor::write_bool(buf, value));
    }

    /// A null field.
    pub fn null(&mut self, key: &str) {
        self.entry(key, cbor::write_null);
    }

    /// An array of unsigned integers.
    pub fn uints(&mut self, key: &str, values: &[u64]) {
        self.entry(key, |buf| {
            cbor::write_array_head(buf, values.len());
            for value in values {
                cbor::write_uint(buf, *value);
            }
        });
    }

    /// A nested map.
    pub fn map(&mut self, key: &str, value: MapBuilder) {
        self.entry(key, |buf| value.finish_into(buf));
    }

    /// An already-encoded canonical item (no self-describe tag).
    pub fn raw(&mut self, key: &str, item: Vec<u8>) {
        self.put(key, item);
    }

    /// Optional fields are omitted when absent.
    pub fn opt_bytes(&mut self, key: &str, value: Option<&[u8]>) {
        if let Some(value) = value {
            self.bytes(key, value);
        }
    }

    /// Optional text, omitted when absent.
    pub fn opt_text(&mut self, key: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.text(key, value);
        }
    }

    /// Appends the map's canonical bytes to `out`.
    pub fn finish_into(mut self, out: &mut Vec<u8>) {
        let buf = &self.buf;
        self.entries
            .sort_unstable_by(|a, b| buf[a.0..a.1].cmp(&buf[b.0..b.1]));
        debug_assert!(
            self.entries
                .windows(2)
                .all(|w| buf[w[0].0..w[0].1] != buf[w[1].0..w[1].1]),
            "a record map wrote a key twice"
        );
        out.reserve(self.buf.len() + 9);
        cbor::write_map_head(out, self.entries.len());
        for (start, _, end) in &self.entries {
            out.extend_from_slice(&self.buf[*start..*end]);
        }
    }

    /// The map's canonical bytes, without the self-describe tag.
    pub fn finish(self) -> Vec<u8> {
        let mut out = Vec::new();
        self.finish_into(&mut out);
        out
    }

    /// The map's canonical bytes with the self-describe tag in front.
    pub fn finish_tagged(self) -> Vec<u8> {
        let mut out = cbor::SELF_DESCRIBE.to_vec();
        self.finish_into(&mut out);
        out
    }
}

/// Reads fields of a decoded CBOR map; `what` names the structure in error messages.
pub struct MapReader<'a> {
    item: &'a Cbor,
    what: &'a str,
}

fn corrupt(what: &str, key: &str, expected: &str) -> KernelError {
    KernelError::Corrupt(format!(
        "{what}: field `{key}` is missing or not {expected}"
    ))
}

impl<'a> MapReader<'a> {
    /// Reads `item`, which must be a map.
    pub fn new(item: &'a Cbor, what: &'a str) -> Result<MapReader<'a>> {
        match item {
            Cbor::Map(_) => Ok(MapReader { item, what }),
            other => Err(KernelError::Corrupt(format!(
                "{what}: expected a map, found {}",
                other.kind_name()
            ))),
        }
    }

    /// A field, if present.
    pub fn get(&self, key: &str) -> Option<&'a Cbor> {
        self.item.get(key)
    }

    /// A required unsigned integer.
    pub fn uint(&self, key: &str) -> Result<u64> {
        match self.get(key) {
            Some(Cbor::Unsigned(n)) => Ok(*n),
            _ => Err(corrupt(self.what, key, "an unsigned integer")),
        }
    }

    /// A required text.
    pub fn text(&self, key: &str) -> Result<&'a str> {
        match self.get(key) {
            Some(Cbor::Text(text)) => Ok(text),
            _ => Err(corrupt(self.what, key, "text")),
        }
    }

    /// A required byte string.
    pub fn bytes(&self, key: &str) -> Result<&'a [u8]> {
        match self.get(key) {
            Some(Cbor::Bytes(bytes)) => Ok(bytes),
            _ => Err(corrupt(self.what, key, "bytes")),
        }
    }

    /// A required 32-byte hash.
    pub fn hash(&self, key: &str) -> Result<Hash> {
        let bytes = self.bytes(key)?;
        let array: [u8; 32] = bytes
            .try_into()
            .map_err(|_| corrupt(self.what, key, "a 32-byte hash"))?;
        Ok(Hash(array))
    }

    /// A required boolean.
    pub fn bool(&self, key: &str) -> Result<bool> {
        match self.get(key) {
            Some(Cbor::Bool(value)) => Ok(*value),
            _ => Err(corrupt(self.what, key, "a boolean")),
        }
    }

    /// A required array of unsigned integers.
    pub fn uints(&self, key: &str) -> Result<Vec<u64>> {
        match self.get(key) {
            Some(Cbor::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Cbor::Unsigned(n) => Ok(*n),
                    _ => Err(corrupt(self.what, key, "an array of unsigned integers")),
                })
                .collect(),
            _ => Err(corrupt(self.what, key, "an array")),
        }
    }

    /// A required nested map.
    pub fn map(&self, key: &str) -> Result<MapReader<'a>> {
        match self.get(key) {
            Some(item @ Cbor::Map(_)) => Ok(MapReader {
                item,
                what: self.what,
            }),
            _ => Err(corrupt(self.what, key, "a map")),
        }
    }

    /// An optional byte string (absent or null is none).
    pub fn opt_bytes(&self, key: &str) -> Result<Option<&'a [u8]>> {
        match self.get(key) {
            None | Some(Cbor::Null) => Ok(None),
            Some(Cbor::Bytes(bytes)) => Ok(Some(bytes)),
            _ => Err(corrupt(self.what, key, "bytes")),
        }
    }

    /// An optional text.
    pub fn opt_text(&self, key: &str) -> Result<Option<&'a str>> {
        match self.get(key) {
            None | Some(Cbor::Null) => Ok(None),
            Some(Cbor::Text(text)) => Ok(Some(text)),
            _ => Err(corrupt(self.what, key, "text")),
        }
    }

    /// An optional nested map.
    pub fn opt_map(&self, key: &str) -> Result<Option<MapReader<'a>>> {
        match self.get(key) {
            None | Some(Cbor::Null) => Ok(None),
            Some(item @ Cbor::Map(_)) => Ok(Some(MapReader {
                item,
                what: self.what,
            })),
            _ => Err(corrupt(self.what, key, "a map")),
        }
    }

    /// The canonical bytes of a field's item (no self-describe tag).
    pub fn raw(&self, key: &str) -> Result<Vec<u8>> {
        let item = self
            .get(key)
            .ok_or_else(|| corrupt(self.what, key, "present"))?;
        let mut out = Vec::new();
        item.write_canonical(&mut out).map_err(|_| {
            KernelError::Corrupt(format!("{}: field `{key}` has a duplicate key", self.what))
        })?;
        Ok(out)
    }
}

/// Decodes canonical CBOR (tag optional) as a generic item, reporting `what` on failure.
pub fn decode(bytes: &[u8], what: &str) -> Result<Cbor> {
    cbor::decode(bytes).map_err(|e| KernelError::Corrupt(format!("{what}: {e}")))
}
