//! `worlds/summarizer` through the `world` binary: a plan fetches a page (a local server behind
//! the origin map) and asks an LLM to summarize it, against a local OpenAI-compatible server and
//! a local Anthropic-compatible server written for this test. The LLM receipt holds the output
//! reference and token counts; the API key, given through `env:`, appears nowhere in the world's
//! files (journal, CAS, snapshots, adapter keys) or in anything the commands print.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[path = "../../adapters/tests/http_server/mod.rs"]
mod http_server;

use std::path::{Path, PathBuf};

use http_server::{Reply, Seen, Server};
use serde_json::{Value as Json, json};
use worldline_adapters::llm::{Message, Role};
use worldline_air::{Hash, Name, Value};
use worldline_kernel::World;
use worldline_kernel::record::RecordBody;

const KEY: &str = "sk-test-7f3a9c1e5b2d4f6a8c0e2b4d6f8a0c2e";
const KEY_VAR: &str = "WORLDLINE_TEST_SUMMARIZER_KEY";
const PAGE: &str =
    "Worldline journals every input. Plans orchestrate effects. Receipts are signed.";
const SUMMARY: &str = "Worldline records everything and signs what it did.";

/// Runs `world ARGS` with the key in its environment; returns (code, stdout + stderr).
fn world(args: &[&str]) -> (i32, String) {
    let (code, stdout, stderr) = common::world_with_env(args, &[(KEY_VAR, KEY)]);
    (code, stdout + &stderr)
}

fn openai(seen: &Seen) -> Reply {
    assert_eq!(seen.target, "/v1/chat/completions");
    if seen.headers.get("authorization").map(String::as_str) != Some(&format!("Bearer {KEY}")) {
        return Reply::ok(b"{\"error\": \"bad key\"}").status(401);
    }
    let body = json!({
        "choices": [{"message": {"role": "assistant", "content": SUMMARY}}],
        "usage": {"prompt_tokens": 57, "completion_tokens": 11},
    });
    Reply::ok(body.to_string().as_bytes())
}

fn anthropic(seen: &Seen) -> Reply {
    assert_eq!(seen.target, "/v1/messages");
    if seen.headers.get("x-api-key").map(String::as_str) != Some(KEY) {
        return Reply::ok(b"{\"error\": \"bad key\"}").status(401);
    }
    let body = json!({
        "content": [{"type": "text", "text": SUMMARY}],
        "usage": {"input_tokens": 61, "output_tokens": 12},
    });
    Reply::ok(body.to_string().as_bytes())
}

/// Every file under `dir`, as bytes.
fn all_bytes(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(all_bytes(&path));
        } else {
            out.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The LLM receipt's payload in plain JSON.
fn llm_receipt(world: &World) -> (Json, Option<u64>) {
    let schema = Name::parse("sys/LlmGenerateReceipt@1").unwrap();
    let ty = world.plane().schema_type_of(&schema).unwrap().clone();
    let records = world.records(0, 10_000).unwrap();
    let receipt = records
        .into_iter()
        .find_map(|(r, _)| match r.body {
            RecordBody::Receipt(receipt) if receipt.adapter_id == "llm" => Some(receipt),
            _ => None,
        })
        .expect("an llm receipt");
    let payload = Value::from_cbor_bytes(&receipt.payload, &ty, world.plane()).unwrap();
    (payload.to_plain_json(), receipt.cost_cents)
}

fn summarize(provider: &str, prompt_tokens: u64, completion_tokens: u64) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let page = runtime.block_on(Server::start(|_| Reply::ok(PAGE.as_bytes())));
    let llm = runtime.block_on(Server::start(if provider == "openai" {
        openai
    } else {
        anthropic
    }));
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join(provider);
    let dir_text = dir.to_str().unwrap();
    let (code, out) = world(&[
        "new",
        dir_text,
        "--air",
        "worlds/summarizer",
        "--snapshot-every",
        "4",
    ]);
    assert_eq!(code, 0, "{out}");
    let start = json!({"Start": {"url": "https://news.example/today", "provider": provider,
                                 "model": "test-model"}})
    .to_string();
    let page_map = format!("https://news.example={}", page.url(""));
    let llm_url = format!("{provider}={}", llm.url("/v1"));
    let secret = format!("llm_api_key=env:{KEY_VAR}");
    let (code, sent) = world(&[
        "send",
        dir_text,
        "demo/SummarizerEvent@1",
        &start,
        "--http-map",
        &page_map,
        "--llm-url",
        &llm_url,
        "--secret",
        &secret,
    ]);
    assert_eq!(code, 0, "{sent}");
    assert!(
        sent.contains("plan_ended") && sent.contains(" ok"),
        "{sent}"
    );

    // The provider saw the prompt as the system message and the page as the user message.
    let request: Json = serde_json::from_slice(&llm.seen()[0].body).unwrap();
    let text = request.to_string();
    assert!(
        text.contains("Summarize the page") && text.contains(PAGE),
        "{text}"
    );

    let state_world = World::open(&dir).unwrap();
    let reducer = Name::parse("demo/Summarizer@1").unwrap();
    let state = state_world
        .state(&reducer, &[])
        .unwrap()
        .unwrap()
        .to_plain_json();
    let output = Message {
        role: Role::Assistant,
        content: SUMMARY.to_owned(),
    }
    .to_blob();
    assert_eq!(
        output,
        format!("{{\"role\":\"assistant\",\"content\":\"{SUMMARY}\"}}").into_bytes()
    );
    let output_ref = Hash::of(&output).to_string();
    assert_eq!(state["pc"], json!({"$tag": "Done"}));
    assert_eq!(state["summary_ref"], json!(output_ref));
    assert_eq!(state["fetch_status"], json!(200));
    assert_eq!(
        (&state["prompt_tokens"], &state["completion_tokens"]),
        (&json!(prompt_tokens), &json!(completion_tokens))
    );
    let (receipt, cost) = llm_receipt(&state_world);
    assert_eq!(receipt["output_ref"], json!(output_ref));
    assert_eq!(
        receipt["token_usage"],
        json!({"prompt": prompt_tokens, "completion": completion_tokens})
    );
    assert_eq!(receipt["provider_id"], json!(provider));
    assert_eq!(cost, Some(0));
    let stored = state_world.object(&Hash::of(&output)).unwrap();
    assert_eq!(stored, Some(output), "the output is in the CAS");
    drop(state_world);

    let (code, log) = world(&["log", dir_text, "--json"]);
    assert_eq!(code, 0, "{log}");
    let (code, replayed) = world(&["replay", dir_text]);
    assert_eq!(code, 0, "{replayed}");
    // The key reached the provider, and nothing else: not the journal, CAS, snapshots or any
    // file of the world, not the commands' output.
    for (path, bytes) in all_bytes(&dir) {
        assert!(
            !contains(&bytes, KEY.as_bytes()),
            "the key is in {}",
            path.display()
        );
    }
    for printed in [&sent, &log, &replayed] {
        assert!(!printed.contains(KEY));
    }
    assert!(
        log.contains("\"kind\":\"snapshot\""),
        "a snapshot was written and checked"
    );
}

#[test]
fn summarizer_against_a_local_openai_compatible_server() {
    summarize("openai", 57, 11);
}

#[test]
fn summarizer_against_a_local_anthropic_compatible_server() {
    summarize("anthropic", 61, 12);
}
