//! The embedded store: one redb database per world (`<world>/.world/world.redb`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use worldline_air::Hash;

use super::redb_file::check_file;
use super::{Batch, Head, IndexEntry, Store};
use crate::error::{KernelError, Result};
use crate::failpoint;

/// The journal and its indexes share one table, so a commit touches one B-tree (a second tree
/// cost 40% of the single-commit rate). Keys are a one-byte tag and big-endian parts:
/// `r ‖ seq` → record hash ‖ record bytes; index keys (`c`, `s`, `i`, `k`, and since the why
/// graph `e` and `p`) → empty. New tags are additive: a file written before them opens as it is.
const LOG: TableDefinition<&[u8], &[u8]> = TableDefinition::new("log");
/// 32-byte hash → object bytes.
const CAS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("cas");
/// name → value.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

const TAG_RECORD: u8 = b'r';
const TAG_CAUSE: u8 = b'c';
const TAG_SCHEMA: u8 = b's';
const TAG_INTENT: u8 = b'i';
const TAG_CHECKPOINT: u8 = b'k';
const TAG_EVENT: u8 = b'e';
const TAG_PLAN: u8 = b'p';

fn record_key(seq: u64) -> [u8; 9] {
    let mut key = [TAG_RECORD; 9];
    key[1..].copy_from_slice(&seq.to_be_bytes());
    key
}

fn seq_of(key: &[u8]) -> Result<u64> {
    let tail: [u8; 8] = key
        .get(key.len().saturating_sub(8)..)
        .and_then(|t| t.try_into().ok())
        .ok_or_else(|| KernelError::Corrupt("a short journal key".into()))?;
    Ok(u64::from_be_bytes(tail))
}

