//! The three grammars of AIR identifiers (AIR.md §1), as validated newtypes.
//!
//! - [`Name`]: a definition's name, `namespace/name@N`.
//! - [`Ident`]: step ids, variable names, grant names and cap slots.
//! - [`KindName`]: effect kinds and capability types, lowercase dotted (`http.request`).

use std::fmt;

/// Longest accepted definition name, in bytes. Names are keys everywhere; keep them short.
pub const NAME_LEN_MAX: usize = 256;

/// Longest accepted effect kind or capability type, in bytes.
pub const KIND_LEN_MAX: usize = 128;

/// Longest accepted identifier (step id, variable, grant, slot): 1 + 63 characters.
pub const IDENT_LEN_MAX: usize = 64;

/// A grammar violation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a valid {what}: {rule}")]
pub struct NameError {
    /// The offending text (truncated).
    pub text: String,
    /// What was expected ("name", "identifier", "effect kind").
    pub what: &'static str,
    /// The rule it breaks.
    pub rule: &'static str,
}

impl NameError {
    fn new(text: &str, what: &'static str, rule: &'static str) -> NameError {
        NameError {
            text: text.chars().take(80).collect(),
            what,
            rule,
        }
    }
}

macro_rules! string_newtype {
    ($(#[$meta:meta])* $ty:ident, $validate:path, $schema_name:literal, $pattern:literal) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $ty(String);

        impl $ty {
            /// Validates `text` against the grammar.
            pub fn parse(text: &str) -> Result<$ty, NameError> {
                $validate(text)?;
                Ok($ty(text.to_owned()))
            }

            /// The text form.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:?}", self.0)
            }
        }

        impl std::str::FromStr for $ty {
            type Err = NameError;
            fn from_str(text: &str) -> Result<$ty, NameError> {
                $ty::parse(text)
            }
        }

        impl std::borrow::Borrow<str> for $ty {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                $ty::parse(&text).map_err(serde::de::Error::custom)
            }
        }

        impl schemars::JsonSchema for $ty {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                $schema_name.into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({ "type": "string", "pattern": $pattern })
            }
        }
    };
}

string_newtype!(
    /// A definition name `namespace/name@N`, e.g. `demo/CounterState@1`.
    Name,
    validate_name,
    "Name",
    "^[a-z][a-z0-9._-]*/[A-Za-z][A-Za-z0-9._-]*@([1-9][0-9]*)$"
);

string_newtype!(
    /// A step id, variable name, grant name or cap slot, e.g. `emit_http`.
    Ident,
    validate_ident,
    "Ident",
    "^[A-Za-z_][A-Za-z0-9_.-]{0,63}$"
);

string_newtype!(
    /// An effect kind or capability type, lowercase dotted, e.g. `http.request`.
    KindName,
    validate_kind,
    "KindName",
    "^[a-z][a-z0-9_.-]*(\\.[a-z0-9_.-]+)*$"
);

impl Name {
    /// The namespace, before the `/`.
    pub fn namespace(&self) -> &str {
        self.0.split_once('/').map_or("", |(ns, _)| ns)
    }

    /// True for the built-in namespace `sys/`, which worlds may use but never define.
    pub fn is_sys(&self) -> bool {
        self.namespace() == "sys"
    }
}

fn is_name_tail(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-')
}

fn validate_name(text: &str) -> Result<(), NameError> {
    const WHAT: &str = "name";
    if text.len() > NAME_LEN_MAX {
        return Err(NameError::new(text, WHAT, "longer than 256 bytes"));
    }
    let shape = "expected `namespace/Name@N` (namespace lowercase, N a positive integer)";
    let (namespace, rest) = text
        .split_once('/')
        .ok_or_else(|| NameError::new(text, WHAT, shape))?;
    let (local, version) = rest
        .rsplit_once('@')
        .ok_or_else(|| NameError::new(text, WHAT, shape))?;
    let ns = namespace.as_bytes();
    let ns_ok = ns.first().is_some_and(u8::is_ascii_lowercase)
        && ns.iter().all(|&b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        });
    let local_bytes = local.as_bytes();
    let local_ok = local_bytes.first().is_some_and(u8::is_ascii_alphabetic)
        && local_bytes.iter().all(|&b| is_name_tail(b));
    let version_ok = version
        .as_bytes()
        .first()
        .is_some_and(|b| (b'1'..=b'9').contains(b))
        && version.bytes().all(|b| b.is_ascii_digit())
        && version.len() <= 9;
    if ns_ok && local_ok && version_ok {
        Ok(())
    } else {
        Err(NameError::new(text, WHAT, shape))
    }
}

fn validate_ident(text: &str) -> Result<(), NameError> {
    let bytes = text.as_bytes();
    let ok = bytes
        .first()
        .is_some_and(|&b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.len() <= IDENT_LEN_MAX
        && bytes.iter().all(|&b| is_name_tail(b));
    if ok {
        Ok(())
    } else {
        Err(NameError::new(
            text,
            "identifier",
            "expected a letter or `_`, then up to 63 of [A-Za-z0-9_.-]",
        ))
    }
}

fn validate_kind(text: &str) -> Result<(), NameError> {
    let bytes = text.as_bytes();
    let ok = bytes.first().is_some_and(u8::is_ascii_lowercase)
        && bytes.len() <= KIND_LEN_MAX
        && bytes.iter().all(|&b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
        && !text.ends_with('.')
        && !text.contains("..");
    if ok {
        Ok(())
    } else {
        Err(NameError::new(
            text,
            "effect kind or cap type",
            "expected lowercase dotted words like `http.request`",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for good in [
            "demo/CounterSM@1",
            "sys/http.request@1",
            "com.acme-x/a_b.c-d@42",
        ] {
            assert!(Name::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "Demo/X@1",
            "demo/X",
            "demo/X@0",
            "demo/X@01",
            "demo/1X@1",
            "/X@1",
            "demo/X@1a",
            "demo/X@1@2",
            "demo//X@1",
            "",
        ] {
            assert!(Name::parse(bad).is_err(), "{bad}");
        }
        assert!(Name::parse("sys/TimerFired@1").is_ok_and(|n| n.is_sys()));
        assert!(Name::parse("sysx/TimerFired@1").is_ok_and(|n| !n.is_sys()));
    }

    #[test]
    fn idents_and_kinds() {
        assert!(Ident::parse("_a.b-c9").is_ok());
        assert!(Ident::parse(&"a".repeat(64)).is_ok());
        assert!(Ident::parse(&"a".repeat(65)).is_err());
        assert!(Ident::parse("9a").is_err());
        assert!(KindName::parse("http.request").is_ok());
        assert!(KindName::parse("Http.request").is_err());
        assert!(KindName::parse("http.").is_err());
    }
}
