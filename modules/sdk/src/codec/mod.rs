//! Typed values to and from canonical CBOR (`spec/encoding.md`), through serde.

use core::fmt;
use core::ops::Deref;

use serde::de::{self, Deserialize, Deserializer, Expected, Unexpected, Visitor};
use serde::ser::{self, Serialize, Serializer};

use crate::ReduceError;

mod de_impl;
mod ser_impl;

/// The self-describe tag 55799 that starts every top-level canonical encoding.
pub(crate) const SELF_DESCRIBE: [u8; 3] = [0xd9, 0xd9, 0xf7];

/// Encodes a typed value as canonical CBOR, without the self-describe tag (the form of every
/// `bytes` value inside an envelope).
///
/// Records become maps of field name → value, map keys sorted by their encoded bytes as the
/// canonical form wants; `None` and `()` become null; a variant written
/// `#[serde(tag = "$tag", content = "$value")]` becomes `{"$tag": arm, "$value": v}` (just
/// `{"$tag": arm}` for a unit variant). Floats are an error: typed values have none.
pub fn to_cbor<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, ReduceError> {
    let mut out = Vec::new();
    value
        .serialize(ser_impl::Serializer { out: &mut out })
        .map_err(|e| ReduceError::new(format!("cannot encode value: {}", e.0)))?;
    Ok(out)
}

/// Decodes a typed value from CBOR, with or without the self-describe tag.
///
/// Lenient about form (any map order, indefinite lengths, longer-than-needed heads; unknown
/// record fields are skipped and missing `Option` fields are `None`, as serde does), strict
/// about content: floats, other tags, simple values and trailing bytes are errors.
pub fn from_cbor<'b, T: Deserialize<'b>>(bytes: &'b [u8]) -> Result<T, ReduceError> {
    let body = bytes.strip_prefix(&SELF_DESCRIBE[..]).unwrap_or(bytes);
    let mut de = de_impl::Deserializer::new(body);
    let value = T::deserialize(&mut de).map_err(|e| ReduceError::new(e.0))?;
    let end = de.d.position();
    if end != body.len() {
        return Err(ReduceError::new(format!(
            "{} trailing bytes after the value",
            body.len() - end
        )));
    }
    Ok(value)
}

/// Describes a decoder error as "expected …", with its byte position. (minicbor's own
/// `Display` is kept out of the wasm binary; it costs several KiB.)
pub(crate) fn describe_cbor_error(e: &minicbor::decode::Error, expected: &str) -> String {
    let at = e
        .position()
        .map(|p| format!(" at byte {p}"))
        .unwrap_or_default();
    if e.is_end_of_input() {
        format!("unexpected end of input{at}, expected {expected}")
    } else {
        format!("expected {expected}{at}")
    }
}

