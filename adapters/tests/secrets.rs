#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Secrets resolved at dispatch: env and file bindings, the node-local map, the digest check,
//! errors that never hold the value, and an `llm.generate` key taken from a secret.

mod http_server;
mod llm_fixture;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::{Value as Json, json};
use worldline_adapters::llm::{LlmAdapter, LlmConfig, LlmFailure, LlmJob, llm};
use worldline_adapters::secrets::{SecretConfig, SecretResolver};
use worldline_air::Hash;
use worldline_kernel::effects::secrets::SecretRef;

use http_server::{Reply, Server};
use llm_fixture::{Cas, error_of, plane, request};

const VALUE: &str = "s3cr3t-value-42";

fn defsecret(name: &str, binding: &str, digest: Option<Hash>) -> Json {
    let mut node = json!({"$kind": "defsecret", "name": name, "binding_id": binding});
    if let Some(digest) = digest {
        node["expected_digest"] = Json::String(digest.to_string());
    }
    node
}

fn secret_ref(alias: &str, version: u64) -> SecretRef {
    SecretRef {
        alias: alias.into(),
        version,
    }
}

/// A node that maps each of `sources` (used as the binding id itself) to that source.
fn node_mapping(sources: &[&str]) -> SecretResolver {
    let bindings = sources
        .iter()
        .map(|s| ((*s).to_owned(), (*s).to_owned()))
        .collect();
    SecretResolver::new(&SecretConfig { bindings }).unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    format!("file:{}", path.display())
}

#[test]
fn file_bindings_resolve_with_one_trailing_line_break_removed() {
    let dir = tempfile::tempdir().unwrap();
    let lf = write(dir.path(), "lf", &format!("{VALUE}\n"));
    let crlf = write(dir.path(), "crlf", &format!("{VALUE}\r\n"));
    let two = write(dir.path(), "two", &format!("{VALUE}\n\n"));
    let plane = plane(&[
        defsecret("demo/lf@1", &lf, None),
        defsecret("demo/crlf@1", &crlf, None),
        defsecret("demo/two@1", &two, None),
    ]);
    let resolver = node_mapping(&[&lf, &crlf, &two]);
    let read = |alias| resolver.resolve(&plane, &secret_ref(alias, 1)).unwrap();
    assert_eq!(read("demo/lf").expose(), VALUE.as_bytes());
    assert_eq!(read("demo/crlf").expose(), VALUE.as_bytes());
    assert_eq!(read("demo/two").expose(), format!("{VALUE}\n").as_bytes());
    assert_eq!(format!("{:?}", read("demo/lf")), "<redacted>");
}

#[test]
fn env_bindings_resolve_and_the_digest_is_checked() {
    // PATH is set wherever tests run; setting a variable of our own would need `unsafe`.
    let path = std::env::var_os("PATH").unwrap();
    let digest = Hash::of(path.as_encoded_bytes());
    let plane = plane(&[
        defsecret("demo/path@1", "env:PATH", Some(digest)),
        defsecret("demo/unset@1", "env:WORLDLINE_TEST_SURELY_UNSET_VAR", None),
    ]);
    // A binding id that names a source is not read unless the node maps it.
    let unmapped = SecretResolver::default()
        .resolve(&plane, &secret_ref("demo/path", 1))
        .unwrap_err();
    assert!(
        unmapped.to_string().contains("no source for the binding"),
        "{unmapped}"
    );
    let resolver = node_mapping(&["env:PATH", "env:WORLDLINE_TEST_SURELY_UNSET_VAR"]);
    let value = resolver
        .resolve(&plane, &secret_ref("demo/path", 1))
        .unwrap();
    assert_eq!(value.expose(), path.as_encoded_bytes());
    let error = resolver
        .resolve(&plane, &secret_ref("demo/unset", 1))
        .unwrap_err();
    assert_eq!(error.secret, "demo/unset@1");
    assert!(
        error
            .to_string()
            .contains("WORLDLINE_TEST_SURELY_UNSET_VAR is not set")
    );
}

#[test]
fn a_digest_mismatch_fails_without_the_value_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let binding = write(dir.path(), "key", VALUE);
    let plane = plane(&[
        defsecret("demo/good@1", &binding, Some(Hash::of(VALUE.as_bytes()))),
        defsecret("demo/drifted@1", &binding, Some(Hash::of(b"the old value"))),
    ]);
    let resolver = node_mapping(&[&binding]);
    assert!(
        resolver
            .resolve(&plane, &secret_ref("demo/good", 1))
            .is_ok()
    );
    let error = resolver
        .resolve(&plane, &secret_ref("demo/drifted", 1))
        .unwrap_err();
    let (display, debug) = (error.to_string(), format!("{error:?}"));
    for text in [&display, &debug] {
        assert!(
            text.contains("demo/drifted@1") && text.contains(&binding),
            "{text}"
        );
        assert!(!text.contains(VALUE), "{text}");
        assert!(
            !text.contains(&Hash::of(VALUE.as_bytes()).to_string()),
            "{text}"
        );
    }
    assert!(display.contains("expected_digest"), "{display}");
}

