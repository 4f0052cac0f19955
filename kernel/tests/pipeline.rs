//! Large submits, whose chunks commit on a second thread while the next chunk is stepped
//! (`world/pipeline.rs`): the journal is the one small submits write, an acknowledgement still
//! means durable, and a submit that fails part-way (a full disk) poisons the world, which then
//! refuses everything until it is opened again, and reopens at a chunk boundary with every
//! acknowledged event. Every world here is replayed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "../../tests/src/mount.rs"]
mod mount;

use std::path::Path;

use common::{create, ingress, repo, wat};
use mount::{Mount, fill, unprivileged};
use worldline_kernel::config::WorldConfig;
use worldline_kernel::world::replay;
use worldline_kernel::{KernelError, World};

/// Inputs per chunk of a pipelined submit (`pipeline::CHUNK_INPUTS`).
const CHUNK_INPUTS: u64 = 128;

fn counter(dir: &Path, config: WorldConfig) -> World {
    create(
        dir,
        &repo().join("worlds/counter/air"),
        &[("demo/CounterSM@1", wat("counter.wat"))],
        config,
    )
}

/// `count` counter events from input number `from` on: a Start first, then Ticks.
fn events(
    world: &World,
    from: u64,
    count: u64,
) -> Vec<(worldline_kernel::EventInput, worldline_kernel::Ingress)> {
    (from..from + count)
        .map(|n| {
            let json = if n == 0 {
                serde_json::json!({"Start": {"target": 1_000_000_000u64}})
            } else {
                serde_json::json!("Tick")
            };
            let event = world.event_from_json("demo/CounterEvent@1", &json).unwrap();
            (event, ingress(n + 1))
        })
        .collect()
}

/// Every record of the journal, bytes and chain hash.
fn journal(world: &World) -> Vec<(u64, Vec<u8>, worldline_air::Hash)> {
    let mut all = Vec::new();
    loop {
        let page = world.store().records(all.len() as u64, 10_000).unwrap();
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}

#[test]
fn a_large_submit_journals_what_small_submits_journal() {
    let scratch = tempfile::tempdir().unwrap();
    // No checkpoint inside the run (they come at the end of a submit, so their places would
    // differ); snapshots do come, inside the chunks.
    let config = WorldConfig {
        snapshot_every: 100_000,
        ..WorldConfig::default()
    };
    let (one, many) = (scratch.path().join("one"), scratch.path().join("many"));
    let total = 3 * CHUNK_INPUTS + 17;
    let mut big = counter(&one, config);
    let acked = big.submit(events(&big, 0, total), true).unwrap();
    let mut small = counter(&many, config);
    let mut acked_small = Vec::new();
    for from in (0..total).step_by(50) {
        let part = events(&small, from, 50.min(total - from));
        acked_small.extend(small.submit(part, true).unwrap());
    }
    assert_eq!(acked, acked_small);
    assert_eq!(big.head(), small.head());
    assert_eq!(big.states().root(), small.states().root());
    assert_eq!(journal(&big), journal(&small));
    let head = big.head();
    drop((big, small));
    let reopened = World::open(&one).unwrap();
    assert_eq!(reopened.head(), head);
    drop(reopened);
    replay(&one).unwrap();
    replay(&many).unwrap();
}

#[test]
fn large_submits_with_snapshots_and_checkpoints_reopen_and_replay() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("w");
    let config = WorldConfig {
        snapshot_every: 200,
        ..WorldConfig::default()
    };
    let mut world = counter(&dir, config);
    let mut sent = 0;
    for count in [CHUNK_INPUTS + 1, 1000, 5, 2 * CHUNK_INPUTS] {
        world.submit(events(&world, sent, count), true).unwrap();
        sent += count;
    }
    let (head, root) = (world.head(), world.states().root());
    drop(world);
    let reopened = World::open(&dir).unwrap();
    assert_eq!((reopened.head(), reopened.states().root()), (head, root));
    drop(reopened);
    let report = replay(&dir).unwrap();
    assert_eq!(report.state_root, root);
}

