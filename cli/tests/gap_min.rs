//! `--gap-min-ms`: a host told a shorter threshold journals a gap that the default (one minute)
//! would not. The clock is moved with `WORLDLINE_CLOCK_OFFSET_MS`; the world is replayed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{world, world_with_env};

use worldline_adapters::clock::CLOCK_OFFSET_ENV;
use worldline_kernel::World;
use worldline_kernel::record::RecordBody;

fn gaps(dir: &std::path::Path) -> Vec<(u64, u64)> {
    let world = World::open(dir).unwrap();
    let count = usize::try_from(world.head().seq + 1).unwrap();
    world
        .records(0, count)
        .unwrap()
        .into_iter()
        .filter_map(|(r, _)| match r.body {
            RecordBody::Gap { from_ns, to_ns } => Some((from_ns, to_ns)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_shorter_gap_threshold_journals_a_gap_the_default_would_not() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("counter");
    let d = dir.to_str().unwrap();
    let (code, _, stderr) = world(&["new", d, "--air", "worlds/counter"]);
    assert_eq!(code, 0, "{stderr}");
    let send = |offset_ms: &str, extra: &[&str]| {
        let mut args = vec![
            "send",
            d,
            "demo/CounterEvent@1",
            r#"{"Start": {"target": 3}}"#,
        ];
        args.extend_from_slice(extra);
        let (code, stdout, stderr) = world_with_env(&args, &[(CLOCK_OFFSET_ENV, offset_ms)]);
        assert_eq!(code, 0, "{stderr}");
        stdout
    };
    send("0", &[]);
    // 20 s of silence: under the default minute, nothing.
    send("20000", &[]);
    assert!(gaps(&dir).is_empty());
    // 20 s more with a 10 s threshold: a gap, from the last input to now.
    let stdout = send("40000", &["--gap-min-ms", "10000"]);
    let found = gaps(&dir);
    assert_eq!(found.len(), 1, "{stdout}");
    let (from_ns, to_ns) = found[0];
    assert!(to_ns - from_ns >= 20_000_000_000, "{found:?}");
    assert!(to_ns - from_ns < 60_000_000_000, "{found:?}");
    // The threshold is not in the journal: replay needs no flag.
    let (code, stdout, stderr) = world(&["replay", d]);
    assert_eq!(code, 0, "{stdout}{stderr}");
}
