//! A world on disk: create, open, submit inputs, read state and the journal, replay.
//!
//! Layout: `<dir>/.world/world.redb` (journal, CAS, indexes, metadata), `<dir>/.world/key` (the
//! world's Ed25519 seed, mode 0600), `<dir>/.world/lock` (held by the one process that has the
//! world open).

mod checkpoint;
mod create;
mod effects;
mod fork;
mod gov_effects;
mod governance;
mod import;
mod load;
mod pipeline;
mod replay;
mod resume;
mod shadow;
mod sink;
mod state;
mod stepper;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use worldline_air::{ControlPlane, Hash, Name, TypeExpr, Value};

pub use effects::DispatchIntent;
pub use fork::ForkReport;
pub use gov_effects::{GovEffectDone, IN_WORLD_PATCH_BYTES_MAX, IN_WORLD_SHADOW_INPUTS};
pub use governance::{Applied, Proposed, read_signing_key, write_signing_key};
pub(crate) use import::WorldWriter;
pub(crate) use load::META_ARTIFACT;
pub use replay::{PARALLEL_RECORDS_MIN, ReplayReport, replay, replay_world};
pub use resume::{GAP_NS_MIN, Resumption};
pub use shadow::{SHADOW_INPUTS_MAX, ShadowInput};
pub use sink::{event_hash, index_entries, plan_instance};
pub use state::{ProofStep, SnapshotExtras, StateMap, leaf_hash, merkle_root, proof_holds};

use crate::config::WorldConfig;
use crate::effects::EffectsState;
use crate::error::{KernelError, Result};
use crate::host::ReducerHost;
use crate::identity::WorldKey;
use crate::plans::PlansState;
use crate::record::{EventOrigin, GenesisBody, Record, RecordBody, Stamp};
use crate::store::{Head, RedbStore, Store, WorldLock};
use checkpoint::read_key_file;
use sink::{LiveSink, Sink, VerifySink};
use stepper::Stepper;

/// The folder inside a world directory that holds its files.
pub const WORLD_DIR: &str = ".world";
/// Metadata: seq of the latest snapshot pointer record.
pub const META_SNAPSHOT: &str = "snapshot";
/// Metadata: the manifest in force.
pub const META_MANIFEST: &str = "manifest";

/// What an input brings from outside: wall time and entropy (the caller reads the clock and the
/// OS random source; the kernel never does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ingress {
    /// Wall-clock time, nanoseconds since the epoch.
    pub now_ns: u64,
    /// 32 bytes of OS entropy.
    pub entropy: [u8; 32],
}

/// An external event, already normalized against its schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventInput {
    /// Its schema.
    pub schema: Name,
    /// Canonical value, no self-describe tag.
    pub value: Vec<u8>,
}

/// How to make a new world.
#[derive(Debug, Clone)]
pub struct CreateOptions {
    /// Settings fixed for the world's life.
    pub config: WorldConfig,
    /// The Ed25519 secret seed of the world key.
    pub seed: [u8; 32],
    /// Time and entropy of the genesis record.
    pub ingress: Ingress,
}

/// An open world. Holds the world's lock until dropped.
pub struct World {
    dir: PathBuf,
    store: RedbStore,
    _lock: WorldLock,
    stepper: Stepper,
    did: String,
    /// The world key, when this host has it (an imported world may travel without it).
    key: Option<WorldKey>,
    head: Head,
    /// Admitted intents whose batch is not yet durable.
    dispatch_pending: Vec<Hash>,
    /// Admitted intents that may leave the process (their batch is durable).
    dispatch_ready: Vec<Hash>,
    /// Set when a pipelined submit failed part-way: memory is ahead of the store, so nothing
    /// more is appended until the world is opened again (`pipeline.rs`).
    poisoned: Option<String>,
}

pub(crate) fn world_files(dir: &Path) -> (PathBuf, PathBuf, PathBuf, PathBuf) {
    let world = dir.join(WORLD_DIR);
    (
        world.join("world.redb"),
        world.join("key"),
        world.join("lock"),
        world,
    )
}

