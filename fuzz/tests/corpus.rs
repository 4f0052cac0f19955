#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The CI smoke of the fuzz targets on stable: every target over every file of its corpus
//! (`fuzz/corpus/<target>/`), then deterministic mutations of those files for a bounded number
//! of runs. Any panic is a finding: fix it and keep the input as `regress-*` in the corpus.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use worldline_fuzz::mutate::{Rng, mutate};
use worldline_fuzz::targets::{self, Target};

/// Wall-clock budget of the mutation phase, per target (a debug build stays well under 20 s).
const MUTATION_BUDGET: Duration = Duration::from_millis(1_500);
/// Most mutated inputs per target, whatever the clock says (keeps a slow machine bounded).
const MUTATIONS_MAX: usize = 20_000;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    files.sort();
    files
}

fn smoke(name: &str, target: Target) {
    let files = corpus(name);
    assert!(!files.is_empty(), "the corpus of {name} is empty");
    for (path, bytes) in &files {
        let result = std::panic::catch_unwind(|| target(bytes));
        assert!(result.is_ok(), "{name} panicked on {}", path.display());
    }
    let mut rng = Rng::new(0x5eed);
    let started = Instant::now();
    let mut runs = 0;
    while runs < MUTATIONS_MAX && started.elapsed() < MUTATION_BUDGET {
        let (_, seed) = &files[rng.below(files.len())];
        let mut input = mutate(seed, &mut rng);
        for _ in 0..rng.below(3) {
            input = mutate(&input, &mut rng);
        }
        let result = std::panic::catch_unwind(|| target(&input));
        assert!(
            result.is_ok(),
            "{name} panicked on a mutation: {}",
            worldline_air::cbor::to_hex(&input)
        );
        runs += 1;
    }
    eprintln!("{name}: {} corpus files, {runs} mutations", files.len());
}

#[test]
fn cbor_decode() {
    smoke("cbor_decode", targets::cbor_decode);
}

#[test]
fn air_load() {
    smoke("air_load", targets::air_load);
}

#[test]
fn value_normalize() {
    smoke("value_normalize", targets::value_normalize);
}

#[test]
fn patch_compile() {
    smoke("patch_compile", targets::patch_compile);
}

#[test]
fn envelope_decode() {
    smoke("envelope_decode", targets::envelope_decode);
}

#[test]
fn receipt_admission() {
    smoke("receipt_admission", targets::receipt_admission);
}

#[test]
fn bundle_verify() {
    smoke("bundle_verify", targets::bundle_verify);
}

#[test]
fn every_target_has_a_corpus_and_a_harness() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (name, _) in targets::ALL {
        assert!(root.join("corpus").join(name).is_dir(), "corpus/{name}");
        let harness = root.join("harness/fuzz_targets").join(format!("{name}.rs"));
        assert!(harness.is_file(), "{}", harness.display());
    }
}
