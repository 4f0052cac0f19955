//! The walk over a hand-made journal in a real store: a plan's HTTP receipt and everything
//! around it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use worldline_air::{Hash, Name, Value};

use super::*;
use crate::config::WorldConfig;
use crate::record::{
    AdmissionBody, EffectIntentBody, EventOrigin, GenesisBody, Origin, OriginKind, ReceiptBody,
    RecordBody, Stamp,
};
use crate::store::{Batch, RedbStore, Store};
use crate::world::{event_hash, index_entries};

const M0: Hash = Hash([7; 32]);
const INTENT: Hash = Hash([9; 32]);

fn name(text: &str) -> Name {
    Name::parse(text).unwrap()
}

fn stamp(seconds: u64) -> Option<Stamp> {
    Some(Stamp {
        now_ns: seconds * 1_000_000_000,
        logical_now_ns: seconds * 1_000_000_000,
        entropy: [0; 32],
        manifest_hash: M0,
    })
}

fn event(value: &[u8], origin: EventOrigin) -> RecordBody {
    RecordBody::DomainEvent {
        schema: name("demo/Ev@1"),
        value: value.to_vec(),
        origin,
    }
}

fn admission(stage: &str) -> RecordBody {
    RecordBody::Admission(AdmissionBody {
        intent_hash: INTENT,
        stage: stage.to_owned(),
        allowed: true,
        code: "allowed".to_owned(),
        detail: String::new(),
    })
}

/// The journal: `(causes, stamp, body)` per seq.
fn journal() -> Vec<(Vec<u64>, Option<Stamp>, RecordBody)> {
    let plan = name("demo/p@1");
    vec![
        // 0
        (
            vec![],
            stamp(1),
            RecordBody::Genesis(GenesisBody {
                did: "did:key:z".to_owned(),
                manifest_hash: M0,
                config: WorldConfig::default(),
                parent: None,
            }),
        ),
        // 1: sent in
        (vec![], stamp(2), event(&[1], EventOrigin::External)),
        // 2: the reducer's step on 1
        (
            vec![1],
            None,
            event(
                &[2],
                EventOrigin::Reducer {
                    reducer: name("demo/R@1"),
                    key: None,
                },
            ),
        ),
        // 3: a trigger on 2
        (
            vec![2],
            None,
            RecordBody::PlanStarted {
                plan: plan.clone(),
                manifest_hash: M0,
                input: vec![],
            },
        ),
        // 4: the plan's intent
        (
            vec![3],
            None,
            RecordBody::EffectIntent(EffectIntentBody {
                intent_hash: INTENT,
                kind: "http.request".to_owned(),
                params: vec![],
                cap: "cap_http".to_owned(),
                idempotency_key: [0; 32],
                origin: Origin {
                    kind: OriginKind::Plan,
                    name: plan.clone(),
                    key: Some(Value::Nat(3).to_cbor_body()),
                },
            }),
        ),
        (vec![4], None, admission("capability")),
        (vec![4], None, admission("policy")),
        // 7: the receipt
        (
            vec![4],
            stamp(3),
            RecordBody::Receipt(ReceiptBody {
                intent_hash: INTENT,
                adapter_id: "http".to_owned(),
                status: "ok".to_owned(),
                payload: vec![],
                cost_cents: None,
                started_ns: 0,
                finished_ns: 0,
                error: None,
                signature: vec![],
            }),
        ),
        // 8: the plan, woken by 7, raises an event
        (
            vec![7],
            None,
            event(
                &[8],
                EventOrigin::Plan {
                    plan: plan.clone(),
                    instance: 3,
                },
            ),
        ),
        // 9
        (
            vec![3],
            None,
            RecordBody::PlanEnded {
                instance: 3,
                status: "ok".to_owned(),
                code: None,
                reason: None,
            },
        ),
    ]
}

/// A store holding [`journal`], its indexes written as a live commit writes them (`index`
/// false: as a world written before the why indexes, without the event and plan entries).
fn store(dir: &std::path::Path, index: bool) -> RedbStore {
    store_of(dir, index, journal())
}