/// True if `dir` holds a world.
pub fn is_world(dir: &Path) -> bool {
    world_files(dir).0.is_file()
}

/// The world's store alone, under its lock: for reading a world without running it (verify).
pub(crate) fn open_store(dir: &Path) -> Result<(WorldLock, RedbStore)> {
    let (db_path, _, lock_path, _) = world_files(dir);
    if !db_path.is_file() {
        return Err(KernelError::NotAWorld {
            path: dir.display().to_string(),
            reason: "is not a world (no .world/world.redb; create one with `world new`)".into(),
        });
    }
    let lock = WorldLock::acquire(&lock_path)?;
    let mut store = RedbStore::open(&db_path)?;
    if let Some(head) = store.head()? {
        reindex_tail(&mut store, head.seq)?;
    }
    Ok((lock, store))
}

impl World {
    /// Opens a world: the newest snapshot, then the records after it verified by re-running them.
    pub fn open(dir: &Path) -> Result<World> {
        let (lock, mut store) = open_store(dir)?;
        let head = store
            .head()?
            .ok_or_else(|| KernelError::Corrupt("the journal is empty".into()))?;
        let genesis = Record::decode(
            &store
                .record(0)?
                .ok_or_else(|| KernelError::Corrupt("no genesis record".into()))?,
        )?;
        let RecordBody::Genesis(genesis_body) = &genesis.body else {
            return Err(KernelError::Corrupt("record 0 is not genesis".into()));
        };
        let genesis_stamp_ns = genesis.stamp.as_ref().map_or(0, |s| s.logical_now_ns);
        let manifest_hash = meta_hash(&store, META_MANIFEST)?;
        let plane = load::plane_from_store(&store, &manifest_hash)?;
        let mut host = ReducerHost::new(&genesis_body.config)?;
        let mut artifacts = load::load_modules(&mut host, &plane, &store, &BTreeMap::new())?;
        // A world written before the why indexes existed gets them from its next record on.
        if store.meta(crate::why::META_INDEX_FROM)?.is_none() {
            artifacts
                .meta
                .push(crate::why::index_from_meta(head.seq + 1));
        }
        store.commit(&artifacts, false)?;
        let mut stepper = Stepper::new(plane, host, genesis_body.config)?;
        stepper.set_did(genesis_body.did.clone());
        stepper.set_genesis_manifest(genesis_body.manifest_hash);

        // Start from the newest snapshot (or genesis) and re-run the tail, checking each record.
        let start = match meta_u64(&store, META_SNAPSHOT)? {
            Some(pointer_seq) => {
                restore_from_pointer(&store, &mut stepper, pointer_seq)?;
                pointer_seq + 1
            }
            None => {
                stepper.restore(
                    fork::initial_states(&store, genesis_body)?,
                    EffectsState::default(),
                    PlansState::default(),
                    0,
                    genesis_stamp_ns,
                    None,
                );
                governance::begin_under(&mut stepper, &store, &genesis_body.manifest_hash)?;
                1
            }
        };
        let prev = store
            .record_hash(start - 1)?
            .ok_or_else(|| KernelError::Corrupt(format!("record {} has no hash", start - 1)))?;
        let did = genesis_body.did.clone();
        VerifySink::run(&store, start, prev, |verify| {
            replay::run_tail(&mut stepper, verify, head.seq, &did)
        })?;
        let key = read_key_file(&world_files(dir).1, &did)?;
        stepper.take_admitted();
        // Every intent still open after a restart goes out again (at least once, same key).
        let dispatch_ready = stepper
            .effects()
            .open_intents()
            .iter()
            .map(|open| open.intent.intent_hash)
            .collect();
        Ok(World {
            dir: dir.to_path_buf(),
            store,
            _lock: lock,
            stepper,
            did,
            key,
            head,
            dispatch_pending: Vec::new(),
            dispatch_ready,
            poisoned: None,
        })
    }