/// Most large submits tried before one must have failed part-way.
const ATTEMPTS_MAX: usize = 40;

#[test]
fn a_large_submit_that_fails_part_way_poisons_the_world_and_loses_nothing_acknowledged() {
    let test =
        "a_large_submit_that_fails_part_way_poisons_the_world_and_loses_nothing_acknowledged";
    let scratch = tempfile::tempdir().unwrap();
    let point = scratch.path().join("disk");
    let size_kib = 8 << 10;
    let disk = match Mount::tmpfs(&point, &format!("{size_kib}k")) {
        Ok(disk) => disk,
        Err(reason) => return unprivileged(test, &reason),
    };
    let dir = point.join("w");
    // No snapshot or checkpoint records: each input is exactly one record.
    let config = WorldConfig {
        snapshot_every: 1_000_000,
        ..WorldConfig::default()
    };
    let mut world = counter(&dir, config);
    let mut acked = 0;
    let mut acked_head = world.head().seq;
    let mut rolled_back = 0;
    // Space left free after filling the disk, grown after each submit that failed outright.
    let mut spare_kib = 0;
    // Fill the disk before each submit: the store has only the free pages inside its file, so
    // a chunk that fits in them commits and a later one that must grow the file fails. A
    // submit whose first chunk already fails must roll back as a single commit does.
    let (written_through, reason) = loop {
        assert!(
            rolled_back < ATTEMPTS_MAX,
            "no large submit failed part-way ({rolled_back} failed before writing anything)"
        );
        let filler = fill(&point);
        let filled = std::fs::metadata(&filler).unwrap().len();
        let spare_bytes = (spare_kib << 10).min(filled);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&filler)
            .unwrap()
            .set_len(filled - spare_bytes)
            .unwrap();
        let head = world.head();
        match world.submit(events(&world, acked, 4 * CHUNK_INPUTS), true) {
            Ok(_) => {
                acked += 4 * CHUNK_INPUTS;
                acked_head = world.head().seq;
            }
            Err(KernelError::Poisoned {
                written_through,
                reason,
            }) => break (written_through, reason),
            Err(other) => {
                assert_eq!(
                    world.head(),
                    head,
                    "a failed submit moved the head: {other}"
                );
                rolled_back += 1;
                eprintln!(
                    "attempt {rolled_back} with {spare_kib} KiB spare failed before writing anything: {other}"
                );
                spare_kib += 32;
                // redb wants to be reopened after an I/O error; the store holds what it held.
                drop(world);
                std::fs::remove_file(&filler).unwrap();
                world = World::open(&dir).unwrap();
                assert_eq!(world.head(), head, "the store moved under a failed submit");
            }
        }
    };
    assert!(
        reason.contains("No space") || reason.contains("os error 28"),
        "{reason}"
    );
    // Poisoned: nothing more goes in, with the same one-line reason.
    let refused = world.submit(events(&world, acked, 1), true).unwrap_err();
    let line = refused.to_string();
    assert!(line.starts_with("the world must be reopened: "), "{line}");
    assert_eq!(line.lines().count(), 1, "{line}");
    drop(world);
    disk.remount(&format!("size={}k", size_kib * 4)).unwrap();
    // Reopened from the store: every acknowledged input is there, and the journal ends at a
    // chunk boundary of the failed submit (each counter input is one record here).
    let world = World::open(&dir).unwrap();
    let head = world.head().seq;
    assert!(
        head >= acked_head,
        "lost acknowledged inputs: head {head} < {acked_head}"
    );
    assert!(
        head <= written_through,
        "head {head} past what was written ({written_through})"
    );
    assert_eq!(
        (head - acked_head) % CHUNK_INPUTS,
        0,
        "head {head} is not at a chunk boundary"
    );
    let root = world.states().root();
    drop(world);
    assert_eq!(replay(&dir).unwrap().state_root, root);
    let mut world = World::open(&dir).unwrap();
    let from = world.head().seq;
    world
        .submit(events(&world, from, 2 * CHUNK_INPUTS), true)
        .unwrap();
    drop(world);
    replay(&dir).unwrap();
}
