//! Plan checks (AIR.md §6): unique step ids, a DAG over known steps, references that resolve
//! to something computed before they are read, effects and grants that exist and match,
//! literals that fit their schema, and the correlation rule.

use std::collections::BTreeMap;

use crate::expr::{Expr, ExprOrValue, ExprRef, RefRoot};
use crate::json::join_key;
use crate::nodes::{DefPlan, Node, OriginScope, StepOp};
use crate::plane::Def;
use crate::types::TypeExpr;
use crate::value::from_any_json;

use super::Validator;

/// What an expression may refer to at the place it is evaluated.
struct Scope<'p> {
    /// Steps that have completed (strict ancestors, or for a guard the `from` step too).
    done: Vec<bool>,
    /// `@event` is allowed, with this type (inside `await_event.where`).
    event: Option<&'p TypeExpr>,
    /// Where the expression is, for messages.
    place: String,
}

/// Facts about a plan gathered once and shared by the checks.
struct PlanFacts<'p> {
    plan: &'p DefPlan,
    index_of: BTreeMap<&'p str, usize>,
    binders: BTreeMap<&'p str, Vec<usize>>,
    correlated: bool,
}

impl Validator<'_> {
    pub(super) fn plan(&mut self, def: &Def) {
        let Node::Plan(plan) = &def.node else { return };
        self.need_schema(def, "$.input", &plan.input);
        if let Some(output) = &plan.output {
            self.need_schema(def, "$.output", output);
        }
        for (local, schema) in &plan.locals {
            self.need_schema(def, &join_key("$.locals", local.as_str()), schema);
        }
        let facts = self.plan_facts(def, plan);
        let all_done = vec![true; plan.steps.len()];
        // Without a DAG there is no "before"; still check what can be: refs against every step.
        let ancestors = self
            .plan_graph(def, &facts)
            .unwrap_or_else(|| vec![all_done.clone(); plan.steps.len()]);
        for (index, step) in plan.steps.iter().enumerate() {
            let scope = Scope {
                done: ancestors[index].clone(),
                event: None,
                place: format!("step `{}`", step.id),
            };
            self.step(def, &facts, index, scope);
        }
        for (index, edge) in plan.edges.iter().enumerate() {
            let (Some(guard), Some(&from)) = (&edge.when, facts.index_of.get(edge.from.as_str()))
            else {
                continue;
            };
            let mut done = ancestors[from].clone();
            done[from] = true;
            let scope = Scope {
                done,
                event: None,
                place: format!("the guard of edge {} → {}", edge.from, edge.to),
            };
            if let Expr::Const(constant) = guard
                && !matches!(constant, crate::value::Value::Bool(_))
            {
                let message = format!(
                    "a guard is a boolean expression, not a {} constant",
                    constant.kind_name()
                );
                self.at_def(def, &format!("$.edges[{index}].when"), "bad_guard", message);
            }
            self.expr_refs(
                def,
                &facts,
                guard,
                &format!("$.edges[{index}].when"),
                &scope,
            );
        }
        for (index, invariant) in plan.invariants.iter().enumerate() {
            let scope = Scope {
                done: all_done.clone(),
                event: None,
                place: "an invariant".to_owned(),
            };
            self.expr_refs(
                def,
                &facts,
                invariant,
                &format!("$.invariants[{index}]"),
                &scope,
            );
        }
    }

    fn plan_facts<'p>(&mut self, def: &Def, plan: &'p DefPlan) -> PlanFacts<'p> {
        let mut index_of = BTreeMap::new();
        let mut binders: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (index, step) in plan.steps.iter().enumerate() {
            let path = format!("$.steps[{index}]");
            if index_of.insert(step.id.as_str(), index).is_some() {
                self.at_def(
                    def,
                    &format!("{path}.id"),
                    "duplicate_step",
                    format!("step id `{}` is used twice", step.id),
                );
            }
            if step.id.as_str().contains('.') {
                self.at_def(
                    def,
                    &format!("{path}.id"),
                    "bad_name",
                    format!(
                        "step id `{}` contains `.`, which ends a name in @step: references",
                        step.id
                    ),
                );
            }
            if let Some(var) = step.op.binds() {
                if var.as_str().contains('.') {
                    self.at_def(
                        def,
                        &format!("{path}.bind"),
                        "bad_name",
                        format!(
                            "variable `{var}` contains `.`, which ends a name in @var: references"
                        ),
                    );
                }
                binders.entry(var.as_str()).or_default().push(index);
            }
        }
        let correlated = self
            .plane
            .manifest()
            .triggers
            .iter()
            .any(|t| t.plan == plan.name && t.correlate_by.is_some());
        PlanFacts {
            plan,
            index_of,
            binders,
            correlated,
        }
    }

    /// Checks the edges and returns each step's strict ancestors, or `None` if there is a cycle.
    fn plan_graph(&mut self, def: &Def, facts: &PlanFacts<'_>) -> Option<Vec<Vec<bool>>> {
        let steps = &facts.plan.steps;
        let mut predecessors: Vec<Vec<usize>> = vec![Vec::new(); steps.len()];
        let mut seen_edges = std::collections::BTreeSet::new();
        let mut graph_ok = true;
        for (index, edge) in facts.plan.edges.iter().enumerate() {
            let path = format!("$.edges[{index}]");
            let from = facts.index_of.get(edge.from.as_str()).copied();
            let to = facts.index_of.get(edge.to.as_str()).copied();
            for (end, id, found) in [("from", &edge.from, from), ("to", &edge.to, to)] {
                if found.is_none() {
                    self.at_def(
                        def,
                        &format!("{path}.{end}"),
                        "dangling_ref",
                        format!("no step has id `{id}`"),
                    );
                    graph_ok = false;
                }
            }
            let (Some(from), Some(to)) = (from, to) else {
                continue;
            };
            if !seen_edges.insert((from, to)) {
                self.at_def(
                    def,
                    &path,
                    "duplicate_edge",
                    format!("edge {} → {} appears twice", edge.from, edge.to),
                );
                continue;
            }
            if matches!(steps[from].op, StepOp::End { .. }) {
                self.at_def(
                    def,
                    &path,
                    "end_has_successor",
                    format!("`{}` is an end step; nothing can follow it", edge.from),
                );
            }
            predecessors[to].push(from);
        }
        if !graph_ok {
            return None;
        }
        let order = match topological_order(&predecessors) {
            Ok(order) => order,
            Err(cycle) => {
                let ids: Vec<&str> = cycle.iter().map(|&i| steps[i].id.as_str()).collect();
                self.at_def(
                    def,
                    "$.edges",
                    "plan_cycle",
                    match ids.as_slice() {
                        [one] => format!("a plan is a DAG, but step `{one}` has an edge to itself"),
                        _ => format!("a plan is a DAG, but steps {} form a cycle", ids.join(", ")),
                    },
                );
                return None;
            }
        };
        let mut ancestors = vec![vec![false; steps.len()]; steps.len()];
        for step in order {
            for &pred in &predecessors[step] {
                let (pred_ancestors, _) = (ancestors[pred].clone(), ());
                for (index, done) in pred_ancestors.into_iter().enumerate() {
                    ancestors[step][index] |= done;
                }
                ancestors[step][pred] = true;
            }
        }
        Some(ancestors)
    }

    fn step(&mut self, def: &Def, facts: &PlanFacts<'_>, index: usize, scope: Scope<'_>) {
        let plane = self.plane;
        let step = &facts.plan.steps[index];
        let path = format!("$.steps[{index}]");
        match &step.op {
            StepOp::RaiseEvent { event, value } => {
                self.need_schema(def, &format!("{path}.event"), event);
                self.typed_item(
                    def,
                    facts,
                    value,
                    plane.schema(event).map(|s| &s.ty),
                    &format!("{path}.value"),
                    &scope,
                );
            }
            StepOp::EmitEffect {
                kind,
                params,
                cap,
                idempotency_key,
                ..
            } => {
                let effect = plane.effect_by_kind(kind.as_str());
                match effect {
                    None => self.at_def(
                        def,
                        &format!("{path}.kind"),
                        "dangling_ref",
                        format!("no effect listed in the manifest has kind `{kind}`"),
                    ),
                    Some(effect) if effect.origin_scope == OriginScope::Reducer => {
                        self.at_def(
                            def,
                            &format!("{path}.kind"),
                            "effect_not_allowed",
                            format!(
                                "`{kind}` may be emitted by reducers only (origin_scope reducer)"
                            ),
                        );
                    }
                    Some(_) => {}
                }
                match plane.manifest().grant(cap.as_str()) {
                    None => self.at_def(
                        def,
                        &format!("{path}.cap"),
                        "dangling_ref",
                        format!("no grant named `{cap}` in the manifest's defaults"),
                    ),
                    Some(grant) => {
                        if let (Some(effect), Some(cap_def)) = (effect, plane.cap(&grant.cap))
                            && effect.cap_type != cap_def.cap_type
                        {
                            let message = format!(
                                "`{kind}` needs a grant of cap type `{}`, but `{cap}` is of type `{}`",
                                effect.cap_type, cap_def.cap_type
                            );
                            self.at_def(def, &format!("{path}.cap"), "cap_type_mismatch", message);
                        }
                    }
                }
                let params_type = effect
                    .and_then(|e| plane.schema(&e.params_schema))
                    .map(|s| &s.ty);
                self.typed_item(
                    def,
                    facts,
                    params,
                    params_type,
                    &format!("{path}.params"),
                    &scope,
                );
                match idempotency_key {
                    Some(ExprOrValue::Expr(expr)) => {
                        self.expr_refs(def, facts, expr, &format!("{path}.idempotency_key"), &scope)
                    }
                    Some(ExprOrValue::Literal(_)) => {
                        self.at_def(
                            def,
                            &format!("{path}.idempotency_key"),
                            "bad_expr",
                            "`idempotency_key` must be an expression (it is hashed to 32 bytes)",
                        );
                    }
                    None => {}
                }
            }
            StepOp::AwaitReceipt { for_, .. } => {
                if let Expr::Ref(ExprRef {
                    root: RefRoot::Var(var),
                    path: segments,
                    ..
                }) = for_
                    && segments.is_empty()
                {
                    let bound_by_emit = facts.binders.get(var.as_str()).is_some_and(|steps| {
                        steps
                            .iter()
                            .any(|&s| matches!(facts.plan.steps[s].op, StepOp::EmitEffect { .. }))
                    });
                    if facts.binders.contains_key(var.as_str()) && !bound_by_emit {
                        self.at_def(def, &format!("{path}.for"), "bad_await", format!("await_receipt waits for an effect id, but @var:{var} is not bound by an emit_effect step"));
                    }
                }
                self.expr_refs(def, facts, for_, &format!("{path}.for"), &scope);
            }
            StepOp::AwaitEvent { event, where_, .. } => {
                self.need_schema(def, &format!("{path}.event"), event);
                let uses_correlation = where_
                    .as_ref()
                    .is_some_and(|w| references_var(w, "correlation_id"));
                if facts.correlated && !uses_correlation {
                    let message = format!(
                        "plan {} is started by a trigger with `correlate_by`, so this await_event needs a `where` that uses @var:correlation_id",
                        facts.plan.name
                    );
                    self.at_def(def, &path, "correlation_missing", message);
                }
                if let Some(where_) = where_ {
                    let event_type = plane.schema(event).map(|s| &s.ty);
                    let where_scope = Scope {
                        done: scope.done.clone(),
                        event: event_type,
                        place: scope.place.clone(),
                    };
                    self.expr_refs(def, facts, where_, &format!("{path}.where"), &where_scope);
                }
            }
            StepOp::Assign { expr, .. } => match expr {
                ExprOrValue::Expr(expr) => {
                    self.expr_refs(def, facts, expr, &format!("{path}.expr"), &scope)
                }
                ExprOrValue::Literal(_) => {
                    self.at_def(def, &format!("{path}.expr"), "untyped_literal", "assign has no schema to read a plain literal with; write it as a tagged constant like {\"nat\": 3}");
                }
            },
            StepOp::End { result } => {
                if let Some(result) = result {
                    match &facts.plan.output {
                        None => self.at_def(
                            def,
                            &format!("{path}.result"),
                            "bad_result",
                            format!(
                                "plan {} declares no `output`, so `end` takes no result",
                                facts.plan.name
                            ),
                        ),
                        Some(output) => {
                            let output_type = plane.schema(output).map(|s| &s.ty);
                            self.typed_item(
                                def,
                                facts,
                                result,
                                output_type,
                                &format!("{path}.result"),
                                &scope,
                            );
                        }
                    }
                }
            }
        }
    }

    /// Checks an expression's refs, or a literal against the type it must have.
    fn typed_item(
        &mut self,
        def: &Def,
        facts: &PlanFacts<'_>,
        item: &ExprOrValue,
        ty: Option<&TypeExpr>,
        path: &str,
        scope: &Scope<'_>,
    ) {
        match (item, ty) {
            (ExprOrValue::Expr(expr), _) => self.expr_refs(def, facts, expr, path, scope),
            (ExprOrValue::Literal(json), Some(ty)) => {
                if let Err(error) = from_any_json(json, ty, self.plane) {
                    self.at_def(
                        def,
                        &error.path.replacen('$', path, 1),
                        "bad_literal",
                        error.message,
                    );
                }
            }
            (ExprOrValue::Literal(_), None) => {}
        }
    }

    fn expr_refs(
        &mut self,
        def: &Def,
        facts: &PlanFacts<'_>,
        expr: &Expr,
        path: &str,
        scope: &Scope<'_>,
    ) {
        let mut refs = Vec::new();
        expr.visit_refs(path, &mut |r, p| refs.push((r.clone(), p.to_owned())));
        for (reference, ref_path) in refs {
            if let Err((code, message)) = self.check_ref(facts, &reference, scope) {
                self.at_def(def, &ref_path, code, message);
            }
        }
    }

    fn check_ref(
        &self,
        facts: &PlanFacts<'_>,
        reference: &ExprRef,
        scope: &Scope<'_>,
    ) -> Result<(), (&'static str, String)> {
        let plane = self.plane;
        let text = &reference.text;
        match &reference.root {
            RefRoot::PlanInput => {
                if let Some(input) = plane.schema(&facts.plan.input) {
                    check_path(&input.ty, &reference.path, plane)
                        .map_err(|why| ("bad_ref_path", format!("`{text}`: {why}")))?;
                }
            }
            RefRoot::Event => match scope.event {
                None => {
                    return Err((
                        "bad_ref",
                        format!("`{text}` is only available inside await_event.where"),
                    ));
                }
                Some(ty) => check_path(ty, &reference.path, plane)
                    .map_err(|why| ("bad_ref_path", format!("`{text}`: {why}")))?,
            },
            RefRoot::Step(id) => match facts.index_of.get(id.as_str()) {
                None => return Err(("dangling_ref", format!("`{text}`: no step has id `{id}`"))),
                Some(&step) if !scope.done[step] => {
                    return Err((
                        "ref_not_ready",
                        format!("`{text}`: step `{id}` does not run before {}", scope.place),
                    ));
                }
                Some(_) => {}
            },
            RefRoot::Var(var) => {
                let builtin = var == "correlation_id" && facts.correlated;
                let local = facts.plan.locals.keys().any(|l| l.as_str() == var);
                let binders = facts.binders.get(var.as_str());
                let bound_before =
                    binders.is_some_and(|steps| steps.iter().any(|&s| scope.done[s]));
                if !(builtin || local || bound_before) {
                    let message = match binders {
                        None => format!("`{text}`: no step binds `{var}` and it is not a local"),
                        Some(steps) => {
                            let ids: Vec<&str> = steps
                                .iter()
                                .map(|&s| facts.plan.steps[s].id.as_str())
                                .collect();
                            format!(
                                "`{text}`: `{var}` is bound by {}, which does not run before {}",
                                ids.join(", "),
                                scope.place
                            )
                        }
                    };
                    return Err(("unbound_var", message));
                }
            }
        }
        Ok(())
    }
}

