//! The stepper: folds one input through routing and reducer steps, deterministically.
//!
//! Given the same control plane, state and input record, it emits the same records into its
//! [`Sink`] every time: that is what makes live runs, opening from a snapshot and replay one
//! mechanism.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;

use worldline_air::nodes::{DefKind, Node};
use worldline_air::value::is_canonical;
use worldline_air::{ControlPlane, Hash, Name, TypeExpr, Value};

use super::sink::Sink;
use super::state::{StateKey, StateMap};
use crate::config::{CASCADE_RECORDS_MAX, WorldConfig};
use crate::error::{KernelError, Result};
use crate::host::envelope::{ReducerInput, ReducerOutput};
use crate::host::{ReducerHost, StepError};
use crate::record::{EventOrigin, Record, RecordBody, Stamp};

/// One routing entry, resolved once per control plane.
struct Route {
    event: Name,
    reducer: Name,
    wasm_hash: Hash,
    /// Path to the cell key inside the event value (keyed reducers only).
    key_path: Option<Vec<String>>,
    wants_context: bool,
    event_type: TypeExpr,
    state_type: TypeExpr,
}

/// A checked step output.
struct Checked {
    state: Option<Vec<u8>>,
    events: Vec<(Name, Vec<u8>)>,
}

/// What `begin` saved so a failed batch can be undone.
struct Undo {
    states: Vec<(StateKey, Option<Vec<u8>>)>,
    logical_now_ns: u64,
    snapshot_height: u64,
    dirty: BTreeSet<StateKey>,
}

/// The deterministic core of a world.
pub struct Stepper {
    plane: ControlPlane,
    host: ReducerHost,
    states: StateMap,
    config: WorldConfig,
    logical_now_ns: u64,
    snapshot_height: u64,
    dirty: BTreeSet<StateKey>,
    routes: BTreeMap<Name, Vec<Rc<Route>>>,
    undo: Option<Undo>,
}

