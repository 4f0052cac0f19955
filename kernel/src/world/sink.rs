//! Where the stepper's records go: appended to a batch (live), or checked against the journal
//! (replay, and the tail after a snapshot when a world opens).

use worldline_air::Hash;

use crate::error::{KernelError, Result};
use crate::record::{EventOrigin, OriginKind, Record, RecordBody, chain_hash};
use crate::store::{Batch, IndexEntry, Store};

/// Records per page when reading the journal ahead.
const VERIFY_PAGE: usize = 4096;

/// Receives the records (and CAS objects) a step produces.
pub trait Sink {
    /// The seq the next record will get.
    fn next_seq(&self) -> u64;
    /// Appends a record (its `seq` is overwritten with [`Sink::next_seq`]); returns the seq.
    fn append(&mut self, record: Record) -> Result<u64>;
    /// Stores a content-addressed object.
    fn put_object(&mut self, hash: Hash, bytes: Vec<u8>);
    /// The chain hash of the last record appended (or of the record before the first).
    fn prev_hash(&self) -> Hash;
    /// Records that the latest snapshot pointer is at `seq`.
    fn snapshot_at(&mut self, seq: u64);
    /// An object of the input being processed (a receipt's response body): live, it is in the
    /// batch being written; in replay, in the store.
    fn input_object(&self, hash: &Hash) -> Result<Option<Vec<u8>>>;
}

/// Appends into a [`Batch`] for one atomic commit.
pub struct LiveSink {
    next_seq: u64,
    prev_hash: Hash,
    /// What will be committed.
    pub batch: Batch,
}

impl LiveSink {
    /// A sink continuing after the record `prev_hash` at `next_seq - 1`.
    pub fn new(next_seq: u64, prev_hash: Hash) -> LiveSink {
        LiveSink {
            next_seq,
            prev_hash,
            batch: Batch::default(),
        }
    }
}

/// The index entries a record contributes.
pub fn index_entries(record: &Record) -> Vec<IndexEntry> {
    let mut entries: Vec<IndexEntry> = record
        .causes
        .iter()
        .map(|&cause| IndexEntry::Cause {
            cause,
            child: record.seq,
        })
        .collect();
    let seq = record.seq;
    if let Some(instance) = plan_instance(record) {
        entries.push(IndexEntry::Plan { instance, seq });
    }
    match &record.body {
        RecordBody::DomainEvent { schema, value, .. } => {
            entries.push(IndexEntry::Schema {
                schema: schema.to_string(),
                seq,
            });
            entries.push(IndexEntry::Event {
                event: event_hash(value),
                seq,
            });
        }
        RecordBody::EffectIntent(i) => entries.push(IndexEntry::Intent {
            intent: i.intent_hash,
            seq: record.seq,
        }),
        RecordBody::Admission(a) => entries.push(IndexEntry::Intent {
            intent: a.intent_hash,
            seq: record.seq,
        }),
        RecordBody::Receipt(r) => entries.push(IndexEntry::Intent {
            intent: r.intent_hash,
            seq: record.seq,
        }),
        RecordBody::Checkpoint(_) => entries.push(IndexEntry::Checkpoint { seq: record.seq }),
        _ => {}
    }
    entries
}

/// The event hash of a domain event's canonical value: sha256 of the self-describe tag and the
/// value, the `event_hash` a reducer's context carries.
pub fn event_hash(value: &[u8]) -> Hash {
    Hash::of_parts(&[&worldline_air::cbor::SELF_DESCRIBE, value])
}

/// The plan instance a record belongs to: a `plan_started` (its own seq), an event the instance
/// raised, an intent it emitted, its result and its end.
pub fn plan_instance(record: &Record) -> Option<u64> {
    match &record.body {
        RecordBody::PlanStarted { .. } => Some(record.seq),
        RecordBody::PlanResult { instance, .. } | RecordBody::PlanEnded { instance, .. } => {
            Some(*instance)
        }
        RecordBody::DomainEvent {
            origin: EventOrigin::Plan { instance, .. },
            ..
        } => Some(*instance),
        RecordBody::EffectIntent(i) if i.origin.kind == OriginKind::Plan => {
            match worldline_air::cbor::decode(i.origin.key.as_deref()?) {
                Ok(worldline_air::cbor::Cbor::Unsigned(id)) => Some(id),
                _ => None,
            }
        }
        _ => None,
    }
}

impl Sink for LiveSink {
    fn next_seq(&self) -> u64 {
        self.next_seq
    }

