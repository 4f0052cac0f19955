//! Replay: rebuild a world from genesis, checking every record and the final state root.

use std::collections::BTreeMap;
use std::path::Path;

use worldline_air::Hash;

use super::sink::{Sink, VerifySink};
use super::stepper::Stepper;
use super::{World, load};
use crate::effects::EffectsState;
use crate::error::{KernelError, Result};
use crate::host::ReducerHost;
use crate::plans::PlansState;
use crate::record::{Record, RecordBody};
use crate::store::Store;

/// What a successful replay found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayReport {
    /// Records checked (the whole journal).
    pub records: u64,
    /// Inputs re-run.
    pub inputs: u64,
    /// The state root both the live world and the replay arrived at.
    pub state_root: Hash,
}

/// Re-runs the inputs from the verify sink's position to `head_seq`; every record the stepper
/// produces must equal the journal's, byte for byte, and every checkpoint must be what the
/// world `did` had signed at its place. Returns the number of inputs re-run.
pub(super) fn run_tail(
    stepper: &mut Stepper,
    verify: &mut VerifySink<'_>,
    head_seq: u64,
    did: &str,
) -> Result<u64> {
    let mut inputs = 0;
    while verify.next_seq() <= head_seq {
        let seq = verify.next_seq();
        let Some(record) = verify.peek()? else {
            return Err(KernelError::Diverged {
                seq,
                reason: "the journal ends early".into(),
            });
        };
        if matches!(record.body, RecordBody::Checkpoint(_)) {
            stepper.accept_checkpoint(record, did, verify)?;
            continue;
        }
        if let RecordBody::GovApplied { manifest_hash, .. } = &record.body {
            let plane = super::governance::load_plane(stepper, verify.store(), manifest_hash)?;
            stepper.stage(plane);
        }
        if !record.is_input() {
            let reason = format!(
                "the journal has a {} record here, but nothing before it produced one",
                record.body.kind()
            );
            return Err(KernelError::Diverged { seq, reason });
        }
        stepper.process(record, verify)?;
        inputs += 1;
    }
    Ok(inputs)
}

/// Rebuilds the world in `dir` from genesis in memory (the world on disk is only read), checks
/// every record hash against the journal and the final state root against the live state.
pub fn replay(dir: &Path) -> Result<ReplayReport> {
    replay_world(&World::open(dir)?)
}

/// [`replay`] of a world already open (the one a running host holds, say): its store is only
/// read, and the rebuilt stepper is thrown away.
pub fn replay_world(world: &World) -> Result<ReplayReport> {
    let live_root = world.states().root();
    let store = &world.store;
    let genesis = Record::decode(
        &store
            .record(0)?
            .ok_or_else(|| KernelError::Corrupt("no genesis record".into()))?,
    )?;
    let RecordBody::Genesis(genesis_body) = &genesis.body else {
        return Err(KernelError::Corrupt("record 0 is not genesis".into()));
    };
    let plane = load::plane_from_store(store, &genesis_body.manifest_hash)?;
    let mut host = ReducerHost::new(&genesis_body.config)?;
    // Artifacts compiled here are not kept: replay writes nothing.
    load::load_modules(&mut host, &plane, store, &BTreeMap::new())?;
    let mut stepper = Stepper::new(plane, host, genesis_body.config)?;
    // A fork starts from its parent's states (named by genesis); any other world from none.
    stepper.restore(
        super::fork::initial_states(store, genesis_body)?,
        EffectsState::default(),
        PlansState::default(),
        0,
        0,
        None,
    );
    let mut verify = VerifySink::new(store, 0, Hash::ZERO);
    let inputs = run_tail(
        &mut stepper,
        &mut verify,
        world.head().seq,
        &genesis_body.did,
    )?;
    let state_root = stepper.states().root();
    if state_root != live_root {
        let reason = format!(
            "the final state root is {state_root} on replay but {live_root} in the live world"
        );
        return Err(KernelError::Diverged {
            seq: world.head().seq,
            reason,
        });
    }
    Ok(ReplayReport {
        records: world.head().seq + 1,
        inputs,
        state_root,
    })
}
