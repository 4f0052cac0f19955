//! Governance through the kernel API on `worlds/safe-upgrade`: a shadow run leaves everything
//! live byte-identical but the one record it appends, even with a plan instance waiting and an
//! intent open; every world here is replayed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::json;
use worldline_air::Name;
use worldline_air::patch::derive;
use worldline_kernel::config::WorldConfig;
use worldline_kernel::world::{ShadowInput, replay};
use worldline_kernel::{CreateOptions, Ingress, World};
use worldline_tests::sources::air_sources;
use worldline_tests::world::repo;

fn ingress(n: u8) -> Ingress {
    Ingress {
        now_ns: 1_800_000_000_000_000_000 + u64::from(n) * 1_000_000,
        entropy: [n; 32],
    }
}

fn wasm(package: &str) -> Vec<u8> {
    worldline_cli::modules::build_package(&repo().join("modules"), package).unwrap()
}

fn ledger() -> Name {
    Name::parse("upgrade/Ledger@1").unwrap()
}

fn create(dir: &Path) -> World {
    let air = air_sources(&repo().join("worlds/safe-upgrade/v1/air"));
    let options = CreateOptions {
        config: WorldConfig::default(),
        seed: [3; 32],
        ingress: ingress(0),
    };
    let binaries = BTreeMap::from([(ledger(), wasm("safe-upgrade-v1"))]);
    World::create(dir, &air, binaries, options).unwrap()
}

/// Everything live that a shadow must not touch, as comparable bytes and values.
fn live_view(world: &World) -> (worldline_air::Hash, String, String, u64) {
    (
        world.states().root(),
        format!("{:?}", world.open_intents()),
        format!("{:?}", world.plans()),
        world.head().seq,
    )
}

#[test]
fn a_shadow_changes_nothing_live_but_its_one_record() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("w");
    let mut world = create(&dir);
    let fetched = json!({"Fetched": {"url": "http://127.0.0.1:9/a", "status": 200, "version": 1}});
    let event = world.event_from_json("upgrade/Event@1", &fetched).unwrap();
    world.submit(vec![(event, ingress(1))], true).unwrap();
    // A request whose plan emits an intent nobody answers: an open intent and a waiting plan.
    let request = json!({"url": "http://127.0.0.1:9/waiting"});
    let event = world
        .event_from_json("upgrade/Request@1", &request)
        .unwrap();
    world.submit(vec![(event, ingress(2))], true).unwrap();
    assert_eq!(world.open_intents().len(), 1);
    assert_eq!(world.plans().len(), 1);

    let v2 = air_sources(&repo().join("worlds/safe-upgrade/v2/air"));
    let v2_wasm = wasm("safe-upgrade-v2");
    let options = worldline_air::plane::BuildOptions {
        require_hashes: false,
        module_hashes: BTreeMap::from([(ledger(), worldline_air::Hash::of(&v2_wasm))]),
    };
    let target = worldline_air::load::load_sources(&v2, &options).unwrap();
    let doc = derive(world.plane(), &target);
    let proposed = world
        .propose(&doc, vec![v2_wasm], None, ingress(3))
        .unwrap();
    assert_eq!(
        proposed.candidate,
        target.manifest_hash(),
        "derive + compile round-trips"
    );

    let before = live_view(&world);
    let (report, seq) = world
        .shadow(proposed.id, ShadowInput::ReplayLast(10), ingress(4))
        .unwrap();
    let after = live_view(&world);
    assert_eq!(seq, before.3 + 1);
    assert_eq!(
        (&before.0, &before.1, &before.2),
        (&after.0, &after.1, &after.2)
    );
    assert_eq!(after.3, before.3 + 1, "exactly one record");
    assert_eq!(report.inputs.count, 2);
    assert!(!report.divergence.is_empty());
    let reread = world
        .shadow_report(&worldline_air::Hash::of(
            &worldline_air::cbor::json_canonical_bytes(&serde_json::to_value(&report).unwrap())
                .unwrap(),
        ))
        .unwrap();
    assert_eq!(reread, report, "the journaled report is the one returned");
    drop(world);
    replay(&dir).unwrap();
}
