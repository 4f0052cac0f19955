//! Governance through the `world` binary: propose → shadow → approve → apply on
//! `worlds/safe-upgrade` (real reducers, a real HTTP server on 127.0.0.1, real signatures), the
//! lifecycle's refusals, and the shadow's promises (it predicts what apply does, it changes
//! nothing live but its one record, it sends nothing).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

use common::{fails, ok};
use serde_json::{Value as Json, json};

/// A loopback HTTP server answering 200 to everything; remembers `METHOD path` of each request.
fn serve() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let request: Vec<&str> = line.split_whitespace().collect();
            if request.len() >= 2 {
                log.lock()
                    .unwrap()
                    .push(format!("{} {}", request[0], request[1]));
            }
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                    break;
                }
            }
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
        }
    });
    (base, seen)
}

fn records(dir: &str) -> usize {
    ok(&["log", dir, "--limit", "100000", "--json"])
        .lines()
        .count()
}

fn state(dir: &str) -> Json {
    let out: Json =
        serde_json::from_str(&ok(&["state", dir, "upgrade/Ledger@1", "--json"])).unwrap();
    out["state"].clone()
}

fn new_world(root: &Path) -> String {
    new_world_with(root, &[])
}

fn new_world_with(root: &Path, extra: &[&str]) -> String {
    let dir = root.join("w").display().to_string();
    let mut args = vec!["new", &dir, "--air", "worlds/safe-upgrade/v1"];
    args.extend_from_slice(extra);
    ok(&args);
    dir
}

fn request(dir: &str, url: &str, extra: &[&str]) {
    let event = json!({ "url": url }).to_string();
    let mut args = vec!["send", dir, "upgrade/Request@1", &event];
    args.extend_from_slice(extra);
    ok(&args);
}

#[test]
fn safe_upgrade_goes_through_the_whole_loop_while_a_v1_plan_waits() {
    let root = tempfile::tempdir().unwrap();
    let (base, seen) = serve();
    let dir = new_world(root.path());
    request(&dir, &format!("{base}/first"), &[]);
    assert_eq!(state(&dir)["fetched"], json!(1));
    // This one's plan instance waits on its receipt across the upgrade.
    request(&dir, &format!("{base}/waiting"), &["--timeout-ms", "0"]);

    let proposed = ok(&["propose", &dir, "--air", "worlds/safe-upgrade/v2"]);
    assert!(proposed.starts_with("proposal 1 journaled"), "{proposed}");
    assert!(proposed.contains("changed  grant fetch"), "{proposed}");

    let requests_before = seen.lock().unwrap().len();
    let (state_before, records_before) = (state(&dir), records(&dir));
    let report: Json = serde_json::from_str(&ok(&["shadow", &dir, "1", "--json"])).unwrap();
    assert_eq!(
        seen.lock().unwrap().len(),
        requests_before,
        "shadow sent a request"
    );
    assert_eq!(state(&dir), state_before, "shadow changed live state");
    assert_eq!(
        records(&dir),
        records_before + 1,
        "shadow journals exactly its report"
    );

    let grant = report["ledger"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["section"] == "grant" && d["name"] == "fetch")
        .expect("the widened grant is a ledger delta");
    assert_eq!(grant["action"], "changed");
    assert!(
        grant["new"].to_string().contains("POST") && !grant["old"].to_string().contains("POST")
    );
    let intents = report["intents"].as_array().unwrap();
    assert!(!intents.is_empty());
    for intent in intents {
        assert_eq!(intent["origin"], "plan upgrade/fetch_v2@1", "{intent}");
        assert_eq!(intent["admitted"], true, "{intent}");
        assert_eq!(intent["params"]["method"], "POST");
        assert!(
            intent["decisions"].to_string().contains("policy"),
            "{intent}"
        );
    }

    let key = root.path().join("alice.key").display().to_string();
    let did = ok(&["keygen", &key]);
    let approved = ok(&["approve", &dir, "1", "--as", "alice", "--key", &key]);
    assert!(approved.contains(did.trim()), "{approved}");
    ok(&["apply", &dir, "1"]);

    // The next command re-dispatches the waiting v1 intent; the new request runs v2.
    request(&dir, &format!("{base}/after"), &[]);
    let after = state(&dir);
    assert_eq!(after["fetched"], json!(3), "state carried over: {after}");
    let log: Vec<String> = serde_json::from_value(after["log"].clone()).unwrap();
    assert!(log[0].starts_with("reducer v1: plan v1 fetched"), "{log:?}");
    assert!(
        log.iter()
            .any(|l| l.contains("plan v1 fetched") && l.contains("/waiting"))
    );
    assert!(
        log.iter()
            .any(|l| l.starts_with("reducer v2: plan v2") && l.contains("/after"))
    );
    let seen = seen.lock().unwrap().clone();
    assert!(seen.contains(&"GET /waiting".to_owned()), "{seen:?}");
    assert!(seen.contains(&"POST /after".to_owned()), "{seen:?}");

    assert!(ok(&["replay", &dir]).starts_with("replay ok"));
    let verified = ok(&["verify", &dir]);
    assert!(
        verified.contains("approvals    1 signatures checked"),
        "{verified}"
    );
    let listed = ok(&["proposals", &dir]);
    assert!(listed.contains("applied"), "{listed}");
}

