//! Checkpoints as the stepper sees them: made live (the world key signs the current head,
//! state root and manifest) and checked on replay and open (every field must be what the
//! stepper arrives at, and the signature must hold under the world's DID).

use worldline_air::Hash;

use super::Stepper;
use crate::error::{KernelError, Result};
use crate::identity::{self, WorldKey};
use crate::lineage::checkpoint::{CheckpointClaim, claim_of, signature_holds};
use crate::record::{CheckpointBody, Record, RecordBody};
use crate::world::sink::Sink;

impl Stepper {
    /// Height and hash of the last checkpoint, if the world has one.
    pub fn last_checkpoint(&self) -> Option<(u64, Hash)> {
        self.last_checkpoint
    }

    /// What a checkpoint appended next into `sink` must say.
    fn claim_here<'d>(&self, did: &'d str, sink: &dyn Sink) -> CheckpointClaim<'d> {
        CheckpointClaim {
            did,
            height: sink.next_seq().saturating_sub(1),
            head_record_hash: sink.prev_hash(),
            state_root: self.states.root(),
            manifest_hash: self.plane.manifest_hash(),
            prev_checkpoint_hash: self.last_checkpoint.map_or(Hash::ZERO, |(_, hash)| hash),
        }
    }

    /// Signs and appends a checkpoint of the current head; returns its seq.
    pub fn checkpoint(&mut self, key: &WorldKey, sink: &mut dyn Sink) -> Result<u64> {
        let did = key.did();
        let claim = self.claim_here(&did, sink);
        let body = claim.sign(key);
        let seq = sink.append(Record {
            seq: 0,
            causes: vec![claim.height],
            stamp: None,
            body: RecordBody::Checkpoint(body),
        })?;
        self.set_last_checkpoint(Some((claim.height, claim.hash())));
        Ok(seq)
    }

    /// Checks a journaled checkpoint against the head, state and manifest the stepper has
    /// reached and against the world key, then passes it to `sink`.
    pub fn accept_checkpoint(
        &mut self,
        record: Record,
        did: &str,
        sink: &mut dyn Sink,
    ) -> Result<u64> {
        let seq = sink.next_seq();
        let RecordBody::Checkpoint(body) = &record.body else {
            return Err(KernelError::Diverged {
                seq,
                reason: format!("a {} record is not a checkpoint", record.body.kind()),
            });
        };
        let expected = self.claim_here(did, sink);
        if let Some(reason) = checkpoint_mismatch(&expected, body, did)? {
            return Err(KernelError::Diverged { seq, reason });
        }
        let hash = claim_of(did, body).hash();
        let appended = sink.append(record)?;
        self.set_last_checkpoint(Some((expected.height, hash)));
        Ok(appended)
    }

    pub(super) fn set_last_checkpoint(&mut self, checkpoint: Option<(u64, Hash)>) {
        if let Some(undo) = &mut self.undo {
            undo.last_checkpoint.get_or_insert(self.last_checkpoint);
        }
        self.last_checkpoint = checkpoint;
    }
}

/// Why a journaled checkpoint is not the one expected here, if it is not.
fn checkpoint_mismatch(
    expected: &CheckpointClaim<'_>,
    body: &CheckpointBody,
    did: &str,
) -> Result<Option<String>> {
    let fields = [
        ("height", body.height == expected.height),
        (
            "head_record_hash",
            body.head_record_hash == expected.head_record_hash,
        ),
        ("state_root", body.state_root == expected.state_root),
        (
            "manifest_hash",
            body.manifest_hash == expected.manifest_hash,
        ),
        (
            "prev_checkpoint_hash",
            body.prev_checkpoint_hash == expected.prev_checkpoint_hash,
        ),
    ];
    if let Some((field, _)) = fields.iter().find(|(_, holds)| !holds) {
        return Ok(Some(format!(
            "the checkpoint's {field} is not the world's at height {}",
            expected.height
        )));
    }
    let public = identity::public_from_did(did)?;
    if !signature_holds(&public, did, body) {
        return Ok(Some(format!(
            "the checkpoint's signature does not verify under {did}"
        )));
    }
    Ok(None)
}
