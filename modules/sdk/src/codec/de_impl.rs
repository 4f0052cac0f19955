//! A serde `Deserializer` over `minicbor`'s decoder, for the typed values of
//! `spec/encoding.md`.
//!
//! Lenient about form (definite or indefinite lengths, any map order, longer-than-needed
//! heads), strict about content: floats, `undefined`, simple values and
//! other tags are errors, as they never occur in a typed value. Integers reach visitors as
//! `u64` (unsigned) or `i64` (negative).

use minicbor::Decoder;
use minicbor::data::Type;
use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

use super::{Error, describe_cbor_error};

/// Deeper nesting than this is an error (the host's own limit is 128).
const MAX_DEPTH: u32 = 256;

pub(super) struct Deserializer<'b> {
    pub(super) d: Decoder<'b>,
    depth: u32,
}

/// Maps a decoder error to "expected …" (minicbor's own Display is kept out of the binary).
fn cbor(expected: &'static str) -> impl FnOnce(minicbor::decode::Error) -> Error {
    move |e| Error::new(describe_cbor_error(&e, expected))
}

fn unexpected(t: Type) -> Error {
    Error::new(match t {
        Type::F16 | Type::F32 | Type::F64 => "unexpected float (typed values have none)",
        Type::Tag => "unexpected CBOR tag (typed values have none)",
        Type::Undefined => "unexpected `undefined`",
        Type::Simple => "unexpected simple value",
        Type::Break => "unexpected break",
        _ => "invalid CBOR",
    })
}

/// A string or byte string: borrowed from the input, or assembled from chunks.
enum Text<'b, B: ?Sized, O> {
    Borrowed(&'b B),
    Owned(O),
}

impl<'b> Deserializer<'b> {
    pub(super) fn new(bytes: &'b [u8]) -> Self {
        Deserializer {
            d: Decoder::new(bytes),
            depth: 0,
        }
    }

    fn datatype(&self) -> Result<Type, Error> {
        self.d.datatype().map_err(cbor("a value"))
    }

    /// Steps over the break byte of an indefinite container if it is next.
    fn at_break(&mut self) -> Result<bool, Error> {
        if self.d.datatype().map_err(cbor("a value"))? == Type::Break {
            self.d.set_position(self.d.position() + 1);
            return Ok(true);
        }
        Ok(false)
    }

    /// A text string, borrowed unless it is chunked (indefinite).
    fn text(&mut self) -> Result<Text<'b, str, String>, Error> {
        if self.datatype()? == Type::StringIndef {
            let mut buf = String::new();
            for chunk in self.d.str_iter().map_err(cbor("text"))? {
                buf.push_str(chunk.map_err(cbor("text"))?);
            }
            return Ok(Text::Owned(buf));
        }
        Ok(Text::Borrowed(self.d.str().map_err(cbor("text"))?))
    }

    /// A byte string, borrowed unless it is chunked (indefinite).
    fn bytes(&mut self) -> Result<Text<'b, [u8], Vec<u8>>, Error> {
        if self.datatype()? == Type::BytesIndef {
            let mut buf = Vec::new();
            for chunk in self.d.bytes_iter().map_err(cbor("a byte string"))? {
                buf.extend_from_slice(chunk.map_err(cbor("a byte string"))?);
            }
            return Ok(Text::Owned(buf));
        }
        Ok(Text::Borrowed(
            self.d.bytes().map_err(cbor("a byte string"))?,
        ))
    }

    fn enter(&mut self) -> Result<(), Error> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Error::new(format!(
                "nesting deeper than {MAX_DEPTH} levels"
            )));
        }
        Ok(())
    }
}

