//! The crash-point matrix: a session of `world` commands against `worlds/fetch-notify` (events,
//! a plan, HTTP requests to a local server, snapshots and checkpoints, export and import) is
//! run once with every crash point traced, the world saved before each command. Then, for each
//! command × crash point × nth hit the trace saw (all of them, or a spread when there are
//! many), the command is run again from its saved world with that hit armed; it dies there;
//! the command is retried as a client would, the effects are settled with one more `send`, and
//! the checks of `check.rs` run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use worldline_kernel::failpoint;

use crate::check::{self, Acks, Expect, Findings, Kind};
use crate::server::Servers;
use crate::world::{Outcome, copy_tree, repo, world};

/// How much of the matrix to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// One session per value: the world's `--snapshot-every`, which moves where snapshots and
    /// checkpoints land among the other writes.
    pub snapshot_every: Vec<u64>,
    /// Every hit of a point is tried when it has at most this many; otherwise this many,
    /// spread from the first to the last.
    pub hits_per_point_max: usize,
    /// Cases run at once.
    pub parallel: usize,
}

/// What the matrix did.
#[derive(Debug, Default)]
pub struct Report {
    /// Cases that died at their crash point and were checked.
    pub crashes: usize,
    /// Cases whose armed hit did not come (the command took another path this time).
    pub not_reached: usize,
    /// Crashes per point.
    pub per_point: BTreeMap<&'static str, usize>,
    /// What went wrong.
    pub findings: Findings,
}

#[derive(Debug, Clone, Copy)]
enum Step {
    New,
    /// `Start` number `n`; `wait` false is `--timeout-ms 0` (the intent stays open).
    Send {
        n: u32,
        wait: bool,
    },
    /// `world run --stop-after-ms`.
    Run,
    Export,
    Import,
}

/// The session, in order.
const SESSION: [Step; 7] = [
    Step::New,
    Step::Send { n: 1, wait: true },
    Step::Send { n: 2, wait: false },
    Step::Run,
    Step::Send { n: 3, wait: true },
    Step::Export,
    Step::Import,
];
/// How long the session's `world run` runs.
const RUN_MS: &str = "400";
/// How long a `send` waits for its effects.
const SEND_WAIT_MS: &str = "20000";
const SCHEMA: &str = "demo/FetchNotifyEvent@1";

/// A world's files, in one case folder.
struct Paths {
    root: PathBuf,
    world: PathBuf,
    bundle: PathBuf,
    imported: PathBuf,
}

impl Paths {
    fn new(root: &Path) -> Paths {
        Paths {
            root: root.to_path_buf(),
            world: root.join("w"),
            bundle: root.join("w.bundle"),
            imported: root.join("w2"),
        }
    }
}

fn text(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn marker(n: &str) -> String {
    format!("item-{n}.json")
}

/// Runs one step of the session.
fn run_step(
    step: Step,
    paths: &Paths,
    snapshot_every: u64,
    wasm: &Path,
    map: &str,
    env: &[(&str, &str)],
) -> Outcome {
    let (w, air) = (text(&paths.world), repo().join("worlds/fetch-notify"));
    let module = format!("demo/FetchNotify@1={}", text(wasm));
    let every = snapshot_every.to_string();
    let cwd = &paths.root;
    match step {
        Step::New => world(
            &[
                "new",
                w,
                "--air",
                text(&air),
                "--module",
                &module,
                "--snapshot-every",
                &every,
            ],
            env,
            cwd,
        ),
        Step::Send { n, wait } => send(paths, &n.to_string(), wait, map, env),
        Step::Run => world(
            &["run", w, "--http-map", map, "--stop-after-ms", RUN_MS],
            env,
            cwd,
        ),
        Step::Export => world(&["export", w, text(&paths.bundle)], env, cwd),
        Step::Import => world(
            &["import", text(&paths.bundle), text(&paths.imported)],
            env,
            cwd,
        ),
    }
}

fn send(paths: &Paths, n: &str, wait: bool, map: &str, env: &[(&str, &str)]) -> Outcome {
    let event = format!(
        r#"{{"Start": {{"url": "https://example.com/{}", "method": "GET"}}}}"#,
        marker(n)
    );
    let timeout = if wait { SEND_WAIT_MS } else { "0" };
    world(
        &[
            "send",
            text(&paths.world),
            SCHEMA,
            &event,
            "--json",
            "--timeout-ms",
            timeout,
            "--http-map",
            map,
        ],
        env,
        &paths.root,
    )
}

/// Counts `failpoint NAME NTH` trace lines: the hits of each point.
fn traced_hits(stderr: &str) -> BTreeMap<&'static str, usize> {
    let mut hits = BTreeMap::new();
    for line in stderr.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some("failpoint") {
            continue;
        }
        if let Some(name) = words
            .next()
            .and_then(|n| failpoint::POINTS.iter().find(|p| **p == n))
        {
            *hits.entry(*name).or_insert(0) += 1;
        }
    }
    hits
}

