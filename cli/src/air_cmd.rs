//! `world air check | hash | schema`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde_json::{Value as Json, json};
use worldline_air::cbor::json_to_cbor;
use worldline_air::json::parse_strict;
use worldline_air::load::load_sources;
use worldline_air::nodes::{DefKind, Node};
use worldline_air::plane::BuildOptions;
use worldline_air::{AirErrors, Hash, Name};

use crate::failure::Failure;
use crate::files::{air_dir, read_air_dir, read_text};

/// `world air …`
#[derive(Subcommand)]
pub enum AirCommand {
    /// Load and validate a world's AIR; print the manifest hash and counts, or every error.
    ///
    /// Example: world air check worlds/counter
    Check {
        /// A world directory (or its `air/` folder) holding `*.air.json` files.
        dir: PathBuf,
        /// Demand every manifest reference's hash and every module's wasm_hash be written.
        #[arg(long)]
        require_hashes: bool,
        /// A module binary for a module without `wasm_hash`, as NAME=FILE.wasm (repeatable).
        #[arg(long = "module", value_name = "NAME=FILE.wasm")]
        modules: Vec<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Print the canonical hash of an AIR node (or array of nodes) or of any JSON value.
    ///
    /// Example: world air hash worlds/counter/air/schemas.air.json
    Hash {
        /// A JSON file.
        file: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Print (or write) the JSON Schemas of every node kind and of the patch document.
    ///
    /// Example: world air schema --out spec/schemas
    Schema {
        /// Write one `<kind>.schema.json` file per schema into this directory.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Runs an `air` subcommand.
pub fn run(command: AirCommand) -> Result<(), Failure> {
    match command {
        AirCommand::Check {
            dir,
            require_hashes,
            modules,
            json,
        } => check(&dir, require_hashes, &modules, json),
        AirCommand::Hash { file, json } => hash(&file, json),
        AirCommand::Schema { out } => schema(out.as_deref()),
    }
}

/// Parses `NAME=FILE.wasm` options into module hashes.
pub fn module_hashes(modules: &[String]) -> Result<BTreeMap<Name, Hash>, Failure> {
    let mut out = BTreeMap::new();
    for spec in modules {
        let (name, file) = spec
            .split_once('=')
            .ok_or_else(|| Failure::message(format!("--module {spec}: expected NAME=FILE.wasm")))?;
        let name =
            Name::parse(name).map_err(|e| Failure::message(format!("--module {spec}: {e}")))?;
        let bytes = std::fs::read(file)
            .map_err(|e| Failure::message(format!("--module {spec}: {file}: {e}")))?;
        out.insert(name, Hash::of(&bytes));
    }
    Ok(out)
}

fn print_errors(errors: &AirErrors, as_json: bool) {
    if as_json {
        println!("{}", json!({"ok": false, "errors": errors.0}));
    } else {
        for error in &errors.0 {
            eprintln!("{error}");
        }
        let count = errors.0.len();
        eprintln!("{count} error{}", if count == 1 { "" } else { "s" });
    }
}

fn check(
    dir: &Path,
    require_hashes: bool,
    modules: &[String],
    as_json: bool,
) -> Result<(), Failure> {
    let air = air_dir(dir)?;
    let sources = read_air_dir(&air)?;
    let options = BuildOptions {
        require_hashes,
        module_hashes: module_hashes(modules)?,
    };
    let plane = match load_sources(&sources, &options) {
        Ok(plane) => plane,
        Err(errors) => {
            print_errors(&errors, as_json);
            return Err(Failure::Reported);
        }
    };
    let counts = plane.counts();
    let manifest = plane.manifest();
    let count = |kind| counts.get(&kind).copied().unwrap_or(0);
    let unbound: Vec<String> = plane
        .unbound_modules()
        .iter()
        .map(|n| n.to_string())
        .collect();
    if as_json {
        let by_kind: BTreeMap<&str, usize> = DefKind::ALL
            .iter()
            .filter(|k| **k != DefKind::Manifest)
            .map(|k| (k.section(), count(*k)))
            .collect();
        println!(
            "{}",
            json!({
                "ok": true,
                "manifest_hash": plane.manifest_hash().to_string(),
                "defs": by_kind,
                "routes": manifest.routing.events.len() + manifest.routing.inboxes.len(),
                "triggers": manifest.triggers.len(),
                "grants": manifest.defaults.cap_grants.len(),
                "modules_without_binary": unbound,
            })
        );
        return Ok(());
    }
    println!("ok: {}", air.display());
    println!("manifest {}", plane.manifest_hash());
    let sections: Vec<String> = DefKind::ALL
        .iter()
        .filter(|k| **k != DefKind::Manifest)
        .map(|k| format!("{} {}", k.section(), count(*k)))
        .collect();
    println!("{}", sections.join(", "));
    println!(
        "routes {}, triggers {}, grants {}",
        manifest.routing.events.len() + manifest.routing.inboxes.len(),
        manifest.triggers.len(),
        manifest.defaults.cap_grants.len()
    );
    if !unbound.is_empty() {
        println!(
            "modules without a binary (no wasm_hash yet): {}",
            unbound.join(", ")
        );
    }
    Ok(())
}

fn hash(file: &Path, as_json: bool) -> Result<(), Failure> {
    let text = read_text(file)?;
    let json =
        parse_strict(&text).map_err(|e| Failure::message(format!("{}: {e}", file.display())))?;
    let located = |e: worldline_air::AirError| {
        Failure::message(e.in_file(file.display().to_string()).to_string())
    };
    let items: Vec<(String, Json)> = match &json {
        Json::Array(items)
            if items.iter().all(|i| i.get("$kind").is_some()) && !items.is_empty() =>
        {
            items
                .iter()
                .enumerate()
                .map(|(i, item)| (format!("$[{i}]"), item.clone()))
                .collect()
        }
        _ => vec![("$".to_owned(), json.clone())],
    };
    let mut rows = Vec::new();
    for (path, item) in items {
        let (label, hash) = if item.get("$kind").is_some() {
            let node = Node::from_json(&item, &path).map_err(located)?;
            let label = match node.name() {
                Some(name) => format!("{} {name}", node.kind()),
                None => node.kind().to_string(),
            };
            (label, node.hash().map_err(located)?)
        } else {
            let cbor = json_to_cbor(&item)
                .map_err(|e| Failure::message(format!("{}: {e}", file.display())))?;
            let bytes = cbor
                .to_canonical()
                .map_err(|e| Failure::message(format!("{}: {e}", file.display())))?;
            ("value".to_owned(), Hash::of(&bytes))
        };
        rows.push((label, hash));
    }
    if as_json {
        let out: Vec<Json> = rows
            .iter()
            .map(|(label, hash)| json!({"what": label, "hash": hash.to_string()}))
            .collect();
        println!("{}", Json::Array(out));
    } else {
        for (label, hash) in rows {
            println!("{hash}  {label}");
        }
    }
    Ok(())
}

fn schema(out: Option<&Path>) -> Result<(), Failure> {
    let schemas = worldline_air::schema_gen::all_schemas();
    match out {
        None => {
            let all: serde_json::Map<String, Json> = schemas.into_iter().collect();
            println!("{}", serde_json::to_string_pretty(&Json::Object(all))?);
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| Failure::message(format!("{}: {e}", dir.display())))?;
            for (file, schema) in schemas {
                let path = dir.join(&file);
                let text = format!("{}\n", serde_json::to_string_pretty(&schema)?);
                std::fs::write(&path, text)
                    .map_err(|e| Failure::message(format!("{}: {e}", path.display())))?;
                println!("wrote {}", path.display());
            }
        }
    }
    Ok(())
}
