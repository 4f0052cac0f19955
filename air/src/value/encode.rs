//! Canonical CBOR encoding of typed values (the table of AIR.md §3).

use crate::cbor::{
    write_array_head, write_bool, write_bytes, write_int, write_map_head, write_null, write_text,
    write_uint,
};

use super::Value;

impl Value {
    /// Appends this value's canonical CBOR (no self-describe tag) to `out`.
    ///
    /// Sets and maps are sorted here by encoded bytes whatever order they are in, so encoding
    /// is canonical even for a value that was built by hand rather than normalized.
    pub fn write_cbor(&self, out: &mut Vec<u8>) {
        match self {
            Value::Null => write_null(out),
            Value::Bool(value) => write_bool(out, *value),
            Value::Int(value) => write_int(out, *value),
            Value::Nat(value) | Value::Time(value) | Value::Duration(value) => {
                write_uint(out, *value)
            }
            Value::Dec128(value) => write_text(out, &value.to_string()),
            Value::Bytes(bytes) => write_bytes(out, bytes),
            Value::Text(text) | Value::Uuid(text) => write_text(out, text),
            Value::Hash(hash) => write_text(out, &hash.to_string()),
            Value::Record(fields) => {
                // Text keys order by (length, bytes) under canonical CBOR.
                let mut names: Vec<&String> = fields.keys().collect();
                names.sort_unstable_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
                write_map_head(out, names.len());
                for name in names {
                    write_text(out, name);
                    fields[name].write_cbor(out);
                }
            }
            Value::Variant { tag, value } => match value {
                None => {
                    write_map_head(out, 1);
                    write_text(out, "$tag");
                    write_text(out, tag);
                }
                Some(value) => {
                    write_map_head(out, 2);
                    write_text(out, "$tag");
                    write_text(out, tag);
                    write_text(out, "$value");
                    value.write_cbor(out);
                }
            },
            Value::List(items) => {
                write_array_head(out, items.len());
                items.iter().for_each(|item| item.write_cbor(out));
            }
            Value::Set(items) => {
                let mut encoded: Vec<Vec<u8>> = items.iter().map(Value::to_cbor_body).collect();
                encoded.sort_unstable();
                encoded.dedup();
                write_array_head(out, encoded.len());
                encoded.iter().for_each(|item| out.extend_from_slice(item));
            }
            Value::Map(entries) => {
                let mut encoded: Vec<(Vec<u8>, &Value)> =
                    entries.iter().map(|(k, v)| (k.to_cbor_body(), v)).collect();
                encoded.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                encoded.dedup_by(|a, b| a.0 == b.0);
                write_map_head(out, encoded.len());
                for (key, value) in encoded {
                    out.extend_from_slice(&key);
                    value.write_cbor(out);
                }
            }
        }
    }

    /// Canonical CBOR of this value without the self-describe tag.
    pub fn to_cbor_body(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16);
        self.write_cbor(&mut out);
        out
    }
}
