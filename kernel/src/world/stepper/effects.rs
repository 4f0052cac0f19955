//! The stepper's effect side: admitting a step's micro-effect (intent + decisions journaled),
//! delivering an accepted receipt to the reducer that asked, and running pure enforcers.

use std::collections::VecDeque;

use worldline_air::{Hash, Name};

use super::plans::Journal;
use super::routes::Route;
use super::{EffectsChange, Stepper, append_derived};
use crate::effects::receipt::event_for_reducer;
use crate::effects::{AdmissionContext, CapRef, EnforcerRunner, IntentRequest, OpenIntent, admit};
use crate::error::{KernelError, Result};
use crate::host::ReducerHost;
use crate::host::envelope::{EmittedEffect, PureInput, decode_pure_output};
use crate::plans::run::Denied;
use crate::record::{AdmissionBody, Origin, OriginKind, ReceiptBody, RecordBody, Stamp};
use crate::world::sink::Sink;

/// Runs pure enforcer modules through the reducer host.
struct PureRunner<'a> {
    host: &'a ReducerHost,
    modules: &'a std::collections::BTreeMap<Name, Hash>,
}

impl EnforcerRunner for PureRunner<'_> {
    fn run_enforcer(&self, module: &Name, input: &[u8]) -> std::result::Result<Vec<u8>, String> {
        let hash = self
            .modules
            .get(module)
            .ok_or_else(|| format!("{module} is not a loaded pure module"))?;
        let envelope = PureInput { input, ctx: None }.encode();
        let output = self
            .host
            .step(hash, &envelope)
            .map_err(|e| format!("{} ({})", e.reason, e.code))?;
        decode_pure_output(&output).map_err(|e| e.reason)
    }
}

impl Stepper {
    /// Admits a reducer step's effect (see [`Stepper::admit_request`]).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn admit_effect(
        &mut self,
        route: &Route,
        key: &[u8],
        event_seq: u64,
        effect: &EmittedEffect,
        sink: &mut dyn Sink,
        appended: &mut Vec<u64>,
    ) -> Result<()> {
        let origin = Origin {
            kind: OriginKind::Reducer,
            name: route.reducer.clone(),
            key: route.keyed.then(|| key.to_vec()),
        };
        let request = IntentRequest {
            kind: &effect.kind,
            params: &effect.params,
            cap: CapRef::Slot(effect.cap_slot.as_deref()),
            idempotency_key: effect.idempotency_key.as_deref(),
            origin,
        };
        // A denial is journaled; the reducer learns nothing more (it has no receipt to wait on).
        let _admitted_or_denied = self.admit_request(&request, event_seq, sink, appended)?;
        Ok(())
    }

    /// Admits an intent: journals it (caused by `cause_seq`, the record its emitter handled)
    /// and its decisions (caused by the intent); an admitted intent becomes open work. Returns
    /// the intent hash, or the first denying decision.
    pub(super) fn admit_request(
        &mut self,
        request: &IntentRequest<'_>,
        cause_seq: u64,
        sink: &mut dyn Sink,
        appended: &mut Vec<u64>,
    ) -> Result<std::result::Result<Hash, Denied>> {
        let runner = PureRunner {
            host: &self.host,
            modules: &self.pure_modules,
        };
        let ctx = AdmissionContext {
            plane: &self.plane,
            logical_now_ns: self.logical_now_ns,
            effects: &self.effects,
            enforcers: &runner,
            governance: &self.gov,
        };
        let admission = admit(&ctx, request);
        let allowed = admission.allowed();
        let intent_hash = admission.intent.intent_hash;
        let body = RecordBody::EffectIntent(admission.intent.clone());
        let intent_seq = append_derived(sink, appended, cause_seq, body)?;
        let mut denied = None;
        for decision in admission.decisions {
            if !decision.allowed && denied.is_none() {
                denied = Some(Denied {
                    code: decision.code.clone(),
                    detail: decision.detail.clone(),
                });
            }
            let body = RecordBody::Admission(AdmissionBody {
                intent_hash,
                stage: decision.stage.to_owned(),
                allowed: decision.allowed,
                code: decision.code,
                detail: decision.detail,
            });
            append_derived(sink, appended, intent_seq, body)?;
        }
        if !allowed {
            return Ok(Err(denied.unwrap_or(Denied {
                code: "denied".to_owned(),
                detail: "no decision allowed it".to_owned(),
            })));
        }
        self.effects.insert(OpenIntent {
            seq: intent_seq,
            intent: admission.intent,
        });
        self.remember(EffectsChange::Opened(intent_hash));
        self.admitted.push(intent_hash);
        Ok(Ok(intent_hash))
    }

    /// Closes the intent a journaled receipt answers and, for a reducer's micro-effect, steps
    /// that reducer (or cell) with the receipt wrapped into its event variant.
    pub(super) fn deliver_receipt(
        &mut self,
        receipt_seq: u64,
        receipt: &ReceiptBody,
        stamp: &Stamp,
        sink: &mut dyn Sink,
        appended: &mut Vec<u64>,
    ) -> Result<()> {
        let open =
            self.effects
                .close(&receipt.intent_hash)
                .ok_or_else(|| KernelError::Diverged {
                    seq: receipt_seq,
                    reason: format!("a receipt for {}, which is not open", receipt.intent_hash),
                })?;
        self.remember(EffectsChange::Closed(open.clone()));
        if open.intent.origin.kind == OriginKind::Plan {
            let mut queue = VecDeque::new();
            let mut journal = Journal {
                sink,
                appended,
                queue: &mut queue,
            };
            self.plan_receipt(receipt_seq, &open, receipt, &mut journal)?;
            return self.run_queue(queue, stamp, sink, appended);
        }
        let Some(route) = self
            .routes
            .by_reducer
            .get(&open.intent.origin.name)
            .cloned()
        else {
            // The reducer left the manifest since: the receipt is journaled, nobody hears it.
            return Ok(());
        };
        let key = open.intent.origin.key.clone().unwrap_or_default();
        let module = self.plane.module(&route.reducer).cloned();
        let event = module
            .ok_or_else(|| format!("{} is not a module", route.reducer))
            .and_then(|m| event_for_reducer(&self.plane, &m, &open, receipt));
        let (_, value) = match event {
            Ok(event) => event,
            Err(reason) => {
                let code = "receipt_unroutable";
                return self.fail(&route, &key, code, reason, receipt_seq, sink, appended);
            }
        };
        let mut queue = VecDeque::new();
        self.step(
            &route,
            key,
            receipt_seq,
            &value,
            stamp,
            sink,
            appended,
            &mut queue,
        )?;
        self.run_queue(queue, stamp, sink, appended)
    }
}
