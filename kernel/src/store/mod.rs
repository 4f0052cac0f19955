//! The storage seam: everything the kernel keeps goes through [`Store`].
//!
//! The embedded default is one redb file per world ([`RedbStore`]); a networked engine can
//! implement the same trait later without the stepper changing. A [`Batch`] is one atomic,
//! optionally durable, write: records, CAS objects, indexes and metadata together.

mod lock;
mod redb_file;
mod redb_store;

pub use lock::WorldLock;
pub use redb_store::{INDEX_DEFER_RECORDS_MAX, INDEX_PENDING_MAX, RECORDS_PAGE_MAX, RedbStore};

use worldline_air::Hash;

use crate::error::Result;

/// The last record of the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Its seq (the journal holds `seq + 1` records).
    pub seq: u64,
    /// Its record hash.
    pub hash: Hash,
}

/// An index entry written with the records it indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexEntry {
    /// `child` names `cause` among its causes.
    Cause {
        /// The cause.
        cause: u64,
        /// The record caused.
        child: u64,
    },
    /// A domain event of this schema.
    Schema {
        /// Schema name.
        schema: String,
        /// The event's seq.
        seq: u64,
    },
    /// A checkpoint record.
    Checkpoint {
        /// Its seq.
        seq: u64,
    },
    /// The record about this intent (intent, decision or receipt).
    Intent {
        /// Intent hash.
        intent: Hash,
        /// The record's seq.
        seq: u64,
    },
    /// A domain event whose value hashes to `event` (the `event_hash` a reducer's context
    /// carries: sha256 of the self-describe tag and the canonical value). Written from the
    /// version that added the why graph on; see `spec/why.md`.
    Event {
        /// Event hash.
        event: Hash,
        /// The event's seq.
        seq: u64,
    },
    /// A record of a plan instance: its `plan_started`, the events it raised, the intents it
    /// emitted, its result and its end. Written from the version that added the why graph on.
    Plan {
        /// The instance id (the seq of its `plan_started`).
        instance: u64,
        /// The record's seq.
        seq: u64,
    },
}

/// One atomic write.
#[derive(Debug, Default)]
pub struct Batch {
    /// `(seq, canonical bytes, record hash)`, in seq order, continuing the head.
    pub records: Vec<(u64, Vec<u8>, Hash)>,
    /// Content-addressed objects (hash → bytes).
    pub cas: Vec<(Hash, Vec<u8>)>,
    /// Index entries.
    pub index: Vec<IndexEntry>,
    /// Metadata key → value.
    pub meta: Vec<(String, Vec<u8>)>,
}

impl Batch {
    /// True when there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
            && self.cas.is_empty()
            && self.index.is_empty()
            && self.meta.is_empty()
    }
}

/// What the kernel needs from storage. `Sync`, so the journal can be read ahead on a second
/// thread while the stepper verifies it (replay, and the tail when a world opens).
pub trait Store: Send + Sync {
    /// The journal's last record, if any.
    fn head(&self) -> Result<Option<Head>>;
    /// Writes a batch atomically; `durable` waits until it survives a crash.
    fn commit(&mut self, batch: &Batch, durable: bool) -> Result<()>;
    /// A record's stored bytes.
    fn record(&self, seq: u64) -> Result<Option<Vec<u8>>>;
    /// A record's chain hash.
    fn record_hash(&self, seq: u64) -> Result<Option<Hash>>;
    /// Up to `limit` records from `from` on, in order, each with its chain hash.
    fn records(&self, from: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>, Hash)>>;
    /// A CAS object.
    fn cas_get(&self, hash: &Hash) -> Result<Option<Vec<u8>>>;
    /// True if the CAS holds the object.
    fn cas_contains(&self, hash: &Hash) -> Result<bool>;
    /// Up to `limit` CAS objects in hash order, starting after `after` (from the first when
    /// `None`), so a caller can walk the whole CAS a page at a time.
    fn cas_page(&self, after: Option<&Hash>, limit: usize) -> Result<Vec<(Hash, Vec<u8>)>>;
    /// Every metadata entry whose key starts with `prefix`.
    fn meta_with_prefix(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>>;
    /// A metadata value.
    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>>;
    /// Seqs of the records that name `cause` among their causes, in order, at most `limit`.
    fn children(&self, cause: u64, limit: usize) -> Result<Vec<u64>>;
    /// Seqs of domain events of a schema, from `from` on, at most `limit`.
    fn events_of_schema(&self, schema: &str, from: u64, limit: usize) -> Result<Vec<u64>>;
    /// Seqs of the records about an intent.
    fn intent_records(&self, intent: &Hash) -> Result<Vec<u64>>;
    /// Seqs of the checkpoint records, in order.
    fn checkpoints(&self) -> Result<Vec<u64>>;
    /// Seqs of the domain events whose event hash is `event`, in order, at most `limit`.
    fn event_records(&self, event: &Hash, limit: usize) -> Result<Vec<u64>>;
    /// Seqs of the records of a plan instance, in order, at most `limit`.
    fn plan_records(&self, instance: u64, limit: usize) -> Result<Vec<u64>>;
}
