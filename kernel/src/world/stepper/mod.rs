//! The stepper: folds one input through routing and reducer steps, deterministically.
//!
//! Given the same control plane, state and input record, it emits the same records into its
//! [`Sink`] every time: that is what makes live runs, opening from a snapshot and replay one
//! mechanism.

mod check;
mod effects;
mod governance;
mod lineage;
mod plans;
mod resume;
mod routes;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use std::rc::Rc;

use worldline_air::nodes::DefPlan;
use worldline_air::{ControlPlane, Hash, Name, Value};

use super::sink::Sink;
use super::state::{SnapshotExtras, StateKey, StateMap};
use crate::config::{CASCADE_RECORDS_MAX, WorldConfig};
use crate::effects::EffectsState;
use crate::effects::OpenIntent;
use crate::error::{KernelError, Result};
use crate::governance::{GovState, Proposal};
use crate::host::ReducerHost;
use crate::host::envelope::ReducerInput;
use crate::plans::{PlanInstance, PlansState};
use crate::record::{EventOrigin, Record, RecordBody, Stamp};
use routes::{Route, Routes, cell_key};

/// A change to open work, remembered so a failed batch can be undone.
enum EffectsChange {
    /// An intent was admitted.
    Opened(Hash),
    /// An intent was closed by its receipt.
    Closed(OpenIntent),
    /// An adapter key was set (the previous one, if any).
    AdapterKey(String, Option<[u8; 32]>),
}

/// A plan instance as it was before the batch touched it (`None`: it did not exist).
struct PlanChange {
    id: u64,
    previous: Option<PlanInstance>,
}

/// What `begin` saved so a failed batch can be undone.
struct Undo {
    states: Vec<(StateKey, Option<Vec<u8>>)>,
    effects: Vec<EffectsChange>,
    plans: Vec<PlanChange>,
    logical_now_ns: u64,
    snapshot_height: u64,
    dirty: BTreeSet<StateKey>,
    /// The last checkpoint before the batch, saved the first time the batch changes it.
    last_checkpoint: Option<Option<(u64, Hash)>>,
    /// Proposals as they were before the batch touched them (`None`: new in the batch).
    proposals: Vec<(u64, Option<Proposal>)>,
    /// The wiring before the batch switched the manifest, if it did.
    wiring: Option<governance::Wiring>,
}

/// Appends a record the stepper derived (no stamp) caused by `cause`, and notes its seq in
/// `appended`; returns the seq.
pub(super) fn append_derived(
    sink: &mut dyn Sink,
    appended: &mut Vec<u64>,
    cause: u64,
    body: RecordBody,
) -> Result<u64> {
    let seq = sink.append(Record {
        seq: 0,
        causes: vec![cause],
        stamp: None,
        body,
    })?;
    appended.push(seq);
    Ok(seq)
}

/// Events waiting to be delivered to their reducers: `(seq, schema, value)`.
type EventQueue = VecDeque<(u64, Name, Vec<u8>)>;

/// The deterministic core of a world.
pub struct Stepper {
    plane: Rc<ControlPlane>,
    host: ReducerHost,
    states: StateMap,
    effects: EffectsState,
    plans: PlansState,
    config: WorldConfig,
    logical_now_ns: u64,
    snapshot_height: u64,
    dirty: BTreeSet<StateKey>,
    /// Height and hash of the last checkpoint.
    last_checkpoint: Option<(u64, Hash)>,
    routes: Routes,
    /// The manifest's plans, shared with running instances.
    plan_defs: BTreeMap<Name, Rc<DefPlan>>,
    /// Pure modules (enforcers) by name, with their wasm hash.
    pure_modules: BTreeMap<Name, Hash>,
    /// Intents admitted since the last [`Stepper::take_admitted`], in journal order.
    admitted: Vec<Hash>,
    undo: Option<Undo>,
    /// The world's DID (see `resume.rs`).
    did: String,
    /// The manifest at genesis: snapshots name the manifest in force only when it differs.
    genesis_manifest: Hash,
    /// Every proposal (see `governance.rs`).
    gov: GovState,
    /// Manifests replaced while plan instances pinned to them were alive.
    retired: BTreeMap<Hash, governance::Pinned>,
    /// The candidate manifest of the next `gov_applied`, loaded by the world before it.
    staged: Option<Rc<ControlPlane>>,
}

