//! The README cannot drift from the binary: every command of its "Five minutes by hand" section
//! runs here as written (in a scratch folder instead of `/tmp/wl`, against a local file server
//! instead of `python3 -m http.server 8081`), every `world SUBCOMMAND` it mentions anywhere
//! exists, and every `cargo run -p PACKAGE` it gives names a package cargo can pick the binary
//! of (the tour's command itself, a release build, is run by hand and by `world demo`'s test).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::{ok, repo, serve_files, world};

const WALK_HEADING: &str = "## Five minutes by hand";
const README_ROOT: &str = "/tmp/wl";
const README_SERVER: &str = "127.0.0.1:8081";

fn readme() -> String {
    std::fs::read_to_string(repo().join("README.md")).unwrap()
}

/// The lines of every ```sh block of the walk-through section.
fn walk_lines(text: &str) -> Vec<String> {
    let start = text
        .find(WALK_HEADING)
        .expect("the README has its walk-through");
    let section = &text[start + WALK_HEADING.len()..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let mut lines = Vec::new();
    let mut in_block = false;
    for line in section.lines() {
        match (in_block, line.trim()) {
            (false, "```sh") => in_block = true,
            (true, "```") => in_block = false,
            (true, command) if !command.is_empty() => lines.push(command.to_owned()),
            _ => {}
        }
    }
    lines
}

/// Runs one README line in `sh`, with this build's `world` first on the path.
fn run_line(line: &str) -> (i32, String, String) {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_world")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = Command::new("sh")
        .args(["-c", line])
        .env("PATH", path)
        .current_dir(repo())
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn every_walk_through_command_runs_as_written() {
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path().display().to_string();
    let server = serve_files(scratch.path().join("www"));
    let lines = walk_lines(&readme());
    assert!(
        lines.len() >= 20,
        "the walk-through lost its commands: {lines:?}"
    );
    let mut outputs = Vec::new();
    for line in &lines {
        // The build line is what this test runs on; the file server is started above.
        if line.starts_with("cargo ") || line.starts_with("python3 -m http.server") {
            continue;
        }
        let line = line
            .replace(README_ROOT, &root)
            .replace(README_SERVER, &server);
        let (code, stdout, stderr) = run_line(&line);
        assert_eq!(code, 0, "README line failed: {line}\n{stdout}\n{stderr}");
        outputs.push((line, stdout));
    }
    let output_of = |start: &str| {
        outputs
            .iter()
            .find(|(line, _)| line.starts_with(&start.replace(README_ROOT, &root)))
            .map(|(_, out)| out.clone())
            .unwrap()
    };
    // What the prose around the blocks says they print.
    let counter = output_of("world state /tmp/wl/counter");
    let counter: serde_json::Value = serde_json::from_str(&counter).unwrap();
    assert_eq!(
        counter,
        serde_json::json!({"pc": {"$tag": "Done"}, "remaining": 0})
    );
    let why = output_of("world why /tmp/wl/fetch 11");
    assert!(
        why.starts_with("why seq #11") && why.contains("receipt ok"),
        "{why}"
    );
    assert!(why.contains("external input"), "{why}");
    for world_dir in ["counter", "fetch", "fetch-copy", "fetch-fork"] {
        let dir = scratch.path().join(world_dir);
        assert!(ok(&["replay", dir.to_str().unwrap()]).starts_with("replay ok"));
    }
}

#[test]
fn every_command_the_readme_names_exists() {
    let text = readme();
    let mut named = BTreeSet::new();
    for (index, _) in text.match_indices("world ") {
        let before = text[..index].chars().last();
        if !matches!(before, Some('`' | '$' | '\n' | ' ' | '(')) {
            continue;
        }
        let word: String = text[index + "world ".len()..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase())
            .collect();
        if !word.is_empty() {
            named.insert(word);
        }
    }
    // Prose uses "world" as a noun too; only words that follow `world ` in code are commands.
    let code_spans: String = text
        .split('`')
        .skip(1)
        .step_by(2)
        .collect::<Vec<_>>()
        .join("\n");
    let mut unknown = Vec::new();
    for word in &named {
        if !code_spans.contains(&format!("world {word}")) {
            continue;
        }
        let (code, _, _) = world(&[word, "--help"]);
        if code != 0 {
            unknown.push(word.clone());
        }
    }
    assert!(
        unknown.is_empty(),
        "the README names commands that do not exist: {unknown:?}"
    );
    assert!(
        named.contains("why") && named.contains("propose"),
        "{named:?}"
    );
}

/// Every `cargo run … -p PACKAGE …` line of the README must leave cargo no choice to make: the
/// package has one binary or a `default-run` (a second binary once broke the first command).
#[test]
fn every_cargo_run_in_the_readme_picks_a_binary() {
    let output = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let text = readme();
    let mut checked = 0;
    for line in text.lines().filter(|l| l.contains("cargo run")) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(at) = words.iter().position(|w| *w == "-p") else {
            continue;
        };
        let package = words[at + 1];
        if words.contains(&"--bin") {
            continue;
        }
        let package = metadata["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == package)
            .unwrap_or_else(|| panic!("README: `{line}`: no package {package}"));
        let binaries = package["targets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["kind"].as_array().unwrap().iter().any(|k| k == "bin"))
            .count();
        assert!(
            binaries == 1 || package["default_run"].is_string(),
            "README: `{line}`: {} has {binaries} binaries and no default-run",
            package["name"]
        );
        checked += 1;
    }
    assert!(checked > 0, "the README has no `cargo run -p` line");
}
