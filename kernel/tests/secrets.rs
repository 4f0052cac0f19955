#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The `secret` admission stage: every code, the walk that finds references wherever the params
//! schema puts them, and no extra decision when params name no secret.

use serde_json::{Value as Json, json};
use worldline_air::load::{SourceFile, load_sources};
use worldline_air::plane::BuildOptions;
use worldline_air::{ControlPlane, Hash, Name, TypeExpr, Value};
use worldline_kernel::effects::secrets::{SecretRef, check_secrets, code, secret_refs};
use worldline_kernel::effects::{AdmissionContext, CapRef, EffectsState, IntentRequest, admit};
use worldline_kernel::governance::GovState;
use worldline_kernel::record::{EffectIntentBody, Origin, OriginKind};

/// A world with two plans, two `llm.basic` grants, an allow-all policy and three secrets: one
/// open to all, one restricted to grant `llm_a` and plan `demo/chat@1`, one with empty lists.
fn plane() -> ControlPlane {
    let nodes = json!([
        {"$kind": "manifest", "air_version": "1",
         "schemas": [{"name": "demo/Start@1"}, {"name": "demo/Deep@1"}],
         "modules": [{"name": "sys/CapEnforceLlmBasic@1"}],
         "plans": [{"name": "demo/chat@1"}, {"name": "demo/other@1"}],
         "effects": [{"name": "sys/llm.generate@1"}],
         "caps": [{"name": "sys/llm.basic@1"}],
         "policies": [{"name": "demo/allow@1"}],
         "secrets": [{"name": "demo/open_key@1"}, {"name": "demo/locked_key@2"},
                     {"name": "demo/nobody_key@1"}],
         "defaults": {"policy": "demo/allow@1", "cap_grants": [
             {"name": "llm_a", "cap": "sys/llm.basic@1", "params": {"record": {}}},
             {"name": "llm_b", "cap": "sys/llm.basic@1", "params": {"record": {}}}]}},
        {"$kind": "defschema", "name": "demo/Start@1", "type": {"record": {}}},
        {"$kind": "defschema", "name": "demo/Deep@1", "type": {"record": {
            "keys": {"list": {"ref": "sys/TextOrSecretRef@1"}},
            "by_name": {"map": {"key": {"text": {}}, "value": {"ref": "sys/SecretRef@1"}}},
            "maybe": {"option": {"ref": "sys/BytesOrSecretRef@1"}}}}},
        plan("demo/chat@1"),
        plan("demo/other@1"),
        {"$kind": "defpolicy", "name": "demo/allow@1",
         "rules": [{"when": {}, "decision": "allow"}]},
        {"$kind": "defsecret", "name": "demo/open_key@1", "binding_id": "env:OPEN_KEY"},
        {"$kind": "defsecret", "name": "demo/locked_key@2", "binding_id": "file:/run/key",
         "allowed_caps": ["llm_a"], "allowed_plans": ["demo/chat@1"]},
        {"$kind": "defsecret", "name": "demo/nobody_key@1", "binding_id": "vault-7",
         "allowed_caps": [], "allowed_plans": []}
    ]);
    let file = SourceFile {
        name: "world.air.json".into(),
        text: nodes.to_string(),
    };
    load_sources(&[file], &BuildOptions::default()).unwrap()
}

/// A plan that may emit `llm.generate` under either grant.
fn plan(name: &str) -> Json {
    let params = json!({"provider": "offline", "model": "m", "temperature": "0",
                        "max_tokens": 1, "message_refs": []});
    let emit = |id: &str, grant: &str| {
        json!({"id": id, "op": "emit_effect", "kind": "llm.generate", "params": params,
               "cap": grant, "bind": {"effect_id_as": id}})
    };
    json!({"$kind": "defplan", "name": name, "input": "demo/Start@1",
           "steps": [emit("a", "llm_a"), emit("b", "llm_b"), {"id": "done", "op": "end"}],
           "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "done"}],
           "required_caps": ["llm_a", "llm_b"], "allowed_effects": ["llm.generate"]})
}

