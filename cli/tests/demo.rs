//! `world demo`: the guided tour runs from a fresh directory, every step holds, its output is
//! pinned (with what varies redacted), and every world it leaves behind replays and verifies.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{ok, redacted_with, world};

#[test]
fn the_tour_runs_every_step_and_says_what_to_type() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("tour");
    let (code, stdout, stderr) = world(&["demo", "--dir", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let variable = [
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
        (r"\d+ bytes", "[N] bytes"),
        (r"held in [0-9.]+ s", "held in [T] s"),
    ];
    redacted_with(&dir, &variable, || insta::assert_snapshot!("tour", stdout));
    for world_dir in ["summarizer", "summarizer-copy", "summarizer-fork"] {
        let path = dir.join(world_dir);
        let path = path.to_str().unwrap();
        assert!(ok(&["replay", path]).starts_with("replay ok"));
        ok(&["verify", path]);
    }
    let dot = std::fs::read_to_string(dir.join("why.dot")).unwrap();
    assert!(dot.starts_with("digraph"));
}
