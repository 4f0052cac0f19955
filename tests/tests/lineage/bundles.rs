//! Bundles: export and import round trips, every-byte and random tampering, an attacker who
//! re-seals what they changed, and imports that must leave nothing behind.

use std::io::{Cursor, Read};
use std::path::Path;

use worldline_air::Hash;
use worldline_kernel::lineage::bundle::{self, MAGIC};
use worldline_kernel::lineage::verify::{Place, verify_world};
use worldline_kernel::record::codec::MapBuilder;
use worldline_kernel::record::{Record, RecordBody};
use worldline_kernel::world::replay;
use worldline_kernel::{KernelError, World};

use crate::support::{counter_world, send_batched, send_ticks};

fn export(world: &mut World, with_key: bool) -> Vec<u8> {
    let mut bytes = Vec::new();
    bundle::export(world, &mut bytes, with_key, &mut |_| {}).unwrap();
    bytes
}

fn verify(bytes: &[u8]) -> Result<bundle::BundleReport, KernelError> {
    bundle::verify_bundle(&mut &bytes[..], None, &mut |_| {})
}

fn import(bytes: &[u8], dir: &Path) -> Result<World, KernelError> {
    let mut open = || Ok(Box::new(Cursor::new(bytes.to_vec())) as Box<dyn Read>);
    bundle::import(&mut open, dir, &mut |_| {}).map(|(_, world)| world)
}

/// A world of a few hundred records with checkpoints along the way, exported.
fn small_bundle(dir: &Path) -> Vec<u8> {
    let mut world = counter_world(dir, 50);
    send_ticks(&mut world, 300);
    let bytes = export(&mut world, false);
    drop(world);
    replay(dir).unwrap();
    bytes
}

#[test]
fn export_import_round_trip_keeps_the_did_and_replays() {
    let scratch = tempfile::tempdir().unwrap();
    let mut world = counter_world(&scratch.path().join("a"), 50);
    send_ticks(&mut world, 120);
    let root = world.states().root();
    let plain = export(&mut world, false);
    let keyed = export(&mut world, true);
    let report = verify(&plain).unwrap();
    assert_eq!(report.header.did, world.did());
    assert_eq!(report.header.height, world.head().seq);
    assert_eq!(
        report.verify.last_checkpoint.unwrap().0 + 1,
        world.head().seq,
        "export signs its head"
    );
    assert!(!report.header.with_key && verify(&keyed).unwrap().header.with_key);

    // Without the key the world continues (same DID, same state) but cannot sign.
    let b = scratch.path().join("b");
    let mut imported = import(&plain, &b).unwrap();
    assert_eq!(
        (imported.did(), imported.head()),
        (world.did(), world.head())
    );
    assert_eq!(imported.states().root(), root);
    assert!(!imported.can_sign());
    send_ticks(&mut imported, 3);
    assert_eq!(imported.checkpoint().unwrap(), None);
    drop(imported);
    replay(&b).unwrap();
    verify_world(&b, Some(world.did()), &mut |_| {}).unwrap();

    // With the key, the lineage goes on from the exporter's last checkpoint.
    let c = scratch.path().join("c");
    let mut continued = import(&keyed, &c).unwrap();
    assert!(continued.can_sign());
    let before = continued.last_checkpoint();
    send_ticks(&mut continued, 3);
    continued.checkpoint().unwrap().unwrap();
    drop(continued);
    let report = verify_world(&c, Some(world.did()), &mut |_| {}).unwrap();
    assert!(report.last_checkpoint.unwrap().0 > before.unwrap().0);
    replay(&c).unwrap();
}

#[test]
fn every_single_byte_flip_of_a_small_bundle_is_detected() {
    let scratch = tempfile::tempdir().unwrap();
    let bytes = small_bundle(&scratch.path().join("a"));
    let report = verify(&bytes).unwrap();
    assert!(report.verify.records >= 300, "{}", report.verify.records);
    assert!(report.verify.checkpoints >= 5);
    let workers = 2;
    std::thread::scope(|scope| {
        for worker in 0..workers {
            let bytes = &bytes;
            scope.spawn(move || {
                let mut copy = bytes.clone();
                for at in (worker..copy.len()).step_by(workers) {
                    copy[at] ^= 0xff;
                    assert!(verify(&copy).is_err(), "flipping byte {at} went unnoticed");
                    copy[at] ^= 0xff;
                }
            });
        }
    });
}

