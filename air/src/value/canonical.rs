//! The fast path for checking a value: are these bytes already the canonical encoding of a value
//! of this type? One pass over the bytes, no tree, no allocation.
//!
//! A `true` answer means the bytes are exactly what [`Value::from_cbor_bytes`] followed by
//! re-encoding would produce, so they can be kept as they are. `false` means "not proven": the
//! caller takes the full path, which either normalizes the value or says precisely what is wrong.
//!
//! [`Value::from_cbor_bytes`]: super::Value::from_cbor_bytes

use std::collections::BTreeMap;

use crate::hash::Hash;
use crate::types::{SchemaLookup, TypeExpr};

use super::Dec128;

/// True if `bytes` (no self-describe tag) are the canonical encoding of a value of type `ty`.
pub fn is_canonical(bytes: &[u8], ty: &TypeExpr, schemas: &dyn SchemaLookup) -> bool {
    let mut reader = Reader { bytes, at: 0 };
    check(&mut reader, ty, schemas, 0).is_some() && reader.at == bytes.len()
}

/// Deepest nesting followed (types never recurse; this only bounds hostile input).
const DEPTH_MAX: usize = 128;

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// A head in shortest form: `(major type, argument)`. Indefinite lengths, floats and simple
    /// values other than false/true/null are not canonical here.
    fn head(&mut self) -> Option<(u8, u64)> {
        let initial = *self.bytes.get(self.at)?;
        self.at += 1;
        let (major, info) = (initial >> 5, initial & 0x1f);
        let argument = match info {
            0..=23 => u64::from(info),
            24 => {
                let v = u64::from(*self.bytes.get(self.at)?);
                self.at += 1;
                (v >= 24).then_some(v)?
            }
            25 => {
                let v = u64::from(u16::from_be_bytes(self.take(2)?.try_into().ok()?));
                (v > 0xff).then_some(v)?
            }
            26 => {
                let v = u64::from(u32::from_be_bytes(self.take(4)?.try_into().ok()?));
                (v > 0xffff).then_some(v)?
            }
            27 => {
                let v = u64::from_be_bytes(self.take(8)?.try_into().ok()?);
                (v > 0xffff_ffff).then_some(v)?
            }
            _ => return None,
        };
        if major == 7 && !matches!(info, 20..=22) {
            return None;
        }
        Some((major, argument))
    }

    fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(len)?;
        let slice = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(slice)
    }

    fn text(&mut self) -> Option<&'a str> {
        match self.head()? {
            (3, len) => std::str::from_utf8(self.take(usize::try_from(len).ok()?)?).ok(),
            _ => None,
        }
    }
}

fn check(
    r: &mut Reader<'_>,
    ty: &TypeExpr,
    schemas: &dyn SchemaLookup,
    depth: usize,
) -> Option<()> {
    if depth > DEPTH_MAX {
        return None;
    }
    match ty {
        TypeExpr::Ref(name) => check(r, schemas.schema_type(name)?, schemas, depth + 1),
        TypeExpr::Option(inner) => {
            if r.bytes.get(r.at) == Some(&0xf6) {
                r.at += 1;
                Some(())
            } else {
                check(r, inner, schemas, depth + 1)
            }
        }
        TypeExpr::Unit => (r.head()? == (7, 22)).then_some(()),
        TypeExpr::Bool => matches!(r.head()?, (7, 20 | 21)).then_some(()),
        TypeExpr::Nat | TypeExpr::Time | TypeExpr::Duration => (r.head()?.0 == 0).then_some(()),
        TypeExpr::Int => match r.head()? {
            (0 | 1, n) if n <= i64::MAX as u64 => Some(()),
            _ => None,
        },
        TypeExpr::Bytes => match r.head()? {
            (2, len) => r.take(usize::try_from(len).ok()?).map(|_| ()),
            _ => None,
        },
        TypeExpr::Text => r.text().map(|_| ()),
        TypeExpr::Hash => {
            let text = r.text()?;
            text.parse::<Hash>().ok().map(|_| ())
        }
        TypeExpr::Uuid => {
            let text = r.text()?;
            let parsed = uuid::Uuid::try_parse(text).ok()?;
            (parsed.hyphenated().to_string() == text).then_some(())
        }
        TypeExpr::Dec128 => {
            let text = r.text()?;
            (Dec128::parse(text).ok()?.to_string() == text).then_some(())
        }
        TypeExpr::List(inner) => match r.head()? {
            (4, len) => (0..len).try_for_each(|_| check(r, inner, schemas, depth + 1)),
            _ => None,
        },
        TypeExpr::Set(inner) => match r.head()? {
            (4, len) => {
                let mut previous: Option<&[u8]> = None;
                for _ in 0..len {
                    let start = r.at;
                    check(r, inner, schemas, depth + 1)?;
                    let element = &r.bytes[start..r.at];
                    if previous.is_some_and(|p| p >= element) {
                        return None;
                    }
                    previous = Some(element);
                }
                Some(())
            }
            _ => None,
        },
        TypeExpr::Map { key, value } => match r.head()? {
            (5, len) => {
                let mut previous: Option<&[u8]> = None;
                for _ in 0..len {
                    let start = r.at;
                    check(r, key, schemas, depth + 1)?;
                    let encoded_key = &r.bytes[start..r.at];
                    if previous.is_some_and(|p| p >= encoded_key) {
                        return None;
                    }
                    previous = Some(encoded_key);
                    check(r, value, schemas, depth + 1)?;
                }
                Some(())
            }
            _ => None,
        },
        TypeExpr::Record(fields) => record(r, fields, schemas, depth),
        TypeExpr::Variant(arms) => variant(r, arms, schemas, depth),
    }
}