impl Stepper {
    /// A stepper over `plane` whose modules are already loaded into `host`.
    pub fn new(plane: ControlPlane, host: ReducerHost, config: WorldConfig) -> Result<Stepper> {
        let plane = Rc::new(plane);
        let wiring = governance::Wiring::of(&plane)?;
        Ok(Stepper {
            plan_defs: wiring.plan_defs,
            routes: wiring.routes,
            pure_modules: wiring.pure_modules,
            genesis_manifest: plane.manifest_hash(),
            plane,
            host,
            states: StateMap::default(),
            effects: EffectsState::default(),
            plans: PlansState::default(),
            config,
            logical_now_ns: 0,
            snapshot_height: 0,
            dirty: BTreeSet::new(),
            last_checkpoint: None,
            admitted: Vec::new(),
            undo: None,
            did: String::new(),
            gov: GovState::default(),
            retired: BTreeMap::new(),
            staged: None,
        })
    }

    /// The control plane in force.
    pub fn plane(&self) -> &ControlPlane {
        &self.plane
    }

    /// All states.
    pub fn states(&self) -> &StateMap {
        &self.states
    }

    /// Settings fixed at genesis.
    pub fn config(&self) -> &WorldConfig {
        &self.config
    }

    /// Open work and adapter keys.
    pub fn effects(&self) -> &EffectsState {
        &self.effects
    }

    /// Live plan instances.
    pub fn plans(&self) -> &PlansState {
        &self.plans
    }

    /// Logical time of the last input.
    pub fn logical_now_ns(&self) -> u64 {
        self.logical_now_ns
    }

    /// The intents admitted since the last call, in journal order.
    pub fn take_admitted(&mut self) -> Vec<Hash> {
        std::mem::take(&mut self.admitted)
    }

    /// Starts from a snapshot.
    pub fn restore(
        &mut self,
        states: StateMap,
        effects: EffectsState,
        plans: PlansState,
        snapshot_height: u64,
        logical_now_ns: u64,
        last_checkpoint: Option<(u64, Hash)>,
    ) {
        self.last_checkpoint = last_checkpoint;
        self.states = states;
        self.effects = effects;
        self.plans = plans;
        self.snapshot_height = snapshot_height;
        self.logical_now_ns = logical_now_ns;
        self.dirty.clear();
        self.admitted.clear();
    }

    /// Remembers the current state so [`Stepper::rollback`] can return to it.
    pub fn begin(&mut self) {
        self.undo = Some(Undo {
            states: Vec::new(),
            effects: Vec::new(),
            plans: Vec::new(),
            logical_now_ns: self.logical_now_ns,
            snapshot_height: self.snapshot_height,
            dirty: self.dirty.clone(),
            last_checkpoint: None,
            proposals: Vec::new(),
            wiring: None,
        });
    }

    /// Forgets the saved state: the batch was committed.
    pub fn commit(&mut self) {
        self.undo = None;
    }

    /// Returns to the state saved by [`Stepper::begin`]: the batch was not committed.
    pub fn rollback(&mut self) {
        let Some(undo) = self.undo.take() else {
            return;
        };
        for ((reducer, key), previous) in undo.states.into_iter().rev() {
            self.states.set(&reducer, &key, previous);
        }
        for change in undo.effects.into_iter().rev() {
            match change {
                EffectsChange::Opened(hash) => {
                    self.effects.close(&hash);
                }
                EffectsChange::Closed(open) => self.effects.insert(open),
                EffectsChange::AdapterKey(id, previous) => {
                    self.effects.restore_adapter_key(&id, previous);
                }
            }
        }
        for change in undo.plans.into_iter().rev() {
            self.plans.take(change.id);
            if let Some(previous) = change.previous {
                self.plans.put(previous);
            }
        }
        self.logical_now_ns = undo.logical_now_ns;
        self.snapshot_height = undo.snapshot_height;
        self.dirty = undo.dirty;
        if let Some(last_checkpoint) = undo.last_checkpoint {
            self.last_checkpoint = last_checkpoint;
        }
        for (id, before) in undo.proposals.into_iter().rev() {
            self.gov.restore(id, before);
        }
        if let Some(wiring) = undo.wiring {
            self.rewire(wiring);
        }
        self.staged = None;
        self.admitted.clear();
    }

    fn remember(&mut self, change: EffectsChange) {
        if let Some(undo) = &mut self.undo {
            undo.effects.push(change);
        }
    }

