//! In-world governance: the `governance.propose/shadow/approve/apply` effects a plan emits.
//!
//! Admission (grant, the `sys/governance@1` enforcer, policy) happened when the plan emitted
//! the intent. Executing it runs the same checked operation as `world propose/shadow/approve/
//! apply` and journals its record *and* the signed receipt that closes the intent in one durable
//! commit: a crash leaves both or neither (and then the intent is dispatched again), so an
//! operation is never done twice nor its receipt lost. An operation the lifecycle refuses
//! (approve before shadow, a stale base, a patch that does not compile, …) journals no
//! governance record and answers with an `error` receipt whose `error` says why.

use serde_json::Value as Json;
use worldline_air::cbor::{cbor_to_json, decode};
use worldline_air::{Hash, TypeExpr, Value};

use super::governance::GovInput;
use super::shadow::ShadowInput;
use super::{Ingress, World};
use crate::effects::receipt;
use crate::error::{KernelError, Result};
use crate::governance::canned::canned_value;
use crate::governance::report::ShadowReport;
use crate::record::{RECEIPT_ERROR_BYTES_MAX, ReceiptBody, RecordBody};
use crate::store::Store;

/// How many recent inputs an in-world `governance.shadow` replays (as `world shadow` does by
/// default).
pub const IN_WORLD_SHADOW_INPUTS: u64 = 100;
/// The longest patch document an in-world proposal may bring, in bytes.
pub const IN_WORLD_PATCH_BYTES_MAX: usize = 1 << 20;

/// What an executed governance intent journaled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GovEffectDone {
    /// The governance record's seq (none when the operation was refused).
    pub gov_seq: Option<u64>,
    /// The receipt's seq.
    pub receipt_seq: u64,
    /// Records the receipt caused.
    pub caused: usize,
    /// `ok` or `error`.
    pub status: &'static str,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

/// The outcome of one operation: its staged record and receipt payload, or why it was refused.
struct Outcome {
    staged: Option<GovInput>,
    payload: Value,
    error: Option<String>,
}

impl World {
    /// Executes the open `governance.*` intent `intent_hash`: the operation, then its receipt
    /// (built here, signed by `sign` as adapter `adapter_id`), journaled together.
    pub fn execute_governance(
        &mut self,
        intent_hash: &Hash,
        adapter_id: &str,
        sign: &dyn Fn(&mut ReceiptBody),
        ingress: Ingress,
    ) -> Result<GovEffectDone> {
        let open = self
            .stepper
            .effects()
            .open_intent(intent_hash)
            .cloned()
            .ok_or_else(|| KernelError::Rejected(format!("no open intent {intent_hash}")))?;
        let params = self.intent_params(&open.intent.kind, &open.intent.params)?;
        let outcome = match self.governance_op(&open.intent.kind, &params, open.seq, ingress) {
            Ok(outcome) => outcome,
            Err(error) if is_refusal(&error) => Outcome {
                staged: None,
                payload: self.refused_payload(&open.intent.kind, &params),
                error: Some(one_line(&error.to_string())),
            },
            Err(error) => return Err(error),
        };
        let status = if outcome.error.is_some() {
            "error"
        } else {
            "ok"
        };
        let payload = self.receipt_payload(&open.intent.kind, &outcome.payload)?;
        let mut receipt = ReceiptBody {
            intent_hash: *intent_hash,
            adapter_id: adapter_id.to_owned(),
            status: status.to_owned(),
            payload,
            cost_cents: None,
            started_ns: ingress.now_ns,
            finished_ns: ingress.now_ns,
            error: outcome.error.clone(),
            signature: Vec::new(),
        };
        sign(&mut receipt);
        let checked = receipt::check(self.plane(), self.stepper.effects(), receipt)?;
        // The receipt is a second input of the same commit; its entropy is derived from the
        // operation's so no two inputs share a stamp.
        let rider_ingress = Ingress {
            now_ns: ingress.now_ns,
            entropy: *Hash::of_parts(&[&ingress.entropy, b"worldline/governance-receipt"])
                .as_bytes(),
        };
        let rider = (RecordBody::Receipt(checked), vec![open.seq], rider_ingress);
        let (gov_seq, receipt_seqs) = match outcome.staged {
            Some(staged) => {
                let mut appended = self.journal_gov(staged, Some(rider), ingress)?;
                let receipt_seqs = appended.pop().unwrap_or_default();
                (
                    appended.first().and_then(|s| s.first()).copied(),
                    receipt_seqs,
                )
            }
            None => {
                let mut appended =
                    self.append_inputs(vec![(rider.0, rider.1, ingress)], Vec::new(), true)?;
                (None, appended.pop().unwrap_or_default())
            }
        };
        Ok(GovEffectDone {
            gov_seq,
            receipt_seq: receipt_seqs.first().copied().unwrap_or_default(),
            caused: receipt_seqs.len().saturating_sub(1),
            status,
            error: outcome.error,
        })
    }

