//! The counter through its `step` entry point, with input envelopes built byte by byte per
//! spec/abi.md and values in canonical CBOR (spec/encoding.md).

use worldline_sdk::envelope::{EventEntry, StepInput, StepOutput};
use worldline_sdk::from_cbor;

use super::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// A CBOR byte-string head for `n` bytes (n < 256).
fn bstr_head(n: usize) -> Vec<u8> {
    if n < 24 {
        vec![0x40 | n as u8]
    } else {
        vec![0x58, n as u8]
    }
}

/// The input envelope exactly as the host writes it (canonical, no self-describe tag):
/// {"event": {"value": h'…', "schema": "demo/CounterEvent@1"}, "state": h'…' / null,
/// "version": 1} with keys in canonical order.
fn envelope(state: Option<&[u8]>, event: &[u8]) -> Vec<u8> {
    let mut out = hex("a3 65 6576656e74 a2 65 76616c7565");
    out.extend(bstr_head(event.len()));
    out.extend_from_slice(event);
    out.extend(hex("66 736368656d61 73"));
    out.extend_from_slice(b"demo/CounterEvent@1");
    out.extend(hex("65 7374617465"));
    match state {
        Some(s) => {
            out.extend(bstr_head(s.len()));
            out.extend_from_slice(s);
        }
        None => out.push(0xf6),
    }
    out.extend(hex("67 76657273696f6e 01"));
    out
}

/// {"$tag": "Start", "$value": {"target": n}} for n < 24.
fn start(n: u8) -> Vec<u8> {
    let mut v = hex("a2 64 24746167 65 5374617274 66 2476616c7565 a1 66 746172676574");
    v.push(n);
    v
}

/// {"$tag": "Tick"}
const TICK: &str = "a1 64 24746167 64 5469636b";
/// {"pc": {"$tag": "Done"}, "remaining": 0}
const DONE_0: &str = "a2 62 7063 a1 64 24746167 64 446f6e65 69 72656d61696e696e67 00";

/// Runs one step and returns the new state's bytes.
fn run(state: Option<&[u8]>, event: &[u8]) -> Vec<u8> {
    let out = StepOutput::decode(&step(&envelope(state, event)).expect("step succeeds")).unwrap();
    assert!(out.domain_events.is_empty() && out.effects.is_empty() && out.ann.is_none());
    out.state.expect("the counter always keeps a state")
}

fn decode(state: &[u8]) -> CounterState {
    from_cbor(state).unwrap()
}

#[test]
fn the_envelope_helper_matches_the_sdk_encoder() {
    let sdk = StepInput {
        ctx: None,
        event: EventEntry {
            schema: "demo/CounterEvent@1".into(),
            value: start(3),
            key: None,
        },
        state: None,
    };
    assert_eq!(envelope(None, &start(3)), sdk.encode());
}

#[test]
fn start_then_three_ticks_ends_done() {
    let mut state = run(None, &start(3));
    assert_eq!(
        decode(&state),
        CounterState {
            pc: CounterPc::Counting,
            remaining: 3
        }
    );
    for left in [2, 1, 0] {
        state = run(Some(&state), &hex(TICK));
        assert_eq!(decode(&state).remaining, left);
    }
    // Exactly {"pc":{"$tag":"Done"},"remaining":0}, byte for byte canonical.
    assert_eq!(state, hex(DONE_0));
}

#[test]
fn start_zero_is_done_at_once() {
    assert_eq!(run(None, &start(0)), hex(DONE_0));
}

#[test]
fn tick_outside_counting_changes_nothing() {
    // Null state reads as Idle/0; a Tick leaves it so.
    let idle = run(None, &hex(TICK));
    assert_eq!(
        idle,
        hex("a2 62 7063 a1 64 24746167 64 49646c65 69 72656d61696e696e67 00")
    );
    assert_eq!(run(Some(&idle), &hex(TICK)), idle);
    assert_eq!(run(Some(&hex(DONE_0)), &hex(TICK)), hex(DONE_0));
}

#[test]
fn start_restarts_a_running_counter() {
    let state = run(None, &start(5));
    let state = run(Some(&state), &hex(TICK));
    let state = run(Some(&state), &start(2));
    assert_eq!(
        decode(&state),
        CounterState {
            pc: CounterPc::Counting,
            remaining: 2
        }
    );
}

#[test]
fn a_unit_arm_may_carry_a_null_value() {
    // {"$tag": "Tick", "$value": null}, as the spec allows on input.
    let state = run(None, &start(1));
    let tick = hex("a2 64 24746167 64 5469636b 66 2476616c7565 f6");
    assert_eq!(run(Some(&state), &tick), hex(DONE_0));
}

#[test]
fn malformed_events_fail_with_a_message() {
    let cases = [
        // Unknown arm.
        (
            hex("a1 64 24746167 64 53746f70"),
            "unknown variant `Stop`, expected `Start` or `Tick`",
        ),
        // Start without its record.
        (
            hex("a1 64 24746167 65 5374617274"),
            "missing field `$value`",
        ),
        // A target that is not a nat.
        (
            hex("a2 64 24746167 65 5374617274 66 2476616c7565 a1 66 746172676574 20"),
            "expected a nat at byte 27",
        ),
        // No tag at all.
        (hex("a0"), "missing field `$tag`"),
    ];
    for (event, message) in cases {
        let err = step(&envelope(None, &event)).unwrap_err();
        assert_eq!(
            err.message(),
            format!("event demo/CounterEvent@1 does not decode: {message}"),
            "{event:02x?}"
        );
    }
}

#[test]
fn a_malformed_state_fails_the_step() {
    let err = step(&envelope(
        Some(&hex("a1 62 7063 a1 64 24746167 63 466f6f")),
        &hex(TICK),
    ))
    .unwrap_err();
    assert!(err.message().contains("unknown variant `Foo`"), "{err}");
}
