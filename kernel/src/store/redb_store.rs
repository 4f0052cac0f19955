//! The embedded store: one redb database per world (`<world>/.world/world.redb`).

use std::path::Path;

use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use worldline_air::Hash;

use super::{Batch, Head, IndexEntry, Store};
use crate::error::{KernelError, Result};

/// seq → canonical record bytes.
const JOURNAL: TableDefinition<u64, &[u8]> = TableDefinition::new("journal");
/// seq → 32-byte record hash.
const CHAIN: TableDefinition<u64, &[u8]> = TableDefinition::new("chain");
/// 32-byte hash → object bytes.
const CAS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("cas");
/// name → value.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// (cause, child) → ().
const BY_CAUSE: TableDefinition<(u64, u64), ()> = TableDefinition::new("by_cause");
/// (schema, seq) → ().
const BY_SCHEMA: TableDefinition<(&str, u64), ()> = TableDefinition::new("by_schema");
/// (intent hash, seq) → ().
const BY_INTENT: TableDefinition<(&[u8], u64), ()> = TableDefinition::new("by_intent");

/// Largest page [`Store::records`] returns at once.
pub const RECORDS_PAGE_MAX: usize = 10_000;

fn storage(error: impl std::fmt::Display) -> KernelError {
    KernelError::Storage(error.to_string())
}

/// A world's redb database.
pub struct RedbStore {
    db: Database,
}

impl RedbStore {
    /// Creates (or opens) the database file and its tables.
    pub fn open(path: &Path) -> Result<RedbStore> {
        let db = Database::create(path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => KernelError::InUse {
                pid: "unknown".to_owned(),
                lock: path.display().to_string(),
            },
            other => KernelError::Storage(format!("{}: {other}", path.display())),
        })?;
        let txn = db.begin_write().map_err(storage)?;
        {
            txn.open_table(JOURNAL).map_err(storage)?;
            txn.open_table(CHAIN).map_err(storage)?;
            txn.open_table(CAS).map_err(storage)?;
            txn.open_table(META).map_err(storage)?;
            txn.open_table(BY_CAUSE).map_err(storage)?;
            txn.open_table(BY_SCHEMA).map_err(storage)?;
            txn.open_table(BY_INTENT).map_err(storage)?;
        }
        txn.commit().map_err(storage)?;
        Ok(RedbStore { db })
    }

    fn read<T>(&self, f: impl FnOnce(&redb::ReadTransaction) -> Result<T>) -> Result<T> {
        let txn = self.db.begin_read().map_err(storage)?;
        f(&txn)
    }
}

fn to_hash(bytes: &[u8]) -> Result<Hash> {
    let array: [u8; 32] = bytes
        .try_into()
        .map_err(|_| KernelError::Corrupt("a record hash is not 32 bytes".into()))?;
    Ok(Hash(array))
}

impl Store for RedbStore {
    fn head(&self) -> Result<Option<Head>> {
        self.read(|txn| {
            let chain = txn.open_table(CHAIN).map_err(storage)?;
            let last = chain.last().map_err(storage)?;
            match last {
                None => Ok(None),
                Some((seq, hash)) => Ok(Some(Head {
                    seq: seq.value(),
                    hash: to_hash(hash.value())?,
                })),
            }
        })
    }

