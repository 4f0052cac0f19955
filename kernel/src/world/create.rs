//! Creating a world: validate the AIR and modules, write the key and the genesis record.

use std::collections::BTreeMap;
use std::path::Path;

use worldline_air::load::{SourceFile, load_sources};
use worldline_air::plane::BuildOptions;
use worldline_air::{ControlPlane, Hash, Name};

use super::checkpoint::write_key_file;
use super::sink::{LiveSink, Sink};
use super::state::StateMap;
use super::stepper::Stepper;
use super::{CreateOptions, META_MANIFEST, World, load, world_files};
use crate::effects::EffectsState;
use crate::error::{KernelError, Result};
use crate::host::ReducerHost;
use crate::identity::WorldKey;
use crate::plans::PlansState;
use crate::record::ParentWorld;
use crate::record::{GenesisBody, Record, RecordBody, Stamp};
use crate::store::{Head, RedbStore, Store, WorldLock};

/// The side folder a new world is written into before it becomes `.world`.
const CREATE_DIR: &str = ".world-new";

/// Makes a rename in `dir` durable (the directory entry itself is flushed).
pub(super) fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| KernelError::io(dir, e))
}

impl World {
    /// Creates a world in `dir` from its AIR and module binaries, and writes genesis.
    ///
    /// Nothing is left behind if creation fails.
    pub fn create(
        dir: &Path,
        air: &[SourceFile],
        binaries: BTreeMap<Name, Vec<u8>>,
        options: CreateOptions,
    ) -> Result<World> {
        if world_files(dir).3.exists() {
            return Err(KernelError::NotAWorld {
                path: dir.display().to_string(),
                reason: "is already a world (it has a .world folder)".into(),
            });
        }
        let module_hashes: BTreeMap<Name, Hash> = binaries
            .iter()
            .map(|(name, wasm)| (name.clone(), Hash::of(wasm)))
            .collect();
        let plane = load_sources(
            air,
            &BuildOptions {
                require_hashes: false,
                module_hashes,
            },
        )?;
        // Validate modules before touching the disk: a bad binary must leave nothing behind.
        let pending: BTreeMap<Hash, Vec<u8>> = binaries
            .into_values()
            .map(|wasm| (Hash::of(&wasm), wasm))
            .collect();
        let mut host = ReducerHost::new(&options.config)?;
        for (name, hash, entry) in load::wasm_modules(&plane)? {
            let wasm = pending
                .get(&hash)
                .ok_or_else(|| KernelError::MissingModule {
                    module: name.clone(),
                    hash,
                })?;
            host.compile(&name, hash, wasm, entry)?;
        }
        World::create_from(dir, plane, pending, &options, None)
    }

    /// Writes a new world into `dir` (which must not be one): genesis over `plane`, with the
    /// module binaries `pending`, starting from `fork`'s states when it is a fork. The world is
    /// written into a side folder that becomes `.world` only once genesis is durable, so
    /// neither a failure nor a crash leaves a `.world` that is not a world.
    pub(super) fn create_from(
        dir: &Path,
        plane: ControlPlane,
        pending: BTreeMap<Hash, Vec<u8>>,
        options: &CreateOptions,
        fork: Option<ForkStart>,
    ) -> Result<World> {
        let world_dir = world_files(dir).3;
        if world_dir.exists() {
            return Err(KernelError::NotAWorld {
                path: dir.display().to_string(),
                reason: "is already a world (it has a .world folder)".into(),
            });
        }
        let temp = dir.join(CREATE_DIR);
        if temp.exists() {
            // A creation that died before it finished; its lock says if it still runs.
            WorldLock::acquire(&temp.join("lock"))?;
            std::fs::remove_dir_all(&temp).map_err(|e| KernelError::io(&temp, e))?;
        }
        std::fs::create_dir_all(&temp).map_err(|e| KernelError::io(&temp, e))?;
        let files = (temp.join("world.redb"), temp.join("key"), temp.join("lock"));
        let files = (files.0.as_path(), files.1.as_path(), files.2.as_path());
        let created = World::write_genesis(dir, files, plane, pending, options, fork).and_then(
            |mut world| {
                // The world stays open (its lock held) while its folder moves: the store's
                // and the lock's open files move with it.
                std::fs::rename(&temp, &world_dir).map_err(|e| KernelError::io(&world_dir, e))?;
                world.store.moved_to(world_files(dir).0);
                sync_dir(dir)?;
                Ok(world)
            },
        );
        if created.is_err() {
            let _ = std::fs::remove_dir_all(&temp);
        }
        created
    }

