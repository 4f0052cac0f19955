//! The lenient decoder: any well-formed CBOR without floats or simple values.

use minicbor::Decoder;
use minicbor::data::Type;

use super::{Cbor, CborError, SELF_DESCRIBE_TAG};

/// Deepest nesting the decoder accepts. AIR types never recurse, so real data stays far below.
pub const DEPTH_MAX: usize = 128;

/// Decodes one CBOR item that must span all of `bytes`. A leading self-describe tag is dropped.
pub fn decode(bytes: &[u8]) -> Result<Cbor, CborError> {
    let mut decoder = Decoder::new(bytes);
    if let Ok(Type::Tag) = decoder.datatype() {
        let start = decoder.position();
        match decoder.tag() {
            Ok(tag) if tag.as_u64() == SELF_DESCRIBE_TAG => {}
            _ => decoder.set_position(start),
        }
    }
    let item = item(&mut decoder, 0)?;
    let offset = decoder.position();
    if offset != bytes.len() {
        return Err(CborError::Trailing {
            offset,
            count: bytes.len() - offset,
        });
    }
    Ok(item)
}

fn malformed(fallback_offset: usize, error: minicbor::decode::Error) -> CborError {
    let offset = error.position().unwrap_or(fallback_offset);
    let reason = if error.is_end_of_input() {
        "unexpected end of input".to_owned()
    } else {
        error.to_string()
    };
    CborError::Malformed { offset, reason }
}

fn item(decoder: &mut Decoder<'_>, depth: usize) -> Result<Cbor, CborError> {
    let offset = decoder.position();
    if depth > DEPTH_MAX {
        return Err(CborError::TooDeep { offset });
    }
    let datatype = decoder.datatype().map_err(|e| malformed(offset, e))?;
    let not_allowed = |what| Err(CborError::NotAllowed { offset, what });
    let item = match datatype {
        Type::Bool => Cbor::Bool(decoder.bool().map_err(|e| malformed(offset, e))?),
        Type::Null => {
            decoder.null().map_err(|e| malformed(offset, e))?;
            Cbor::Null
        }
        Type::U8 | Type::U16 | Type::U32 | Type::U64 => {
            Cbor::Unsigned(decoder.u64().map_err(|e| malformed(offset, e))?)
        }
        Type::I8 | Type::I16 | Type::I32 | Type::I64 | Type::Int => {
            let value = i128::from(decoder.int().map_err(|e| malformed(offset, e))?);
            if value >= 0 {
                Cbor::Unsigned(value as u64)
            } else {
                Cbor::Negative((-1 - value) as u64)
            }
        }
        Type::Bytes | Type::BytesIndef => {
            let mut out = Vec::new();
            let chunks = decoder.bytes_iter().map_err(|e| malformed(offset, e))?;
            for chunk in chunks {
                out.extend_from_slice(chunk.map_err(|e| CborError::Malformed {
                    offset,
                    reason: e.to_string(),
                })?);
            }
            Cbor::Bytes(out)
        }
        Type::String | Type::StringIndef => {
            let mut out = String::new();
            let chunks = decoder.str_iter().map_err(|e| malformed(offset, e))?;
            for chunk in chunks {
                out.push_str(chunk.map_err(|e| CborError::Malformed {
                    offset,
                    reason: e.to_string(),
                })?);
            }
            Cbor::Text(out)
        }
        Type::Array | Type::ArrayIndef => array(decoder, depth)?,
        Type::Map | Type::MapIndef => map(decoder, depth)?,
        Type::Tag => {
            let tag = decoder.tag().map_err(|e| malformed(offset, e))?;
            Cbor::Tag(tag.as_u64(), Box::new(item(decoder, depth + 1)?))
        }
        Type::F16 | Type::F32 | Type::F64 => return not_allowed("float"),
        Type::Undefined => return not_allowed("undefined"),
        Type::Simple => return not_allowed("simple value"),
        Type::Break => return not_allowed("unexpected break"),
        Type::Unknown(_) => return not_allowed("unknown initial byte"),
    };
    Ok(item)
}

/// Capacity to reserve for `claimed` items: never more than the bytes left could hold.
fn bounded_capacity(decoder: &Decoder<'_>, claimed: u64) -> usize {
    let remaining = decoder.input().len().saturating_sub(decoder.position());
    usize::try_from(claimed)
        .unwrap_or(usize::MAX)
        .min(remaining)
}

fn at_break(decoder: &mut Decoder<'_>) -> Result<bool, CborError> {
    let offset = decoder.position();
    if decoder.datatype().map_err(|e| malformed(offset, e))? == Type::Break {
        decoder.set_position(decoder.position() + 1);
        return Ok(true);
    }
    Ok(false)
}

fn array(decoder: &mut Decoder<'_>, depth: usize) -> Result<Cbor, CborError> {
    let offset = decoder.position();
    let len = decoder.array().map_err(|e| malformed(offset, e))?;
    let mut items = Vec::with_capacity(len.map_or(0, |n| bounded_capacity(decoder, n)));
    match len {
        Some(n) => {
            for _ in 0..n {
                items.push(item(decoder, depth + 1)?);
            }
        }
        None => {
            while !at_break(decoder)? {
                items.push(item(decoder, depth + 1)?);
            }
        }
    }
    Ok(Cbor::Array(items))
}