    fn prev_hash(&self) -> Hash {
        self.prev_hash
    }

    fn append(&mut self, mut record: Record) -> Result<u64> {
        record.seq = self.next_seq;
        let bytes = record.encode();
        let hash = chain_hash(&self.prev_hash, &bytes);
        self.batch.index.extend(index_entries(&record));
        self.batch.records.push((record.seq, bytes, hash));
        self.prev_hash = hash;
        self.next_seq += 1;
        Ok(record.seq)
    }

    fn put_object(&mut self, hash: Hash, bytes: Vec<u8>) {
        self.batch.cas.push((hash, bytes));
    }

    fn input_object(&self, hash: &Hash) -> Result<Option<Vec<u8>>> {
        Ok(self
            .batch
            .cas
            .iter()
            .find(|(h, _)| h == hash)
            .map(|(_, bytes)| bytes.clone()))
    }

    fn snapshot_at(&mut self, seq: u64) {
        self.batch.meta.push((
            crate::world::META_SNAPSHOT.to_owned(),
            seq.to_be_bytes().to_vec(),
        ));
    }
}

/// Checks each produced record against the journal, byte for byte and hash for hash.
pub struct VerifySink<'s> {
    store: &'s dyn Store,
    next_seq: u64,
    prev_hash: Hash,
    page: std::collections::VecDeque<(u64, Vec<u8>, Hash)>,
}

impl<'s> VerifySink<'s> {
    /// Verifies from `next_seq` on, the record before it having hash `prev_hash`.
    pub fn new(store: &'s dyn Store, next_seq: u64, prev_hash: Hash) -> VerifySink<'s> {
        VerifySink {
            store,
            next_seq,
            prev_hash,
            page: Default::default(),
        }
    }

    /// The stored record at the next seq, reading ahead a page at a time.
    fn stored(&mut self) -> Result<Option<&(u64, Vec<u8>, Hash)>> {
        if self
            .page
            .front()
            .is_none_or(|(seq, _, _)| *seq != self.next_seq)
        {
            self.page = self.store.records(self.next_seq, VERIFY_PAGE)?.into();
        }
        Ok(self
            .page
            .front()
            .filter(|(seq, _, _)| *seq == self.next_seq))
    }

    /// The store being verified against.
    pub fn store(&self) -> &'s dyn Store {
        self.store
    }

    /// The stored record at the next seq, decoded.
    pub fn peek(&mut self) -> Result<Option<Record>> {
        match self.stored()? {
            Some((_, bytes, _)) => Record::decode(bytes).map(Some),
            None => Ok(None),
        }
    }
}

impl Sink for VerifySink<'_> {
    fn next_seq(&self) -> u64 {
        self.next_seq
    }

    fn prev_hash(&self) -> Hash {
        self.prev_hash
    }

    fn append(&mut self, mut record: Record) -> Result<u64> {
        let seq = self.next_seq;
        record.seq = seq;
        let bytes = record.encode();
        let hash = chain_hash(&self.prev_hash, &bytes);
        let diverged = |reason: String| KernelError::Diverged { seq, reason };
        // Bytes and hashes are compared as they are; the stored record is decoded only to say
        // how it differs.
        let Some((_, stored_bytes, stored_hash)) = self.stored()? else {
            return Err(diverged(format!(
                "replay produced a {} record the journal does not have",
                record.body.kind()
            )));
        };
        if *stored_bytes != bytes {
            let reason = match Record::decode(stored_bytes) {
                Ok(stored) if stored.body.kind() == record.body.kind() => {
                    format!(
                        "the {} record differs from the journal's",
                        record.body.kind()
                    )
                }
                Ok(stored) => format!(
                    "replay produced a {} record where the journal has a {}",
                    record.body.kind(),
                    stored.body.kind()
                ),
                Err(e) => format!("the journal's record does not decode ({e})"),
            };
            return Err(diverged(reason));
        }
        if *stored_hash != hash {
            return Err(diverged(
                "the record's chain hash does not follow from its predecessor".to_owned(),
            ));
        }
        self.page.pop_front();
        self.prev_hash = hash;
        self.next_seq += 1;
        Ok(seq)
    }

    fn put_object(&mut self, _hash: Hash, _bytes: Vec<u8>) {
        // The objects were stored when the journal was written; replay writes nothing.
    }

    fn snapshot_at(&mut self, _seq: u64) {}

    fn input_object(&self, hash: &Hash) -> Result<Option<Vec<u8>>> {
        self.store.cas_get(hash)
    }
}
