//! Receipts: what adapters sign, how the kernel checks one before accepting it, and how a
//! micro-effect's receipt becomes an event of the reducer that asked for it.

use worldline_air::nodes::DefModule;
use worldline_air::{ControlPlane, Hash, Name, TypeExpr, Value};

use super::open::{EffectsState, OpenIntent};
use crate::identity;
use crate::record::RECEIPT_ERROR_BYTES_MAX;
use crate::record::ReceiptBody;
use crate::record::codec::MapBuilder;

/// Domain tag of a receipt signature.
pub const RECEIPT_SIGNATURE_TAG: &[u8] = b"worldline/receipt/v1";
/// The statuses a receipt may carry.
pub const RECEIPT_STATUSES: [&str; 3] = ["ok", "error", "timeout"];

/// Why a receipt was refused (nothing was journaled).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("receipt refused ({code}): {reason}")]
pub struct Refusal {
    /// `adapter_unknown`, `signature_invalid`, `intent_unknown`, `receipt_duplicate`,
    /// `status_invalid`, `payload_invalid`.
    pub code: &'static str,
    /// For people.
    pub reason: String,
}

fn refuse(code: &'static str, reason: impl Into<String>) -> Refusal {
    Refusal {
        code,
        reason: reason.into(),
    }
}

/// The hash of a receipt payload: SHA-256 of its canonical bytes with the self-describe tag
/// (the value hash of `spec/encoding.md`).
pub fn payload_hash(payload: &[u8]) -> Hash {
    Hash::of_parts(&[&worldline_air::cbor::SELF_DESCRIBE, payload])
}

/// What the adapter signs (after [`RECEIPT_SIGNATURE_TAG`]): canonical `{intent_hash,
/// adapter_id, status, payload_hash, cost?, started_ns, finished_ns, error?}`.
pub fn signing_bytes(receipt: &ReceiptBody) -> Vec<u8> {
    let mut map = MapBuilder::new();
    map.hash("intent_hash", &receipt.intent_hash);
    map.text("adapter_id", &receipt.adapter_id);
    map.text("status", &receipt.status);
    map.hash("payload_hash", &payload_hash(&receipt.payload));
    if let Some(cost) = receipt.cost_cents {
        map.uint("cost", cost);
    }
    map.uint("started_ns", receipt.started_ns);
    map.uint("finished_ns", receipt.finished_ns);
    map.opt_text("error", receipt.error.as_deref());
    map.finish_tagged()
}

/// Checks a receipt against the registered adapter keys and open work, and normalizes its
/// payload against the effect's receipt schema. Returns the receipt to journal. A receipt for
/// an intent that is not open is refused as `intent_unknown`; the caller, which can see the
/// journal, tells a duplicate apart.
pub fn check(
    plane: &ControlPlane,
    effects: &EffectsState,
    mut receipt: ReceiptBody,
) -> Result<ReceiptBody, Refusal> {
    let public_key = effects.adapter_key(&receipt.adapter_id).ok_or_else(|| {
        refuse(
            "adapter_unknown",
            format!("adapter `{}` has no registered key", receipt.adapter_id),
        )
    })?;
    if !identity::verify(
        public_key,
        RECEIPT_SIGNATURE_TAG,
        &signing_bytes(&receipt),
        &receipt.signature,
    ) {
        return Err(refuse(
            "signature_invalid",
            format!(
                "the signature does not verify under adapter `{}`'s registered key",
                receipt.adapter_id
            ),
        ));
    }
    let open = effects.open_intent(&receipt.intent_hash).ok_or_else(|| {
        refuse(
            "intent_unknown",
            format!("no open intent {}", receipt.intent_hash),
        )
    })?;
    if receipt
        .error
        .as_ref()
        .is_some_and(|e| e.len() > RECEIPT_ERROR_BYTES_MAX)
    {
        return Err(refuse(
            "payload_invalid",
            format!("the error text is longer than {RECEIPT_ERROR_BYTES_MAX} bytes"),
        ));
    }
    if !RECEIPT_STATUSES.contains(&receipt.status.as_str()) {
        return Err(refuse(
            "status_invalid",
            format!("status `{}` is not ok, error or timeout", receipt.status),
        ));
    }
    let effect = plane.effect_by_kind(&open.intent.kind).ok_or_else(|| {
        refuse(
            "intent_unknown",
            format!("effect {} is no longer listed", open.intent.kind),
        )
    })?;
    let ty = plane
        .schema_type_of(&effect.receipt_schema)
        .cloned()
        .unwrap_or(TypeExpr::Unit);
    let payload = Value::from_cbor_bytes(&receipt.payload, &ty, plane).map_err(|e| {
        refuse(
            "payload_invalid",
            format!("the payload does not match {}: {e}", effect.receipt_schema),
        )
    })?;
    let canonical = payload.to_cbor_body();
    if canonical != receipt.payload {
        // The signature covered the bytes as sent; only canonical payloads are journaled, so a
        // non-canonical one could never be verified again.
        return Err(refuse(
            "payload_invalid",
            "the payload is not in canonical form",
        ));
    }
    receipt.payload = canonical;
    Ok(receipt)
}

