#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use worldline_air::patch::PatchDoc;
use worldline_air::{Hash, Value};

use super::check_governance;
use crate::governance::{GovState, Proposal, ProposalStatus};

fn zero() -> String {
    format!("sha256:{}", "0".repeat(64))
}

fn texts(words: &[&str]) -> Value {
    Value::Set(words.iter().map(|w| Value::Text((*w).to_owned())).collect())
}

/// A grant with the given restrictions (`None`: the field absent).
fn grant(ops: &[&str], kinds: &[&str], prefixes: &[&str], sections: &[&str]) -> Value {
    let mut fields = std::collections::BTreeMap::new();
    for (name, words) in [
        ("ops", ops),
        ("def_kinds", kinds),
        ("name_prefixes", prefixes),
        ("manifest_sections", sections),
    ] {
        if !words.is_empty() {
            fields.insert(name.to_owned(), texts(words));
        }
    }
    Value::Record(fields)
}

fn patch_json(ops: serde_json::Value) -> serde_json::Value {
    json!({"version": "1", "base_manifest_hash": zero(), "patches": ops})
}

fn add_plan(name: &str) -> serde_json::Value {
    json!({"add_def": {"kind": "defplan", "node": {"$kind": "defplan", "name": name}}})
}

fn propose(doc: &serde_json::Value) -> Value {
    Value::record([(
        "patch",
        Value::Variant {
            tag: "patch_doc_json".into(),
            value: Some(Box::new(Value::Bytes(doc.to_string().into_bytes()))),
        },
    )])
}

fn code(result: Result<(), super::Denial>) -> &'static str {
    match result {
        Ok(()) => "allowed",
        Err(denial) => denial.code,
    }
}

#[test]
fn an_open_grant_admits_every_operation_and_patch_form() {
    let gov = GovState::default();
    let open = grant(&[], &[], &[], &[]);
    let by_hash = Value::record([(
        "patch",
        Value::Variant {
            tag: "hash".into(),
            value: Some(Box::new(Value::Hash(Hash::ZERO))),
        },
    )]);
    assert_eq!(
        code(check_governance(
            &open,
            "governance.propose",
            &by_hash,
            &gov
        )),
        "allowed"
    );
    let id = Value::record([("proposal_id", Value::Nat(9))]);
    assert_eq!(
        code(check_governance(&open, "governance.apply", &id, &gov)),
        "allowed"
    );
}

#[test]
fn ops_restrict_the_operations() {
    let gov = GovState::default();
    let only_propose = grant(&["propose", "shadow"], &[], &[], &[]);
    let id = Value::record([("proposal_id", Value::Nat(1))]);
    let doc = patch_json(json!([add_plan("agent/x@1")]));
    assert_eq!(
        code(check_governance(
            &only_propose,
            "governance.propose",
            &propose(&doc),
            &gov
        )),
        "allowed"
    );
    assert_eq!(
        code(check_governance(
            &only_propose,
            "governance.approve",
            &id,
            &gov
        )),
        "op_not_allowed"
    );
    assert_eq!(
        code(check_governance(
            &only_propose,
            "governance.apply",
            &id,
            &gov
        )),
        "op_not_allowed"
    );
}

#[test]
fn a_patch_is_judged_by_kinds_names_and_sections() {
    let gov = GovState::default();
    let narrow = grant(&[], &["defplan", "defschema"], &["agent/"], &["triggers"]);
    let judge = |ops: serde_json::Value| {
        code(check_governance(
            &narrow,
            "governance.propose",
            &propose(&patch_json(ops)),
            &gov,
        ))
    };
    assert_eq!(judge(json!([add_plan("agent/x@1")])), "allowed");
    assert_eq!(judge(json!([add_plan("other/x@1")])), "name_not_allowed");
    assert_eq!(
        judge(json!([{"remove_def": {"kind": "defcap", "name": "agent/c@1", "pre_hash": zero()}}])),
        "def_kind_not_allowed"
    );
    assert_eq!(
        judge(
            json!([add_plan("agent/x@1"), {"set_triggers": {"pre_hash": zero(), "triggers": []}}])
        ),
        "allowed"
    );
    assert_eq!(
        judge(json!([{"set_defaults": {"policy": null}}])),
        "manifest_section_not_allowed"
    );
    // Listing a built-in is a definition change too.
    assert_eq!(
        judge(
            json!([{"set_manifest_refs": {"add": [{"kind": "defeffect", "name": "sys/http.request@1", "hash": zero()}]}}])
        ),
        "def_kind_not_allowed"
    );
}

#[test]
fn a_restricted_grant_without_sections_admits_no_section_rewrite() {
    let gov = GovState::default();
    let plans_only = grant(&[], &["defplan"], &[], &[]);
    let doc = patch_json(json!([{"set_routing_events": {"pre_hash": zero(), "events": []}}]));
    assert_eq!(
        code(check_governance(
            &plans_only,
            "governance.propose",
            &propose(&doc),
            &gov
        )),
        "manifest_section_not_allowed"
    );
}

#[test]
fn a_restricted_grant_refuses_what_it_cannot_read() {
    let gov = GovState::default();
    let narrow = grant(&[], &["defplan"], &[], &[]);
    let by_hash = Value::record([(
        "patch",
        Value::Variant {
            tag: "hash".into(),
            value: Some(Box::new(Value::Hash(Hash::ZERO))),
        },
    )]);
    assert_eq!(
        code(check_governance(
            &narrow,
            "governance.propose",
            &by_hash,
            &gov
        )),
        "patch_not_inline"
    );
    let garbage = Value::record([(
        "patch",
        Value::Variant {
            tag: "patch_doc_json".into(),
            value: Some(Box::new(Value::Bytes(b"{not json".to_vec()))),
        },
    )]);
    assert_eq!(
        code(check_governance(
            &narrow,
            "governance.propose",
            &garbage,
            &gov
        )),
        "patch_invalid"
    );
    let id = Value::record([("proposal_id", Value::Nat(4))]);
    assert_eq!(
        code(check_governance(&narrow, "governance.approve", &id, &gov)),
        "proposal_unknown"
    );
}

#[test]
fn later_operations_are_judged_by_the_proposal_they_name() {
    let mut gov = GovState::default();
    let widening =
        PatchDoc::from_json(&patch_json(json!([{"set_defaults": {"cap_grants": []}}]))).unwrap();
    let planning = PatchDoc::from_json(&patch_json(json!([add_plan("agent/y@1")]))).unwrap();
    for (id, doc) in [(1, widening), (2, planning)] {
        gov.insert(Proposal {
            id,
            proposed_seq: id,
            patch_hash: doc.hash(),
            base: Hash::ZERO,
            candidate: Hash::ZERO,
            status: ProposalStatus::Shadowed,
            shadow_seq: Some(id + 10),
            scope: Some(doc.scope()),
        });
    }
    let approver = grant(&["approve", "apply"], &["defplan"], &["agent/"], &[]);
    let id = |n| Value::record([("proposal_id", Value::Nat(n))]);
    assert_eq!(
        code(check_governance(
            &approver,
            "governance.approve",
            &id(1),
            &gov
        )),
        "manifest_section_not_allowed"
    );
    assert_eq!(
        code(check_governance(
            &approver,
            "governance.approve",
            &id(2),
            &gov
        )),
        "allowed"
    );
    assert_eq!(
        code(check_governance(
            &approver,
            "governance.apply",
            &id(2),
            &gov
        )),
        "allowed"
    );
}
