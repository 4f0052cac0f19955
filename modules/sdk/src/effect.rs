//! Micro-effects: the effect intents a reducer may emit (AIR v1: at most one per step).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::envelope::EffectEntry;
use crate::{Bytes, ReduceError, to_cbor};

/// `sys/TimerSetParams@1`: the params of `timer.set`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerSetParams {
    /// When to deliver `sys/TimerFired@1`, in logical ns.
    pub deliver_at_ns: u64,
    /// An optional key to tell timers apart when they fire.
    pub key: Option<String>,
}

/// `sys/BlobPutParams@1`: the params of `blob.put`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobPutParams {
    /// The blob's reference, a hash text `sha256:<hex>`.
    pub blob_ref: String,
    /// The blob's content.
    pub bytes: Bytes,
}

/// `sys/BlobGetParams@1`: the params of `blob.get`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobGetParams {
    /// The blob's reference, a hash text `sha256:<hex>`.
    pub blob_ref: String,
}

/// One effect intent: a kind, its params and the cap slot it goes through.
///
/// The effect must be listed in the module's `effects_emitted` and its slot bound in the
/// manifest's `module_bindings`; the host checks the params against the effect's
/// `params_schema`. Its receipt comes back later as an event (`sys/TimerFired@1`, …) wrapped
/// in the reducer's own event variant.
#[derive(Clone, Debug)]
pub struct Effect {
    kind: String,
    params_cbor: Result<Vec<u8>, ReduceError>,
    cap_slot: Option<String>,
    idempotency_key: Option<[u8; 32]>,
}

impl Effect {
    /// An effect of any kind with typed params (an encoding error surfaces when the step's
    /// output is written, as a step failure).
    pub fn new<P: Serialize + ?Sized>(kind: &str, params: &P) -> Self {
        Effect {
            kind: kind.to_owned(),
            params_cbor: to_cbor(params),
            cap_slot: None,
            idempotency_key: None,
        }
    }

    /// An effect whose params are already CBOR (the host normalizes them against the effect's
    /// `params_schema`, or denies the intent with `params_invalid`).
    pub fn from_cbor(kind: &str, params_cbor: Vec<u8>) -> Self {
        Effect {
            kind: kind.to_owned(),
            params_cbor: Ok(params_cbor),
            cap_slot: None,
            idempotency_key: None,
        }
    }

    /// Sends the effect through the module cap slot `slot`.
    pub fn cap_slot(mut self, slot: &str) -> Self {
        self.cap_slot = Some(slot.to_owned());
        self
    }

    /// Sets the intent's idempotency key (the host defaults it to 32 zero bytes).
    pub fn idempotency_key(mut self, key: [u8; 32]) -> Self {
        self.idempotency_key = Some(key);
        self
    }

    /// `timer.set` through `cap_slot`: deliver `sys/TimerFired@1` at `deliver_at_ns`.
    pub fn timer_set(cap_slot: &str, deliver_at_ns: u64, key: Option<&str>) -> Self {
        let params = TimerSetParams {
            deliver_at_ns,
            key: key.map(str::to_owned),
        };
        Effect::new("timer.set", &params).cap_slot(cap_slot)
    }

    /// `blob.put` through `cap_slot`: store `bytes` under `blob_ref` (`sha256:<hex>`).
    pub fn blob_put(cap_slot: &str, blob_ref: &str, bytes: impl Into<Vec<u8>>) -> Self {
        let params = BlobPutParams {
            blob_ref: blob_ref.to_owned(),
            bytes: Bytes(bytes.into()),
        };
        Effect::new("blob.put", &params).cap_slot(cap_slot)
    }

    /// `blob.get` through `cap_slot`: fetch the blob `blob_ref` (`sha256:<hex>`).
    pub fn blob_get(cap_slot: &str, blob_ref: &str) -> Self {
        Effect::new(
            "blob.get",
            &BlobGetParams {
                blob_ref: blob_ref.to_owned(),
            },
        )
        .cap_slot(cap_slot)
    }

    /// The effect's kind.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The raw envelope entry `{kind, params_cbor, cap_slot?, idempotency_key?}`.
    pub fn to_entry(&self) -> Result<EffectEntry, ReduceError> {
        let params_cbor = self.params_cbor.clone().map_err(|e| {
            ReduceError::new(format!("effect {}: params: {}", self.kind, e.message()))
        })?;
        Ok(EffectEntry {
            kind: self.kind.clone(),
            params_cbor,
            cap_slot: self.cap_slot.clone(),
            idempotency_key: self.idempotency_key.map(|k| k.to_vec()),
        })
    }
}

/// The reference of a blob: `sha256:<hex>` of its bytes (what `blob.put` expects as `blob_ref`).
pub fn blob_ref(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(71);
    text.push_str("sha256:");
    for byte in Sha256::digest(bytes) {
        text.push(char::from(HEX[usize::from(byte >> 4)]));
        text.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn blob_ref_is_the_sha256_text_form() {
        assert_eq!(
            super::blob_ref(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
