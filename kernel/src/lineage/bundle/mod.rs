//! The bundle: one file holding a world's journal, its CAS objects and (only when asked) its
//! key, written and read as a stream of frames so export and import run in constant memory.
//!
//! ```text
//! bundle := MAGIC frame*
//! frame  := kind (1 byte) ‖ length (u32, big-endian) ‖ body (length bytes)
//! order  := H R{height+1} O* K? E, then the end of the file
//! H  header: canonical {format, did, height, head_hash, manifest_hash, last_checkpoint?, parent?, with_key}
//! R  a record's canonical bytes, seq 0 upwards
//! O  a CAS object: its 32-byte hash ‖ its bytes
//! K  the world key: canonical {seed}
//! E  end: canonical {records, objects, digest}; digest = SHA-256 of every byte before E
//! ```
//!
//! Every claim the header makes is checked against what follows; see `spec/lineage.md`.

mod frame;
mod read;
mod write;

pub use read::{BundleReport, import, read_header, verify_bundle};
pub use write::{ExportReport, export};

use worldline_air::Hash;

use crate::record::ParentWorld;

/// The first bytes of every bundle.
pub const MAGIC: &[u8; 8] = b"WLBUNDLE";
/// The header's `format`.
pub const FORMAT: &str = "worldline-bundle/1";
/// Largest frame body: a larger length is refused before anything is allocated.
pub const FRAME_BYTES_MAX: u32 = 64 << 20;

/// Frame kinds.
pub(crate) mod kind {
    /// The header.
    pub const HEADER: u8 = b'H';
    /// A journal record.
    pub const RECORD: u8 = b'R';
    /// A CAS object.
    pub const OBJECT: u8 = b'O';
    /// The world key.
    pub const KEY: u8 = b'K';
    /// The end.
    pub const END: u8 = b'E';
}

/// What a bundle's header claims (checked against the bundle's content on every read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleHeader {
    /// The world's DID.
    pub did: String,
    /// Seq of the last record.
    pub height: u64,
    /// Its chain hash.
    pub head_hash: Hash,
    /// The manifest in force at the head.
    pub manifest_hash: Hash,
    /// Height and hash of the last checkpoint.
    pub last_checkpoint: Option<(u64, Hash)>,
    /// The parent, when the world is a fork.
    pub parent: Option<ParentWorld>,
    /// True when the bundle carries the world key.
    pub with_key: bool,
}

/// How far an export or import has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Records done.
    pub records: u64,
    /// Records in all.
    pub records_total: u64,
    /// Bundle bytes written or read so far.
    pub bytes: u64,
    /// 1 while checking (import's first pass, verify), 2 while writing the world.
    pub pass: u8,
}