    /// Live plan instances.
    pub fn plans(&self) -> &PlansState {
        self.stepper.plans()
    }

    /// The world directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The world's DID.
    pub fn did(&self) -> &str {
        &self.did
    }

    /// The genesis record's body (the DID, the first manifest, the settings, the parent).
    pub fn genesis(&self) -> Result<GenesisBody> {
        let bytes = self
            .store
            .record(0)?
            .ok_or_else(|| KernelError::Corrupt("no genesis record".into()))?;
        match Record::decode(&bytes)?.body {
            RecordBody::Genesis(genesis) => Ok(genesis),
            _ => Err(KernelError::Corrupt("record 0 is not genesis".into())),
        }
    }

    /// The journal's last record.
    pub fn head(&self) -> Head {
        self.head
    }

    /// The control plane in force.
    pub fn plane(&self) -> &ControlPlane {
        self.stepper.plane()
    }

    /// All states.
    pub fn states(&self) -> &StateMap {
        self.stepper.states()
    }

    /// Reads an external event from JSON (either lens) and normalizes it against its schema.
    pub fn event_from_json(&self, schema: &str, json: &serde_json::Value) -> Result<EventInput> {
        let name = Name::parse(schema).map_err(|e| KernelError::Rejected(e.to_string()))?;
        let ty = self
            .plane()
            .def(worldline_air::nodes::DefKind::Schema, &name)
            .and_then(|_| self.plane().schema_type_of(&name))
            .ok_or_else(|| {
                KernelError::Rejected(format!("{name} is not a schema of this world"))
            })?;
        let value = worldline_air::value::from_any_json(json, ty, self.plane())
            .map_err(|e| KernelError::Rejected(format!("{name}: {e}")))?;
        Ok(EventInput {
            schema: name,
            value: value.to_cbor_body(),
        })
    }

    /// Appends external events, runs everything they cause, and commits it all in one write
    /// transaction (durable if asked). Returns, per input, the seqs it appended.
    ///
    /// If the commit fails, nothing of the batch is kept, in memory or on disk.
    pub fn submit(
        &mut self,
        inputs: Vec<(EventInput, Ingress)>,
        durable: bool,
    ) -> Result<Vec<Vec<u64>>> {
        let inputs = inputs
            .into_iter()
            .map(|(event, ingress)| {
                let body = RecordBody::DomainEvent {
                    schema: event.schema,
                    value: event.value,
                    origin: EventOrigin::External,
                };
                (body, Vec::new(), ingress)
            })
            .collect();
        self.append_inputs(inputs, Vec::new(), durable)
    }

    /// Stamps and appends input records (each caused by the records in its cause list), runs
    /// everything they cause, stores `objects` in the CAS, and commits it all at once.
    fn append_inputs(
        &mut self,
        inputs: Vec<(RecordBody, Vec<u64>, Ingress)>,
        objects: Vec<Vec<u8>>,
        durable: bool,
    ) -> Result<Vec<Vec<u64>>> {
        if let Some(reason) = &self.poisoned {
            return Err(KernelError::Rejected(reason.clone()));
        }
        if inputs.len() > pipeline::CHUNK_INPUTS && objects.is_empty() {
            return self.append_pipelined(inputs, durable);
        }
        let mut sink = LiveSink::new(self.head.seq + 1, self.head.hash);
        for object in objects {
            sink.put_object(Hash::of(&object), object);
        }
        self.stepper.begin();
        let manifest_before = self.plane().manifest_hash();
        let processed =
            Self::process_inputs(&mut self.stepper, inputs, &mut sink).and_then(|appended| {
                self.checkpoint_if_due(&mut sink)?;
                Ok(appended)
            });
        note_manifest(&self.stepper, manifest_before, &mut sink);
        let outcome = processed.and_then(|appended| {
            let batch = std::mem::take(&mut sink.batch);
            self.store.commit(&batch, durable).map(|()| appended)
        });
        match outcome {
            Ok(appended) => {
                self.batch_committed(&sink, durable);
                Ok(appended)
            }
            Err(error) => {
                self.stepper.rollback();
                Err(error)
            }
        }
    }

