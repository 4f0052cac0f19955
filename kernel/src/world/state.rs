//! Reducer and cell state: the in-memory map, its Merkle root, and snapshot objects.
//!
//! Each state is keyed by `(reducer, key)`, the key being the cell key's canonical CBOR (empty
//! for an unkeyed reducer). The state root is an RFC 6962-style Merkle tree over the entries in
//! key order, so one state can later be proven against a checkpoint without the rest.

use std::collections::BTreeMap;

use worldline_air::cbor::{self, Cbor};
use worldline_air::{Hash, Name};

use crate::error::{KernelError, Result};
use crate::record::codec::{self, MapBuilder, MapReader};

/// Domain tag of a state leaf.
const LEAF_TAG: &[u8] = b"worldline/state-leaf/v1";
/// Domain tag of an inner node.
const NODE_TAG: &[u8] = b"worldline/state-node/v1";
/// Domain tag of the root of no state at all.
const EMPTY_TAG: &[u8] = b"worldline/state-empty/v1";

/// `(reducer, cell key)`; the key is empty for unkeyed reducers.
pub type StateKey = (Name, Vec<u8>);

/// All states of a world.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateMap {
    states: BTreeMap<StateKey, Vec<u8>>,
}

impl StateMap {
    /// A state, if present.
    pub fn get(&self, reducer: &Name, key: &[u8]) -> Option<&Vec<u8>> {
        self.states.get(&(reducer.clone(), key.to_vec()))
    }

    /// Sets (`Some`) or deletes (`None`) a state; returns the previous value.
    pub fn set(&mut self, reducer: &Name, key: &[u8], state: Option<Vec<u8>>) -> Option<Vec<u8>> {
        let key = (reducer.clone(), key.to_vec());
        match state {
            Some(state) => self.states.insert(key, state),
            None => self.states.remove(&key),
        }
    }

