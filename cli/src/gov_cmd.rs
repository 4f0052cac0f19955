//! `world propose | diff | shadow | approve | apply | proposals | keygen`: changing a world's
//! control plane through the governance loop.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde_json::{Value as Json, json};
use worldline_air::load::load_sources;
use worldline_air::plane::BuildOptions;
use worldline_air::{ControlPlane, Hash, Name};
use worldline_kernel::World;
use worldline_kernel::governance::report::ShadowReport;
use worldline_kernel::world::{ShadowInput, read_signing_key, write_signing_key};

use crate::failure::Failure;
use crate::files::{air_dir, read_air_dir, read_text};
use crate::held::Access;
use crate::output::{errln, out, outln};
use crate::world_cmd::{ingress_now, kernel, new_seed};

/// Governance commands.
#[derive(Subcommand)]
pub enum GovCommand {
    /// Propose a change to the control plane: a patch document, or the difference between the
    /// live control plane and an AIR directory (--air). Prints the proposal id.
    ///
    /// Every reason to refuse the patch is printed at once; a refused patch journals nothing.
    ///
    /// Example: world propose /tmp/shop --air worlds/safe-upgrade/v2 --description "v2"
    Propose {
        /// The world.
        dir: PathBuf,
        /// A patch document (AIR.md §8), when --air is not given.
        patch: Option<PathBuf>,
        /// The AIR directory the world should become.
        #[arg(long, conflicts_with = "patch")]
        air: Option<PathBuf>,
        /// A new module binary, as NAME=FILE.wasm (or .wat); repeatable. A module without one
        /// keeps the live binary of the same name.
        #[arg(long = "module", value_name = "NAME=FILE")]
        modules: Vec<String>,
        /// What the change is for.
        #[arg(long)]
        description: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Print the patch that turns the live control plane into an AIR directory, without
    /// proposing it.
    ///
    /// Example: world diff /tmp/shop --air worlds/safe-upgrade/v2
    Diff {
        /// The world.
        dir: PathBuf,
        /// The AIR directory the world should become.
        #[arg(long)]
        air: PathBuf,
        /// A new module binary, as NAME=FILE.wasm; repeatable.
        #[arg(long = "module", value_name = "NAME=FILE")]
        modules: Vec<String>,
    },
    /// Run a proposal's candidate on a copy of the live world (in memory, canned receipts,
    /// nothing sent anywhere) beside the live manifest, and journal the report.
    ///
    /// Example: world shadow /tmp/shop 1 --replay-last 100
    Shadow {
        /// The world.
        dir: PathBuf,
        /// The proposal.
        id: u64,
        /// Re-run the world's last N external events (default 100).
        #[arg(long, value_name = "N", conflicts_with = "events")]
        replay_last: Option<u64>,
        /// Run these events from the head instead: a JSON array of {"schema", "value"}.
        #[arg(long, value_name = "FILE")]
        events: Option<PathBuf>,
        /// Machine-readable output (the whole report).
        #[arg(long)]
        json: bool,
    },
    /// Approve (or --reject) a shadowed proposal; with --key, the decision is signed and
    /// `world verify` checks the signature.
    ///
    /// Example: world approve /tmp/shop 1 --as alice --key alice.key
    Approve {
        /// The world.
        dir: PathBuf,
        /// The proposal.
        id: u64,
        /// Reject instead of approving.
        #[arg(long)]
        reject: bool,
        /// Who decides (default: $USER).
        #[arg(long = "as", value_name = "NAME")]
        by: Option<String>,
        /// The decider's signing key (made by `world keygen`).
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
    },
    /// Switch the world to an approved proposal's manifest, atomically.
    ///
    /// Example: world apply /tmp/shop 1
    Apply {
        /// The world.
        dir: PathBuf,
        /// The proposal.
        id: u64,
    },
    /// List the world's proposals and where each stands.
    ///
    /// Example: world proposals /tmp/shop
    Proposals {
        /// The world.
        dir: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Make a signing key for governance decisions (mode 0600) and print its DID.
    ///
    /// Example: world keygen alice.key
    Keygen {
        /// Where to write the key (must not exist).
        file: PathBuf,
    },
}

impl GovCommand {
    /// Prepares the command to run inside the `world run` that holds its world: paths made
    /// absolute against the client's `cwd`. False for a command that never goes there.
    pub(crate) fn for_socket(&mut self, cwd: &Path) -> bool {
        use crate::held::{absolute, absolute_module};
        match self {
            GovCommand::Propose {
                dir,
                patch,
                air,
                modules,
                ..
            } => {
                absolute(dir, cwd);
                patch
                    .iter_mut()
                    .chain(air.iter_mut())
                    .for_each(|p| absolute(p, cwd));
                modules.iter_mut().for_each(|m| absolute_module(m, cwd));
            }
            GovCommand::Diff { dir, air, modules } => {
                absolute(dir, cwd);
                absolute(air, cwd);
                modules.iter_mut().for_each(|m| absolute_module(m, cwd));
            }
            GovCommand::Shadow { dir, events, .. } => {
                absolute(dir, cwd);
                events.iter_mut().for_each(|p| absolute(p, cwd));
            }
            GovCommand::Approve { dir, key, .. } => {
                absolute(dir, cwd);
                key.iter_mut().for_each(|p| absolute(p, cwd));
            }
            GovCommand::Apply { dir, .. } | GovCommand::Proposals { dir, .. } => {
                absolute(dir, cwd);
            }
            GovCommand::Keygen { .. } => return false,
        }
        true
    }
}

/// Runs a governance command.
pub fn run(command: GovCommand, access: &mut Access) -> Result<(), Failure> {
    match command {
        GovCommand::Propose {
            dir,
            patch,
            air,
            modules,
            description,
            json,
        } => propose(
            access,
            &dir,
            patch.as_deref(),
            air.as_deref(),
            &modules,
            description,
            json,
        ),
        GovCommand::Diff { dir, air, modules } => {
            let world = access.open(&dir)?;
            let (doc, _) = derived_patch(world.plane(), &air, &modules)?;
            outln!("{}", serde_json::to_string_pretty(&doc)?);
            Ok(())
        }
        GovCommand::Shadow {
            dir,
            id,
            replay_last,
            events,
            json,
        } => shadow(access, &dir, id, replay_last, events.as_deref(), json),
        GovCommand::Approve {
            dir,
            id,
            reject,
            by,
            key,
        } => approve(access, &dir, id, !reject, by, key.as_deref()),
        GovCommand::Apply { dir, id } => {
            let mut world = access.open(&dir)?;
            let applied = world.apply(id, ingress_now()?).map_err(kernel(&dir))?;
            outln!(
                "applied proposal {id} at seq {}: manifest {} → {}",
                applied.seq,
                applied.previous,
                applied.manifest_hash
            );
            Ok(())
        }
        GovCommand::Proposals { dir, json } => proposals(access, &dir, json),
        GovCommand::Keygen { file } => {
            let key = write_signing_key(&file, new_seed()?)
                .map_err(|e| Failure::message(e.to_string()))?;
            outln!("{}", key.did());
            Ok(())
        }
    }
}

/// The control plane of an AIR directory, with these module binaries.
fn build_target(
    air: &Path,
    sources: &[worldline_air::load::SourceFile],
    module_hashes: BTreeMap<Name, Hash>,
) -> Result<ControlPlane, Failure> {
    let options = BuildOptions {
        require_hashes: false,
        module_hashes,
    };
    load_sources(sources, &options).map_err(|errors| {
        for line in &errors.0 {
            errln!("{line}");
        }
        Failure::message(format!(
            "{}: the AIR is invalid ({} errors)",
            air.display(),
            errors.0.len()
        ))
    })
}

/// The patch from the live plane to the AIR in `air`, and the binaries it needs.
fn derived_patch(
    live: &ControlPlane,
    air: &Path,
    module_specs: &[String],
) -> Result<(Json, Vec<Vec<u8>>), Failure> {
    let air = air_dir(air)?;
    let sources = read_air_dir(&air)?;
    let mut binaries = crate::modules::module_options(module_specs)?;
    crate::modules::build_world_modules(&air, &mut binaries)?;
    let given: BTreeMap<Name, Hash> = binaries
        .iter()
        .map(|(n, b)| (n.clone(), Hash::of(b)))
        .collect();
    let target = build_target(&air, &sources, given.clone())?;
    // A module the directory defines without a binary keeps the live binary of that name.
    let mut module_hashes = given;
    for ((_, name), def) in target.defs() {
        if let worldline_air::nodes::Node::Module(m) = &def.node
            && m.wasm_hash.is_none()
            && let Some(live_hash) = live.module(name).and_then(|m| m.wasm_hash)
        {
            module_hashes.insert(name.clone(), live_hash);
        }
    }
    let target = build_target(&air, &sources, module_hashes)?;
    let doc = worldline_air::patch::derive(live, &target);
    Ok((doc, binaries.into_values().collect()))
}

fn propose(
    access: &mut Access,
    dir: &Path,
    patch: Option<&Path>,
    air: Option<&Path>,
    module_specs: &[String],
    description: Option<String>,
    as_json: bool,
) -> Result<(), Failure> {
    let mut world = access.open(dir)?;
    let (doc, binaries) = match (patch, air) {
        (_, Some(air)) => {
            let (doc, binaries) = derived_patch(world.plane(), air, module_specs)?;
            if doc["patches"].as_array().is_some_and(Vec::is_empty) {
                return Err(Failure::message(format!(
                    "{}: nothing to propose: the live control plane already is {}",
                    dir.display(),
                    air.display()
                )));
            }
            (doc, binaries)
        }
        (Some(file), None) => {
            let text = read_text(file)?;
            let doc = worldline_air::json::parse_strict(&text)
                .map_err(|e| Failure::message(format!("{}: {e}", file.display())))?;
            let binaries = crate::modules::module_options(module_specs)?;
            (doc, binaries.into_values().collect())
        }
        (None, None) => {
            return Err(Failure::message(
                "propose: give a patch file or --air <air-dir>",
            ));
        }
    };
    let proposed = world
        .propose(&doc, binaries, description, ingress_now()?)
        .map_err(kernel(dir))?;
    if as_json {
        outln!("{}", crate::query::proposed_json(&proposed));
        return Ok(());
    }
    outln!("proposal {} journaled at seq {}", proposed.id, proposed.seq);
    outln!("patch      {}", proposed.patch_hash);
    outln!("candidate  {}", proposed.candidate);
    for delta in &proposed.ledger {
        outln!("  {:<8} {} {}", delta.action, delta.section, delta.name);
    }
    outln!("next: world shadow {} {}", dir.display(), proposed.id);
    Ok(())
}

fn shadow(
    access: &mut Access,
    dir: &Path,
    id: u64,
    replay_last: Option<u64>,
    events: Option<&Path>,
    as_json: bool,
) -> Result<(), Failure> {
    let mut world = access.open(dir)?;
    let input = match events {
        None => ShadowInput::ReplayLast(replay_last.unwrap_or(100)),
        Some(file) => ShadowInput::Events(read_events(&world, file)?),
    };
    let (report, seq) = world
        .shadow(id, input, ingress_now()?)
        .map_err(kernel(dir))?;
    if as_json {
        let mut out = serde_json::to_value(&report)?;
        out["seq"] = json!(seq);
        outln!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    out!("{}", render_report(&report, seq));
    Ok(())
}

/// Events for `--events`: a JSON array of `{"schema": S, "value": V}`.
fn read_events(world: &World, file: &Path) -> Result<Vec<worldline_kernel::EventInput>, Failure> {
    let text = read_text(file)?;
    let json = worldline_air::json::parse_strict(&text)
        .map_err(|e| Failure::message(format!("{}: {e}", file.display())))?;
    let Some(items) = json.as_array() else {
        return Err(Failure::message(format!(
            "{}: $: expected an array of {{\"schema\", \"value\"}}",
            file.display()
        )));
    };
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let place = format!("{}: $[{index}]", file.display());
            let schema = item.get("schema").and_then(Json::as_str).ok_or_else(|| {
                Failure::message(format!("{place}.schema: expected a schema name"))
            })?;
            let value = item
                .get("value")
                .ok_or_else(|| Failure::message(format!("{place}.value: missing")))?;
            world
                .event_from_json(schema, value)
                .map_err(|e| Failure::message(format!("{place}: {e}")))
        })
        .collect()
}

/// The report for people: a few lines per section.
pub fn render_report(report: &ShadowReport, seq: u64) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let from = report
        .inputs
        .from_seq
        .map(|s| format!(" from seq {s}"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "shadow of proposal {} (report journaled at seq {seq}): {} inputs ({}{from})",
        report.proposal_id, report.inputs.count, report.inputs.mode
    );
    let _ = writeln!(out, "ledger deltas: {}", report.ledger.len());
    for d in &report.ledger {
        let _ = writeln!(out, "  {:<8} {} {}", d.action, d.section, d.name);
        if d.section == "grant" {
            let show = |v: &Option<Json>| v.as_ref().map_or("-".to_owned(), Json::to_string);
            let _ = writeln!(out, "           {} → {}", show(&d.old), show(&d.new));
        }
    }
    let _ = writeln!(out, "predicted intents: {}", report.intents.len());
    for i in &report.intents {
        let verdict = if i.admitted { "admitted" } else { "denied" };
        let _ = writeln!(
            out,
            "  input {}: {} by {} cap {}: {verdict} ({})",
            i.input,
            i.kind,
            i.origin,
            i.cap,
            i.decisions.join(", ")
        );
    }
    let _ = writeln!(out, "state diffs: {}", report.state_diffs.len());
    for d in &report.state_diffs {
        let key = d
            .key
            .as_ref()
            .map(|k| format!(" [{k}]"))
            .unwrap_or_default();
        for c in &d.changes {
            let show = |v: &Option<Json>| v.as_ref().map_or("-".to_owned(), Json::to_string);
            let _ = writeln!(
                out,
                "  {}{key} {}: {} → {}",
                d.reducer,
                c.path,
                show(&c.old),
                show(&c.new)
            );
        }
    }
    let _ = writeln!(out, "divergence: {}", report.divergence.len());
    for d in &report.divergence {
        let _ = writeln!(out, "  input {} {}", d.input, d.what);
        let _ = writeln!(out, "    live:      {}", d.live.join("; "));
        let _ = writeln!(out, "    candidate: {}", d.candidate.join("; "));
    }
    if !report.step_failures.is_empty() {
        let _ = writeln!(out, "step failures: {}", report.step_failures.len());
        for f in &report.step_failures {
            let _ = writeln!(out, "  {f}");
        }
    }
    out
}

fn approve(
    access: &mut Access,
    dir: &Path,
    id: u64,
    approved: bool,
    by: Option<String>,
    key: Option<&Path>,
) -> Result<(), Failure> {
    let key = key
        .map(read_signing_key)
        .transpose()
        .map_err(|e| Failure::message(e.to_string()))?;
    let by = by
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".to_owned());
    let mut world = access.open(dir)?;
    let seq = world
        .decide(id, approved, &by, key.as_ref(), ingress_now()?)
        .map_err(kernel(dir))?;
    let verb = if approved { "approved" } else { "rejected" };
    let signed = key
        .map(|k| format!(", signed by {}", k.did()))
        .unwrap_or_default();
    outln!("proposal {id} {verb} by {by} at seq {seq}{signed}");
    Ok(())
}

fn proposals(access: &mut Access, dir: &Path, as_json: bool) -> Result<(), Failure> {
    let world = access.open(dir)?;
    for p in world.proposals().all() {
        if as_json {
            outln!("{}", crate::query::proposal_json(p));
        } else {
            outln!(
                "{:>4}  {:<9} seq {:<6} candidate {}",
                p.id,
                p.status.word(),
                p.proposed_seq,
                p.candidate
            );
        }
    }
    Ok(())
}