#[test]
fn ten_thousand_random_flips_of_a_large_bundle_are_detected() {
    let scratch = tempfile::tempdir().unwrap();
    let mut world = counter_world(&scratch.path().join("a"), 1000);
    send_batched(&mut world, 5_000);
    let bytes = export(&mut world, false);
    let report = verify(&bytes).unwrap();
    assert!(report.verify.records > 5_000 && bytes.len() > 1_000_000);
    drop(world);
    replay(&scratch.path().join("a")).unwrap();
    // A fixed xorshift sequence: the same flips every run, spread over the whole file.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut positions = Vec::with_capacity(10_000);
    for _ in 0..10_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        positions.push((state % bytes.len() as u64) as usize);
    }
    std::thread::scope(|scope| {
        for chunk in positions.chunks(positions.len() / 2) {
            let bytes = &bytes;
            scope.spawn(move || {
                let mut copy = bytes.clone();
                for &at in chunk {
                    copy[at] ^= 0x01;
                    assert!(
                        verify(&copy).is_err(),
                        "flipping a bit of byte {at} went unnoticed"
                    );
                    copy[at] ^= 0x01;
                }
            });
        }
    });
}

/// A bundle's frames: `(kind, body)`.
fn frames(bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    assert_eq!(&bytes[..8], MAGIC);
    let mut out = Vec::new();
    let mut at = 8;
    while at < bytes.len() {
        let length = u32::from_be_bytes(bytes[at + 1..at + 5].try_into().unwrap()) as usize;
        out.push((bytes[at], bytes[at + 5..at + 5 + length].to_vec()));
        at += 5 + length;
    }
    out
}

/// Writes frames back as an attacker would: the end frame's counts and digest recomputed.
fn reseal(frames: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    let (mut records, mut objects) = (0u64, 0u64);
    for (kind, body) in frames.iter().filter(|(kind, _)| *kind != b'E') {
        records += u64::from(*kind == b'R');
        objects += u64::from(*kind == b'O');
        out.push(*kind);
        out.extend((body.len() as u32).to_be_bytes());
        out.extend(body);
    }
    let mut end = MapBuilder::new();
    end.uint("records", records);
    end.uint("objects", objects);
    end.hash("digest", &Hash::of(&out));
    let end = end.finish();
    out.push(b'E');
    out.extend((end.len() as u32).to_be_bytes());
    out.extend(end);
    out
}

/// Rewrites record `seq` with `change` and re-seals (a bundle ships no chain hashes: the
/// verifier recomputes them).
fn with_record_changed(bytes: &[u8], seq: u64, change: impl Fn(&mut Record)) -> Vec<u8> {
    let mut all = frames(bytes);
    let mut records = all.iter_mut().filter(|(kind, _)| *kind == b'R');
    let (_, body) = records.nth(seq as usize).unwrap();
    let mut record = Record::decode(body).unwrap();
    change(&mut record);
    *body = record.encode();
    reseal(&all)
}

fn failure_place(result: Result<bundle::BundleReport, KernelError>) -> (Place, String) {
    match result {
        Err(KernelError::Unverified { place, reason }) => (place, reason),
        Err(other) => panic!("not a verify failure: {other}"),
        Ok(_) => panic!("the tampered bundle verified"),
    }
}

#[test]
fn a_resealed_bundle_still_fails_where_the_lineage_breaks() {
    let scratch = tempfile::tempdir().unwrap();
    let bytes = small_bundle(&scratch.path().join("a"));
    assert_eq!(
        reseal(&frames(&bytes)),
        bytes,
        "resealing an untouched bundle changes nothing"
    );
    // An event's value changed: the chain moves, and the next checkpoint no longer covers it.
    let changed = with_record_changed(&bytes, 1, |record| {
        if let RecordBody::DomainEvent { value, .. } = &mut record.body {
            *value = vec![
                0xa1, 0x64, b'$', b't', b'a', b'g', 0x64, b'T', b'i', b'c', b'k',
            ];
        }
    });
    let (place, reason) = failure_place(verify(&changed));
    assert!(
        matches!(place, Place::Record(seq) if seq > 1),
        "{place}: {reason}"
    );
    assert!(reason.contains("head_record_hash"), "{reason}");
    // A checkpoint's claim changed: its signature no longer holds.
    let report = verify(&bytes).unwrap();
    let (height, _) = report.verify.last_checkpoint.unwrap();
    let changed = with_record_changed(&bytes, height + 1, |record| {
        if let RecordBody::Checkpoint(c) = &mut record.body {
            c.state_root = Hash::of(b"other");
        }
    });
    let (place, reason) = failure_place(verify(&changed));
    assert_eq!(place, Place::Record(height + 1));
    assert!(reason.contains("signature"), "{reason}");
    // Records cut off after the last checkpoint, header left claiming the old head.
    let mut cut = frames(&bytes);
    let last_record = cut.iter().rposition(|(kind, _)| *kind == b'R').unwrap();
    cut.remove(last_record);
    let (place, _) = failure_place(verify(&reseal(&cut)));
    assert!(
        matches!(place, Place::Bundle(_) | Place::Record(_)),
        "{place}"
    );
    // A CAS object swapped for other bytes under the same name.
    let mut swapped = frames(&bytes);
    let object = swapped.iter_mut().find(|(kind, _)| *kind == b'O').unwrap();
    let last = object.1.len() - 1;
    object.1[last] ^= 1;
    let (place, _) = failure_place(verify(&reseal(&swapped)));
    assert!(matches!(place, Place::Object(_)), "{place}");
}

