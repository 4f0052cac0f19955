//! Crash points for the crash matrix (`tests/crash/`): named places in the storage, dispatch
//! and import paths where a test build can be made to die, as a crash would, on the nth time
//! the place is reached.
//!
//! Compiled in only with the `failpoints` cargo feature; without it [`hit`] is an empty inline
//! function and costs nothing. With it, [`CRASH_AT_ENV`] (`NAME:NTH`) arms one point: its
//! `NTH` hit (counting from 1, per process) aborts the process (`std::process::abort`: no
//! destructor, no flush, no clean shutdown). [`TRACE_ENV`] prints every hit on stderr, so a
//! test can learn how often a workload reaches each point. This is the one place the kernel
//! reads the environment, and only in a failpoints build.
//!
//! Every point is listed in [`POINTS`]; the names are stable (tests and `spec/reliability.md`
//! use them).

/// `NAME:NTH`: abort the process at the `NTH` hit of crash point `NAME` (failpoints builds).
pub const CRASH_AT_ENV: &str = "WORLDLINE_CRASH_AT";
/// When set (to anything), every crash point hit is printed on stderr as
/// `failpoint NAME NTH` (failpoints builds).
pub const TRACE_ENV: &str = "WORLDLINE_FAILPOINT_TRACE";
/// True when this build has crash points compiled in.
pub const ENABLED: bool = cfg!(feature = "failpoints");

/// A write transaction is about to begin (any store write; the batch is built, nothing is
/// written).
pub const COMMIT_BEFORE: &str = "commit.before";
/// Everything of a write transaction is inserted, the commit not yet begun.
pub const COMMIT_MID: &str = "commit.mid";
/// A write transaction committed (durable when asked); the caller does not know yet.
pub const COMMIT_AFTER: &str = "commit.after";
/// A write that moves the snapshot pointer (it carries a snapshot) is about to begin.
pub const SNAPSHOT_BEFORE: &str = "snapshot.commit.before";
/// A write that moves the snapshot pointer committed.
pub const SNAPSHOT_AFTER: &str = "snapshot.commit.after";
/// A write that carries a checkpoint record is about to begin.
pub const CHECKPOINT_BEFORE: &str = "checkpoint.commit.before";
/// A write that carries a checkpoint record committed.
pub const CHECKPOINT_AFTER: &str = "checkpoint.commit.after";
/// An admitted, durable intent is about to go to its adapter.
pub const DISPATCH_BEFORE: &str = "dispatch.before";
/// An intent was handed to its adapter (an HTTP request may or may not have left yet).
pub const DISPATCH_AFTER: &str = "dispatch.after";
/// An adapter's receipt is signed, about to be submitted to the world.
pub const RECEIPT_BEFORE: &str = "receipt.before";
/// A receipt was accepted and its commit returned.
pub const RECEIPT_AFTER: &str = "receipt.after";
/// An import's side folder and store exist; nothing is written yet.
pub const IMPORT_START: &str = "import.start";
/// An import is handing one verified item (record, object, key) to its side store.
pub const IMPORT_ITEM: &str = "import.item";
/// An import's last durable commit returned; the side folder is not moved into place yet.
pub const IMPORT_RENAME_BEFORE: &str = "import.rename.before";
/// An imported world was moved into place; it is not opened and checked yet.
pub const IMPORT_RENAME_AFTER: &str = "import.rename.after";

/// Every crash point.
pub const POINTS: [&str; 15] = [
    COMMIT_BEFORE,
    COMMIT_MID,
    COMMIT_AFTER,
    SNAPSHOT_BEFORE,
    SNAPSHOT_AFTER,
    CHECKPOINT_BEFORE,
    CHECKPOINT_AFTER,
    DISPATCH_BEFORE,
    DISPATCH_AFTER,
    RECEIPT_BEFORE,
    RECEIPT_AFTER,
    IMPORT_START,
    IMPORT_ITEM,
    IMPORT_RENAME_BEFORE,
    IMPORT_RENAME_AFTER,
];

/// Reaches crash point `name` (one of [`POINTS`]): nothing, unless this is a failpoints build
/// and the point is armed for this hit, in which case the process aborts here.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_name: &'static str) {}

/// Reaches crash point `name` (one of [`POINTS`]): counts the hit, prints it when tracing, and
/// aborts the process if the point is armed for this hit.
#[cfg(feature = "failpoints")]
pub fn hit(name: &'static str) {
    armed::hit(name);
}

