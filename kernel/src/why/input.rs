//! The input a record belongs to, for its ingress time and the manifest in force.
//!
//! Every derived record is appended right after the input that caused it (and before the next
//! input), so its input is the last stamped record at or before it: at most one cascade back
//! ([`CASCADE_RECORDS_MAX`] records, plus the snapshot and checkpoint that can follow).

use std::collections::BTreeMap;

use super::InForce;
use crate::config::CASCADE_RECORDS_MAX;
use crate::error::Result;
use crate::record::Record;
use crate::store::Store;

/// Records read per step of the scan back, at first (doubling up to the cascade bound).
const PAGE_RECORDS_MIN: u64 = 8;
/// Most records looked at behind a record for its input.
const SCAN_RECORDS_MAX: u64 = CASCADE_RECORDS_MAX as u64 + 16;

/// Remembers, per input found, the stretch of seqs it is known to cover.
#[derive(Default)]
pub(super) struct Inputs {
    /// Input seq → (what it had in force, last seq known to belong to it).
    known: BTreeMap<u64, (InForce, u64)>,
}

impl Inputs {
    /// The input `record` belongs to, if one is found within the bound.
    pub(super) fn of(&mut self, store: &dyn Store, record: &Record) -> Result<Option<InForce>> {
        let seq = record.seq;
        if let Some(stamp) = &record.stamp {
            let in_force = InForce {
                input: seq,
                now_ns: stamp.now_ns,
                manifest_hash: stamp.manifest_hash,
            };
            self.learn(in_force.clone(), seq);
            return Ok(Some(in_force));
        }
        if let Some((_, (in_force, covered))) = self.known.range(..=seq).next_back()
            && *covered >= seq
        {
            return Ok(Some(in_force.clone()));
        }
        let mut end = seq; // exclusive
        let mut page = PAGE_RECORDS_MIN;
        while end > 0 && seq - end < SCAN_RECORDS_MAX {
            let from = end.saturating_sub(page);
            for (at, bytes, _) in store.records(from, (end - from) as usize)?.iter().rev() {
                let earlier = Record::decode(bytes)?;
                if let Some(stamp) = &earlier.stamp {
                    let in_force = InForce {
                        input: *at,
                        now_ns: stamp.now_ns,
                        manifest_hash: stamp.manifest_hash,
                    };
                    self.learn(in_force.clone(), seq);
                    return Ok(Some(in_force));
                }
            }
            end = from;
            page = (page * 2).min(SCAN_RECORDS_MAX);
        }
        Ok(None)
    }

    fn learn(&mut self, in_force: InForce, covered: u64) {
        let entry = self
            .known
            .entry(in_force.input)
            .or_insert((in_force, covered));
        entry.1 = entry.1.max(covered);
    }
}
