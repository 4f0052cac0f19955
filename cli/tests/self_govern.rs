//! In-world governance through the `world` binary on `worlds/self-govern`: a plan proposes,
//! shadows, approves and applies a patch through the `governance.*` effects, within what its
//! `sys/governance@1` grant allows (plans and schemas under `agent/`, the triggers section).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use base64::Engine as _;
use common::{ok, redacted_with};
use serde_json::{Value as Json, json};

/// A fresh world of `worlds/self-govern/air` in `root`.
fn new_world(root: &Path) -> String {
    let dir = root.join("sg").display().to_string();
    ok(&["new", &dir, "--air", "worlds/self-govern/air"]);
    dir
}

/// Asks the world's plan to carry out the patch from live to the AIR directory `target`.
fn request_upgrade(dir: &str, target: &str, description: &str) {
    let patch = ok(&["diff", dir, "--air", target]);
    let encoded = base64::engine::general_purpose::STANDARD.encode(patch.as_bytes());
    let event = json!({
        "patch": {"$tag": "patch_doc_json", "$value": encoded},
        "approver": "agent-7",
        "description": description,
    });
    ok(&["send", dir, "agent/Upgrade@1", &event.to_string()]);
}

fn log(dir: &str) -> Vec<Json> {
    ok(&["log", dir, "--limit", "100000", "--json"])
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn of_kind<'a>(records: &'a [Json], kind: &str) -> Vec<&'a Json> {
    records.iter().filter(|r| r["kind"] == kind).collect()
}

fn manifest(dir: &str) -> String {
    let inspect: Json = serde_json::from_str(&ok(&["inspect", dir, "--json"])).unwrap();
    inspect["manifest_hash"].as_str().unwrap().to_owned()
}

fn replays_and_verifies(dir: &str) {
    assert!(ok(&["replay", dir]).starts_with("replay ok"));
    ok(&["verify", dir]);
}

#[test]
fn a_plan_governs_its_world_within_its_grant() {
    let root = tempfile::tempdir().unwrap();
    let dir = new_world(root.path());
    let before = manifest(&dir);
    request_upgrade(&dir, "worlds/self-govern/next", "add the greet plan");
    let records = log(&dir);

    // Each operation journals its record and the governance adapter's receipt, caused by the
    // intent the plan emitted.
    let intents = of_kind(&records, "effect_intent");
    let kinds: Vec<&str> = intents
        .iter()
        .map(|i| i["body"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "governance.propose",
            "governance.shadow",
            "governance.approve",
            "governance.apply"
        ]
    );
    for (intent, record_kind) in intents.iter().zip([
        "gov_proposed",
        "gov_shadow_report",
        "gov_decided",
        "gov_applied",
    ]) {
        let seq = intent["seq"].as_u64().unwrap();
        let record = of_kind(&records, record_kind)[0];
        let causes: Vec<u64> = serde_json::from_value(record["causes"].clone()).unwrap();
        assert!(
            causes.contains(&seq),
            "{record_kind} is not caused by intent {seq}: {record}"
        );
        let receipt = records
            .iter()
            .find(|r| r["kind"] == "receipt" && r["causes"] == json!([seq]))
            .unwrap();
        assert_eq!(receipt["body"]["status"], "ok");
        assert_eq!(receipt["body"]["adapter_id"], "governance");
    }
    assert_eq!(of_kind(&records, "gov_decided")[0]["body"]["by"], "agent-7");
    assert_eq!(of_kind(&records, "plan_ended")[0]["body"]["status"], "ok");
    assert_eq!(of_kind(&records, "manifest_changed").len(), 1);

    // The new manifest is in force: the plan the patch added runs.
    let after = manifest(&dir);
    assert_ne!(after, before);
    let proposals = ok(&["proposals", &dir, "--json"]);
    let proposals: Vec<Json> = proposals
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(proposals.len(), 1);
    assert_eq!(proposals[0]["status"], "applied");
    assert_eq!(proposals[0]["candidate"], after.as_str());
    ok(&["send", &dir, "agent/Greet@1", r#"{"name": "Ada"}"#]);
    let started = of_kind(&log(&dir), "plan_started")
        .iter()
        .map(|r| r["body"]["plan"].as_str().unwrap().to_owned())
        .collect::<Vec<_>>();
    assert_eq!(started, ["agent/govern@1", "agent/greet@1"]);

    // Why did the manifest change? Back through the apply intent, the plan, to the request.
    let applied = of_kind(&records, "gov_applied")[0]["seq"].as_u64().unwrap();
    let why = ok(&["why", &dir, &applied.to_string()]);
    assert!(why.contains("governance.apply"), "{why}");
    assert!(why.contains("agent/Upgrade@1"), "{why}");
    replays_and_verifies(&dir);
}

#[test]
fn a_plan_cannot_widen_its_own_grant() {
    let root = tempfile::tempdir().unwrap();
    let dir = new_world(root.path());
    let before = manifest(&dir);
    request_upgrade(&dir, "worlds/self-govern/widen", "let me edit sys/ too");
    let records = log(&dir);
    let denial = of_kind(&records, "admission")
        .into_iter()
        .find(|a| a["body"]["allowed"] == false)
        .unwrap();
    assert_eq!(denial["body"]["code"], "manifest_section_not_allowed");
    let ended = of_kind(&records, "plan_ended")[0];
    assert_eq!(ended["body"]["code"], "manifest_section_not_allowed");
    assert!(of_kind(&records, "gov_proposed").is_empty());
    assert!(of_kind(&records, "receipt").is_empty());
    assert_eq!(manifest(&dir), before);
    replays_and_verifies(&dir);
}

#[test]
fn a_refused_operation_answers_with_an_error_receipt_and_changes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let dir = new_world(root.path());
    let patch = ok(&["diff", &dir, "--air", "worlds/self-govern/next"]);
    request_upgrade(&dir, "worlds/self-govern/next", "first");
    let applied = manifest(&dir);
    // The same patch again: its base is no longer the live manifest.
    let encoded = base64::engine::general_purpose::STANDARD.encode(patch.as_bytes());
    let event = json!({
        "patch": {"$tag": "patch_doc_json", "$value": encoded},
        "approver": "agent-7",
        "description": "again",
    });
    let head_before = log(&dir).len();
    ok(&["send", &dir, "agent/Upgrade@1", &event.to_string()]);
    let records = log(&dir);
    let new = &records[head_before..];
    let receipt = new.iter().find(|r| r["kind"] == "receipt").unwrap();
    assert_eq!(receipt["body"]["status"], "error");
    assert!(of_kind(new, "gov_proposed").is_empty());
    assert_eq!(
        of_kind(new, "plan_ended")[0]["body"]["code"],
        "receipt_error"
    );
    assert_eq!(manifest(&dir), applied);
    let line = ok(&[
        "log",
        &dir,
        "--from",
        &receipt["seq"].to_string(),
        "--limit",
        "1",
    ]);
    redacted_with(
        root.path(),
        &[(r"\s+\d+\s+receipt", "[SEQ] receipt")],
        || {
            insta::assert_snapshot!(line.trim_end());
        },
    );
    replays_and_verifies(&dir);
}
