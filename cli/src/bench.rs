//! `world bench <workload>`: the kernel's throughput on this machine, in a throwaway world.
//!
//! Events are normalized once up front (the JSON lens is measured by `cargo bench -p
//! worldline-air`), so the figures are the kernel's own: stamping, record encoding and hashing,
//! the wasm step in a fresh instance, checking the output, and the redb commit. `--module`
//! runs the workload with another binary of its reducer (one written in C, AssemblyScript or
//! WAT, say), so reducers can be compared in the same kernel.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::ValueEnum;
use serde_json::json;
use worldline_air::{Hash, Name};
use worldline_kernel::config::WorldConfig;
use worldline_kernel::host::ReducerHost;
use worldline_kernel::host::envelope::ReducerInput;
use worldline_kernel::world::replay;
use worldline_kernel::{EventInput, Ingress, KernelError, World};

use crate::failure::Failure;
use crate::world_cmd::{create_world, kernel};

/// Events per durable commit in the batched run.
const BATCH_EVENTS: usize = 1000;
/// Most events sent with one durable commit each (fsync per event is slow by nature).
const SINGLE_COMMIT_EVENTS_MAX: u64 = 5000;
/// Steps timed by themselves (`step_alone_us`): enough for a stable mean, quick to run.
const STEP_ALONE_RUNS: u32 = 20_000;
/// Accounts of the cells workload.
const CELLS_ACCOUNTS: u64 = 10_000;

/// The workloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Workload {
    /// One reducer (the counter).
    Counter,
    /// A keyed reducer: 10,000 account cells.
    Cells,
    /// Timers due at the same instant, through the real host and timer adapter
    /// (`--events` timers; `bench_timers.rs`).
    Timers,
}

impl Workload {
    fn world(self) -> &'static str {
        match self {
            Workload::Counter => "counter",
            Workload::Cells | Workload::Timers => "cells",
        }
    }

    /// The reducer the workload drives (the one `--module` replaces).
    fn reducer(self) -> &'static str {
        match self {
            Workload::Counter => "demo/CounterSM@1",
            Workload::Cells | Workload::Timers => "demo/Ledger@1",
        }
    }
}

/// Finds `worlds/<name>` from the current directory upward, else next to this crate's source.
fn world_dir(name: &str) -> Result<PathBuf, Failure> {
    let here =
        std::env::current_dir().map_err(|e| Failure::message(format!("current directory: {e}")))?;
    let compiled_in = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    here.ancestors()
        .map(Path::to_path_buf)
        .chain(std::iter::once(compiled_in))
        .map(|dir| dir.join("worlds").join(name))
        .find(|dir| dir.join("air").is_dir())
        .ok_or_else(|| {
            Failure::message(format!(
                "worlds/{name} not found; run the bench from the repository"
            ))
        })
}

fn events(
    world: &World,
    workload: Workload,
    count: u64,
    offset: u64,
) -> Result<Vec<EventInput>, Failure> {
    let dir = world.dir().to_path_buf();
    let make = |schema: &str, json: serde_json::Value| {
        world.event_from_json(schema, &json).map_err(kernel(&dir))
    };
    match workload {
        Workload::Counter => {
            let tick = make("demo/CounterEvent@1", json!("Tick"))?;
            let mut out = Vec::with_capacity(count as usize);
            if offset == 0 {
                out.push(make("demo/CounterEvent@1", json!({"Start": {"target": u64::MAX / 2}}))?);
            }
            while (out.len() as u64) < count {
                out.push(tick.clone());
            }
            Ok(out)
        }
        Workload::Cells | Workload::Timers => (offset..offset + count)
            .map(|i| make("demo/LedgerEvent@1", json!({"Deposit": {"account": format!("acct-{}", i % CELLS_ACCOUNTS), "amount": 1}})))
            .collect(),
    }
}

fn ingress(i: u64) -> Ingress {
    let mut entropy = [0u8; 32];
    entropy[..8].copy_from_slice(&i.to_le_bytes());
    Ingress {
        now_ns: 1_700_000_000_000_000_000 + i * 1000,
        entropy,
    }
}