/// The event schema a micro-effect's receipt is delivered as.
pub fn receipt_event_schema(effect_kind: &str) -> Option<&'static str> {
    match effect_kind {
        "timer.set" => Some("sys/TimerFired@1"),
        "blob.put" => Some("sys/BlobPutResult@1"),
        "blob.get" => Some("sys/BlobGetResult@1"),
        _ => None,
    }
}

/// The receipt as an event of the reducer that emitted the intent: `sys/TimerFired@1` (…)
/// wrapped into the arm of the reducer's event variant that holds it. Returns the event's
/// schema (the reducer's event schema) and canonical value.
pub fn event_for_reducer(
    plane: &ControlPlane,
    module: &DefModule,
    open: &OpenIntent,
    receipt: &ReceiptBody,
) -> Result<(Name, Vec<u8>), String> {
    let abi = module
        .reducer()
        .ok_or_else(|| format!("{} is not a reducer", module.name))?;
    let wrapper = receipt_event_schema(&open.intent.kind)
        .and_then(|s| Name::parse(s).ok())
        .ok_or_else(|| format!("{} has no receipt event for reducers", open.intent.kind))?;
    let effect = plane
        .effect_by_kind(&open.intent.kind)
        .ok_or_else(|| format!("effect {} is no longer listed", open.intent.kind))?;
    let decode = |bytes: &[u8], schema: &Name| {
        let ty = plane
            .schema_type_of(schema)
            .ok_or_else(|| format!("schema {schema} does not resolve"))?;
        Value::from_cbor_bytes(bytes, ty, plane).map_err(|e| format!("{schema}: {e}"))
    };
    let inner = Value::record([
        ("intent_hash", Value::Hash(receipt.intent_hash)),
        ("reducer", Value::Text(module.name.to_string())),
        ("effect_kind", Value::Text(open.intent.kind.clone())),
        ("adapter_id", Value::Text(receipt.adapter_id.clone())),
        ("status", Value::Text(receipt.status.clone())),
        (
            "requested",
            decode(&open.intent.params, &effect.params_schema)?,
        ),
        ("receipt", decode(&receipt.payload, &effect.receipt_schema)?),
        (
            "cost_cents",
            receipt.cost_cents.map_or(Value::Null, Value::Nat),
        ),
        ("signature", Value::Bytes(receipt.signature.clone())),
    ]);
    let event = if abi.event == wrapper {
        inner
    } else {
        let arm = variant_arm_for(plane, &abi.event, &wrapper).ok_or_else(|| {
            format!(
                "its event {} has no variant arm holding {wrapper}, so the receipt cannot reach it",
                abi.event
            )
        })?;
        Value::variant(&arm, Some(inner))
    };
    // Re-read through the event schema so the bytes are exactly the canonical form.
    let bytes = decode(&event.to_cbor_body(), &abi.event)?.to_cbor_body();
    Ok((abi.event.clone(), bytes))
}

/// The arm of the variant schema `event` whose type is `ref wrapper`.
fn variant_arm_for(plane: &ControlPlane, event: &Name, wrapper: &Name) -> Option<String> {
    let TypeExpr::Variant(arms) = plane.schema_type_of(event)?.resolve(plane)? else {
        return None;
    };
    arms.iter()
        .find(|(_, ty)| matches!(ty, TypeExpr::Ref(name) if name == wrapper))
        .map(|(arm, _)| arm.clone())
}
