#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The `llm.generate` adapter against local OpenAI- and Anthropic-compatible servers on
//! 127.0.0.1, and the offline provider.

mod http_server;
mod llm_fixture;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value as Json, json};
use worldline_adapters::execute::{Draft, LLM_ADAPTER};
use worldline_adapters::llm::{
    LlmAdapter, LlmConfig, LlmFailure, LlmJob, LlmPrice, LlmRequest, Message, Role, llm, llm_draft,
};
use worldline_adapters::secrets::SecretResolver;
use worldline_air::{Hash, Value};

use http_server::{Reply, Seen, Server};
use llm_fixture::{Cas, error_of, output_message, plane, request};

const KEY: &str = "sk-test-0123456789";

fn adapter(config: LlmConfig) -> Arc<LlmAdapter> {
    Arc::new(LlmAdapter::new(config).unwrap())
}

fn config_for(provider: &str, server: &Server) -> LlmConfig {
    LlmConfig {
        base_urls: BTreeMap::from([(provider.to_owned(), server.url("/v1"))]),
        ..LlmConfig::default()
    }
}

async fn run(adapter: &Arc<LlmAdapter>, request: LlmRequest) -> Draft {
    let job = LlmJob {
        intent_hash: Hash::of(b"intent"),
        request,
    };
    llm(Arc::clone(adapter), job).await
}

fn nat(value: &Value, path: &[&str]) -> u64 {
    let mut at = value;
    for field in path {
        at = at.field(field).unwrap();
    }
    match at {
        Value::Nat(n) => *n,
        other => panic!("not a nat: {other:?}"),
    }
}

/// Checks what every draft holds: the adapter, `output_ref` = hash of the one object, the cost
/// in both places, and the provider id.
fn check_draft(draft: &Draft, status: &str, provider: &str) {
    assert_eq!(draft.adapter_id, LLM_ADAPTER);
    assert_eq!(draft.status, status);
    assert_eq!(
        draft.payload.field("output_ref"),
        Some(&Value::Hash(Hash::of(&draft.objects[0])))
    );
    assert_eq!(draft.cost_cents, Some(nat(&draft.payload, &["cost_cents"])));
    assert_eq!(
        draft.payload.field("provider_id"),
        Some(&Value::Text(provider.to_owned()))
    );
}

fn tokens(draft: &Draft) -> (u64, u64) {
    (
        nat(&draft.payload, &["token_usage", "prompt"]),
        nat(&draft.payload, &["token_usage", "completion"]),
    )
}

fn body(seen: &Seen) -> Json {
    serde_json::from_slice(&seen.body).unwrap()
}