/// One session's trace: before each step, the saved case folder, the acknowledgements so
/// far and the head; and the hits of each point during the step.
struct Trace {
    pre: Vec<PathBuf>,
    acks: Vec<Acks>,
    heads: Vec<u64>,
    hits: Vec<BTreeMap<&'static str, usize>>,
}

fn trace_session(snapshot_every: u64, scratch: &Path, wasm: &Path, servers: &Servers) -> Trace {
    let server = servers.start();
    let map = server.map();
    let live = Paths::new(&scratch.join(format!("trace-{snapshot_every}")));
    std::fs::create_dir_all(&live.root).unwrap();
    let mut trace = Trace {
        pre: Vec::new(),
        acks: Vec::new(),
        heads: Vec::new(),
        hits: Vec::new(),
    };
    let mut acks = Acks::default();
    for (i, step) in SESSION.iter().enumerate() {
        let pre = scratch.join(format!("pre-{snapshot_every}-{i}"));
        copy_tree(&live.root, &pre);
        trace.pre.push(pre);
        trace.acks.push(acks.clone());
        trace.heads.push(head(&live.world));
        let out = run_step(
            *step,
            &live,
            snapshot_every,
            wasm,
            &map,
            &[(failpoint::TRACE_ENV, "1")],
        )
        .expect_ok(&format!("trace step {step:?}"));
        acknowledge(*step, &out, &mut acks);
        trace.hits.push(traced_hits(&out.stderr));
    }
    trace
}

fn head(world_dir: &Path) -> u64 {
    if !world_dir.join(".world").exists() {
        return 0;
    }
    let _open = crate::world::FORK_GUARD
        .write()
        .unwrap_or_else(|p| p.into_inner());
    worldline_kernel::World::open(world_dir).unwrap().head().seq
}

fn acknowledge(step: Step, out: &Outcome, acks: &mut Acks) {
    match step {
        Step::Send { n, .. } if out.ok() => {
            acks.add_send_json(&out.stdout, &marker(&n.to_string()))
        }
        Step::Run => acks.add_run_lines(&out.stdout),
        _ => {}
    }
}

/// The hits of a point to try: all, or `max` spread from the first to the last.
fn chosen_hits(count: usize, max: usize) -> Vec<usize> {
    if count <= max {
        return (1..=count).collect();
    }
    let mut chosen: BTreeSet<usize> = BTreeSet::new();
    for i in 0..max {
        chosen.insert(1 + i * (count - 1) / (max - 1).max(1));
    }
    chosen.into_iter().collect()
}

struct Case {
    snapshot_every: u64,
    step_index: usize,
    point: &'static str,
    nth: usize,
}

/// Runs the matrix; `scratch` is an empty folder, `wasm` the fetch-notify module.
pub fn run(plan: &Plan, scratch: &Path, wasm: &Path, servers: &Servers) -> Report {
    let mut traces = BTreeMap::new();
    let mut cases = Vec::new();
    for &every in &plan.snapshot_every {
        let trace = trace_session(every, scratch, wasm, servers);
        for (step_index, hits) in trace.hits.iter().enumerate() {
            for (&point, &count) in hits {
                for nth in chosen_hits(count, plan.hits_per_point_max) {
                    cases.push(Case {
                        snapshot_every: every,
                        step_index,
                        point,
                        nth,
                    });
                }
            }
        }
        traces.insert(every, trace);
    }
    let unreached: Vec<&str> = failpoint::POINTS
        .iter()
        .filter(|p| !cases.iter().any(|c| c.point == **p))
        .copied()
        .collect();
    assert!(
        unreached.is_empty(),
        "the session never reaches crash points {unreached:?}"
    );
    println!(
        "crash matrix: {} cases over {} crash points, {} sessions",
        cases.len(),
        failpoint::POINTS.len(),
        plan.snapshot_every.len()
    );
    let queue = Mutex::new(cases.into_iter().enumerate().collect::<Vec<_>>());
    let report = Mutex::new(Report::default());
    std::thread::scope(|scope| {
        for _ in 0..plan.parallel.max(1) {
            scope.spawn(|| {
                loop {
                    let Some((id, case)) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let trace = &traces[&case.snapshot_every];
                    let root = scratch.join(format!("case-{id}"));
                    run_case(&case, trace, &root, wasm, servers, &report);
                    let _ = std::fs::remove_dir_all(&root);
                }
            });
        }
    });
    report.into_inner().unwrap()
}

