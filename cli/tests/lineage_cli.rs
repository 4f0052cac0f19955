//! `world verify | inspect | export | import | fork` through the real binary: output pinned by
//! insta (hashes, DIDs, times, paths and sizes redacted), every error one line that names the
//! file and the place, and a refused command changes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{fails, ok, world};

use std::path::Path;

fn redacted(dir: &Path, f: impl FnOnce()) {
    common::redacted_with(dir, &[(r"\d+ bytes", "[N] bytes")], f);
}

fn counter(dir: &Path, events: usize) {
    let d = dir.to_str().unwrap();
    ok(&["new", d, "--air", "worlds/counter", "--snapshot-every", "4"]);
    for i in 0..events {
        let event = if i % 4 == 0 {
            r#"{"Start": {"target": 3}}"#
        } else {
            r#""Tick""#
        };
        ok(&["send", d, "demo/CounterEvent@1", event]);
    }
}

#[test]
fn lineage_by_hand() {
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path();
    let (a, bundle, b, c) = (
        root.join("a"),
        root.join("a.bundle"),
        root.join("b"),
        root.join("c"),
    );
    let [a, bundle, b, c] = [&a, &bundle, &b, &c].map(|p| p.to_str().unwrap().to_owned());
    counter(Path::new(&a), 6);
    let mut out = String::new();
    for args in [
        vec!["verify", &a],
        vec!["inspect", &a],
        vec!["export", &a, &bundle],
        vec!["inspect", &bundle],
        vec!["verify", &bundle],
        vec!["import", &bundle, &b],
        vec!["replay", &b],
        vec!["verify", &b],
        vec!["fork", &a, &c, "--at", "5"],
        vec!["send", &c, "demo/CounterEvent@1", r#""Tick""#],
        vec!["replay", &c],
        vec!["replay", &a],
    ] {
        out.push_str(&format!("$ world {}\n", args[0]));
        out.push_str(&ok(&args));
    }
    redacted(root, || insta::assert_snapshot!("lineage_by_hand", out));
    let did = ok(&["inspect", &a, "--json"]);
    let did: serde_json::Value = serde_json::from_str(&did).unwrap();
    let did = did["did"].as_str().unwrap();
    let verified: serde_json::Value =
        serde_json::from_str(&ok(&["verify", &bundle, "--did", did, "--json"])).unwrap();
    assert_eq!(verified["ok"], true);
    assert_eq!(verified["did"], did);
    // The export left a checkpoint at the head: the state's proof names it, and the root it
    // proves against is the one that checkpoint signed.
    let proof: serde_json::Value =
        serde_json::from_str(&ok(&["state", &a, "demo/CounterSM@1", "--proof"])).unwrap();
    let signed = &proof["signed_by_checkpoint"];
    let seq = signed["seq"].as_u64().unwrap().to_string();
    let log = ok(&["log", &a, "--json", "--from", &seq, "--limit", "1"]);
    let checkpoint: serde_json::Value = serde_json::from_str(log.trim()).unwrap();
    assert_eq!(checkpoint["kind"], "checkpoint");
    assert_eq!(checkpoint["body"]["state_root"], proof["state_root"]);
    assert_eq!(
        proof["leaf"], proof["state_root"],
        "one state: its leaf is the root"
    );
    assert_eq!(proof["state"]["pc"]["$tag"], "Counting");
    let fork: serde_json::Value = serde_json::from_str(&ok(&["inspect", &c, "--json"])).unwrap();
    assert_eq!(fork["parent"]["did"], did);
    assert_eq!(fork["parent"]["height"], 5);
    assert_ne!(fork["did"], did);
}

#[test]
fn lineage_errors_are_one_line_and_change_nothing() {
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path();
    let a = root.join("a");
    let a = a.to_str().unwrap();
    counter(Path::new(a), 3);
    let bundle = root.join("a.bundle");
    let bundle = bundle.to_str().unwrap();
    ok(&["export", a, bundle]);
    let original = std::fs::read(bundle).unwrap();
    let mut bad = original.clone();
    let middle = bad.len() / 2;
    bad[middle] ^= 0x40;
    let bad_path = root.join("bad.bundle");
    std::fs::write(&bad_path, &bad).unwrap();
    let bad_bundle = bad_path.to_str().unwrap();
    let junk = root.join("junk.bundle");
    std::fs::write(&junk, b"not a bundle at all").unwrap();
    let (b, c) = (root.join("b"), root.join("c"));
    let (b, c) = (b.to_str().unwrap(), c.to_str().unwrap());
    let head_before = ok(&["inspect", a, "--json"]);
    let mut out = String::new();
    for args in [
        vec![
            "verify",
            a,
            "--did",
            "did:key:z6MktwupdmLXVVqTzCw4i46r4uGyosGXRnR3XjN4Zq7oMMsw",
        ],
        vec!["verify", bad_bundle],
        vec!["verify", junk.to_str().unwrap()],
        vec!["inspect", junk.to_str().unwrap()],
        vec!["import", bad_bundle, b],
        vec!["import", bundle, a],
        vec!["export", a, bundle],
        vec!["fork", a, c, "--at", "999"],
        vec!["fork", a, a],
        vec!["verify", "/nonexistent/world"],
        vec!["state", a, "demo/CounterSM@1", "--proof", "--key", "x"],
        vec!["state", a, "demo/Nope@1", "--proof"],
    ] {
        out.push_str(&format!("$ world {}\n", args[0]));
        out.push_str(&fails(&args));
    }
    redacted(root, || insta::assert_snapshot!("lineage_errors", out));
    let (code, stdout, _) = world(&["verify", bad_bundle, "--json"]);
    assert_eq!(code, 1);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert!(report["reason"].as_str().is_some());
    // Nothing changed: no world where imports and forks were refused, the bundle as it was,
    // the world as it was.
    assert!(!Path::new(b).join(".world").exists() && !Path::new(c).join(".world").exists());
    assert_eq!(std::fs::read(bundle).unwrap(), original);
    assert_eq!(ok(&["inspect", a, "--json"]), head_before);
    ok(&["verify", a]);
    ok(&["replay", a]);
}
