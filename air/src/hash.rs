//! SHA-256 content hashes and their `sha256:<hex>` text form (AIR.md §1).

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// Prefix of the text form of every hash.
pub const HASH_PREFIX: &str = "sha256:";

/// Length of the text form: `sha256:` and 64 lowercase hex digits.
pub const HASH_TEXT_LEN: usize = HASH_PREFIX.len() + 64;

/// A SHA-256 digest. Displays (and parses) as `sha256:<64 lowercase hex>`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hash(pub [u8; 32]);

/// Why a text is not a hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a hash: expected `sha256:` followed by 64 lowercase hex digits")]
pub struct HashParseError {
    /// The offending text (truncated to 80 characters).
    pub text: String,
}

impl Hash {
    /// The all-zero hash, used as `prev_record_hash` of seq 0 and as AgentOS's placeholder.
    pub const ZERO: Hash = Hash([0; 32]);

    /// SHA-256 of `bytes`.
    pub fn of(bytes: &[u8]) -> Hash {
        Hash(Sha256::digest(bytes).into())
    }

    /// SHA-256 over several byte strings, as if concatenated.
    pub fn of_parts(parts: &[&[u8]]) -> Hash {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update(part);
        }
        Hash(hasher.finalize().into())
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex of the digest, without the `sha256:` prefix.
    pub fn to_hex(&self) -> String {
        let mut out = String::with_capacity(64);
        for byte in self.0 {
            out.push(hex_digit(byte >> 4));
            out.push(hex_digit(byte & 0x0f));
        }
        out
    }
}

fn hex_digit(nibble: u8) -> char {
    char::from(if nibble < 10 {
        b'0' + nibble
    } else {
        b'a' + nibble - 10
    })
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        _ => None,
    }
}

impl FromStr for Hash {
    type Err = HashParseError;

    fn from_str(text: &str) -> Result<Hash, HashParseError> {
        let error = || HashParseError {
            text: text.chars().take(80).collect(),
        };
        let hex = text.strip_prefix(HASH_PREFIX).ok_or_else(error)?.as_bytes();
        if hex.len() != 64 {
            return Err(error());
        }
        let mut out = [0u8; 32];
        for (index, pair) in hex.chunks_exact(2).enumerate() {
            let high = hex_value(pair[0]).ok_or_else(error)?;
            let low = hex_value(pair[1]).ok_or_else(error)?;
            out[index] = (high << 4) | low;
        }
        Ok(Hash(out))
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{HASH_PREFIX}{}", self.to_hex())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl serde::Serialize for Hash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Hash {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Hash, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for Hash {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Hash".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^sha256:[0-9a-f]{64}$",
            "description": "SHA-256 content hash in text form."
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips() {
        let hash = Hash::of(b"worldline");
        let text = hash.to_string();
        assert_eq!(text.len(), HASH_TEXT_LEN);
        assert_eq!(text.parse::<Hash>(), Ok(hash));
    }

    #[test]
    fn rejects_uppercase_short_and_unprefixed() {
        let hex = Hash::of(b"x").to_hex();
        assert!(
            format!("sha256:{}", hex.to_uppercase())
                .parse::<Hash>()
                .is_err()
        );
        assert!(format!("sha256:{}", &hex[1..]).parse::<Hash>().is_err());
        assert!(hex.parse::<Hash>().is_err());
        assert!(format!("sha512:{hex}").parse::<Hash>().is_err());
    }

    #[test]
    fn of_parts_equals_of_concatenation() {
        assert_eq!(Hash::of_parts(&[b"ab", b"cd"]), Hash::of(b"abcd"));
    }
}
