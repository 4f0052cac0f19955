//! `test/Emitter@1`: emits exactly the effect its `Emit` event describes (kind, raw params
//! CBOR, cap slot, idempotency key), and counts the receipts that come back. It exists so tests
//! can put any intent, well-formed or not, in front of admission.

use serde::{Deserialize, Serialize};
use worldline_sdk::{
    BlobGetResult, BlobPutResult, Bytes, Effect, Output, ReduceError, Reducer, Step, TimerFired,
};

/// `test/EmitterState@1`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmitterState {
    /// Effects emitted.
    pub emitted: u64,
    /// Receipts received.
    pub receipts: u64,
    /// `<effect kind> <status>` of the last receipt.
    pub last: Option<String>,
}

/// `test/EmitSpec@1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmitSpec {
    /// Effect kind.
    pub kind: String,
    /// Params, as CBOR.
    pub params: Bytes,
    /// Cap slot.
    pub cap_slot: Option<String>,
    /// Idempotency key.
    pub idempotency_key: Option<Bytes>,
}

/// `test/EmitterEvent@1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "$tag", content = "$value")]
pub enum EmitterEvent {
    /// Emit this effect.
    Emit(EmitSpec),
    /// A timer receipt.
    Fired(TimerFired),
    /// A blob put receipt.
    PutResult(BlobPutResult),
    /// A blob get receipt.
    GetResult(BlobGetResult),
}

/// The reducer.
pub struct Emitter;

impl Reducer for Emitter {
    type State = EmitterState;
    type Event = EmitterEvent;

    fn reduce(
        state: Option<EmitterState>,
        event: EmitterEvent,
        _step: &Step,
    ) -> Result<Output<EmitterState>, ReduceError> {
        let mut s = state.unwrap_or_default();
        let (kind, status) = match event {
            EmitterEvent::Emit(spec) => {
                s.emitted += 1;
                let mut effect = Effect::from_cbor(&spec.kind, spec.params.0);
                if let Some(slot) = &spec.cap_slot {
                    effect = effect.cap_slot(slot);
                }
                if let Some(key) = spec.idempotency_key {
                    let key: [u8; 32] = key
                        .0
                        .as_slice()
                        .try_into()
                        .map_err(|_| "idempotency_key must be 32 bytes")?;
                    effect = effect.idempotency_key(key);
                }
                return Ok(Output::new(s).effect(effect));
            }
            EmitterEvent::Fired(r) => (r.effect_kind, r.status),
            EmitterEvent::PutResult(r) => (r.effect_kind, r.status),
            EmitterEvent::GetResult(r) => (r.effect_kind, r.status),
        };
        s.receipts += 1;
        s.last = Some(format!("{kind} {status}"));
        Ok(Output::new(s))
    }
}

worldline_sdk::reducer!(Emitter);
