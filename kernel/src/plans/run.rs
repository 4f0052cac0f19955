//! The plan scheduler (AIR.md §6 with the semantics Worldline fixes, `spec/plans.md`).
//!
//! A step is ready when every predecessor is done or skipped and at least one incoming edge from
//! a done predecessor has a true guard; a step whose predecessors are all settled without such an
//! edge is skipped, and skipping propagates. Ready steps run in declaration order, all of one
//! round before the next round is computed (so ready emits leave in the same tick). Invariants
//! are checked after every step. Every failure ends the instance with a code, never a panic.

use worldline_air::expr::eval::{Env, EvalError, eval, eval_typed};
use worldline_air::expr::{Expr, ExprOrValue};
use worldline_air::nodes::{DefPlan, PlanStep, StepOp};
use worldline_air::{ControlPlane, Hash, Name, TypeExpr, Value};

use super::{HeldReceipt, PlanInstance, StepStatus};
use crate::error::Result;

/// An effect a plan step asks for, before admission.
pub struct EmitRequest<'a> {
    /// Effect kind.
    pub kind: &'a str,
    /// Params, canonical for the effect's params schema.
    pub params: Vec<u8>,
    /// The grant.
    pub cap: &'a str,
    /// SHA-256 of the idempotency key's canonical CBOR, if the step gives one.
    pub idempotency_key: Option<[u8; 32]>,
}

/// A denied emit: the first denying decision's code and detail.
pub struct Denied {
    /// Machine-readable, e.g. `host_not_allowed`.
    pub code: String,
    /// For people.
    pub detail: String,
}

/// What the scheduler needs from the stepper: journaling raised events and admitting emits.
pub trait PlanHost {
    /// The control plane the instance is pinned to.
    fn plane(&self) -> &ControlPlane;
    /// The seq the next record will get.
    fn next_seq(&self) -> u64;
    /// Journals a domain event raised by `instance` (and queues it for routing).
    fn raise(&mut self, instance: &PlanInstance, schema: &Name, value: Vec<u8>) -> Result<u64>;
    /// Admits an emit (journaling the intent and its decisions); the intent hash if admitted.
    fn emit(
        &mut self,
        instance: &PlanInstance,
        request: EmitRequest<'_>,
    ) -> Result<std::result::Result<Hash, Denied>>;
}

/// How an instance ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ending {
    /// `ok` or `error`.
    pub status: &'static str,
    /// Why, when not `ok`: `invariant_violation`, `receipt_error`, an expression error code,
    /// an admission denial code, …
    pub code: Option<String>,
    /// For people: which step, and what went wrong.
    pub reason: Option<String>,
    /// The canonical result of its `end` step, if it had one.
    pub result: Option<Vec<u8>>,
}

impl Ending {
    /// An error ending at `step` (or a place like `a → b`).
    pub fn failed(code: impl Into<String>, step: &str, message: impl std::fmt::Display) -> Ending {
        Ending {
            status: "error",
            code: Some(code.into()),
            reason: Some(format!("step `{step}`: {message}")),
            result: None,
        }
    }

    fn eval(step: &str, error: EvalError) -> Ending {
        Ending::failed(error.code, step, error.message)
    }

    fn ok(result: Option<Vec<u8>>) -> Ending {
        Ending {
            status: "ok",
            code: None,
            reason: None,
            result,
        }
    }
}

/// After running: still waiting, or ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Some step waits for a receipt or an event.
    Waiting,
    /// The instance is over.
    Ended(Ending),
}

/// What expressions see: the instance, and `@event` inside an `await_event.where`.
struct InstanceEnv<'a> {
    instance: &'a PlanInstance,
    event: Option<&'a Value>,
}

impl Env for InstanceEnv<'_> {
    fn plan_input(&self) -> Option<&Value> {
        Some(&self.instance.input)
    }
    fn var(&self, name: &str) -> Option<&Value> {
        self.instance.vars.get(name)
    }
    fn step(&self, id: &str) -> Option<&Value> {
        self.instance.step_values.get(id)
    }
    fn event(&self) -> Option<&Value> {
        self.event
    }
}

fn env(instance: &PlanInstance) -> InstanceEnv<'_> {
    InstanceEnv {
        instance,
        event: None,
    }
}