#[test]
fn snapshots_on_both_sides_of_the_switch_keep_the_pinned_plan() {
    // A snapshot every 3 records: every command below opens the world from one, some taken
    // under v1 with the waiting instance, some under v2 with it still pinned to v1.
    let root = tempfile::tempdir().unwrap();
    let (base, seen) = serve();
    let dir = new_world_with(root.path(), &["--snapshot-every", "3"]);
    request(&dir, &format!("{base}/first"), &[]);
    request(&dir, &format!("{base}/waiting"), &["--timeout-ms", "0"]);
    ok(&["propose", &dir, "--air", "worlds/safe-upgrade/v2"]);
    ok(&["shadow", &dir, "1", "--replay-last", "1"]);
    ok(&["approve", &dir, "1", "--as", "erin"]);
    ok(&["apply", &dir, "1"]);
    ok(&["proposals", &dir]);
    request(&dir, &format!("{base}/after"), &[]);
    let after = state(&dir);
    assert_eq!(after["fetched"], json!(3), "{after}");
    assert!(after.to_string().contains("plan v1 fetched"), "{after}");
    assert!(seen.lock().unwrap().contains(&"POST /after".to_owned()));
    assert!(ok(&["replay", &dir]).starts_with("replay ok"));
    assert!(ok(&["verify", &dir]).starts_with("verify ok"));

    // A fork before the switch starts under v1, one at the head under v2.
    let listed: Json = serde_json::from_str(&ok(&["proposals", &dir, "--json"])).unwrap();
    let before_switch = (listed["proposed_seq"].as_u64().unwrap() - 1).to_string();
    let manifest = |fork: &str| {
        let out = ok(&["inspect", fork]);
        out.lines()
            .find(|l| l.starts_with("manifest"))
            .unwrap()
            .to_owned()
    };
    let (old, new) = (format!("{dir}-old"), format!("{dir}-new"));
    ok(&["fork", &dir, &old, "--at", &before_switch]);
    ok(&["fork", &dir, &new]);
    assert_ne!(manifest(&old), manifest(&new));
    assert_eq!(manifest(&new), manifest(&dir));
    assert!(ok(&["replay", &old]).starts_with("replay ok"));
}

/// `world ARGS` fails with `expected` in its one line and journals nothing.
fn refused(dir: &str, args: &[&str], expected: &str) {
    let before = records(dir);
    let line = fails(args);
    assert!(line.contains(expected), "{args:?}: {line}");
    assert_eq!(records(dir), before, "{args:?} journaled something");
    assert!(ok(&["replay", dir]).starts_with("replay ok"));
}

/// A world with proposal 1 (v1 → v2), taken through `steps` (`shadow`, `approve`, …).
fn world_with_proposal(root: &Path, steps: &[&[&str]]) -> String {
    let dir = new_world(root);
    ok(&["propose", &dir, "--air", "worlds/safe-upgrade/v2"]);
    for step in steps {
        let mut args = vec![step[0], dir.as_str()];
        args.extend_from_slice(&step[1..]);
        ok(&args);
    }
    dir
}

#[test]
fn shadow_of_an_unknown_id_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let dir = world_with_proposal(root.path(), &[]);
    refused(&dir, &["shadow", &dir, "9"], "proposal 9 does not exist");
}

#[test]
fn approve_before_shadow_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let dir = world_with_proposal(root.path(), &[]);
    refused(&dir, &["approve", &dir, "1"], "has not been shadowed yet");
}

