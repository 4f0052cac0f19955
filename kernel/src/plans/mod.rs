//! Plan instances (AIR.md §6): their state, kept in snapshots, and the scheduler that runs them
//! ([`run`]). The stepper starts instances from triggers, wakes them with receipts and events,
//! and journals what they do; everything here is deterministic.

pub mod run;
mod snapshot;

use std::collections::BTreeMap;

use worldline_air::{Hash, Name, Value};

/// Most plan instances alive at once; a trigger past it ends its instance with
/// `instances_full`.
pub const PLAN_INSTANCES_MAX: usize = 10_000;

/// Receipts an instance may hold before it awaits them.
pub const PLAN_RECEIPTS_HELD_MAX: usize = 1024;

/// Longest `body_preview` (bytes of UTF-8) derived from an HTTP response body.
pub const BODY_PREVIEW_BYTES_MAX: usize = 1024;

/// Where one step of an instance is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepStatus {
    /// Not reached yet.
    Pending,
    /// An `await_*` step waiting; `since_seq`: events from this seq on can satisfy it.
    Waiting {
        /// First seq an awaited event may have.
        since_seq: u64,
    },
    /// Ran.
    Done,
    /// Skipped by dead-path elimination.
    Skipped,
}

/// A receipt that reached an instance, as its steps see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldReceipt {
    /// `ok`, `error` or `timeout`.
    pub status: String,
    /// The payload (plus derived view fields, see `spec/plans.md`).
    pub value: Value,
}

/// One running plan instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanInstance {
    /// The seq of its `plan_started` record.
    pub id: u64,
    /// The plan.
    pub plan: Name,
    /// The manifest it started under (and keeps).
    pub manifest_hash: Hash,
    /// `@plan.input`.
    pub input: Value,
    /// `@var:` bindings.
    pub vars: BTreeMap<String, Value>,
    /// `@step:` values.
    pub step_values: BTreeMap<String, Value>,
    /// One per step of the plan, in declaration order.
    pub steps: Vec<StepStatus>,
    /// Receipts of its intents that arrived, by intent hash, until awaited.
    pub receipts: BTreeMap<Hash, HeldReceipt>,
}

impl PlanInstance {
    /// A fresh instance: every step pending.
    pub fn new(id: u64, plan: Name, manifest_hash: Hash, input: Value, steps: usize) -> Self {
        PlanInstance {
            id,
            plan,
            manifest_hash,
            input,
            vars: BTreeMap::new(),
            step_values: BTreeMap::new(),
            steps: vec![StepStatus::Pending; steps],
            receipts: BTreeMap::new(),
        }
    }

    /// The cell-key-like origin key of its intents: the instance id as canonical CBOR, so two
    /// instances emitting the same effect get distinct intents and receipts find their way back.
    pub fn origin_key(&self) -> Vec<u8> {
        Value::Nat(self.id).to_cbor_body()
    }

    /// True if some step waits on an event of any schema.
    pub fn is_waiting(&self) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s, StepStatus::Waiting { .. }))
    }
}

/// Every live instance, by id (ascending id = start order, the order they are woken in).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlansState {
    instances: BTreeMap<u64, PlanInstance>,
}

impl PlansState {
    /// How many instances are alive.
    pub fn len(&self) -> usize {
        self.instances.len()
    }

    /// True if none is.
    pub fn is_empty(&self) -> bool {
        self.instances.is_empty()
    }

    /// One instance.
    pub fn get(&self, id: u64) -> Option<&PlanInstance> {
        self.instances.get(&id)
    }

    /// Every instance, by id.
    pub fn iter(&self) -> impl Iterator<Item = &PlanInstance> {
        self.instances.values()
    }

    /// The manifests live instances are pinned to, ascending, without repeats.
    pub fn manifests(&self) -> Vec<Hash> {
        let set: std::collections::BTreeSet<Hash> =
            self.instances.values().map(|i| i.manifest_hash).collect();
        set.into_iter().collect()
    }

    /// Ids of the instances with a waiting step, ascending.
    pub fn waiting_ids(&self) -> Vec<u64> {
        self.instances
            .values()
            .filter(|i| i.is_waiting())
            .map(|i| i.id)
            .collect()
    }

    /// Takes an instance out (to run it); put it back with [`PlansState::put`].
    pub fn take(&mut self, id: u64) -> Option<PlanInstance> {
        self.instances.remove(&id)
    }

    /// Puts an instance (back) in; returns the one it replaces.
    pub fn put(&mut self, instance: PlanInstance) -> Option<PlanInstance> {
        self.instances.insert(instance.id, instance)
    }
}
