//! `sys/WorldResumed@1`: what a world tells the reducers that route it when it resumes after
//! downtime (the kernel raises it from a `gap` record).

use serde::{Deserialize, Serialize};

/// A checkpoint of the world's lineage: `{height, hash}` in `sys/WorldResumed@1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointRef {
    /// The journal height it covers.
    pub height: u64,
    /// Its hash, `sha256:<hex>`.
    pub hash: String,
}

/// `sys/WorldResumed@1`. Route it to a reducer whose event schema is `sys/WorldResumed@1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorldResumed {
    /// The logical time of the last input before the gap, ns since the epoch.
    pub from_ns: u64,
    /// When the world resumed, ns since the epoch.
    pub to_ns: u64,
    /// `to_ns - from_ns`: how long the world heard nothing.
    pub gap_ns: u64,
    /// The world's `did:key`.
    pub did: String,
    /// The journal's height when the world stopped (the last seq before the gap).
    pub journal_height: u64,
    /// The world's last checkpoint, if it has one.
    pub last_checkpoint: Option<CheckpointRef>,
}