#[tokio::test]
async fn openai_request_and_receipt() {
    let server = Server::start(|_| {
        Reply::ok(
            json!({"id": "chatcmpl-1", "choices": [{"index": 0,
                   "message": {"role": "assistant", "content": "Hello there"}}],
                   "usage": {"prompt_tokens": 12, "completion_tokens": 3}})
            .to_string()
            .as_bytes(),
        )
    })
    .await;
    let plane = plane(&[]);
    let mut cas = Cas::default();
    let system = cas.message("system", "be brief");
    let user = Json::String(cas.put(b"not json: say hi").to_string());
    let params = json!({"provider": "openai", "model": "gpt-test", "temperature": "0.25",
                        "max_tokens": 64, "message_refs": [system, user],
                        "api_key": {"$tag": "literal", "$value": KEY}});
    let request = request(&plane, &cas, &SecretResolver::default(), params).unwrap();
    assert!(!format!("{request:?}").contains(KEY), "Debug hides the key");
    let mut config = config_for("openai", &server);
    let price = LlmPrice {
        prompt_cents_per_mtok: 150,
        completion_cents_per_mtok: 600,
    };
    config.prices.insert("gpt-test".into(), price);
    let draft = run(&adapter(config), request).await;

    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        (seen[0].method.as_str(), seen[0].target.as_str()),
        ("POST", "/v1/chat/completions")
    );
    assert_eq!(seen[0].headers["authorization"], format!("Bearer {KEY}"));
    assert_eq!(
        body(&seen[0]),
        json!({"model": "gpt-test", "max_tokens": 64, "temperature": 0.25, "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "not json: say hi"}]})
    );
    check_draft(&draft, "ok", "openai");
    assert_eq!(
        draft.objects[0],
        br#"{"role":"assistant","content":"Hello there"}"#
    );
    let output = output_message(&draft.objects);
    assert_eq!(
        (output.role, output.content.as_str()),
        (Role::Assistant, "Hello there")
    );
    assert_eq!(tokens(&draft), (12, 3));
    // ⌈(12 × 150 + 3 × 600) / 1,000,000⌉ = 1 cent.
    assert_eq!(draft.cost_cents, Some(1));
    assert!(!format!("{draft:?}").contains(KEY));
}

#[tokio::test]
async fn anthropic_puts_system_messages_at_the_top() {
    let server = Server::start(|_| {
        Reply::ok(
            json!({"id": "msg_1", "type": "message", "role": "assistant",
                   "content": [{"type": "text", "text": "Hel"}, {"type": "text", "text": "lo"}],
                   "usage": {"input_tokens": 20, "output_tokens": 2}})
            .to_string()
            .as_bytes(),
        )
    })
    .await;
    let plane = plane(&[]);
    let mut cas = Cas::default();
    let refs = [
        cas.message("system", "be brief"),
        cas.message("user", "hi"),
        cas.message("assistant", "hello?"),
        cas.message("system", "and kind"),
        cas.message("user", "again"),
    ];
    let params = json!({"provider": "anthropic", "model": "claude-test", "temperature": "1",
                        "max_tokens": 100, "message_refs": refs,
                        "api_key": {"$tag": "literal", "$value": KEY}});
    let request = request(&plane, &cas, &SecretResolver::default(), params).unwrap();
    let draft = run(&adapter(config_for("anthropic", &server)), request).await;

    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].target, "/v1/messages");
    assert_eq!(seen[0].headers["x-api-key"], KEY);
    assert_eq!(seen[0].headers["anthropic-version"], "2023-06-01");
    assert!(!seen[0].headers.contains_key("authorization"));
    assert_eq!(
        body(&seen[0]),
        json!({"model": "claude-test", "max_tokens": 100, "temperature": 1,
               "system": "be brief\n\nand kind", "messages": [
                   {"role": "user", "content": "hi"},
                   {"role": "assistant", "content": "hello?"},
                   {"role": "user", "content": "again"}]})
    );
    check_draft(&draft, "ok", "anthropic");
    assert_eq!(output_message(&draft.objects).content, "Hello");
    assert_eq!(tokens(&draft), (20, 2));
    assert_eq!(draft.cost_cents, Some(0), "no price configured");
}

#[tokio::test]
async fn a_network_provider_without_a_key_sends_nothing() {
    let server = Server::start(|_| Reply::ok(b"{}")).await;
    let plane = plane(&[]);
    let mut cas = Cas::default();
    let refs = [cas.message("user", "hi")];
    for provider in ["openai", "anthropic"] {
        let params = json!({"provider": provider, "model": "m", "temperature": "0",
                            "max_tokens": 8, "message_refs": refs});
        let request = request(&plane, &cas, &SecretResolver::default(), params).unwrap();
        let draft = run(&adapter(config_for(provider, &server)), request).await;
        check_draft(&draft, "error", provider);
        assert_eq!(error_of(&draft.objects).0, "key_missing");
        assert_eq!(tokens(&draft), (0, 0));
        assert_eq!(draft.cost_cents, Some(0));
    }
    assert!(server.seen().is_empty(), "no request reached the server");
}

#[tokio::test]
async fn a_provider_error_is_an_error_receipt_without_the_key() {
    // The provider echoes the key, as some do in their 401s.
    let server = Server::start(|_| {
        Reply::ok(format!("{{\"error\": \"internal; key {KEY} is fine\"}}").as_bytes()).status(500)
    })
    .await;
    let plane = plane(&[]);
    let mut cas = Cas::default();
    let params = json!({"provider": "openai", "model": "m", "temperature": "0.5",
                        "max_tokens": 8, "message_refs": [cas.message("user", "hi")],
                        "api_key": {"$tag": "literal", "$value": KEY}});
    let request = request(&plane, &cas, &SecretResolver::default(), params).unwrap();
    let draft = run(&adapter(config_for("openai", &server)), request).await;
    assert_eq!(server.seen().len(), 1);
    check_draft(&draft, "error", "openai");
    let (code, message) = error_of(&draft.objects);
    assert_eq!(code, "provider_status");
    assert!(message.contains("500"), "{message}");
    assert!(message.contains("<redacted>"), "{message}");
    assert!(!message.contains(KEY) && !format!("{draft:?}").contains(KEY));
}

