//! `demo/BlobEchoSM@1`, the reducer of `worlds/blob-echo` (AgentOS example 02).
//!
//! `Start{data}` stores the bytes with `blob.put` (under their `sha256:` reference) and waits;
//! the put result issues `blob.get` for the returned reference; the get result records the
//! retrieved reference and the hash of the retrieved bytes, so the final state shows the round
//! trip (stored ref = retrieved ref = hash of the data). A failed receipt leaves the phase as it
//! was, so the state shows where it stopped.

use serde::{Deserialize, Serialize};
use worldline_sdk::{
    BlobGetResult, BlobPutResult, Bytes, Effect, Output, ReduceError, Reducer, Step, blob_ref,
};

/// `demo/BlobEchoPc@1`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "$tag", content = "$value")]
pub enum BlobEchoPc {
    /// Not started.
    #[default]
    Idle,
    /// Waiting for the put.
    Putting,
    /// Waiting for the get.
    Getting,
    /// Round trip complete.
    Done,
}

/// `demo/BlobEchoState@1`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobEchoState {
    /// The phase.
    pub pc: BlobEchoPc,
    /// The reference being stored.
    pub pending_blob_ref: Option<String>,
    /// The reference the put returned.
    pub stored_blob_ref: Option<String>,
    /// The reference the get returned.
    pub retrieved_blob_ref: Option<String>,
    /// The hash of the bytes the get returned.
    pub retrieved_blob_hash: Option<String>,
}

/// `demo/BlobEchoStart@1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobEchoStart {
    /// The bytes to round-trip.
    pub data: Bytes,
}

/// `demo/BlobEchoEvent@1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "$tag", content = "$value")]
pub enum BlobEchoEvent {
    /// Store these bytes.
    Start(BlobEchoStart),
    /// The put's receipt.
    PutResult(BlobPutResult),
    /// The get's receipt.
    GetResult(BlobGetResult),
}

/// The reducer.
pub struct BlobEcho;

impl Reducer for BlobEcho {
    type State = BlobEchoState;
    type Event = BlobEchoEvent;

    fn reduce(
        state: Option<BlobEchoState>,
        event: BlobEchoEvent,
        _step: &Step,
    ) -> Result<Output<BlobEchoState>, ReduceError> {
        let mut s = state.unwrap_or_default();
        match event {
            BlobEchoEvent::Start(start) => {
                let reference = blob_ref(&start.data);
                s = BlobEchoState {
                    pc: BlobEchoPc::Putting,
                    pending_blob_ref: Some(reference.clone()),
                    ..BlobEchoState::default()
                };
                let put = Effect::blob_put("default", &reference, start.data.0);
                Ok(Output::new(s).effect(put))
            }
            BlobEchoEvent::PutResult(put) if s.pc == BlobEchoPc::Putting && put.is_ok() => {
                s.pc = BlobEchoPc::Getting;
                s.stored_blob_ref = Some(put.receipt.blob_ref.clone());
                let get = Effect::blob_get("default", &put.receipt.blob_ref);
                Ok(Output::new(s).effect(get))
            }
            BlobEchoEvent::GetResult(get) if s.pc == BlobEchoPc::Getting && get.is_ok() => {
                s.pc = BlobEchoPc::Done;
                s.retrieved_blob_hash = Some(blob_ref(&get.receipt.bytes));
                s.retrieved_blob_ref = Some(get.receipt.blob_ref);
                Ok(Output::new(s))
            }
            BlobEchoEvent::PutResult(_) | BlobEchoEvent::GetResult(_) => Ok(Output::new(s)),
        }
    }
}

worldline_sdk::reducer!(BlobEcho);
