#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Inputs that once made a target panic, by name. Each is also a `regress-*` corpus file, so
//! libFuzzer starts from it too.

use std::path::Path;

fn input(target: &str, name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target)
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// First libFuzzer run: a map with keys out of order (`{"b": 2, "a": 1}`) decodes with its
/// entries in written order, so the decoded item differs from the decode of its canonical
/// bytes. The target compared items; it now compares canonical bytes (a fault of the harness,
/// not of the decoder).
#[test]
fn cbor_unsorted_map_round_trips_by_canonical_bytes() {
    let bytes = input("cbor_decode", "regress-unsorted-map.cbor");
    assert_eq!(bytes, [0xa2, 0x61, 0x62, 0x02, 0x61, 0x61, 0x01]);
    worldline_fuzz::targets::cbor_decode(&bytes);
}
