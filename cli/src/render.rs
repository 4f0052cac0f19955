//! Records as people and machines read them: one line each, or one JSON object each.

use serde_json::{Value as Json, json};
use worldline_air::cbor::to_hex;
use worldline_air::{ControlPlane, Hash, Name, Value};
use worldline_kernel::record::{EventOrigin, OriginKind, Record, RecordBody};

/// Longest value shown inline in a log line.
const INLINE_VALUE_CHARS_MAX: usize = 160;

/// RFC 3339 (UTC, nanoseconds trimmed to what is there) of a time in ns since the epoch.
pub fn time_text(ns: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns))
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{ns}ns"))
}

/// A typed value in the plain JSON lens, read through its schema; raw hex if that fails.
pub fn value_json(plane: &ControlPlane, schema: &Name, bytes: &[u8]) -> Json {
    match plane
        .schema_type_of(schema)
        .map(|ty| Value::from_cbor_bytes(bytes, ty, plane))
    {
        Some(Ok(value)) => value.to_plain_json(),
        _ => json!({ "cbor_hex": to_hex(bytes) }),
    }
}

fn inline(json: &Json) -> String {
    let text = json.to_string();
    if text.chars().count() <= INLINE_VALUE_CHARS_MAX {
        return text;
    }
    let cut: String = text.chars().take(INLINE_VALUE_CHARS_MAX).collect();
    format!("{cut}…")
}

fn key_text(key: &Option<Vec<u8>>) -> String {
    match key {
        None => String::new(),
        Some(bytes) => match worldline_air::cbor::decode(bytes) {
            Ok(worldline_air::cbor::Cbor::Text(text)) => format!(" [{text}]"),
            Ok(worldline_air::cbor::Cbor::Unsigned(n)) => format!(" [{n}]"),
            _ => format!(" [{}]", to_hex(bytes)),
        },
    }
}

/// What a record says, in a few words (no seq, kind, causes or time).
pub fn record_summary(plane: &ControlPlane, record: &Record) -> String {
    match &record.body {
        RecordBody::Genesis(g) => format!("{} manifest {}", g.did, g.manifest_hash),
        RecordBody::DomainEvent {
            schema,
            value,
            origin,
        } => {
            let from = match origin {
                EventOrigin::External => "external".to_owned(),
                EventOrigin::Reducer { reducer, key } => format!("from {reducer}{}", key_text(key)),
                EventOrigin::Plan { plan, instance } => format!("from plan {plan} #{instance}"),
                EventOrigin::Kernel => "from the kernel".to_owned(),
            };
            format!(
                "{schema} {} ({from})",
                inline(&value_json(plane, schema, value))
            )
        }
        RecordBody::StepFailed {
            reducer,
            key,
            code,
            reason,
            ..
        } => format!("{reducer}{} {code}: {reason}", key_text(key)),
        RecordBody::SnapshotPointer {
            snapshot_hash,
            height,
        } => format!("{snapshot_hash} covers 0..={height}"),
        RecordBody::Checkpoint(c) => format!(
            "covers 0..={} state {} signed by the world key",
            c.height, c.state_root
        ),
        RecordBody::EffectIntent(i) => format!("{} via {} ({})", i.kind, i.cap, i.intent_hash),
        RecordBody::Admission(a) => format!(
            "{} {} {}",
            if a.allowed { "allow" } else { "deny" },
            a.code,
            a.detail
        ),
        RecordBody::Receipt(r) => match &r.error {
            None => format!("{} {} from {}", r.status, r.intent_hash, r.adapter_id),
            Some(error) => format!(
                "{} {} from {}: {error}",
                r.status, r.intent_hash, r.adapter_id
            ),
        },
        RecordBody::Gap { from_ns, to_ns } => format!(
            "{} → {} ({} s down)",
            time_text(*from_ns),
            time_text(*to_ns),
            to_ns.saturating_sub(*from_ns) / 1_000_000_000
        ),
        RecordBody::PlanStarted { plan, input, .. } => match plane.plan(plan) {
            Some(def) => format!("{plan} {}", inline(&value_json(plane, &def.input, input))),
            None => plan.to_string(),
        },
        RecordBody::PlanResult { instance, value } => {
            format!("#{instance} {} bytes", value.len())
        }
        RecordBody::PlanEnded {
            instance,
            status,
            code,
            reason,
        } => match (code, reason) {
            (Some(code), Some(reason)) => format!("#{instance} {status} {code}: {reason}"),
            (Some(code), None) => format!("#{instance} {status} {code}"),
            _ => format!("#{instance} {status}"),
        },
        RecordBody::GovProposed {
            proposal_id,
            manifest_hash,
            description,
            ..
        } => format!(
            "#{proposal_id} candidate {manifest_hash}{}",
            description
                .as_deref()
                .map(|d| format!(" \"{d}\""))
                .unwrap_or_default()
        ),
        RecordBody::GovShadowReport {
            proposal_id,
            report_hash,
        } => format!("#{proposal_id} report {report_hash}"),
        RecordBody::GovDecided {
            proposal_id,
            approved,
            by,
            signer,
            ..
        } => format!(
            "#{proposal_id} {} by {by}{}",
            if *approved { "approved" } else { "rejected" },
            signer
                .as_deref()
                .map(|s| format!(", signed by {s}"))
                .unwrap_or_default()
        ),
        RecordBody::GovApplied {
            proposal_id,
            manifest_hash,
        } => format!("#{proposal_id} → {manifest_hash}"),
        RecordBody::ManifestChanged {
            manifest_hash,
            previous,
        } => format!("{previous} → {manifest_hash}"),
        other => other.kind().to_owned(),
    }
}

