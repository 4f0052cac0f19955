//! What the `world` binary's tests share: the repository root and running the binary.

// Shared by several test binaries, each of which uses only part of it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// The repository root (the binary runs there, so `worlds/…` paths resolve).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `world ARGS` with `env` added to its environment; returns (exit code, stdout, stderr).
pub fn world_with_env(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_world"))
        .args(args)
        .envs(env.iter().copied())
        .current_dir(repo())
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

/// Runs `world ARGS`; returns (exit code, stdout, stderr).
pub fn world(args: &[&str]) -> (i32, String, String) {
    world_with_env(args, &[])
}
