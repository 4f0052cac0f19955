//! `defplan`: a finite DAG of steps that orchestrates effects (AIR.md §6).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value as Json;

use crate::error::AirError;
use crate::expr::{Expr, ExprOrValue};
use crate::name::{Ident, KindName, Name};
use crate::reader::{self, Obj};

/// Most steps a plan may have.
pub const PLAN_STEPS_MAX: usize = 1024;

/// A `defplan` node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct DefPlan {
    /// The plan's name.
    pub name: Name,
    /// Schema of `@plan.input`.
    pub input: Name,
    /// Schema of the result of `end` steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Name>,
    /// Typed local variables.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub locals: BTreeMap<Ident, Name>,
    /// The steps, in declaration order (which is also scheduling order).
    pub steps: Vec<PlanStep>,
    /// The DAG's edges.
    pub edges: Vec<PlanEdge>,
    /// Grants its emits use: derived from the steps (sorted); if written, must match.
    pub required_caps: Vec<Ident>,
    /// Effect kinds its emits use: derived from the steps (sorted); if written, must match.
    pub allowed_effects: Vec<KindName>,
    /// Boolean expressions checked after every step.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub invariants: Vec<Expr>,
}

/// One step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct PlanStep {
    /// Unique within the plan.
    pub id: Ident,
    /// What the step does.
    #[serde(flatten)]
    pub op: StepOp,
}

/// `{"as": NAME}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct BindAs {
    /// The variable bound.
    #[serde(rename = "as")]
    pub var: Ident,
}

/// `{"effect_id_as": NAME}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct BindEffectId {
    /// The variable that receives the intent hash.
    pub effect_id_as: Ident,
}

/// The six step kinds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum StepOp {
    /// Appends a domain event.
    RaiseEvent {
        /// Its schema.
        event: Name,
        /// Its value.
        value: ExprOrValue,
    },
    /// Emits an effect intent through admission.
    EmitEffect {
        /// Effect kind.
        kind: KindName,
        /// Parameters, typed by the effect's `params_schema`.
        params: ExprOrValue,
        /// The grant it uses.
        cap: Ident,
        /// Optional idempotency key (32 bytes once hashed).
        #[serde(skip_serializing_if = "Option::is_none")]
        idempotency_key: Option<ExprOrValue>,
        /// Where the intent hash goes.
        bind: BindEffectId,
    },
    /// Waits for the receipt of an emitted effect.
    AwaitReceipt {
        /// The intent hash to wait for (usually `@var:` of an emit's `effect_id_as`).
        #[serde(rename = "for")]
        for_: Expr,
        /// Where the receipt payload goes.
        bind: BindAs,
    },
    /// Waits for a domain event.
    AwaitEvent {
        /// Its schema.
        event: Name,
        /// Which events match (`@event` refers to the candidate).
        #[serde(rename = "where", skip_serializing_if = "Option::is_none")]
        where_: Option<Expr>,
        /// Where the event goes.
        bind: BindAs,
    },
    /// Computes a value.
    Assign {
        /// The value.
        expr: ExprOrValue,
        /// Where it goes.
        bind: BindAs,
    },
    /// Ends the instance, with an optional result.
    End {
        /// Typed by the plan's `output`.
        #[serde(skip_serializing_if = "Option::is_none")]
        result: Option<ExprOrValue>,
    },
}

/// An edge `from → to`, taken when its guard holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct PlanEdge {
    /// Predecessor step.
    pub from: Ident,
    /// Successor step.
    pub to: Ident,
    /// Guard; absent means always.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<Expr>,
}

impl StepOp {
    /// The op word.
    pub fn word(&self) -> &'static str {
        match self {
            StepOp::RaiseEvent { .. } => "raise_event",
            StepOp::EmitEffect { .. } => "emit_effect",
            StepOp::AwaitReceipt { .. } => "await_receipt",
            StepOp::AwaitEvent { .. } => "await_event",
            StepOp::Assign { .. } => "assign",
            StepOp::End { .. } => "end",
        }
    }

    /// The variable this step binds, if any.
    pub fn binds(&self) -> Option<&Ident> {
        match self {
            StepOp::EmitEffect { bind, .. } => Some(&bind.effect_id_as),
            StepOp::AwaitReceipt { bind, .. }
            | StepOp::AwaitEvent { bind, .. }
            | StepOp::Assign { bind, .. } => Some(&bind.var),
            StepOp::RaiseEvent { .. } | StepOp::End { .. } => None,
        }
    }
}

