//! `cargo bench -p worldline-kernel`: the cost of one reducer step in a fresh instance (the
//! floor under ingest and replay), for the hand-written WAT counter and the Rust SDK counter.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use worldline_air::{Hash, Name};
use worldline_kernel::config::WorldConfig;
use worldline_kernel::host::ReducerHost;
use worldline_kernel::host::envelope::ReducerInput;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `{"pc": {"$tag": "Counting"}, "remaining": 1000}` and a Tick, canonical.
fn counter_input() -> Vec<u8> {
    let state = worldline_air::cbor::from_hex(
        "a2627063a164247461676843 6f756e74696e67 6972656d61696e696e671903e8"
            .replace(' ', "")
            .as_str(),
    )
    .unwrap();
    let tick =
        worldline_air::cbor::from_hex("a164247461676454 69636b".replace(' ', "").as_str()).unwrap();
    ReducerInput {
        schema: "demo/CounterEvent@1",
        value: &tick,
        key: None,
        state: Some(&state),
        ctx: None,
    }
    .encode()
}

fn step(c: &mut Criterion) {
    let name = Name::parse("demo/CounterSM@1").unwrap();
    let input = counter_input();
    let mut modules = vec![(
        "wat counter",
        wat::parse_file(repo().join("modules/wat/counter.wat")).unwrap(),
    )];
    let sdk = repo().join("modules/target/wasm32-unknown-unknown/release/counter.wasm");
    match std::fs::read(&sdk) {
        Ok(wasm) => modules.push(("sdk counter", wasm)),
        Err(_) => println!(
            "(build modules/ to include the SDK counter: {})",
            sdk.display()
        ),
    }
    for (label, wasm) in modules {
        let mut host = ReducerHost::new(&WorldConfig::default()).unwrap();
        let hash = Hash::of(&wasm);
        host.compile(&name, hash, &wasm, "step").unwrap();
        let output = host.step(&hash, &input).unwrap();
        println!(
            "{label}: {} bytes of wasm, output {} bytes",
            wasm.len(),
            output.len()
        );
        c.bench_function(&format!("step, fresh instance: {label}"), |b| {
            b.iter(|| host.step(&hash, black_box(&input)).unwrap())
        });
    }
}

criterion_group!(benches, step);
criterion_main!(benches);
