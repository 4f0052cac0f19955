//! A world's effect interface for the host: adapter keys, receipts, and the intents ready to
//! dispatch.

use worldline_air::{Hash, Value};

use super::{Ingress, World};
use crate::effects::receipt::{self, Refusal};
use crate::effects::{ADAPTERS_MAX, OpenIntent};
use crate::error::{KernelError, Result};
use crate::record::{ReceiptBody, Record, RecordBody};
use crate::store::Store;

/// Most bytes of CAS objects (blobs, response bodies) one receipt may bring.
pub const RECEIPT_OBJECTS_BYTES_MAX: usize = 64 << 20;

/// An admitted intent to execute, with what its adapter needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatchIntent {
    /// The open intent (its hash is the idempotency key of the execution).
    pub open: OpenIntent,
    /// The params of the grant it was admitted under (normalized), for adapters that re-check
    /// them (the HTTP adapter checks redirect targets against them).
    pub grant_params: Option<Value>,
}

impl World {
    /// Registers an adapter's public key (an input record, before its first receipt). Returns the
    /// record's seq, or `None` if this key is already the adapter's registered one.
    pub fn register_adapter(
        &mut self,
        adapter_id: &str,
        public_key: [u8; 32],
        ingress: Ingress,
    ) -> Result<Option<u64>> {
        let effects = self.stepper.effects();
        match effects.adapter_key(adapter_id) {
            Some(key) if *key == public_key => return Ok(None),
            None if effects.adapter_count() >= ADAPTERS_MAX => {
                return Err(KernelError::Rejected(format!(
                    "adapter `{adapter_id}`: this world already has {ADAPTERS_MAX} adapters"
                )));
            }
            _ => {}
        }
        if adapter_id.is_empty() || adapter_id.len() > 64 || !adapter_id.is_ascii() {
            return Err(KernelError::Rejected(format!(
                "adapter id `{adapter_id}` must be 1 to 64 ASCII characters"
            )));
        }
        let body = RecordBody::AdapterKey {
            adapter_id: adapter_id.to_owned(),
            public_key,
        };
        let appended = self.append_inputs(vec![(body, Vec::new(), ingress)], Vec::new(), true)?;
        Ok(appended.first().and_then(|seqs| seqs.first()).copied())
    }

    /// Checks a signed receipt and, if it is acceptable, journals it (caused by its intent),
    /// stores `objects` (blobs it refers to) in the CAS with it, and runs what it causes, all in
    /// one durable commit. A refused receipt changes nothing: [`KernelError::ReceiptRefused`].
    pub fn submit_receipt(
        &mut self,
        receipt: ReceiptBody,
        objects: Vec<Vec<u8>>,
        ingress: Ingress,
    ) -> Result<Vec<u64>> {
        let objects_bytes: usize = objects.iter().map(Vec::len).sum();
        if objects_bytes > RECEIPT_OBJECTS_BYTES_MAX {
            return Err(KernelError::Rejected(format!(
                "a receipt may bring at most {RECEIPT_OBJECTS_BYTES_MAX} bytes of objects; this one brings {objects_bytes}"
            )));
        }
        let intent_hash = receipt.intent_hash;
        let checked = match receipt::check(self.plane(), self.stepper.effects(), receipt) {
            Ok(checked) => checked,
            Err(refusal) if refusal.code == "intent_unknown" => {
                return Err(self.unknown_or_duplicate(&intent_hash, refusal)?.into());
            }
            Err(refusal) => return Err(refusal.into()),
        };
        let intent_seq = self
            .stepper
            .effects()
            .open_intent(&intent_hash)
            .map(|open| open.seq)
            .ok_or_else(|| {
                KernelError::Corrupt(format!("intent {intent_hash} closed mid-check"))
            })?;
        let body = RecordBody::Receipt(checked);
        let mut appended =
            self.append_inputs(vec![(body, vec![intent_seq], ingress)], objects, true)?;
        Ok(appended.pop().unwrap_or_default())
    }

    /// Tells a receipt for an intent that was already answered from one for an intent that was
    /// never admitted.
    fn unknown_or_duplicate(&self, intent_hash: &Hash, refusal: Refusal) -> Result<Refusal> {
        for seq in self.store.intent_records(intent_hash)? {
            let Some(bytes) = self.store.record(seq)? else {
                continue;
            };
            if let RecordBody::Receipt(_) = Record::decode(&bytes)?.body {
                return Ok(Refusal {
                    code: "receipt_duplicate",
                    reason: format!("intent {intent_hash} already has its receipt (record {seq})"),
                });
            }
        }
        Ok(refusal)
    }

    /// The admitted intents that may now leave the process (their batch is durable), each once;
    /// after an open, every intent still waiting for its receipt.
    pub fn take_dispatch(&mut self) -> Vec<DispatchIntent> {
        let ready = std::mem::take(&mut self.dispatch_ready);
        ready
            .into_iter()
            .filter_map(|hash| self.stepper.effects().open_intent(&hash).cloned())
            .map(|open| DispatchIntent {
                grant_params: self.plane().grant_params(&open.intent.cap).cloned(),
                open,
            })
            .collect()
    }

    /// Intents admitted and still waiting for their receipt, in journal order.
    pub fn open_intents(&self) -> Vec<OpenIntent> {
        self.stepper
            .effects()
            .open_intents()
            .into_iter()
            .cloned()
            .collect()
    }

    /// A CAS object (a blob, a response body) by its hash.
    pub fn object(&self, hash: &Hash) -> Result<Option<Vec<u8>>> {
        self.store.cas_get(hash)
    }

    /// An adapter's registered public key.
    pub fn adapter_key(&self, adapter_id: &str) -> Option<[u8; 32]> {
        self.stepper.effects().adapter_key(adapter_id).copied()
    }
}
