//! How each record kind is written to and read from its `body` map.

use worldline_air::Name;

use super::body::{
    AdmissionBody, CheckpointBody, EffectIntentBody, EventOrigin, GenesisBody, Origin, OriginKind,
    ParentWorld, ReceiptBody, RecordBody,
};
use super::codec::{MapBuilder, MapReader};
use crate::config::WorldConfig;
use crate::error::{KernelError, Result};

fn name(map: &MapReader<'_>, key: &str) -> Result<Name> {
    let text = map.text(key)?;
    Name::parse(text).map_err(|e| KernelError::Corrupt(format!("field `{key}`: {e}")))
}

fn array32(bytes: &[u8], what: &str) -> Result<[u8; 32]> {
    bytes
        .try_into()
        .map_err(|_| KernelError::Corrupt(format!("{what} is not 32 bytes")))
}

impl RecordBody {
    pub(super) fn encode(&self) -> MapBuilder {
        let mut m = MapBuilder::new();
        match self {
            RecordBody::Genesis(g) => {
                m.text("did", &g.did);
                m.hash("manifest_hash", &g.manifest_hash);
                let mut config = MapBuilder::new();
                g.config.write(&mut config);
                m.map("config", config);
                if let Some(parent) = &g.parent {
                    let mut p = MapBuilder::new();
                    p.text("did", &parent.did);
                    p.uint("height", parent.height);
                    p.hash("head_hash", &parent.head_hash);
                    p.hash("state_hash", &parent.state_hash);
                    m.map("parent", p);
                }
            }
            RecordBody::DomainEvent {
                schema,
                value,
                origin,
            } => {
                m.text("schema", schema.as_str());
                m.bytes("value", value);
                let mut o = MapBuilder::new();
                match origin {
                    EventOrigin::External => o.text("kind", "external"),
                    EventOrigin::Reducer { reducer, key } => {
                        o.text("kind", "reducer");
                        o.text("name", reducer.as_str());
                        o.opt_bytes("key", key.as_deref());
                    }
                    EventOrigin::Plan { plan, instance } => {
                        o.text("kind", "plan");
                        o.text("name", plan.as_str());
                        o.uint("instance", *instance);
                    }
                    EventOrigin::Kernel => o.text("kind", "kernel"),
                }
                m.map("origin", o);
            }
            RecordBody::StepFailed {
                reducer,
                key,
                module_hash,
                code,
                reason,
            } => {
                m.text("reducer", reducer.as_str());
                m.opt_bytes("key", key.as_deref());
                m.hash("module_hash", module_hash);
                m.text("code", code);
                m.text("reason", reason);
            }
            RecordBody::EffectIntent(i) => {
                m.hash("intent_hash", &i.intent_hash);
                m.text("effect_kind", &i.kind);
                m.bytes("params", &i.params);
                m.text("cap", &i.cap);
                m.bytes("idempotency_key", &i.idempotency_key);
                let mut o = MapBuilder::new();
                o.text(
                    "kind",
                    if i.origin.kind == OriginKind::Plan {
                        "plan"
                    } else {
                        "reducer"
                    },
                );
                o.text("name", i.origin.name.as_str());
                o.opt_bytes("key", i.origin.key.as_deref());
                m.map("origin", o);
            }
            RecordBody::Admission(a) => {
                m.hash("intent_hash", &a.intent_hash);
                m.text("stage", &a.stage);
                m.bool("allowed", a.allowed);
                m.text("code", &a.code);
                m.text("detail", &a.detail);
            }
            RecordBody::Receipt(r) => {
                m.hash("intent_hash", &r.intent_hash);
                m.text("adapter_id", &r.adapter_id);
                m.text("status", &r.status);
                m.bytes("payload", &r.payload);
                if let Some(cost) = r.cost_cents {
                    m.uint("cost_cents", cost);
                }
                m.uint("started_ns", r.started_ns);
                m.uint("finished_ns", r.finished_ns);
                m.opt_text("error", r.error.as_deref());
                m.bytes("signature", &r.signature);
            }
            RecordBody::PlanStarted {
                plan,
                manifest_hash,
                input,
            } => {
                m.text("plan", plan.as_str());
                m.hash("manifest_hash", manifest_hash);
                m.bytes("input", input);
            }
            RecordBody::PlanResult { instance, value } => {
                m.uint("instance", *instance);
                m.bytes("value", value);
            }
            RecordBody::PlanEnded {
                instance,
                status,
                code,
                reason,
            } => {
                m.uint("instance", *instance);
                m.text("status", status);
                m.opt_text("code", code.as_deref());
                m.opt_text("reason", reason.as_deref());
            }
            RecordBody::ManifestChanged {
                manifest_hash,
                previous,
            } => {
                m.hash("manifest_hash", manifest_hash);
                m.hash("previous", previous);
            }
            RecordBody::GovProposed {
                proposal_id,
                patch_hash,
                base,
                manifest_hash,
                description,
            } => {
                m.uint("proposal_id", *proposal_id);
                m.hash("patch_hash", patch_hash);
                m.hash("base", base);
                m.hash("manifest_hash", manifest_hash);
                m.opt_text("description", description.as_deref());
            }
            RecordBody::GovShadowReport {
                proposal_id,
                report_hash,
            } => {
                m.uint("proposal_id", *proposal_id);
                m.hash("report_hash", report_hash);
            }
            RecordBody::GovDecided {
                proposal_id,
                approved,
                by,
                signer,
                signature,
            } => {
                m.uint("proposal_id", *proposal_id);
                m.bool("approved", *approved);
                m.text("by", by);
                m.opt_text("signer", signer.as_deref());
                m.opt_bytes("signature", signature.as_deref());
            }
            RecordBody::GovApplied {
                proposal_id,
                manifest_hash,
            } => {
                m.uint("proposal_id", *proposal_id);
                m.hash("manifest_hash", manifest_hash);
            }
            RecordBody::AdapterKey {
                adapter_id,
                public_key,
            } => {
                m.text("adapter_id", adapter_id);
                m.bytes("public_key", public_key);
            }
            RecordBody::Checkpoint(c) => {
                m.uint("height", c.height);
                m.hash("head_record_hash", &c.head_record_hash);
                m.hash("state_root", &c.state_root);
                m.hash("manifest_hash", &c.manifest_hash);
                m.hash("prev_checkpoint_hash", &c.prev_checkpoint_hash);
                m.bytes("signature", &c.signature);
            }
            RecordBody::Gap { from_ns, to_ns } => {
                m.uint("from_ns", *from_ns);
                m.uint("to_ns", *to_ns);
            }
            RecordBody::SnapshotPointer {
                snapshot_hash,
                height,
            } => {
                m.hash("snapshot_hash", snapshot_hash);
                m.uint("height", *height);
            }
        }
        m
    }