#[test]
fn a_refused_import_leaves_nothing_behind() {
    let scratch = tempfile::tempdir().unwrap();
    let bytes = small_bundle(&scratch.path().join("a"));
    let target = scratch.path().join("b");
    let mut bad = bytes.clone();
    let middle = bad.len() / 2;
    bad[middle] ^= 0x10;
    assert!(import(&bad, &target).is_err());
    assert!(!target.join(".world").exists() && !target.join(".world-import").exists());
    assert!(
        import(&bytes[..bytes.len() - 1], &target).is_err(),
        "a truncated bundle"
    );
    assert!(!target.join(".world").exists());
    // Into an existing world: refused, the world untouched.
    let world = import(&bytes, &target).unwrap();
    let head = world.head();
    drop(world);
    let error = import(&bytes, &target).err().unwrap();
    assert!(error.to_string().contains("already a world"), "{error}");
    assert_eq!(World::open(&target).unwrap().head(), head);
}

/// A bundle cut short anywhere (a full disk during export, a copy interrupted) is refused by
/// verify and by import, and an import of it writes nothing: every length from 0 to one byte
/// short, on a bundle of a few KB.
#[test]
fn every_truncation_of_a_small_bundle_is_refused_and_writes_nothing() {
    let scratch = tempfile::tempdir().unwrap();
    let mut world = counter_world(&scratch.path().join("a"), 8);
    send_ticks(&mut world, 12);
    let bytes = export(&mut world, true);
    drop(world);
    assert!(bytes.len() < 64 << 10, "{} bytes", bytes.len());
    verify(&bytes).unwrap();
    let target = scratch.path().join("b");
    for len in 0..bytes.len() {
        let cut = &bytes[..len];
        assert!(
            verify(cut).is_err(),
            "verify accepted {len} of {} bytes",
            bytes.len()
        );
        let error = import(cut, &target).err();
        assert!(
            error.is_some(),
            "import accepted {len} of {} bytes",
            bytes.len()
        );
        assert!(
            !target.join(".world").exists() && !target.join(".world-import").exists(),
            "import of {len} bytes left something behind"
        );
    }
    import(&bytes, &target).unwrap();
}

#[test]
fn receipts_are_verified_under_their_adapters_journaled_keys() {
    use worldline_adapters::{Host, HostOptions, Quiescence};
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("blob-echo");
    let world = worldline_cli::world_cmd::create_world(
        &dir,
        &worldline_tests::world::repo().join("worlds/blob-echo"),
        &[],
        Default::default(),
    )
    .unwrap();
    let mut host = Host::start(world, HostOptions::default()).unwrap();
    // base64 of "hello, blob"
    let start = serde_json::json!({"Start": {"data": "aGVsbG8sIGJsb2I="}});
    let event = host
        .world()
        .event_from_json("demo/BlobEchoEvent@1", &start)
        .unwrap();
    host.submit(vec![event]).unwrap();
    let quiet = host
        .run_until_quiescent(std::time::Duration::from_secs(10))
        .unwrap();
    assert_eq!(quiet, Quiescence::Quiet);
    let mut world = host.into_world();
    let bytes = export(&mut world, false);
    let report = verify(&bytes).unwrap();
    assert_eq!(report.verify.receipts, 2, "blob.put and blob.get");
    let receipt_seq = worldline_tests::world::records(&world)
        .iter()
        .find(|r| matches!(r.body, RecordBody::Receipt(_)))
        .unwrap()
        .seq;
    drop(world);
    verify_world(&dir, None, &mut |_| {}).unwrap();
    replay(&dir).unwrap();
    for change in [
        (|r: &mut worldline_kernel::record::ReceiptBody| r.signature[0] ^= 1) as fn(&mut _),
        |r| r.status = "error".into(),
        |r| r.finished_ns += 1,
    ] {
        let changed = with_record_changed(&bytes, receipt_seq, |record| {
            if let RecordBody::Receipt(receipt) = &mut record.body {
                change(receipt);
            }
        });
        let (place, reason) = failure_place(verify(&changed));
        assert_eq!(place, Place::Record(receipt_seq));
        assert!(reason.contains("adapter"), "{reason}");
    }
}