    fn set_state(&mut self, reducer: &Name, key: &[u8], state: Option<Vec<u8>>) {
        let previous = self.states.set(reducer, key, state);
        if let Some(undo) = &mut self.undo {
            undo.states
                .push(((reducer.clone(), key.to_vec()), previous));
        }
        self.dirty.insert((reducer.clone(), key.to_vec()));
    }

    /// Appends an input record and everything it causes; returns the seqs appended.
    pub fn process(&mut self, input: Record, sink: &mut dyn Sink) -> Result<Vec<u64>> {
        let stamp = input.stamp.clone().ok_or_else(|| {
            KernelError::Corrupt(format!(
                "record {} is processed as an input but has no stamp",
                input.seq
            ))
        })?;
        self.logical_now_ns = stamp.logical_now_ns;
        let body = input.body.clone();
        let seq = sink.append(input)?;
        let mut appended = vec![seq];
        match body {
            RecordBody::Genesis(genesis) => {
                self.genesis_manifest = genesis.manifest_hash;
                self.did = genesis.did;
            }
            RecordBody::Gap { from_ns, to_ns } => {
                self.resumed(seq, (from_ns, to_ns), &stamp, sink, &mut appended)?;
            }
            RecordBody::DomainEvent { schema, value, .. } => {
                let queue = VecDeque::from([(seq, schema, value)]);
                self.run_queue(queue, &stamp, sink, &mut appended)?;
            }
            RecordBody::Receipt(receipt) => {
                self.deliver_receipt(seq, &receipt, &stamp, sink, &mut appended)?;
            }
            RecordBody::GovProposed { .. }
            | RecordBody::GovShadowReport { .. }
            | RecordBody::GovDecided { .. }
            | RecordBody::GovApplied { .. } => {
                self.governance(seq, &body, sink, &mut appended)?;
            }
            RecordBody::AdapterKey {
                adapter_id,
                public_key,
            } => {
                let previous = self.effects.adapter_key(&adapter_id).copied();
                self.effects.set_adapter_key(&adapter_id, public_key);
                self.remember(EffectsChange::AdapterKey(adapter_id, previous));
            }
            _ => {}
        }
        self.maybe_snapshot(sink, &mut appended)?;
        Ok(appended)
    }

    /// Delivers queued events to their reducers, and the events they emit to theirs, breadth
    /// first.
    fn run_queue(
        &mut self,
        mut queue: EventQueue,
        stamp: &Stamp,
        sink: &mut dyn Sink,
        appended: &mut Vec<u64>,
    ) -> Result<()> {
        while let Some((event_seq, schema, value)) = queue.pop_front() {
            let routes = self
                .routes
                .by_schema
                .get(&schema)
                .cloned()
                .unwrap_or_default();
            for route in routes {
                if appended.len() >= CASCADE_RECORDS_MAX {
                    let reason = format!(
                        "one input caused more than {CASCADE_RECORDS_MAX} records; the cascade was stopped"
                    );
                    self.fail(
                        &route,
                        &[],
                        "cascade_limit",
                        reason,
                        event_seq,
                        sink,
                        appended,
                    )?;
                    return Ok(());
                }
                let key = match &route.key_path {
                    None => Vec::new(),
                    Some(path) => match cell_key(&self.plane, &route, path, &value) {
                        Ok(key) => key,
                        Err(reason) => {
                            self.fail(&route, &[], "bad_key", reason, event_seq, sink, appended)?;
                            continue;
                        }
                    },
                };
                self.step(
                    &route, key, event_seq, &value, stamp, sink, appended, &mut queue,
                )?;
            }
            let mut journal = plans::Journal {
                sink,
                appended,
                queue: &mut queue,
            };
            self.plans_on_event(event_seq, &schema, &value, &mut journal)?;
        }
        Ok(())
    }

