//! `world why` on the AgentOS plan worlds (`worlds/fetch-notify`, `worlds/chain-comp`), their
//! HTTP against a local server: an HTTP receipt's why leads back through its intent (with its
//! admission decisions), the plan step, the trigger event and the reducer step to the external
//! input. Golden tree, JSON and DOT forms; every world here is replayed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[path = "../../adapters/tests/http_server/mod.rs"]
mod http_server;

use std::path::{Path, PathBuf};

use common::{fails, ok, redacted_with};
use http_server::{Reply, Server};
use serde_json::Value as Json;

/// What varies in a why answer beyond hashes, DIDs and times: nanosecond figures and entropy.
const FILTERS: &[(&str, &str)] = &[
    (
        r#""(now_ns|logical_now_ns|started_ns|finished_ns)": \d+"#,
        r#""$1": "[NS]""#,
    ),
    (r#""entropy": "[0-9a-f]+""#, r#""entropy": "[ENTROPY]""#),
    // DOT labels keep the start of a hash.
    (r"sha256:[0-9a-f]{12}…", "sha256:[HASH]…"),
];

struct Served {
    _runtime: tokio::runtime::Runtime,
    _server: Server,
    _scratch: tempfile::TempDir,
    dir: PathBuf,
}

/// A world created from `worlds/NAME` and sent `event`, its HTTP answered 200 by a local server.
fn served(name: &str, schema: &str, event: &str) -> Served {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(Server::start(|_| Reply::ok(b"fresh data")));
    let map = format!("https://example.com={}", server.url(""));
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join(name);
    let d = dir.to_str().unwrap();
    ok(&["new", d, "--air", &format!("worlds/{name}")]);
    ok(&["send", d, schema, event, "--http-map", &map]);
    Served {
        _runtime: runtime,
        _server: server,
        _scratch: scratch,
        dir,
    }
}

fn fetch_notify() -> Served {
    served(
        "fetch-notify",
        "demo/FetchNotifyEvent@1",
        r#"{"Start": {"url": "https://example.com/data.json", "method": "GET"}}"#,
    )
}

/// The journal as `world log --json` gives it.
fn log(dir: &Path) -> Vec<Json> {
    ok(&["log", dir.to_str().unwrap(), "--limit", "1000", "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn seqs_of(log: &[Json], kind: &str) -> Vec<u64> {
    log.iter()
        .filter(|r| r["kind"] == kind)
        .map(|r| r["seq"].as_u64().unwrap())
        .collect()
}

fn why_json(dir: &Path, args: &[&str]) -> Json {
    let mut all = vec!["why", dir.to_str().unwrap()];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    serde_json::from_str(&ok(&all)).unwrap()
}

fn replays(dir: &Path) {
    let out = ok(&["replay", dir.to_str().unwrap()]);
    assert!(out.starts_with("replay ok"), "{out}");
}

#[test]
fn an_http_receipt_leads_back_to_the_external_input() {
    let world = fetch_notify();
    let dir = &world.dir;
    let d = dir.to_str().unwrap();
    let journal = log(dir);
    let receipt = seqs_of(&journal, "receipt")[0].to_string();

    let doc = why_json(dir, &[&receipt]);
    let kinds: Vec<&str> = doc["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "receipt",
            "effect_intent",
            "plan_started",
            "domain_event",
            "domain_event"
        ]
    );
    let vias: Vec<&str> = doc["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["via"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(vias, ["receipt", "plan", "trigger", "step"]);
    let intent = &doc["nodes"][1];
    let decisions: Vec<(&str, &str)> = intent["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["stage"].as_str().unwrap(), d["code"].as_str().unwrap()))
        .collect();
    assert!(
        decisions.contains(&("capability", "allowed")),
        "{decisions:?}"
    );
    assert_eq!(doc["nodes"][4]["leaf"], "external input");
    assert_eq!(
        doc["nodes"][3]["record"]["body"]["origin"]["kind"],
        "reducer"
    );

    redacted_with(dir, FILTERS, || {
        insta::assert_snapshot!("fetch_notify_receipt_tree", ok(&["why", d, &receipt]));
        insta::assert_json_snapshot!("fetch_notify_receipt_json", doc);
        insta::assert_snapshot!(
            "fetch_notify_receipt_dot",
            ok(&["why", d, &receipt, "--format", "dot"])
        );
    });
    replays(dir);
}

#[test]
fn forwards_the_input_reaches_the_receipt_and_what_the_plan_did_with_it() {
    let world = fetch_notify();
    let dir = &world.dir;
    let d = dir.to_str().unwrap();
    let journal = log(dir);
    let input = seqs_of(&journal, "domain_event")[0].to_string();
    let tree = ok(&["why", d, &input, "--forward"]);
    for kind in ["effect_intent", "admission", "receipt", "plan_ended"] {
        assert!(tree.contains(kind), "{kind}: {tree}");
    }
    redacted_with(dir, FILTERS, || {
        insta::assert_snapshot!("fetch_notify_input_forward_tree", tree);
    });
    // Depth 1 is cut, and says so.
    let short = ok(&["why", d, &input, "--forward", "--depth", "1"]);
    assert!(
        short.contains("note: cut by the depth limit (1)"),
        "{short}"
    );
    replays(dir);
}

#[test]
fn intent_and_event_hashes_name_their_records() {
    let world = fetch_notify();
    let dir = &world.dir;
    let journal = log(dir);
    let intent_seq = seqs_of(&journal, "effect_intent")[0];
    let intent = journal[intent_seq as usize]["body"]["intent_hash"]
        .as_str()
        .unwrap()
        .to_owned();
    let doc = why_json(dir, &[&intent]);
    assert_eq!(doc["target"], "intent");
    assert_eq!(doc["roots"], serde_json::json!([intent_seq]));

    let input = seqs_of(&journal, "domain_event")[0];
    let forward = why_json(dir, &[&input.to_string(), "--forward", "--depth", "0"]);
    let event = forward["nodes"][0]["event_hash"]
        .as_str()
        .unwrap()
        .to_owned();
    let doc = why_json(dir, &[&event]);
    assert_eq!(doc["target"], "event");
    assert_eq!(doc["roots"], serde_json::json!([input]));
    // The bare hex works too.
    let bare = event.trim_start_matches("sha256:");
    assert_eq!(why_json(dir, &[bare])["roots"], serde_json::json!([input]));
    replays(dir);
}

#[test]
fn bad_targets_fail_with_one_line_naming_them() {
    let world = fetch_notify();
    let d = world.dir.to_str().unwrap();
    let err = fails(&["why", d, "999"]);
    assert!(err.contains("no record 999"), "{err}");
    let err = fails(&["why", d, "sha256:abc"]);
    assert!(err.contains("malformed hash `sha256:abc`"), "{err}");
    let zeros = format!("sha256:{}", "0".repeat(64));
    let err = fails(&["why", d, &zeros]);
    assert!(
        err.contains(&format!("no intent or event with hash {zeros}")),
        "{err}"
    );
    let err = fails(&["why", d, "tomorrow"]);
    assert!(err.contains("`tomorrow` is neither a seq nor"), "{err}");
    let err = fails(&["why", "/nonexistent/world", "1"]);
    assert!(err.contains("/nonexistent/world"), "{err}");
    replays(&world.dir);
}

#[test]
fn the_dot_form_renders_with_graphviz() {
    let Ok(found) = std::process::Command::new("sh")
        .args(["-c", "command -v dot"])
        .output()
    else {
        println!("skipped: no shell to look for Graphviz");
        return;
    };
    if !found.status.success() {
        println!("skipped: Graphviz `dot` is not installed");
        return;
    }
    let world = fetch_notify();
    let d = world.dir.to_str().unwrap();
    let receipt = seqs_of(&log(&world.dir), "receipt")[0].to_string();
    let dot_text = ok(&["why", d, &receipt, "--format", "dot"]);
    let mut child = std::process::Command::new("dot")
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(dot_text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("<svg"));
    replays(&world.dir);
}

#[test]
fn chain_comp_s_last_receipt_leads_back_through_the_earlier_steps() {
    let target = |name: &str, method: &str| {
        format!(
            r#"{{"name": "{name}", "method": "{method}", "url": "https://example.com/{name}"}}"#
        )
    };
    let event = format!(
        r#"{{"Start": {{"order_id": "order-7", "customer_id": "cust-3", "amount_cents": 1999, "reserve_sku": "sku-42", "charge": {}, "reserve": {}, "notify": {}, "refund": {}}}}}"#,
        target("charge", "POST"),
        target("reserve", "POST"),
        target("notify", "POST"),
        target("refund", "PUT"),
    );
    let world = served("chain-comp", "demo/ChainEvent@1", &event);
    let dir = &world.dir;
    let d = dir.to_str().unwrap();
    let receipts = seqs_of(&log(dir), "receipt");
    assert_eq!(receipts.len(), 3, "charge, reserve, notify");
    let last = receipts[2].to_string();
    let tree = ok(&["why", d, &last]);
    assert!(tree.contains("external input"), "{tree}");
    redacted_with(dir, FILTERS, || {
        insta::assert_snapshot!("chain_comp_last_receipt_tree", tree);
    });
    replays(dir);
}
