//! Catch-up: a `gap` input (the world was down from `from_ns` to `to_ns`) raises one
//! `sys/WorldResumed@1` event, routed to reducers and plans like any other event, so they can
//! reconstruct what they missed. Everything in it comes from the journal, so replay reproduces it.

use std::collections::VecDeque;

use worldline_air::{Name, Value};

use super::Stepper;
use crate::error::{KernelError, Result};
use crate::record::{EventOrigin, RecordBody, Stamp};
use crate::world::sink::Sink;

/// The schema of the event a `gap` raises (`air/catalog/resume.air.json`).
pub const WORLD_RESUMED: &str = "sys/WorldResumed@1";

impl Stepper {
    /// Tells the stepper the world's DID when it starts after genesis (from a snapshot or the
    /// journal's tail), where it does not process the genesis record itself.
    pub fn set_did(&mut self, did: String) {
        self.did = did;
    }

    /// Tells the stepper the genesis manifest when it starts after genesis (snapshots name the
    /// manifest in force only when it is another one).
    pub fn set_genesis_manifest(&mut self, manifest: worldline_air::Hash) {
        self.genesis_manifest = manifest;
    }

    /// The genesis manifest.
    pub fn genesis_manifest(&self) -> worldline_air::Hash {
        self.genesis_manifest
    }

    /// Restores the proposals (from a snapshot).
    pub fn set_governance(&mut self, gov: crate::governance::GovState) {
        self.gov = gov;
    }

    /// Appends `sys/WorldResumed@1` for the `gap` at `gap_seq` (caused by it, origin `kernel`)
    /// and delivers it to the reducers and plans it is routed to.
    pub(super) fn resumed(
        &mut self,
        gap_seq: u64,
        (from_ns, to_ns): (u64, u64),
        stamp: &Stamp,
        sink: &mut dyn Sink,
        appended: &mut Vec<u64>,
    ) -> Result<()> {
        let schema = Name::parse(WORLD_RESUMED)
            .map_err(|e| KernelError::Corrupt(format!("{WORLD_RESUMED}: {e}")))?;
        let last_checkpoint = match self.last_checkpoint() {
            None => Value::Null,
            Some((height, hash)) => {
                Value::record([("height", Value::Nat(height)), ("hash", Value::Hash(hash))])
            }
        };
        let value = Value::record([
            ("from_ns", Value::Nat(from_ns)),
            ("to_ns", Value::Nat(to_ns)),
            ("gap_ns", Value::Nat(to_ns.saturating_sub(from_ns))),
            ("did", Value::Text(self.did.clone())),
            // The journal's height when the world stopped: the last seq before the gap.
            ("journal_height", Value::Nat(gap_seq.saturating_sub(1))),
            ("last_checkpoint", last_checkpoint),
        ])
        .to_cbor_body();
        let body = RecordBody::DomainEvent {
            schema: schema.clone(),
            value: value.clone(),
            origin: EventOrigin::Kernel,
        };
        let seq = super::append_derived(sink, appended, gap_seq, body)?;
        self.run_queue(
            VecDeque::from([(seq, schema, value)]),
            stamp,
            sink,
            appended,
        )
    }
}
