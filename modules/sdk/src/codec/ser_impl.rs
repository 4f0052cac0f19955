//! A serde `Serializer` that writes canonical CBOR (`spec/encoding.md`): shortest heads,
//! definite lengths, map keys sorted by their encoded bytes, no duplicate keys, no floats.

use serde::ser::{self, Serialize};

use super::{Error, head};

/// Serializes into `out`.
pub(super) struct Serializer<'a> {
    pub(super) out: &'a mut Vec<u8>,
}

fn text(out: &mut Vec<u8>, s: &str) {
    head(out, 3, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// Encodes one value on its own (a map key, a map value, an element).
fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    value.serialize(Serializer { out: &mut out })?;
    Ok(out)
}

impl<'a> ser::Serializer for Serializer<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Seq<'a>;
    type SerializeTuple = Seq<'a>;
    type SerializeTupleStruct = Seq<'a>;
    type SerializeTupleVariant = Seq<'a>;
    type SerializeMap = Map<'a>;
    type SerializeStruct = Map<'a>;
    type SerializeStructVariant = Map<'a>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.out.push(if v { 0xf5 } else { 0xf4 });
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }

    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }

    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }

    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        match u64::try_from(v) {
            Ok(n) => head(self.out, 0, n),
            // -1 - v, i.e. !v, fits in a u64 for every negative i64.
            Err(_) => head(self.out, 1, !v as u64),
        }
        Ok(())
    }

    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        if let Ok(n) = u64::try_from(v) {
            return self.serialize_u64(n);
        }
        match i64::try_from(v) {
            Ok(n) => self.serialize_i64(n),
            Err(_) => Err(Error::new("integer out of the int/nat range")),
        }
    }

    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }

    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }

    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }

    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        head(self.out, 0, v);
        Ok(())
    }

    fn serialize_u128(self, v: u128) -> Result<(), Error> {
        match u64::try_from(v) {
            Ok(n) => self.serialize_u64(n),
            Err(_) => Err(Error::new("integer out of the nat range")),
        }
    }

    fn serialize_f32(self, _v: f32) -> Result<(), Error> {
        Err(Error::new(
            "floats have no canonical encoding (use dec128 text)",
        ))
    }

    fn serialize_f64(self, _v: f64) -> Result<(), Error> {
        Err(Error::new(
            "floats have no canonical encoding (use dec128 text)",
        ))
    }

    fn serialize_char(self, v: char) -> Result<(), Error> {
        text(self.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        text(self.out, v);
        Ok(())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        head(self.out, 2, v.len() as u64);
        self.out.extend_from_slice(v);
        Ok(())
    }

    fn serialize_none(self) -> Result<(), Error> {
        self.out.push(0xf6);
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Error> {
        self.out.push(0xf6);
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        head(self.out, 5, 1);
        text(self.out, variant);
        value.serialize(self)
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Seq<'a>, Error> {
        Ok(Seq {
            out: self.out,
            items: Vec::new(),
            count: 0,
            wrap: None,
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<Seq<'a>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Seq<'a>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Seq<'a>, Error> {
        Ok(Seq {
            out: self.out,
            items: Vec::new(),
            count: 0,
            wrap: Some(variant),
        })
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Map<'a>, Error> {
        Ok(Map {
            out: self.out,
            entries: Vec::new(),
            key: None,
            wrap: None,
        })
    }

    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Map<'a>, Error> {
        self.serialize_map(None)
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Map<'a>, Error> {
        Ok(Map {
            out: self.out,
            entries: Vec::new(),
            key: None,
            wrap: Some(variant),
        })
    }

    fn is_human_readable(&self) -> bool {
        false
    }
}

/// An array being written (elements are buffered so that the length head comes first).
pub(super) struct Seq<'a> {
    out: &'a mut Vec<u8>,
    items: Vec<u8>,
    count: u64,
    /// `Some(arm)` for a tuple variant: `{arm: [...]}`.
    wrap: Option<&'static str>,
}

impl Seq<'_> {
    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(Serializer {
            out: &mut self.items,
        })?;
        self.count += 1;
        Ok(())
    }

    fn finish(self) -> Result<(), Error> {
        if let Some(arm) = self.wrap {
            head(self.out, 5, 1);
            text(self.out, arm);
        }
        head(self.out, 4, self.count);
        self.out.extend_from_slice(&self.items);
        Ok(())
    }
}

impl ser::SerializeSeq for Seq<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.push(value)
    }

    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeTuple for Seq<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.push(value)
    }

    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeTupleStruct for Seq<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.push(value)
    }

    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeTupleVariant for Seq<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.push(value)
    }

    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

/// A map or record being written: entries are encoded apart, then sorted by key bytes.
pub(super) struct Map<'a> {
    out: &'a mut Vec<u8>,
    entries: Vec<Entry>,
    key: Option<Vec<u8>>,
    /// `Some(arm)` for a struct variant: `{arm: {...}}`.
    wrap: Option<&'static str>,
}

impl Map<'_> {
    fn finish(mut self) -> Result<(), Error> {
        sort_entries(&mut self.entries);
        if self.entries.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(Error::new("duplicate map key"));
        }
        if let Some(arm) = self.wrap {
            head(self.out, 5, 1);
            text(self.out, arm);
        }
        head(self.out, 5, self.entries.len() as u64);
        for (k, v) in &self.entries {
            self.out.extend_from_slice(k);
            self.out.extend_from_slice(v);
        }
        Ok(())
    }
}

impl ser::SerializeMap for Map<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.key = Some(encode(key)?);
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let key = self
            .key
            .take()
            .ok_or_else(|| Error::new("map value without a key"))?;
        self.entries.push((key, encode(value)?));
        Ok(())
    }

    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeStruct for Map<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        let mut k = Vec::with_capacity(key.len() + 1);
        text(&mut k, key);
        self.entries.push((k, encode(value)?));
        Ok(())
    }

    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeStructVariant for Map<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        ser::SerializeStruct::serialize_field(self, key, value)
    }

    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

type Entry = (Vec<u8>, Vec<u8>);

/// Sorts map entries by key bytes: a heapsort, O(n log n) and a few hundred bytes of wasm
/// (core's sorts cost several KiB). Already sorted input (struct fields declared in canonical
/// order, a `BTreeMap` with text keys of one length) is left as is.
fn sort_entries(v: &mut [Entry]) {
    if v.windows(2).all(|w| w[0].0 <= w[1].0) {
        return;
    }
    fn sift(v: &mut [Entry], mut root: usize, end: usize) {
        loop {
            let mut child = 2 * root + 1;
            if child >= end {
                return;
            }
            if child + 1 < end && v[child].0 < v[child + 1].0 {
                child += 1;
            }
            if v[root].0 >= v[child].0 {
                return;
            }
            v.swap(root, child);
            root = child;
        }
    }
    let n = v.len();
    for i in (0..n / 2).rev() {
        sift(v, i, n);
    }
    for end in (1..n).rev() {
        v.swap(0, end);
        sift(v, 0, end);
    }
}
