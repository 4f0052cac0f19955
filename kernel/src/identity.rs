//! A world's identity: an Ed25519 key and its `did:key` (FORMATS.md "DID").
//!
//! The kernel draws no randomness: a new key is made from a 32-byte seed the caller supplies
//! (the CLI takes it from the OS).

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

use crate::error::{KernelError, Result};

/// Multicodec prefix of an Ed25519 public key (0xed01, varint-encoded).
const ED25519_MULTICODEC: [u8; 2] = [0xed, 0x01];
/// Every Ed25519 `did:key` starts with this.
pub const DID_PREFIX: &str = "did:key:z";

/// A world's signing key.
pub struct WorldKey {
    signing: SigningKey,
}

impl WorldKey {
    /// The key whose RFC 8032 secret seed is `seed`.
    pub fn from_seed(seed: [u8; 32]) -> WorldKey {
        WorldKey {
            signing: SigningKey::from_bytes(&seed),
        }
    }

    /// The secret seed (what the key file holds).
    pub fn seed(&self) -> [u8; 32] {
        self.signing.to_bytes()
    }

    /// The public key.
    pub fn public(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    /// The world's DID.
    pub fn did(&self) -> String {
        did_from_public(&self.public())
    }

    /// Signs `tag ‖ message` (the tag separates what is signed: receipts, checkpoints, …).
    pub fn sign(&self, tag: &[u8], message: &[u8]) -> [u8; 64] {
        let mut data = Vec::with_capacity(tag.len() + message.len());
        data.extend_from_slice(tag);
        data.extend_from_slice(message);
        self.signing.sign(&data).to_bytes()
    }
}

impl std::fmt::Debug for WorldKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        write!(f, "WorldKey({})", self.did())
    }
}

/// `did:key:z` + base58btc(0xed 0x01 ‖ public key).
pub fn did_from_public(public: &[u8; 32]) -> String {
    let mut bytes = Vec::with_capacity(34);
    bytes.extend_from_slice(&ED25519_MULTICODEC);
    bytes.extend_from_slice(public);
    format!("{DID_PREFIX}{}", bs58::encode(bytes).into_string())
}

/// The public key inside an Ed25519 `did:key`.
pub fn public_from_did(did: &str) -> Result<[u8; 32]> {
    let bad =
        |why: &str| KernelError::Rejected(format!("`{did}` is not an Ed25519 did:key: {why}"));
    let encoded = did
        .strip_prefix(DID_PREFIX)
        .ok_or_else(|| bad("it must start with did:key:z"))?;
    let bytes = bs58::decode(encoded)
        .into_vec()
        .map_err(|_| bad("not base58btc"))?;
    match bytes.split_first_chunk::<2>() {
        Some((prefix, key)) if *prefix == ED25519_MULTICODEC && key.len() == 32 => {
            key.try_into().map_err(|_| bad("wrong key length"))
        }
        _ => Err(bad("not an Ed25519 multicodec key")),
    }
}

/// Checks an Ed25519 signature over `tag ‖ message`.
pub fn verify(public: &[u8; 32], tag: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(public) else {
        return false;
    };
    let Ok(signature) = <[u8; 64]>::try_from(signature).map(|s| Signature::from_bytes(&s)) else {
        return false;
    };
    let mut data = Vec::with_capacity(tag.len() + message.len());
    data.extend_from_slice(tag);
    data.extend_from_slice(message);
    key.verify(&data, &signature).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8032_test1_did() {
        let seed: [u8; 32] = worldline_air::cbor::from_hex(
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        )
        .unwrap()
        .try_into()
        .unwrap();
        let key = WorldKey::from_seed(seed);
        assert_eq!(
            key.did(),
            "did:key:z6MktwupdmLXVVqTzCw4i46r4uGyosGXRnR3XjN4Zq7oMMsw"
        );
        assert_eq!(public_from_did(&key.did()).unwrap(), key.public());
    }

    #[test]
    fn signatures_verify_and_tags_separate() {
        let key = WorldKey::from_seed([7; 32]);
        let signature = key.sign(b"tag/a", b"message");
        assert!(verify(&key.public(), b"tag/a", b"message", &signature));
        assert!(!verify(&key.public(), b"tag/b", b"message", &signature));
        assert!(!verify(&key.public(), b"tag/a", b"messagf", &signature));
    }

    #[test]
    fn malformed_dids_are_refused() {
        for bad in ["did:key:x", "did:web:z6Mk", "did:key:z0OIl", "did:key:z6Mk"] {
            assert!(public_from_did(bad).is_err(), "{bad}");
        }
    }
}
