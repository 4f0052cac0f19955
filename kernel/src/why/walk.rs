//! The walk: breadth first from the roots, over causes (backwards) or the cause and plan
//! indexes (forwards), within the depth and node limits.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use worldline_air::Name;

use super::input::Inputs;
use super::{
    DEPTH_MAX, Decision, Direction, Leaf, Limits, NODES_MAX, Via, WhyEdge, WhyError, WhyGraph,
    WhyNode, WhyResult, read,
};
use crate::error::{KernelError, Result};
use crate::record::{EventOrigin, OriginKind, Record, RecordBody};
use crate::store::Store;
use crate::world::plan_instance;

/// Most records about one intent read for its decisions (the intent, one decision per stage,
/// the receipt).
const INTENT_RECORDS_MAX: usize = 64;

/// How a neighbour is linked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// Named in `causes`.
    Cause,
    /// A record of the plan instance (not also a cause).
    Instance,
}

/// Reads records once and remembers them for the rest of the walk.
struct Reader<'s> {
    store: &'s dyn Store,
    records: BTreeMap<u64, Record>,
}

impl Reader<'_> {
    fn get(&mut self, seq: u64) -> Result<&Record> {
        if !self.records.contains_key(&seq) {
            let record = read(self.store, seq)?.ok_or_else(|| {
                KernelError::Corrupt(format!("record {seq} is indexed but not in the journal"))
            })?;
            self.records.insert(seq, record);
        }
        self.records
            .get(&seq)
            .ok_or_else(|| KernelError::Corrupt(format!("record {seq} vanished")))
    }

    /// The plan of an instance, from its `plan_started`.
    fn plan_of(&mut self, instance: u64) -> Result<Option<Name>> {
        Ok(match &self.get(instance)?.body {
            RecordBody::PlanStarted { plan, .. } => Some(plan.clone()),
            _ => None,
        })
    }

    /// The plan a record of a plan instance belongs to.
    fn plan_of_record(&mut self, record: &Record) -> Result<Option<Name>> {
        match (&record.body, plan_instance(record)) {
            (RecordBody::PlanStarted { plan, .. }, _) => Ok(Some(plan.clone())),
            (RecordBody::DomainEvent { origin, .. }, _) => Ok(match origin {
                EventOrigin::Plan { plan, .. } => Some(plan.clone()),
                _ => None,
            }),
            (RecordBody::EffectIntent(i), _) if i.origin.kind == OriginKind::Plan => {
                Ok(Some(i.origin.name.clone()))
            }
            (_, Some(instance)) => self.plan_of(instance),
            (_, None) => Ok(None),
        }
    }

    /// The neighbours of a record in the direction walked, ascending, at most `limit` of each
    /// kind.
    fn neighbours(
        &mut self,
        record: &Record,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<(u64, Link)>> {
        let mut out: BTreeMap<u64, Link> = BTreeMap::new();
        match direction {
            Direction::Back => {
                for &cause in record.causes.iter().take(limit) {
                    out.insert(cause, Link::Cause);
                }
                if let Some(instance) = plan_instance(record)
                    && instance != record.seq
                {
                    out.entry(instance).or_insert(Link::Instance);
                }
            }
            Direction::Forward => {
                for child in self.store.children(record.seq, limit)? {
                    out.insert(child, Link::Cause);
                }
                if let RecordBody::PlanStarted { .. } = record.body {
                    for member in self.store.plan_records(record.seq, limit)? {
                        if member != record.seq {
                            out.entry(member).or_insert(Link::Instance);
                        }
                    }
                }
            }
        }
        Ok(out.into_iter().collect())
    }

    /// How `cause` led to `effect`.
    fn via(&mut self, effect: &Record, link: Link) -> Result<Via> {
        if link == Link::Instance {
            let plan = self.plan_of_record(effect)?;
            return Ok(plan.map_or(Via::Kernel, |plan| Via::Instance { plan }));
        }
        Ok(match &effect.body {
            RecordBody::DomainEvent { origin, .. } => match origin {
                EventOrigin::Reducer { reducer, .. } => Via::Step {
                    reducer: reducer.clone(),
                },
                EventOrigin::Plan { plan, instance } => Via::Plan {
                    plan: plan.clone(),
                    instance: *instance,
                },
                EventOrigin::External | EventOrigin::Kernel => Via::Kernel,
            },
            RecordBody::StepFailed { reducer, .. } => Via::Step {
                reducer: reducer.clone(),
            },
            RecordBody::EffectIntent(i) => match (i.origin.kind, plan_instance(effect)) {
                (OriginKind::Plan, Some(instance)) => Via::Plan {
                    plan: i.origin.name.clone(),
                    instance,
                },
                _ => Via::Step {
                    reducer: i.origin.name.clone(),
                },
            },
            RecordBody::Admission(_) => Via::Decision,
            RecordBody::Receipt(_) => Via::Receipt,
            RecordBody::PlanStarted { plan, .. } => Via::Trigger { plan: plan.clone() },
            RecordBody::PlanResult { instance, .. } | RecordBody::PlanEnded { instance, .. } => {
                match self.plan_of(*instance)? {
                    Some(plan) => Via::Plan {
                        plan,
                        instance: *instance,
                    },
                    None => Via::Kernel,
                }
            }
            _ => Via::Kernel,
        })
    }

    /// The admission decisions about an intent, through the intent index.
    fn decisions(&mut self, record: &Record) -> Result<Vec<Decision>> {
        let RecordBody::EffectIntent(intent) = &record.body else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for seq in self.store.intent_records(&intent.intent_hash)? {
            if out.len() >= INTENT_RECORDS_MAX {
                break;
            }
            let about = self.get(seq)?;
            // Two intents with the same hash (the second made after the first closed) share
            // the index: a decision belongs to the intent that caused it.
            if !about.causes.contains(&record.seq) {
                continue;
            }
            if let RecordBody::Admission(a) = &about.body {
                out.push(Decision {
                    seq,
                    stage: a.stage.clone(),
                    allowed: a.allowed,
                    code: a.code.clone(),
                    detail: a.detail.clone(),
                });
            }
        }
        Ok(out)
    }
}