/// True if the expression refers to `@var:NAME`.
fn references_var(expr: &Expr, name: &str) -> bool {
    let mut found = false;
    expr.visit_refs("$", &mut |r, _| {
        found |= r.root == RefRoot::Var(name.to_owned())
    });
    found
}

/// Checks that a field path exists in a type (options are looked through; past a variant's
/// `$value`, or into a map, nothing more can be known statically).
fn check_path(
    ty: &TypeExpr,
    segments: &[String],
    plane: &crate::plane::ControlPlane,
) -> Result<(), String> {
    let mut current = ty;
    for segment in segments {
        let mut resolved = current
            .resolve(plane)
            .ok_or("a schema in the path does not resolve")?;
        while let TypeExpr::Option(inner) = resolved {
            resolved = inner
                .resolve(plane)
                .ok_or("a schema in the path does not resolve")?;
        }
        current = match resolved {
            TypeExpr::Record(fields) => fields
                .get(segment)
                .ok_or_else(|| format!("no field `{segment}`"))?,
            TypeExpr::Variant(_) if segment == "$tag" => &TypeExpr::Text,
            TypeExpr::Variant(_) if segment == "$value" => return Ok(()),
            TypeExpr::Map { .. } => return Ok(()),
            TypeExpr::List(inner) if segment.parse::<usize>().is_ok() => inner,
            other => return Err(format!("a {} has no `{segment}`", other.keyword())),
        };
    }
    Ok(())
}