/// Peak resident memory of a fresh process that opens the world (snapshot + tail) and reads
/// one record, as that process reports it (its own `VmHWM`: a child's `ru_maxrss` would also
/// count the image it was forked from).
fn open_rss_kib(dir: &Path) -> Option<u64> {
    let exe = std::env::current_exe().ok()?;
    let output = std::process::Command::new(exe)
        .env(crate::REPORT_PEAK_MEMORY_ENV, "1")
        .arg("log")
        .arg(dir)
        .args(["--limit", "1"])
        .output()
        .ok()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("peak_memory_kib "))
        .and_then(|v| v.trim().parse().ok())
}

/// Peak resident memory of this process in KiB (Linux), if readable.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Resident memory of this process in KiB (Linux), if readable.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The workload's reducer binary, as the world stored it, and its hash.
fn module_binary(world: &World, workload: Workload) -> Result<(Hash, Vec<u8>), Failure> {
    let name = Name::parse(workload.reducer()).map_err(|e| Failure::message(e.to_string()))?;
    let hash = world
        .plane()
        .module(&name)
        .and_then(|m| m.wasm_hash)
        .ok_or_else(|| Failure::message(format!("{name} has no binary")))?;
    let bytes = world
        .store()
        .cas_get(&hash)
        .map_err(kernel(world.dir()))?
        .ok_or_else(|| Failure::message(format!("{name}: binary {hash} is not stored")))?;
    Ok((hash, bytes))
}

/// The mean time of one reducer step by itself, in µs: what the kernel does with the module for
/// every event (a fresh instance, the input written, `step` called, the output read), without
/// stamping, checking, journaling or committing; so reducers can be compared apart from the rest
/// of the kernel. The input is the workload's next event on the world's current state.
fn step_alone_us(
    world: &World,
    workload: Workload,
    wasm_hash: Hash,
    wasm: &[u8],
) -> Result<f64, Failure> {
    let fails = |e: KernelError| Failure::message(format!("timing a step: {e}"));
    let name = Name::parse(workload.reducer()).map_err(|e| Failure::message(e.to_string()))?;
    let event = events(world, workload, 1, 1)?.remove(0); // a Tick, a deposit to acct-1
    let key = match workload {
        Workload::Counter => Vec::new(),
        Workload::Cells | Workload::Timers => world
            .cell_key_from_json(&name, &json!("acct-1"))
            .map_err(fails)?,
    };
    let state = world.states().get(&name, &key).cloned();
    let input = ReducerInput {
        schema: event.schema.as_str(),
        value: &event.value,
        key: (!key.is_empty()).then_some(&key[..]),
        state: state.as_deref(),
        ctx: None,
    }
    .encode();
    let mut host = ReducerHost::new(&WorldConfig::default()).map_err(fails)?;
    host.compile(&name, wasm_hash, wasm, "step")
        .map_err(fails)?;
    let step = || {
        host.step(&wasm_hash, &input)
            .map_err(|e| Failure::message(format!("timing a step of {name}: {e}")))
    };
    step()?; // warm up, and make sure it is a step that succeeds
    let started = Instant::now();
    for _ in 0..STEP_ALONE_RUNS {
        step()?;
    }
    Ok(started.elapsed().as_secs_f64() * 1e6 / f64::from(STEP_ALONE_RUNS))
}

