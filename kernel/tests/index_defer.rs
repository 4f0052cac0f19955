//! Small commits leave their index entries to a later commit (`store/redb_store.rs`,
//! `INDEX_DEFER_RECORDS_MAX`): until written they are merged into every index read, a larger
//! commit writes them all, and a process that ends before writing them loses nothing, because
//! the next open derives them again from the records. Every world here is replayed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::{create, ingress, repo, wat};
use worldline_kernel::config::WorldConfig;
use worldline_kernel::store::{INDEX_DEFER_RECORDS_MAX, INDEX_PENDING_MAX, RedbStore, Store};
use worldline_kernel::world::replay;
use worldline_kernel::{EventInput, Ingress, World};

const SCHEMA: &str = "demo/CounterEvent@1";

fn counter(dir: &Path) -> World {
    create(
        dir,
        &repo().join("worlds/counter/air"),
        &[("demo/CounterSM@1", wat("counter.wat"))],
        WorldConfig::default(),
    )
}

/// `count` Ticks (each one record), numbered from `from` for their ingress.
fn ticks(world: &World, from: u64, count: u64) -> Vec<(EventInput, Ingress)> {
    let tick = world
        .event_from_json(SCHEMA, &serde_json::json!("Tick"))
        .unwrap();
    (from..from + count)
        .map(|n| (tick.clone(), ingress(n + 1)))
        .collect()
}

/// The seqs of the world's events of the counter schema, as its indexes give them.
fn indexed(store: &dyn Store) -> Vec<u64> {
    store.events_of_schema(SCHEMA, 0, 10_000).unwrap()
}

/// What a fresh store on the file holds in its table (nothing pending in a new instance).
fn written(dir: &Path) -> Vec<u64> {
    indexed(&RedbStore::open(&dir.join(".world/world.redb")).unwrap())
}

#[test]
fn small_commits_are_indexed_in_memory_then_written_and_rebuilt_after_a_stop() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    let mut world = counter(dir);
    let mut sent = Vec::new();
    for n in 0..5 {
        sent.extend(world.submit(ticks(&world, n, 1), true).unwrap().concat());
    }
    // Read back before anything wrote them: the pending entries answer.
    assert_eq!(indexed(world.store()), sent);
    let event = worldline_air::Hash::of_parts(&[
        &worldline_air::cbor::SELF_DESCRIBE,
        &world
            .event_from_json(SCHEMA, &serde_json::json!("Tick"))
            .unwrap()
            .value,
    ]);
    assert_eq!(world.store().event_records(&event, 100).unwrap(), sent);
    drop(world);
    // The process ended with them unwritten (as a crash would end it)...
    assert_eq!(written(dir), Vec::<u64>::new());
    // ...and the next open derives them again from the records, pending again (opening
    // writes nothing, so a world on a full disk still opens).
    let mut world = World::open(dir).unwrap();
    assert_eq!(indexed(world.store()), sent);
    drop(world);
    assert_eq!(written(dir), Vec::<u64>::new());
    // A commit of more records than the deferral allows writes its own and every pending one.
    world = World::open(dir).unwrap();
    let more = INDEX_DEFER_RECORDS_MAX as u64 + 1;
    sent.extend(world.submit(ticks(&world, 5, 1), true).unwrap().concat());
    sent.extend(world.submit(ticks(&world, 6, more), true).unwrap().concat());
    assert_eq!(indexed(world.store()), sent);
    drop(world);
    assert_eq!(written(dir), sent);
    replay(dir).unwrap();
}

#[test]
fn pending_entries_are_written_before_they_pass_their_limit() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    let mut world = counter(dir);
    // Each Tick has two index entries (its schema and its event hash).
    let singles = INDEX_PENDING_MAX as u64 / 2 + 10;
    let mut sent = Vec::new();
    for n in 0..singles {
        sent.extend(world.submit(ticks(&world, n, 1), true).unwrap().concat());
    }
    assert_eq!(indexed(world.store()), sent);
    drop(world);
    let on_disk = written(dir);
    assert!(
        on_disk.len() >= INDEX_PENDING_MAX / 2 - 1 && on_disk.len() < sent.len(),
        "{} of {} written",
        on_disk.len(),
        sent.len()
    );
    assert_eq!(on_disk[..], sent[..on_disk.len()]);
    let mut world = World::open(dir).unwrap();
    assert_eq!(indexed(world.store()), sent);
    let more = INDEX_DEFER_RECORDS_MAX as u64 + 1;
    sent.extend(
        world
            .submit(ticks(&world, singles, more), true)
            .unwrap()
            .concat(),
    );
    drop(world);
    assert_eq!(written(dir), sent);
    replay(dir).unwrap();
}

#[test]
fn a_malformed_index_position_is_one_line_naming_the_file_and_changes_nothing() {
    use worldline_kernel::store::Batch;
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    let mut world = counter(dir);
    world.submit(ticks(&world, 0, 3), true).unwrap();
    drop(world);
    let file = dir.join(".world/world.redb");
    let mut store = RedbStore::open(&file).unwrap();
    let bad = Batch {
        meta: vec![("store/indexed_below".to_owned(), vec![1, 2, 3])],
        ..Batch::default()
    };
    store.commit(&bad, true).unwrap();
    drop(store);
    let before = tables(&file);
    let error = World::open(dir)
        .err()
        .expect("a malformed position must not open")
        .to_string();
    assert_eq!(error.lines().count(), 1, "{error}");
    assert!(error.contains("world.redb"), "{error}");
    assert!(
        error.contains("`store/indexed_below` is 3 bytes"),
        "{error}"
    );
    assert_eq!(tables(&file), before, "a failed open changed the store");
}

/// Every entry of the store's journal and metadata tables, read with redb itself.
fn tables(file: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    use redb::{ReadableDatabase, ReadableTable, TableDefinition};
    let log: TableDefinition<&[u8], &[u8]> = TableDefinition::new("log");
    let meta: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
    let db = redb::Database::open(file).unwrap();
    let txn = db.begin_read().unwrap();
    let mut all = Vec::new();
    for entry in txn.open_table(log).unwrap().iter().unwrap() {
        let (key, value) = entry.unwrap();
        all.push((key.value().to_vec(), value.value().to_vec()));
    }
    for entry in txn.open_table(meta).unwrap().iter().unwrap() {
        let (key, value) = entry.unwrap();
        all.push((key.value().as_bytes().to_vec(), value.value().to_vec()));
    }
    all
}
