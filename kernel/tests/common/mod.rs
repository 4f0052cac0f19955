//! Helpers shared by the kernel's integration tests.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use worldline_air::Name;
use worldline_air::load::SourceFile;
use worldline_kernel::config::WorldConfig;
use worldline_kernel::{CreateOptions, Ingress, World};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The `*.air.json` files of a directory, sorted.
pub fn air(dir: &Path) -> Vec<SourceFile> {
    let mut files: Vec<SourceFile> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".air.json"))
        .map(|p| SourceFile {
            name: p.display().to_string(),
            text: std::fs::read_to_string(&p).unwrap(),
        })
        .collect();
    files.sort_by(|a, b| a.name.cmp(&b.name));
    files
}

/// A WAT file of modules/wat compiled to wasm.
pub fn wat(file: &str) -> Vec<u8> {
    wat::parse_file(repo().join("modules/wat").join(file)).unwrap()
}

/// Deterministic ingress for tests: time advances by one second per call.
pub fn ingress(n: u64) -> Ingress {
    let mut entropy = [0u8; 32];
    entropy[..8].copy_from_slice(&n.to_le_bytes());
    Ingress {
        now_ns: 1_700_000_000_000_000_000 + n * 1_000_000_000,
        entropy,
    }
}

/// Creates a world from an AIR directory and module binaries.
pub fn create(
    dir: &Path,
    air_dir: &Path,
    modules: &[(&str, Vec<u8>)],
    config: WorldConfig,
) -> World {
    let binaries: BTreeMap<Name, Vec<u8>> = modules
        .iter()
        .map(|(n, b)| (Name::parse(n).unwrap(), b.clone()))
        .collect();
    World::create(
        dir,
        &air(air_dir),
        binaries,
        CreateOptions {
            config,
            seed: [42; 32],
            ingress: ingress(0),
        },
    )
    .unwrap()
}

/// Sends events given as `(schema, JSON)`, one durable batch.
pub fn send(world: &mut World, events: &[(&str, serde_json::Value)]) -> Vec<Vec<u64>> {
    let start = world.head().seq;
    let inputs = events
        .iter()
        .enumerate()
        .map(|(i, (schema, json))| {
            (
                world.event_from_json(schema, json).unwrap(),
                ingress(start + i as u64 + 1),
            )
        })
        .collect();
    world.submit(inputs, true).unwrap()
}

/// The plain-JSON state of an unkeyed reducer.
pub fn state_json(world: &World, reducer: &str) -> serde_json::Value {
    world
        .state(&Name::parse(reducer).unwrap(), &[])
        .unwrap()
        .map(|v| v.to_plain_json())
        .unwrap_or(serde_json::Value::Null)
}
