//! Write Worldline reducers in Rust.
//!
//! A reducer folds events into state. With this SDK it is a type that implements [`Reducer`],
//! with serde types for its state and event, plus one line, [`reducer!`], that generates the
//! wasm exports of `spec/abi.md`:
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use worldline_sdk::{Output, ReduceError, Reducer, Step};
//!
//! #[derive(Default, Serialize, Deserialize)]
//! pub struct Total {
//!     sum: u64,
//! }
//!
//! // A variant type: {"$tag": "Add", "$value": 5} or {"$tag": "Reset"}.
//! #[derive(Deserialize)]
//! #[serde(tag = "$tag", content = "$value")]
//! pub enum Op {
//!     Add(u64),
//!     Reset,
//! }
//!
//! pub struct Adder;
//!
//! impl Reducer for Adder {
//!     type State = Total;
//!     type Event = Op;
//!
//!     fn reduce(state: Option<Total>, op: Op, _step: &Step) -> Result<Output<Total>, ReduceError> {
//!         let mut total = state.unwrap_or_default();
//!         match op {
//!             Op::Add(n) => {
//!                 total.sum = total.sum.checked_add(n).ok_or("sum overflows a nat")?;
//!             }
//!             Op::Reset => total.sum = 0,
//!         }
//!         Ok(Output::new(total))
//!     }
//! }
//!
//! worldline_sdk::reducer!(Adder);
//! ```
//!
//! Typed values travel as CBOR (`spec/encoding.md`): a record is a struct (every field present;
//! an `option` is an `Option`), a variant is an enum with `#[serde(tag = "$tag", content =
//! "$value")]` (unit arms are unit variants), `nat` is `u64`, `int` is `i64`, `text`, `hash`,
//! `uuid` and `dec128` are `String`, `time` and `duration` are `u64` ns, `bytes` is [`Bytes`],
//! `list` and `set` are `Vec`, `map` is a `BTreeMap`.
//!
//! In a wasm32 build the macro exports `alloc` and `step` (return-slot form); in a native build
//! it defines `pub fn step(input: &[u8]) -> Result<Vec<u8>, ReduceError>` instead, so the same
//! envelopes can be fed to the reducer in `cargo test` (see [`run_step`] and [`envelope`]).
//!
//! Cargo feature `bump-alloc`: on wasm32, a bump allocator replaces std's (the instance lives for
//! one step, so nothing needs freeing); about 8 KiB smaller. See `src/bump.rs` for the trade-off.

#[cfg(all(target_arch = "wasm32", feature = "bump-alloc"))]
mod bump;
mod codec;
mod context;
mod effect;
pub mod envelope;
mod host;
mod output;
mod receipt;
mod resumed;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use codec::{Bytes, from_cbor, to_cbor};
pub use context::Context;
pub use effect::{BlobGetParams, BlobPutParams, Effect, TimerSetParams, blob_ref};
pub use host::log;
pub use output::{Output, ReduceError};
pub use receipt::{
    BlobGetReceipt, BlobGetResult, BlobPutReceipt, BlobPutResult, ReceiptEvent, TimerFired,
    TimerSetReceipt,
};
pub use resumed::{CheckpointRef, WorldResumed};

use envelope::StepInput;

/// A reducer: a pure function from the current state and one event to the new state (plus the
/// events and effect it emits). Implement it on a unit struct and export it with [`reducer!`].
pub trait Reducer {
    /// The state (`abi.reducer.state`).
    type State: Serialize + DeserializeOwned;
    /// The event (`abi.reducer.event`); usually a variant enum.
    type Event: DeserializeOwned;

    /// Handles one event. `state` is `None` on the first step or for a new cell. Returning an
    /// error fails the step with its message; the state stays as it was.
    fn reduce(
        state: Option<Self::State>,
        event: Self::Event,
        step: &Step,
    ) -> Result<Output<Self::State>, ReduceError>;
}

/// What else a step knows besides the state and the event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Step {
    /// The event's schema name, `ns/Name@N`.
    pub schema: String,
    /// The cell key's CBOR (keyed reducers only); see [`Step::decode_key`].
    pub key: Option<Vec<u8>>,
    /// `sys/ReducerContext@1` as CBOR, if the module declares `abi.reducer.context`; see
    /// [`Step::context`].
    pub ctx: Option<Vec<u8>>,
}