fn index_key(entry: &IndexEntry) -> Vec<u8> {
    let (tag, middle, seq): (u8, Vec<u8>, u64) = match entry {
        IndexEntry::Cause { cause, child } => (TAG_CAUSE, cause.to_be_bytes().to_vec(), *child),
        // The schema name is NUL-terminated so `a/B@1` never prefixes `a/B@10`.
        IndexEntry::Schema { schema, seq } => {
            (TAG_SCHEMA, [schema.as_bytes(), &[0]].concat(), *seq)
        }
        IndexEntry::Intent { intent, seq } => (TAG_INTENT, intent.as_bytes().to_vec(), *seq),
        IndexEntry::Checkpoint { seq } => (TAG_CHECKPOINT, Vec::new(), *seq),
        IndexEntry::Event { event, seq } => (TAG_EVENT, event.as_bytes().to_vec(), *seq),
        IndexEntry::Plan { instance, seq } => (TAG_PLAN, instance.to_be_bytes().to_vec(), *seq),
    };
    let mut key = Vec::with_capacity(1 + middle.len() + 8);
    key.push(tag);
    key.extend_from_slice(&middle);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// redb's page cache. Its default (1 GiB) lets a process grow with the file; a world's working
/// set is the journal's tail and the objects it reads, so memory stays flat as the journal grows.
pub const CACHE_BYTES: usize = 64 << 20;

/// Largest page [`Store::records`] returns at once.
pub const RECORDS_PAGE_MAX: usize = 10_000;

/// A commit of at most this many records leaves its index entries to a later commit (they
/// would put two or three more leaves of the tree into its flush; one durable commit per event
/// is 20% faster without them). Index entries are derived from the records, so none is lost:
/// until written they are kept in memory and merged into every index read, and after a crash
/// `World::open` derives them again from the records (see [`RedbStore::indexed_below`]).
pub const INDEX_DEFER_RECORDS_MAX: usize = 8;
/// Index keys kept in memory at most; the commit that would pass this writes them all.
pub const INDEX_PENDING_MAX: usize = 1024;
/// Metadata: every record below this seq has its index entries in the table.
const META_INDEXED_BELOW: &str = "store/indexed_below";

fn storage(error: impl std::fmt::Display) -> KernelError {
    KernelError::Storage(error.to_string())
}

/// A world's redb database.
pub struct RedbStore {
    db: Database,
    path: PathBuf,
    /// A second handle on the store file, to start writing committed pages back early
    /// ([`RedbStore::write_behind`]); none if it could not be opened (nothing depends on it).
    file: Option<std::fs::File>,
    /// Index keys of committed records not written yet (see [`INDEX_DEFER_RECORDS_MAX`]).
    pending: BTreeSet<Vec<u8>>,
    /// Every record below this seq had its index entries in the table when the store opened.
    indexed_below: u64,
    /// One past the last record committed.
    next_seq: u64,
}

/// An engine error on the store file `path`, named.
pub(super) fn on_file(path: &Path, error: impl std::fmt::Display) -> KernelError {
    KernelError::StoreFile {
        path: path.display().to_string(),
        reason: error.to_string(),
    }
}

impl RedbStore {
    /// Creates (or opens) the database file and its tables. An existing file whose header is
    /// not a redb header, or that is shorter than its header says, is refused before the engine
    /// touches it (redb 3.1 would panic on a short file, or re-initialise an empty one).
    pub fn open(path: &Path) -> Result<RedbStore> {
        if path.exists() {
            check_file(path)?;
        }
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(|e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen => KernelError::InUse {
                    pid: "unknown".to_owned(),
                    lock: path.display().to_string(),
                },
                other => on_file(path, other),
            })?;
        // The tables, and where the written index ends: a file from before deferred index
        // entries has all of them written, so it starts at its head.
        let tables = || -> Result<(u64, u64)> {
            let txn = db.begin_write().map_err(storage)?;
            let positions = {
                let log = txn.open_table(LOG).map_err(storage)?;
                txn.open_table(CAS).map_err(storage)?;
                let mut meta = txn.open_table(META).map_err(storage)?;
                let next_seq = match last_record(&log)? {
                    Some((seq, _)) => seq + 1,
                    None => 0,
                };
                let indexed_below = match meta.get(META_INDEXED_BELOW).map_err(storage)? {
                    Some(value) => Some(u64_of(META_INDEXED_BELOW, value.value())?),
                    None => None,
                };
                let indexed_below = match indexed_below {
                    Some(below) => below,
                    None => {
                        meta.insert(META_INDEXED_BELOW, next_seq.to_be_bytes().as_slice())
                            .map_err(storage)?;
                        next_seq
                    }
                };
                (indexed_below, next_seq)
            };
            txn.commit().map_err(storage)?;
            Ok(positions)
        };
        let path = path.to_path_buf();
        let (indexed_below, next_seq) = tables().map_err(|e| match e {
            KernelError::Corrupt(reason) => on_file(&path, reason),
            other => named(&path, other),
        })?;
        let file = std::fs::File::open(&path).ok();
        Ok(RedbStore {
            db,
            path,
            file,
            pending: BTreeSet::new(),
            indexed_below,
            next_seq,
        })
    }

    /// Every record below this seq had its index entries written when the store opened; the
    /// entries of the records from it on were kept in memory by a process that ended, and the
    /// opener derives them again ([`RedbStore::restore_pending`]).
    pub fn indexed_below(&self) -> u64 {
        self.indexed_below
    }

    /// Takes index entries derived again from stored records as pending: merged into reads at
    /// once and written by the next commit that writes index keys. Nothing is written here, so
    /// a world on a full or read-only disk still opens and answers.
    pub fn restore_pending(&mut self, entries: &[IndexEntry]) {
        self.pending.extend(entries.iter().map(index_key));
    }

    /// Asks the OS to start writing what the last (non-durable) commits left in the page cache
    /// back to disk, without waiting: the next durable commit's flush then has less to write.
    /// Only a hint (Linux `sync_file_range`); durability still comes from that commit alone.
    pub fn write_behind(&self) {
        #[cfg(target_os = "linux")]
        if let Some(file) = &self.file {
            use std::os::fd::AsRawFd;
            // SAFETY: `sync_file_range` reads no memory of ours; the descriptor is owned by
            // `file`, open for as long as `self`. A failure only means no early write-back.
            #[allow(unsafe_code)]
            unsafe {
                libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
            }
        }
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records that the store file was moved (with its folder) to `path`; the open database
    /// is unaffected.
    pub(crate) fn moved_to(&mut self, path: PathBuf) {
        self.path = path;
    }

    fn read<T>(&self, f: impl FnOnce(&redb::ReadTransaction) -> Result<T>) -> Result<T> {
        let txn = self.db.begin_read().map_err(|e| on_file(&self.path, e))?;
        f(&txn).map_err(|e| named(&self.path, e))
    }

    fn write(&mut self, batch: &Batch, durable: bool) -> Result<()> {
        let defer = !batch.records.is_empty()
            && batch.records.len() <= INDEX_DEFER_RECORDS_MAX
            && self.pending.len() + batch.index.len() <= INDEX_PENDING_MAX;
        let next_seq = batch
            .records
            .last()
            .map_or(self.next_seq, |(seq, ..)| seq + 1);
        let mut txn = self.db.begin_write().map_err(storage)?;
        txn.set_durability(if durable {
            Durability::Immediate
        } else {
            Durability::None
        })
        .map_err(storage)?;
        // Index keys go in unless deferred, and only if there is anything to write or move.
        let touches_index =
            !batch.records.is_empty() || !batch.index.is_empty() || !self.pending.is_empty();
        let index_written = !defer && touches_index;
        {
            if !batch.records.is_empty() || index_written {
                let mut log = txn.open_table(LOG).map_err(storage)?;
                let mut value = Vec::new();
                for (seq, bytes, hash) in &batch.records {
                    value.clear();
                    value.extend_from_slice(hash.as_bytes());
                    value.extend_from_slice(bytes);
                    log.insert(record_key(*seq).as_slice(), value.as_slice())
                        .map_err(storage)?;
                }
                if index_written {
                    for key in &self.pending {
                        log.insert(key.as_slice(), [].as_slice()).map_err(storage)?;
                    }
                    for entry in &batch.index {
                        log.insert(index_key(entry).as_slice(), [].as_slice())
                            .map_err(storage)?;
                    }
                }
            }
            if !batch.cas.is_empty() {
                let mut cas = txn.open_table(CAS).map_err(storage)?;
                for (hash, bytes) in &batch.cas {
                    cas.insert(hash.as_bytes().as_slice(), bytes.as_slice())
                        .map_err(storage)?;
                }
            }
            if !batch.meta.is_empty() || index_written {
                let mut meta = txn.open_table(META).map_err(storage)?;
                for (key, value) in &batch.meta {
                    meta.insert(key.as_str(), value.as_slice())
                        .map_err(storage)?;
                }
                if index_written {
                    meta.insert(META_INDEXED_BELOW, next_seq.to_be_bytes().as_slice())
                        .map_err(storage)?;
                }
            }
        }
        failpoint::hit(failpoint::COMMIT_MID);
        txn.commit().map_err(storage)?;
        if defer {
            self.pending.extend(batch.index.iter().map(index_key));
        } else if index_written {
            self.pending.clear();
        }
        self.next_seq = next_seq;
        Ok(())
    }

    /// Seqs of the index keys with `prefix`, in order, at most `limit`: the table's and the
    /// pending ones together.
    fn scan(&self, prefix: &[u8], limit: usize) -> Result<Vec<u64>> {
        let mut seqs = self.read(|txn| scan_table(txn, prefix, limit))?;
        let pending = self
            .pending
            .range::<[u8], _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|key| key.starts_with(prefix));
        let before = seqs.len();
        for key in pending {
            seqs.push(seq_of(key)?);
        }
        if seqs.len() > before {
            seqs.sort_unstable();
            seqs.dedup();
            seqs.truncate(limit);
        }
        Ok(seqs)
    }
}