/// Writes a CBOR head (major type and argument) in its shortest form.
pub(crate) fn head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    if n < 24 {
        out.push(m | n as u8);
    } else if n <= u64::from(u8::MAX) {
        out.extend_from_slice(&[m | 24, n as u8]);
    } else if n <= u64::from(u16::MAX) {
        out.push(m | 25);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else if n <= u64::from(u32::MAX) {
        out.push(m | 26);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(m | 27);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// The serde error of the codec: a message.
#[derive(Debug)]
pub(crate) struct Error(String);

impl Error {
    fn new(message: impl Into<String>) -> Self {
        Error(message.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }

    // Overridden (with `invalid_value`) so that serde's `Unexpected` Display, and with it the
    // float formatting code, stays out of the wasm binary.
    fn invalid_type(unexp: Unexpected<'_>, exp: &dyn Expected) -> Self {
        Error(format!("invalid type: {}, expected {exp}", describe(unexp)))
    }

    fn invalid_value(unexp: Unexpected<'_>, exp: &dyn Expected) -> Self {
        Error(format!(
            "invalid value: {}, expected {exp}",
            describe(unexp)
        ))
    }
}

fn describe(unexp: Unexpected<'_>) -> String {
    match unexp {
        Unexpected::Bool(b) => format!("boolean `{b}`"),
        Unexpected::Unsigned(n) => format!("integer `{n}`"),
        Unexpected::Signed(n) => format!("integer `{n}`"),
        Unexpected::Char(c) => format!("character `{c}`"),
        Unexpected::Str(s) => format!("text \"{s}\""),
        Unexpected::Float(_) => "a float".into(),
        Unexpected::Bytes(_) => "a byte string".into(),
        Unexpected::Unit => "null".into(),
        Unexpected::Option => "an option".into(),
        Unexpected::NewtypeStruct => "a newtype struct".into(),
        Unexpected::Seq => "an array".into(),
        Unexpected::Map => "a map".into(),
        Unexpected::Enum => "an enum".into(),
        Unexpected::UnitVariant => "a unit variant".into(),
        Unexpected::NewtypeVariant => "a newtype variant".into(),
        Unexpected::TupleVariant => "a tuple variant".into(),
        Unexpected::StructVariant => "a struct variant".into(),
        Unexpected::Other(other) => other.into(),
    }
}

/// A `bytes` value: serialized as a CBOR byte string (a plain `Vec<u8>` would become an array of
/// integers).
///
/// Use it for `bytes` fields of records and variants: `pub digest: Bytes`. It dereferences to
/// `[u8]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bytes(pub Vec<u8>);

impl Deref for Bytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(bytes: Vec<u8>) -> Self {
        Bytes(bytes)
    }
}

impl From<&[u8]> for Bytes {
    fn from(bytes: &[u8]) -> Self {
        Bytes(bytes.to_vec())
    }
}

impl From<Bytes> for Vec<u8> {
    fn from(bytes: Bytes) -> Self {
        bytes.0
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_byte_buf(BytesVisitor)
    }
}

struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Bytes;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a byte string")
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
        Ok(Bytes(v.to_vec()))
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Bytes, E> {
        Ok(Bytes(v))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Serialize};

    use super::*;

    use crate::test_hex::hex;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "$tag", content = "$value")]
    enum Shape {
        Dot,
        Circle(Circle),
        Label(String),
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Circle {
        radius: u64,
        at: i64,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Doc {
        title: String,
        note: Option<String>,
        blob: Bytes,
        tags: Vec<String>,
        counts: BTreeMap<String, u64>,
        unit: (),
    }

    #[test]
    fn variants_encode_as_tag_and_value() {
        // {"$tag": "Dot"}: a unit arm has no $value.
        assert_eq!(
            to_cbor(&Shape::Dot).unwrap(),
            hex("a1 64 24746167 63 446f74")
        );
        // {"$tag": "Label", "$value": "x"}
        assert_eq!(
            to_cbor(&Shape::Label("x".into())).unwrap(),
            hex("a2 64 24746167 65 4c6162656c 66 2476616c7565 61 78")
        );
    }

    #[test]
    fn records_encode_canonically() {
        // Fields are declared radius, at; canonical order is "at" (shorter) first.
        let c = Circle {
            radius: 500,
            at: -2,
        };
        assert_eq!(
            to_cbor(&c).unwrap(),
            hex("a2 62 6174 21 66 726164697573 19 01f4")
        );
        let doc = Doc {
            title: "t".into(),
            note: None,
            blob: Bytes(vec![1, 2]),
            tags: vec!["a".into()],
            counts: [("bb".to_string(), 1), ("a".to_string(), 2)]
                .into_iter()
                .collect(),
            unit: (),
        };
        let bytes = to_cbor(&doc).unwrap();
        // note, blob, tags, unit, title, counts: by length, then bytewise.
        let expected = hex(
            "a6 64 626c6f62 42 0102 64 6e6f7465 f6 64 74616773 81 61 61 64 756e6974 f6 \
             65 7469746c65 61 74 66 636f756e7473 a2 61 61 02 62 6262 01",
        );
        assert_eq!(bytes, expected);
        assert_eq!(from_cbor::<Doc>(&bytes).unwrap(), doc);
    }

    #[test]
    fn integers_use_shortest_heads() {
        for (n, h) in [
            (0u64, "00"),
            (23, "17"),
            (24, "1818"),
            (256, "190100"),
            (1 << 32, "1b0000000100000000"),
        ] {
            assert_eq!(to_cbor(&n).unwrap(), hex(h), "{n}");
            assert_eq!(from_cbor::<u64>(&hex(h)).unwrap(), n);
        }
        assert_eq!(to_cbor(&-1i64).unwrap(), hex("20"));
        assert_eq!(to_cbor(&i64::MIN).unwrap(), hex("3b7fffffffffffffff"));
        assert_eq!(
            from_cbor::<i64>(&hex("3b7fffffffffffffff")).unwrap(),
            i64::MIN
        );
    }

    #[test]
    fn floats_are_refused_both_ways() {
        assert!(to_cbor(&1.5f64).unwrap_err().message().contains("float"));
        // 1.5 as a half float.
        let err = from_cbor::<Circle>(&hex("a2 62 6174 f93e00 66 726164697573 01")).unwrap_err();
        assert!(err.message().contains("expected an int"), "{err}");
    }

    #[test]
    fn decoding_is_lenient_about_form() {
        // Self-describe tag; $value before $tag; indefinite map; long head for 3; unknown field.
        let bytes = hex(
            "d9d9f7 bf 66 2476616c7565 a3 66 726164697573 1b0000000000000003 62 6174 20 \
             65 6578747261 f5 64 24746167 66 436972636c65 ff",
        );
        assert_eq!(
            from_cbor::<Shape>(&bytes).unwrap(),
            Shape::Circle(Circle { radius: 3, at: -1 })
        );
        // A unit arm may carry "$value": null.
        let dot = hex("a2 64 24746167 63 446f74 66 2476616c7565 f6");
        assert_eq!(from_cbor::<Shape>(&dot).unwrap(), Shape::Dot);
        // Indefinite text and byte strings.
        assert_eq!(from_cbor::<String>(&hex("7f 6161 6162 ff")).unwrap(), "ab");
        assert_eq!(
            from_cbor::<Bytes>(&hex("5f 4101 4102 ff")).unwrap(),
            Bytes(vec![1, 2])
        );
    }

    #[test]
    fn missing_option_fields_are_none() {
        #[derive(Debug, PartialEq, Deserialize)]
        struct R {
            a: u64,
            b: Option<u64>,
        }
        assert_eq!(
            from_cbor::<R>(&hex("a1 61 61 05")).unwrap(),
            R { a: 5, b: None }
        );
        let err = from_cbor::<R>(&hex("a1 61 62 05")).unwrap_err();
        assert_eq!(err.message(), "missing field `a`");
    }

    #[test]
    fn decoding_errors_are_clear() {
        let unknown = from_cbor::<Shape>(&hex("a1 64 24746167 63 426f78")).unwrap_err();
        assert_eq!(
            unknown.message(),
            "unknown variant `Box`, expected one of `Dot`, `Circle`, `Label`"
        );
        let wrong = from_cbor::<Circle>(&hex("a2 62 6174 61 78 66 726164697573 01")).unwrap_err();
        assert_eq!(wrong.message(), "expected an int at byte 4");
        let short = from_cbor::<Circle>(&hex("a2 62 6174")).unwrap_err();
        assert!(
            short.message().starts_with("unexpected end of input"),
            "{short}"
        );
        let trailing = from_cbor::<u64>(&hex("01 02")).unwrap_err();
        assert_eq!(trailing.message(), "1 trailing bytes after the value");
        let tagged = from_cbor::<u64>(&hex("c1 01")).unwrap_err();
        assert!(tagged.message().contains("expected a nat"), "{tagged}");
    }

    #[test]
    fn nesting_is_bounded() {
        let mut deep = vec![0x81; 300];
        deep.push(0x01);
        #[derive(Debug, Deserialize)]
        #[serde(untagged)]
        enum Nest {
            #[allow(dead_code)]
            Leaf(u64),
            #[allow(dead_code)]
            List(Vec<Nest>),
        }
        let err = from_cbor::<Nest>(&deep).unwrap_err();
        assert!(err.message().contains("nesting"), "{err}");
    }

    #[test]
    fn duplicate_map_keys_are_refused_on_encode() {
        struct Twice;
        impl Serialize for Twice {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeMap;
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("k", &1)?;
                m.serialize_entry("k", &2)?;
                m.end()
            }
        }
        assert!(
            to_cbor(&Twice)
                .unwrap_err()
                .message()
                .contains("duplicate map key")
        );
    }
}
