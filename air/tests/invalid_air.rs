//! Invalid AIR, one problem per file: every file in `tests/invalid/` is a small world that is
//! valid except for one deliberate mistake (its manifest's `$comment` says which). Loading it
//! must fail, never panic, and the exact errors (file, JSON path, reason) are pinned as insta
//! snapshots in `tests/snapshots/`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use worldline_air::load::{SourceFile, load_sources};
use worldline_air::plane::BuildOptions;

/// Fewest invalid cases the suite must hold.
const CASES_MIN: usize = 45;

/// Loads one case file and renders its errors one per line.
fn load_errors(path: &Path) -> String {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .expect("case file name is UTF-8")
        .to_owned();
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let files = [SourceFile {
        name: name.clone(),
        text,
    }];
    let result = catch_unwind(AssertUnwindSafe(|| {
        load_sources(&files, &BuildOptions::default())
    }));
    let loaded = match result {
        Ok(loaded) => loaded,
        Err(_) => panic!("{name}: the loader panicked (no input may make the loader panic)"),
    };
    match loaded {
        Ok(_) => panic!("{name}: loaded without errors, but it is an invalid-AIR case"),
        Err(errors) => {
            assert!(!errors.0.is_empty(), "{name}: Err with no errors");
            errors
                .0
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        }
    }
}

#[test]
fn invalid_case() {
    insta::glob!("invalid/*.air.json", |path| {
        insta::assert_snapshot!(load_errors(path));
    });
}

#[test]
fn there_are_enough_invalid_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invalid");
    let count = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().ends_with(".air.json"))
        .count();
    assert!(
        count >= CASES_MIN,
        "{} holds {count} invalid-AIR cases; at least {CASES_MIN} are required",
        dir.display()
    );
}