struct NoPureModules;

impl worldline_kernel::effects::EnforcerRunner for NoPureModules {
    fn run_enforcer(&self, module: &Name, _input: &[u8]) -> Result<Vec<u8>, String> {
        Err(format!("{module}: no pure modules here"))
    }
}

fn schema<'p>(plane: &'p ControlPlane, name: &str) -> &'p TypeExpr {
    plane.schema_type_of(&Name::parse(name).unwrap()).unwrap()
}

/// `llm.generate` params whose `api_key` is `api_key` (plain JSON lens).
fn llm_params(plane: &ControlPlane, api_key: Json) -> Vec<u8> {
    let json = json!({"provider": "openai", "model": "m", "temperature": "0.5",
                      "max_tokens": 10, "message_refs": [], "api_key": api_key});
    Value::from_plain_json(&json, schema(plane, "sys/LlmGenerateParams@1"), plane)
        .unwrap()
        .to_cbor_body()
}

fn secret(alias: &str, version: u64) -> Json {
    json!({"$tag": "secret", "$value": {"alias": alias, "version": version}})
}

fn plan_origin(name: &str) -> Origin {
    Origin {
        kind: OriginKind::Plan,
        name: Name::parse(name).unwrap(),
        key: None,
    }
}

/// Admits an `llm.generate` intent; returns (allowed, [(stage, code)…]).
fn decide(
    plane: &ControlPlane,
    grant: &str,
    plan: &str,
    api_key: Json,
) -> (bool, Vec<(String, String)>) {
    let effects = EffectsState::default();
    let ctx = AdmissionContext {
        plane,
        logical_now_ns: 1,
        effects: &effects,
        enforcers: &NoPureModules,
        governance: &GovState::default(),
    };
    let params = llm_params(plane, api_key);
    let request = IntentRequest {
        kind: "llm.generate",
        params: &params,
        cap: CapRef::Grant(grant),
        idempotency_key: None,
        origin: plan_origin(plan),
    };
    let admission = admit(&ctx, &request);
    let stages = admission
        .decisions
        .iter()
        .map(|d| (d.stage.to_owned(), d.code.clone()))
        .collect();
    (admission.allowed(), stages)
}

fn stages(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(s, c)| ((*s).to_owned(), (*c).to_owned()))
        .collect()
}

#[test]
fn no_secret_ref_means_no_secret_decision() {
    let plane = plane();
    let expected = stages(&[("capability", "allowed"), ("policy", "allowed")]);
    assert_eq!(
        decide(&plane, "llm_a", "demo/chat@1", Json::Null),
        (true, expected.clone())
    );
    let literal = json!({"$tag": "literal", "$value": "sk-literal"});
    assert_eq!(
        decide(&plane, "llm_a", "demo/chat@1", literal),
        (true, expected)
    );
}

#[test]
fn allowed_when_every_acl_admits() {
    let plane = plane();
    let expected = stages(&[
        ("capability", "allowed"),
        ("policy", "allowed"),
        ("secret", "allowed"),
    ]);
    let open = secret("demo/open_key", 1);
    assert_eq!(
        decide(&plane, "llm_b", "demo/other@1", open),
        (true, expected.clone())
    );
    let locked = secret("demo/locked_key", 2);
    assert_eq!(
        decide(&plane, "llm_a", "demo/chat@1", locked),
        (true, expected)
    );
}