    /// One reducer step on one event: the new state, the events it emits (queued for delivery)
    /// and its effect (admitted). A failed step journals `step_failed` and changes nothing.
    #[allow(clippy::too_many_arguments)]
    fn step(
        &mut self,
        route: &Route,
        key: Vec<u8>,
        event_seq: u64,
        value: &[u8],
        stamp: &Stamp,
        sink: &mut dyn Sink,
        appended: &mut Vec<u64>,
        queue: &mut EventQueue,
    ) -> Result<()> {
        let context = route.wants_context.then(|| {
            self.context(
                route,
                route.keyed.then_some(key.as_slice()),
                event_seq,
                value,
                stamp,
            )
        });
        let input = ReducerInput {
            schema: route.event.as_str(),
            value,
            key: route.keyed.then_some(key.as_slice()),
            state: self.states.get(&route.reducer, &key).map(Vec::as_slice),
            ctx: context.as_deref(),
        }
        .encode();
        let checked = self
            .host
            .step(&route.wasm_hash, &input)
            .and_then(|output| check::check(&self.plane, route, &output));
        let checked = match checked {
            Ok(checked) => checked,
            Err(error) => {
                let (code, reason) = (error.code, error.reason);
                return self.fail(route, &key, code, reason, event_seq, sink, appended);
            }
        };
        self.set_state(&route.reducer, &key, checked.state);
        for (schema, value) in checked.events {
            let origin = EventOrigin::Reducer {
                reducer: route.reducer.clone(),
                key: route.keyed.then(|| key.clone()),
            };
            let body = RecordBody::DomainEvent {
                schema: schema.clone(),
                value: value.clone(),
                origin,
            };
            let seq = append_derived(sink, appended, event_seq, body)?;
            queue.push_back((seq, schema, value));
        }
        for effect in &checked.effects {
            self.admit_effect(route, &key, event_seq, effect, sink, appended)?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn fail(
        &mut self,
        route: &Route,
        key: &[u8],
        code: &str,
        reason: String,
        event_seq: u64,
        sink: &mut dyn Sink,
        appended: &mut Vec<u64>,
    ) -> Result<()> {
        let body = RecordBody::StepFailed {
            reducer: route.reducer.clone(),
            key: route.keyed.then(|| key.to_vec()),
            module_hash: route.wasm_hash,
            code: code.to_owned(),
            reason,
        };
        append_derived(sink, appended, event_seq, body)?;
        Ok(())
    }

    fn context(
        &self,
        route: &Route,
        key: Option<&[u8]>,
        event_seq: u64,
        value: &[u8],
        stamp: &Stamp,
    ) -> Vec<u8> {
        let mut tagged = worldline_air::cbor::SELF_DESCRIBE.to_vec();
        tagged.extend_from_slice(value);
        Value::record([
            ("now_ns", Value::Nat(stamp.now_ns)),
            ("logical_now_ns", Value::Nat(stamp.logical_now_ns)),
            ("journal_height", Value::Nat(event_seq)),
            ("entropy", Value::Bytes(stamp.entropy.to_vec())),
            ("event_hash", Value::Hash(Hash::of(&tagged))),
            ("manifest_hash", Value::Hash(stamp.manifest_hash)),
            ("reducer", Value::Text(route.reducer.to_string())),
            ("key", key.map_or(Value::Null, |k| Value::Bytes(k.to_vec()))),
            ("cell_mode", Value::Bool(route.keyed)),
        ])
        .to_cbor_body()
    }

    fn maybe_snapshot(&mut self, sink: &mut dyn Sink, appended: &mut Vec<u64>) -> Result<()> {
        let height = sink.next_seq().saturating_sub(1);
        if height
            < self
                .snapshot_height
                .saturating_add(self.config.snapshot_every)
        {
            return Ok(());
        }
        let effects = self.effects.to_snapshot();
        let plans = self.plans.to_snapshot()?;
        let manifest = self.plane.manifest_hash();
        let extras = SnapshotExtras {
            plans,
            checkpoint: self.last_checkpoint,
            governance: self.gov.to_snapshot(),
            manifest: (manifest != self.genesis_manifest).then_some(manifest),
        };
        // Only the states changed since the last snapshot are stored again.
        let (bytes, blobs) =
            self.states
                .snapshot(height, self.logical_now_ns, &effects, &extras, |key| {
                    self.dirty.contains(key)
                });
        for (hash, blob) in blobs {
            sink.put_object(hash, blob);
        }
        let snapshot_hash = Hash::of(&bytes);
        sink.put_object(snapshot_hash, bytes);
        let body = RecordBody::SnapshotPointer {
            snapshot_hash,
            height,
        };
        let seq = append_derived(sink, appended, height, body)?;
        sink.snapshot_at(seq);
        self.snapshot_height = height;
        self.dirty.clear();
        Ok(())
    }
}
