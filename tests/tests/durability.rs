//! A `submit` that returned is durable: a process appending events one durable commit at a time
//! is killed with SIGKILL at random moments; after each kill every acknowledged event is in the
//! journal with its value, the hash chain holds, and replay passes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use worldline_tests::world::repo;

use worldline_air::Name;
use worldline_kernel::config::WorldConfig;
use worldline_kernel::record::RecordBody;
use worldline_kernel::world::replay;
use worldline_kernel::{CreateOptions, Ingress, World};

const KILLS: u64 = 6;

fn create_counter(dir: &std::path::Path) -> World {
    let air = worldline_tests::sources::air_sources(&repo().join("worlds/counter/air"));
    let wasm = wat::parse_file(repo().join("modules/wat/counter.wat")).unwrap();
    let binaries = BTreeMap::from([(Name::parse("demo/CounterSM@1").unwrap(), wasm)]);
    // Small snapshots so kills also land around snapshot writes.
    let config = WorldConfig {
        snapshot_every: 50,
        ..WorldConfig::default()
    };
    let options = CreateOptions {
        config,
        seed: [3; 32],
        ingress: Ingress {
            now_ns: 1_700_000_000_000_000_000,
            entropy: [0; 32],
        },
    };
    World::create(dir, &air, binaries, options).unwrap()
}

#[test]
fn every_acknowledged_event_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    create_counter(dir.path());
    let mut acked: BTreeMap<u64, u64> = BTreeMap::new(); // seq → target
    let mut next = 1u64;
    // Pseudo-random kill delays, fixed for reproducibility: 20..140 ms.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..KILLS {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = Duration::from_millis(20 + (state >> 33) % 120);
        let mut child = Command::new(env!("CARGO_BIN_EXE_send_loop"))
            .arg(dir.path())
            .arg(next.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<String>>()
        });
        let started = Instant::now();
        // Wait for the first acknowledgement window, then kill without warning.
        while started.elapsed() < delay {
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        for line in reader.join().unwrap() {
            let parts: Vec<&str> = line.split_whitespace().collect();
            if let ["ack", seq, target] = parts.as_slice() {
                acked.insert(seq.parse().unwrap(), target.parse().unwrap());
                next = next.max(target.parse::<u64>().unwrap() + 1);
            }
        }
        // Every acknowledged event is there, with its value.
        let world = World::open(dir.path()).expect("the world opens after SIGKILL");
        let head = world.head().seq;
        for (&seq, &target) in &acked {
            assert!(
                seq <= head,
                "acknowledged seq {seq} is beyond the head {head}"
            );
            let (record, _) = world.records(seq, 1).unwrap().remove(0);
            match record.body {
                RecordBody::DomainEvent { schema, value, .. } => {
                    assert_eq!(schema.as_str(), "demo/CounterEvent@1");
                    let json = worldline_air::Value::from_cbor_bytes(
                        &value,
                        world.plane().schema_type_of(&schema).unwrap(),
                        world.plane(),
                    )
                    .unwrap()
                    .to_plain_json();
                    assert_eq!(json["$value"]["target"], target, "seq {seq}");
                }
                other => panic!("seq {seq} is a {} record", other.kind()),
            }
        }
        drop(world);
        replay(dir.path()).expect("the hash chain holds and replay passes after SIGKILL");
    }
    assert!(
        acked.len() >= KILLS as usize,
        "each run acknowledged something ({} acks)",
        acked.len()
    );
    println!(
        "{KILLS} SIGKILLs, {} acknowledged events, all durable",
        acked.len()
    );
}

#[test]
fn a_second_writer_is_told_which_pid_holds_the_world() {
    let dir = tempfile::tempdir().unwrap();
    create_counter(dir.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_send_loop"))
        .arg(dir.path())
        .arg("1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the child has the world open (its first acknowledgement).
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(lines.next().unwrap().unwrap().starts_with("ack "));
    let error = World::open(dir.path())
        .err()
        .expect("the world is held by the child");
    let message = error.to_string();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        message.contains(&format!("world is in use by pid {}", child.id())),
        "{message}"
    );
    // Once the holder is gone, the world opens and nothing was damaged.
    drop(lines);
    World::open(dir.path()).unwrap();
    replay(dir.path()).unwrap();
}

/// Regression (found by the crash matrix, `tests/crash/`): `World::create` wrote `.world` in
/// place, so a crash before genesis was durable left a `.world` that neither opened ("the
/// journal is empty") nor let `world new` try again ("is already a world"). A world is now
/// written in `.world-new` and moved into place whole; what a crash leaves there is cleared
/// by the next creation.
#[test]
fn a_creation_that_died_leaves_no_world_and_the_next_one_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    // What a crash between the store's creation and genesis leaves behind.
    let side = dir.path().join(".world-new");
    std::fs::create_dir_all(&side).unwrap();
    drop(worldline_kernel::store::RedbStore::open(&side.join("world.redb")).unwrap());
    std::fs::write(side.join("key"), "ed25519-seed:00\n").unwrap();
    std::fs::write(side.join("lock"), "12345").unwrap();
    assert!(!worldline_kernel::world::is_world(dir.path()));
    // The world comes back open (not closed and reopened: another test's child, forked in
    // between, could hold the lock for a moment).
    let world = create_counter(dir.path());
    assert!(!side.exists(), "the dead creation's folder is cleared");
    assert!(worldline_kernel::world::is_world(dir.path()));
    assert_eq!(world.head().seq, 0);
    assert_eq!(world.records(0, 10).unwrap().len(), 1, "genesis, durable");
}