    /// A payload in its canonical form under the effect's receipt schema.
    fn receipt_payload(&self, kind: &str, payload: &Value) -> Result<Vec<u8>> {
        let plane = self.plane();
        let ty = plane
            .effect_by_kind(kind)
            .and_then(|e| plane.schema_type_of(&e.receipt_schema))
            .cloned()
            .unwrap_or(TypeExpr::Unit);
        let value = Value::from_cbor_bytes(&payload.to_cbor_body(), &ty, plane)
            .map_err(|e| KernelError::Corrupt(format!("{kind} receipt payload: {e}")))?;
        Ok(value.to_cbor_body())
    }

    fn intent_params(&self, kind: &str, params: &[u8]) -> Result<Value> {
        let plane = self.plane();
        let effect = plane
            .effect_by_kind(kind)
            .ok_or_else(|| KernelError::Rejected(format!("effect {kind} is not listed")))?;
        let ty = plane
            .schema_type_of(&effect.params_schema)
            .cloned()
            .unwrap_or(TypeExpr::Unit);
        Value::from_cbor_bytes(params, &ty, plane)
            .map_err(|e| KernelError::Corrupt(format!("{kind} params: {e}")))
    }

    fn governance_op(
        &mut self,
        kind: &str,
        params: &Value,
        intent_seq: u64,
        ingress: Ingress,
    ) -> Result<Outcome> {
        let id = match params.field("proposal_id") {
            Some(Value::Nat(id)) => *id,
            _ => 0,
        };
        let done = |staged: GovInput, payload: Value| Outcome {
            staged: Some(staged),
            payload,
            error: None,
        };
        match kind {
            "governance.propose" => {
                let doc = self.patch_of(params)?;
                let base = base_of(&doc);
                if let Some(Value::Hash(wanted)) = params.field("manifest_base")
                    && Some(*wanted) != base
                {
                    return Err(KernelError::Rejected(format!(
                        "manifest_base {wanted} is not the patch's base_manifest_hash"
                    )));
                }
                let description = match params.field("description") {
                    Some(Value::Text(text)) => Some(text.clone()),
                    _ => None,
                };
                let (staged, proposed) =
                    self.stage_propose(&doc, Vec::new(), description, vec![intent_seq])?;
                let payload = Value::record([
                    ("proposal_id", Value::Nat(proposed.id)),
                    ("patch_hash", Value::Hash(proposed.patch_hash)),
                    ("manifest_base", base.map_or(Value::Null, Value::Hash)),
                ]);
                Ok(done(staged, payload))
            }
            "governance.shadow" => {
                let input = ShadowInput::ReplayLast(IN_WORLD_SHADOW_INPUTS);
                let (staged, report) = self.stage_shadow(id, input, ingress, vec![intent_seq])?;
                Ok(done(staged, shadow_payload(&report)))
            }
            "governance.approve" => {
                let approved = matches!(params.field("decision"), Some(Value::Variant { tag, .. }) if tag == "approve");
                let approver = match params.field("approver") {
                    Some(Value::Text(text)) => text.clone(),
                    _ => String::new(),
                };
                let patch_hash = self.proposals().get(id).map(|p| p.patch_hash);
                let staged = self.stage_decide(id, approved, &approver, None, vec![intent_seq])?;
                let payload = Value::record([
                    ("proposal_id", Value::Nat(id)),
                    (
                        "decision",
                        params.field("decision").cloned().unwrap_or(Value::Null),
                    ),
                    ("patch_hash", Value::Hash(patch_hash.unwrap_or(Hash::ZERO))),
                    ("approver", Value::Text(approver)),
                    (
                        "reason",
                        params.field("reason").cloned().unwrap_or(Value::Null),
                    ),
                ]);
                Ok(done(staged, payload))
            }
            "governance.apply" => {
                let patch_hash = self.proposals().get(id).map(|p| p.patch_hash);
                let (staged, applied) = self.stage_apply(id, vec![intent_seq])?;
                let payload = Value::record([
                    ("proposal_id", Value::Nat(id)),
                    ("manifest_hash_new", Value::Hash(applied.manifest_hash)),
                    ("patch_hash", Value::Hash(patch_hash.unwrap_or(Hash::ZERO))),
                ]);
                Ok(done(staged, payload))
            }
            other => Err(KernelError::Rejected(format!(
                "{other} is not a governance effect"
            ))),
        }
    }