fn map(decoder: &mut Decoder<'_>, depth: usize) -> Result<Cbor, CborError> {
    let offset = decoder.position();
    let len = decoder.map().map_err(|e| malformed(offset, e))?;
    let mut entries = Vec::with_capacity(len.map_or(0, |n| bounded_capacity(decoder, n)));
    match len {
        Some(n) => {
            for _ in 0..n {
                let key = item(decoder, depth + 1)?;
                entries.push((key, item(decoder, depth + 1)?));
            }
        }
        None => {
            while !at_break(decoder)? {
                let key = item(decoder, depth + 1)?;
                entries.push((key, item(decoder, depth + 1)?));
            }
        }
    }
    if has_duplicate_keys(&entries) {
        return Err(CborError::DuplicateKey { offset });
    }
    Ok(Cbor::Map(entries))
}

fn has_duplicate_keys(entries: &[(Cbor, Cbor)]) -> bool {
    // Keys are the same when their canonical encodings are: two decoded maps whose entries came
    // in different orders are one key (item equality would miss that).
    // Small maps (envelopes, records) compare pairwise; large ones sort references.
    if entries.len() <= 16 {
        return entries
            .iter()
            .enumerate()
            .any(|(i, (key, _))| entries[..i].iter().any(|(other, _)| same_key(other, key)));
    }
    let mut keys: Vec<&Cbor> = entries.iter().map(|(key, _)| key).collect();
    keys.sort_unstable_by(|a, b| compare_items(a, b));
    keys.windows(2)
        .any(|pair| compare_items(pair[0], pair[1]) == std::cmp::Ordering::Equal)
}

/// True when two keys encode to the same canonical bytes.
fn same_key(a: &Cbor, b: &Cbor) -> bool {
    let scalar = |item: &Cbor| {
        matches!(
            item,
            Cbor::Unsigned(_) | Cbor::Negative(_) | Cbor::Bytes(_) | Cbor::Text(_)
        )
    };
    if scalar(a) && scalar(b) {
        // A scalar has one canonical form: equal items are equal encodings.
        return a == b;
    }
    compare_items(a, b) == std::cmp::Ordering::Equal
}

/// A total order on items, used only to find duplicates.
fn compare_items(a: &Cbor, b: &Cbor) -> std::cmp::Ordering {
    let mut left = Vec::new();
    let mut right = Vec::new();
    // Keys of a decoded map are themselves decoded items; encoding cannot fail on duplicates
    // inside them because nested maps were already checked.
    let _ = a.write_canonical(&mut left);
    let _ = b.write_canonical(&mut right);
    left.cmp(&right)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cbor::from_hex;

    fn hex(text: &str) -> Vec<u8> {
        from_hex(text).unwrap()
    }

    #[test]
    fn refuses_map_keys_that_differ_only_in_entry_order() {
        // {{"a": 1, "b": 2}: 0, {"b": 2, "a": 1}: 1}: the two keys are one canonical map.
        let bytes = hex("a2a2616101616202 00 a2616202616101 01"
            .replace(' ', "")
            .as_str());
        assert!(matches!(
            decode(&bytes),
            Err(CborError::DuplicateKey { .. })
        ));
    }

    #[test]
    fn decodes_with_and_without_self_describe() {
        assert_eq!(decode(&hex("d9d9f7a0")), Ok(Cbor::Map(vec![])));
        assert_eq!(decode(&hex("a0")), Ok(Cbor::Map(vec![])));
    }

    #[test]
    fn accepts_non_shortest_and_indefinite_forms() {
        assert_eq!(decode(&hex("1b0000000000000001")), Ok(Cbor::Unsigned(1)));
        assert_eq!(
            decode(&hex("9f0102ff")),
            Ok(Cbor::Array(vec![Cbor::Unsigned(1), Cbor::Unsigned(2)]))
        );
        assert_eq!(decode(&hex("7f61616162ff")), Ok(Cbor::Text("ab".into())));
    }

    #[test]
    fn rejects_what_canonical_data_never_holds() {
        assert!(matches!(
            decode(&hex("f93c00")),
            Err(CborError::NotAllowed { what: "float", .. })
        ));
        assert!(matches!(
            decode(&hex("f7")),
            Err(CborError::NotAllowed { .. })
        ));
        assert!(matches!(
            decode(&hex("a2616101616102")),
            Err(CborError::DuplicateKey { offset: 0 })
        ));
        assert!(matches!(
            decode(&hex("0102")),
            Err(CborError::Trailing {
                offset: 1,
                count: 1
            })
        ));
        assert!(matches!(
            decode(&hex("62")),
            Err(CborError::Malformed { .. })
        ));
    }

    #[test]
    fn huge_claimed_lengths_do_not_allocate() {
        // An array claiming 2^63 items in 9 bytes must fail fast, not reserve memory.
        assert!(decode(&hex("9b7fffffffffffffff")).is_err());
    }

    #[test]
    fn depth_is_limited() {
        let mut bytes = vec![0x81; DEPTH_MAX + 2];
        bytes.push(0x00);
        assert!(matches!(decode(&bytes), Err(CborError::TooDeep { .. })));
    }
}