/// Every field present once, keys in canonical order, each value canonical.
fn record(
    r: &mut Reader<'_>,
    fields: &BTreeMap<String, TypeExpr>,
    schemas: &dyn SchemaLookup,
    depth: usize,
) -> Option<()> {
    match r.head()? {
        (5, len) if len == fields.len() as u64 => {
            let mut previous: Option<&str> = None;
            for _ in 0..len {
                let name = r.text()?;
                // Canonical order of text keys: shorter first, then bytewise. Strictly
                // increasing also rules out repeats, so `len` distinct declared fields = all.
                if previous
                    .is_some_and(|p| (p.len(), p.as_bytes()) >= (name.len(), name.as_bytes()))
                {
                    return None;
                }
                previous = Some(name);
                check(r, fields.get(name)?, schemas, depth + 1)?;
            }
            Some(())
        }
        _ => None,
    }
}

/// `{"$tag": arm}` for a unit arm, else `{"$tag": arm, "$value": v}`.
fn variant(
    r: &mut Reader<'_>,
    arms: &BTreeMap<String, TypeExpr>,
    schemas: &dyn SchemaLookup,
    depth: usize,
) -> Option<()> {
    let (major, len) = r.head()?;
    if major != 5 || r.text()? != "$tag" {
        return None;
    }
    let arm = arms.get(r.text()?)?;
    let unit = matches!(arm.resolve(schemas), Some(TypeExpr::Unit));
    match (len, unit) {
        (1, true) => Some(()),
        (2, false) => {
            if r.text()? != "$value" {
                return None;
            }
            check(r, arm, schemas, depth + 1)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Value;
    use serde_json::json;

    fn ty(json: serde_json::Value) -> TypeExpr {
        TypeExpr::from_json(&json, "$").unwrap()
    }

    fn none() -> BTreeMap<crate::Name, TypeExpr> {
        BTreeMap::new()
    }

    #[test]
    fn canonical_encodings_pass() {
        let t = ty(
            json!({"record": {"pc": {"variant": {"Idle": {"unit": {}}, "On": {"nat": {}}}}, "tags": {"set": {"text": {}}}, "n": {"option": {"int": {}}}}}),
        );
        let value = Value::from_plain_json(
            &json!({"pc": {"On": 300}, "tags": ["b", "a"], "n": -4}),
            &t,
            &none(),
        )
        .unwrap();
        assert!(is_canonical(&value.to_cbor_body(), &t, &none()));
        let value =
            Value::from_plain_json(&json!({"pc": "Idle", "tags": [], "n": null}), &t, &none())
                .unwrap();
        assert!(is_canonical(&value.to_cbor_body(), &t, &none()));
    }

    #[test]
    fn anything_not_canonical_is_not_proven() {
        let t = ty(json!({"record": {"a": {"nat": {}}, "bb": {"nat": {}}}}));
        // Keys out of canonical order.
        assert!(!is_canonical(
            &[0xa2, 0x62, b'b', b'b', 0x01, 0x61, b'a', 0x02],
            &t,
            &none()
        ));
        // A longer-than-needed head.
        assert!(!is_canonical(
            &[0xa2, 0x61, b'a', 0x18, 0x01, 0x62, b'b', b'b', 0x02],
            &t,
            &none()
        ));
        // A missing field, and trailing bytes.
        assert!(!is_canonical(&[0xa1, 0x61, b'a', 0x01], &t, &none()));
        assert!(!is_canonical(
            &[0xa2, 0x61, b'a', 0x01, 0x62, b'b', b'b', 0x02, 0x00],
            &t,
            &none()
        ));
        // Unsorted or repeated set elements.
        let set = ty(json!({"set": {"nat": {}}}));
        assert!(!is_canonical(&[0x82, 0x02, 0x01], &set, &none()));
        assert!(!is_canonical(&[0x82, 0x01, 0x01], &set, &none()));
        assert!(is_canonical(&[0x82, 0x01, 0x02], &set, &none()));
        // A unit arm with a value, and a decimal not in normal form.
        let variant = ty(json!({"variant": {"Done": {"unit": {}}}}));
        assert!(!is_canonical(
            &[
                0xa2, 0x64, b'$', b't', b'a', b'g', 0x64, b'D', b'o', b'n', b'e', 0x66, b'$', b'v',
                b'a', b'l', b'u', b'e', 0xf6
            ],
            &variant,
            &none()
        ));
        let dec = ty(json!({"dec128": {}}));
        assert!(!is_canonical(&[0x63, b'1', b'.', b'0'], &dec, &none()));
        assert!(is_canonical(&[0x61, b'1'], &dec, &none()));
    }
}