impl DefPlan {
    /// Reads a `defplan`. `required_caps`/`allowed_effects` are derived from the steps; when
    /// written they must name the same sets (checked here, stored sorted).
    pub fn from_json(json: &Json, path: &str) -> Result<DefPlan, AirError> {
        let mut node = Obj::new(json, path, "a defplan")?;
        node.skip("$kind");
        let name = node.req("name", reader::name)?;
        let input = node.req("input", reader::name)?;
        let output = node.opt("output", reader::name)?;
        let locals = node
            .opt("locals", |j, p| {
                reader::object_of(j, p, reader::ident, reader::name)
            })?
            .unwrap_or_default();
        let steps = node.req("steps", |j, p| reader::list(j, p, step))?;
        let edges = node
            .opt("edges", |j, p| reader::list(j, p, edge))?
            .unwrap_or_default();
        let written_caps = node.opt("required_caps", |j, p| reader::list(j, p, reader::ident))?;
        let written_effects = node.opt("allowed_effects", |j, p| {
            reader::list(j, p, reader::kind_name)
        })?;
        let invariants = node
            .opt("invariants", |j, p| reader::list(j, p, Expr::from_json))?
            .unwrap_or_default();
        node.finish()?;
        if steps.is_empty() {
            return Err(AirError::new(
                format!("{path}.steps"),
                "bad_plan",
                "a plan needs at least one step",
            ));
        }
        if steps.len() > PLAN_STEPS_MAX {
            return Err(AirError::new(
                format!("{path}.steps"),
                "bad_plan",
                format!("a plan has at most {PLAN_STEPS_MAX} steps"),
            ));
        }
        let mut plan = DefPlan {
            name,
            input,
            output,
            locals,
            steps,
            edges,
            required_caps: Vec::new(),
            allowed_effects: Vec::new(),
            invariants,
        };
        plan.derive_caps_and_effects();
        check_written(
            &plan.required_caps,
            written_caps,
            &format!("{path}.required_caps"),
            "required_caps",
            "grants",
        )?;
        check_written(
            &plan.allowed_effects,
            written_effects,
            &format!("{path}.allowed_effects"),
            "allowed_effects",
            "effect kinds",
        )?;
        Ok(plan)
    }

    /// Recomputes `required_caps` and `allowed_effects` from the emit steps.
    pub fn derive_caps_and_effects(&mut self) {
        let mut caps = Vec::new();
        let mut effects = Vec::new();
        for step in &self.steps {
            if let StepOp::EmitEffect { kind, cap, .. } = &step.op {
                caps.push(cap.clone());
                effects.push(kind.clone());
            }
        }
        caps.sort();
        caps.dedup();
        effects.sort();
        effects.dedup();
        self.required_caps = caps;
        self.allowed_effects = effects;
    }

    /// The step with this id.
    pub fn step(&self, id: &str) -> Option<&PlanStep> {
        self.steps.iter().find(|s| s.id.as_str() == id)
    }
}

fn check_written<T: Ord + Clone + std::fmt::Display>(
    derived: &[T],
    written: Option<Vec<T>>,
    path: &str,
    field: &str,
    what: &str,
) -> Result<(), AirError> {
    let Some(mut written) = written else {
        return Ok(());
    };
    written.sort();
    written.dedup();
    if written != derived {
        let show = |items: &[T]| {
            items
                .iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(AirError::new(
            path,
            "derived_mismatch",
            format!(
                "`{field}` lists [{}] but the emit steps use the {what} [{}]",
                show(&written),
                show(derived)
            ),
        ));
    }
    Ok(())
}

fn bind_as(json: &Json, path: &str) -> Result<BindAs, AirError> {
    let mut bind = Obj::new(json, path, "a binding")?;
    let var = bind.req("as", reader::ident)?;
    bind.finish()?;
    Ok(BindAs { var })
}

fn step(json: &Json, path: &str) -> Result<PlanStep, AirError> {
    let mut node = Obj::new(json, path, "a plan step")?;
    let id = node.req("id", reader::ident)?;
    let word = node.req("op", |j, p| reader::text(j, p).map(str::to_owned))?;
    let op = match word.as_str() {
        "raise_event" => StepOp::RaiseEvent {
            event: node.req("event", reader::name)?,
            value: node.req("value", ExprOrValue::from_json)?,
        },
        "emit_effect" => StepOp::EmitEffect {
            kind: node.req("kind", reader::kind_name)?,
            params: node.req("params", ExprOrValue::from_json)?,
            cap: node.req("cap", reader::ident)?,
            idempotency_key: node.opt("idempotency_key", ExprOrValue::from_json)?,
            bind: node.req("bind", |j, p| {
                let mut bind = Obj::new(j, p, "a binding")?;
                let effect_id_as = bind.req("effect_id_as", reader::ident)?;
                bind.finish()?;
                Ok(BindEffectId { effect_id_as })
            })?,
        },
        "await_receipt" => StepOp::AwaitReceipt {
            for_: node.req("for", Expr::from_json)?,
            bind: node.req("bind", bind_as)?,
        },
        "await_event" => StepOp::AwaitEvent {
            event: node.req("event", reader::name)?,
            where_: node.opt("where", Expr::from_json)?,
            bind: node.req("bind", bind_as)?,
        },
        "assign" => StepOp::Assign {
            expr: node.req("expr", ExprOrValue::from_json)?,
            bind: node.req("bind", bind_as)?,
        },
        "end" => StepOp::End {
            result: node.opt("result", ExprOrValue::from_json)?,
        },
        other => {
            return Err(AirError::new(
                format!("{path}.op"),
                "bad_plan",
                format!(
                    "unknown step op `{other}`; expected raise_event, emit_effect, await_receipt, await_event, assign or end"
                ),
            ));
        }
    };
    node.finish()?;
    Ok(PlanStep { id, op })
}

fn edge(json: &Json, path: &str) -> Result<PlanEdge, AirError> {
    let mut node = Obj::new(json, path, "an edge")?;
    let edge = PlanEdge {
        from: node.req("from", reader::ident)?,
        to: node.req("to", reader::ident)?,
        when: node.opt("when", Expr::from_json)?,
    };
    node.finish()?;
    Ok(edge)
}