/// A store holding `records` (seq = position), indexed as [`store`] says.
fn store_of(
    dir: &std::path::Path,
    index: bool,
    records: Vec<(Vec<u64>, Option<Stamp>, RecordBody)>,
) -> RedbStore {
    let mut store = RedbStore::open(&dir.join("w.redb")).unwrap();
    let mut batch = Batch::default();
    for (seq, (causes, stamp, body)) in records.into_iter().enumerate() {
        let record = Record {
            seq: seq as u64,
            causes,
            stamp,
            body,
        };
        batch
            .index
            .extend(index_entries(&record).into_iter().filter(|e| {
                index
                    || !matches!(
                        e,
                        crate::store::IndexEntry::Event { .. }
                            | crate::store::IndexEntry::Plan { .. }
                    )
            }));
        batch
            .records
            .push((record.seq, record.encode(), Hash::ZERO));
    }
    if index {
        batch.meta.push(index_from_meta(0));
    }
    store.commit(&batch, false).unwrap();
    store
}

fn seqs(graph: &WhyGraph) -> Vec<u64> {
    let mut out: Vec<u64> = graph.nodes.iter().map(|n| n.record.seq).collect();
    out.sort();
    out
}

fn edges(graph: &WhyGraph) -> Vec<(u64, u64, Via)> {
    graph
        .edges
        .iter()
        .map(|e| (e.cause, e.effect, e.via.clone()))
        .collect()
}

#[test]
fn a_receipt_leads_back_through_intent_plan_trigger_and_step_to_the_input() {
    let scratch = tempfile::tempdir().unwrap();
    let store = store(scratch.path(), true);
    let graph = walk(&store, &[7], Direction::Back, Limits::default()).unwrap();
    assert_eq!(seqs(&graph), [1, 2, 3, 4, 7]);
    let plan = name("demo/p@1");
    assert_eq!(
        edges(&graph),
        [
            (4, 7, Via::Receipt),
            (
                3,
                4,
                Via::Plan {
                    plan: plan.clone(),
                    instance: 3
                }
            ),
            (2, 3, Via::Trigger { plan: plan.clone() }),
            (
                1,
                2,
                Via::Step {
                    reducer: name("demo/R@1")
                }
            ),
        ]
    );
    let intent = graph.node(4).unwrap();
    let stages: Vec<_> = intent.decisions.iter().map(|d| d.stage.as_str()).collect();
    assert_eq!(stages, ["capability", "policy"]);
    assert_eq!(intent.plan, Some(plan));
    let in_force = intent.in_force.clone().unwrap();
    assert_eq!(
        (in_force.input, in_force.now_ns, in_force.manifest_hash),
        (1, 2_000_000_000, M0)
    );
    assert_eq!(graph.node(7).unwrap().in_force.clone().unwrap().input, 7);
    assert_eq!(graph.node(1).unwrap().leaf, Some(Leaf::External));
    assert!(!graph.cut_by_depth && !graph.cut_by_nodes);
}

#[test]
fn a_plan_s_later_record_names_its_instance() {
    let scratch = tempfile::tempdir().unwrap();
    let store = store(scratch.path(), true);
    let graph = walk(&store, &[8], Direction::Back, Limits::default()).unwrap();
    let plan = name("demo/p@1");
    assert_eq!(
        edges(&graph)[..2],
        [
            (3, 8, Via::Instance { plan: plan.clone() }),
            (7, 8, Via::Plan { plan, instance: 3 }),
        ]
    );
    assert_eq!(seqs(&graph), [1, 2, 3, 4, 7, 8]);
}

