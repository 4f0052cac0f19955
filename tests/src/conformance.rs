//! The one way tests reach `../shared/conformance/`.
//!
//! A user's clone has no `../shared`, so outside CI a test that needs it skips with a printed
//! reason; under CI (`CI=true`) a missing folder fails the test (`skip.rs`), so CI can never
//! pass by skipping. `WORLDLINE_CONFORMANCE` overrides the location.

use std::path::PathBuf;

// Declared here rather than in lib.rs: `cli/tests` includes this file by path, and the rule must
// come with it. lib.rs re-exports it as `worldline_tests::skip`.
#[path = "skip.rs"]
pub mod skip;

/// The conformance folder, or `None` when it is absent and we are not in CI (after printing why
/// `test` is skipped). Panics in CI when it is absent.
#[allow(dead_code)] // each includer uses what it needs
pub fn conformance_dir(test: &str) -> Option<PathBuf> {
    let dir = match std::env::var_os("WORLDLINE_CONFORMANCE") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance"),
    };
    if dir.join("agentos-air-v1").is_dir() {
        return Some(dir);
    }
    let reason = format!("conformance data not found at {}", dir.display());
    skip::skip_or_fail(test, &reason);
    None
}

/// `agentos-air-v1/` inside the conformance folder.
#[allow(dead_code)] // each includer uses what it needs
pub fn agentos_dir(test: &str) -> Option<PathBuf> {
    conformance_dir(test).map(|d| d.join("agentos-air-v1"))
}
