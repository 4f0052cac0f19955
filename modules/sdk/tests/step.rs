//! End-to-end steps through the native `step` that `reducer!` generates: canonical input
//! envelopes in, output envelopes out, for a keyed test reducer that uses every part of the
//! SDK (cell deletion, domain events, effects, annotations, the context and the cell key).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde::{Deserialize, Serialize};
use worldline_sdk::envelope::{EventEntry, StepInput, StepOutput};
use worldline_sdk::{
    BlobGetParams, BlobPutParams, Bytes, Context, Effect, Output, ReduceError, Reducer, Step,
    TimerSetParams, from_cbor, to_cbor,
};

/// `test/Note@1`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Note {
    text: String,
    edits: u64,
    seen_at: Option<u64>,
}

/// `test/NoteEvent@1`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "$tag", content = "$value")]
enum NoteEvent {
    Write(String),
    Remove,
    Remind(u64),
    RemindTwice,
    Stamp,
    Store(Bytes),
    Refuse(String),
}

/// `test/Stamped@1`.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Stamped {
    note: String,
    at: u64,
}

struct Notes;

impl Reducer for Notes {
    type State = Note;
    type Event = NoteEvent;

    fn reduce(
        state: Option<Note>,
        event: NoteEvent,
        step: &Step,
    ) -> Result<Output<Note>, ReduceError> {
        let mut note = state.unwrap_or_default();
        Ok(match event {
            NoteEvent::Write(text) => {
                note.text = text;
                note.edits += 1;
                Output::new(note).annotate(&"written")
            }
            NoteEvent::Remove => Output::delete(),
            NoteEvent::Remind(at) => {
                Output::new(note).effect(Effect::timer_set("timer", at, Some("remind")))
            }
            NoteEvent::RemindTwice => Output::new(note)
                .effect(Effect::timer_set("timer", 1, None))
                .effect(Effect::timer_set("timer", 2, None)),
            NoteEvent::Stamp => {
                let ctx = step.context()?.ok_or("Stamp needs the context")?;
                let name: String = step.decode_key()?.ok_or("Stamp needs a cell key")?;
                note.seen_at = Some(ctx.logical_now_ns);
                Output::new(note)
                    .emit(
                        "test/Stamped@1",
                        &Stamped {
                            note: name.clone(),
                            at: ctx.logical_now_ns,
                        },
                    )
                    .emit_keyed(
                        "test/Stamped@1",
                        &Stamped {
                            note: name.clone(),
                            at: 0,
                        },
                        &name,
                    )
            }
            NoteEvent::Store(bytes) => {
                Output::new(note).effect(Effect::blob_put("blobs", "sha256:00", bytes.0))
            }
            NoteEvent::Refuse(why) => return Err(ReduceError::new(format!("refused: {why}"))),
        })
    }
}

worldline_sdk::reducer!(Notes);

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn input(state: Option<&Note>, event: &NoteEvent, key: Option<&str>) -> Vec<u8> {
    StepInput {
        ctx: None,
        event: EventEntry {
            schema: "test/NoteEvent@1".into(),
            value: to_cbor(event).unwrap(),
            key: key.map(|k| to_cbor(k).unwrap()),
        },
        state: state.map(|s| to_cbor(s).unwrap()),
    }
    .encode()
}

fn run(input: &[u8]) -> StepOutput {
    StepOutput::decode(&step(input).expect("step succeeds")).unwrap()
}

fn new_state(out: &StepOutput) -> Note {
    from_cbor(out.state.as_deref().expect("a state")).unwrap()
}