    fn commit(&mut self, batch: Batch, durable: bool) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut txn = self.db.begin_write().map_err(storage)?;
        txn.set_durability(if durable {
            Durability::Immediate
        } else {
            Durability::None
        })
        .map_err(storage)?;
        {
            let mut journal = txn.open_table(JOURNAL).map_err(storage)?;
            let mut chain = txn.open_table(CHAIN).map_err(storage)?;
            for (seq, bytes, hash) in &batch.records {
                journal.insert(*seq, bytes.as_slice()).map_err(storage)?;
                chain
                    .insert(*seq, hash.as_bytes().as_slice())
                    .map_err(storage)?;
            }
            let mut cas = txn.open_table(CAS).map_err(storage)?;
            for (hash, bytes) in &batch.cas {
                cas.insert(hash.as_bytes().as_slice(), bytes.as_slice())
                    .map_err(storage)?;
            }
            let mut meta = txn.open_table(META).map_err(storage)?;
            for (key, value) in &batch.meta {
                meta.insert(key.as_str(), value.as_slice())
                    .map_err(storage)?;
            }
            let mut by_cause = txn.open_table(BY_CAUSE).map_err(storage)?;
            let mut by_schema = txn.open_table(BY_SCHEMA).map_err(storage)?;
            let mut by_intent = txn.open_table(BY_INTENT).map_err(storage)?;
            for entry in &batch.index {
                match entry {
                    IndexEntry::Cause { cause, child } => {
                        drop(by_cause.insert((*cause, *child), ()).map_err(storage)?)
                    }
                    IndexEntry::Schema { schema, seq } => drop(
                        by_schema
                            .insert((schema.as_str(), *seq), ())
                            .map_err(storage)?,
                    ),
                    IndexEntry::Intent { intent, seq } => drop(
                        by_intent
                            .insert((intent.as_bytes().as_slice(), *seq), ())
                            .map_err(storage)?,
                    ),
                }
            }
        }
        txn.commit().map_err(storage)
    }

    fn record(&self, seq: u64) -> Result<Option<Vec<u8>>> {
        self.read(|txn| {
            let journal = txn.open_table(JOURNAL).map_err(storage)?;
            Ok(journal
                .get(seq)
                .map_err(storage)?
                .map(|v| v.value().to_vec()))
        })
    }

    fn record_hash(&self, seq: u64) -> Result<Option<Hash>> {
        self.read(|txn| {
            let chain = txn.open_table(CHAIN).map_err(storage)?;
            match chain.get(seq).map_err(storage)? {
                None => Ok(None),
                Some(hash) => Ok(Some(to_hash(hash.value())?)),
            }
        })
    }

    fn records(&self, from: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>, Hash)>> {
        let limit = limit.min(RECORDS_PAGE_MAX);
        self.read(|txn| {
            let journal = txn.open_table(JOURNAL).map_err(storage)?;
            let chain = txn.open_table(CHAIN).map_err(storage)?;
            let mut out = Vec::with_capacity(limit.min(1024));
            let records = journal.range(from..).map_err(storage)?;
            let hashes = chain.range(from..).map_err(storage)?;
            for (record, hash) in records.zip(hashes).take(limit) {
                let (seq, bytes) = record.map_err(storage)?;
                let (hash_seq, hash) = hash.map_err(storage)?;
                if seq.value() != hash_seq.value() {
                    return Err(KernelError::Corrupt(format!(
                        "record {} has no chain hash",
                        seq.value()
                    )));
                }
                out.push((seq.value(), bytes.value().to_vec(), to_hash(hash.value())?));
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

    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.read(|txn| {
            let meta = txn.open_table(META).map_err(storage)?;
            Ok(meta.get(key).map_err(storage)?.map(|v| v.value().to_vec()))
        })
    }

    fn children(&self, cause: u64) -> Result<Vec<u64>> {
        self.read(|txn| {
            let table = txn.open_table(BY_CAUSE).map_err(storage)?;
            let mut out = Vec::new();
            for entry in table
                .range((cause, 0)..=(cause, u64::MAX))
                .map_err(storage)?
            {
                out.push(entry.map_err(storage)?.0.value().1);
            }
            Ok(out)
        })
    }

    fn events_of_schema(&self, schema: &str, from: u64, limit: usize) -> Result<Vec<u64>> {
        self.read(|txn| {
            let table = txn.open_table(BY_SCHEMA).map_err(storage)?;
            let mut out = Vec::new();
            for entry in table
                .range((schema, from)..=(schema, u64::MAX))
                .map_err(storage)?
                .take(limit.min(RECORDS_PAGE_MAX))
            {
                out.push(entry.map_err(storage)?.0.value().1);
            }
            Ok(out)
        })
    }

    fn intent_records(&self, intent: &Hash) -> Result<Vec<u64>> {
        self.read(|txn| {
            let table = txn.open_table(BY_INTENT).map_err(storage)?;
            let key = intent.as_bytes().as_slice();
            let mut out = Vec::new();
            for entry in table.range((key, 0)..=(key, u64::MAX)).map_err(storage)? {
                out.push(entry.map_err(storage)?.0.value().1);
            }
            Ok(out)
        })
    }
}