impl Step {
    /// The step's context (`sys/ReducerContext@1`), or `None` if the module declares none.
    ///
    /// Decoded on demand, so a reducer that never asks pays nothing for it (in time or in
    /// wasm size).
    pub fn context(&self) -> Result<Option<Context>, ReduceError> {
        self.ctx
            .as_deref()
            .map(|c| {
                from_cbor(c).map_err(|e| {
                    ReduceError::new(format!(
                        "context does not decode as sys/ReducerContext@1: {e}"
                    ))
                })
            })
            .transpose()
    }

    /// The cell key as a typed value (`key_schema`), or `None` for a reducer that is not keyed.
    pub fn decode_key<K: DeserializeOwned>(&self) -> Result<Option<K>, ReduceError> {
        self.key
            .as_deref()
            .map(|k| from_cbor(k).map_err(|e| ReduceError::new(format!("cell key: {e}"))))
            .transpose()
    }
}

/// Runs one step of `R` on an input envelope and returns the output envelope: what the `step`
/// export does, minus the memory handling. An input that does not decode (the envelope, the
/// state or the event) is an error naming what failed, as is an error from
/// [`Reducer::reduce`].
pub fn run_step<R: Reducer>(input: &[u8]) -> Result<Vec<u8>, ReduceError> {
    let input = StepInput::decode(input)?;
    let state = match &input.state {
        Some(state) => Some(from_cbor::<R::State>(state).map_err(|e| {
            let ty = core::any::type_name::<R::State>();
            ReduceError::new(format!("state does not decode as {ty}: {e}"))
        })?),
        None => None,
    };
    let event = from_cbor::<R::Event>(&input.event.value).map_err(|e| {
        ReduceError::new(format!("event {} does not decode: {e}", input.event.schema))
    })?;
    let step = Step {
        schema: input.event.schema,
        key: input.event.key,
        ctx: input.ctx,
    };
    let output = R::reduce(state, event, &step)?;
    Ok(output.encode()?.encode())
}

#[doc(hidden)]
pub mod __private {
    #[cfg(target_arch = "wasm32")]
    pub use crate::host::wasm::{alloc, step};
}

/// Exports a [`Reducer`] as the module's entry points.
///
/// `worldline_sdk::reducer!(MyReducer);` at the crate root of a `cdylib` generates, for wasm32,
/// the `alloc(len) -> ptr` export and the `step(ret, ptr, len)` export in the ABI's return-slot
/// form (the host detects it from the export's type); in a native build, a plain
/// `pub fn step(input: &[u8]) -> Result<Vec<u8>, ReduceError>` for tests.
#[macro_export]
macro_rules! reducer {
    ($reducer:ty) => {
        /// ABI export: a pointer to `len` writable bytes.
        #[cfg(target_arch = "wasm32")]
        #[allow(unsafe_code)]
        #[unsafe(no_mangle)]
        pub extern "C" fn alloc(len: usize) -> *mut u8 {
            $crate::__private::alloc(len)
        }

        /// ABI export (return-slot form): runs one step on the input envelope at `ptr..ptr+len`
        /// and writes the output envelope's pointer and length at `ret`.
        ///
        /// # Safety
        ///
        /// Called by the host per the ABI: `ret` and `ptr` come from `alloc`.
        #[cfg(target_arch = "wasm32")]
        #[allow(unsafe_code)]
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn step(ret: *mut u8, ptr: *const u8, len: usize) {
            unsafe { $crate::__private::step::<$reducer>(ret, ptr, len) }
        }

        /// Runs one step on an input envelope and returns the output envelope (native builds;
        /// see `worldline_sdk::run_step`).
        #[cfg(not(target_arch = "wasm32"))]
        #[allow(dead_code)]
        pub fn step(
            input: &[u8],
        ) -> ::core::result::Result<::std::vec::Vec<u8>, $crate::ReduceError> {
            $crate::run_step::<$reducer>(input)
        }
    };
}

/// Hex test fixtures, shared by the SDK's unit tests.
#[cfg(test)]
mod test_hex {
    /// Bytes from hex text (whitespace ignored).
    pub fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
}