fn schema_type<'p>(
    plane: &'p ControlPlane,
    schema: &Name,
    step: &str,
) -> Result<&'p TypeExpr, Ending> {
    plane
        .schema_type_of(schema)
        .ok_or_else(|| Ending::failed("schema_unknown", step, format!("no schema {schema}")))
}

/// Marks step `index` done with `value`, binding its variable; then checks the invariants.
fn finish_step(
    instance: &mut PlanInstance,
    plan: &DefPlan,
    index: usize,
    value: Value,
) -> Option<Ending> {
    let step = &plan.steps[index];
    if let Some(var) = step.op.binds() {
        instance.vars.insert(var.to_string(), value.clone());
    }
    instance.step_values.insert(step.id.to_string(), value);
    instance.steps[index] = StepStatus::Done;
    check_invariants(instance, plan, step.id.as_str())
}

fn check_invariants(instance: &PlanInstance, plan: &DefPlan, step: &str) -> Option<Ending> {
    for (index, invariant) in plan.invariants.iter().enumerate() {
        match eval(invariant, &env(instance)) {
            Ok(Value::Bool(true)) => {}
            Ok(Value::Bool(false)) => {
                let message = format!("after it, invariant {index} does not hold");
                return Some(Ending::failed("invariant_violation", step, message));
            }
            Ok(other) => {
                let message = format!("invariant {index} is a {}, not a bool", other.kind_name());
                return Some(Ending::failed("type_mismatch", step, message));
            }
            Err(error) => return Some(Ending::eval(step, error)),
        }
    }
    None
}

/// Settles pending steps: the ready ones (in declaration order) and the skipped ones.
fn settle(instance: &mut PlanInstance, plan: &DefPlan) -> std::result::Result<Vec<usize>, Ending> {
    loop {
        let mut ready = Vec::new();
        let mut skipped_any = false;
        for (index, step) in plan.steps.iter().enumerate() {
            if instance.steps[index] != StepStatus::Pending {
                continue;
            }
            match readiness(instance, plan, step)? {
                Readiness::Ready => ready.push(index),
                Readiness::Skip => {
                    instance.steps[index] = StepStatus::Skipped;
                    skipped_any = true;
                }
                Readiness::NotYet => {}
            }
        }
        // A skip can settle a successor: look again before running anything.
        if !skipped_any || !ready.is_empty() {
            return Ok(ready);
        }
    }
}

enum Readiness {
    Ready,
    Skip,
    NotYet,
}

fn readiness(
    instance: &PlanInstance,
    plan: &DefPlan,
    step: &PlanStep,
) -> std::result::Result<Readiness, Ending> {
    let mut incoming = plan.edges.iter().filter(|e| e.to == step.id).peekable();
    if incoming.peek().is_none() {
        return Ok(Readiness::Ready);
    }
    let mut taken = false;
    for edge in incoming {
        let Some(from) = plan.steps.iter().position(|s| s.id == edge.from) else {
            continue;
        };
        match instance.steps[from] {
            StepStatus::Pending | StepStatus::Waiting { .. } => return Ok(Readiness::NotYet),
            StepStatus::Skipped => {}
            StepStatus::Done => {
                let holds = match &edge.when {
                    None => true,
                    Some(guard) => {
                        guard_holds(instance, guard, edge.from.as_str(), edge.to.as_str())?
                    }
                };
                taken |= holds;
            }
        }
    }
    Ok(if taken {
        Readiness::Ready
    } else {
        Readiness::Skip
    })
}

fn guard_holds(
    instance: &PlanInstance,
    guard: &Expr,
    from: &str,
    to: &str,
) -> std::result::Result<bool, Ending> {
    let place = format!("{from} → {to}");
    match eval(guard, &env(instance)) {
        Ok(Value::Bool(holds)) => Ok(holds),
        Ok(other) => Err(Ending::failed(
            "type_mismatch",
            &place,
            format!("the guard is a {}, not a bool", other.kind_name()),
        )),
        Err(error) => Err(Ending::eval(&place, error)),
    }
}