/// Runs the benchmark and prints the figures; the world is kept in `keep` when given. `module`
/// replaces the workload's reducer binary (else it is built from `modules/`).
pub fn run(
    workload: Workload,
    count: u64,
    keep: Option<&Path>,
    module: Option<&Path>,
    as_json: bool,
) -> Result<(), Failure> {
    let air = world_dir(workload.world())?.join("air");
    let scratch =
        tempfile::tempdir().map_err(|e| Failure::message(format!("temporary directory: {e}")))?;
    let dir = keep.map_or_else(|| scratch.path().join("world"), Path::to_path_buf);
    let module_specs: Vec<String> = module
        .map(|file| format!("{}={}", workload.reducer(), file.display()))
        .into_iter()
        .collect();
    let mut world = create_world(&dir, &air, &module_specs, WorldConfig::default())?;
    let (module_hash, module_wasm) = module_binary(&world, workload)?;
    let module_bytes = module_wasm.len();

    let started = Instant::now();
    let mut sent = 0u64;
    // Inputs are made a batch at a time, so the bench's own memory does not grow with --events.
    while sent < count {
        let chunk = events(
            &world,
            workload,
            (count - sent).min(BATCH_EVENTS as u64),
            sent,
        )?;
        let batch: Vec<_> = chunk
            .into_iter()
            .map(|e| {
                sent += 1;
                (e, ingress(sent))
            })
            .collect();
        world.submit(batch, true).map_err(kernel(&dir))?;
    }
    let batched_s = started.elapsed().as_secs_f64();

    let singles = count.min(SINGLE_COMMIT_EVENTS_MAX);
    let single_inputs = events(&world, workload, singles, count)?;
    let started = Instant::now();
    for event in single_inputs {
        sent += 1;
        world
            .submit(vec![(event, ingress(sent))], true)
            .map_err(kernel(&dir))?;
    }
    let single_s = started.elapsed().as_secs_f64();
    let records = world.head().seq + 1;
    let rss_after_ingest = rss_kib();
    let step_us = step_alone_us(&world, workload, module_hash, &module_wasm)?;
    drop(world);

    let started = Instant::now();
    let reopened = World::open(&dir).map_err(kernel(&dir))?;
    let open_ms = started.elapsed().as_secs_f64() * 1000.0;
    drop(reopened);
    let rss_open = open_rss_kib(&dir);

    let started = Instant::now();
    let report = replay(&dir).map_err(kernel(&dir))?;
    let replay_s = started.elapsed().as_secs_f64();

    let batched_rate = count as f64 / batched_s;
    let single_rate = singles as f64 / single_s;
    let replay_rate = report.inputs as f64 / replay_s;
    if as_json {
        println!(
            "{}",
            json!({
                "workload": workload.world(), "events": count, "records": records,
                "module": workload.reducer(), "module_hash": module_hash.to_string(), "module_bytes": module_bytes,
                "step_alone_us": step_us, "ingest_batched_us_per_event": 1e6 / batched_rate, "replay_us_per_event": 1e6 / replay_rate,
                "ingest_batched_events_per_s": batched_rate, "batch_events": BATCH_EVENTS,
                "ingest_single_commit_events_per_s": single_rate, "single_commit_events": singles,
                "replay_events_per_s": replay_rate, "replay_inputs": report.inputs,
                "open_ms": open_ms, "rss_after_ingest_kib": rss_after_ingest, "open_process_max_rss_kib": rss_open,
            })
        );
    } else {
        println!(
            "workload {} ({count} events, {records} records)",
            workload.world()
        );
        println!(
            "  module {} {module_hash} ({module_bytes} bytes)",
            workload.reducer()
        );
        println!("  reducer step alone (fresh instance)    {step_us:>12.2} µs");
        println!(
            "  ingest, {BATCH_EVENTS} events per durable commit   {batched_rate:>12.0} events/s ({:.2} µs/event)",
            1e6 / batched_rate
        );
        println!(
            "  ingest, one durable commit per event   {single_rate:>12.0} events/s ({singles} events)"
        );
        println!(
            "  replay from genesis (incl. open)       {replay_rate:>12.0} events/s ({:.2} µs/event)",
            1e6 / replay_rate
        );
        println!("  open (snapshot + tail)                 {open_ms:>12.1} ms");
        if let Some(ingest) = rss_after_ingest {
            println!("  resident memory after ingest           {ingest:>9} KiB");
        }
        if let Some(open) = rss_open {
            println!("  peak memory of a process opening it    {open:>9} KiB");
        }
    }
    Ok(())
}