#[test]
fn first_step_starts_from_null_and_writes_canonical_state() {
    // Built by hand per spec/abi.md: {event: {value, schema}, state: null, version: 1}, with
    // the event {"$tag": "Write", "$value": "hi"}.
    let bytes = hex("a3 \
        65 6576656e74 a2 65 76616c7565 56 a2 64 24746167 65 5772697465 66 2476616c7565 62 6869 \
                         66 736368656d61 70 746573742f4e6f74654576656e744031 \
        65 7374617465 f6 \
        67 76657273696f6e 01");
    assert_eq!(bytes, input(None, &NoteEvent::Write("hi".into()), None));
    let out_bytes = step(&bytes).unwrap();
    // {ann: "written", state: {text: "hi", edits: 1, seen_at: null}} in canonical order.
    assert_eq!(
        out_bytes,
        hex("a2 63 616e6e 48 67 7772697474656e \
             65 7374617465 58 19 a3 64 74657874 62 6869 65 6564697473 01 67 7365656e5f6174 f6")
    );
    let out = StepOutput::decode(&out_bytes).unwrap();
    assert_eq!(
        new_state(&out),
        Note {
            text: "hi".into(),
            edits: 1,
            seen_at: None
        }
    );
    assert!(out.domain_events.is_empty() && out.effects.is_empty());
}

#[test]
fn state_is_threaded_through_steps() {
    let one = new_state(&run(&input(None, &NoteEvent::Write("a".into()), None)));
    let two = new_state(&run(&input(
        Some(&one),
        &NoteEvent::Write("b".into()),
        None,
    )));
    assert_eq!(
        two,
        Note {
            text: "b".into(),
            edits: 2,
            seen_at: None
        }
    );
}

#[test]
fn null_output_state_deletes_the_cell() {
    let note = Note {
        text: "x".into(),
        edits: 3,
        seen_at: None,
    };
    let bytes = step(&input(Some(&note), &NoteEvent::Remove, Some("n1"))).unwrap();
    assert_eq!(bytes, hex("a1 65 7374617465 f6"));
    assert_eq!(StepOutput::decode(&bytes).unwrap().state, None);
}

#[test]
fn timer_set_is_one_effect_entry() {
    let out = run(&input(None, &NoteEvent::Remind(1_000), None));
    assert_eq!(out.effects.len(), 1);
    let fx = &out.effects[0];
    assert_eq!(fx.kind, "timer.set");
    assert_eq!(fx.cap_slot.as_deref(), Some("timer"));
    assert_eq!(fx.idempotency_key, None);
    // sys/TimerSetParams@1 {key: "remind", deliver_at_ns: 1000}, canonical.
    assert_eq!(
        fx.params_cbor,
        hex("a2 63 6b6579 66 72656d696e64 6d 64656c697665725f61745f6e73 1903e8")
    );
    let params: TimerSetParams = from_cbor(&fx.params_cbor).unwrap();
    assert_eq!(
        params,
        TimerSetParams {
            deliver_at_ns: 1_000,
            key: Some("remind".into())
        }
    );
}

#[test]
fn blob_effects_carry_their_params() {
    let out = run(&input(None, &NoteEvent::Store(Bytes(vec![7, 8])), None));
    let fx = &out.effects[0];
    assert_eq!(
        (fx.kind.as_str(), fx.cap_slot.as_deref()),
        ("blob.put", Some("blobs"))
    );
    // sys/BlobPutParams@1 {bytes: h'0708', blob_ref: "sha256:00"}
    assert_eq!(
        fx.params_cbor,
        hex("a2 65 6279746573 42 0708 68 626c6f625f726566 69 7368613235363a3030")
    );
    let put: BlobPutParams = from_cbor(&fx.params_cbor).unwrap();
    assert_eq!(put.bytes, Bytes(vec![7, 8]));

    let get = Effect::blob_get("blobs", "sha256:00")
        .idempotency_key([1; 32])
        .to_entry()
        .unwrap();
    assert_eq!(get.kind, "blob.get");
    assert_eq!(get.idempotency_key, Some(vec![1; 32]));
    let params: BlobGetParams = from_cbor(&get.params_cbor).unwrap();
    assert_eq!(params.blob_ref, "sha256:00");
}

