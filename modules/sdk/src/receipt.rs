//! Receipts of micro-effects as the reducer receives them: `sys/TimerFired@1`,
//! `sys/BlobPutResult@1` and `sys/BlobGetResult@1`, each an arm of the reducer's own event
//! variant (`Fired(TimerFired)` …).

use serde::{Deserialize, Serialize};

use crate::Bytes;
use crate::effect::{BlobGetParams, BlobPutParams, TimerSetParams};

/// A receipt delivered to the reducer that emitted the intent: the shape shared by
/// `sys/TimerFired@1`, `sys/BlobPutResult@1` and `sys/BlobGetResult@1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptEvent<P, R> {
    /// The intent this receipt answers (`sha256:<hex>`).
    pub intent_hash: String,
    /// The reducer that emitted the intent.
    pub reducer: String,
    /// The effect kind (`timer.set` …).
    pub effect_kind: String,
    /// The adapter that executed it.
    pub adapter_id: String,
    /// `ok`, `error` or `timeout`.
    pub status: String,
    /// The params the reducer asked with.
    pub requested: P,
    /// The adapter's receipt payload.
    pub receipt: R,
    /// Cost in cents, when known.
    pub cost_cents: Option<u64>,
    /// The adapter's Ed25519 signature (verified by the host before delivery).
    pub signature: Bytes,
}

impl<P, R> ReceiptEvent<P, R> {
    /// True if the adapter reports success.
    pub fn is_ok(&self) -> bool {
        self.status == "ok"
    }
}

/// `sys/TimerSetReceipt@1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerSetReceipt {
    /// When the timer actually fired (wall clock, ns): later than asked if the host was down.
    pub delivered_at_ns: u64,
    /// The key the timer was set with.
    pub key: Option<String>,
}

/// `sys/BlobPutReceipt@1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobPutReceipt {
    /// The stored blob's reference (`sha256:<hex>`).
    pub blob_ref: String,
    /// Its size in bytes.
    pub size: u64,
}

/// `sys/BlobGetReceipt@1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobGetReceipt {
    /// The blob's reference.
    pub blob_ref: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its content.
    pub bytes: Bytes,
}

/// `sys/TimerFired@1`.
pub type TimerFired = ReceiptEvent<TimerSetParams, TimerSetReceipt>;
/// `sys/BlobPutResult@1`.
pub type BlobPutResult = ReceiptEvent<BlobPutParams, BlobPutReceipt>;
/// `sys/BlobGetResult@1`.
pub type BlobGetResult = ReceiptEvent<BlobGetParams, BlobGetReceipt>;
