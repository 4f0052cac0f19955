//! `world new | send | state | log | replay | why`: working with a world on disk.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde_json::{Value as Json, json};
use worldline_air::Name;
use worldline_kernel::config::WorldConfig;
use worldline_kernel::world::{replay, replay_world};
use worldline_kernel::{CreateOptions, Ingress, KernelError, World};

use crate::failure::Failure;
use crate::files::{air_dir, read_air_dir};
use crate::held::{Access, in_use_or};
use crate::host_cmd::HostFlags;
use crate::output::{errln, outln};
use crate::render::{record_json, record_line};

/// Commands on a world directory.
#[derive(Subcommand)]
pub enum WorldCommand {
    /// Create a world from its AIR: a new Ed25519 identity (did:key) and the genesis record.
    ///
    /// Modules come from --module, or (for the example worlds) are built from modules/ as the
    /// world's world.json says.
    ///
    /// Example: world new /tmp/counter --air worlds/counter
    New {
        /// Where to create the world (a new or empty directory).
        dir: PathBuf,
        /// The world's AIR: a directory of *.air.json files (or a world folder with air/).
        #[arg(long)]
        air: PathBuf,
        /// A module binary, as NAME=FILE.wasm (or .wat); repeatable.
        #[arg(long = "module", value_name = "NAME=FILE")]
        modules: Vec<String>,
        /// Fuel budget of one reducer step (fixed for the world's life).
        #[arg(long, default_value_t = worldline_kernel::config::FUEL_PER_STEP_DEFAULT)]
        fuel_per_step: u64,
        /// Records between snapshots (fixed for the world's life).
        #[arg(long, default_value_t = worldline_kernel::config::SNAPSHOT_EVERY_DEFAULT)]
        snapshot_every: u64,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Append an event, run everything it causes, and print the seqs appended.
    ///
    /// The event is JSON in either lens, read through its schema; @FILE reads it from a file.
    /// When this returns, what it printed is durable.
    ///
    /// Example: world send /tmp/counter demo/CounterEvent@1 '{"Start": {"target": 3}}'
    Send {
        /// The world.
        dir: PathBuf,
        /// The event's schema, e.g. demo/CounterEvent@1.
        schema: String,
        /// The event as JSON, or @FILE.
        event: String,
        /// How long to wait for the effects it caused (timers, blobs, HTTP) to finish.
        #[arg(long, default_value_t = 30_000, value_name = "MS")]
        timeout_ms: u64,
        /// Adapter settings.
        #[command(flatten)]
        host: HostFlags,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Run the world's adapters and timers until SIGINT/SIGTERM: open intents (also those left
    /// by a crash) are dispatched, receipts journaled, and due timers fire.
    ///
    /// Example: world run /tmp/hello-timer
    Run {
        /// The world.
        dir: PathBuf,
        /// Adapter settings.
        #[command(flatten)]
        host: HostFlags,
        /// Stop by itself after this long (for scripts and tests).
        #[arg(long, value_name = "MS")]
        stop_after_ms: Option<u64>,
        /// Serve the control API (spec/api.md) on this address, e.g. 127.0.0.1:8700 (port 0
        /// picks a free one; the address is printed).
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
        /// The API's bearer token: needed by every request on a non-loopback --listen (which
        /// refuses to start without one), and by every mutating request on a loopback one.
        #[arg(long, value_name = "TOKEN", requires = "listen")]
        token: Option<String>,
    },
    /// Print a reducer's state (or a cell's, with --key; all cells without it).
    ///
    /// Example: world state /tmp/counter demo/CounterSM@1
    State {
        /// The world.
        dir: PathBuf,
        /// The reducer.
        reducer: String,
        /// A cell key as JSON (a bare string is taken as text).
        #[arg(long)]
        key: Option<String>,
        /// Also print the Merkle path that proves this state against the state root (and the
        /// checkpoint that signs it, when the head is one), as JSON.
        #[arg(long)]
        proof: bool,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Print journal records, one per line.
    ///
    /// Example: world log /tmp/counter --from 0 --limit 20
    Log {
        /// The world.
        dir: PathBuf,
        /// First seq to show.
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Most records to show.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// Keep printing new records as they are journaled (through the event stream of the
        /// running `world run`, over its control socket; see spec/api.md). --limit does not
        /// apply.
        #[arg(long)]
        follow: bool,
        /// With --follow: the control API to follow (default: the running `world run`'s control
        /// socket, else the --listen address it wrote in .world/api-url).
        #[arg(long, value_name = "URL", requires = "follow")]
        url: Option<String>,
        /// With --follow: the API's bearer token (needed on a non-loopback bind).
        #[arg(long, value_name = "TOKEN", requires = "follow")]
        token: Option<String>,
    },
    /// Why a record happened: the records that led to it, down to external inputs and genesis,
    /// with the admission decisions of each intent and the manifest in force; or with
    /// --forward, everything it caused. TARGET is a seq, an intent hash or an event hash.
    ///
    /// With --forward --follow: what the record has caused so far and then what it goes on
    /// causing, one record per line as `world log` prints them, as they are journaled.
    /// (Backwards there is nothing to follow: a record's causes are all earlier records.)
    ///
    /// Example: world why /tmp/fetch 9 --format tree
    Why {
        /// The world.
        dir: PathBuf,
        /// A record's seq, an intent hash or an event hash (sha256:…).
        target: String,
        /// Walk forwards: what it caused.
        #[arg(long)]
        forward: bool,
        /// Most edges from the target (at most 256).
        #[arg(long, default_value_t = worldline_kernel::why::DEPTH_DEFAULT, value_name = "N")]
        depth: u32,
        /// Output form.
        #[arg(long, value_enum, default_value_t = crate::why_cmd::Format::Tree)]
        format: crate::why_cmd::Format,
        /// Machine-readable output (the same as --format json).
        #[arg(long)]
        json: bool,
        /// With --forward and a seq: keep printing what the record causes as it is journaled.
        #[arg(long, requires = "forward")]
        follow: bool,
    },
    /// A guided tour of one world, from birth to fork: events, a plan calling a local HTTP
    /// server and the offline LLM, a denied effect and why, an upgrade proposed, shadowed,
    /// approved and applied, the why graph as DOT, export, import, verify, fork, replay.
    ///
    /// Example: world demo
    Demo {
        /// Where to create the demo world (default: a new temporary directory).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Measure the kernel in a throwaway world (release builds give meaningful figures).
    ///
    /// Example: world bench counter --events 100000 [--module counter.wasm]
    Bench {
        /// Which workload.
        #[arg(value_enum)]
        workload: crate::bench::Workload,
        /// How many events.
        #[arg(long, default_value_t = 100_000)]
        events: u64,
        /// Create the world here and keep it (default: a temporary directory, removed after).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The workload's reducer binary (FILE.wasm or .wat) instead of the one built from
        /// modules/, e.g. a reducer written in another language.
        #[arg(long, value_name = "FILE")]
        module: Option<PathBuf>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Rebuild the world from genesis in memory and compare every record hash and the final
    /// state root with the world on disk.
    ///
    /// Example: world replay /tmp/counter
    Replay {
        /// The world.
        dir: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

impl WorldCommand {
    /// Prepares the command to run inside the `world run` that holds its world: paths made
    /// absolute against the client's `cwd`. False for a command that never goes there.
    pub(crate) fn for_socket(&mut self, cwd: &Path) -> bool {
        use crate::held::absolute;
        match self {
            WorldCommand::Send { dir, event, .. } => {
                absolute(dir, cwd);
                if let Some(file) = event.strip_prefix('@') {
                    let mut file = PathBuf::from(file);
                    absolute(&mut file, cwd);
                    *event = format!("@{}", file.display());
                }
            }
            WorldCommand::State { dir, .. }
            | WorldCommand::Why {
                dir, follow: false, ..
            }
            | WorldCommand::Replay { dir, .. }
            | WorldCommand::Log {
                dir, follow: false, ..
            } => absolute(dir, cwd),
            WorldCommand::New { .. }
            | WorldCommand::Run { .. }
            | WorldCommand::Log { .. }
            | WorldCommand::Why { .. }
            | WorldCommand::Demo { .. }
            | WorldCommand::Bench { .. } => return false,
        }
        true
    }
}

/// Runs a world command; `access` says where its world comes from.
pub fn run(command: WorldCommand, access: &mut Access) -> Result<(), Failure> {
    match command {
        WorldCommand::New {
            dir,
            air,
            modules,
            fuel_per_step,
            snapshot_every,
            json,
        } => {
            let config = WorldConfig {
                fuel_per_step,
                snapshot_every,
                ..WorldConfig::default()
            };
            new(&dir, &air, &modules, config, json)
        }
        WorldCommand::Send {
            dir,
            schema,
            event,
            timeout_ms,
            host,
            json,
        } => crate::send_cmd::send(access, &dir, &schema, &event, timeout_ms, &host, json),
        WorldCommand::Run {
            dir,
            host,
            stop_after_ms,
            listen,
            token,
        } => {
            let api = listen.map(|listen| crate::api::ApiConfig { listen, token });
            crate::host_cmd::run(&dir, &host, stop_after_ms, api.as_ref())
        }
        WorldCommand::State {
            dir,
            reducer,
            key,
            proof,
            json,
        } => state(access, &dir, &reducer, key.as_deref(), proof, json),
        WorldCommand::Log {
            dir,
            from,
            json,
            follow: true,
            url,
            token,
            ..
        } => {
            let source = crate::follow::FollowSource {
                url: url.as_deref(),
                token: token.as_deref(),
            };
            crate::follow::follow(&dir, from, json, &source, None)
        }
        WorldCommand::Log {
            dir,
            from,
            limit,
            json,
            ..
        } => log(access, &dir, from, limit, json),
        WorldCommand::Replay { dir, json } => replay_cmd(access, &dir, json),
        WorldCommand::Why {
            dir,
            target,
            format,
            json,
            follow: true,
            ..
        } => {
            let root = target.parse::<u64>().map_err(|_| {
                Failure::message(format!(
                    "{target}: --follow takes a record's seq (`world why` without --follow resolves hashes to seqs)"
                ))
            })?;
            let as_json = json || format == crate::why_cmd::Format::Json;
            if format == crate::why_cmd::Format::Dot {
                return Err(Failure::message(
                    "--follow prints records as they come, one per line: tree or json, not dot",
                ));
            }
            let source = crate::follow::FollowSource {
                url: None,
                token: None,
            };
            crate::follow::follow(&dir, 0, as_json, &source, Some(root))
        }
        WorldCommand::Why {
            dir,
            target,
            forward,
            depth,
            format,
            json,
            ..
        } => {
            let format = if json {
                crate::why_cmd::Format::Json
            } else {
                format
            };
            crate::why_cmd::run(access, &dir, &target, forward, depth, format)
        }
        WorldCommand::Demo { dir } => crate::demo::run(dir.as_deref()),
        WorldCommand::Bench {
            workload: crate::bench::Workload::Timers,
            events,
            json,
            ..
        } => crate::bench_timers::run(events, json),
        WorldCommand::Bench {
            workload,
            events,
            dir,
            module,
            json,
        } => crate::bench::run(workload, events, dir.as_deref(), module.as_deref(), json),
    }
}

/// Kernel errors as one-line messages, naming the world.
pub fn kernel(dir: &Path) -> impl Fn(KernelError) -> Failure + '_ {
    move |error| match error {
        KernelError::Air(errors) => {
            for line in &errors.0 {
                errln!("{line}");
            }
            Failure::message(format!(
                "{}: the AIR is invalid ({} errors)",
                dir.display(),
                errors.0.len()
            ))
        }
        // These already name their path.
        error @ (KernelError::NotAWorld { .. }
        | KernelError::Io { .. }
        | KernelError::StoreFile { .. }
        | KernelError::InUse { .. }) => Failure::message(error.to_string()),
        other => Failure::message(format!("{}: {other}", dir.display())),
    }
}

/// Query failures as one-line messages (world failures name the world).
pub fn query(dir: &Path) -> impl Fn(crate::query::QueryError) -> Failure + '_ {
    move |error| match error {
        crate::query::QueryError::Kernel(error) => kernel(dir)(error),
        other => Failure::message(other.to_string()),
    }
}

/// Wall time and OS entropy for an input: the only place either enters a world (through the
/// adapters' clock, so `WORLDLINE_CLOCK_OFFSET_MS` moves every stamp alike).
pub fn ingress_now() -> Result<Ingress, Failure> {
    worldline_adapters::clock::ingress_now().map_err(|e| Failure::message(e.to_string()))
}

/// A new world key's secret seed, from the OS random source.
pub fn new_seed() -> Result<[u8; 32], Failure> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| Failure::message(format!("no OS entropy: {e}")))?;
    Ok(seed)
}

/// Creates a world; returns it open.
pub fn create_world(
    dir: &Path,
    air: &Path,
    module_specs: &[String],
    config: WorldConfig,
) -> Result<World, Failure> {
    let air = air_dir(air)?;
    let sources = read_air_dir(&air)?;
    let mut binaries = crate::modules::module_options(module_specs)?;
    crate::modules::build_world_modules(&air, &mut binaries)?;
    let options = CreateOptions {
        config,
        seed: new_seed()?,
        ingress: ingress_now()?,
    };
    World::create(dir, &sources, binaries, options).map_err(kernel(dir))
}

fn new(
    dir: &Path,
    air: &Path,
    modules: &[String],
    config: WorldConfig,
    as_json: bool,
) -> Result<(), Failure> {
    let world = create_world(dir, air, modules, config)?;
    let manifest = world.plane().manifest_hash();
    if as_json {
        outln!(
            "{}",
            json!({"dir": dir.display().to_string(), "did": world.did(), "manifest_hash": manifest.to_string(), "head": world.head().seq})
        );
    } else {
        outln!("created world {}", dir.display());
        outln!("did       {}", world.did());
        outln!("manifest  {manifest}");
        outln!("genesis   seq 0 {}", world.head().hash);
    }
    Ok(())
}

fn state(
    access: &mut Access,
    dir: &Path,
    reducer: &str,
    key: Option<&str>,
    proof: bool,
    as_json: bool,
) -> Result<(), Failure> {
    let world = access.open(dir)?;
    let name = Name::parse(reducer).map_err(|e| Failure::message(e.to_string()))?;
    let module = world
        .plane()
        .module(&name)
        .ok_or_else(|| Failure::message(format!("{reducer} is not a module of this world")))?;
    let keyed = module.key_schema.is_some();
    let render = |key_bytes: &[u8]| -> Result<Json, Failure> {
        Ok(world
            .state(&name, key_bytes)
            .map_err(kernel(dir))?
            .map(|v| v.to_plain_json())
            .unwrap_or(Json::Null))
    };
    if proof {
        let key_bytes = match key {
            None if keyed => {
                return Err(Failure::message(format!(
                    "{reducer} is keyed: --proof needs --key"
                )));
            }
            None => Vec::new(),
            Some(key) => {
                let key_json = worldline_air::json::parse_strict(key)
                    .unwrap_or_else(|_| Json::String(key.to_owned()));
                world
                    .cell_key_from_json(&name, &key_json)
                    .map_err(kernel(dir))?
            }
        };
        let mut out = crate::lineage_cmd::state_proof(&world, &name, &key_bytes)?;
        out["state"] = render(&key_bytes)?;
        outln!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    let key_json = key.map(crate::query::key_json);
    let out = crate::query::state_json(&world, reducer, key_json.as_ref()).map_err(query(dir))?;
    if as_json {
        outln!("{}", json!({"reducer": reducer, "key": key, "state": out}));
    } else {
        outln!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(())
}

fn log(
    access: &mut Access,
    dir: &Path,
    from: u64,
    limit: usize,
    as_json: bool,
) -> Result<(), Failure> {
    let world = access.open(dir)?;
    for_each_record(&world, dir, from, limit, |record, hash| {
        if as_json {
            outln!("{}", record_json(world.plane(), record, hash));
        } else {
            outln!("{}", record_line(world.plane(), record));
        }
    })
}

/// Records read from the store per page (the store gives at most a page per call).
const LOG_PAGE_RECORDS: usize = 1000;

/// Calls `f` on up to `limit` records from `from` on, in order, a page at a time.
pub(crate) fn for_each_record(
    world: &World,
    dir: &Path,
    from: u64,
    limit: usize,
    mut f: impl FnMut(&worldline_kernel::record::Record, &worldline_air::Hash),
) -> Result<(), Failure> {
    let (mut next, mut left) = (from, limit);
    while left > 0 {
        let page = world
            .records(next, left.min(LOG_PAGE_RECORDS))
            .map_err(kernel(dir))?;
        let Some((last, _)) = page.last() else {
            break;
        };
        next = last.seq + 1;
        left -= page.len();
        for (record, hash) in &page {
            f(record, hash);
        }
    }
    Ok(())
}

fn replay_cmd(access: &mut Access, dir: &Path, as_json: bool) -> Result<(), Failure> {
    let report = match access {
        Access::Disk => replay(dir).map_err(in_use_or(dir))?,
        Access::Held(_) => replay_world(&*access.open(dir)?).map_err(kernel(dir))?,
    };
    if as_json {
        outln!(
            "{}",
            json!({"ok": true, "records": report.records, "inputs": report.inputs, "state_root": report.state_root.to_string()})
        );
    } else {
        outln!(
            "replay ok: {} records, state root {}",
            report.records,
            report.state_root
        );
    }
    Ok(())
}
