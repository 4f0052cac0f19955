//! The control socket: while `world run` holds a world, the other commands on it run inside
//! that process (through `.world/control.sock`) with the output, exit code and relative paths
//! they have from a shell; a socket left by a killed `world run` is harmless; every world is
//! replayed afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::api::{Server, get, post};
use common::{ok, world_in};
use serde_json::Value as Json;

/// `world ARGS` in `cwd`, which must succeed; its stdout.
fn ok_in(cwd: &Path, args: &[&str]) -> String {
    let (code, stdout, stderr) = world_in(cwd, args);
    assert_eq!(code, 0, "world {args:?}: {stderr}");
    stdout
}

/// A new world from `air` at `ROOT/w`: the temporary root, the world's path and its text.
fn new_world(air: &str) -> (tempfile::TempDir, std::path::PathBuf, String) {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("w");
    let dir_text = dir.display().to_string();
    ok(&["new", &dir_text, "--air", air]);
    (root, dir, dir_text)
}

fn socket(dir: &Path) -> std::path::PathBuf {
    dir.join(".world").join("control.sock")
}

#[test]
fn commands_run_inside_the_world_run_that_holds_the_world() {
    let (root, dir, dir_text) = new_world("worlds/counter");
    let server = Server::start(&dir_text, "127.0.0.1:0", &[]);
    assert!(socket(&dir).exists());

    // Relative paths are the client's: run from the world's parent, name files there.
    let cwd = root.path();
    std::fs::write(cwd.join("start.json"), r#"{"Start": {"target": 2}}"#).unwrap();
    let sent = ok_in(cwd, &["send", "w", "demo/CounterEvent@1", "@start.json"]);
    assert!(
        sent.contains("domain_event  demo/CounterEvent@1") && sent.contains("(external)"),
        "{sent}"
    );
    ok_in(
        cwd,
        &["send", "w", "demo/CounterEvent@1", r#"{"Tick": {}}"#],
    );
    // The running host's adapter settings apply, and the command says so.
    let (code, _, stderr) = world_in(
        cwd,
        &[
            "send",
            "w",
            "demo/CounterEvent@1",
            r#"{"Tick": {}}"#,
            "--http-map",
            "https://example.com=http://127.0.0.1:9",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("adapter settings apply"), "{stderr}");
    let state: Json =
        serde_json::from_str(&ok_in(cwd, &["state", "w", "demo/CounterSM@1", "--json"])).unwrap();
    assert_eq!(
        state["state"],
        serde_json::json!({"pc": {"$tag": "Done"}, "remaining": 0})
    );
    let log = ok_in(cwd, &["log", "w", "--json"]);
    assert!(log.lines().count() >= 8, "{log}");
    let why = ok_in(cwd, &["why", "w", "5"]);
    assert!(why.starts_with("why seq #5 backwards"), "{why}");
    assert!(ok_in(cwd, &["verify", "w"]).starts_with("verify ok"));
    assert!(ok_in(cwd, &["inspect", "w"]).contains("key          held"));
    assert!(ok_in(cwd, &["replay", "w"]).starts_with("replay ok"));
    // The bundle lands where the client asked, not in world run's directory.
    ok_in(cwd, &["export", "w", "w.bundle"]);
    assert!(cwd.join("w.bundle").is_file());

    // A failure keeps its message and exit code, and changes nothing.
    let head_before = ok_in(cwd, &["log", "w", "--from", "0", "--limit", "1000"]);
    let (code, stdout, stderr) = world_in(cwd, &["state", "w", "nope/Nope@1"]);
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert_eq!(stderr, "error: nope/Nope@1 is not a module of this world\n");
    let (code, _, stderr) = world_in(
        cwd,
        &["send", "w", "demo/CounterEvent@1", r#"{"Nope": {}}"#],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert_eq!(
        ok_in(cwd, &["log", "w", "--from", "0", "--limit", "1000"]),
        head_before
    );
    // Commands that need the world to themselves still say it is in use.
    let (code, _, stderr) = world_in(cwd, &["run", "w", "--stop-after-ms", "1"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("is in use by pid"), "{stderr}");

    server.stop();
    assert!(!socket(&dir).exists(), "a clean stop removes the socket");
    // Everything sent through the socket is in the journal on disk, and it replays.
    let records = ok(&["log", &dir_text, "--json", "--limit", "1000"]);
    let external = records
        .lines()
        .filter(|l| l.contains(r#""origin":{"kind":"external"}"#))
        .count();
    assert_eq!(external, 3);
    assert!(ok(&["replay", &dir_text]).starts_with("replay ok"));
    assert!(ok_in(cwd, &["verify", "w.bundle"]).starts_with("verify ok"));
}

#[test]
fn governance_goes_through_the_socket() {
    let (_root, _dir, dir_text) = new_world("worlds/safe-upgrade/v1");
    let server = Server::start(&dir_text, "127.0.0.1:0", &[]);
    let v2 = common::repo().join("worlds/safe-upgrade/v2");
    let proposed = ok(&["propose", &dir_text, "--air", &v2.display().to_string()]);
    assert!(proposed.starts_with("proposal 1 journaled"), "{proposed}");
    let shadow = ok(&["shadow", &dir_text, "1", "--json"]);
    assert!(serde_json::from_str::<Json>(&shadow).is_ok(), "{shadow}");
    ok(&["approve", &dir_text, "1", "--as", "erin"]);
    let applied = ok(&["apply", &dir_text, "1"]);
    assert!(applied.starts_with("applied proposal 1"), "{applied}");
    let proposals = ok(&["proposals", &dir_text]);
    assert!(proposals.contains("applied"), "{proposals}");
    server.stop();
    assert!(ok(&["replay", &dir_text]).starts_with("replay ok"));
    assert!(ok(&["verify", &dir_text]).starts_with("verify ok"));
}

#[test]
fn a_socket_left_by_a_killed_run_is_harmless() {
    let (_root, dir, dir_text) = new_world("worlds/counter");
    drop(Server::start(&dir_text, "127.0.0.1:0", &[])); // SIGKILL
    assert!(socket(&dir).exists(), "a killed run leaves its socket");
    // Nobody holds the world: commands open it themselves.
    ok(&[
        "send",
        &dir_text,
        "demo/CounterEvent@1",
        r#"{"Start": {"target": 1}}"#,
    ]);
    // The next run replaces the socket and serves it.
    let server = Server::start(&dir_text, "127.0.0.1:0", &[]);
    ok(&["send", &dir_text, "demo/CounterEvent@1", r#"{"Tick": {}}"#]);
    let state = ok(&["state", &dir_text, "demo/CounterSM@1"]);
    assert!(state.contains("Done"), "{state}");
    server.stop();
    assert!(ok(&["replay", &dir_text]).starts_with("replay ok"));
}

/// `world run DIR` without --listen, once its control socket is up; stopped when dropped.
struct Run(std::process::Child);

impl Run {
    fn start(dir: &str) -> Run {
        use std::io::{BufRead, BufReader};
        let mut child = Command::new(env!("CARGO_BIN_EXE_world"))
            .args(["run", dir])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().unwrap().unwrap();
        assert!(first.starts_with("control socket "), "{first}");
        // Keep reading, so the pipe never fills.
        std::thread::spawn(move || for _ in lines {});
        Run(child)
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads JSON lines from a child's stdout on a thread; `take(n, timeout)` waits for them.
fn json_lines(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<Json> {
    use std::io::{BufRead, BufReader};
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(serde_json::from_str(&line).unwrap()).is_err() {
                break;
            }
        }
    });
    rx
}

#[test]
fn why_forward_follow_prints_what_a_record_causes_as_it_is_journaled() {
    let (root, _dir, dir_text) = new_world("worlds/hello-timer");
    let run = Run::start(&dir_text);
    let start = |key: &str, delay_ms: u64| {
        let due_ns = worldline_adapters::clock::now_ns() + delay_ms * 1_000_000;
        let event = format!(r#"{{"Start": {{"deliver_at_ns": {due_ns}, "key": "{key}"}}}}"#);
        let sent: Json = serde_json::from_str(&ok(&[
            "send",
            &dir_text,
            "demo/TimerEvent@1",
            &event,
            "--json",
        ]))
        .unwrap();
        sent["seqs"][0].as_u64().unwrap()
    };
    // The followed event's timer fires after the follower has started.
    let followed = start("followed", 1500);
    let mut follower = Command::new(env!("CARGO_BIN_EXE_world"))
        .args([
            "why",
            &dir_text,
            &followed.to_string(),
            "--forward",
            "--follow",
            "--json",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let lines = json_lines(&mut follower);
    let other = start("other", 100);

    let mut lineage = std::collections::BTreeSet::new();
    let mut receipt = false;
    while !receipt {
        let record = lines
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("the followed timer's receipt did not come");
        let seq = record["seq"].as_u64().unwrap();
        let causes: Vec<u64> = record["causes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_u64().unwrap())
            .collect();
        assert!(
            seq == followed || causes.iter().any(|c| lineage.contains(c)),
            "#{seq} is not caused by #{followed}: {record}"
        );
        assert_ne!(seq, other);
        lineage.insert(seq);
        receipt = record["kind"] == "receipt";
    }
    let _ = follower.kill();
    let _ = follower.wait();
    assert!(lineage.len() >= 3, "{lineage:?}");

    // Backwards there is nothing to follow; dot is not a line format.
    let (code, _, stderr) = world_in(root.path(), &["why", "w", "1", "--follow"]);
    assert_eq!(code, 2, "{stderr}");
    let (code, _, stderr) = world_in(
        root.path(),
        &["why", "w", "sha256:00", "--forward", "--follow"],
    );
    assert_eq!(code, 1);
    assert!(stderr.contains("--follow takes a record's seq"), "{stderr}");
    let (code, _, stderr) = world_in(
        root.path(),
        &["why", "w", "1", "--forward", "--follow", "--format", "dot"],
    );
    assert_eq!(code, 1);
    assert!(stderr.contains("not dot"), "{stderr}");

    drop(run);
    assert!(ok(&["replay", &dir_text]).starts_with("replay ok"));
}

/// What is not a command line, or not one for the socket, is refused with one line; nothing is
/// journaled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_socket_refuses_what_is_not_a_command_line() {
    let (_root, dir, dir_text) = new_world("worlds/counter");
    let server = Server::start(&dir_text, "127.0.0.1:0", &[]);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .unix_socket(socket(&dir))
        .build()
        .unwrap();
    let (_, health) = get(&http, "http://world/health", None).await;
    let head = health["head"].clone();

    let cli = "http://world/cli";
    let (status, error) = post(&http, cli, "{", None).await;
    assert_eq!(status, 400, "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("$: not a command line"),
        "{error}"
    );
    let cases = [
        (vec!["world", "bogus"], "/", "unrecognized subcommand"),
        (
            vec!["world", "run", &dir_text],
            "/",
            "does not run through the control socket",
        ),
        (
            vec!["world", "new", &dir_text, "--air", "x"],
            "/",
            "does not run through",
        ),
        (
            vec!["world", "state", "w", "demo/CounterSM@1"],
            "relative",
            "is not absolute",
        ),
        (
            vec!["world", "state", "/elsewhere", "demo/CounterSM@1"],
            "/",
            "this control socket serves",
        ),
    ];
    for (argv, cwd, expected) in cases {
        let body = serde_json::json!({"argv": argv, "cwd": cwd}).to_string();
        let (status, answer) = post(&http, cli, &body, None).await;
        assert_eq!(status, 200, "{answer}");
        assert_ne!(answer["exit"], 0, "{argv:?}: {answer}");
        let stderr = answer["stderr"].as_str().unwrap();
        assert!(stderr.contains(expected), "{argv:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{argv:?}: {stderr}");
    }
    let (status, error) = get(&http, "http://world/events/stream?caused_by=x", None).await;
    assert_eq!(status, 400, "{error}");

    let (_, health) = get(&http, "http://world/health", None).await;
    assert_eq!(health["head"], head, "nothing was journaled");
    server.stop();
    assert!(ok(&["replay", &dir_text]).starts_with("replay ok"));
}