#[tokio::test]
async fn no_answer_within_the_deadline_is_a_timeout() {
    let server = Server::start(|_| Reply::ok(b"{}").delay(Duration::from_secs(5))).await;
    let plane = plane(&[]);
    let mut cas = Cas::default();
    let params = json!({"provider": "openai", "model": "m", "temperature": "0",
                        "max_tokens": 8, "message_refs": [cas.message("user", "hi")],
                        "api_key": {"$tag": "literal", "$value": KEY}});
    let request = request(&plane, &cas, &SecretResolver::default(), params).unwrap();
    let config = LlmConfig {
        timeout_ms: 200,
        ..config_for("openai", &server)
    };
    let draft = run(&adapter(config), request).await;
    check_draft(&draft, "timeout", "openai");
    assert_eq!(error_of(&draft.objects).0, "timeout");
}

#[tokio::test]
async fn offline_is_deterministic_and_needs_no_network_or_key() {
    let plane = plane(&[]);
    let mut cas = Cas::default();
    let refs = [
        cas.message("system", "summarize"),
        cas.message("user", "the quick brown fox jumps"),
    ];
    let params = json!({"provider": "offline", "model": "any", "temperature": "0.9",
                        "max_tokens": 3, "message_refs": refs});
    let adapter = adapter(LlmConfig::default());
    let first = run(
        &adapter,
        request(&plane, &cas, &SecretResolver::default(), params.clone()).unwrap(),
    )
    .await;
    let second = run(
        &adapter,
        request(&plane, &cas, &SecretResolver::default(), params).unwrap(),
    )
    .await;
    check_draft(&first, "ok", "offline");
    assert_eq!(
        first.objects, second.objects,
        "same input, same output bytes"
    );
    assert_eq!(first.payload, second.payload);
    assert_eq!(
        output_message(&first.objects).content,
        "offline summary: the quick brown"
    );
    // prompt: 1 + 5 words; completion: the 3 words taken.
    assert_eq!(tokens(&first), (6, 3));
}

#[tokio::test]
async fn an_output_can_be_fed_back_as_a_message() {
    let plane = plane(&[]);
    let mut cas = Cas::default();
    let adapter = adapter(LlmConfig::default());
    let params = json!({"provider": "offline", "model": "m", "temperature": "0",
                        "max_tokens": 10, "message_refs": [cas.message("user", "one two")]});
    let draft = run(
        &adapter,
        request(&plane, &cas, &SecretResolver::default(), params).unwrap(),
    )
    .await;
    let output = cas.put(&draft.objects[0]);
    let params = json!({"provider": "offline", "model": "m", "temperature": "0",
                        "max_tokens": 10, "message_refs": [output.to_string()]});
    let request = request(&plane, &cas, &SecretResolver::default(), params).unwrap();
    assert_eq!(
        request.messages,
        [Message {
            role: Role::Assistant,
            content: "offline summary: one two".into()
        }]
    );
}

#[tokio::test]
async fn unknown_provider_missing_blob_and_tools_fail() {
    let plane = plane(&[]);
    let mut cas = Cas::default();
    let hi = cas.message("user", "hi");
    let params = json!({"provider": "mystery", "model": "m", "temperature": "0",
                        "max_tokens": 8, "message_refs": [hi.clone()]});
    let request_ok = request(&plane, &cas, &SecretResolver::default(), params).unwrap();
    let draft = run(&adapter(LlmConfig::default()), request_ok).await;
    check_draft(&draft, "error", "mystery");
    assert_eq!(error_of(&draft.objects).0, "provider_unknown");

    let missing = Hash::of(b"never stored").to_string();
    let params = json!({"provider": "offline", "model": "m", "temperature": "0",
                        "max_tokens": 8, "message_refs": [hi.clone(), missing]});
    let error = request(&plane, &cas, &SecretResolver::default(), params).unwrap_err();
    assert_eq!(error.code, LlmFailure::MessageMissing);
    assert!(
        error.message.contains("message_refs[1]"),
        "{}",
        error.message
    );
    let draft = llm_draft(Hash::of(b"i"), "offline", 0, 1, Err(error));
    check_draft(&draft, "error", "offline");
    assert_eq!(error_of(&draft.objects).0, "message_missing");

    let params = json!({"provider": "offline", "model": "m", "temperature": "0",
                        "max_tokens": 8, "message_refs": [hi],
                        "tool_choice": {"$tag": "Tool", "$value": {"name": "search"}}});
    let error = request(&plane, &cas, &SecretResolver::default(), params).unwrap_err();
    assert_eq!(error.code, LlmFailure::ToolsUnsupported);
}