    pub(super) fn decode(kind: &str, m: &MapReader<'_>) -> Result<RecordBody> {
        Ok(match kind {
            "genesis" => RecordBody::Genesis(GenesisBody {
                did: m.text("did")?.to_owned(),
                manifest_hash: m.hash("manifest_hash")?,
                config: WorldConfig::read(&m.map("config")?)?,
                parent: match m.opt_map("parent")? {
                    None => None,
                    Some(p) => Some(ParentWorld {
                        did: p.text("did")?.to_owned(),
                        height: p.uint("height")?,
                        head_hash: p.hash("head_hash")?,
                        state_hash: p.hash("state_hash")?,
                    }),
                },
            }),
            "domain_event" => {
                let o = m.map("origin")?;
                let origin = match o.text("kind")? {
                    "external" => EventOrigin::External,
                    "reducer" => EventOrigin::Reducer {
                        reducer: name(&o, "name")?,
                        key: o.opt_bytes("key")?.map(<[u8]>::to_vec),
                    },
                    "plan" => EventOrigin::Plan {
                        plan: name(&o, "name")?,
                        instance: o.uint("instance")?,
                    },
                    "kernel" => EventOrigin::Kernel,
                    other => {
                        return Err(KernelError::Corrupt(format!(
                            "unknown event origin `{other}`"
                        )));
                    }
                };
                RecordBody::DomainEvent {
                    schema: name(m, "schema")?,
                    value: m.bytes("value")?.to_vec(),
                    origin,
                }
            }
            "step_failed" => RecordBody::StepFailed {
                reducer: name(m, "reducer")?,
                key: m.opt_bytes("key")?.map(<[u8]>::to_vec),
                module_hash: m.hash("module_hash")?,
                code: m.text("code")?.to_owned(),
                reason: m.text("reason")?.to_owned(),
            },
            "effect_intent" => {
                let o = m.map("origin")?;
                let kind = match o.text("kind")? {
                    "plan" => OriginKind::Plan,
                    "reducer" => OriginKind::Reducer,
                    other => {
                        return Err(KernelError::Corrupt(format!(
                            "unknown intent origin `{other}`"
                        )));
                    }
                };
                RecordBody::EffectIntent(EffectIntentBody {
                    intent_hash: m.hash("intent_hash")?,
                    kind: m.text("effect_kind")?.to_owned(),
                    params: m.bytes("params")?.to_vec(),
                    cap: m.text("cap")?.to_owned(),
                    idempotency_key: array32(m.bytes("idempotency_key")?, "idempotency_key")?,
                    origin: Origin {
                        kind,
                        name: name(&o, "name")?,
                        key: o.opt_bytes("key")?.map(<[u8]>::to_vec),
                    },
                })
            }
            "admission" => RecordBody::Admission(AdmissionBody {
                intent_hash: m.hash("intent_hash")?,
                stage: m.text("stage")?.to_owned(),
                allowed: m.bool("allowed")?,
                code: m.text("code")?.to_owned(),
                detail: m.text("detail")?.to_owned(),
            }),
            "receipt" => RecordBody::Receipt(ReceiptBody {
                intent_hash: m.hash("intent_hash")?,
                adapter_id: m.text("adapter_id")?.to_owned(),
                status: m.text("status")?.to_owned(),
                payload: m.bytes("payload")?.to_vec(),
                cost_cents: match m.get("cost_cents") {
                    None => None,
                    Some(_) => Some(m.uint("cost_cents")?),
                },
                started_ns: m.uint("started_ns")?,
                finished_ns: m.uint("finished_ns")?,
                error: m.opt_text("error")?.map(str::to_owned),
                signature: m.bytes("signature")?.to_vec(),
            }),
            "plan_started" => RecordBody::PlanStarted {
                plan: name(m, "plan")?,
                manifest_hash: m.hash("manifest_hash")?,
                input: m.bytes("input")?.to_vec(),
            },
            "plan_result" => RecordBody::PlanResult {
                instance: m.uint("instance")?,
                value: m.bytes("value")?.to_vec(),
            },
            "plan_ended" => RecordBody::PlanEnded {
                instance: m.uint("instance")?,
                status: m.text("status")?.to_owned(),
                code: m.opt_text("code")?.map(str::to_owned),
                reason: m.opt_text("reason")?.map(str::to_owned),
            },
            "manifest_changed" => RecordBody::ManifestChanged {
                manifest_hash: m.hash("manifest_hash")?,
                previous: m.hash("previous")?,
            },
            "gov_proposed" => RecordBody::GovProposed {
                proposal_id: m.uint("proposal_id")?,
                patch_hash: m.hash("patch_hash")?,
                base: m.hash("base")?,
                manifest_hash: m.hash("manifest_hash")?,
                description: m.opt_text("description")?.map(str::to_owned),
            },
            "gov_shadow_report" => RecordBody::GovShadowReport {
                proposal_id: m.uint("proposal_id")?,
                report_hash: m.hash("report_hash")?,
            },
            "gov_decided" => RecordBody::GovDecided {
                proposal_id: m.uint("proposal_id")?,
                approved: m.bool("approved")?,
                by: m.text("by")?.to_owned(),
                signer: m.opt_text("signer")?.map(str::to_owned),
                signature: m.opt_bytes("signature")?.map(<[u8]>::to_vec),
            },
            "gov_applied" => RecordBody::GovApplied {
                proposal_id: m.uint("proposal_id")?,
                manifest_hash: m.hash("manifest_hash")?,
            },
            "adapter_key" => RecordBody::AdapterKey {
                adapter_id: m.text("adapter_id")?.to_owned(),
                public_key: array32(m.bytes("public_key")?, "public_key")?,
            },
            "checkpoint" => RecordBody::Checkpoint(CheckpointBody {
                height: m.uint("height")?,
                head_record_hash: m.hash("head_record_hash")?,
                state_root: m.hash("state_root")?,
                manifest_hash: m.hash("manifest_hash")?,
                prev_checkpoint_hash: m.hash("prev_checkpoint_hash")?,
                signature: m.bytes("signature")?.to_vec(),
            }),
            "gap" => RecordBody::Gap {
                from_ns: m.uint("from_ns")?,
                to_ns: m.uint("to_ns")?,
            },
            "snapshot" => RecordBody::SnapshotPointer {
                snapshot_hash: m.hash("snapshot_hash")?,
                height: m.uint("height")?,
            },
            other => {
                return Err(KernelError::Corrupt(format!(
                    "unknown record kind `{other}`"
                )));
            }
        })
    }
}