/// Walks from `roots` (which must be records of `store`) in `direction` within `limits`
/// (clamped to [`DEPTH_MAX`] and [`NODES_MAX`]).
pub fn walk(
    store: &dyn Store,
    roots: &[u64],
    direction: Direction,
    limits: Limits,
) -> WhyResult<WhyGraph> {
    let limits = Limits {
        depth: limits.depth.min(DEPTH_MAX),
        nodes: limits.nodes.clamp(1, NODES_MAX),
    };
    let mut reader = Reader {
        store,
        records: BTreeMap::new(),
    };
    let mut graph = WhyGraph {
        roots: Vec::new(),
        direction,
        limits,
        nodes: Vec::new(),
        edges: Vec::new(),
        cut_by_depth: false,
        cut_by_nodes: false,
    };
    // seq → depth from the nearest root
    let mut seen: BTreeMap<u64, u32> = BTreeMap::new();
    let mut queue: VecDeque<u64> = VecDeque::new();
    for &root in roots.iter().take(limits.nodes) {
        if seen.contains_key(&root) {
            continue;
        }
        if read(store, root)?.is_none() {
            let head = store.head()?.map_or(0, |h| h.seq);
            return Err(WhyError::UnknownSeq { seq: root, head });
        }
        seen.insert(root, 0);
        graph.roots.push(root);
        queue.push_back(root);
    }
    graph.cut_by_nodes = roots.len() > limits.nodes;
    let mut order = graph.roots.clone();
    let mut edges: BTreeSet<(u64, u64)> = BTreeSet::new();
    while let Some(seq) = queue.pop_front() {
        let depth = seen.get(&seq).copied().unwrap_or(0);
        let record = reader.get(seq)?.clone();
        let neighbours = reader.neighbours(&record, direction, limits.nodes + 1)?;
        if neighbours.is_empty() {
            continue;
        }
        if depth >= limits.depth {
            if neighbours.iter().any(|(n, _)| !seen.contains_key(n)) {
                graph.cut_by_depth = true;
            }
            continue;
        }
        for (next, link) in neighbours {
            if let std::collections::btree_map::Entry::Vacant(entry) = seen.entry(next) {
                if order.len() >= limits.nodes {
                    graph.cut_by_nodes = true;
                    break;
                }
                entry.insert(depth + 1);
                order.push(next);
                queue.push_back(next);
            }
            let (cause, effect) = match direction {
                Direction::Back => (next, seq),
                Direction::Forward => (seq, next),
            };
            if edges.insert((cause, effect)) {
                let effect_record = reader.get(effect)?.clone();
                let via = reader.via(&effect_record, link)?;
                graph.edges.push(WhyEdge { cause, effect, via });
            }
        }
    }
    let mut inputs = Inputs::default();
    for seq in order {
        let record = reader.get(seq)?.clone();
        let leaf = record.causes.is_empty().then_some(match record.body {
            RecordBody::Genesis(_) => Leaf::Genesis,
            _ => Leaf::External,
        });
        graph.nodes.push(WhyNode {
            depth: seen.get(&seq).copied().unwrap_or(0),
            plan: reader.plan_of_record(&record)?,
            decisions: reader.decisions(&record)?,
            in_force: inputs.of(store, &record)?,
            leaf,
            record,
        });
    }
    Ok(graph)
}
