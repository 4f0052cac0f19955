//! The why graph: which records led to a record (backwards, down to external inputs and
//! genesis), or what a record caused (forwards), as a typed graph.
//!
//! The walk runs on indexes only (`spec/why.md`): a record's causes are in the record, its
//! effects in the cause index, a plan instance's records in the plan index, the records about
//! an intent in the intent index, and domain events by event hash in the event index. Its cost
//! is proportional to the answer, not to the journal, and it is bounded: at most
//! [`NODES_MAX`] nodes and [`DEPTH_MAX`] edges from the roots; the graph says when a limit cut it.

mod follow;
mod input;
mod resolve;
#[cfg(test)]
mod tests;
mod walk;

use worldline_air::{Hash, Name};

use crate::error::KernelError;
use crate::record::Record;

pub use follow::{DESCENDANTS_MAX, Descendants};
pub use resolve::{ROOTS_MAX, Resolved, Target, TargetKind, resolve};
pub use walk::walk;

/// Metadata key: the first seq from which the event and plan indexes are complete (big-endian
/// u64). Worlds created (or imported) since the why graph have 0; an older world gets its head
/// + 1 when it is first opened, and the records before that are found by a bounded scan.
pub const META_INDEX_FROM: &str = "index/why_from";

/// Edges walked from the roots when the caller does not say.
pub const DEPTH_DEFAULT: u32 = 16;
/// Most edges walked from the roots.
pub const DEPTH_MAX: u32 = 256;
/// Most nodes in one answer (also the default).
pub const NODES_MAX: usize = 500;

/// The metadata entry saying the why indexes are complete from `seq` on.
pub fn index_from_meta(seq: u64) -> (String, Vec<u8>) {
    (META_INDEX_FROM.to_owned(), seq.to_be_bytes().to_vec())
}

/// Which way to walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From a record to its causes, down to external inputs and genesis.
    Back,
    /// From a record to everything it caused.
    Forward,
}

/// How far to walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most edges from a root (clamped to [`DEPTH_MAX`]).
    pub depth: u32,
    /// Most nodes (clamped to [`NODES_MAX`]).
    pub nodes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            depth: DEPTH_DEFAULT,
            nodes: NODES_MAX,
        }
    }
}

/// The input a record belongs to: what was in force when it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InForce {
    /// The input's seq (the record's own for an input).
    pub input: u64,
    /// Its ingress wall time, ns since the epoch.
    pub now_ns: u64,
    /// The manifest in force.
    pub manifest_hash: Hash,
}

/// One admission decision about an intent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The decision's seq.
    pub seq: u64,
    /// `capability`, `policy`, `secret`, …
    pub stage: String,
    /// Admitted or not.
    pub allowed: bool,
    /// Machine-readable code.
    pub code: String,
    /// For people.
    pub detail: String,
}

/// Why a walk ended at a node (backwards).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaf {
    /// The world's first record.
    Genesis,
    /// An input from outside with no causes (an event sent in, an adapter key, a gap).
    External,
}

/// One record in the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhyNode {
    /// Edges from the nearest root.
    pub depth: u32,
    /// The record.
    pub record: Record,
    /// The plan, for a record of a plan instance (read from its `plan_started`).
    pub plan: Option<Name>,
    /// The admission decisions, for an intent.
    pub decisions: Vec<Decision>,
    /// The input it belongs to and the manifest in force, when found.
    pub in_force: Option<InForce>,
    /// Set on records that have no causes.
    pub leaf: Option<Leaf>,
}

/// How a cause led to an effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// A reducer's step on the cause (an event it emitted, an intent, a failed step).
    Step {
        /// The reducer.
        reducer: Name,
    },
    /// A trigger started a plan instance on the cause.
    Trigger {
        /// The plan.
        plan: Name,
    },
    /// A plan instance, woken by the cause, did this (raised an event, emitted an intent,
    /// produced its result, ended).
    Plan {
        /// The plan.
        plan: Name,
        /// The instance.
        instance: u64,
    },
    /// The effect belongs to the plan instance the cause started (a member whose own cause is
    /// another record, e.g. the receipt that woke the instance).
    Instance {
        /// The plan.
        plan: Name,
    },
    /// An admission decision about the intent.
    Decision,
    /// The receipt answering the intent.
    Receipt,
    /// The kernel itself (a snapshot, a checkpoint, `sys/WorldResumed@1` after a gap).
    Kernel,
}

/// An edge: `cause` led to `effect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhyEdge {
    /// The earlier record.
    pub cause: u64,
    /// The record it led to.
    pub effect: u64,
    /// How.
    pub via: Via,
}

/// The answer to one why query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhyGraph {
    /// Where the walk started.
    pub roots: Vec<u64>,
    /// Which way it went.
    pub direction: Direction,
    /// The limits it ran under (after clamping).
    pub limits: Limits,
    /// The nodes, roots first, then in walk order (breadth first, seqs ascending).
    pub nodes: Vec<WhyNode>,
    /// The edges between nodes, in the order found.
    pub edges: Vec<WhyEdge>,
    /// Some node at the depth limit had neighbours that were not walked.
    pub cut_by_depth: bool,
    /// The node limit stopped the walk.
    pub cut_by_nodes: bool,
}

impl WhyGraph {
    /// The node for `seq`, if it is in the graph.
    pub fn node(&self, seq: u64) -> Option<&WhyNode> {
        self.nodes.iter().find(|n| n.record.seq == seq)
    }
}

/// What a why query can fail with.
#[derive(Debug, thiserror::Error)]
pub enum WhyError {
    /// No record has this seq.
    #[error("no record {seq} (the journal ends at {head})")]
    UnknownSeq {
        /// The seq asked for.
        seq: u64,
        /// The last seq.
        head: u64,
    },
    /// No intent and no domain event has this hash.
    #[error("no intent or event with hash {hash}")]
    UnknownHash {
        /// The hash asked for.
        hash: Hash,
    },
    /// The store failed or holds something unreadable.
    #[error(transparent)]
    Kernel(#[from] KernelError),
}

/// A why query's result.
pub type WhyResult<T> = std::result::Result<T, WhyError>;

/// A record from the store, decoded.
fn read(store: &dyn crate::store::Store, seq: u64) -> crate::error::Result<Option<Record>> {
    store
        .record(seq)?
        .map(|bytes| Record::decode(&bytes))
        .transpose()
}