    /// The patch document a `propose` names (`sys/GovPatchInput@1`), as JSON.
    fn patch_of(&self, params: &Value) -> Result<Json> {
        let refused = |why: String| KernelError::Rejected(format!("the patch: {why}"));
        let Some(Value::Variant { tag, value }) = params.field("patch") else {
            return Err(refused("the params hold no patch".into()));
        };
        let (bytes, json_text) = match (tag.as_str(), value.as_deref()) {
            ("patch_doc_json", Some(Value::Bytes(text))) => (text.clone(), true),
            ("patch_cbor", Some(Value::Bytes(bytes))) => (bytes.clone(), false),
            ("hash", Some(Value::Hash(hash))) => (self.patch_object(hash)?, false),
            ("patch_blob_ref", Some(blob)) => {
                let Some(Value::Hash(hash)) = blob.field("blob_ref") else {
                    return Err(refused("patch_blob_ref names no blob".into()));
                };
                let json = matches!(blob.field("format"), Some(Value::Text(f)) if f == "json");
                (self.patch_object(hash)?, json)
            }
            (other, _) => return Err(refused(format!("unknown patch form `{other}`"))),
        };
        if bytes.len() > IN_WORLD_PATCH_BYTES_MAX {
            return Err(refused(format!(
                "{} bytes, more than {IN_WORLD_PATCH_BYTES_MAX}",
                bytes.len()
            )));
        }
        if json_text {
            return serde_json::from_slice(&bytes).map_err(|e| refused(format!("not JSON: {e}")));
        }
        let item = decode(&bytes).map_err(|e| refused(format!("not CBOR: {e}")))?;
        cbor_to_json(&item).map_err(|e| refused(e.to_string()))
    }

    fn patch_object(&self, hash: &Hash) -> Result<Vec<u8>> {
        self.store
            .cas_get(hash)?
            .ok_or_else(|| KernelError::Rejected(format!("the patch {hash} is not in the store")))
    }

    /// The receipt payload of a refused operation: the schema's smallest value, naming the
    /// proposal the params named.
    fn refused_payload(&self, kind: &str, params: &Value) -> Value {
        let plane = self.plane();
        let ty = plane
            .effect_by_kind(kind)
            .and_then(|e| plane.schema_type_of(&e.receipt_schema))
            .cloned()
            .unwrap_or(TypeExpr::Unit);
        let mut payload = canned_value(&ty, plane);
        if let (Value::Record(fields), Some(id)) = (&mut payload, params.field("proposal_id"))
            && fields.contains_key("proposal_id")
        {
            fields.insert("proposal_id".to_owned(), id.clone());
        }
        payload
    }
}

/// Errors that are the operation's fault (answered with an `error` receipt); anything else
/// (storage, corruption) stops the host instead.
fn is_refusal(error: &KernelError) -> bool {
    matches!(
        error,
        KernelError::Rejected(_)
            | KernelError::Air(_)
            | KernelError::Module { .. }
            | KernelError::MissingModule { .. }
    )
}

fn base_of(doc: &Json) -> Option<Hash> {
    doc.get("base_manifest_hash")
        .and_then(Json::as_str)
        .and_then(|text| text.parse().ok())
}

/// `sys/GovShadowReceipt@1` from a shadow report: its predicted intents, and the grant and
/// policy changes among its ledger deltas (the only ledgers the AgentOS schema names).
fn shadow_payload(report: &ShadowReport) -> Value {
    let effects = report.intents.iter().map(|intent| {
        Value::record([
            ("kind", Value::Text(intent.kind.clone())),
            ("cap", Value::Text(intent.cap.clone())),
            (
                "intent_hash",
                Value::Hash(intent.intent_hash.parse().unwrap_or(Hash::ZERO)),
            ),
            ("params_json", Value::Text(intent.params.to_string())),
        ])
    });
    let ledgers = report.ledger.iter().filter_map(|delta| {
        let ledger = match delta.section.as_str() {
            "grant" | "defcap" => "capability",
            "policy" | "defpolicy" => "policy",
            _ => return None,
        };
        Some(Value::record([
            ("ledger", unit_variant(ledger)),
            ("name", Value::Text(delta.name.clone())),
            ("change", unit_variant(&delta.action)),
        ]))
    });
    Value::record([
        ("proposal_id", Value::Nat(report.proposal_id)),
        (
            "manifest_hash",
            Value::Hash(report.candidate.parse().unwrap_or(Hash::ZERO)),
        ),
        ("predicted_effects", Value::List(effects.collect())),
        ("pending_receipts", Value::List(Vec::new())),
        ("plan_results", Value::List(Vec::new())),
        ("ledger_deltas", Value::List(ledgers.collect())),
    ])
}

fn unit_variant(tag: &str) -> Value {
    Value::Variant {
        tag: tag.to_owned(),
        value: None,
    }
}

/// The first line of a message, cut to what a receipt may carry.
fn one_line(message: &str) -> String {
    // A multi-line error ("invalid AIR:" and one line per problem) becomes "head a; b; c".
    let mut lines = message.lines().map(str::trim).filter(|l| !l.is_empty());
    let head = lines.next().unwrap_or_default().to_owned();
    let rest: Vec<&str> = lines.collect();
    let line = match (head.ends_with(':'), rest.is_empty()) {
        (_, true) => head,
        (true, false) => format!("{head} {}", rest.join("; ")),
        (false, false) => format!("{head}; {}", rest.join("; ")),
    };
    let mut end = line.len().min(RECEIPT_ERROR_BYTES_MAX);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    line[..end].to_owned()
}
