//! Forks: a new DID whose genesis names the parent, the parent's states at the fork, nothing
//! of the parent's history copied, and two worlds that go their own ways.

use worldline_air::Name;
use worldline_kernel::lineage::verify::verify_world;
use worldline_kernel::record::RecordBody;
use worldline_kernel::world::replay;
use worldline_kernel::{CreateOptions, KernelError, World};
use worldline_tests::world::records;

use crate::support::{counter_world, ingress, send_ticks};

fn options(seed: u8) -> CreateOptions {
    CreateOptions {
        config: Default::default(),
        seed: [seed; 32],
        ingress: ingress(1_000_000),
    }
}

fn counter_state(world: &World) -> Option<Vec<u8>> {
    world
        .states()
        .get(&Name::parse("demo/CounterSM@1").unwrap(), &[])
        .cloned()
}

#[test]
fn forks_start_from_the_parent_state_and_diverge_independently() {
    let scratch = tempfile::tempdir().unwrap();
    let parent_dir = scratch.path().join("parent");
    let mut parent = counter_world(&parent_dir, 10);
    let mut history = Vec::new();
    for _ in 0..30 {
        send_ticks(&mut parent, 1);
        history.push((parent.head().seq, counter_state(&parent)));
    }
    // At the head, and in the middle (behind a snapshot, so the state is rebuilt from it).
    let (mid_seq, mid_state) = history[16].clone();
    let all = records(&parent);
    assert!(
        all.iter()
            .any(|r| matches!(r.body, RecordBody::SnapshotPointer { .. }) && r.seq < mid_seq)
    );
    let head_fork_dir = scratch.path().join("head-fork");
    let (mut head_fork, report) = parent.fork(&head_fork_dir, None, &options(2)).unwrap();
    assert_eq!(report.parent.height, parent.head().seq);
    assert_eq!(report.parent.did, parent.did());
    assert_ne!(head_fork.did(), parent.did());
    assert_eq!(head_fork.states(), parent.states());
    assert_eq!(
        head_fork.head().seq,
        0,
        "the parent's history is not copied"
    );
    let mid_fork_dir = scratch.path().join("mid-fork");
    let (mut mid_fork, report) = parent
        .fork(&mid_fork_dir, Some(mid_seq), &options(3))
        .unwrap();
    assert_eq!(report.parent.height, mid_seq);
    assert_eq!(
        report.parent.head_hash,
        parent.records(mid_seq, 1).unwrap()[0].1
    );
    assert_eq!(counter_state(&mid_fork), mid_state);
    match &records(&mid_fork)[0].body {
        RecordBody::Genesis(genesis) => assert_eq!(genesis.parent.as_ref(), Some(&report.parent)),
        other => panic!("{}", other.kind()),
    }

    // Each goes its own way.
    let parent_root = parent.states().root();
    send_ticks(&mut head_fork, 12);
    send_ticks(&mut mid_fork, 17);
    assert_eq!(parent.states().root(), parent_root);
    assert_ne!(head_fork.states().root(), parent_root);
    send_ticks(&mut parent, 2);
    let (parent_did, head_fork_did) = (parent.did().to_owned(), head_fork.did().to_owned());
    drop((parent, head_fork, mid_fork));
    for (dir, did) in [(&parent_dir, &parent_did), (&head_fork_dir, &head_fork_did)] {
        replay(dir).unwrap();
        let report = verify_world(dir, Some(did), &mut |_| {}).unwrap();
        assert!(report.checkpoints >= 1, "{}", dir.display());
    }
    replay(&mid_fork_dir).unwrap();
    let report = verify_world(&mid_fork_dir, None, &mut |_| {}).unwrap();
    assert_eq!(report.parent.unwrap().height, mid_seq);
}

#[test]
fn a_fork_inside_an_input_records_or_past_the_head_is_refused() {
    let scratch = tempfile::tempdir().unwrap();
    let mut parent = counter_world(&scratch.path().join("parent"), 4);
    send_ticks(&mut parent, 10);
    // A snapshot pointer follows the input that crossed the mark: it belongs to that input.
    let pointer = records(&parent)
        .into_iter()
        .find(|r| matches!(r.body, RecordBody::SnapshotPointer { .. }))
        .unwrap();
    let inside = pointer.seq - 1;
    let target = scratch.path().join("fork");
    let error = parent
        .fork(&target, Some(inside), &options(2))
        .err()
        .unwrap();
    assert!(
        matches!(&error, KernelError::Rejected(m) if m.contains(&format!("fork at {}", pointer.seq))),
        "{error}"
    );
    let error = parent
        .fork(&target, Some(parent.head().seq + 1), &options(2))
        .err()
        .unwrap();
    assert!(matches!(error, KernelError::Rejected(_)), "{error}");
    assert!(
        !target.join(".world").exists(),
        "a refused fork leaves nothing"
    );
    parent
        .fork(&target, Some(pointer.seq), &options(2))
        .unwrap();
}