    /// Every state of one reducer, in key order.
    pub fn of_reducer<'a>(
        &'a self,
        reducer: &'a Name,
    ) -> impl Iterator<Item = (&'a Vec<u8>, &'a Vec<u8>)> + 'a {
        self.states
            .range((reducer.clone(), Vec::new())..)
            .take_while(move |((r, _), _)| r == reducer)
            .map(|((_, k), v)| (k, v))
    }

    /// Every state, in `(reducer, key)` order.
    pub fn iter(&self) -> impl Iterator<Item = (&StateKey, &Vec<u8>)> {
        self.states.iter()
    }

    /// Number of states.
    pub fn len(&self) -> usize {
        self.states.len()
    }

    /// True when there is no state.
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// The Merkle root over all states.
    pub fn root(&self) -> Hash {
        let leaves: Vec<Hash> = self
            .states
            .iter()
            .map(|((reducer, key), state)| leaf_hash(reducer, key, state))
            .collect();
        merkle_root(&leaves)
    }

    /// The snapshot object: `{height, logical_now_ns, states: [[reducer, key, state_hash]…],
    /// effects, plans?, checkpoint?, governance?, manifest?}`, plus the state blobs it
    /// references (to be stored in the CAS by their hashes). The optional entries are written
    /// only when they say something (see [`SnapshotExtras`]), so the snapshots of older worlds
    /// keep their bytes. Blobs are returned only for the states `wanted` selects (those
    /// changed since the last snapshot, say: the others are in the CAS already), so a snapshot
    /// of many cells does not copy every state.
    pub fn snapshot(
        &self,
        height: u64,
        logical_now_ns: u64,
        effects: &Cbor,
        extras: &SnapshotExtras,
        wanted: impl Fn(&StateKey) -> bool,
    ) -> (Vec<u8>, Vec<(Hash, Vec<u8>)>) {
        let SnapshotExtras {
            plans,
            checkpoint,
            governance,
            manifest,
        } = extras;
        let mut entries = Vec::with_capacity(self.states.len());
        let mut blobs = Vec::new();
        for (state_key, state) in &self.states {
            let (reducer, key) = state_key;
            let state_hash = Hash::of(state);
            entries.push(Cbor::Array(vec![
                Cbor::Text(reducer.to_string()),
                Cbor::Bytes(key.clone()),
                Cbor::Bytes(state_hash.as_bytes().to_vec()),
            ]));
            if wanted(state_key) {
                blobs.push((state_hash, state.clone()));
            }
        }
        let mut list = Vec::new();
        // An array of arrays of text and bytes cannot hold a duplicate map key.
        let _ = Cbor::Array(entries).write_canonical(&mut list);
        let mut map = MapBuilder::new();
        map.uint("height", height);
        map.uint("logical_now_ns", logical_now_ns);
        map.raw("states", list);
        let mut effects_bytes = Vec::new();
        // Built by EffectsState from distinct text keys: no duplicate map key is possible.
        let _ = effects.write_canonical(&mut effects_bytes);
        map.raw("effects", effects_bytes);
        if let Some(plans) = plans {
            let mut plans_bytes = Vec::new();
            // Instances by id, their value maps keyed by distinct names: no duplicate key.
            let _ = plans.write_canonical(&mut plans_bytes);
            map.raw("plans", plans_bytes);
        }
        if let Some((checkpoint_height, checkpoint_hash)) = *checkpoint {
            let mut entry = Vec::with_capacity(45);
            cbor::write_array_head(&mut entry, 2);
            cbor::write_uint(&mut entry, checkpoint_height);
            cbor::write_bytes(&mut entry, checkpoint_hash.as_bytes());
            map.raw("checkpoint", entry);
        }
        if let Some(governance) = governance {
            map.raw("governance", governance.clone());
        }
        if let Some(manifest) = manifest {
            map.hash("manifest", manifest);
        }
        (map.finish_tagged(), blobs)
    }

    /// Rebuilds the map from a snapshot object, fetching each state blob with `blob`.
    pub fn from_snapshot(
        bytes: &[u8],
        blob: &mut dyn FnMut(&Hash) -> Result<Option<Vec<u8>>>,
    ) -> Result<Snapshot> {
        let item = codec::decode(bytes, "snapshot")?;
        let map = MapReader::new(&item, "snapshot")?;
        let height = map.uint("height")?;
        let logical_now_ns = map.uint("logical_now_ns")?;
        let Some(Cbor::Array(entries)) = map.get("states") else {
            return Err(KernelError::Corrupt(
                "snapshot: `states` is not an array".into(),
            ));
        };
        let mut states = BTreeMap::new();
        for entry in entries {
            let (reducer, key, state_hash) = match entry {
                Cbor::Array(parts) => match parts.as_slice() {
                    [Cbor::Text(reducer), Cbor::Bytes(key), Cbor::Bytes(hash)] => {
                        (reducer, key, hash)
                    }
                    _ => {
                        return Err(KernelError::Corrupt(
                            "snapshot: a malformed state entry".into(),
                        ));
                    }
                },
                _ => {
                    return Err(KernelError::Corrupt(
                        "snapshot: a state entry is not an array".into(),
                    ));
                }
            };
            let reducer =
                Name::parse(reducer).map_err(|e| KernelError::Corrupt(format!("snapshot: {e}")))?;
            let state_hash = Hash(hash_bytes(state_hash)?);
            let state = blob(&state_hash)?.ok_or_else(|| {
                KernelError::Corrupt(format!(
                    "snapshot: state {state_hash} is missing from the store"
                ))
            })?;
            if Hash::of(&state) != state_hash {
                return Err(KernelError::Corrupt(format!(
                    "snapshot: state {state_hash} does not match its hash"
                )));
            }
            states.insert((reducer, key.clone()), state);
        }
        let checkpoint = match map.get("checkpoint") {
            None => None,
            Some(Cbor::Array(parts)) => match parts.as_slice() {
                [Cbor::Unsigned(height), Cbor::Bytes(hash)] => {
                    Some((*height, Hash(hash_bytes(hash)?)))
                }
                _ => {
                    return Err(KernelError::Corrupt(
                        "snapshot: a malformed `checkpoint`".into(),
                    ));
                }
            },
            Some(_) => {
                return Err(KernelError::Corrupt(
                    "snapshot: `checkpoint` is not an array".into(),
                ));
            }
        };
        let manifest = match map.get("manifest") {
            None => None,
            Some(_) => Some(map.hash("manifest")?),
        };
        Ok(Snapshot {
            height,
            logical_now_ns,
            states: StateMap { states },
            effects: map.get("effects").cloned(),
            plans: map.get("plans").cloned(),
            checkpoint,
            governance: map.get("governance").cloned(),
            manifest,
        })
    }
}

