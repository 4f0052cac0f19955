//! The crash matrix (issue 8): every crash point of `worldline_kernel::failpoint` × the hits a
//! session of `world` commands reaches, each run to its crash, restarted and checked; then
//! random SIGKILLs of a real `world run` under load. Both check that no acknowledged input is
//! lost, no receipt is accepted twice, every effect is dispatched (at least once, under a
//! stable idempotency key), and `world replay` and `world verify` pass. It prints how many
//! crash points and kills it exercised.
//!
//! Short form by default (`cargo test`); the long form with `WORLDLINE_CRASH_LONG=1`
//! (`tests/crash/run-long.sh`). `WORLDLINE_CRASH_SEED` repeats a run of kills,
//! `WORLDLINE_CRASH_JOBS` sets how many cases run at once.
//!
//! A test without the standard harness: the same executable is also `world` (see `world.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../adapters/tests/http_server/mod.rs"]
mod http_server;

mod check;
mod governance;
mod kills;
mod matrix;
mod server;
mod world;

use std::time::Instant;

use check::{Findings, Kind};

/// The long form when set.
const LONG_ENV: &str = "WORLDLINE_CRASH_LONG";
/// The kills' seed, when set (else from the clock, printed).
const SEED_ENV: &str = "WORLDLINE_CRASH_SEED";
/// Cases at once (default 2).
const JOBS_ENV: &str = "WORLDLINE_CRASH_JOBS";
/// Fewest crash-point runs each form must reach.
const CRASHES_MIN_SHORT: usize = 200;
const CRASHES_MIN_LONG: usize = 1_000;

const TESTS: [&str; 3] = ["crash_matrix", "sigkill_under_load", "crash_governance"];
/// Fewest crash-point runs of the in-world governance session.
const GOVERNANCE_CRASHES_MIN: usize = 10;

fn main() {
    if std::env::var_os(world::AS_WORLD_ENV).is_some() {
        std::process::exit(worldline_cli::main());
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        if !args.iter().any(|a| a == "--ignored") {
            for name in TESTS {
                println!("{name}: test");
            }
        }
        return;
    }
    let filters: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with('-'))
        .map(String::as_str)
        .collect();
    let selected = |name: &str| filters.is_empty() || filters.iter().any(|f| name.contains(f));
    let long = std::env::var_os(LONG_ENV).is_some();
    let jobs = std::env::var(JOBS_ENV)
        .ok()
        .and_then(|j| j.parse().ok())
        .unwrap_or(2);
    let scratch = tempfile::tempdir().unwrap();
    let servers = server::Servers::new();
    let started = Instant::now();
    let mut failed = false;

    if selected(TESTS[0]) {
        let plan = if long {
            matrix::Plan {
                snapshot_every: (2..=13).collect(),
                hits_per_point_max: 12,
                parallel: jobs,
            }
        } else {
            matrix::Plan {
                snapshot_every: vec![3, 5, 8],
                hits_per_point_max: 4,
                parallel: jobs,
            }
        };
        let wasm = scratch.path().join("fetch_notify.wasm");
        let bytes =
            worldline_cli::modules::build_package(&world::repo().join("modules"), "fetch-notify")
                .unwrap_or_else(|e| panic!("building fetch-notify: {e:?}"));
        std::fs::write(&wasm, bytes).unwrap();
        let matrix_dir = scratch.path().join("matrix");
        std::fs::create_dir_all(&matrix_dir).unwrap();
        let report = matrix::run(&plan, &matrix_dir, &wasm, &servers);
        println!(
            "crash matrix: {} crash-point runs over {} crash points ({} armed hits not reached), {:.0} s",
            report.crashes,
            report.per_point.len(),
            report.not_reached,
            started.elapsed().as_secs_f64()
        );
        for (point, count) in &report.per_point {
            println!("  {point:<26} {count}");
        }
        let minimum = if long {
            CRASHES_MIN_LONG
        } else {
            CRASHES_MIN_SHORT
        };
        failed |= summarize("crash matrix", &report.findings);
        if report.crashes < minimum {
            println!("crash matrix: FAILED: fewer than {minimum} crash-point runs");
            failed = true;
        }
    }

    if selected(TESTS[1]) {
        let seed = std::env::var(SEED_ENV)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        let plan = kills::Plan {
            kills: if long { 60 } else { 8 },
            seed,
        };
        println!("sigkill under load: seed {seed} ({SEED_ENV}={seed} repeats it)");
        let kill_started = Instant::now();
        let kills_dir = scratch.path().join("kills");
        std::fs::create_dir_all(&kills_dir).unwrap();
        let report = kills::run(plan, &kills_dir, &servers);
        println!(
            "sigkill under load: {} SIGKILLs of `world run`, {} acknowledged receipts checked, {:.0} s",
            report.kills,
            report.receipts_acked,
            kill_started.elapsed().as_secs_f64()
        );
        failed |= summarize("sigkill under load", &report.findings);
        if report.kills < plan.kills {
            failed = true;
        }
    }
    if selected(TESTS[2]) {
        let gov_started = Instant::now();
        let gov_dir = scratch.path().join("governance");
        std::fs::create_dir_all(&gov_dir).unwrap();
        let report = governance::run(&gov_dir, jobs);
        println!(
            "crash governance: {} crash-point runs over {} crash points ({} armed hits not reached), {:.0} s",
            report.crashes,
            report.per_point.len(),
            report.not_reached,
            gov_started.elapsed().as_secs_f64()
        );
        failed |= summarize("crash governance", &report.findings);
        if report.crashes < GOVERNANCE_CRASHES_MIN {
            println!(
                "crash governance: FAILED: fewer than {GOVERNANCE_CRASHES_MIN} crash-point runs"
            );
            failed = true;
        }
    }
    if failed {
        println!("test result: FAILED");
        std::process::exit(101);
    }
    println!("test result: ok ({:.0} s)", started.elapsed().as_secs_f64());
}

/// Prints the findings (lost inputs and duplicate receipts always); true when there are any.
fn summarize(what: &str, findings: &Findings) -> bool {
    println!(
        "{what}: {} lost inputs, {} duplicate receipts",
        findings.count(Kind::Lost),
        findings.count(Kind::DuplicateReceipt)
    );
    if findings.is_empty() {
        return false;
    }
    println!("{what}: FAILED: {:?}", findings.counts);
    for detail in &findings.details {
        println!("  {detail}");
    }
    true
}