#[test]
fn apply_before_approve_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let dir = world_with_proposal(root.path(), &[]);
    refused(&dir, &["apply", &dir, "1"], "is proposed, not approved");
    ok(&["shadow", &dir, "1"]);
    refused(&dir, &["apply", &dir, "1"], "is shadowed, not approved");
}

#[test]
fn apply_after_reject_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let dir = world_with_proposal(
        root.path(),
        &[
            &["shadow", "1"],
            &["approve", "1", "--reject", "--as", "bob"],
        ],
    );
    refused(&dir, &["apply", &dir, "1"], "is rejected, not approved");
    refused(&dir, &["approve", &dir, "1"], "is already rejected");
}

#[test]
fn double_apply_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let dir = world_with_proposal(
        root.path(),
        &[&["shadow", "1"], &["approve", "1"], &["apply", "1"]],
    );
    refused(&dir, &["apply", &dir, "1"], "is applied, not approved");
}

#[test]
fn a_patch_whose_base_is_no_longer_current_is_refused() {
    let root = tempfile::tempdir().unwrap();
    // Two proposals on the same base: applying one makes the other's base stale.
    let dir = world_with_proposal(root.path(), &[]);
    ok(&[
        "propose",
        &dir,
        "--air",
        "worlds/safe-upgrade/v2",
        "--description",
        "again",
    ]);
    for id in ["1", "2"] {
        ok(&["shadow", &dir, id]);
        ok(&["approve", &dir, id, "--as", "carol"]);
    }
    ok(&["apply", &dir, "1"]);
    refused(&dir, &["apply", &dir, "2"], "propose it again");

    // A patch document against another manifest is refused at propose, every reason at once.
    let zero = format!("sha256:{}", "0".repeat(64));
    let stale = json!({"version": "1", "base_manifest_hash": zero,
        "patches": [{"set_routing_events": {"pre_hash": zero, "events": []}}]});
    let patch = root.path().join("stale.json");
    std::fs::write(&patch, stale.to_string()).unwrap();
    let before = records(&dir);
    let (code, _, stderr) = common::world(&["propose", &dir, patch.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("the patch is based on manifest"),
        "{stderr}"
    );
    assert!(stderr.contains("set_routing_events.pre_hash"), "{stderr}");
    assert_eq!(records(&dir), before);
}

/// Applies a report's changes (`$.field` paths) to a JSON value.
fn apply_changes(mut value: Json, changes: &[Json]) -> Json {
    for change in changes {
        let path = change["path"].as_str().unwrap();
        let field = path.strip_prefix("$.").expect("a top-level field");
        assert!(
            !field.contains(['.', '[']),
            "deeper paths are not used here: {path}"
        );
        match change.get("new") {
            Some(new) => value[field] = new.clone(),
            None => {
                value.as_object_mut().unwrap().remove(field);
            }
        }
    }
    value
}

#[test]
fn the_shadow_state_diff_is_what_apply_then_produces() {
    let root = tempfile::tempdir().unwrap();
    let dir = new_world(root.path());
    let fetched = json!({"Fetched": {"url": "http://127.0.0.1:9/x", "status": 200, "version": 7}});
    ok(&["send", &dir, "upgrade/Event@1", &fetched.to_string()]);
    ok(&["propose", &dir, "--air", "worlds/safe-upgrade/v2"]);
    let events = root.path().join("events.json");
    std::fs::write(
        &events,
        json!([{"schema": "upgrade/Event@1", "value": fetched}]).to_string(),
    )
    .unwrap();
    let report: Json = serde_json::from_str(&ok(&[
        "shadow",
        &dir,
        "1",
        "--events",
        events.to_str().unwrap(),
        "--json",
    ]))
    .unwrap();
    let diffs = report["state_diffs"].as_array().unwrap();
    assert_eq!(diffs.len(), 1, "{report}");
    assert_eq!(diffs[0]["reducer"], "upgrade/Ledger@1");

    ok(&["approve", &dir, "1", "--as", "dave"]);
    ok(&["apply", &dir, "1"]);
    let before = state(&dir);
    ok(&["send", &dir, "upgrade/Event@1", &fetched.to_string()]);
    let after = state(&dir);
    let changes = diffs[0]["changes"].as_array().unwrap();
    assert_eq!(apply_changes(before, changes), after);
    assert!(after.to_string().contains("reducer v2"), "{after}");
    assert!(ok(&["replay", &dir]).starts_with("replay ok"));
}

#[test]
fn diff_prints_the_patch_propose_derives() {
    let root = tempfile::tempdir().unwrap();
    let dir = new_world(root.path());
    let patch = ok(&["diff", &dir, "--air", "worlds/safe-upgrade/v2"]);
    let doc: Json = serde_json::from_str(&patch).unwrap();
    let ops: Vec<String> = doc["patches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|op| op.as_object().unwrap().keys().next().unwrap().clone())
        .collect();
    assert_eq!(
        ops,
        [
            "remove_def",
            "replace_def",
            "add_def",
            "set_defaults",
            "set_triggers"
        ],
        "{patch}"
    );
    let file = root.path().join("v2.patch.json");
    std::fs::write(&file, &patch).unwrap();
    let (code, _, stderr) = common::world(&["propose", &dir, file.to_str().unwrap()]);
    // The new module binary is not in the world yet: a patch file alone names it by hash.
    assert_eq!(code, 1);
    assert!(stderr.contains("upgrade/Ledger@1"), "{stderr}");
    let by_file = ok(&[
        "propose",
        &dir,
        file.to_str().unwrap(),
        "--module",
        &format!("upgrade/Ledger@1={}", v2_wasm().display()),
    ]);
    let by_air = ok(&["propose", &dir, "--air", "worlds/safe-upgrade/v2"]);
    let candidate = |out: &str| {
        out.lines()
            .find(|l| l.starts_with("candidate"))
            .unwrap()
            .to_owned()
    };
    assert_eq!(candidate(&by_file), candidate(&by_air));
    let line = fails(&["propose", &dir, "--air", "worlds/safe-upgrade/v1"]);
    assert!(line.contains("nothing to propose"), "{line}");
    assert!(ok(&["replay", &dir]).starts_with("replay ok"));
}

#[test]
fn malformed_governance_input_gets_one_line_naming_the_place() {
    let root = tempfile::tempdir().unwrap();
    let dir = world_with_proposal(root.path(), &[]);
    let write = |name: &str, text: &str| {
        let path = root.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let not_json = write("broken.json", "{\"version\": ");
    refused(&dir, &["propose", &dir, &not_json], "broken.json");
    refused(&dir, &["propose", &dir], "give a patch file or --air");
    let missing = root.path().join("no-such-dir").display().to_string();
    refused(&dir, &["propose", &dir, "--air", &missing], "no-such-dir");

    let not_array = write("events.json", "{}");
    refused(
        &dir,
        &["shadow", &dir, "1", "--events", &not_array],
        "events.json: $: expected an array",
    );
    let bad_event = write(
        "events2.json",
        &json!([{"schema": "upgrade/Request@1", "value": {"url": "x"}},
                {"schema": "upgrade/Request@1", "value": {"url": 7}}])
        .to_string(),
    );
    refused(
        &dir,
        &["shadow", &dir, "1", "--events", &bad_event],
        "events2.json: $[1]",
    );
    let no_schema = write("events3.json", &json!([{"value": {}}]).to_string());
    refused(
        &dir,
        &["shadow", &dir, "1", "--events", &no_schema],
        "$[0].schema",
    );

    ok(&["shadow", &dir, "1"]);
    let bad_key = write("bad.key", "ed25519-seed:zz");
    refused(&dir, &["approve", &dir, "1", "--key", &bad_key], "bad.key");
    let key = root.path().join("k.key").display().to_string();
    ok(&["keygen", &key]);
    let line = fails(&["keygen", &key]);
    assert!(line.contains("k.key"), "{line}");
    refused(&dir, &["approve", &dir, "1", "--as", ""], "1 to 256 bytes");
}

/// The v2 reducer binary, built the way `world new` builds the example worlds' modules.
fn v2_wasm() -> std::path::PathBuf {
    let modules = common::repo().join("modules");
    let status = std::process::Command::new(env!("CARGO"))
        .current_dir(&modules)
        .args([
            "build",
            "--quiet",
            "--release",
            "--target",
            "wasm32-unknown-unknown",
            "-p",
            "safe-upgrade-v2",
        ])
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .unwrap();
    assert!(status.success());
    modules.join("target/wasm32-unknown-unknown/release/safe_upgrade_v2.wasm")
}
