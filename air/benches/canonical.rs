//! `cargo bench -p worldline-air`: canonical encode + hash of AIR, and typed-value paths.
//!
//! The AgentOS 05-chain-comp world (manifest and every node) is the reference workload of the
//! foundation issue; typed-value encode/decode covers the per-event path.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

#[path = "../../tests/src/conformance.rs"]
mod conformance;

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use worldline_air::load::{SourceFile, load_sources, parse_sources};
use worldline_air::nodes::Node;
use worldline_air::plane::BuildOptions;
use worldline_air::{ControlPlane, Name, Value};

fn chain_comp_sources() -> Option<Vec<SourceFile>> {
    let dir = conformance::agentos_dir("bench canonical")?.join("examples/05-chain-comp/air");
    let mut files: Vec<SourceFile> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| SourceFile {
            name: p.display().to_string(),
            text: std::fs::read_to_string(&p).unwrap(),
        })
        .collect();
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Some(files)
}

fn air(c: &mut Criterion) {
    let Some(sources) = chain_comp_sources() else {
        return;
    };
    let plane: ControlPlane = load_sources(&sources, &BuildOptions::default()).unwrap();
    let manifest = Node::Manifest(plane.manifest().clone());
    let nodes: Vec<Node> = plane.defs().values().map(|d| d.node.clone()).collect();
    println!(
        "05-chain-comp: manifest {} bytes canonical, {} nodes",
        manifest.canonical_bytes().unwrap().len(),
        nodes.len()
    );

    c.bench_function("chain-comp: manifest encode+hash", |b| {
        b.iter(|| black_box(&manifest).hash().unwrap())
    });
    c.bench_function("chain-comp: manifest + all nodes encode+hash", |b| {
        b.iter(|| {
            let mut last = black_box(&manifest).hash().unwrap();
            for node in black_box(&nodes) {
                last = node.hash().unwrap();
            }
            last
        })
    });
    c.bench_function("chain-comp: parse + validate + hash (load)", |b| {
        b.iter(|| {
            load_sources(black_box(&sources), &BuildOptions::default())
                .unwrap()
                .manifest_hash()
        })
    });
    c.bench_function("chain-comp: parse only", |b| {
        b.iter(|| parse_sources(black_box(&sources)).unwrap().len())
    });

    // The per-event path: a 10-field record from plain JSON, to bytes, and back.
    let state_name = Name::parse("demo/ChainSagaState@1").unwrap();
    let ty = plane.schema(&state_name).unwrap().ty.clone();
    let json = serde_json::json!({
        "request_id": 7, "order_id": "o-1", "customer_id": "c-9", "amount_cents": 1250, "reserve_sku": "sku-1",
        "charge_status": 200, "reserve_status": null, "notify_status": null, "refund_status": null, "last_error": null,
        "charge_target": {"name": "charge", "method": "POST", "url": "https://example.com/charge"},
        "reserve_target": {"name": "reserve", "method": "POST", "url": "https://example.com/reserve"},
        "notify_target": {"name": "notify", "method": "POST", "url": "https://example.com/notify"},
        "refund_target": {"name": "refund", "method": "POST", "url": "https://example.com/refund"}
    });
    let value = Value::from_plain_json(&json, &ty, &plane).unwrap();
    let bytes = value.to_canonical();
    println!("saga state: {} bytes canonical", bytes.len());
    c.bench_function("value: plain JSON → normalized", |b| {
        b.iter(|| Value::from_plain_json(black_box(&json), &ty, &plane).unwrap())
    });
    c.bench_function("value: encode canonical", |b| {
        b.iter(|| black_box(&value).to_canonical())
    });
    c.bench_function("value: decode + check against schema", |b| {
        b.iter(|| Value::from_cbor_bytes(black_box(&bytes), &ty, &plane).unwrap())
    });
}

criterion_group!(benches, air);
criterion_main!(benches);
