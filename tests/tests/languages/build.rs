//! Building the counter reducer in every language, once per test binary: Rust with cargo (the
//! way `world new` builds the example worlds), C with clang and lld, AssemblyScript with asc,
//! and the two hand-written WAT files with the `wat` crate.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use worldline_air::Name;
use worldline_tests::skip::{missing_program, skip_or_fail};

/// The counter's module name in `worlds/counter`.
pub const COUNTER: &str = "demo/CounterSM@1";

/// One binary of the counter reducer.
pub struct Reducer {
    /// Which language (and calling form) it was written in.
    pub language: &'static str,
    /// The wasm binary.
    pub wasm: Vec<u8>,
}

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

static BUILT: OnceLock<Result<Vec<Reducer>, String>> = OnceLock::new();

/// Every counter binary, the Rust one first; `None` (after saying why `test` is skipped, or
/// failing under CI) when a toolchain is missing. A toolchain that is present but fails to
/// build is a test failure, never a skip.
pub fn reducers(test: &str) -> Option<&'static [Reducer]> {
    match BUILT.get_or_init(build_all) {
        Ok(reducers) => Some(reducers),
        Err(reason) => {
            skip_or_fail(test, reason);
            None
        }
    }
}

fn build_all() -> Result<Vec<Reducer>, String> {
    if let Some(program) = missing_program(&["clang", "wasm-ld"]) {
        return Err(format!(
            "`{program}` is not installed (apt-get install clang lld)"
        ));
    }
    if let Some(program) = missing_program(&["node", "npm"]) {
        return Err(format!(
            "`{program}` is not installed (AssemblyScript needs Node.js and npm)"
        ));
    }
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("languages");
    std::fs::create_dir_all(&out).unwrap();
    Ok(vec![
        Reducer {
            language: "rust",
            wasm: rust(),
        },
        Reducer {
            language: "c",
            wasm: c(&out),
        },
        Reducer {
            language: "assemblyscript",
            wasm: assemblyscript(&out),
        },
        Reducer {
            language: "wat (multi-value)",
            wasm: wat("counter.wat"),
        },
        Reducer {
            language: "wat (return slot)",
            wasm: wat("counter_retslot.wat"),
        },
    ])
}

/// Runs a build command; a failure shows its output.
fn run(command: &mut Command) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The SDK counter, built from `modules/` as `worlds/counter/world.json` says (the CLI's own
/// builder, so this is the binary `world new` would use).
fn rust() -> Vec<u8> {
    let mut binaries = BTreeMap::new();
    worldline_cli::modules::build_world_modules(&repo().join("worlds/counter/air"), &mut binaries)
        .unwrap();
    binaries.remove(&Name::parse(COUNTER).unwrap()).unwrap()
}

/// The `.c` files of a folder, sorted.
fn c_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "c"))
        .collect();
    files.sort();
    files
}

/// `modules/c`: the library (`src/*.c`) and the counter, with the flags of `wasm32.rsp` (the
/// Makefile uses the same file, so the two builds cannot drift apart).
fn c(out: &Path) -> Vec<u8> {
    let dir = repo().join("modules/c");
    let wasm = out.join("counter-c.wasm");
    run(Command::new("clang")
        .current_dir(&dir)
        .arg("@wasm32.rsp")
        .arg("-o")
        .arg(&wasm)
        .args(c_files(&dir.join("src")))
        .args(c_files(&dir.join("counter"))));
    std::fs::read(&wasm).unwrap()
}

/// `modules/assemblyscript`: `npm ci` when its `node_modules` is missing (the pinned compiler
/// from package-lock.json), then its `build` script with the output redirected here.
fn assemblyscript(out: &Path) -> Vec<u8> {
    let dir = repo().join("modules/assemblyscript");
    if !dir.join("node_modules/.bin/asc").exists() {
        run(Command::new("npm").current_dir(&dir).args([
            "ci",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ]));
    }
    let wasm = out.join("counter-assemblyscript.wasm");
    run(Command::new("npm")
        .current_dir(&dir)
        .args(["run", "--silent", "build", "--", "--outFile"])
        .arg(&wasm));
    std::fs::read(&wasm).unwrap()
}

/// A hand-written WAT counter of `modules/wat`.
fn wat(file: &str) -> Vec<u8> {
    wat::parse_file(repo().join("modules/wat").join(file)).unwrap()
}