/// A storage error of the engine, re-labelled with the store file it concerns.
fn named(path: &Path, error: KernelError) -> KernelError {
    match error {
        KernelError::Storage(reason) => on_file(path, reason),
        other => other,
    }
}

fn to_hash(bytes: &[u8]) -> Result<Hash> {
    let array: [u8; 32] = bytes
        .try_into()
        .map_err(|_| KernelError::Corrupt("a record hash is not 32 bytes".into()))?;
    Ok(Hash(array))
}

/// Splits a journal value into the record's chain hash and its bytes.
fn split(value: &[u8]) -> Result<(Hash, &[u8])> {
    if value.len() < 32 {
        return Err(KernelError::Corrupt(
            "a journal entry is shorter than its hash".into(),
        ));
    }
    let (hash, bytes) = value.split_at(32);
    Ok((to_hash(hash)?, bytes))
}

/// The journal's last record: its seq and chain hash.
fn last_record(
    log: &impl ReadableTable<&'static [u8], &'static [u8]>,
) -> Result<Option<(u64, Hash)>> {
    let last = log
        .range(record_key(0).as_slice()..=record_key(u64::MAX).as_slice())
        .map_err(storage)?
        .next_back();
    match last {
        None => Ok(None),
        Some(entry) => {
            let (key, value) = entry.map_err(storage)?;
            Ok(Some((seq_of(key.value())?, split(value.value())?.0)))
        }
    }
}