#[test]
fn each_denial_code() {
    let plane = plane();
    let denied = |code: &str| {
        (
            false,
            stages(&[
                ("capability", "allowed"),
                ("policy", "allowed"),
                ("secret", code),
            ]),
        )
    };
    // Unknown alias, unknown version of a known alias, and an alias that is not a name.
    for unknown in [
        secret("demo/missing", 1),
        secret("demo/open_key", 2),
        secret("not a name", 1),
    ] {
        assert_eq!(
            decide(&plane, "llm_a", "demo/chat@1", unknown),
            denied(code::SECRET_UNKNOWN)
        );
    }
    let locked = secret("demo/locked_key", 2);
    assert_eq!(
        decide(&plane, "llm_b", "demo/chat@1", locked.clone()),
        denied(code::SECRET_CAP_NOT_ALLOWED)
    );
    assert_eq!(
        decide(&plane, "llm_a", "demo/other@1", locked),
        denied(code::SECRET_PLAN_NOT_ALLOWED)
    );
    // Present but empty lists admit nothing; the cap check comes first.
    assert_eq!(
        decide(&plane, "llm_a", "demo/chat@1", secret("demo/nobody_key", 1)),
        denied(code::SECRET_CAP_NOT_ALLOWED)
    );
}

fn intent(plane: &ControlPlane, origin: Origin, grant: &str, api_key: Json) -> EffectIntentBody {
    EffectIntentBody {
        intent_hash: Hash::ZERO,
        kind: "llm.generate".into(),
        params: llm_params(plane, api_key),
        cap: grant.into(),
        idempotency_key: [0; 32],
        origin,
    }
}

#[test]
fn a_reducer_origin_is_refused_when_allowed_plans_is_present() {
    let plane = plane();
    let ty = schema(&plane, "sys/LlmGenerateParams@1");
    let reducer = Origin {
        kind: OriginKind::Reducer,
        name: Name::parse("demo/chat@1").unwrap(),
        key: None,
    };
    for (alias, version, code) in [
        ("demo/locked_key", 2, code::SECRET_PLAN_NOT_ALLOWED),
        ("demo/open_key", 1, "allowed"),
    ] {
        let body = intent(&plane, reducer.clone(), "llm_a", secret(alias, version));
        let params = Value::from_cbor_bytes(&body.params, ty, &plane).unwrap();
        let decision = check_secrets(&plane, ty, &params, &body).unwrap();
        assert_eq!((decision.stage, decision.code.as_str()), ("secret", code));
    }
}

#[test]
fn the_walk_finds_refs_in_lists_maps_options_and_variants() {
    let plane = plane();
    let ty = schema(&plane, "demo/Deep@1");
    let json = json!({
        "keys": [{"$tag": "literal", "$value": "x"}, secret("demo/a", 1), secret("demo/b", 2)],
        "by_name": {"k": {"alias": "demo/c", "version": 3}},
        "maybe": secret("demo/d", 4),
    });
    let value = Value::from_plain_json(&json, ty, &plane).unwrap();
    let found: Vec<String> = secret_refs(&plane, ty, &value)
        .iter()
        .map(SecretRef::def_name)
        .collect();
    // Record fields in name order: by_name, keys, maybe.
    assert_eq!(found, ["demo/c@3", "demo/a@1", "demo/b@2", "demo/d@4"]);
    let none = Value::from_plain_json(&json!({"keys": [], "by_name": {}}), ty, &plane).unwrap();
    assert!(secret_refs(&plane, ty, &none).is_empty());
}

#[test]
fn the_first_failing_ref_decides() {
    let plane = plane();
    let ty = schema(&plane, "demo/Deep@1");
    let json = json!({"keys": [secret("demo/open_key", 1), secret("demo/missing", 1),
                                secret("demo/locked_key", 2)],
                      "by_name": {}});
    let value = Value::from_plain_json(&json, ty, &plane).unwrap();
    let body = intent(&plane, plan_origin("demo/other@1"), "llm_b", Json::Null);
    let decision = check_secrets(&plane, ty, &value, &body).unwrap();
    assert!(!decision.allowed);
    assert_eq!(decision.code, code::SECRET_UNKNOWN);
    assert!(
        decision.detail.contains("demo/missing@1"),
        "{}",
        decision.detail
    );
}
