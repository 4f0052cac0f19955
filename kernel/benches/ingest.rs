//! `cargo bench -p worldline-kernel --bench ingest`: one `submit` of 1,000 counter events,
//! with and without a durable commit: the whole per-event path of the kernel.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use worldline_air::Name;
use worldline_air::load::SourceFile;
use worldline_kernel::config::WorldConfig;
use worldline_kernel::{CreateOptions, Ingress, World};

const BATCH: u64 = 1000;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn counter_world(dir: &std::path::Path) -> World {
    let air_dir = repo().join("worlds/counter/air");
    let mut air: Vec<SourceFile> = std::fs::read_dir(&air_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| SourceFile {
            name: p.display().to_string(),
            text: std::fs::read_to_string(&p).unwrap(),
        })
        .collect();
    air.sort_by(|a, b| a.name.cmp(&b.name));
    let sdk = repo().join("modules/target/wasm32-unknown-unknown/release/counter.wasm");
    let wasm = std::fs::read(&sdk)
        .unwrap_or_else(|_| wat::parse_file(repo().join("modules/wat/counter.wat")).unwrap());
    let binaries = BTreeMap::from([(Name::parse("demo/CounterSM@1").unwrap(), wasm)]);
    let options = CreateOptions {
        config: WorldConfig::default(),
        seed: [9; 32],
        ingress: Ingress {
            now_ns: 1,
            entropy: [0; 32],
        },
    };
    World::create(dir, &air, binaries, options).unwrap()
}

fn ingest(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut world = counter_world(dir.path());
    let start = world
        .event_from_json(
            "demo/CounterEvent@1",
            &serde_json::json!({"Start": {"target": u64::MAX / 2}}),
        )
        .unwrap();
    world
        .submit(
            vec![(
                start,
                Ingress {
                    now_ns: 2,
                    entropy: [0; 32],
                },
            )],
            true,
        )
        .unwrap();
    let tick = world
        .event_from_json("demo/CounterEvent@1", &serde_json::json!("Tick"))
        .unwrap();
    let mut n = 10u64;
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(BATCH));
    for durable in [false, true] {
        group.bench_function(format!("{BATCH} counter events, durable={durable}"), |b| {
            b.iter(|| {
                let batch = (0..BATCH)
                    .map(|_| {
                        n += 1;
                        (
                            tick.clone(),
                            Ingress {
                                now_ns: n,
                                entropy: [1; 32],
                            },
                        )
                    })
                    .collect();
                world.submit(batch, durable).unwrap()
            })
        });
    }
    group.finish();
    let mut group = c.benchmark_group("ingest-single");
    group.throughput(Throughput::Elements(1));
    group.bench_function("1 counter event, durable commit", |b| {
        b.iter(|| {
            n += 1;
            world
                .submit(
                    vec![(
                        tick.clone(),
                        Ingress {
                            now_ns: n,
                            entropy: [1; 32],
                        },
                    )],
                    true,
                )
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, ingest);
criterion_main!(benches);