    fn write_genesis(
        dir: &Path,
        (db_path, key_path, lock_path): (&Path, &Path, &Path),
        plane: ControlPlane,
        pending: BTreeMap<Hash, Vec<u8>>,
        options: &CreateOptions,
        fork: Option<ForkStart>,
    ) -> Result<World> {
        let lock = WorldLock::acquire(lock_path)?;
        let mut store = RedbStore::open(db_path)?;
        let key = WorldKey::from_seed(options.seed);
        write_key_file(key_path, &key)?;
        let mut host = ReducerHost::new(&options.config)?;
        let mut batch = load::load_modules(&mut host, &plane, &store, &pending)?;
        let manifest_hash = plane.manifest_hash();
        let mut stepper = Stepper::new(plane, host, options.config)?;
        let mut sink = LiveSink::new(0, Hash::ZERO);
        load::store_plane(stepper.plane(), &mut sink)?;
        for (hash, wasm) in pending {
            sink.put_object(hash, wasm);
        }
        let mut logical_now_ns = options.ingress.now_ns;
        let mut parent = None;
        if let Some(fork) = fork {
            for (hash, object) in fork.objects {
                sink.put_object(hash, object);
            }
            logical_now_ns = logical_now_ns.max(fork.logical_now_ns);
            stepper.restore(
                fork.states,
                EffectsState::default(),
                PlansState::default(),
                0,
                logical_now_ns,
                None,
            );
            parent = Some(fork.parent);
        }
        let stamp = Stamp {
            now_ns: options.ingress.now_ns,
            logical_now_ns,
            entropy: options.ingress.entropy,
            manifest_hash,
        };
        let genesis = GenesisBody {
            did: key.did(),
            manifest_hash,
            config: options.config,
            parent,
        };
        stepper.process(
            Record {
                seq: 0,
                causes: vec![],
                stamp: Some(stamp),
                body: RecordBody::Genesis(genesis),
            },
            &mut sink,
        )?;
        let head_hash = sink.prev_hash();
        batch.records.append(&mut sink.batch.records);
        batch.cas.append(&mut sink.batch.cas);
        batch.index.append(&mut sink.batch.index);
        batch.meta.append(&mut sink.batch.meta);
        batch
            .meta
            .push((META_MANIFEST.to_owned(), manifest_hash.as_bytes().to_vec()));
        batch.meta.push(crate::why::index_from_meta(0));
        store.commit(&batch, true)?;
        Ok(World {
            dir: dir.to_path_buf(),
            store,
            _lock: lock,
            stepper,
            did: key.did(),
            key: Some(key),
            head: Head {
                seq: 0,
                hash: head_hash,
            },
            dispatch_pending: Vec::new(),
            dispatch_ready: Vec::new(),
            poisoned: None,
        })
    }
}

/// What a fork starts from: its parent, the parent's states at the fork, and the objects they
/// need (the state blobs and the snapshot object the genesis names).
pub(super) struct ForkStart {
    /// The parent, as genesis names it.
    pub parent: ParentWorld,
    /// The parent's states at the fork.
    pub states: StateMap,
    /// The parent's logical time at the fork.
    pub logical_now_ns: u64,
    /// Objects to store with genesis.
    pub objects: Vec<(Hash, Vec<u8>)>,
}