/// The big-endian u64 value of metadata `key`.
fn u64_of(key: &str, bytes: &[u8]) -> Result<u64> {
    let array: [u8; 8] = bytes.try_into().map_err(|_| {
        KernelError::Corrupt(format!(
            "metadata `{key}` is {} bytes, not an 8-byte seq",
            bytes.len()
        ))
    })?;
    Ok(u64::from_be_bytes(array))
}

/// All index keys with `prefix`, in order; the seq is the last 8 bytes of each.
fn scan_table(txn: &redb::ReadTransaction, prefix: &[u8], limit: usize) -> Result<Vec<u64>> {
    let table = txn.open_table(LOG).map_err(storage)?;
    let mut out = Vec::new();
    for entry in table.range(prefix..).map_err(storage)? {
        let (key, _) = entry.map_err(storage)?;
        let key = key.value();
        if !key.starts_with(prefix) || out.len() >= limit {
            break;
        }
        out.push(seq_of(key)?);
    }
    Ok(out)
}

impl Store for RedbStore {
    fn head(&self) -> Result<Option<Head>> {
        self.read(|txn| {
            let log = txn.open_table(LOG).map_err(storage)?;
            Ok(last_record(&log)?.map(|(seq, hash)| Head { seq, hash }))
        })
    }

    fn commit(&mut self, batch: &Batch, durable: bool) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let points = failpoint::WritePoints::of(batch);
        points.before();
        self.write(batch, durable)
            .map_err(|e| named(&self.path, e))?;
        points.after();
        Ok(())
    }

    fn record(&self, seq: u64) -> Result<Option<Vec<u8>>> {
        self.read(|txn| {
            let log = txn.open_table(LOG).map_err(storage)?;
            match log.get(record_key(seq).as_slice()).map_err(storage)? {
                None => Ok(None),
                Some(value) => Ok(Some(split(value.value())?.1.to_vec())),
            }
        })
    }

    fn record_hash(&self, seq: u64) -> Result<Option<Hash>> {
        self.read(|txn| {
            let log = txn.open_table(LOG).map_err(storage)?;
            match log.get(record_key(seq).as_slice()).map_err(storage)? {
                None => Ok(None),
                Some(value) => Ok(Some(split(value.value())?.0)),
            }
        })
    }

    fn records(&self, from: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>, Hash)>> {
        let limit = limit.min(RECORDS_PAGE_MAX);
        self.read(|txn| {
            let log = txn.open_table(LOG).map_err(storage)?;
            let mut out = Vec::with_capacity(limit.min(1024));
            let range = log
                .range(record_key(from).as_slice()..=record_key(u64::MAX).as_slice())
                .map_err(storage)?;
            for entry in range.take(limit) {
                let (key, value) = entry.map_err(storage)?;
                let (hash, bytes) = split(value.value())?;
                out.push((seq_of(key.value())?, bytes.to_vec(), hash));
            }
            Ok(out)
        })
    }

    fn cas_get(&self, hash: &Hash) -> Result<Option<Vec<u8>>> {
        self.read(|txn| {
            let cas = txn.open_table(CAS).map_err(storage)?;
            Ok(cas
                .get(hash.as_bytes().as_slice())
                .map_err(storage)?
                .map(|v| v.value().to_vec()))
        })
    }

    fn cas_contains(&self, hash: &Hash) -> Result<bool> {
        self.read(|txn| {
            let cas = txn.open_table(CAS).map_err(storage)?;
            Ok(cas
                .get(hash.as_bytes().as_slice())
                .map_err(storage)?
                .is_some())
        })
    }

    fn cas_page(&self, after: Option<&Hash>, limit: usize) -> Result<Vec<(Hash, Vec<u8>)>> {
        let limit = limit.min(RECORDS_PAGE_MAX);
        self.read(|txn| {
            let cas = txn.open_table(CAS).map_err(storage)?;
            let range = match after {
                None => cas.range::<&[u8]>(..),
                Some(hash) => cas.range::<&[u8]>((
                    std::ops::Bound::Excluded(hash.as_bytes().as_slice()),
                    std::ops::Bound::Unbounded,
                )),
            }
            .map_err(storage)?;
            let mut out = Vec::new();
            for entry in range.take(limit) {
                let (key, value) = entry.map_err(storage)?;
                let hash: [u8; 32] = key
                    .value()
                    .try_into()
                    .map_err(|_| KernelError::Corrupt("a CAS key is not 32 bytes".into()))?;
                out.push((Hash(hash), value.value().to_vec()));
            }
            Ok(out)
        })
    }

    fn meta_with_prefix(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>> {
        self.read(|txn| {
            let meta = txn.open_table(META).map_err(storage)?;
            let mut out = Vec::new();
            for entry in meta.range(prefix..).map_err(storage)? {
                let (key, value) = entry.map_err(storage)?;
                if !key.value().starts_with(prefix) {
                    break;
                }
                out.push((key.value().to_owned(), value.value().to_vec()));
            }
            Ok(out)
        })
    }

    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.read(|txn| {
            let meta = txn.open_table(META).map_err(storage)?;
            Ok(meta.get(key).map_err(storage)?.map(|v| v.value().to_vec()))
        })
    }

    fn children(&self, cause: u64, limit: usize) -> Result<Vec<u64>> {
        let mut prefix = vec![TAG_CAUSE];
        prefix.extend_from_slice(&cause.to_be_bytes());
        self.scan(&prefix, limit)
    }

    fn events_of_schema(&self, schema: &str, from: u64, limit: usize) -> Result<Vec<u64>> {
        let mut prefix = vec![TAG_SCHEMA];
        prefix.extend_from_slice(schema.as_bytes());
        prefix.push(0);
        // Seqs are big-endian at the end of the key: skip to `from` by filtering (indexes are
        // read by later capabilities; this keeps the scan bounded by `limit`).
        Ok(self
            .scan(&prefix, usize::MAX)?
            .into_iter()
            .filter(|s| *s >= from)
            .take(limit.min(RECORDS_PAGE_MAX))
            .collect())
    }

    fn checkpoints(&self) -> Result<Vec<u64>> {
        self.scan(&[TAG_CHECKPOINT], usize::MAX)
    }

    fn intent_records(&self, intent: &Hash) -> Result<Vec<u64>> {
        let mut prefix = vec![TAG_INTENT];
        prefix.extend_from_slice(intent.as_bytes());
        self.scan(&prefix, usize::MAX)
    }

    fn event_records(&self, event: &Hash, limit: usize) -> Result<Vec<u64>> {
        let mut prefix = vec![TAG_EVENT];
        prefix.extend_from_slice(event.as_bytes());
        self.scan(&prefix, limit)
    }

    fn plan_records(&self, instance: u64, limit: usize) -> Result<Vec<u64>> {
        let mut prefix = vec![TAG_PLAN];
        prefix.extend_from_slice(&instance.to_be_bytes());
        self.scan(&prefix, limit)
    }
}
