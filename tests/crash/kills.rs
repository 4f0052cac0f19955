//! Random SIGKILLs of a real `world run` under a steady load: `worlds/liquidation` polling a
//! local price feed every few ms (a timer, then a plan's HTTP request, then a `blob.get` of the
//! body, each with its events), killed at seeded-random moments and restarted, checked after
//! every kill and once more after a clean stop.

use std::path::Path;
use std::time::Duration;

use crate::check::{self, Acks, Expect, Findings, Kind};
use crate::server::Servers;
use crate::world::{finish, repo, spawn, world};

/// How many kills, and where the randomness starts.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// SIGKILLs.
    pub kills: usize,
    /// The RNG's seed (printed, so a run can be repeated).
    pub seed: u64,
}

/// What the kills did.
#[derive(Debug, Default)]
pub struct Report {
    /// Processes killed while running.
    pub kills: usize,
    /// Receipts `world run` reported journaled before it was killed (all checked).
    pub receipts_acked: usize,
    /// What went wrong.
    pub findings: Findings,
}

/// Shortest and longest time a `world run` lives before its SIGKILL, ms.
const LIFE_MS: (u64, u64) = (150, 1_500);
/// The feed's poll period, ms.
const POLL_MS: u64 = 20;
/// How long the final, clean `world run` runs, ms.
const CLEAN_RUN_MS: &str = "1500";

/// splitmix64: small, seeded, good enough to spread kill times.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Runs the kills in `scratch` (an empty folder).
pub fn run(plan: Plan, scratch: &Path, servers: &Servers) -> Report {
    let server = servers.start();
    let map = server.feed_map();
    let dir = scratch.join("liq");
    let w = dir.to_str().unwrap();
    let air = repo().join("worlds/liquidation");
    world(
        &[
            "new",
            w,
            "--air",
            air.to_str().unwrap(),
            "--snapshot-every",
            "16",
        ],
        &[],
        scratch,
    )
    .expect_ok("world new liquidation");
    let start = format!(
        r#"{{"Start": {{"collateral_milli_eth": 10000, "debt_cents": 1260000, "min_collateral_ratio_pct": 150, "feed": "http://prices.demo", "poll_every_ms": {POLL_MS}}}}}"#
    );
    let sent = world(
        &[
            "send",
            w,
            "demo/LiqEvent@1",
            &start,
            "--json",
            "--timeout-ms",
            "0",
            "--http-map",
            &map,
        ],
        &[],
        scratch,
    )
    .expect_ok("send Start");
    let mut acks = Acks::default();
    acks.add_send_json(&sent.stdout, "prices.demo");
    let mut report = Report::default();
    let mut rng = plan.seed;
    for kill in 0..plan.kills {
        let life = LIFE_MS.0 + next(&mut rng) % (LIFE_MS.1 - LIFE_MS.0);
        let case = format!("kill {kill} after {life} ms (seed {})", plan.seed);
        let child = spawn(&["run", w, "--http-map", &map], &[], scratch);
        std::thread::sleep(Duration::from_millis(life));
        let mut child = child;
        child.kill().unwrap();
        let out = finish(child, &case);
        if !out.killed() {
            report.findings.add(
                Kind::Recovery,
                &case,
                format!("`world run` ended before its kill: {}", out.stderr.trim()),
            );
            continue;
        }
        report.kills += 1;
        let before = acks.receipts.len();
        acks.add_run_lines(&out.stdout);
        report.receipts_acked += acks.receipts.len() - before;
        let keys = server.keys();
        let expect = Expect {
            acks: &acks,
            keys_seen: &keys,
            since_seq: 0,
            open_allowed: &["timer.set", "http.request", "blob.get"],
        };
        check::check_world(&dir, &case, &expect, &mut report.findings);
    }
    // A clean stop waits for everything but the next poll timer.
    let clean = world(
        &[
            "run",
            w,
            "--http-map",
            &map,
            "--stop-after-ms",
            CLEAN_RUN_MS,
        ],
        &[],
        scratch,
    );
    let case = format!("clean run after the kills (seed {})", plan.seed);
    if clean.ok() {
        acks.add_run_lines(&clean.stdout);
    } else {
        report
            .findings
            .add(Kind::Recovery, &case, clean.stderr.trim().to_owned());
    }
    let keys = server.keys();
    let expect = Expect {
        acks: &acks,
        keys_seen: &keys,
        since_seq: 0,
        open_allowed: &["timer.set"],
    };
    check::check_world(&dir, &case, &expect, &mut report.findings);
    assert!(
        server.requests() > 0 && report.receipts_acked > 0,
        "the load never ran: {} requests, {} receipts acknowledged",
        server.requests(),
        report.receipts_acked
    );
    report
}
