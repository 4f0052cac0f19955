//! The stepper's plan side: triggers start instances, journaled events and receipts wake them,
//! and what they do (raised events, emits through admission, results, ends) is journaled with
//! the record that woke them as cause.

use std::rc::Rc;

use worldline_air::nodes::DefPlan;
use worldline_air::{ControlPlane, Hash, Name, TypeExpr, Value};

use super::{EventQueue, PlanChange, Stepper};
use crate::config::CASCADE_RECORDS_MAX;
use crate::effects::{CapRef, IntentRequest, OpenIntent};
use crate::error::{KernelError, Result};
use crate::plans::run::{self, Denied, EmitRequest, Ending, Outcome, PlanHost};
use crate::plans::{BODY_PREVIEW_BYTES_MAX, HeldReceipt, PLAN_INSTANCES_MAX, PlanInstance};
use crate::record::{EventOrigin, Origin, OriginKind, ReceiptBody, RecordBody};
use crate::world::sink::Sink;

/// Where the records of one plan activation go.
pub(super) struct Journal<'a> {
    pub sink: &'a mut dyn Sink,
    pub appended: &'a mut Vec<u64>,
    pub queue: &'a mut EventQueue,
}

/// The stepper seen by one running instance.
struct Activation<'s, 'j> {
    stepper: &'s mut Stepper,
    /// The control plane of the manifest the instance is pinned to.
    plane: Rc<ControlPlane>,
    journal: &'s mut Journal<'j>,
    /// The record that woke the instance: the cause of what it does now.
    cause_seq: u64,
}

impl PlanHost for Activation<'_, '_> {
    fn plane(&self) -> &ControlPlane {
        &self.plane
    }

    fn next_seq(&self) -> u64 {
        self.journal.sink.next_seq()
    }

    fn raise(&mut self, instance: &PlanInstance, schema: &Name, value: Vec<u8>) -> Result<u64> {
        let body = RecordBody::DomainEvent {
            schema: schema.clone(),
            value: value.clone(),
            origin: EventOrigin::Plan {
                plan: instance.plan.clone(),
                instance: instance.id,
            },
        };
        let seq = append(self.journal, self.cause_seq, body)?;
        self.journal.queue.push_back((seq, schema.clone(), value));
        Ok(seq)
    }

    fn emit(
        &mut self,
        instance: &PlanInstance,
        request: EmitRequest<'_>,
    ) -> Result<std::result::Result<Hash, Denied>> {
        let request = IntentRequest {
            kind: request.kind,
            params: &request.params,
            cap: CapRef::Grant(request.cap),
            idempotency_key: request.idempotency_key.as_ref().map(|k| k.as_slice()),
            origin: Origin {
                kind: OriginKind::Plan,
                name: instance.plan.clone(),
                key: Some(instance.origin_key()),
            },
        };
        let journal = &mut *self.journal;
        self.stepper
            .admit_request(&request, self.cause_seq, journal.sink, journal.appended)
    }
}

fn append(journal: &mut Journal<'_>, cause_seq: u64, body: RecordBody) -> Result<u64> {
    super::append_derived(journal.sink, journal.appended, cause_seq, body)
}

fn decode(plane: &ControlPlane, schema: &Name, bytes: &[u8]) -> Result<Value> {
    let ty = plane.schema_type_of(schema).ok_or_else(|| {
        KernelError::Corrupt(format!("schema {schema} is not in the control plane"))
    })?;
    Value::from_cbor_bytes(bytes, ty, plane)
        .map_err(|e| KernelError::Corrupt(format!("a journaled {schema} value: {e}")))
}

impl Stepper {
    fn remember_plan(&mut self, id: u64, previous: Option<PlanInstance>) {
        if let Some(undo) = &mut self.undo {
            undo.plans.push(PlanChange { id, previous });
        }
    }

    /// The plan an instance runs, and its control plane, from the manifest it is pinned to.
    fn pinned_plan(&self, instance: &PlanInstance) -> Result<(Rc<DefPlan>, Rc<ControlPlane>)> {
        self.pinned(&instance.manifest_hash, &instance.plan)
            .ok_or_else(|| {
                KernelError::Corrupt(format!(
                    "plan {} of instance {} is not in manifest {}, or that manifest is not loaded",
                    instance.plan, instance.id, instance.manifest_hash
                ))
            })
    }