#[test]
fn logical_binding_ids_resolve_through_the_node_local_map() {
    let dir = tempfile::tempdir().unwrap();
    let source = write(dir.path(), "prod", VALUE);
    let plane = plane(&[
        defsecret("demo/prod@1", "openai-prod", None),
        defsecret("demo/unmapped@1", "openai-dev", None),
    ]);
    let config = SecretConfig {
        bindings: BTreeMap::from([("openai-prod".to_owned(), source)]),
    };
    let resolver = SecretResolver::new(&config).unwrap();
    let value = resolver
        .resolve(&plane, &secret_ref("demo/prod", 1))
        .unwrap();
    assert_eq!(value.expose(), VALUE.as_bytes());
    let error = resolver
        .resolve(&plane, &secret_ref("demo/unmapped", 1))
        .unwrap_err();
    assert_eq!(error.binding, "openai-dev");
    assert!(error.to_string().contains("--secret"), "{error}");
    let unknown = resolver
        .resolve(&plane, &secret_ref("demo/prod", 2))
        .unwrap_err();
    assert_eq!(
        (unknown.secret.as_str(), unknown.binding.as_str()),
        ("demo/prod@2", "")
    );

    let bad = SecretConfig {
        bindings: BTreeMap::from([("x".to_owned(), "vault:x".to_owned())]),
    };
    assert!(
        SecretResolver::new(&bad)
            .unwrap_err()
            .contains("env:NAME or file:PATH")
    );
}

fn llm_params(cas: &mut Cas, provider: &str, alias: &str) -> Json {
    json!({"provider": provider, "model": "m", "temperature": "0", "max_tokens": 8,
           "message_refs": [cas.message("user", "hi")],
           "api_key": {"$tag": "secret", "$value": {"alias": alias, "version": 1}}})
}

#[tokio::test]
async fn an_llm_key_from_a_secret_reaches_the_provider_and_nothing_else() {
    let server = Server::start(|_| {
        Reply::ok(
            json!({"choices": [{"message": {"content": "ok"}}],
                   "usage": {"prompt_tokens": 1, "completion_tokens": 1}})
            .to_string()
            .as_bytes(),
        )
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let binding = write(dir.path(), "key", &format!("{VALUE}\n"));
    let plane = plane(&[defsecret("demo/openai_key@1", &binding, None)]);
    let mut cas = Cas::default();
    let params = llm_params(&mut cas, "openai", "demo/openai_key");
    let request = request(&plane, &cas, &node_mapping(&[&binding]), params).unwrap();
    assert!(!format!("{request:?}").contains(VALUE));
    let config = LlmConfig {
        base_urls: BTreeMap::from([("openai".to_owned(), server.url("/v1"))]),
        ..LlmConfig::default()
    };
    let job = LlmJob {
        intent_hash: Hash::of(b"intent"),
        request,
    };
    let draft = llm(Arc::new(LlmAdapter::new(config).unwrap()), job).await;
    assert_eq!(draft.status, "ok");
    assert_eq!(
        server.seen()[0].headers["authorization"],
        format!("Bearer {VALUE}")
    );
    assert!(!format!("{draft:?}").contains(VALUE));
}

#[test]
fn an_unresolvable_llm_key_names_the_secret_and_binding_only() {
    let dir = tempfile::tempdir().unwrap();
    let binding = write(dir.path(), "key", VALUE);
    let plane = plane(&[defsecret(
        "demo/openai_key@1",
        &binding,
        Some(Hash::of(b"another value")),
    )]);
    let mut cas = Cas::default();
    let params = llm_params(&mut cas, "openai", "demo/openai_key");
    let error = request(&plane, &cas, &node_mapping(&[&binding]), params).unwrap_err();
    assert_eq!(error.code, LlmFailure::SecretUnresolved);
    assert!(error.message.contains("demo/openai_key@1") && error.message.contains(&binding));
    assert!(!error.message.contains(VALUE));
    let draft = worldline_adapters::llm::llm_draft(Hash::of(b"i"), "openai", 0, 1, Err(error));
    assert_eq!(draft.status, "error");
    let (code, message) = error_of(&draft.objects);
    assert_eq!(code, "secret_unresolved");
    assert!(!message.contains(VALUE) && !format!("{draft:?}").contains(VALUE));
}
