//! What a world is, read from its store without running it: identity, head, manifest,
//! checkpoints, parent and sizes.

use std::path::Path;

use worldline_air::Hash;

use super::checkpoint::claim_of;
use crate::config::WorldConfig;
use crate::error::{KernelError, Result};
use crate::record::{ParentWorld, Record, RecordBody};
use crate::store::Head;

/// One checkpoint, as `inspect` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointInfo {
    /// The checkpoint record's seq.
    pub seq: u64,
    /// The height it covers.
    pub height: u64,
    /// Its hash (what the next checkpoint links to).
    pub hash: Hash,
}

/// A world, described.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorldInfo {
    /// Its DID.
    pub did: String,
    /// Its parent, when it is a fork.
    pub parent: Option<ParentWorld>,
    /// The last record.
    pub head: Head,
    /// The manifest in force.
    pub manifest_hash: Hash,
    /// Settings fixed at genesis.
    pub config: WorldConfig,
    /// Every checkpoint, oldest first.
    pub checkpoints: Vec<CheckpointInfo>,
    /// True when this host holds the world key (it can sign checkpoints).
    pub has_key: bool,
    /// Size of the store file, in bytes.
    pub store_bytes: u64,
}

/// Describes the world in `dir` (holding its lock, so it must not be running).
pub fn inspect_world(dir: &Path) -> Result<WorldInfo> {
    let (_lock, store) = crate::world::open_store(dir)?;
    inspect_store(&store, dir)
}

/// [`inspect_world`] of a world already open (the one a running host holds, say).
pub fn inspect_open(world: &crate::World) -> Result<WorldInfo> {
    inspect_store(world.store(), world.dir())
}

fn inspect_store(store: &dyn crate::store::Store, dir: &Path) -> Result<WorldInfo> {
    let (db_path, key_path, _, _) = crate::world::world_files(dir);
    let head = store
        .head()?
        .ok_or_else(|| KernelError::Corrupt("the journal is empty".into()))?;
    let record = |seq: u64| -> Result<Record> {
        let bytes = store
            .record(seq)?
            .ok_or_else(|| KernelError::Corrupt(format!("record {seq} is missing")))?;
        Record::decode(&bytes)
    };
    let RecordBody::Genesis(genesis) = record(0)?.body else {
        return Err(KernelError::Corrupt("record 0 is not genesis".into()));
    };
    let mut checkpoints = Vec::new();
    for seq in store.checkpoints()? {
        if let RecordBody::Checkpoint(body) = record(seq)?.body {
            checkpoints.push(CheckpointInfo {
                seq,
                height: body.height,
                hash: claim_of(&genesis.did, &body).hash(),
            });
        }
    }
    let manifest_hash = match store.meta(crate::world::META_MANIFEST)? {
        Some(bytes) => Hash(
            bytes
                .as_slice()
                .try_into()
                .map_err(|_| KernelError::Corrupt("metadata `manifest` is not a hash".into()))?,
        ),
        None => genesis.manifest_hash,
    };
    let store_bytes = std::fs::metadata(&db_path)
        .map_err(|e| KernelError::io(&db_path, e))?
        .len();
    Ok(WorldInfo {
        did: genesis.did,
        parent: genesis.parent,
        head,
        manifest_hash,
        config: genesis.config,
        checkpoints,
        has_key: key_path.is_file(),
        store_bytes,
    })
}
