//! The one rule for tests that need something a machine may lack (the AgentOS conformance data,
//! a C or AssemblyScript toolchain): outside CI they skip with a printed reason; under CI
//! (`CI=true`) they fail, so CI can never pass by skipping.

use std::process::{Command, Stdio};

/// True under CI: `CI` is `true` or `1`.
#[allow(dead_code)] // included by path too (see conformance.rs); each includer uses what it needs
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Reports that `test` cannot run because of `reason`: panics under CI, else prints that the
/// test is skipped. The caller returns early after it.
#[allow(dead_code)] // included by path too (see conformance.rs); each includer uses what it needs
pub fn skip_or_fail(test: &str, reason: &str) {
    assert!(!in_ci(), "{test}: {reason} (CI=true makes this a failure)");
    eprintln!("skipping {test}: {reason} (only CI requires it)");
}

/// The first of `programs` that does not run (`program --version` fails or is not found).
#[allow(dead_code)] // included by path too (see conformance.rs); each includer uses what it needs
pub fn missing_program(programs: &[&str]) -> Option<String> {
    programs
        .iter()
        .find(|program| {
            !Command::new(program)
                .arg("--version")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success())
        })
        .map(|program| (*program).to_owned())
}