    /// A journaled domain event reaches the plans: triggers start instances, and instances
    /// waiting on an event of this schema are offered it (in id order).
    pub(super) fn plans_on_event(
        &mut self,
        event_seq: u64,
        schema: &Name,
        value: &[u8],
        journal: &mut Journal<'_>,
    ) -> Result<()> {
        let triggers: Vec<_> = (self.plane.manifest().triggers.iter())
            .filter(|t| &t.event == schema)
            .cloned()
            .collect();
        let mut waiting = Vec::new();
        for id in self.plans.waiting_ids() {
            let Some(instance) = self.plans.get(id) else {
                continue;
            };
            if run::awaits_event(instance, &self.pinned_plan(instance)?.0, schema) {
                waiting.push(id);
            }
        }
        if triggers.is_empty() && waiting.is_empty() {
            return Ok(());
        }
        let event = decode(&self.plane, schema, value)?;
        for trigger in triggers {
            self.start_plan(&trigger, event_seq, &event, journal)?;
        }
        for id in waiting {
            let Some(mut instance) = self.plans.take(id) else {
                continue;
            };
            self.remember_plan(id, Some(instance.clone()));
            let pinned = self.pinned_plan(&instance)?;
            let ending = run::offer_event(&mut instance, &pinned.0, event_seq, schema, &event);
            self.resume(instance, &pinned, ending, event_seq, journal)?;
        }
        Ok(())
    }

    fn start_plan(
        &mut self,
        trigger: &worldline_air::nodes::Trigger,
        event_seq: u64,
        event: &Value,
        journal: &mut Journal<'_>,
    ) -> Result<()> {
        let plan = self.plan_defs.get(&trigger.plan).cloned().ok_or_else(|| {
            KernelError::Corrupt(format!(
                "a trigger names {}, which is not a plan",
                trigger.plan
            ))
        })?;
        let manifest_hash = self.plane.manifest_hash();
        let input_type = self.plane.schema_type_of(&plan.input).cloned();
        let input = input_type
            .ok_or_else(|| format!("no schema {}", plan.input))
            .and_then(|ty| {
                event
                    .clone()
                    .normalize(&ty, &*self.plane)
                    .map_err(|e| e.to_string())
            });
        let input_bytes = match &input {
            Ok(input) => input.to_cbor_body(),
            Err(_) => event.to_cbor_body(),
        };
        let body = RecordBody::PlanStarted {
            plan: plan.name.clone(),
            manifest_hash,
            input: input_bytes,
        };
        let id = append(journal, event_seq, body)?;
        let input = match input {
            Ok(input) => input,
            Err(reason) => {
                let ending = Ending::failed("input_invalid", "@plan.input", reason);
                return self.end(id, ending, journal);
            }
        };
        if self.plans.len() >= PLAN_INSTANCES_MAX {
            let reason = format!("{PLAN_INSTANCES_MAX} instances are already running");
            return self.end(
                id,
                Ending::failed("instances_full", "start", reason),
                journal,
            );
        }
        let mut instance = PlanInstance::new(
            id,
            plan.name.clone(),
            manifest_hash,
            input,
            plan.steps.len(),
        );
        let mut ending = None;
        if let Some(field) = &trigger.correlate_by {
            match instance.input.field(field).cloned() {
                Some(correlation) => {
                    instance
                        .vars
                        .insert("correlation_id".to_owned(), correlation);
                }
                None => {
                    let reason = format!("the input has no `{field}` to correlate by");
                    ending = Some(Ending::failed("missing_ref", "start", reason));
                }
            }
        }
        self.remember_plan(id, None);
        let pinned = (plan, self.plane.clone());
        self.resume(instance, &pinned, ending, id, journal)
    }

