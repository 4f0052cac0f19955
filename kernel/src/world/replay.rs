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
use crate::record::{GenesisBody, RecordBody};
use crate::store::{RedbStore, Store};

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

/// Journals shorter than this replay on one thread: a second stepper costs a wasm engine and
/// every module loaded, more than it saves on a short journal.
pub const PARALLEL_RECORDS_MIN: u64 = 20_000;

/// Rebuilds the world in `dir` from genesis in memory (the world on disk is only read), checks
/// every record hash against the journal and the final state root against the live state.
pub fn replay(dir: &Path) -> Result<ReplayReport> {
    replay_world(&World::open(dir)?)
}

/// [`replay`] of a world already open (the one a running host holds, say): its store is only
/// read, and the rebuilt steppers are thrown away.
///
/// A journal of [`PARALLEL_RECORDS_MIN`] records or more is replayed in two halves at once,
/// split at the snapshot pointer nearest its middle: the first half from genesis up to and
/// including that pointer record, the second from the snapshot it points to. Nothing is taken
/// on trust: the first half reproduces the pointer record byte for byte, and the record holds
/// the hash of the snapshot object (every state, open intent, plan and the clocks), so the
/// snapshot the second half starts from is exactly the state the first half arrived at.
pub fn replay_world(world: &World) -> Result<ReplayReport> {
    let live_root = world.states().root();
    let head_seq = world.head().seq;
    let store = &world.store;
    let genesis = world.genesis()?;
    let split = if head_seq >= PARALLEL_RECORDS_MIN {
        world.snapshot_pointer_at_or_before(head_seq / 2)?
    } else {
        None
    };
    let (inputs, state_root) = match split {
        None => replay_segment(store, &genesis, None, head_seq)?,
        Some(pointer_seq) => std::thread::scope(|scope| {
            let second =
                scope.spawn(|| replay_segment(store, &genesis, Some(pointer_seq), head_seq));
            let first = replay_segment(store, &genesis, None, pointer_seq);
            let second = second
                .join()
                .unwrap_or_else(|_| Err(KernelError::Storage("a replay thread panicked".into())));
            let (first_inputs, _) = first?;
            let (second_inputs, root) = second?;
            Ok::<_, KernelError>((first_inputs + second_inputs, root))
        })?,
    };
    if state_root != live_root {
        let reason = format!(
            "the final state root is {state_root} on replay but {live_root} in the live world"
        );
        return Err(KernelError::Diverged {
            seq: head_seq,
            reason,
        });
    }
    Ok(ReplayReport {
        records: head_seq + 1,
        inputs,
        state_root,
    })
}

/// Replays the records from genesis (`from_pointer` none) or from the snapshot a pointer
/// record names, through `last_seq`, which must be the last record of an input. Returns the
/// inputs re-run and the state root arrived at.
fn replay_segment(
    store: &RedbStore,
    genesis: &GenesisBody,
    from_pointer: Option<u64>,
    last_seq: u64,
) -> Result<(u64, Hash)> {
    let plane = load::plane_from_store(store, &genesis.manifest_hash)?;
    let mut host = ReducerHost::new(&genesis.config)?;
    // Artifacts compiled here are not kept: replay writes nothing.
    load::load_modules(&mut host, &plane, store, &BTreeMap::new())?;
    let mut stepper = Stepper::new(plane, host, genesis.config)?;
    let (start, prev_hash) = match from_pointer {
        // A fork starts from its parent's states (named by genesis); any other world from none.
        None => {
            stepper.restore(
                super::fork::initial_states(store, genesis)?,
                EffectsState::default(),
                PlansState::default(),
                0,
                0,
                None,
            );
            (0, Hash::ZERO)
        }
        Some(pointer_seq) => {
            stepper.set_did(genesis.did.clone());
            stepper.set_genesis_manifest(genesis.manifest_hash);
            super::restore_from_pointer(store, &mut stepper, pointer_seq)?;
            let prev_hash = store
                .record_hash(pointer_seq)?
                .ok_or_else(|| KernelError::Corrupt(format!("record {pointer_seq} has no hash")))?;
            (pointer_seq + 1, prev_hash)
        }
    };
    let (inputs, next_seq) = VerifySink::run(store, start, prev_hash, |verify| {
        let inputs = run_tail(&mut stepper, verify, last_seq, &genesis.did)?;
        Ok((inputs, verify.next_seq()))
    })?;
    if next_seq != last_seq + 1 {
        return Err(KernelError::Diverged {
            seq: last_seq,
            reason: format!(
                "replay ran on to seq {} past the snapshot pointer",
                next_seq - 1
            ),
        });
    }
    Ok((inputs, stepper.states().root()))
}