fn run_case(
    case: &Case,
    trace: &Trace,
    root: &Path,
    wasm: &Path,
    servers: &Servers,
    report: &Mutex<Report>,
) {
    let step = SESSION[case.step_index];
    let name = format!(
        "snapshot-every {} step {} ({step:?}) {}:{}",
        case.snapshot_every, case.step_index, case.point, case.nth
    );
    copy_tree(&trace.pre[case.step_index], root);
    let paths = Paths::new(root);
    let server = servers.start();
    let map = server.map();
    let mut acks = trace.acks[case.step_index].clone();
    let crash_at = format!("{}:{}", case.point, case.nth);
    let out = run_step(
        step,
        &paths,
        case.snapshot_every,
        wasm,
        &map,
        &[(failpoint::CRASH_AT_ENV, &crash_at)],
    );
    acknowledge(step, &out, &mut acks);
    let mut findings = Findings::default();
    if !out.crashed() {
        let mut report = report.lock().unwrap();
        if out.ok() {
            report.not_reached += 1;
        } else {
            report.findings.add(
                Kind::Recovery,
                &name,
                format!("failed without crashing: {}", out.stderr.trim()),
            );
        }
        return;
    }
    // The client retries what was not acknowledged. A crashed export must leave no partial
    // bundle under its name (it writes `NAME.partial.PID` and links it into place when done).
    let retry = match step {
        Step::New | Step::Send { .. } => Some(step),
        Step::Export => {
            if paths.bundle.exists() {
                let verified = world(&["verify", text(&paths.bundle)], &[], &paths.root);
                if !verified.ok() {
                    findings.add(
                        Kind::Recovery,
                        &name,
                        format!(
                            "a crashed export left a partial bundle under its name: {}",
                            verified.stderr.trim()
                        ),
                    );
                }
                let _ = std::fs::remove_file(&paths.bundle);
            }
            Some(step)
        }
        Step::Import if !paths.imported.join(".world").exists() => Some(step),
        Step::Run | Step::Import => None,
    };
    if let Some(retry) = retry {
        let retry = match retry {
            Step::Send { n, .. } => Step::Send { n, wait: true },
            other => other,
        };
        let again = run_step(retry, &paths, case.snapshot_every, wasm, &map, &[]);
        // A `world new` that died after genesis was durable made the world: a retry is told
        // so, and the settling `send` below shows whether the world is whole.
        let made = matches!(retry, Step::New) && again.stderr.contains("is already a world");
        if !again.ok() && !made {
            findings.add(
                Kind::Recovery,
                &name,
                format!("the retry failed: {}", again.stderr.trim()),
            );
        }
        acknowledge(retry, &again, &mut acks);
    }
    if findings.is_empty() {
        let settle = send(
            &paths,
            &format!("settle-{}", case.step_index),
            true,
            &map,
            &[],
        );
        if settle.ok() {
            acks.add_send_json(
                &settle.stdout,
                &marker(&format!("settle-{}", case.step_index)),
            );
        } else {
            findings.add(
                Kind::Recovery,
                &name,
                format!("the settling send failed: {}", settle.stderr.trim()),
            );
        }
        let keys_seen = server.keys();
        let expect = Expect {
            acks: &acks,
            keys_seen: &keys_seen,
            since_seq: trace.heads[case.step_index],
            open_allowed: &[],
        };
        check::check_world(&paths.world, &name, &expect, &mut findings);
        if matches!(step, Step::Import) {
            check::replay_and_verify(&paths.imported, &name, &mut findings);
        }
    }
    let mut report = report.lock().unwrap();
    report.crashes += 1;
    *report.per_point.entry(case.point).or_insert(0) += 1;
    for (kind, count) in findings.counts {
        *report.findings.counts.entry(kind).or_insert(0) += count;
    }
    for detail in findings.details {
        if report.findings.details.len() < 20 {
            report.findings.details.push(detail);
        }
    }
}
