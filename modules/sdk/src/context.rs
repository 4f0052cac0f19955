//! The step context, `sys/ReducerContext@1`.

use serde::{Deserialize, Serialize};

use crate::Bytes;

/// `sys/ReducerContext@1`: the journaled ingress stamp of the input being handled.
///
/// The host sends it only when the module's AIR sets `abi.reducer.context`; then it is
/// what [`Step::context`](crate::Step::context) returns. Replay feeds identical contexts, so everything here
/// is safe to fold into state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Context {
    /// Wall time at ingress, ns since the Unix epoch.
    pub now_ns: u64,
    /// The world's logical time, ns.
    pub logical_now_ns: u64,
    /// The journal sequence number of the event being handled.
    pub journal_height: u64,
    /// 32 bytes of entropy, fixed at ingress.
    pub entropy: Bytes,
    /// The event's hash, `sha256:<hex>`.
    pub event_hash: String,
    /// The hash of the manifest in force, `sha256:<hex>`.
    pub manifest_hash: String,
    /// The reducer's name (`ns/Name@N`).
    pub reducer: String,
    /// The cell key's canonical CBOR (keyed reducers only).
    pub key: Option<Bytes>,
    /// Whether the reducer is keyed (runs per cell).
    pub cell_mode: bool,
}