/// One human-readable line.
pub fn record_line(plane: &ControlPlane, record: &Record) -> String {
    let summary = record_summary(plane, record);
    let causes = if record.causes.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = record.causes.iter().map(u64::to_string).collect();
        format!("  ← {}", list.join(","))
    };
    let time = record
        .stamp
        .as_ref()
        .map(|s| format!(" @ {}", time_text(s.now_ns)))
        .unwrap_or_default();
    format!(
        "{:>6}  {:<13} {summary}{causes}{time}",
        record.seq,
        record.body.kind()
    )
}

/// One JSON object.
pub fn record_json(plane: &ControlPlane, record: &Record, hash: &Hash) -> Json {
    let body = match &record.body {
        RecordBody::Genesis(g) => json!({
            "did": g.did, "manifest_hash": g.manifest_hash.to_string(),
            "config": {"fuel_per_step": g.config.fuel_per_step, "memory_bytes_max": g.config.memory_bytes_max, "snapshot_every": g.config.snapshot_every},
        }),
        RecordBody::DomainEvent {
            schema,
            value,
            origin,
        } => {
            let origin = match origin {
                EventOrigin::External => json!({"kind": "external"}),
                EventOrigin::Reducer { reducer, key } => {
                    json!({"kind": "reducer", "name": reducer.to_string(), "key": key.as_deref().map(to_hex)})
                }
                EventOrigin::Plan { plan, instance } => {
                    json!({"kind": "plan", "name": plan.to_string(), "instance": instance})
                }
                EventOrigin::Kernel => json!({"kind": "kernel"}),
            };
            json!({"schema": schema.to_string(), "value": value_json(plane, schema, value), "origin": origin})
        }
        RecordBody::StepFailed {
            reducer,
            key,
            module_hash,
            code,
            reason,
        } => json!({
            "reducer": reducer.to_string(), "key": key.as_deref().map(to_hex), "module_hash": module_hash.to_string(), "code": code, "reason": reason,
        }),
        RecordBody::SnapshotPointer {
            snapshot_hash,
            height,
        } => json!({"snapshot_hash": snapshot_hash.to_string(), "height": height}),
        RecordBody::Checkpoint(c) => json!({
            "height": c.height, "head_record_hash": c.head_record_hash.to_string(),
            "state_root": c.state_root.to_string(), "manifest_hash": c.manifest_hash.to_string(),
            "prev_checkpoint_hash": c.prev_checkpoint_hash.to_string(), "signature": to_hex(&c.signature),
        }),
        RecordBody::EffectIntent(i) => json!({
            "intent_hash": i.intent_hash.to_string(), "kind": i.kind, "cap": i.cap,
            "origin": {"kind": match i.origin.kind { OriginKind::Reducer => "reducer", OriginKind::Plan => "plan" },
                       "name": i.origin.name.to_string(), "key": i.origin.key.as_deref().map(to_hex)},
        }),
        RecordBody::Admission(a) => json!({
            "intent_hash": a.intent_hash.to_string(), "stage": a.stage, "allowed": a.allowed, "code": a.code, "detail": a.detail,
        }),
        RecordBody::Receipt(r) => {
            let mut receipt = json!({
                "intent_hash": r.intent_hash.to_string(), "adapter_id": r.adapter_id, "status": r.status,
                "cost_cents": r.cost_cents, "started_ns": r.started_ns, "finished_ns": r.finished_ns,
            });
            // Only receipts that carry an error text show the field, so older output is unchanged.
            if let (Some(error), Some(map)) = (&r.error, receipt.as_object_mut()) {
                map.insert("error".into(), json!(error));
            }
            receipt
        }
        RecordBody::PlanStarted {
            plan,
            manifest_hash,
            input,
        } => json!({
            "plan": plan.to_string(), "manifest_hash": manifest_hash.to_string(),
            "input": plane.plan(plan).map(|def| value_json(plane, &def.input, input)),
        }),
        RecordBody::PlanResult { instance, value } => {
            json!({"instance": instance, "value_hex": to_hex(value)})
        }
        RecordBody::PlanEnded {
            instance,
            status,
            code,
            reason,
        } => json!({
            "instance": instance, "status": status, "code": code, "reason": reason,
        }),
        RecordBody::GovProposed {
            proposal_id,
            patch_hash,
            base,
            manifest_hash,
            description,
        } => json!({
            "proposal_id": proposal_id, "patch_hash": patch_hash.to_string(), "base": base.to_string(),
            "manifest_hash": manifest_hash.to_string(), "description": description,
        }),
        RecordBody::GovShadowReport {
            proposal_id,
            report_hash,
        } => json!({"proposal_id": proposal_id, "report_hash": report_hash.to_string()}),
        RecordBody::GovDecided {
            proposal_id,
            approved,
            by,
            signer,
            signature,
        } => json!({
            "proposal_id": proposal_id, "approved": approved, "by": by, "signer": signer,
            "signature": signature.as_deref().map(to_hex),
        }),
        RecordBody::GovApplied {
            proposal_id,
            manifest_hash,
        } => json!({"proposal_id": proposal_id, "manifest_hash": manifest_hash.to_string()}),
        RecordBody::ManifestChanged {
            manifest_hash,
            previous,
        } => json!({"manifest_hash": manifest_hash.to_string(), "previous": previous.to_string()}),
        RecordBody::Gap { from_ns, to_ns } => json!({
            "from_ns": from_ns, "to_ns": to_ns, "gap_ns": to_ns.saturating_sub(*from_ns),
        }),
        _ => json!({}),
    };
    let mut out = json!({
        "seq": record.seq,
        "kind": record.body.kind(),
        "hash": hash.to_string(),
        "causes": record.causes,
        "body": body,
    });
    if let Some(stamp) = &record.stamp {
        out["stamp"] = json!({
            "now_ns": stamp.now_ns, "now": time_text(stamp.now_ns), "logical_now_ns": stamp.logical_now_ns,
            "entropy": to_hex(&stamp.entropy), "manifest_hash": stamp.manifest_hash.to_string(),
        });
    }
    out
}
