//! From what a person names (a seq, an intent hash, an event hash) to the records to start at.

use worldline_air::Hash;

use super::{META_INDEX_FROM, WhyError, WhyResult, read};
use crate::record::{Record, RecordBody};
use crate::store::Store;
use crate::world::event_hash;

/// Most roots one event hash resolves to (identical events share a hash); the first ones in
/// journal order are taken.
pub const ROOTS_MAX: usize = 16;

/// Records read per page by the scan of a journal's part written before the event index.
const SCAN_PAGE_RECORDS: usize = 1024;

/// What the query names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A record's seq.
    Seq(u64),
    /// An intent hash or an event hash.
    Hash(Hash),
}

/// What a hash turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// A seq.
    Seq,
    /// An intent hash: the root is its `effect_intent`.
    Intent,
    /// An event hash: the roots are the domain events with that value.
    Event,
}

/// The records a query starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// What the target was.
    pub kind: TargetKind,
    /// The roots, in journal order.
    pub roots: Vec<u64>,
    /// More than [`ROOTS_MAX`] events had that hash.
    pub cut: bool,
}

/// Finds the records a target names, through the indexes.
pub fn resolve(store: &dyn Store, target: Target) -> WhyResult<Resolved> {
    match target {
        Target::Seq(seq) => {
            let head = store.head()?.map_or(0, |h| h.seq);
            if store.record_hash(seq)?.is_none() {
                return Err(WhyError::UnknownSeq { seq, head });
            }
            Ok(Resolved {
                kind: TargetKind::Seq,
                roots: vec![seq],
                cut: false,
            })
        }
        Target::Hash(hash) => {
            for seq in store.intent_records(&hash)? {
                if let Some(Record {
                    body: RecordBody::EffectIntent(_),
                    ..
                }) = read(store, seq)?
                {
                    return Ok(Resolved {
                        kind: TargetKind::Intent,
                        roots: vec![seq],
                        cut: false,
                    });
                }
            }
            let mut roots = scan_unindexed(store, &hash)?;
            roots.extend(store.event_records(&hash, ROOTS_MAX + 1)?);
            if roots.is_empty() {
                return Err(WhyError::UnknownHash { hash });
            }
            let cut = roots.len() > ROOTS_MAX;
            roots.truncate(ROOTS_MAX);
            Ok(Resolved {
                kind: TargetKind::Event,
                roots,
                cut,
            })
        }
    }
}

/// The domain events with event hash `hash` among the records written before the event index
/// (none for a world created since): a scan of that part of the journal, at most
/// [`ROOTS_MAX`] + 1 found.
fn scan_unindexed(store: &dyn Store, hash: &Hash) -> WhyResult<Vec<u64>> {
    let from = match store.meta(META_INDEX_FROM)? {
        Some(bytes) => bytes
            .as_slice()
            .try_into()
            .map(u64::from_be_bytes)
            .unwrap_or(u64::MAX),
        // A store nobody opened since the index existed: all of it is unindexed.
        None => u64::MAX,
    };
    let mut found = Vec::new();
    let mut next = 0;
    while next < from && found.len() <= ROOTS_MAX {
        let page = store.records(next, SCAN_PAGE_RECORDS)?;
        let Some(last) = page.last() else { break };
        next = last.0 + 1;
        for (seq, bytes, _) in page {
            if seq >= from {
                break;
            }
            if let RecordBody::DomainEvent { value, .. } = Record::decode(&bytes)?.body
                && event_hash(&value) == *hash
            {
                found.push(seq);
            }
        }
    }
    Ok(found)
}
