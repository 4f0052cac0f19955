//! Journal records (FORMATS.md): what a world remembers, one canonical CBOR map each.
//!
//! `{seq, kind, causes, stamp?, body}`: `stamp` is present exactly on inputs (what entered the
//! world from outside); every other record is derived from the records named in `causes` and is
//! reproduced byte for byte by replay. `record_hash = sha256("worldline/record/v1" ‖
//! prev_record_hash ‖ record bytes)`; seq 0's predecessor is 32 zero bytes.

mod body;
mod body_codec;
pub mod codec;

use worldline_air::Hash;

pub use body::{
    AdmissionBody, CheckpointBody, EffectIntentBody, EventOrigin, GenesisBody, Origin, OriginKind,
    ParentWorld, RECEIPT_ERROR_BYTES_MAX, ReceiptBody, RecordBody,
};
use codec::{MapBuilder, MapReader};

use crate::error::{KernelError, Result};

/// Domain tag of the record hash chain.
pub const RECORD_HASH_TAG: &[u8] = b"worldline/record/v1";

/// Largest encoded record accepted (16 MiB: values are capped at 16 MiB, blobs live in the CAS).
pub const RECORD_BYTES_MAX: usize = 17 << 20;

/// What an input carried in from outside: time, entropy and the manifest in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// Wall-clock time at ingress, nanoseconds since the epoch.
    pub now_ns: u64,
    /// Logical time: never decreases along the journal.
    pub logical_now_ns: u64,
    /// 32 bytes of OS entropy drawn at ingress.
    pub entropy: [u8; 32],
    /// The manifest in force when the input was appended.
    pub manifest_hash: Hash,
}

/// One journal record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Position in the journal, dense from 0.
    pub seq: u64,
    /// The seqs of the records that led to this one (empty for external inputs).
    pub causes: Vec<u64>,
    /// Present on inputs only.
    pub stamp: Option<Stamp>,
    /// What happened.
    pub body: RecordBody,
}

impl Record {
    /// Canonical bytes, self-describe tag included: what is stored and hashed.
    pub fn encode(&self) -> Vec<u8> {
        let mut map = MapBuilder::new();
        map.uint("seq", self.seq);
        map.text("kind", self.body.kind());
        map.uints("causes", &self.causes);
        if let Some(stamp) = &self.stamp {
            let mut s = MapBuilder::new();
            s.uint("now_ns", stamp.now_ns);
            s.uint("logical_now_ns", stamp.logical_now_ns);
            s.bytes("entropy", &stamp.entropy);
            s.hash("manifest_hash", &stamp.manifest_hash);
            map.map("stamp", s);
        }
        map.map("body", self.body.encode());
        map.finish_tagged()
    }

    /// Decodes stored bytes (lenient about form, strict about content).
    pub fn decode(bytes: &[u8]) -> Result<Record> {
        if bytes.len() > RECORD_BYTES_MAX {
            return Err(KernelError::Corrupt(format!(
                "a record of {} bytes",
                bytes.len()
            )));
        }
        let item = codec::decode(bytes, "record")?;
        let map = MapReader::new(&item, "record")?;
        let seq = map.uint("seq")?;
        let stamp = match map.opt_map("stamp")? {
            None => None,
            Some(s) => Some(Stamp {
                now_ns: s.uint("now_ns")?,
                logical_now_ns: s.uint("logical_now_ns")?,
                entropy: s.bytes("entropy")?.try_into().map_err(|_| {
                    KernelError::Corrupt(format!("record {seq}: entropy is not 32 bytes"))
                })?,
                manifest_hash: s.hash("manifest_hash")?,
            }),
        };
        let body = RecordBody::decode(map.text("kind")?, &map.map("body")?)
            .map_err(|e| KernelError::Corrupt(format!("record {seq}: {e}")))?;
        Ok(Record {
            seq,
            causes: map.uints("causes")?,
            stamp,
            body,
        })
    }

    /// True for records that entered from outside (they carry a stamp and are re-fed on replay).
    pub fn is_input(&self) -> bool {
        self.stamp.is_some()
    }
}

/// The next link of the hash chain.
pub fn chain_hash(prev: &Hash, record_bytes: &[u8]) -> Hash {
    Hash::of_parts(&[RECORD_HASH_TAG, prev.as_bytes(), record_bytes])
}
