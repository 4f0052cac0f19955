//! Identity and lineage end to end: DIDs, checkpoints, verify, bundles (export, import,
//! tampering) and forks, on real worlds (redb files, wasmtime, signatures).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bundles;
mod forks;
mod support;

use serde_json::json;
use worldline_air::Hash;
use worldline_kernel::KernelError;
use worldline_kernel::World;
use worldline_kernel::identity::{WorldKey, public_from_did};
use worldline_kernel::lineage::checkpoint::{CheckpointClaim, claim_of};
use worldline_kernel::lineage::verify::{Place, verify_world};
use worldline_kernel::record::{Record, RecordBody, chain_hash};
use worldline_kernel::store::{Batch, RedbStore, Store};
use worldline_kernel::world::replay;
use worldline_tests::conformance::conformance_dir;
use worldline_tests::world::records;

use support::{counter_world, send_ticks, world_key};

#[test]
fn dids_match_the_conformance_known_answers() {
    let Some(dir) = conformance_dir("dids_match_the_conformance_known_answers") else {
        return;
    };
    let text = std::fs::read_to_string(dir.join("did-key.json")).unwrap();
    let cases: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    assert!(!cases.is_empty());
    for case in cases {
        let seed = worldline_air::cbor::from_hex(case["ed25519_secret_seed_hex"].as_str().unwrap())
            .unwrap();
        let key = WorldKey::from_seed(seed.try_into().unwrap());
        let label = &case["label"];
        assert_eq!(json!(key.did()), case["did"], "{label}");
        assert_eq!(
            json!(worldline_air::cbor::to_hex(&key.public())),
            case["ed25519_public_hex"],
            "{label}"
        );
        assert_eq!(
            public_from_did(&key.did()).unwrap(),
            key.public(),
            "{label}"
        );
        assert!(key.did().starts_with("did:key:z6Mk"), "{label}");
    }
}

#[test]
fn checkpoints_chain_from_genesis_and_verify() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("w");
    let mut world = counter_world(&dir, 10);
    send_ticks(&mut world, 45);
    let checkpoint_seq = world
        .checkpoint()
        .unwrap()
        .expect("the head is not a checkpoint yet");
    assert_eq!(world.checkpoint().unwrap(), None, "the head already is one");
    let did = world.did().to_owned();
    let mut prev = Hash::ZERO;
    let mut heights = Vec::new();
    let all = records(&world);
    for record in &all {
        if let RecordBody::Checkpoint(c) = &record.body {
            assert_eq!(c.height + 1, record.seq);
            assert_eq!(c.prev_checkpoint_hash, prev);
            prev = claim_of(&did, c).hash();
            heights.push(c.height);
        }
    }
    // One when 10 records have been written since the last (in the commit that crosses the
    // mark), and the one asked for at the head.
    assert!(heights.len() >= 4, "{heights:?}");
    assert_eq!(*heights.last().unwrap() + 1, checkpoint_seq);
    assert_eq!(world.last_checkpoint(), Some((checkpoint_seq - 1, prev)));
    drop(world);
    let report = verify_world(&dir, Some(&did), &mut |_| {}).unwrap();
    assert_eq!(report.records, all.len() as u64);
    assert_eq!(report.checkpoints, heights.len() as u64);
    assert_eq!(report.last_checkpoint, Some((checkpoint_seq - 1, prev)));
    let other = WorldKey::from_seed([1; 32]).did();
    let wrong = verify_world(&dir, Some(&other), &mut |_| {}).unwrap_err();
    assert!(
        matches!(&wrong, KernelError::Unverified { place: Place::Record(0), reason } if reason.contains(&other)),
        "{wrong}"
    );
    // Reopening checks every checkpoint in the tail against the state it reaches; replay all.
    World::open(&dir).unwrap();
    replay(&dir).unwrap();
}

/// Appends `body` as the next record of the closed world in `dir`, chain-correct.
fn append_raw(dir: &std::path::Path, body: RecordBody) -> u64 {
    let mut store = RedbStore::open(&dir.join(".world/world.redb")).unwrap();
    let head = store.head().unwrap().unwrap();
    let record = Record {
        seq: head.seq + 1,
        causes: vec![head.seq],
        stamp: None,
        body,
    };
    let bytes = record.encode();
    let hash = chain_hash(&head.hash, &bytes);
    let mut batch = Batch::default();
    batch.records.push((record.seq, bytes, hash));
    store.commit(&batch, true).unwrap();
    record.seq
}

/// The claim a checkpoint at the head of the closed world `dir` would make.
fn claim_at_head(
    dir: &std::path::Path,
    did: &str,
    state_root: Hash,
) -> (u64, CheckpointClaim<'static>) {
    let world = World::open(dir).unwrap();
    let head = world.head();
    let claim = CheckpointClaim {
        did: Box::leak(did.to_owned().into_boxed_str()),
        height: head.seq,
        head_record_hash: head.hash,
        state_root,
        manifest_hash: world.plane().manifest_hash(),
        prev_checkpoint_hash: world.last_checkpoint().map_or(Hash::ZERO, |(_, h)| h),
    };
    (head.seq, claim)
}

#[test]
fn a_checkpoint_signed_by_another_key_fails_verify() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("w");
    let mut world = counter_world(&dir, 1000);
    send_ticks(&mut world, 5);
    let (did, root) = (world.did().to_owned(), world.states().root());
    drop(world);
    let (_, claim) = claim_at_head(&dir, &did, root);
    let seq = append_raw(
        &dir,
        RecordBody::Checkpoint(claim.sign(&WorldKey::from_seed([3; 32]))),
    );
    let error = verify_world(&dir, None, &mut |_| {}).unwrap_err();
    assert!(
        matches!(&error, KernelError::Unverified { place: Place::Record(s), reason } if *s == seq && reason.contains("signature")),
        "{error}"
    );
    assert!(
        World::open(&dir).is_err(),
        "open checks the tail's checkpoints too"
    );
}

#[test]
fn a_checkpoint_over_a_false_state_root_is_caught_by_open_and_replay() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("w");
    let mut world = counter_world(&dir, 1000);
    send_ticks(&mut world, 5);
    let did = world.did().to_owned();
    drop(world);
    // Signed by the world's own key, linked correctly: only re-execution can tell the state
    // root is false, so verify (signatures and links) passes and open and replay refuse it.
    let (_, claim) = claim_at_head(&dir, &did, Hash::of(b"not the state"));
    let seq = append_raw(&dir, RecordBody::Checkpoint(claim.sign(&world_key(&dir))));
    verify_world(&dir, None, &mut |_| {}).unwrap();
    for error in [World::open(&dir).err().unwrap(), replay(&dir).unwrap_err()] {
        assert!(
            matches!(&error, KernelError::Diverged { seq: s, reason } if *s == seq && reason.contains("state_root")),
            "{error}"
        );
    }
}