    /// After a batch's commit: the stepper keeps what it did, the head moves to the sink's last
    /// record, and the intents the batch admitted wait for dispatch (released at once when the
    /// commit was durable).
    fn batch_committed(&mut self, sink: &LiveSink, durable: bool) {
        self.stepper.commit();
        self.head = Head {
            seq: sink.next_seq() - 1,
            hash: sink.prev_hash(),
        };
        self.dispatch_pending.extend(self.stepper.take_admitted());
        if durable {
            self.dispatch_ready.append(&mut self.dispatch_pending);
        }
    }

    /// Stamps each input and runs it and everything it causes into `sink`.
    fn process_inputs(
        stepper: &mut Stepper,
        inputs: Vec<(RecordBody, Vec<u64>, Ingress)>,
        sink: &mut LiveSink,
    ) -> Result<Vec<Vec<u64>>> {
        let mut appended = Vec::with_capacity(inputs.len());
        for (body, causes, ingress) in inputs {
            let stamp = Stamp {
                now_ns: ingress.now_ns,
                logical_now_ns: ingress.now_ns.max(stepper.logical_now_ns()),
                entropy: ingress.entropy,
                manifest_hash: stepper.plane().manifest_hash(),
            };
            appended.push(stepper.process(
                Record {
                    seq: 0,
                    causes,
                    stamp: Some(stamp),
                    body,
                },
                sink,
            )?);
        }
        Ok(appended)
    }

    /// The cell key of a keyed reducer, read from JSON through the reducer's key schema.
    pub fn cell_key_from_json(&self, reducer: &Name, json: &serde_json::Value) -> Result<Vec<u8>> {
        let module = self.plane().module(reducer).ok_or_else(|| {
            KernelError::Rejected(format!("{reducer} is not a module of this world"))
        })?;
        let key_schema = module
            .key_schema
            .as_ref()
            .ok_or_else(|| KernelError::Rejected(format!("{reducer} is not keyed")))?;
        let ty = self
            .plane()
            .schema_type_of(key_schema)
            .cloned()
            .unwrap_or(TypeExpr::Text);
        let value = worldline_air::value::from_any_json(json, &ty, self.plane())
            .map_err(|e| KernelError::Rejected(format!("key: {e}")))?;
        Ok(value.to_cbor_body())
    }

    /// A reducer's (or cell's) state, decoded through its state schema.
    pub fn state(&self, reducer: &Name, key: &[u8]) -> Result<Option<Value>> {
        let module = self.plane().module(reducer).ok_or_else(|| {
            KernelError::Rejected(format!("{reducer} is not a module of this world"))
        })?;
        let abi = module
            .reducer()
            .ok_or_else(|| KernelError::Rejected(format!("{reducer} is not a reducer")))?;
        let ty = self
            .plane()
            .schema_type_of(&abi.state)
            .cloned()
            .unwrap_or(TypeExpr::Unit);
        match self.stepper.states().get(reducer, key) {
            None => Ok(None),
            Some(bytes) => Value::from_cbor_bytes(bytes, &ty, self.plane())
                .map(Some)
                .map_err(|e| KernelError::Corrupt(format!("state of {reducer}: {e}"))),
        }
    }

    /// Up to `limit` records from `from` on, decoded, with their chain hashes.
    pub fn records(&self, from: u64, limit: usize) -> Result<Vec<(Record, Hash)>> {
        self.store
            .records(from, limit)?
            .into_iter()
            .map(|(_, bytes, hash)| Ok((Record::decode(&bytes)?, hash)))
            .collect()
    }

    /// The world's store (read access for queries).
    pub fn store(&self) -> &dyn Store {
        &self.store
    }
}