#[test]
fn at_most_one_effect_per_step() {
    let err = step(&input(None, &NoteEvent::RemindTwice, None)).unwrap_err();
    assert_eq!(
        err.message(),
        "a reducer emits at most one effect per step (AIR v1); this step emitted 2"
    );
}

#[test]
fn context_and_key_reach_the_reducer() {
    let ctx = Context {
        now_ns: 5,
        logical_now_ns: 42,
        journal_height: 7,
        entropy: Bytes(vec![9; 32]),
        event_hash: format!("sha256:{}", "ab".repeat(32)),
        manifest_hash: format!("sha256:{}", "cd".repeat(32)),
        reducer: "test/Notes@1".into(),
        key: Some(Bytes(to_cbor("n1").unwrap())),
        cell_mode: true,
    };
    let mut envelope = StepInput::decode(&input(None, &NoteEvent::Stamp, Some("n1"))).unwrap();
    envelope.ctx = Some(to_cbor(&ctx).unwrap());
    let out = run(&envelope.encode());
    assert_eq!(new_state(&out).seen_at, Some(42));
    assert_eq!(out.domain_events.len(), 2);
    let (plain, keyed) = (&out.domain_events[0], &out.domain_events[1]);
    assert_eq!(plain.schema, "test/Stamped@1");
    assert_eq!(plain.key, None);
    assert_eq!(
        from_cbor::<Stamped>(&plain.value).unwrap(),
        Stamped {
            note: "n1".into(),
            at: 42
        }
    );
    assert_eq!(keyed.key, Some(hex("62 6e31")));

    // Without a context the reducer says so.
    let err = step(&input(None, &NoteEvent::Stamp, Some("n1"))).unwrap_err();
    assert_eq!(err.message(), "Stamp needs the context");

    // A context that is not a sys/ReducerContext@1.
    envelope.ctx = Some(hex("a0"));
    let err = step(&envelope.encode()).unwrap_err();
    assert_eq!(
        err.message(),
        "context does not decode as sys/ReducerContext@1: missing field `now_ns`"
    );
}

#[test]
fn reducer_errors_fail_the_step_with_their_message() {
    let err = step(&input(None, &NoteEvent::Refuse("no".into()), None)).unwrap_err();
    assert_eq!(err.message(), "refused: no");
}

#[test]
fn malformed_inputs_fail_the_step_without_panicking() {
    // An unknown arm.
    let mut envelope = StepInput::decode(&input(None, &NoteEvent::Remove, None)).unwrap();
    envelope.event.value = hex("a1 64 24746167 64 4e6f7065");
    let err = step(&envelope.encode()).unwrap_err();
    assert_eq!(
        err.message(),
        "event test/NoteEvent@1 does not decode: unknown variant `Nope`, expected one of \
         `Write`, `Remove`, `Remind`, `RemindTwice`, `Stamp`, `Store`, `Refuse`"
    );
    // A payload of the wrong type.
    envelope.event.value = hex("a2 64 24746167 65 5772697465 66 2476616c7565 01");
    let err = step(&envelope.encode()).unwrap_err();
    assert_eq!(
        err.message(),
        "event test/NoteEvent@1 does not decode: expected text at byte 19"
    );
    // Not CBOR at all / truncated.
    envelope.event.value = hex("a2 64");
    let err = step(&envelope.encode()).unwrap_err();
    assert!(
        err.message()
            .starts_with("event test/NoteEvent@1 does not decode: unexpected end")
    );
    // A state that is not a Note.
    let mut envelope = StepInput::decode(&input(None, &NoteEvent::Remove, None)).unwrap();
    envelope.state = Some(hex("01"));
    let err = step(&envelope.encode()).unwrap_err();
    assert!(
        err.message().starts_with("state does not decode as "),
        "{err}"
    );
    assert!(
        err.message().ends_with("Note: expected a map at byte 0"),
        "{err}"
    );
    // Not an envelope.
    let err = step(b"").unwrap_err();
    assert!(
        err.message().starts_with("malformed `input envelope`"),
        "{err}"
    );
}
