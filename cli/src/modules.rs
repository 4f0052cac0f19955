//! Module binaries for `world new`: given with `--module NAME=FILE`, or built from `modules/`
//! for the example worlds, whose `world.json` names the cargo package of each module.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use worldline_air::Name;

use crate::failure::Failure;

/// The wasm target reducers are built for.
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// Reads a module binary; `.wat` files are compiled to wasm first.
pub fn read_module(path: &Path) -> Result<Vec<u8>, Failure> {
    let bytes =
        std::fs::read(path).map_err(|e| Failure::message(format!("{}: {e}", path.display())))?;
    if path.extension().is_some_and(|e| e == "wat") {
        return wat::parse_bytes(&bytes)
            .map(|b| b.into_owned())
            .map_err(|e| Failure::message(format!("{}: {e}", path.display())));
    }
    Ok(bytes)
}

/// Parses `NAME=FILE` options into binaries.
pub fn module_options(specs: &[String]) -> Result<BTreeMap<Name, Vec<u8>>, Failure> {
    let mut out = BTreeMap::new();
    for spec in specs {
        let (name, file) = spec
            .split_once('=')
            .ok_or_else(|| Failure::message(format!("--module {spec}: expected NAME=FILE.wasm")))?;
        let name =
            Name::parse(name).map_err(|e| Failure::message(format!("--module {spec}: {e}")))?;
        out.insert(name, read_module(Path::new(file))?);
    }
    Ok(out)
}

/// `world.json` next to a world's `air/` folder: `{"modules": {NAME: {"package": PKG}}}`.
pub fn world_json(air_dir: &Path) -> Option<PathBuf> {
    [
        air_dir.join("world.json"),
        air_dir.join("..").join("world.json"),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

/// The `modules/` workspace that builds a world's packages: searched upward from `start`.
pub fn modules_workspace(start: &Path) -> Option<PathBuf> {
    let start = start.canonicalize().ok()?;
    start
        .ancestors()
        .map(|dir| dir.join("modules"))
        .find(|dir| dir.join("Cargo.toml").is_file())
}

/// Builds `package` in the modules workspace (release, wasm32) and returns its wasm.
pub fn build_package(workspace: &Path, package: &str) -> Result<Vec<u8>, Failure> {
    let target_dir = workspace.join("target");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // Run inside the workspace: cargo reads `.cargo/config.toml` (the reducers' link flags)
    // from the working directory, not from --manifest-path.
    let output = Command::new(cargo)
        .current_dir(workspace)
        .args([
            "build",
            "--quiet",
            "--release",
            "--target",
            WASM_TARGET,
            "--package",
            package,
        ])
        .arg("--manifest-path")
        .arg(workspace.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .map_err(|e| {
            Failure::message(format!(
                "building module package {package}: cannot run cargo: {e}"
            ))
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let hint = if stderr.contains("target may not be installed") {
            format!(" (run `rustup target add {WASM_TARGET}`)")
        } else {
            String::new()
        };
        let first = stderr
            .lines()
            .find(|l| l.contains("error"))
            .unwrap_or("cargo failed");
        return Err(Failure::message(format!(
            "building module package {package}: {first}{hint}"
        )));
    }
    let wasm = target_dir
        .join(WASM_TARGET)
        .join("release")
        .join(format!("{}.wasm", package.replace('-', "_")));
    std::fs::read(&wasm).map_err(|e| Failure::message(format!("{}: {e}", wasm.display())))
}

/// Binaries for the modules `world.json` lists and `given` does not already have.
pub fn build_world_modules(
    air_dir: &Path,
    given: &mut BTreeMap<Name, Vec<u8>>,
) -> Result<(), Failure> {
    let Some(manifest) = world_json(air_dir) else {
        return Ok(());
    };
    let text = std::fs::read_to_string(&manifest)
        .map_err(|e| Failure::message(format!("{}: {e}", manifest.display())))?;
    let json = worldline_air::json::parse_strict(&text)
        .map_err(|e| Failure::message(format!("{}: {e}", manifest.display())))?;
    let Some(modules) = json.get("modules").and_then(|m| m.as_object()) else {
        return Err(Failure::message(format!(
            "{}: $.modules: expected an object of module name → {{\"package\": …}}",
            manifest.display()
        )));
    };
    for (name, spec) in modules {
        let name = Name::parse(name)
            .map_err(|e| Failure::message(format!("{}: $.modules: {e}", manifest.display())))?;
        if given.contains_key(&name) {
            continue;
        }
        let package = spec
            .get("package")
            .and_then(|p| p.as_str())
            .ok_or_else(|| {
                Failure::message(format!(
                    "{}: $.modules[\"{name}\"].package: expected a cargo package name",
                    manifest.display()
                ))
            })?;
        let workspace = modules_workspace(air_dir).ok_or_else(|| {
            Failure::message(format!(
                "{}: no modules/ workspace above it to build `{package}` in",
                manifest.display()
            ))
        })?;
        given.insert(name, build_package(&workspace, package)?);
    }
    Ok(())
}
