//! Where the stepper's records go: appended to a batch (live), or checked against the journal
//! (replay, and the tail after a snapshot when a world opens).

use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use worldline_air::Hash;

use crate::error::{KernelError, Result};
use crate::record::{EventOrigin, OriginKind, Record, RecordBody, chain_hash};
use crate::store::{Batch, IndexEntry, Store};

/// Records per page when reading the journal ahead.
const VERIFY_PAGE: usize = 1024;
/// Pages read ahead and waiting for the stepper, at most.
const AHEAD_PAGES_MAX: usize = 4;

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

/// One stored record, read ahead of the stepper on the reading thread.
struct Ahead {
    seq: u64,
    bytes: Vec<u8>,
    hash: Hash,
    /// The record decoded on the reading thread, until the stepper takes it.
    decoded: Option<Result<Record>>,
    /// Its stored hash follows from its predecessor's stored hash and its bytes.
    chained: bool,
}

/// A page of records read ahead, or why the journal could not be read.
type AheadPage = Result<Vec<Ahead>>;

/// Reads the journal from `next_seq` on, a page at a time, decoding each record and checking
/// its stored chain hash, until the journal ends or the verifier hangs up. The channel is
/// bounded, so at most [`AHEAD_PAGES_MAX`] pages wait in memory.
fn read_ahead(
    store: &dyn Store,
    mut next_seq: u64,
    mut prev_hash: Hash,
    out: SyncSender<AheadPage>,
) {
    loop {
        let page = match store.records(next_seq, VERIFY_PAGE) {
            Ok(page) if page.is_empty() => return,
            Ok(page) => page,
            Err(error) => {
                let _ = out.send(Err(error));
                return;
            }
        };
        let items: Vec<Ahead> = page
            .into_iter()
            .map(|(seq, bytes, hash)| {
                let chained = chain_hash(&prev_hash, &bytes) == hash;
                prev_hash = hash;
                next_seq = seq + 1;
                let decoded = Some(Record::decode(&bytes));
                Ahead {
                    seq,
                    bytes,
                    hash,
                    decoded,
                    chained,
                }
            })
            .collect();
        if out.send(Ok(items)).is_err() {
            return;
        }
    }
}

/// Checks each produced record against the journal, byte for byte and hash for hash. The
/// journal is read, decoded and its stored chain checked on a second thread (see
/// [`VerifySink::run`]), so the stepper's thread only steps, encodes and compares.
pub struct VerifySink<'s> {
    store: &'s dyn Store,
    next_seq: u64,
    prev_hash: Hash,
    page: VecDeque<Ahead>,
    ahead: Receiver<AheadPage>,
}

impl<'s> VerifySink<'s> {
    /// Runs `check` with a sink that verifies from `next_seq` on, the record before it having
    /// hash `prev_hash`; the journal is read ahead on a scoped thread that ends with `check`.
    pub fn run<T>(
        store: &'s dyn Store,
        next_seq: u64,
        prev_hash: Hash,
        check: impl FnOnce(&mut VerifySink<'s>) -> Result<T>,
    ) -> Result<T> {
        std::thread::scope(|scope| {
            let (sender, ahead) = sync_channel(AHEAD_PAGES_MAX);
            scope.spawn(move || read_ahead(store, next_seq, prev_hash, sender));
            let mut sink = VerifySink {
                store,
                next_seq,
                prev_hash,
                page: VecDeque::new(),
                ahead,
            };
            check(&mut sink)
            // The sink (and with it the receiver) drops here, so the reader stops at its next
            // page and the scope joins it.
        })
    }

    /// The stored record at the next seq, waiting for the reader when its page is used up.
    fn stored(&mut self) -> Result<Option<&mut Ahead>> {
        if self.page.is_empty() {
            match self.ahead.recv() {
                Ok(page) => self.page = page?.into(),
                // The reader is done: the journal ends here.
                Err(_) => return Ok(None),
            }
        }
        let next_seq = self.next_seq;
        Ok(self.page.front_mut().filter(|a| a.seq == next_seq))
    }

    /// The store being verified against.
    pub fn store(&self) -> &'s dyn Store {
        self.store
    }

    /// The stored record at the next seq, decoded.
    pub fn peek(&mut self) -> Result<Option<Record>> {
        match self.stored()? {
            Some(ahead) => match ahead.decoded.take() {
                Some(decoded) => decoded.map(Some),
                None => Record::decode(&ahead.bytes).map(Some),
            },
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
        let diverged = |reason: String| KernelError::Diverged { seq, reason };
        // Bytes and hashes are compared as they are; the stored record is decoded only to say
        // how it differs.
        let Some(Ahead {
            bytes: stored_bytes,
            hash: stored_hash,
            chained,
            ..
        }) = self.stored()?
        else {
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
        // Equal bytes so far mean the replayed chain is the stored one, whose every link the
        // reader checked.
        if !*chained {
            return Err(diverged(
                "the record's chain hash does not follow from its predecessor".to_owned(),
            ));
        }
        let hash = *stored_hash;
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
