//! Open work: admitted intents still waiting for their receipt, and the adapters' registered
//! public keys. Both are part of the world's state (kept in snapshots), because receipt
//! admission depends on them.

use std::collections::BTreeMap;

use worldline_air::Hash;
use worldline_air::cbor::Cbor;

use crate::error::{KernelError, Result};
use crate::record::codec::MapReader;
use crate::record::{EffectIntentBody, Record, RecordBody};

/// Most intents that may wait for a receipt at once; admission refuses more (`open_work_full`).
pub const OPEN_INTENTS_MAX: usize = 65_536;
/// Most adapters that may register a key.
pub const ADAPTERS_MAX: usize = 256;

/// An admitted intent without a receipt yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenIntent {
    /// The seq of its `effect_intent` record.
    pub seq: u64,
    /// The intent.
    pub intent: EffectIntentBody,
}

/// The effect side of a world's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EffectsState {
    open: BTreeMap<Hash, OpenIntent>,
    adapter_keys: BTreeMap<String, [u8; 32]>,
}

impl EffectsState {
    /// The open intent with this hash.
    pub fn open_intent(&self, intent_hash: &Hash) -> Option<&OpenIntent> {
        self.open.get(intent_hash)
    }

    /// Open intents in journal order.
    pub fn open_intents(&self) -> Vec<&OpenIntent> {
        let mut list: Vec<&OpenIntent> = self.open.values().collect();
        list.sort_by_key(|open| open.seq);
        list
    }

    /// How many intents are open.
    pub fn open_count(&self) -> usize {
        self.open.len()
    }

    /// Records an admitted intent as open.
    pub fn insert(&mut self, open: OpenIntent) {
        debug_assert!(self.open.len() < OPEN_INTENTS_MAX);
        self.open.insert(open.intent.intent_hash, open);
    }

    /// Closes an intent (its receipt was accepted).
    pub fn close(&mut self, intent_hash: &Hash) -> Option<OpenIntent> {
        self.open.remove(intent_hash)
    }

    /// An adapter's registered public key.
    pub fn adapter_key(&self, adapter_id: &str) -> Option<&[u8; 32]> {
        self.adapter_keys.get(adapter_id)
    }

    /// Registers (or rotates) an adapter's public key.
    pub fn set_adapter_key(&mut self, adapter_id: &str, public_key: [u8; 32]) {
        self.adapter_keys.insert(adapter_id.to_owned(), public_key);
    }

    /// Puts back an adapter's previous key (`None`: it had none), undoing a registration.
    pub fn restore_adapter_key(&mut self, adapter_id: &str, previous: Option<[u8; 32]>) {
        match previous {
            Some(key) => self.adapter_keys.insert(adapter_id.to_owned(), key),
            None => self.adapter_keys.remove(adapter_id),
        };
    }

    /// How many adapters have a key.
    pub fn adapter_count(&self) -> usize {
        self.adapter_keys.len()
    }

    /// The snapshot entry: `{open: [seq…], adapters: [[id, key]…]}` (open intents by the seq of
    /// their record, which holds the rest).
    pub fn to_snapshot(&self) -> Cbor {
        let mut seqs: Vec<u64> = self.open.values().map(|open| open.seq).collect();
        seqs.sort_unstable();
        let adapters = self
            .adapter_keys
            .iter()
            .map(|(id, key)| Cbor::Array(vec![Cbor::Text(id.clone()), Cbor::Bytes(key.to_vec())]))
            .collect();
        Cbor::Map(vec![
            (
                Cbor::Text("open".into()),
                Cbor::Array(seqs.into_iter().map(Cbor::Unsigned).collect()),
            ),
            (Cbor::Text("adapters".into()), Cbor::Array(adapters)),
        ])
    }

    /// Rebuilds the state from a snapshot entry, reading each open intent's record with
    /// `record`.
    pub fn from_snapshot(
        item: &Cbor,
        record: &mut dyn FnMut(u64) -> Result<Option<Record>>,
    ) -> Result<EffectsState> {
        let corrupt = |what: &str| KernelError::Corrupt(format!("snapshot: effects: {what}"));
        let map = MapReader::new(item, "snapshot effects")?;
        let mut state = EffectsState::default();
        for seq in map.uints("open")? {
            let found =
                record(seq)?.ok_or_else(|| corrupt("an open intent's record is missing"))?;
            let RecordBody::EffectIntent(intent) = found.body else {
                return Err(corrupt(
                    "an open intent's seq is not an effect_intent record",
                ));
            };
            state.insert(OpenIntent { seq, intent });
        }
        let Some(Cbor::Array(adapters)) = map.get("adapters") else {
            return Err(corrupt("`adapters` is not an array"));
        };
        for entry in adapters {
            let Cbor::Array(parts) = entry else {
                return Err(corrupt("an adapter entry is not an array"));
            };
            let [Cbor::Text(id), Cbor::Bytes(key)] = parts.as_slice() else {
                return Err(corrupt("a malformed adapter entry"));
            };
            let key: [u8; 32] = key
                .as_slice()
                .try_into()
                .map_err(|_| corrupt("an adapter key is not 32 bytes"))?;
            state.set_adapter_key(id, key);
        }
        Ok(state)
    }
}