impl Stepper {
    /// A stepper over `plane` whose reducer modules are already loaded into `host`.
    pub fn new(plane: ControlPlane, host: ReducerHost, config: WorldConfig) -> Result<Stepper> {
        let routes = routes(&plane)?;
        Ok(Stepper {
            plane,
            host,
            states: StateMap::default(),
            config,
            logical_now_ns: 0,
            snapshot_height: 0,
            dirty: BTreeSet::new(),
            routes,
            undo: None,
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

    /// Logical time of the last input.
    pub fn logical_now_ns(&self) -> u64 {
        self.logical_now_ns
    }

    /// Starts from a snapshot.
    pub fn restore(&mut self, states: StateMap, snapshot_height: u64, logical_now_ns: u64) {
        self.states = states;
        self.snapshot_height = snapshot_height;
        self.logical_now_ns = logical_now_ns;
        self.dirty.clear();
    }

    /// Remembers the current state so [`Stepper::rollback`] can return to it.
    pub fn begin(&mut self) {
        self.undo = Some(Undo {
            states: Vec::new(),
            logical_now_ns: self.logical_now_ns,
            snapshot_height: self.snapshot_height,
            dirty: self.dirty.clone(),
        });
    }

    /// Forgets the saved state: the batch was committed.
    pub fn commit(&mut self) {
        self.undo = None;
    }

    /// Returns to the state saved by [`Stepper::begin`]: the batch was not committed.
    pub fn rollback(&mut self) {
        if let Some(undo) = self.undo.take() {
            for ((reducer, key), previous) in undo.states.into_iter().rev() {
                self.states.set(&reducer, &key, previous);
            }
            self.logical_now_ns = undo.logical_now_ns;
            self.snapshot_height = undo.snapshot_height;
            self.dirty = undo.dirty;
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
        let event = match &input.body {
            RecordBody::DomainEvent { schema, value, .. } => Some((schema.clone(), value.clone())),
            _ => None,
        };
        let seq = sink.append(input)?;
        let mut appended = vec![seq];
        if let Some((schema, value)) = event {
            self.cascade(seq, schema, value, &stamp, sink, &mut appended)?;
        }
        self.maybe_snapshot(sink, &mut appended)?;
        Ok(appended)
    }

    /// Delivers an event to its reducers, and the events they emit to theirs, breadth first.
    fn cascade(
        &mut self,
        seq: u64,
        schema: Name,
        value: Vec<u8>,
        stamp: &Stamp,
        sink: &mut dyn Sink,
        appended: &mut Vec<u64>,
    ) -> Result<()> {
        let mut queue: VecDeque<(u64, Name, Vec<u8>)> = VecDeque::from([(seq, schema, value)]);
        while let Some((event_seq, schema, value)) = queue.pop_front() {
            let routes = self.routes.get(&schema).cloned().unwrap_or_default();
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
                self.step(&route, event_seq, &value, stamp, sink, appended, &mut queue)?;
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn step(
        &mut self,
        route: &Route,
        event_seq: u64,
        value: &[u8],
        stamp: &Stamp,
        sink: &mut dyn Sink,
        appended: &mut Vec<u64>,
        queue: &mut VecDeque<(u64, Name, Vec<u8>)>,
    ) -> Result<()> {
        let key = match &route.key_path {
            None => Vec::new(),
            Some(path) => match self.cell_key(route, path, value) {
                Ok(key) => key,
                Err(reason) => {
                    return self.fail(route, &[], "bad_key", reason, event_seq, sink, appended);
                }
            },
        };
        let keyed = route.key_path.is_some();
        let context = route.wants_context.then(|| {
            self.context(
                route,
                keyed.then_some(key.as_slice()),
                event_seq,
                value,
                stamp,
            )
        });
        let input = ReducerInput {
            schema: route.event.as_str(),
            value,
            key: keyed.then_some(key.as_slice()),
            state: self.states.get(&route.reducer, &key).map(Vec::as_slice),
            ctx: context.as_deref(),
        }
        .encode();
        let checked = self
            .host
            .step(&route.wasm_hash, &input)
            .and_then(|output| self.check(route, &output));
        let checked = match checked {
            Ok(checked) => checked,
            Err(error) => {
                return self.fail(
                    route,
                    &key,
                    error.code,
                    error.reason,
                    event_seq,
                    sink,
                    appended,
                );
            }
        };
        self.set_state(&route.reducer, &key, checked.state);
        for (schema, value) in checked.events {
            let origin = EventOrigin::Reducer {
                reducer: route.reducer.clone(),
                key: keyed.then(|| key.clone()),
            };
            let body = RecordBody::DomainEvent {
                schema: schema.clone(),
                value: value.clone(),
                origin,
            };
            let seq = sink.append(Record {
                seq: 0,
                causes: vec![event_seq],
                stamp: None,
                body,
            })?;
            appended.push(seq);
            queue.push_back((seq, schema, value));
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
            key: route.key_path.is_some().then(|| key.to_vec()),
            module_hash: route.wasm_hash,
            code: code.to_owned(),
            reason,
        };
        appended.push(sink.append(Record {
            seq: 0,
            causes: vec![event_seq],
            stamp: None,
            body,
        })?);
        Ok(())
    }

    /// The cell key: the field at `path` of the event value, as canonical CBOR.
    fn cell_key(
        &self,
        route: &Route,
        path: &[String],
        value: &[u8],
    ) -> std::result::Result<Vec<u8>, String> {
        let event = Value::from_cbor_bytes(value, &route.event_type, &self.plane)
            .map_err(|e| e.to_string())?;
        let mut current = &event;
        for segment in path {
            current = match (current, segment.as_str()) {
                (
                    Value::Variant {
                        value: Some(inner), ..
                    },
                    "$value",
                ) => inner,
                (Value::Record(fields), field) => fields
                    .get(field)
                    .ok_or_else(|| format!("the event has no `{field}`"))?,
                _ => return Err(format!("the event has no `{segment}`")),
            };
        }
        Ok(current.to_cbor_body())
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
            ("cell_mode", Value::Bool(route.key_path.is_some())),
        ])
        .to_cbor_body()
    }

    /// Reads a step's output and checks every value against its schema.
    fn check(&self, route: &Route, output: &[u8]) -> std::result::Result<Checked, StepError> {
        let output = ReducerOutput::decode(output)?;
        let state = match output.state {
            None => None,
            // Canonical bytes (what the SDK writes) are kept as they are; anything else is
            // decoded, checked and re-encoded.
            Some(bytes) if is_canonical(&bytes, &route.state_type, &self.plane) => Some(bytes),
            Some(bytes) => Some(
                Value::from_cbor_bytes(&bytes, &route.state_type, &self.plane)
                    .map_err(|e| {
                        StepError::new(
                            "bad_output",
                            format!("the state does not match its schema: {e}"),
                        )
                    })?
                    .to_cbor_body(),
            ),
        };
        let mut events = Vec::with_capacity(output.domain_events.len());
        for (index, event) in output.domain_events.iter().enumerate() {
            let schema = Name::parse(&event.schema)
                .ok()
                .filter(|name| self.plane.def(DefKind::Schema, name).is_some())
                .ok_or_else(|| {
                    StepError::new(
                        "bad_output",
                        format!(
                            "domain_events[{index}]: `{}` is not a schema of this world",
                            event.schema
                        ),
                    )
                })?;
            let ty = self
                .plane
                .schema_type_of(&schema)
                .cloned()
                .unwrap_or(TypeExpr::Unit);
            if is_canonical(&event.value, &ty, &self.plane) {
                events.push((schema, event.value.clone()));
                continue;
            }
            let value = Value::from_cbor_bytes(&event.value, &ty, &self.plane).map_err(|e| {
                StepError::new(
                    "bad_output",
                    format!("domain_events[{index}] ({schema}): {e}"),
                )
            })?;
            events.push((schema, value.to_cbor_body()));
        }
        if !output.effects.is_empty() {
            // Admission arrives with the effects capability; until then an effect cannot be
            // journaled honestly, so the step fails rather than silently dropping it.
            return Err(StepError::new(
                "effects_unsupported",
                "this kernel does not admit effects yet",
            ));
        }
        Ok(Checked { state, events })
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
        let (bytes, blobs) = self.states.snapshot(height, self.logical_now_ns);
        let dirty_hashes: BTreeSet<Hash> = self
            .dirty
            .iter()
            .filter_map(|(reducer, key)| self.states.get(reducer, key).map(|s| Hash::of(s)))
            .collect();
        for (hash, blob) in blobs {
            if dirty_hashes.contains(&hash) {
                sink.put_object(hash, blob);
            }
        }
        let snapshot_hash = Hash::of(&bytes);
        sink.put_object(snapshot_hash, bytes);
        let body = RecordBody::SnapshotPointer {
            snapshot_hash,
            height,
        };
        let seq = sink.append(Record {
            seq: 0,
            causes: vec![height],
            stamp: None,
            body,
        })?;
        sink.snapshot_at(seq);
        appended.push(seq);
        self.snapshot_height = height;
        self.dirty.clear();
        Ok(())
    }
}

/// Resolves the manifest's routing into per-schema routes.
fn routes(plane: &ControlPlane) -> Result<BTreeMap<Name, Vec<Rc<Route>>>> {
    let mut routes: BTreeMap<Name, Vec<Rc<Route>>> = BTreeMap::new();
    for entry in &plane.manifest().routing.events {
        let Some(Node::Module(module)) =
            plane.def(DefKind::Module, &entry.reducer).map(|d| &d.node)
        else {
            return Err(KernelError::Corrupt(format!(
                "routing names {}, which is not a module",
                entry.reducer
            )));
        };
        let Some(abi) = module.reducer() else {
            return Err(KernelError::Corrupt(format!(
                "routing names {}, which is not a reducer",
                entry.reducer
            )));
        };
        let wasm_hash = module.wasm_hash.ok_or_else(|| KernelError::Module {
            module: entry.reducer.clone(),
            reason: "has no wasm_hash: supply its binary with --module".into(),
        })?;
        let type_of = |name: &Name| {
            plane.schema_type_of(name).cloned().ok_or_else(|| {
                KernelError::Corrupt(format!("schema {name} is not in the control plane"))
            })
        };
        let key_path = entry
            .key_field
            .as_ref()
            .map(|field| field.split('.').map(str::to_owned).collect());
        routes
            .entry(entry.event.clone())
            .or_default()
            .push(Rc::new(Route {
                event: entry.event.clone(),
                reducer: entry.reducer.clone(),
                wasm_hash,
                key_path,
                wants_context: abi.context.is_some(),
                event_type: type_of(&abi.event)?,
                state_type: type_of(&abi.state)?,
            }));
    }
    Ok(routes)
}
