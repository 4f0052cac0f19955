//! `world verify | inspect | fork | export | import`: a world's identity and lineage.

use std::fs::File;
use std::io::{BufReader, BufWriter, IsTerminal, Read};
use std::path::{Path, PathBuf};

use clap::Subcommand;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value as Json, json};
use worldline_kernel::lineage::bundle::{self, BundleHeader, Progress};
use worldline_kernel::lineage::inspect::{inspect_open, inspect_world};
use worldline_kernel::lineage::verify::{
    Place, Verifier, VerifyReport, verify_store, verify_world,
};
use worldline_kernel::{CreateOptions, KernelError, World};

use crate::failure::Failure;
use crate::held::{Access, in_use_or};
use crate::output::outln;
use crate::world_cmd::{ingress_now, kernel, new_seed};

/// Commands on a world's identity and lineage.
#[derive(Subcommand)]
pub enum LineageCommand {
    /// Check a world or bundle end to end: the record hash chain from genesis, every
    /// checkpoint's link and signature, every receipt's signature, every signed approval, every
    /// CAS object against its hash, and the DID.
    ///
    /// Example: world verify /tmp/counter --did did:key:z6Mk…
    Verify {
        /// A world directory or a bundle file.
        target: PathBuf,
        /// The DID the world must have.
        #[arg(long)]
        did: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Describe a world or bundle: DID, height, head, manifest, checkpoints, parent, sizes.
    ///
    /// Example: world inspect /tmp/counter
    Inspect {
        /// A world directory or a bundle file.
        target: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Fork a world: a new world with its own DID, starting from the parent's states at --at
    /// (default: the head); its genesis names the parent. Open intents and plan instances stay
    /// with the parent.
    ///
    /// Example: world fork /tmp/counter /tmp/counter-b --at 120
    Fork {
        /// The parent world.
        dir: PathBuf,
        /// Where to create the fork.
        new_dir: PathBuf,
        /// Fork after this seq (it must end an input's records).
        #[arg(long)]
        at: Option<u64>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Write a world to one bundle file (checkpointed at its head first when this host holds
    /// the key). The key goes in only with --with-key.
    ///
    /// Example: world export /tmp/counter counter.bundle
    Export {
        /// The world.
        dir: PathBuf,
        /// The bundle file to write (must not exist).
        file: PathBuf,
        /// Include the world's private key, so the importer can sign checkpoints.
        #[arg(long)]
        with_key: bool,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Create a world from a bundle: everything is verified before anything is written; the
    /// world continues with the same DID.
    ///
    /// Example: world import counter.bundle /tmp/counter-b
    Import {
        /// The bundle file.
        file: PathBuf,
        /// Where to create the world.
        dir: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

impl LineageCommand {
    /// Prepares the command to run inside the `world run` that holds its world: paths made
    /// absolute against the client's `cwd`. False for a command that never goes there.
    pub(crate) fn for_socket(&mut self, cwd: &Path) -> bool {
        use crate::held::absolute;
        match self {
            LineageCommand::Verify { target, .. } | LineageCommand::Inspect { target, .. } => {
                absolute(target, cwd);
            }
            LineageCommand::Fork { dir, new_dir, .. } => {
                absolute(dir, cwd);
                absolute(new_dir, cwd);
            }
            LineageCommand::Export { dir, file, .. } => {
                absolute(dir, cwd);
                absolute(file, cwd);
            }
            LineageCommand::Import { .. } => return false,
        }
        true
    }
}

/// Runs a lineage command.
pub fn run(command: LineageCommand, access: &mut Access) -> Result<(), Failure> {
    match command {
        LineageCommand::Verify { target, did, json } => {
            verify(access, &target, did.as_deref(), json)
        }
        LineageCommand::Inspect { target, json } => inspect(access, &target, json),
        LineageCommand::Fork {
            dir,
            new_dir,
            at,
            json,
        } => fork(access, &dir, &new_dir, at, json),
        LineageCommand::Export {
            dir,
            file,
            with_key,
            json,
        } => export(access, &dir, &file, with_key, json),
        LineageCommand::Import { file, dir, json } => import(&file, &dir, json),
    }
}

/// A progress bar on a terminal; hidden otherwise (pipes, tests, CI logs).
fn progress_bar(what: &'static str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} records {binary_bytes}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what);
    bar
}

fn on_progress(bar: &ProgressBar) -> impl FnMut(Progress) + '_ {
    move |p| {
        bar.set_length(p.records_total);
        bar.set_position(p.records);
        if p.pass == 2 {
            bar.set_message("writing");
        }
    }
}

fn open_bundle(file: &Path) -> Result<Box<dyn Read>, KernelError> {
    let handle = File::open(file).map_err(|e| KernelError::io(file, e))?;
    Ok(Box::new(BufReader::with_capacity(1 << 20, handle)))
}

/// Errors of a bundle file, naming it.
fn bundle_error(file: &Path) -> impl Fn(KernelError) -> Failure + '_ {
    move |error| match error {
        error @ (KernelError::Io { .. } | KernelError::StoreFile { .. }) => {
            Failure::message(error.to_string())
        }
        other => Failure::message(format!("{}: {other}", file.display())),
    }
}

fn verify(
    access: &mut Access,
    target: &Path,
    did: Option<&str>,
    as_json: bool,
) -> Result<(), Failure> {
    let bar = progress_bar("verifying");
    let result = if target.is_file() {
        let mut input = open_bundle(target).map_err(bundle_error(target))?;
        let mut progress = on_progress(&bar);
        bundle::verify_bundle(&mut input, did, &mut progress).map(|report| report.verify)
    } else if let Access::Held(_) = access {
        let world = access.open(target)?;
        verify_store(world.store(), Verifier::new(did), &mut |_| ())
    } else {
        verify_world(target, did, &mut |records| bar.set_position(records))
    };
    bar.finish_and_clear();
    match result {
        Ok(report) => {
            print_verified(target, &report, as_json);
            Ok(())
        }
        Err(KernelError::Unverified { place, reason }) => {
            let seq = match place {
                Place::Record(seq) => Some(seq),
                _ => None,
            };
            if as_json {
                outln!(
                    "{}",
                    json!({"ok": false, "target": target.display().to_string(), "at": place.to_string(), "seq": seq, "reason": reason})
                );
                return Err(Failure::Reported);
            }
            Err(Failure::message(format!(
                "{}: verify failed at {place}: {reason}",
                target.display()
            )))
        }
        Err(other) if target.is_file() => Err(bundle_error(target)(other)),
        Err(other) => Err(in_use_or(target)(other)),
    }
}

fn print_verified(target: &Path, report: &VerifyReport, as_json: bool) {
    let checkpoint = report
        .last_checkpoint
        .map(|(height, hash)| json!({"height": height, "hash": hash.to_string()}));
    if as_json {
        outln!(
            "{}",
            json!({"ok": true, "target": target.display().to_string(), "did": report.did,
                "records": report.records, "head": {"seq": report.head.seq, "hash": report.head.hash.to_string()},
                "checkpoints": report.checkpoints, "last_checkpoint": checkpoint,
                "receipts": report.receipts, "approvals": report.approvals, "objects": report.objects,
                "manifest_hash": report.manifest_hash.to_string(), "parent": report.parent.as_ref().map(parent_json)})
        );
        return;
    }
    outln!("verify ok: {}", target.display());
    outln!("did          {}", report.did);
    outln!(
        "records      {} (head seq {} {})",
        report.records,
        report.head.seq,
        report.head.hash
    );
    match report.last_checkpoint {
        Some((height, hash)) => outln!(
            "checkpoints  {} signed (last covers seq {height}, {hash})",
            report.checkpoints
        ),
        None => outln!("checkpoints  none"),
    }
    outln!("receipts     {} signatures checked", report.receipts);
    outln!("approvals    {} signatures checked", report.approvals);
    outln!("objects      {} hashes checked", report.objects);
    if let Some(parent) = &report.parent {
        outln!(
            "parent       {} at seq {} {}",
            parent.did,
            parent.height,
            parent.head_hash
        );
    }
}

fn parent_json(parent: &worldline_kernel::record::ParentWorld) -> Json {
    json!({"did": parent.did, "height": parent.height, "head_hash": parent.head_hash.to_string(), "state_hash": parent.state_hash.to_string()})
}

fn inspect(access: &mut Access, target: &Path, as_json: bool) -> Result<(), Failure> {
    if target.is_file() {
        return inspect_bundle(target, as_json);
    }
    let info = match access {
        Access::Disk => inspect_world(target).map_err(in_use_or(target))?,
        Access::Held(_) => inspect_open(&*access.open(target)?).map_err(kernel(target))?,
    };
    let checkpoints: Vec<Json> = info
        .checkpoints
        .iter()
        .map(|c| json!({"seq": c.seq, "height": c.height, "hash": c.hash.to_string()}))
        .collect();
    if as_json {
        outln!(
            "{}",
            json!({"world": target.display().to_string(), "did": info.did, "height": info.head.seq,
                "head_hash": info.head.hash.to_string(), "manifest_hash": info.manifest_hash.to_string(),
                "checkpoints": checkpoints, "parent": info.parent.as_ref().map(parent_json),
                "has_key": info.has_key, "store_bytes": info.store_bytes,
                "snapshot_every": info.config.snapshot_every})
        );
        return Ok(());
    }
    outln!("world        {}", target.display());
    outln!("did          {}", info.did);
    outln!("height       {} (head {})", info.head.seq, info.head.hash);
    outln!("manifest     {}", info.manifest_hash);
    match info.checkpoints.last() {
        Some(last) => outln!(
            "checkpoints  {} (last: seq {} covering seq {}, {})",
            info.checkpoints.len(),
            last.seq,
            last.height,
            last.hash
        ),
        None => outln!("checkpoints  none"),
    }
    match &info.parent {
        Some(p) => outln!("parent       {} at seq {} {}", p.did, p.height, p.head_hash),
        None => outln!("parent       none"),
    }
    let key = if info.has_key {
        "held (this host signs checkpoints)"
    } else {
        "not held (this host cannot sign checkpoints)"
    };
    outln!("key          {key}");
    outln!("store        {} bytes", info.store_bytes);
    Ok(())
}

fn inspect_bundle(file: &Path, as_json: bool) -> Result<(), Failure> {
    let size_bytes = std::fs::metadata(file)
        .map_err(|e| Failure::message(format!("{}: {e}", file.display())))?
        .len();
    let mut input = open_bundle(file).map_err(bundle_error(file))?;
    let header: BundleHeader = bundle::read_header(&mut input).map_err(bundle_error(file))?;
    let checkpoint = header
        .last_checkpoint
        .map(|(height, hash)| json!({"height": height, "hash": hash.to_string()}));
    if as_json {
        outln!(
            "{}",
            json!({"bundle": file.display().to_string(), "verified": false, "did": header.did,
                "height": header.height, "head_hash": header.head_hash.to_string(),
                "manifest_hash": header.manifest_hash.to_string(), "last_checkpoint": checkpoint,
                "parent": header.parent.as_ref().map(parent_json), "with_key": header.with_key,
                "size_bytes": size_bytes})
        );
        return Ok(());
    }
    outln!(
        "bundle       {} (header only; `world verify` checks it)",
        file.display()
    );
    outln!("did          {}", header.did);
    outln!("height       {} (head {})", header.height, header.head_hash);
    outln!("manifest     {}", header.manifest_hash);
    match header.last_checkpoint {
        Some((height, hash)) => outln!("checkpoint   covers seq {height}, {hash}"),
        None => outln!("checkpoint   none"),
    }
    match &header.parent {
        Some(p) => outln!("parent       {} at seq {} {}", p.did, p.height, p.head_hash),
        None => outln!("parent       none"),
    }
    let key = if header.with_key {
        "included"
    } else {
        "not included"
    };
    outln!("key          {key}");
    outln!("size         {size_bytes} bytes");
    Ok(())
}

fn fork(
    access: &mut Access,
    dir: &Path,
    new_dir: &Path,
    at: Option<u64>,
    as_json: bool,
) -> Result<(), Failure> {
    let parent = access.open(dir)?;
    let options = CreateOptions {
        config: Default::default(),
        seed: new_seed()?,
        ingress: ingress_now()?,
    };
    let (child, report) = parent
        .fork(new_dir, at, &options)
        .map_err(kernel(new_dir))?;
    if as_json {
        outln!(
            "{}",
            json!({"dir": new_dir.display().to_string(), "did": child.did(), "parent": parent_json(&report.parent),
                "states": report.states, "open_intents_left": report.open_intents_left,
                "plan_instances_left": report.plan_instances_left})
        );
        return Ok(());
    }
    outln!(
        "forked {} at seq {} into {}",
        dir.display(),
        report.parent.height,
        new_dir.display()
    );
    outln!("did      {}", child.did());
    outln!(
        "parent   {} at seq {} {}",
        report.parent.did,
        report.parent.height,
        report.parent.head_hash
    );
    outln!("states   {} carried over", report.states);
    if report.open_intents_left + report.plan_instances_left > 0 {
        outln!(
            "left     {} open intents and {} plan instances stay with the parent",
            report.open_intents_left,
            report.plan_instances_left
        );
    }
    Ok(())
}

fn export(
    access: &mut Access,
    dir: &Path,
    file: &Path,
    with_key: bool,
    as_json: bool,
) -> Result<(), Failure> {
    let mut world = access.open(dir)?;
    if file.exists() {
        return Err(Failure::message(format!(
            "{}: already exists",
            file.display()
        )));
    }
    // Written beside the target under a name of its own, and linked into place only once
    // complete and durable: a crash never leaves a partial bundle under the name asked for.
    let partial = partial_path(file);
    let handle = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&partial)
        .map_err(|e| Failure::message(format!("{}: {e}", partial.display())))?;
    let mut out = BufWriter::with_capacity(1 << 20, handle);
    let bar = progress_bar("exporting");
    let result = bundle::export(&mut world, &mut out, with_key, &mut on_progress(&bar));
    bar.finish_and_clear();
    let report = match result.and_then(|report| {
        out.into_inner()
            .map_err(|e| KernelError::io(&partial, e.into_error()))?
            .sync_all()
            .map_err(|e| KernelError::io(&partial, e))?;
        Ok(report)
    }) {
        Ok(report) => report,
        Err(error) => {
            // A half-written bundle is worthless and misleading: remove it.
            let _ = std::fs::remove_file(&partial);
            return Err(match error {
                // The bundle writer knows no path: name the file it was writing.
                KernelError::Io { path, source } if path == "bundle" => {
                    Failure::message(format!("{}: {source}", file.display()))
                }
                other => kernel(dir)(other),
            });
        }
    };
    // A hard link, unlike a rename, never replaces a file that appeared meanwhile.
    let linked = std::fs::hard_link(&partial, file);
    let _ = std::fs::remove_file(&partial);
    linked.map_err(|e| Failure::message(format!("{}: {e}", file.display())))?;
    sync_parent(file)?;
    if as_json {
        outln!(
            "{}",
            json!({"file": file.display().to_string(), "did": report.header.did, "records": report.records,
                "objects": report.objects, "bytes": report.bytes, "with_key": with_key,
                "head": {"seq": report.header.height, "hash": report.header.head_hash.to_string()},
                "checkpoint_seq": report.checkpoint_seq})
        );
        return Ok(());
    }
    outln!(
        "exported {} to {}: {} records, {} objects, {} bytes",
        dir.display(),
        file.display(),
        report.records,
        report.objects,
        report.bytes
    );
    outln!("did      {}", report.header.did);
    outln!(
        "head     seq {} {}",
        report.header.height,
        report.header.head_hash
    );
    match report.checkpoint_seq {
        Some(seq) => outln!("signed   checkpoint at seq {seq} covers the whole journal"),
        None if world.can_sign() => outln!("signed   the head was already a checkpoint"),
        None => outln!("signed   no: this host does not hold the world key"),
    }
    let key = if with_key { "included" } else { "not included" };
    outln!("key      {key}");
    Ok(())
}

fn import(file: &Path, dir: &Path, as_json: bool) -> Result<(), Failure> {
    let bar = progress_bar("verifying");
    let result = bundle::import(&mut || open_bundle(file), dir, &mut on_progress(&bar));
    bar.finish_and_clear();
    let (report, world) = result.map_err(bundle_error(file))?;
    if as_json {
        outln!(
            "{}",
            json!({"dir": dir.display().to_string(), "did": world.did(), "records": report.verify.records,
                "objects": report.verify.objects, "checkpoints": report.verify.checkpoints,
                "head": {"seq": world.head().seq, "hash": world.head().hash.to_string()},
                "can_sign": world.can_sign()})
        );
        return Ok(());
    }
    outln!(
        "imported {} into {}: {} records, {} objects, {} checkpoints, all verified",
        file.display(),
        dir.display(),
        report.verify.records,
        report.verify.objects,
        report.verify.checkpoints
    );
    outln!("did      {}", world.did());
    outln!("head     seq {} {}", world.head().seq, world.head().hash);
    let key = if world.can_sign() {
        "travelled: this host signs checkpoints"
    } else {
        "did not travel: this host cannot sign checkpoints"
    };
    outln!("key      {key}");
    Ok(())
}

/// The Merkle path of one state to the state root, with the checkpoint that signs that root
/// when the head is a checkpoint (`world state --proof`).
pub fn state_proof(
    world: &World,
    reducer: &worldline_air::Name,
    key: &[u8],
) -> Result<Json, Failure> {
    let states = world.states();
    let state = states.get(reducer, key).ok_or_else(|| {
        Failure::message(format!(
            "{reducer} has no state under that key: nothing to prove"
        ))
    })?;
    let steps = states
        .proof(reducer, key)
        .ok_or_else(|| Failure::message(format!("{reducer}: no such state")))?;
    let root = states.root();
    let path: Vec<Json> = steps
        .iter()
        .map(|step| {
            json!({"sibling": step.sibling.to_string(), "side": if step.sibling_is_left { "left" } else { "right" }})
        })
        .collect();
    let head = world.head();
    let checkpoint = match world.last_checkpoint() {
        Some((height, hash)) if height + 1 == head.seq => {
            Some(json!({"seq": head.seq, "height": height, "hash": hash.to_string()}))
        }
        _ => None,
    };
    Ok(json!({
        "reducer": reducer.to_string(),
        "key_hex": worldline_air::cbor::to_hex(key),
        "state_hash": worldline_air::Hash::of(state).to_string(),
        "leaf": worldline_kernel::world::leaf_hash(reducer, key, state).to_string(),
        "path": path,
        "state_root": root.to_string(),
        "signed_by_checkpoint": checkpoint,
    }))
}

/// Where an export writes before the bundle is complete: `FILE.partial.PID`.
fn partial_path(file: &Path) -> std::path::PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".partial.{}", std::process::id()));
    file.with_file_name(name)
}

/// Makes a new directory entry durable.
fn sync_parent(file: &Path) -> Result<(), Failure> {
    let parent = match file.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    std::fs::File::open(parent)
        .and_then(|dir| dir.sync_all())
        .map_err(|e| Failure::message(format!("{}: {e}", parent.display())))
}