/// Restores `stepper` from the snapshot the pointer record at `pointer_seq` names.
/// Records the manifest in force in the batch's metadata when the batch changed it.
fn note_manifest(stepper: &Stepper, manifest_before: Hash, sink: &mut LiveSink) {
    let manifest_after = stepper.plane().manifest_hash();
    if manifest_after != manifest_before {
        let entry = (META_MANIFEST.to_owned(), manifest_after.as_bytes().to_vec());
        sink.batch.meta.push(entry);
    }
}

/// Restores the index entries of the records a process committed but ended before writing
/// (small commits leave them to a later one, `store/redb_store.rs`): derived from the records
/// again, as the sink derived them, and kept pending like theirs were.
fn reindex_tail(store: &mut RedbStore, head_seq: u64) -> Result<()> {
    let mut next = store.indexed_below();
    let mut entries = Vec::new();
    while next <= head_seq {
        let page = store.records(next, crate::store::RECORDS_PAGE_MAX)?;
        let Some((last, ..)) = page.last() else {
            break;
        };
        next = last + 1;
        for (_, bytes, _) in &page {
            entries.extend(sink::index_entries(&Record::decode(bytes)?));
        }
    }
    store.restore_pending(&entries);
    Ok(())
}

pub(crate) fn restore_from_pointer(
    store: &dyn Store,
    stepper: &mut Stepper,
    pointer_seq: u64,
) -> Result<()> {
    let pointer =
        Record::decode(&store.record(pointer_seq)?.ok_or_else(|| {
            KernelError::Corrupt("the snapshot pointer record is missing".into())
        })?)?;
    let RecordBody::SnapshotPointer {
        snapshot_hash,
        height,
    } = pointer.body
    else {
        return Err(KernelError::Corrupt(format!(
            "record {pointer_seq} is not a snapshot pointer"
        )));
    };
    let object = store
        .cas_get(&snapshot_hash)?
        .ok_or_else(|| KernelError::Corrupt(format!("snapshot {snapshot_hash} is missing")))?;
    if Hash::of(&object) != snapshot_hash {
        return Err(KernelError::Corrupt(format!(
            "snapshot {snapshot_hash} does not match its hash"
        )));
    }
    let snapshot = StateMap::from_snapshot(&object, &mut |h| store.cas_get(h))?;
    let effects = match &snapshot.effects {
        None => EffectsState::default(),
        Some(item) => EffectsState::from_snapshot(item, &mut |seq| {
            store.record(seq)?.map(|b| Record::decode(&b)).transpose()
        })?,
    };
    let plans = match &snapshot.plans {
        None => PlansState::default(),
        Some(item) => PlansState::from_snapshot(item)?,
    };
    stepper.restore(
        snapshot.states,
        effects,
        plans,
        height,
        snapshot.logical_now_ns,
        snapshot.checkpoint,
    );
    if let Some(item) = &snapshot.governance {
        stepper.set_governance(crate::governance::GovState::from_snapshot(item)?);
    }
    let manifest = snapshot.manifest.unwrap_or(stepper.genesis_manifest());
    governance::begin_under(stepper, store, &manifest)?;
    Ok(())
}

fn meta_u64(store: &dyn Store, key: &str) -> Result<Option<u64>> {
    match store.meta(key)? {
        None => Ok(None),
        Some(bytes) => Ok(Some(u64::from_be_bytes(
            bytes
                .as_slice()
                .try_into()
                .map_err(|_| KernelError::Corrupt(format!("metadata `{key}` is not a u64")))?,
        ))),
    }
}

fn meta_hash(store: &dyn Store, key: &str) -> Result<Hash> {
    let bytes = store
        .meta(key)?
        .ok_or_else(|| KernelError::Corrupt(format!("metadata `{key}` is missing")))?;
    Ok(Hash(bytes.as_slice().try_into().map_err(|_| {
        KernelError::Corrupt(format!("metadata `{key}` is not a hash"))
    })?))
}
