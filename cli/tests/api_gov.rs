//! Governance through the control API on `worlds/safe-upgrade`: propose (a patch document and
//! the new module binary in base64), shadow, reject, approve, apply, and the refusals; the
//! world is replayed afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine as _;
use common::api::{Server, client, get, post};
use common::ok;
use serde_json::{Value as Json, json};

/// The v2 reducer, built from modules/ (as cli/tests/governance.rs does).
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
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .unwrap();
    assert!(status.success());
    modules.join("target/wasm32-unknown-unknown/release/safe_upgrade_v2.wasm")
}

fn code(body: &Json) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn propose_shadow_decide_and_apply_over_the_api() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("w").display().to_string();
    ok(&["new", &dir, "--air", "worlds/safe-upgrade/v1"]);
    let patch: Json =
        serde_json::from_str(&ok(&["diff", &dir, "--air", "worlds/safe-upgrade/v2"])).unwrap();
    let wasm = base64::engine::general_purpose::STANDARD.encode(std::fs::read(v2_wasm()).unwrap());
    let proposal = json!({"patch": patch, "description": "v2", "modules": [wasm]}).to_string();

    let server = Server::start(&dir, "127.0.0.1:0", &[]);
    let c = client();
    let (_, health) = get(&c, &server.at("/health"), None).await;
    let v1 = health["manifest_hash"].clone();

    // Refusals first: nothing journaled by any of them.
    let (status, error) = post(
        &c,
        &server.at("/proposals"),
        r#"{"patch": {"patches": 1}}"#,
        None,
    )
    .await;
    assert_eq!(status, 400, "{error}");
    assert!(
        error["error"]["path"]
            .as_str()
            .unwrap()
            .starts_with("$.patch"),
        "{error}"
    );
    let (status, error) = post(
        &c,
        &server.at("/proposals"),
        r#"{"description": "x"}"#,
        None,
    )
    .await;
    assert_eq!(
        (status, error["error"]["path"].as_str()),
        (400, Some("$.patch"))
    );
    let (status, error) = post(&c, &server.at("/proposals/7/shadow"), "", None).await;
    assert_eq!((status, code(&error)), (404, "not_found"));
    let (status, error) = post(&c, &server.at("/proposals/x/apply"), "", None).await;
    assert_eq!((status, code(&error)), (400, "bad_request"));

    // Proposal 1: shadowed, then rejected.
    let (status, first) = post(&c, &server.at("/proposals"), &proposal, None).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["id"], json!(1));
    let (status, error) = post(&c, &server.at("/proposals/1/approve"), "", None).await;
    assert_eq!((status, code(&error)), (409, "rejected"), "{error}");
    insta::assert_snapshot!(
        "approve_before_shadow",
        error["error"]["message"].as_str().unwrap()
    );
    let (status, report) = post(
        &c,
        &server.at("/proposals/1/shadow"),
        r#"{"replay_last": 10}"#,
        None,
    )
    .await;
    assert_eq!(status, 200, "{report}");
    assert!(
        report["seq"].is_u64() && report["ledger"].is_array(),
        "{report}"
    );
    let (status, decided) = post(
        &c,
        &server.at("/proposals/1/reject"),
        r#"{"by": "bob"}"#,
        None,
    )
    .await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(
        (decided["approved"].as_bool(), decided["by"].as_str()),
        (Some(false), Some("bob"))
    );
    let (status, error) = post(&c, &server.at("/proposals/1/apply"), "", None).await;
    assert_eq!((status, code(&error)), (409, "rejected"));

    // Proposal 2: shadowed on given events, approved, applied.
    let (status, second) = post(&c, &server.at("/proposals"), &proposal, None).await;
    assert_eq!((status, &second["id"]), (200, &json!(2)));
    let events = json!({"events": [{"schema": "upgrade/Request@1", "value": {"url": "https://example.com/x"}}]});
    let (status, report) = post(
        &c,
        &server.at("/proposals/2/shadow"),
        &events.to_string(),
        None,
    )
    .await;
    assert_eq!(status, 200, "{report}");
    let bad = json!({"events": [{"schema": "upgrade/Request@1", "value": {"url": 5}}]});
    let (status, error) = post(
        &c,
        &server.at("/proposals/2/shadow"),
        &bad.to_string(),
        None,
    )
    .await;
    assert_eq!(status, 400, "{error}");
    assert!(
        error["error"]["path"]
            .as_str()
            .unwrap()
            .starts_with("$.events[0].value"),
        "{error}"
    );
    let (status, decided) = post(
        &c,
        &server.at("/proposals/2/approve"),
        r#"{"by": "alice"}"#,
        None,
    )
    .await;
    assert_eq!(
        (status, decided["approved"].as_bool()),
        (200, Some(true)),
        "{decided}"
    );
    let (status, applied) = post(&c, &server.at("/proposals/2/apply"), "", None).await;
    assert_eq!(status, 200, "{applied}");
    assert_eq!(applied["previous"], v1);
    assert_eq!(applied["manifest_hash"], second["candidate"]);

    let (_, health) = get(&c, &server.at("/health"), None).await;
    assert_eq!(health["manifest_hash"], second["candidate"]);
    let (status, list) = get(&c, &server.at("/proposals"), None).await;
    assert_eq!(status, 200);
    let statuses: Vec<&str> = list["proposals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["rejected", "applied"]);
    // The patch names v1 as its base: proposing it again is refused, with the place.
    let (status, error) = post(&c, &server.at("/proposals"), &proposal, None).await;
    assert_eq!((status, code(&error)), (400, "invalid_air"), "{error}");
    assert_eq!(error["error"]["path"], "$.patch.base_manifest_hash");
    server.stop();

    // The same answers as the command line's.
    let cli: Vec<Json> = ok(&["proposals", &dir, "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(Json::Array(cli), list["proposals"]);
    assert!(ok(&["replay", &dir]).starts_with("replay ok"));
}
