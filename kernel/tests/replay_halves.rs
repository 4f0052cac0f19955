//! A journal of `PARALLEL_RECORDS_MIN` records or more replays in two halves at once, split at
//! the snapshot pointer nearest its middle (`world/replay.rs`). The second half starts from the
//! snapshot that pointer names, so the first half must reproduce the pointer record byte for
//! byte: a snapshot swapped by someone who can rewrite the store (and re-chain every record
//! after it) is caught at the pointer's seq.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::{create, ingress, repo, wat};
use worldline_air::Hash;
use worldline_kernel::config::WorldConfig;
use worldline_kernel::record::{Record, RecordBody, chain_hash};
use worldline_kernel::store::{Batch, RedbStore, Store};
use worldline_kernel::world::{PARALLEL_RECORDS_MIN, replay};
use worldline_kernel::{KernelError, World};

/// Counter inputs sent (a Start, then Ticks): each is one record, so with the snapshots the
/// journal passes `PARALLEL_RECORDS_MIN`.
const INPUTS: u64 = 20_500;
const SNAPSHOT_EVERY: u64 = 1_000;

/// A counter world (the WAT reducer) with [`INPUTS`] inputs, sent 1,000 to a submit. Without
/// its key (`signed` false) the world writes no checkpoints, so a forger need not re-sign any.
fn long_counter(dir: &Path, signed: bool) -> World {
    let config = WorldConfig {
        snapshot_every: SNAPSHOT_EVERY,
        ..WorldConfig::default()
    };
    let mut world = create(
        dir,
        &repo().join("worlds/counter/air"),
        &[("demo/CounterSM@1", wat("counter.wat"))],
        config,
    );
    if !signed {
        drop(world);
        std::fs::remove_file(dir.join(".world/key")).unwrap();
        world = World::open(dir).unwrap();
    }
    let start = world
        .event_from_json(
            "demo/CounterEvent@1",
            &serde_json::json!({"Start": {"target": 1_000_000_000u64}}),
        )
        .unwrap();
    let tick = world
        .event_from_json("demo/CounterEvent@1", &serde_json::json!("Tick"))
        .unwrap();
    for from in (0..INPUTS).step_by(1000) {
        let batch = (from..(from + 1000).min(INPUTS))
            .map(|n| {
                (
                    if n == 0 { start.clone() } else { tick.clone() },
                    ingress(n + 1),
                )
            })
            .collect();
        world.submit(batch, true).unwrap();
    }
    assert!(world.head().seq >= PARALLEL_RECORDS_MIN);
    world
}

/// Every stored record from `from` on.
fn records_from(store: &dyn Store, from: u64) -> Vec<(u64, Vec<u8>, Hash)> {
    let mut all = Vec::new();
    loop {
        let page = store.records(from + all.len() as u64, 10_000).unwrap();
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}

fn snapshot_of(bytes: &[u8]) -> Option<Hash> {
    match Record::decode(bytes).unwrap().body {
        RecordBody::SnapshotPointer { snapshot_hash, .. } => Some(snapshot_hash),
        _ => None,
    }
}

#[test]
fn a_long_journal_replays_in_two_halves_to_the_live_state() {
    let scratch = tempfile::tempdir().unwrap();
    let world = long_counter(scratch.path(), true);
    let (head, root) = (world.head().seq, world.states().root());
    let inputs = records_from(world.store(), 0)
        .iter()
        .filter(|(_, bytes, _)| Record::decode(bytes).unwrap().is_input())
        .count() as u64;
    drop(world);
    let report = replay(scratch.path()).unwrap();
    assert_eq!(report.records, head + 1);
    assert_eq!(report.inputs, inputs);
    assert_eq!(report.state_root, root);
}

#[test]
fn a_snapshot_swapped_at_the_split_is_caught_at_its_pointer() {
    let scratch = tempfile::tempdir().unwrap();
    let world = long_counter(scratch.path(), false);
    let head = world.head().seq;
    drop(world);
    let mut store = RedbStore::open(&scratch.path().join(".world/world.redb")).unwrap();
    let journal = records_from(&store, 0);
    // The pointer replay splits at (the newest at or before the middle) and the one before it,
    // whose snapshot is a real, older state: the forger's substitute.
    let pointers: Vec<(u64, Hash)> = journal
        .iter()
        .filter(|(seq, _, _)| *seq <= head / 2)
        .filter_map(|(seq, bytes, _)| snapshot_of(bytes).map(|hash| (*seq, hash)))
        .collect();
    let [.., (_, older), (split, _)] = pointers[..] else {
        panic!("fewer than two snapshots before the middle")
    };
    let mut forged = Record::decode(&journal[split as usize].1).unwrap();
    let RecordBody::SnapshotPointer { snapshot_hash, .. } = &mut forged.body else {
        unreachable!()
    };
    *snapshot_hash = older;
    // Rewrite the pointer and re-chain every record after it, as someone with the file would.
    let mut prev = journal[split as usize - 1].2;
    let mut batch = Batch::default();
    for (seq, bytes, _) in &journal[split as usize..] {
        let bytes = if *seq == split {
            forged.encode()
        } else {
            bytes.clone()
        };
        let hash = chain_hash(&prev, &bytes);
        batch.records.push((*seq, bytes, hash));
        prev = hash;
    }
    store.commit(&batch, true).unwrap();
    drop(store);
    // The world still opens (from its newest snapshot, past the forgery); replay does not.
    drop(World::open(scratch.path()).unwrap());
    match replay(scratch.path()) {
        Err(KernelError::Diverged { seq, reason }) => {
            assert_eq!(seq, split, "{reason}");
            assert!(reason.contains("snapshot record differs"), "{reason}");
        }
        other => panic!("expected a divergence at seq {split}, got {other:?}"),
    }
}