impl<'de> de::Deserializer<'de> for &mut Deserializer<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.datatype()? {
            Type::Bool => self.deserialize_bool(visitor),
            Type::U8 | Type::U16 | Type::U32 | Type::U64 => self.deserialize_u64(visitor),
            Type::I8 | Type::I16 | Type::I32 | Type::I64 | Type::Int => {
                self.deserialize_i64(visitor)
            }
            Type::Bytes | Type::BytesIndef => self.deserialize_bytes(visitor),
            Type::String | Type::StringIndef => self.deserialize_str(visitor),
            Type::Null => self.deserialize_unit(visitor),
            Type::Array | Type::ArrayIndef => self.deserialize_seq(visitor),
            Type::Map | Type::MapIndef => self.deserialize_map(visitor),
            t => Err(unexpected(t)),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_bool(self.d.bool().map_err(cbor("a bool"))?)
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_u64(self.d.u64().map_err(cbor("a nat"))?)
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_i64(self.d.i64().map_err(cbor("an int"))?)
    }

    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_i8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_i64(visitor)
    }

    fn deserialize_i16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_i64(visitor)
    }

    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_i64(visitor)
    }

    fn deserialize_i128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_i64(visitor)
    }

    fn deserialize_f32<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Error> {
        Err(unexpected(Type::F32))
    }

    fn deserialize_f64<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Error> {
        Err(unexpected(Type::F64))
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.text()? {
            Text::Borrowed(s) => visitor.visit_borrowed_str(s),
            Text::Owned(s) => visitor.visit_string(s),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.bytes()? {
            Text::Borrowed(b) => visitor.visit_borrowed_bytes(b),
            Text::Owned(b) => visitor.visit_byte_buf(b),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.enter()?;
        let len = self.d.array().map_err(cbor("an array"))?;
        let value = visitor.visit_seq(Items {
            de: &mut *self,
            len,
            read: 0,
        })?;
        self.depth -= 1;
        Ok(value)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.enter()?;
        let len = self.d.map().map_err(cbor("a map"))?;
        let value = visitor.visit_map(Items {
            de: &mut *self,
            len,
            read: 0,
        })?;
        self.depth -= 1;
        Ok(value)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_map(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.datatype()? == Type::Null {
            self.d.null().map_err(cbor("null"))?;
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.datatype()? != Type::Null {
            return Err(Error::new("expected null (a unit value)"));
        }
        self.d.null().map_err(cbor("null"))?;
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        // Externally tagged enums (serde's default): "Arm" or {"Arm": value}. Variant types of
        // the typed-value model use `#[serde(tag = "$tag", content = "$value")]` instead, which
        // serde reads as a map.
        match self.datatype()? {
            Type::String | Type::StringIndef => {
                let arm: String = de::Deserialize::deserialize(&mut *self)?;
                visitor.visit_enum(arm.into_deserializer())
            }
            Type::Map | Type::MapIndef => {
                self.enter()?;
                let len = self.d.map().map_err(cbor("a map"))?;
                if len.is_some_and(|n| n != 1) {
                    return Err(Error::new("an enum map must have exactly one entry"));
                }
                let value = visitor.visit_enum(Arm { de: &mut *self })?;
                if len.is_none() && !self.at_break()? {
                    return Err(Error::new("an enum map must have exactly one entry"));
                }
                self.depth -= 1;
                Ok(value)
            }
            _ => Err(Error::new("expected an enum (a text or a one-entry map)")),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.d.skip().map_err(cbor("a value"))?;
        visitor.visit_unit()
    }

    fn is_human_readable(&self) -> bool {
        false
    }
}

/// The elements of an array or the entries of a map.
struct Items<'a, 'b> {
    de: &'a mut Deserializer<'b>,
    len: Option<u64>,
    read: u64,
}

impl Items<'_, '_> {
    fn more(&mut self) -> Result<bool, Error> {
        let more = match self.len {
            Some(n) => self.read < n,
            None => !self.de.at_break()?,
        };
        self.read += 1;
        Ok(more)
    }
}

impl<'de> de::SeqAccess<'de> for Items<'_, 'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        if !self.more()? {
            return Ok(None);
        }
        seed.deserialize(&mut *self.de).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        self.len
            .and_then(|n| usize::try_from(n.saturating_sub(self.read)).ok())
    }
}

impl<'de> de::MapAccess<'de> for Items<'_, 'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        if !self.more()? {
            return Ok(None);
        }
        seed.deserialize(&mut *self.de).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        seed.deserialize(&mut *self.de)
    }

    fn size_hint(&self) -> Option<usize> {
        self.len
            .and_then(|n| usize::try_from(n.saturating_sub(self.read)).ok())
    }
}

/// The `{"Arm": value}` form of an externally tagged enum.
struct Arm<'a, 'b> {
    de: &'a mut Deserializer<'b>,
}

impl<'a, 'de> de::EnumAccess<'de> for Arm<'a, 'de> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), Error> {
        let arm = seed.deserialize(&mut *self.de)?;
        Ok((arm, self))
    }
}

impl<'de> de::VariantAccess<'de> for Arm<'_, 'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        de::Deserialize::deserialize(&mut *self.de)
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(&mut *self.de)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_any(&mut *self.de, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_any(&mut *self.de, visitor)
    }
}