/// Runs the instance as far as it can go.
pub fn advance(
    instance: &mut PlanInstance,
    plan: &DefPlan,
    host: &mut dyn PlanHost,
) -> Result<Outcome> {
    loop {
        if let Some(ending) = complete_held_receipts(instance, plan) {
            return Ok(Outcome::Ended(ending));
        }
        let ready = match settle(instance, plan) {
            Ok(ready) => ready,
            Err(ending) => return Ok(Outcome::Ended(ending)),
        };
        if ready.is_empty() {
            break;
        }
        for index in ready {
            if let Some(ending) = run_step(instance, plan, index, host)? {
                return Ok(Outcome::Ended(ending));
            }
        }
    }
    let settled = instance
        .steps
        .iter()
        .all(|s| matches!(s, StepStatus::Done | StepStatus::Skipped));
    Ok(if settled {
        Outcome::Ended(Ending::ok(None))
    } else {
        Outcome::Waiting
    })
}

/// Runs one ready step; `Some` if it ended the instance.
fn run_step(
    instance: &mut PlanInstance,
    plan: &DefPlan,
    index: usize,
    host: &mut dyn PlanHost,
) -> Result<Option<Ending>> {
    let step = &plan.steps[index];
    let id = step.id.as_str();
    let plane = host.plane();
    let value = match &step.op {
        StepOp::RaiseEvent { event, value } => {
            let value = match schema_type(plane, event, id)
                .and_then(|ty| typed(value, ty, instance, plane, id))
            {
                Ok(value) => value,
                Err(ending) => return Ok(Some(ending)),
            };
            host.raise(instance, event, value.to_cbor_body())?;
            value
        }
        StepOp::EmitEffect {
            kind,
            params,
            cap,
            idempotency_key,
            ..
        } => match emit(
            instance,
            host,
            id,
            kind.as_str(),
            params,
            cap.as_str(),
            idempotency_key,
        )? {
            Ok(hash) => Value::Hash(hash),
            Err(ending) => return Ok(Some(ending)),
        },
        StepOp::AwaitReceipt { .. } | StepOp::AwaitEvent { .. } => {
            instance.steps[index] = StepStatus::Waiting {
                since_seq: host.next_seq(),
            };
            return Ok(None);
        }
        StepOp::Assign { expr, bind } => {
            let local = plan.locals.get(&bind.var);
            let result = match local {
                Some(schema) => schema_type(plane, schema, id)
                    .and_then(|ty| typed(expr, ty, instance, plane, id)),
                None => untyped(expr, instance, id),
            };
            match result {
                Ok(value) => value,
                Err(ending) => return Ok(Some(ending)),
            }
        }
        StepOp::End { result } => {
            let value = match (result, &plan.output) {
                (None, _) => None,
                (Some(result), Some(output)) => Some(
                    schema_type(plane, output, id)
                        .and_then(|ty| typed(result, ty, instance, plane, id)),
                ),
                (Some(result), None) => Some(untyped(result, instance, id)),
            };
            return Ok(Some(match value.transpose() {
                Ok(value) => Ending::ok(value.map(|v| v.to_cbor_body())),
                Err(ending) => ending,
            }));
        }
    };
    Ok(finish_step(instance, plan, index, value))
}

fn typed(
    item: &ExprOrValue,
    ty: &TypeExpr,
    instance: &PlanInstance,
    plane: &ControlPlane,
    step: &str,
) -> std::result::Result<Value, Ending> {
    eval_typed(item, ty, &env(instance), plane).map_err(|e| Ending::eval(step, e))
}

fn untyped(
    item: &ExprOrValue,
    instance: &PlanInstance,
    step: &str,
) -> std::result::Result<Value, Ending> {
    match item {
        ExprOrValue::Expr(expr) => eval(expr, &env(instance)).map_err(|e| Ending::eval(step, e)),
        ExprOrValue::Literal(_) => Err(Ending::failed(
            "invalid_value",
            step,
            "a plain literal needs a schema here; write it in the tagged lens",
        )),
    }
}

