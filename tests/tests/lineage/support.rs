//! Worlds for the lineage tests: the counter with its hand-written WAT reducer (a 2.5 KB
//! binary keeps bundles small enough to flip every byte of).

use std::path::Path;

use serde_json::json;
use worldline_kernel::config::WorldConfig;
use worldline_kernel::identity::WorldKey;
use worldline_kernel::{Ingress, World};
use worldline_tests::world::repo;

/// The counter world in `dir`, snapshots (and so checkpoints) every `snapshot_every` records.
pub fn counter_world(dir: &Path, snapshot_every: u64) -> World {
    let module = format!(
        "demo/CounterSM@1={}",
        repo().join("modules/wat/counter.wat").display()
    );
    worldline_cli::world_cmd::create_world(
        dir,
        &repo().join("worlds/counter"),
        &[module],
        WorldConfig {
            snapshot_every,
            ..WorldConfig::default()
        },
    )
    .unwrap()
}

/// A fixed stamp per input, so runs are reproducible.
pub fn ingress(n: u64) -> Ingress {
    Ingress {
        now_ns: 1_900_000_000_000_000_000 + n * 1_000,
        entropy: [(n % 251) as u8; 32],
    }
}

/// The `i`th event of a run: a Start every eighth, Ticks between.
fn counter_event(world: &World, i: u64) -> worldline_kernel::EventInput {
    let event = if i.is_multiple_of(8) {
        json!({"Start": {"target": 5}})
    } else {
        json!("Tick")
    };
    world
        .event_from_json("demo/CounterEvent@1", &event)
        .unwrap()
}

/// Sends `count` events (a Start then Ticks), one durable commit each.
pub fn send_ticks(world: &mut World, count: u64) {
    for i in 0..count {
        let input = counter_event(world, i);
        let n = world.head().seq + 1;
        world.submit(vec![(input, ingress(n))], true).unwrap();
    }
}

/// Sends `count` events in batches of 1,000 per commit (for large worlds).
pub fn send_batched(world: &mut World, count: u64) {
    let mut sent = 0;
    while sent < count {
        let batch = (count - sent).min(1000);
        let inputs = (0..batch)
            .map(|i| (counter_event(world, sent + i), ingress(sent + i)))
            .collect();
        world.submit(inputs, false).unwrap();
        sent += batch;
    }
}

/// The world key as its key file holds it.
pub fn world_key(dir: &Path) -> WorldKey {
    let text = std::fs::read_to_string(dir.join(".world/key")).unwrap();
    let hex = text.trim().strip_prefix("ed25519-seed:").unwrap();
    let seed = worldline_air::cbor::from_hex(hex).unwrap();
    WorldKey::from_seed(seed.try_into().unwrap())
}
