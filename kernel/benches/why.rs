//! `cargo bench -p worldline-kernel --bench why`: the same why queries on a journal of 1,000
//! and of 1,000,000 records (issue 7: within 2× of each other, under 5 ms at 1,000,000).
//!
//! The journal repeats one plan's HTTP round trip (10 records: an input, a reducer's event, a
//! plan start, its intent, two decisions, the receipt, an event the plan raises, its end, and a
//! second input), written with the indexes a live commit writes. The queries start in the middle
//! of the journal: a receipt's why (backwards) and an input's consequences (forwards).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use worldline_air::{Hash, Name, Value};
use worldline_kernel::record::{
    AdmissionBody, EffectIntentBody, EventOrigin, Origin, OriginKind, ReceiptBody, Record,
    RecordBody, Stamp, chain_hash,
};
use worldline_kernel::store::{Batch, RedbStore, Store};
use worldline_kernel::why::{self, Direction, Limits};
use worldline_kernel::world::index_entries;

/// Records per round trip.
const UNIT_RECORDS: u64 = 10;
/// Records per commit while building.
const BATCH_RECORDS: u64 = 10_000;

fn name(text: &str) -> Name {
    Name::parse(text).unwrap()
}

fn stamp(seq: u64) -> Option<Stamp> {
    Some(Stamp {
        now_ns: 1_700_000_000_000_000_000 + seq,
        logical_now_ns: 1_700_000_000_000_000_000 + seq,
        entropy: [0; 32],
        manifest_hash: Hash([7; 32]),
    })
}

/// The records of round trip `unit`, starting at `base`.
fn unit(base: u64) -> Vec<Record> {
    let plan = name("demo/fetch_plan@1");
    let intent_hash = Hash::of(&base.to_be_bytes());
    let event = |value: u64, origin| RecordBody::DomainEvent {
        schema: name("demo/Ev@1"),
        value: Value::Nat(value).to_cbor_body(),
        origin,
    };
    let admission = |stage: &str| {
        RecordBody::Admission(AdmissionBody {
            intent_hash,
            stage: stage.to_owned(),
            allowed: true,
            code: "allowed".to_owned(),
            detail: String::new(),
        })
    };
    let started = base + 2;
    let intent = base + 3;
    let bodies: Vec<(Vec<u64>, Option<Stamp>, RecordBody)> = vec![
        (vec![], stamp(base), event(base, EventOrigin::External)),
        (
            vec![base],
            None,
            event(
                base + 1,
                EventOrigin::Reducer {
                    reducer: name("demo/FetchNotify@1"),
                    key: None,
                },
            ),
        ),
        (
            vec![base + 1],
            None,
            RecordBody::PlanStarted {
                plan: plan.clone(),
                manifest_hash: Hash([7; 32]),
                input: vec![],
            },
        ),
        (
            vec![started],
            None,
            RecordBody::EffectIntent(EffectIntentBody {
                intent_hash,
                kind: "http.request".to_owned(),
                params: vec![],
                cap: "cap_http".to_owned(),
                idempotency_key: [0; 32],
                origin: Origin {
                    kind: OriginKind::Plan,
                    name: plan.clone(),
                    key: Some(Value::Nat(started).to_cbor_body()),
                },
            }),
        ),
        (vec![intent], None, admission("capability")),
        (vec![intent], None, admission("policy")),
        (
            vec![intent],
            stamp(base + 6),
            RecordBody::Receipt(ReceiptBody {
                intent_hash,
                adapter_id: "http".to_owned(),
                status: "ok".to_owned(),
                payload: vec![],
                cost_cents: None,
                started_ns: 0,
                finished_ns: 0,
                error: None,
                signature: vec![0; 64],
            }),
        ),
        (
            vec![base + 6],
            None,
            event(
                base + 7,
                EventOrigin::Plan {
                    plan: plan.clone(),
                    instance: started,
                },
            ),
        ),
        (
            vec![started],
            None,
            RecordBody::PlanEnded {
                instance: started,
                status: "ok".to_owned(),
                code: None,
                reason: None,
            },
        ),
        (
            vec![],
            stamp(base + 9),
            event(base + 9, EventOrigin::External),
        ),
    ];
    bodies
        .into_iter()
        .enumerate()
        .map(|(i, (causes, stamp, body))| Record {
            seq: base + i as u64,
            causes,
            stamp,
            body,
        })
        .collect()
}

/// A store of `records` records (a multiple of [`UNIT_RECORDS`]).
fn journal(dir: &std::path::Path, records: u64) -> RedbStore {
    let mut store = RedbStore::open(&dir.join("why.redb")).unwrap();
    let mut prev = Hash::ZERO;
    let mut batch = Batch::default();
    for base in (0..records).step_by(UNIT_RECORDS as usize) {
        for record in unit(base) {
            let bytes = record.encode();
            let hash = chain_hash(&prev, &bytes);
            prev = hash;
            batch.index.extend(index_entries(&record));
            batch.records.push((record.seq, bytes, hash));
        }
        if batch.records.len() as u64 >= BATCH_RECORDS {
            store.commit(&std::mem::take(&mut batch), false).unwrap();
        }
    }
    batch.meta.push(why::index_from_meta(0));
    store.commit(&batch, true).unwrap();
    store
}

fn queries(c: &mut Criterion) {
    for records in [1_000u64, 1_000_000] {
        let dir = tempfile::tempdir().unwrap();
        let started = std::time::Instant::now();
        let store = journal(dir.path(), records);
        eprintln!("why: {records} records written in {:?}", started.elapsed());
        let middle = records / 2 / UNIT_RECORDS * UNIT_RECORDS;
        let receipt = middle + 6;
        let back = why::walk(&store, &[receipt], Direction::Back, Limits::default()).unwrap();
        assert_eq!(back.nodes.len(), 5);
        let forward = why::walk(&store, &[middle], Direction::Forward, Limits::default()).unwrap();
        assert_eq!(forward.nodes.len(), 9);
        let target = why::Target::Hash(Hash::of(&middle.to_be_bytes()));
        c.bench_function(&format!("why_back_receipt_{records}"), |b| {
            b.iter(|| why::walk(&store, &[receipt], Direction::Back, Limits::default()).unwrap())
        });
        c.bench_function(&format!("why_forward_input_{records}"), |b| {
            b.iter(|| why::walk(&store, &[middle], Direction::Forward, Limits::default()).unwrap())
        });
        c.bench_function(&format!("why_resolve_intent_{records}"), |b| {
            b.iter(|| why::resolve(&store, target).unwrap())
        });
    }
}

criterion_group!(benches, queries);
criterion_main!(benches);