/// A snapshot object, read back.
pub struct Snapshot {
    /// The last seq it covers.
    pub height: u64,
    /// Logical time at that seq.
    pub logical_now_ns: u64,
    /// Every reducer and cell state.
    pub states: StateMap,
    /// Open work and adapter keys (`EffectsState::to_snapshot`).
    pub effects: Option<Cbor>,
    /// Live plan instances (`PlansState::to_snapshot`), if any.
    pub plans: Option<Cbor>,
    /// Height and hash of the last checkpoint at that seq, if any.
    pub checkpoint: Option<(u64, Hash)>,
    /// Proposals (`GovState::to_snapshot`), if any were ever made.
    pub governance: Option<Cbor>,
    /// The manifest in force, when it is no longer the genesis manifest.
    pub manifest: Option<Hash>,
}

/// What a snapshot holds besides states and open work; each entry is written only when set.
#[derive(Debug, Default)]
pub struct SnapshotExtras {
    /// Live plan instances, when some are alive.
    pub plans: Option<Cbor>,
    /// Height and hash of the last checkpoint, once there is one.
    pub checkpoint: Option<(u64, Hash)>,
    /// Proposals (canonical CBOR), once there is one.
    pub governance: Option<Vec<u8>>,
    /// The manifest in force, once a proposal was applied.
    pub manifest: Option<Hash>,
}

fn hash_bytes(bytes: &[u8]) -> Result<[u8; 32]> {
    bytes
        .try_into()
        .map_err(|_| KernelError::Corrupt("snapshot: a state hash is not 32 bytes".into()))
}

/// The leaf of one state: `sha256(LEAF_TAG ‖ canonical [reducer, key, sha256(state)])`.
pub fn leaf_hash(reducer: &Name, key: &[u8], state: &[u8]) -> Hash {
    let mut leaf = Vec::with_capacity(reducer.as_str().len() + key.len() + 40);
    cbor::write_array_head(&mut leaf, 3);
    cbor::write_text(&mut leaf, reducer.as_str());
    cbor::write_bytes(&mut leaf, key);
    cbor::write_bytes(&mut leaf, Hash::of(state).as_bytes());
    Hash::of_parts(&[LEAF_TAG, &leaf])
}

/// Binary Merkle root: pairs hashed level by level, an odd node carried up unchanged.
pub fn merkle_root(leaves: &[Hash]) -> Hash {
    if leaves.is_empty() {
        return Hash::of(EMPTY_TAG);
    }
    let mut level = leaves.to_vec();
    while level.len() > 1 {
        level = next_level(&level);
    }
    level[0]
}

/// The level above: pairs hashed, an odd last node carried up unchanged.
fn next_level(level: &[Hash]) -> Vec<Hash> {
    level
        .chunks(2)
        .map(|pair| match pair {
            [left, right] => Hash::of_parts(&[NODE_TAG, left.as_bytes(), right.as_bytes()]),
            [single] => *single,
            _ => unreachable!("chunks(2) yields one or two"),
        })
        .collect()
}

/// One step of a Merkle path: the sibling's hash and which side it is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProofStep {
    /// The sibling at this level.
    pub sibling: Hash,
    /// True when the sibling is the left node of the pair.
    pub sibling_is_left: bool,
}