#[test]
fn forwards_an_input_reaches_everything_it_caused() {
    let scratch = tempfile::tempdir().unwrap();
    let store = store(scratch.path(), true);
    let graph = walk(&store, &[1], Direction::Forward, Limits::default()).unwrap();
    assert_eq!(seqs(&graph), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert!(edges(&graph).contains(&(4, 5, Via::Decision)));
    // Without the plan index (an older world) the same records are reached through causes.
    let scratch = tempfile::tempdir().unwrap();
    let old = store_without_index(scratch.path());
    let graph = walk(&old, &[1], Direction::Forward, Limits::default()).unwrap();
    assert_eq!(seqs(&graph), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
}

fn store_without_index(dir: &std::path::Path) -> RedbStore {
    store(dir, false)
}

#[test]
fn the_depth_limit_cuts_and_says_so() {
    let scratch = tempfile::tempdir().unwrap();
    let store = store(scratch.path(), true);
    let limits = Limits {
        depth: 2,
        nodes: NODES_MAX,
    };
    let graph = walk(&store, &[7], Direction::Back, limits).unwrap();
    assert_eq!(seqs(&graph), [3, 4, 7]);
    assert!(graph.cut_by_depth);
    assert!(!graph.cut_by_nodes);
    // A walk that ends exactly at the limit is not cut.
    let limits = Limits {
        depth: 4,
        nodes: NODES_MAX,
    };
    assert!(
        !walk(&store, &[7], Direction::Back, limits)
            .unwrap()
            .cut_by_depth
    );
}

#[test]
fn the_node_limit_cuts_and_says_so() {
    let scratch = tempfile::tempdir().unwrap();
    let store = store(scratch.path(), true);
    let limits = Limits { depth: 8, nodes: 3 };
    let graph = walk(&store, &[1], Direction::Forward, limits).unwrap();
    assert_eq!(graph.nodes.len(), 3);
    assert!(graph.cut_by_nodes);
    // Limits are clamped to the hard maximum.
    let limits = Limits {
        depth: u32::MAX,
        nodes: usize::MAX,
    };
    let graph = walk(&store, &[1], Direction::Forward, limits).unwrap();
    assert_eq!(
        (graph.limits.depth, graph.limits.nodes),
        (DEPTH_MAX, NODES_MAX)
    );
}

#[test]
fn genesis_is_a_leaf() {
    let scratch = tempfile::tempdir().unwrap();
    let store = store(scratch.path(), true);
    let graph = walk(&store, &[0], Direction::Back, Limits::default()).unwrap();
    assert_eq!(seqs(&graph), [0]);
    assert_eq!(graph.nodes[0].leaf, Some(Leaf::Genesis));
    assert!(graph.edges.is_empty());
}

#[test]
fn targets_resolve_through_the_indexes() {
    let scratch = tempfile::tempdir().unwrap();
    let store = store(scratch.path(), true);
    let intent = resolve(&store, Target::Hash(INTENT)).unwrap();
    assert_eq!((intent.kind, intent.roots), (TargetKind::Intent, vec![4]));
    let event = resolve(&store, Target::Hash(event_hash(&[2]))).unwrap();
    assert_eq!((event.kind, event.roots), (TargetKind::Event, vec![2]));
    assert!(matches!(
        resolve(&store, Target::Hash(Hash([1; 32]))),
        Err(WhyError::UnknownHash { .. })
    ));
    assert!(matches!(
        resolve(&store, Target::Seq(10)),
        Err(WhyError::UnknownSeq { seq: 10, head: 9 })
    ));
    assert!(matches!(
        walk(&store, &[99], Direction::Back, Limits::default()),
        Err(WhyError::UnknownSeq { seq: 99, .. })
    ));
}

#[test]
fn an_older_store_without_the_event_index_is_scanned() {
    let scratch = tempfile::tempdir().unwrap();
    let store = store_without_index(scratch.path());
    assert!(
        store
            .event_records(&event_hash(&[8]), 4)
            .unwrap()
            .is_empty()
    );
    let event = resolve(&store, Target::Hash(event_hash(&[8]))).unwrap();
    assert_eq!(event.roots, vec![8]);
}

/// An intent identical to an earlier, closed one has the same hash; each keeps its own
/// decisions (those it caused), not the other's.
#[test]
fn identical_intents_keep_their_own_decisions() {
    let scratch = tempfile::tempdir().unwrap();
    let mut records = journal();
    let again = records[4].2.clone();
    records.push((vec![8], None, again)); // 10: the same intent, later
    records.push((vec![10], None, admission("capability"))); // 11
    let store = store_of(scratch.path(), true, records);
    let decisions_of = |seq: u64| {
        let graph = walk(
            &store,
            &[seq],
            Direction::Back,
            Limits {
                depth: 0,
                nodes: 10,
            },
        )
        .unwrap();
        let node = graph.node(seq).unwrap();
        node.decisions.iter().map(|d| d.seq).collect::<Vec<_>>()
    };
    assert_eq!(decisions_of(4), [5, 6]);
    assert_eq!(decisions_of(10), [11]);
}
