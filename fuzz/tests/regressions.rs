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

/// Second libFuzzer run: `d9d9f7 d9d9f7 a0` decodes (the first tag dropped) to
/// `Tag(55799, {})`, whose canonical bytes are the input again, but whose untagged body
/// `d9d9f7 a0` decodes to `{}`. The target no longer compares items decoded from the body.
#[test]
fn cbor_double_self_describe_tag() {
    let bytes = input("cbor_decode", "regress-double-self-describe.cbor");
    assert_eq!(bytes, [0xd9, 0xd9, 0xf7, 0xd9, 0xd9, 0xf7, 0xa0]);
    worldline_fuzz::targets::cbor_decode(&bytes);
}

/// Ten-minute run: a map whose keys are two maps with the same entries in different orders.
/// The decoder compared keys as decoded items, which differ, so it accepted the map, and
/// re-encoding then found the duplicate. A real decoder bug (it promises to refuse duplicate
/// keys): keys are now compared by their canonical bytes.
#[test]
fn cbor_map_keys_equal_only_in_canonical_form_are_duplicates() {
    let bytes = input("cbor_decode", "regress-map-keys-in-another-order.cbor");
    assert!(worldline_air::cbor::decode(&bytes).is_err());
    worldline_fuzz::targets::cbor_decode(&bytes);
}