/// The crash points of one store write: [`COMMIT_BEFORE`] and [`COMMIT_AFTER`], plus the
/// snapshot and checkpoint points when the batch carries one.
#[derive(Debug, Clone, Copy)]
pub struct WritePoints {
    #[cfg(feature = "failpoints")]
    snapshot: bool,
    #[cfg(feature = "failpoints")]
    checkpoint: bool,
}

impl WritePoints {
    /// What `batch` carries.
    #[cfg(not(feature = "failpoints"))]
    #[inline(always)]
    pub fn of(_batch: &crate::store::Batch) -> WritePoints {
        WritePoints {}
    }

    /// What `batch` carries.
    #[cfg(feature = "failpoints")]
    pub fn of(batch: &crate::store::Batch) -> WritePoints {
        WritePoints {
            snapshot: batch
                .meta
                .iter()
                .any(|(key, _)| key == crate::world::META_SNAPSHOT),
            checkpoint: batch
                .index
                .iter()
                .any(|entry| matches!(entry, crate::store::IndexEntry::Checkpoint { .. })),
        }
    }

    /// Before the write transaction begins.
    #[inline(always)]
    pub fn before(&self) {
        #[cfg(feature = "failpoints")]
        {
            hit(COMMIT_BEFORE);
            if self.snapshot {
                hit(SNAPSHOT_BEFORE);
            }
            if self.checkpoint {
                hit(CHECKPOINT_BEFORE);
            }
        }
    }

    /// After it committed.
    #[inline(always)]
    pub fn after(&self) {
        #[cfg(feature = "failpoints")]
        {
            hit(COMMIT_AFTER);
            if self.snapshot {
                hit(SNAPSHOT_AFTER);
            }
            if self.checkpoint {
                hit(CHECKPOINT_AFTER);
            }
        }
    }
}

/// Parses a [`CRASH_AT_ENV`] value, `NAME:NTH` with `NTH` ≥ 1.
pub fn parse_spec(spec: &str) -> Option<(&str, u64)> {
    let (name, nth) = spec.rsplit_once(':')?;
    let nth: u64 = nth.parse().ok().filter(|n| *n >= 1)?;
    POINTS.contains(&name).then_some((name, nth))
}

#[cfg(feature = "failpoints")]
mod armed {
    use std::collections::BTreeMap;
    use std::sync::{Mutex, OnceLock};

    struct Armed {
        crash_at: Option<(String, u64)>,
        trace: bool,
    }

    static ARMED: OnceLock<Armed> = OnceLock::new();
    static HITS: Mutex<BTreeMap<&'static str, u64>> = Mutex::new(BTreeMap::new());

    fn armed() -> &'static Armed {
        ARMED.get_or_init(|| {
            let crash_at = std::env::var(super::CRASH_AT_ENV).ok().map(|spec| {
                match super::parse_spec(&spec) {
                    Some((name, nth)) => (name.to_owned(), nth),
                    // A typo must not silently test nothing.
                    None => {
                        eprintln!(
                            "{}={spec}: expected NAME:NTH with NAME one of {:?}",
                            super::CRASH_AT_ENV,
                            super::POINTS
                        );
                        std::process::abort();
                    }
                }
            });
            Armed {
                crash_at,
                trace: std::env::var_os(super::TRACE_ENV).is_some(),
            }
        })
    }

    pub(super) fn hit(name: &'static str) {
        let armed = armed();
        if armed.crash_at.is_none() && !armed.trace {
            return;
        }
        let nth = {
            let mut hits = HITS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let count = hits.entry(name).or_insert(0);
            *count += 1;
            *count
        };
        if armed.trace {
            eprintln!("failpoint {name} {nth}");
        }
        if armed
            .crash_at
            .as_ref()
            .is_some_and(|(at, n)| at == name && *n == nth)
        {
            eprintln!("failpoint {name} {nth}: crashing");
            std::process::abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_name_a_point_and_a_hit_from_one() {
        assert_eq!(parse_spec("commit.before:3"), Some(("commit.before", 3)));
        assert_eq!(parse_spec("commit.before:0"), None);
        assert_eq!(parse_spec("commit.before"), None);
        assert_eq!(parse_spec("no.such.point:1"), None);
    }

    #[test]
    fn every_point_is_listed_once() {
        let mut names = POINTS.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), POINTS.len());
    }
}
