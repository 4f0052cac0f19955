//! Following what a record causes as the journal grows (`world why --forward --follow`, the
//! event stream's `caused_by`): records are read in seq order, so a record is a descendant
//! exactly when one of its causes (all earlier records) already is.

use std::collections::BTreeSet;

use crate::record::Record;

/// Most records a [`Descendants`] remembers; past it, a record is still admitted when it names
/// a remembered one as its cause, but is not remembered itself (memory stays bounded; a
/// lineage that large is followed by its first million records).
pub const DESCENDANTS_MAX: usize = 1_000_000;

/// The records one record caused, directly or not, learned as records are read in seq order.
#[derive(Debug, Clone)]
pub struct Descendants {
    root: u64,
    known: BTreeSet<u64>,
}

impl Descendants {
    /// The lineage of `root` (the root itself included).
    pub fn of(root: u64) -> Descendants {
        Descendants {
            root,
            known: BTreeSet::from([root]),
        }
    }

    /// The root: reading must start there for no descendant to be missed.
    pub fn root(&self) -> u64 {
        self.root
    }

    /// Whether `record` is the root or was caused by a known descendant; remembers it if so.
    /// Records must come in seq order, from the root on.
    pub fn admit(&mut self, record: &Record) -> bool {
        let caused = record.seq == self.root
            || (record.seq > self.root
                && record.causes.iter().any(|cause| self.known.contains(cause)));
        if caused && self.known.len() < DESCENDANTS_MAX {
            self.known.insert(record.seq);
        }
        caused
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{EventOrigin, RecordBody};

    fn record(seq: u64, causes: &[u64]) -> Record {
        Record {
            seq,
            causes: causes.to_vec(),
            stamp: None,
            body: RecordBody::DomainEvent {
                schema: worldline_air::Name::parse("demo/Ev@1").unwrap(),
                value: vec![0xf6],
                origin: EventOrigin::External,
            },
        }
    }

    #[test]
    fn the_lineage_grows_through_causes_only() {
        let mut lineage = Descendants::of(3);
        let admitted: Vec<u64> = [
            record(2, &[]),     // before the root
            record(3, &[2]),    // the root
            record(4, &[]),     // unrelated input
            record(5, &[3]),    // caused by the root
            record(6, &[4]),    // caused by the unrelated one
            record(7, &[6, 5]), // caused by a descendant among others
            record(8, &[7]),    // transitively
        ]
        .iter()
        .filter(|r| lineage.admit(r))
        .map(|r| r.seq)
        .collect();
        assert_eq!(admitted, vec![3, 5, 7, 8]);
        assert_eq!(lineage.root(), 3);
    }
}
