//! Forks: a new world, with its own key and DID, whose genesis names its parent (DID, height,
//! head hash) and the snapshot of the parent's states at that height, which it starts from.
//!
//! The parent's history is referenced, not copied: a fork stores the control plane, the module
//! binaries and the states, so it costs the same at any journal length. Open work does not
//! cross: the parent's open intents and live plan instances are the parent's (a fork that sent
//! them again would act twice in the world outside); the report counts what was left behind.

use std::collections::BTreeMap;
use std::path::Path;

use worldline_air::Hash;

use super::create::ForkStart;
use super::sink::{Sink, VerifySink};
use super::state::StateMap;
use super::stepper::Stepper;
use super::{CreateOptions, META_SNAPSHOT, World, load, meta_u64, replay};
use crate::effects::EffectsState;
use crate::error::{KernelError, Result};
use crate::host::ReducerHost;
use crate::plans::PlansState;
use crate::record::{GenesisBody, ParentWorld, Record, RecordBody};
use crate::store::Store;

/// Records read per page when looking back for a snapshot.
const LOOKBACK_PAGE_ITEMS: usize = 1024;

/// What a fork left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForkReport {
    /// The parent, as the fork's genesis names it.
    pub parent: ParentWorld,
    /// Reducer and cell states carried over.
    pub states: usize,
    /// The parent's open intents at the fork, not carried over.
    pub open_intents_left: usize,
    /// The parent's live plan instances at the fork, not carried over.
    pub plan_instances_left: usize,
}

/// The states a world starts from: none, or for a fork its parent's at the fork.
pub(super) fn initial_states(store: &dyn Store, genesis: &GenesisBody) -> Result<StateMap> {
    let Some(parent) = &genesis.parent else {
        return Ok(StateMap::default());
    };
    let object = store.cas_get(&parent.state_hash)?.ok_or_else(|| {
        KernelError::Corrupt(format!(
            "the fork's starting state {} is missing",
            parent.state_hash
        ))
    })?;
    if Hash::of(&object) != parent.state_hash {
        return Err(KernelError::Corrupt(format!(
            "the fork's starting state {} does not match its hash",
            parent.state_hash
        )));
    }
    Ok(StateMap::from_snapshot(&object, &mut |h| store.cas_get(h))?.states)
}

impl World {
    /// Forks this world at `at` (default: the head) into `new_dir`.
    ///
    /// `at` must end an input's records (the next record is an input, or `at` is the head).
    pub fn fork(
        &self,
        new_dir: &Path,
        at: Option<u64>,
        options: &CreateOptions,
    ) -> Result<(World, ForkReport)> {
        let height = at.unwrap_or(self.head.seq);
        if height > self.head.seq {
            return Err(KernelError::Rejected(format!(
                "--at {height}: the journal ends at seq {}",
                self.head.seq
            )));
        }
        // The fork starts under the manifest in force at `height` (a proposal applied later
        // is not the parent's history at the fork).
        let at_height;
        let stepper = if height == self.head.seq {
            &self.stepper
        } else {
            at_height = self.stepper_at(height)?;
            &at_height
        };
        let states = stepper.states().clone();
        let logical_now_ns = stepper.logical_now_ns();
        let open_intents_left = stepper.effects().open_intents().len();
        let plan_instances_left = stepper.plans().len();
        let plane = stepper.plane().clone();
        let head_hash = self
            .store
            .record_hash(height)?
            .ok_or_else(|| KernelError::Corrupt(format!("record {height} has no hash")))?;
        let empty_effects = EffectsState::default().to_snapshot();
        let (snapshot, blobs) = states.snapshot(
            height,
            logical_now_ns,
            &empty_effects,
            &super::state::SnapshotExtras::default(),
            |_| true,
        );
        let state_hash = Hash::of(&snapshot);
        let mut objects = blobs;
        objects.push((state_hash, snapshot));
        let parent = ParentWorld {
            did: self.did.clone(),
            height,
            head_hash,
            state_hash,
        };
        let report = ForkReport {
            parent: parent.clone(),
            states: states.len(),
            open_intents_left,
            plan_instances_left,
        };
        let mut binaries = BTreeMap::new();
        for (_, wasm_hash, _) in load::wasm_modules(&plane)? {
            let wasm = self.store.cas_get(&wasm_hash)?.ok_or_else(|| {
                KernelError::Corrupt(format!("module binary {wasm_hash} is missing"))
            })?;
            binaries.insert(wasm_hash, wasm);
        }
        let start = ForkStart {
            parent,
            states,
            logical_now_ns,
            objects,
        };
        let config = CreateOptions {
            config: *self.stepper.config(),
            ..options.clone()
        };
        let world = World::create_from(new_dir, plane, binaries, &config, Some(start))?;
        Ok((world, report))
    }

    /// A stepper holding this world's state at `height`: from the newest snapshot at or before
    /// it, re-running (and checking) the inputs after it.
    pub(super) fn stepper_at(&self, height: u64) -> Result<Stepper> {
        let genesis = self.genesis()?;
        let plane = self.plane().clone();
        let mut host = ReducerHost::new(&genesis.config)?;
        load::load_modules(&mut host, &plane, &self.store, &BTreeMap::new())?;
        let mut stepper = Stepper::new(plane, host, genesis.config)?;
        stepper.set_did(genesis.did.clone());
        stepper.set_genesis_manifest(genesis.manifest_hash);
        let start = match self.snapshot_pointer_at_or_before(height)? {
            Some(pointer_seq) => {
                super::restore_from_pointer(&self.store, &mut stepper, pointer_seq)?;
                pointer_seq + 1
            }
            None => {
                let states = initial_states(&self.store, &genesis)?;
                stepper.restore(
                    states,
                    EffectsState::default(),
                    PlansState::default(),
                    0,
                    0,
                    None,
                );
                super::governance::begin_under(&mut stepper, &self.store, &genesis.manifest_hash)?;
                0
            }
        };
        let prev = match start {
            0 => Hash::ZERO,
            _ => self
                .store
                .record_hash(start - 1)?
                .ok_or_else(|| KernelError::Corrupt(format!("record {} has no hash", start - 1)))?,
        };
        let next_seq = VerifySink::run(&self.store, start, prev, |verify| {
            replay::run_tail(&mut stepper, verify, height, &genesis.did)?;
            Ok(verify.next_seq())
        })?;
        if next_seq != height + 1 {
            return Err(KernelError::Rejected(format!(
                "--at {height} is inside the records one input caused; fork at {} instead",
                next_seq - 1
            )));
        }
        Ok(stepper)
    }

    /// The seq of the newest snapshot pointer at or before `height`, looking back a page at a
    /// time (pointers come every `snapshot_every` records, so the look stays bounded).
    pub(super) fn snapshot_pointer_at_or_before(&self, height: u64) -> Result<Option<u64>> {
        if let Some(latest) = meta_u64(&self.store, META_SNAPSHOT)?
            && latest <= height
        {
            return Ok(Some(latest));
        }
        let mut end = height + 1;
        while end > 0 {
            let from = end.saturating_sub(LOOKBACK_PAGE_ITEMS as u64);
            let page = self.store.records(from, (end - from) as usize)?;
            for (seq, bytes, _) in page.iter().rev() {
                if let RecordBody::SnapshotPointer { .. } = Record::decode(bytes)?.body {
                    return Ok(Some(*seq));
                }
            }
            end = from;
        }
        Ok(None)
    }
}