    /// Runs an instance after it was woken (unless `ending` already ended it), then journals
    /// its end or keeps it waiting.
    fn resume(
        &mut self,
        mut instance: PlanInstance,
        (plan, plane): &(Rc<DefPlan>, Rc<ControlPlane>),
        ending: Option<Ending>,
        cause_seq: u64,
        journal: &mut Journal<'_>,
    ) -> Result<()> {
        // A plan can raise the event that triggers it: bound the cascade by refusing to run
        // instances once the input has caused its share of records.
        let ending = ending.or_else(|| {
            (journal.appended.len() >= CASCADE_RECORDS_MAX).then(|| {
                let reason = format!(
                    "the input already caused {CASCADE_RECORDS_MAX} records; the cascade was stopped"
                );
                Ending::failed("cascade_limit", "run", reason)
            })
        });
        let outcome = match ending {
            Some(ending) => Outcome::Ended(ending),
            None => {
                let mut activation = Activation {
                    stepper: self,
                    plane: plane.clone(),
                    journal,
                    cause_seq,
                };
                run::advance(&mut instance, plan, &mut activation)?
            }
        };
        match outcome {
            Outcome::Waiting => {
                self.plans.put(instance);
                Ok(())
            }
            Outcome::Ended(ending) => self.end(instance.id, ending, journal),
        }
    }

    fn end(&mut self, id: u64, ending: Ending, journal: &mut Journal<'_>) -> Result<()> {
        if let Some(value) = ending.result {
            append(
                journal,
                id,
                RecordBody::PlanResult {
                    instance: id,
                    value,
                },
            )?;
        }
        let body = RecordBody::PlanEnded {
            instance: id,
            status: ending.status.to_owned(),
            code: ending.code,
            reason: ending.reason,
        };
        append(journal, id, body)?;
        Ok(())
    }

    /// A receipt for an intent a plan instance emitted: held by the instance, which then runs
    /// on. An instance that already ended does not hear it (the receipt stays journaled).
    pub(super) fn plan_receipt(
        &mut self,
        receipt_seq: u64,
        open: &OpenIntent,
        receipt: &ReceiptBody,
        journal: &mut Journal<'_>,
    ) -> Result<()> {
        let Some(id) = open
            .intent
            .origin
            .key
            .as_deref()
            .and_then(|key| Value::from_cbor_bytes(key, &TypeExpr::Nat, &*self.plane).ok())
            .and_then(|v| match v {
                Value::Nat(id) => Some(id),
                _ => None,
            })
        else {
            return Ok(());
        };
        let Some(mut instance) = self.plans.take(id) else {
            return Ok(());
        };
        self.remember_plan(id, Some(instance.clone()));
        let pinned = self.pinned_plan(&instance)?;
        let held = self.held_receipt(open, receipt, journal.sink)?;
        let ending = if instance.receipts.len() >= crate::plans::PLAN_RECEIPTS_HELD_MAX {
            let reason = "too many receipts arrived before they were awaited";
            Some(Ending::failed("receipts_full", "receipt", reason))
        } else {
            run::hold_receipt(&mut instance, receipt.intent_hash, held);
            None
        };
        self.resume(instance, &pinned, ending, receipt_seq, journal)
    }

    /// The receipt as `await_receipt` binds it: the payload, and for `http.request` a
    /// `body_preview` (the start of the body as text) derived from the body in the CAS.
    fn held_receipt(
        &self,
        open: &OpenIntent,
        receipt: &ReceiptBody,
        sink: &dyn Sink,
    ) -> Result<HeldReceipt> {
        let effect = self
            .plane
            .effect_by_kind(&open.intent.kind)
            .ok_or_else(|| {
                KernelError::Corrupt(format!("no effect of kind {}", open.intent.kind))
            })?;
        let mut value = decode(&self.plane, &effect.receipt_schema, &receipt.payload)?;
        if open.intent.kind == "http.request" {
            let body = match value.field("body_ref") {
                Some(Value::Hash(hash)) => sink.input_object(hash)?.unwrap_or_default(),
                _ => Vec::new(),
            };
            if let Value::Record(fields) = &mut value {
                fields.insert("body_preview".to_owned(), Value::Text(body_preview(&body)));
            }
        }
        Ok(HeldReceipt {
            status: receipt.status.clone(),
            value,
        })
    }
}

/// The start of a body as text: at most [`BODY_PREVIEW_BYTES_MAX`] bytes, cut at a character
/// boundary, invalid UTF-8 replaced by U+FFFD.
pub(crate) fn body_preview(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(BODY_PREVIEW_BYTES_MAX + 4)]);
    let mut end = text.len().min(BODY_PREVIEW_BYTES_MAX);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}