/// Kahn's algorithm in declaration order; on a cycle, the steps of one cycle, in order.
fn topological_order(predecessors: &[Vec<usize>]) -> Result<Vec<usize>, Vec<usize>> {
    let count = predecessors.len();
    let mut remaining: Vec<usize> = predecessors.iter().map(Vec::len).collect();
    let mut successors: Vec<Vec<usize>> = vec![Vec::new(); count];
    for (step, preds) in predecessors.iter().enumerate() {
        for &pred in preds {
            successors[pred].push(step);
        }
    }
    let mut order = Vec::with_capacity(count);
    let mut ready: std::collections::BTreeSet<usize> =
        (0..count).filter(|&s| remaining[s] == 0).collect();
    while let Some(step) = ready.pop_first() {
        order.push(step);
        for &next in &successors[step] {
            remaining[next] -= 1;
            if remaining[next] == 0 {
                ready.insert(next);
            }
        }
    }
    if order.len() == count {
        return Ok(order);
    }
    // Every leftover step has a leftover predecessor: walking predecessors must revisit a step,
    // and the walk from its first visit is a cycle.
    let start = (0..count).find(|s| remaining[*s] > 0).unwrap_or(0);
    let mut walk = vec![start];
    let mut current = start;
    for _ in 0..=count {
        let Some(&pred) = predecessors[current].iter().find(|p| remaining[**p] > 0) else {
            break;
        };
        if let Some(at) = walk.iter().position(|s| *s == pred) {
            let mut cycle: Vec<usize> = walk[at..].to_vec();
            cycle.reverse();
            return Err(cycle);
        }
        walk.push(pred);
        current = pred;
    }
    Err(walk)
}