#[allow(clippy::too_many_arguments)]
fn emit(
    instance: &PlanInstance,
    host: &mut dyn PlanHost,
    step: &str,
    kind: &str,
    params: &ExprOrValue,
    cap: &str,
    idempotency_key: &Option<ExprOrValue>,
) -> Result<std::result::Result<Hash, Ending>> {
    let plane = host.plane();
    let params_type = plane
        .effect_by_kind(kind)
        .and_then(|effect| plane.schema_type_of(&effect.params_schema));
    let Some(params_type) = params_type else {
        return Ok(Err(Ending::failed(
            "effect_unknown",
            step,
            format!("no effect of kind {kind}"),
        )));
    };
    let params = match typed(params, params_type, instance, plane, step) {
        Ok(params) => params.to_cbor_body(),
        Err(ending) => return Ok(Err(ending)),
    };
    let idempotency_key = match idempotency_key {
        None => None,
        Some(item) => match untyped(item, instance, step) {
            Ok(value) => Some(*Hash::of(&value.to_cbor_body()).as_bytes()),
            Err(ending) => return Ok(Err(ending)),
        },
    };
    let request = EmitRequest {
        kind,
        params,
        cap,
        idempotency_key,
    };
    Ok(host.emit(instance, request)?.map_err(|denied| {
        Ending::failed(
            denied.code,
            step,
            format!("the effect was not admitted: {}", denied.detail),
        )
    }))
}

/// Completes waiting `await_receipt` steps whose receipt has arrived; `Some` if one ended the
/// instance (a receipt with status `error` or `timeout`, or a bad `for`).
fn complete_held_receipts(instance: &mut PlanInstance, plan: &DefPlan) -> Option<Ending> {
    for (index, step) in plan.steps.iter().enumerate() {
        let StepOp::AwaitReceipt { for_, .. } = &step.op else {
            continue;
        };
        if !matches!(instance.steps[index], StepStatus::Waiting { .. }) {
            continue;
        }
        let hash = match eval(for_, &env(instance)) {
            Ok(Value::Hash(hash)) => hash,
            Ok(other) => {
                let message = format!("`for` is a {}, not an intent hash", other.kind_name());
                return Some(Ending::failed("type_mismatch", step.id.as_str(), message));
            }
            Err(error) => return Some(Ending::eval(step.id.as_str(), error)),
        };
        let Some(held) = instance.receipts.remove(&hash) else {
            continue;
        };
        if held.status != "ok" {
            let message = format!("the receipt for {hash} has status `{}`", held.status);
            return Some(Ending::failed("receipt_error", step.id.as_str(), message));
        }
        if let Some(ending) = finish_step(instance, plan, index, held.value) {
            return Some(ending);
        }
    }
    None
}

/// Holds a receipt of one of the instance's intents (its `await_receipt` may come later).
pub fn hold_receipt(instance: &mut PlanInstance, intent_hash: Hash, held: HeldReceipt) {
    instance.receipts.insert(intent_hash, held);
}

/// Offers a journaled domain event to the instance's waiting `await_event` steps; every one that
/// matches (schema, `since_seq`, `where`) completes. `Some` if a `where` failed and ended it.
pub fn offer_event(
    instance: &mut PlanInstance,
    plan: &DefPlan,
    seq: u64,
    schema: &Name,
    event: &Value,
) -> Option<Ending> {
    for (index, step) in plan.steps.iter().enumerate() {
        let StepOp::AwaitEvent {
            event: wanted,
            where_,
            ..
        } = &step.op
        else {
            continue;
        };
        let StepStatus::Waiting { since_seq } = instance.steps[index] else {
            continue;
        };
        if wanted != schema || seq < since_seq {
            continue;
        }
        if let Some(condition) = where_ {
            let scope = InstanceEnv {
                instance,
                event: Some(event),
            };
            match eval(condition, &scope) {
                Ok(Value::Bool(true)) => {}
                Ok(Value::Bool(false)) => continue,
                Ok(other) => {
                    let message = format!("`where` is a {}, not a bool", other.kind_name());
                    return Some(Ending::failed("type_mismatch", step.id.as_str(), message));
                }
                Err(error) => return Some(Ending::eval(step.id.as_str(), error)),
            }
        }
        if let Some(ending) = finish_step(instance, plan, index, event.clone()) {
            return Some(ending);
        }
    }
    None
}

/// True if some waiting `await_event` step of the instance waits for `schema`.
pub fn awaits_event(instance: &PlanInstance, plan: &DefPlan, schema: &Name) -> bool {
    plan.steps.iter().enumerate().any(|(index, step)| {
        matches!(&step.op, StepOp::AwaitEvent { event, .. } if event == schema)
            && matches!(instance.steps[index], StepStatus::Waiting { .. })
    })
}