impl StateMap {
    /// The Merkle path from one state's leaf to [`StateMap::root`]: with the state itself and the
    /// root from a signed checkpoint, it proves the state without the others. `None` when the
    /// reducer (or cell) has no state.
    pub fn proof(&self, reducer: &Name, key: &[u8]) -> Option<Vec<ProofStep>> {
        let wanted = (reducer.clone(), key.to_vec());
        let mut index = self.states.keys().position(|k| *k == wanted)?;
        let mut level: Vec<Hash> = self
            .states
            .iter()
            .map(|((reducer, key), state)| leaf_hash(reducer, key, state))
            .collect();
        let mut steps = Vec::new();
        while level.len() > 1 {
            let sibling = index ^ 1;
            if let Some(hash) = level.get(sibling) {
                steps.push(ProofStep {
                    sibling: *hash,
                    sibling_is_left: sibling < index,
                });
            }
            level = next_level(&level);
            index /= 2;
        }
        Some(steps)
    }
}

/// True when `state` of `reducer`'s cell `key` is under `root` by the path `steps`.
pub fn proof_holds(
    reducer: &Name,
    key: &[u8],
    state: &[u8],
    steps: &[ProofStep],
    root: &Hash,
) -> bool {
    let mut hash = leaf_hash(reducer, key, state);
    for step in steps {
        hash = if step.sibling_is_left {
            Hash::of_parts(&[NODE_TAG, step.sibling.as_bytes(), hash.as_bytes()])
        } else {
            Hash::of_parts(&[NODE_TAG, hash.as_bytes(), step.sibling.as_bytes()])
        };
    }
    hash == *root
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_is_provable_alone_and_nothing_else_is() {
        for count in [1usize, 2, 3, 5, 8, 13] {
            let mut states = StateMap::default();
            let cells = name("demo/Cells@1");
            for i in 0..count {
                states.set(&cells, &[i as u8], Some(vec![i as u8; 4]));
            }
            let root = states.root();
            for i in 0..count {
                let key = [i as u8];
                let steps = states.proof(&cells, &key).unwrap();
                let state = states.get(&cells, &key).unwrap();
                assert!(
                    proof_holds(&cells, &key, state, &steps, &root),
                    "{count}/{i}"
                );
                assert!(
                    !proof_holds(&cells, &key, &[9], &steps, &root),
                    "{count}/{i}"
                );
                assert!(
                    !proof_holds(&cells, &[99], state, &steps, &root),
                    "{count}/{i}"
                );
            }
            assert!(states.proof(&cells, &[200]).is_none());
        }
    }

    fn name(text: &str) -> Name {
        Name::parse(text).unwrap()
    }

    #[test]
    fn root_depends_on_every_state_and_not_on_insertion_order() {
        let mut a = StateMap::default();
        a.set(&name("demo/A@1"), b"", Some(vec![1]));
        a.set(&name("demo/B@1"), b"k", Some(vec![2]));
        let mut b = StateMap::default();
        b.set(&name("demo/B@1"), b"k", Some(vec![2]));
        b.set(&name("demo/A@1"), b"", Some(vec![1]));
        assert_eq!(a.root(), b.root());
        b.set(&name("demo/B@1"), b"k", Some(vec![3]));
        assert_ne!(a.root(), b.root());
        b.set(&name("demo/B@1"), b"k", None);
        assert_ne!(a.root(), b.root());
        assert_eq!(StateMap::default().root(), Hash::of(EMPTY_TAG));
    }

    #[test]
    fn snapshots_round_trip() {
        let mut states = StateMap::default();
        for i in 0..5u8 {
            states.set(&name("demo/Cells@1"), &[0x61, i], Some(vec![i; 3]));
        }
        let effects = Cbor::Map(vec![(Cbor::Text("open".into()), Cbor::Array(vec![]))]);
        let (bytes, blobs) = states.snapshot(42, 7, &effects, &SnapshotExtras::default(), |_| true);
        let blobs: BTreeMap<Hash, Vec<u8>> = blobs.into_iter().collect();
        let back = StateMap::from_snapshot(&bytes, &mut |h| Ok(blobs.get(h).cloned())).unwrap();
        assert_eq!((back.height, back.logical_now_ns), (42, 7));
        assert_eq!((&back.states, back.effects), (&states, Some(effects)));
        assert!(
            StateMap::from_snapshot(&bytes, &mut |_| Ok(Some(vec![9]))).is_err(),
            "a blob must match its hash"
        );
    }
}
