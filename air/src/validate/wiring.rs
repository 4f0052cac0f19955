//! Checks on definitions and on how the manifest wires them together: modules and their cap
//! slots, effects, caps and enforcers, policies, secrets, routing, triggers, grants, bindings.

use std::collections::{BTreeMap, BTreeSet};

use crate::name::{Ident, Name};
use crate::nodes::{DefKind, ModuleKind, Node, OriginKind, OriginScope};
use crate::plane::Def;
use crate::types::TypeExpr;
use crate::value::{Value, from_any_json};

use super::Validator;

const REDUCER_CONTEXT: &str = "sys/ReducerContext@1";
const PURE_CONTEXT: &str = "sys/PureContext@1";
const CAP_CHECK_INPUT: &str = "sys/CapCheckInput@1";
const CAP_CHECK_OUTPUT: &str = "sys/CapCheckOutput@1";

impl Validator<'_> {
    pub(super) fn module(&mut self, def: &Def) {
        let Node::Module(module) = &def.node else {
            return;
        };
        if let Some(key_schema) = &module.key_schema {
            self.need_schema(def, "$.key_schema", key_schema);
            if self.schema_exists(key_schema) && !self.is_key_schema(key_schema) {
                self.at_def(
                    def,
                    "$.key_schema",
                    "bad_key_schema",
                    format!("cell keys must be int, nat, text, uuid or hash; {key_schema} is not"),
                );
            }
        }
        if let Some(abi) = &module.abi.reducer {
            self.need_schema(def, "$.abi.reducer.state", &abi.state);
            self.need_schema(def, "$.abi.reducer.event", &abi.event);
            if let Some(annotations) = &abi.annotations {
                self.need_schema(def, "$.abi.reducer.annotations", annotations);
            }
            if let Some(context) = abi
                .context
                .as_ref()
                .filter(|c| c.as_str() != REDUCER_CONTEXT)
            {
                self.at_def(
                    def,
                    "$.abi.reducer.context",
                    "bad_context",
                    format!("a reducer's context is {REDUCER_CONTEXT}, not {context}"),
                );
            }
            for (index, kind) in abi.effects_emitted.iter().enumerate() {
                let path = format!("$.abi.reducer.effects_emitted[{index}]");
                let Some(effect) = self.plane.effect_by_kind(kind.as_str()) else {
                    self.at_def(
                        def,
                        &path,
                        "dangling_ref",
                        format!(
                            "emits `{kind}`, but no effect listed in the manifest has that kind"
                        ),
                    );
                    continue;
                };
                if effect.origin_scope == OriginScope::Plan {
                    self.at_def(
                        def,
                        &path,
                        "effect_not_allowed",
                        format!("`{kind}` may be emitted by plans only (origin_scope plan)"),
                    );
                }
                if !abi.cap_slots.values().any(|t| *t == effect.cap_type) {
                    let message = format!(
                        "emits `{kind}`, which needs a cap slot of type `{}`; `cap_slots` has none",
                        effect.cap_type
                    );
                    self.at_def(def, "$.abi.reducer.cap_slots", "missing_cap_slot", message);
                }
            }
        }
        if let Some(abi) = &module.abi.pure {
            self.need_schema(def, "$.abi.pure.input", &abi.input);
            self.need_schema(def, "$.abi.pure.output", &abi.output);
            if let Some(context) = abi.context.as_ref().filter(|c| c.as_str() != PURE_CONTEXT) {
                self.at_def(
                    def,
                    "$.abi.pure.context",
                    "bad_context",
                    format!("a pure module's context is {PURE_CONTEXT}, not {context}"),
                );
            }
        }
    }

    pub(super) fn effect(&mut self, def: &Def) {
        let Node::Effect(effect) = &def.node else {
            return;
        };
        self.need_schema(def, "$.params_schema", &effect.params_schema);
        self.need_schema(def, "$.receipt_schema", &effect.receipt_schema);
    }

    pub(super) fn effect_kinds_unique(&mut self) {
        let mut seen: BTreeMap<String, Name> = BTreeMap::new();
        let refs = self.plane.manifest().effects.clone();
        for (index, named) in refs.iter().enumerate() {
            let Some(effect) = self.plane.effect(&named.name) else {
                continue;
            };
            if let Some(first) = seen.insert(effect.kind.to_string(), named.name.clone()) {
                let message = format!(
                    "{} and {first} both define effect kind `{}`",
                    named.name, effect.kind
                );
                self.at_manifest(
                    &format!("$.effects[{index}]"),
                    "duplicate_effect_kind",
                    message,
                );
            }
        }
    }

    pub(super) fn cap(&mut self, def: &Def) {
        let Node::Cap(cap) = &def.node else { return };
        self.check_type(def, "$.schema", &cap.schema);
        let Some(enforcer) = &cap.enforcer else {
            return;
        };
        match self.plane.module(&enforcer.module) {
            None => self.at_def(
                def,
                "$.enforcer.module",
                "dangling_ref",
                format!(
                    "enforcer module {} is not listed in the manifest's `modules`",
                    enforcer.module
                ),
            ),
            Some(module) => {
                let pure_ok = module.module_kind == ModuleKind::Pure
                    && module.abi.pure.as_ref().is_some_and(|p| {
                        p.input.as_str() == CAP_CHECK_INPUT && p.output.as_str() == CAP_CHECK_OUTPUT
                    });
                if !pure_ok {
                    let message = format!(
                        "enforcer {} must be a pure module from {CAP_CHECK_INPUT} to {CAP_CHECK_OUTPUT}",
                        enforcer.module
                    );
                    self.at_def(def, "$.enforcer.module", "bad_enforcer", message);
                }
            }
        }
    }

    pub(super) fn policy(&mut self, def: &Def) {
        let Node::Policy(policy) = &def.node else {
            return;
        };
        for (index, rule) in policy.rules.iter().enumerate() {
            let when = format!("$.rules[{index}].when");
            if let Some(kind) = &rule.when.effect_kind
                && self.plane.effect_by_kind(kind.as_str()).is_none()
            {
                self.at_def(
                    def,
                    &format!("{when}.effect_kind"),
                    "dangling_ref",
                    format!("no effect listed in the manifest has kind `{kind}`"),
                );
            }
            if let Some(grant) = &rule.when.cap_name
                && self.plane.manifest().grant(grant.as_str()).is_none()
            {
                self.at_def(
                    def,
                    &format!("{when}.cap_name"),
                    "dangling_ref",
                    format!("no grant named `{grant}` in the manifest's defaults"),
                );
            }
            if let Some(origin) = &rule.when.origin_name {
                let is_plan = self.listed(DefKind::Plan, origin);
                let is_module = self.plane.module(origin).is_some();
                let found = match rule.when.origin_kind {
                    Some(OriginKind::Plan) => is_plan,
                    Some(OriginKind::Reducer) => is_module,
                    None => is_plan || is_module,
                };
                if !found {
                    let what = match rule.when.origin_kind {
                        Some(OriginKind::Plan) => "plan",
                        Some(OriginKind::Reducer) => "reducer",
                        None => "plan or reducer",
                    };
                    self.at_def(
                        def,
                        &format!("{when}.origin_name"),
                        "dangling_ref",
                        format!("{origin} is not a {what} of this manifest"),
                    );
                }
            }
        }
    }

    pub(super) fn secret(&mut self, def: &Def) {
        let Node::Secret(secret) = &def.node else {
            return;
        };
        for (index, grant) in secret.allowed_caps.iter().flatten().enumerate() {
            if self.plane.manifest().grant(grant.as_str()).is_none() {
                self.at_def(
                    def,
                    &format!("$.allowed_caps[{index}]"),
                    "dangling_ref",
                    format!("no grant named `{grant}` in the manifest's defaults"),
                );
            }
        }
        for (index, plan) in secret.allowed_plans.iter().flatten().enumerate() {
            if !self.listed(DefKind::Plan, plan) {
                self.at_def(
                    def,
                    &format!("$.allowed_plans[{index}]"),
                    "dangling_ref",
                    format!("plan {plan} is not listed in the manifest's `plans`"),
                );
            }
        }
    }

    /// The reducer a routing entry names, or a reported error.
    fn routed_reducer(&mut self, path: &str, name: &Name) -> Option<&crate::nodes::ReducerAbi> {
        let plane = self.plane;
        match plane
            .module(name)
            .filter(|_| self.listed(DefKind::Module, name))
        {
            None => {
                self.at_manifest(
                    path,
                    "dangling_ref",
                    format!("reducer {name} is not listed in the manifest's `modules`"),
                );
                None
            }
            Some(module) => match module.reducer() {
                Some(abi) => Some(abi),
                None => {
                    self.at_manifest(
                        path,
                        "not_a_reducer",
                        format!("{name} is a pure module; only reducers receive events"),
                    );
                    None
                }
            },
        }
    }

    pub(super) fn routing(&mut self) {
        let plane = self.plane;
        let routing = &plane.manifest().routing;
        let mut seen = BTreeSet::new();
        for (index, route) in routing.events.iter().enumerate() {
            let path = format!("$.routing.events[{index}]");
            if !seen.insert((route.event.clone(), route.reducer.clone())) {
                self.at_manifest(
                    &path,
                    "duplicate_route",
                    format!("{} is routed to {} twice", route.event, route.reducer),
                );
                continue;
            }
            let event_ok = self.need_schema_in_manifest(&format!("{path}.event"), &route.event);
            let Some(abi) = self.routed_reducer(&format!("{path}.reducer"), &route.reducer) else {
                continue;
            };
            if event_ok && abi.event != route.event {
                let message = format!(
                    "routes {} to {}, whose event schema is {}; they must be the same (use a variant to accept several kinds)",
                    route.event, route.reducer, abi.event
                );
                self.at_manifest(&format!("{path}.event"), "routing_mismatch", message);
            }
            self.key_field(&path, route);
        }
        for (index, inbox) in routing.inboxes.iter().enumerate() {
            let path = format!("$.routing.inboxes[{index}]");
            if inbox.source.is_empty() {
                self.at_manifest(
                    &format!("{path}.source"),
                    "bad_value",
                    "an inbox source must not be empty",
                );
            }
            self.routed_reducer(&format!("{path}.reducer"), &inbox.reducer);
        }
    }

    fn key_field(&mut self, path: &str, route: &crate::nodes::RoutingEvent) {
        let plane = self.plane;
        let key_schema = plane
            .module(&route.reducer)
            .and_then(|m| m.key_schema.clone());
        let field_path = format!("{path}.key_field");
        match (&key_schema, &route.key_field) {
            (None, None) => {}
            (Some(_), None) => self.at_manifest(
                path,
                "missing_key_field",
                format!(
                    "{} is keyed (it has a key_schema), so its route needs a `key_field`",
                    route.reducer
                ),
            ),
            (None, Some(_)) => self.at_manifest(
                &field_path,
                "unexpected_key_field",
                format!(
                    "{} is not keyed (no key_schema), so its route takes no `key_field`",
                    route.reducer
                ),
            ),
            (Some(key_schema), Some(field)) => {
                let Some(event_type) = plane.schema(&route.event).and_then(|s| s.ty.resolve(plane))
                else {
                    return;
                };
                let key_type = plane.schema(key_schema).and_then(|s| s.ty.resolve(plane));
                let carriers: Vec<(String, &TypeExpr)> = match (
                    event_type,
                    field.strip_prefix("$value."),
                ) {
                    (TypeExpr::Record(_), None) => vec![(String::new(), event_type)],
                    (TypeExpr::Variant(arms), Some(_)) => arms
                        .iter()
                        .map(|(arm, t)| (format!(" (arm {arm})"), t))
                        .collect(),
                    (TypeExpr::Record(_), Some(inner)) => {
                        let message = format!(
                            "{} is a record: write the key field as `{inner}`, not `{field}` (`$value.` is for variants)",
                            route.event
                        );
                        return self.at_manifest(&field_path, "bad_key_field", message);
                    }
                    (TypeExpr::Variant(_), None) => {
                        let message = format!(
                            "{} is a variant: address the wrapped value as `$value.{field}`",
                            route.event
                        );
                        return self.at_manifest(&field_path, "bad_key_field", message);
                    }
                    _ => {
                        return self.at_manifest(
                            &field_path,
                            "bad_key_field",
                            format!(
                                "{} is neither a record nor a variant of records",
                                route.event
                            ),
                        );
                    }
                };
                let field_name = field.strip_prefix("$value.").unwrap_or(field);
                for (arm, carrier) in carriers {
                    let field_type = match carrier.resolve(plane) {
                        Some(TypeExpr::Record(fields)) => {
                            fields.get(field_name).and_then(|t| t.resolve(plane))
                        }
                        _ => None,
                    };
                    match field_type {
                        None => {
                            let message = format!(
                                "{}{arm} has no field `{field_name}` to key cells by",
                                route.event
                            );
                            return self.at_manifest(&field_path, "bad_key_field", message);
                        }
                        Some(found) if Some(found) != key_type => {
                            let message = format!(
                                "field `{field_name}`{arm} is {} but the key schema {key_schema} is {}",
                                found.keyword(),
                                key_type.map_or("unresolved", TypeExpr::keyword)
                            );
                            return self.at_manifest(&field_path, "bad_key_field", message);
                        }
                        Some(_) => {}
                    }
                }
            }
        }
    }

    pub(super) fn triggers(&mut self) {
        let plane = self.plane;
        let mut seen = BTreeSet::new();
        for (index, trigger) in plane.manifest().triggers.iter().enumerate() {
            let path = format!("$.triggers[{index}]");
            if !seen.insert((trigger.event.clone(), trigger.plan.clone())) {
                self.at_manifest(
                    &path,
                    "duplicate_trigger",
                    format!("{} triggers {} twice", trigger.event, trigger.plan),
                );
                continue;
            }
            let event_ok = self.need_schema_in_manifest(&format!("{path}.event"), &trigger.event);
            let Some(plan) = plane.plan(&trigger.plan) else {
                self.at_manifest(
                    &format!("{path}.plan"),
                    "dangling_ref",
                    format!(
                        "plan {} is not listed in the manifest's `plans`",
                        trigger.plan
                    ),
                );
                continue;
            };
            if event_ok && plan.input != trigger.event {
                let message = format!(
                    "{} starts plan {}, whose input is {}; they must be the same",
                    trigger.event, trigger.plan, plan.input
                );
                self.at_manifest(&format!("{path}.event"), "trigger_mismatch", message);
            }
            if let Some(field) = &trigger.correlate_by {
                let has_field = matches!(plane.schema(&trigger.event).and_then(|s| s.ty.resolve(plane)), Some(TypeExpr::Record(f)) if f.contains_key(field));
                if event_ok && !has_field {
                    let message =
                        format!("{} has no field `{field}` to correlate by", trigger.event);
                    self.at_manifest(&format!("{path}.correlate_by"), "bad_correlate_by", message);
                }
            }
        }
    }

    pub(super) fn defaults(&mut self) -> BTreeMap<Ident, Value> {
        let plane = self.plane;
        let defaults = &plane.manifest().defaults;
        if let Some(policy) = &defaults.policy
            && !self.listed(DefKind::Policy, policy)
        {
            self.at_manifest(
                "$.defaults.policy",
                "dangling_ref",
                format!("policy {policy} is not listed in the manifest's `policies`"),
            );
        }
        let mut params = BTreeMap::new();
        for (index, grant) in defaults.cap_grants.iter().enumerate() {
            let path = format!("$.defaults.cap_grants[{index}]");
            if params.contains_key(&grant.name) {
                self.at_manifest(
                    &format!("{path}.name"),
                    "duplicate_grant",
                    format!("grant `{}` is defined twice", grant.name),
                );
                continue;
            }
            let Some(cap) = plane.cap(&grant.cap) else {
                self.at_manifest(
                    &format!("{path}.cap"),
                    "dangling_ref",
                    format!("cap {} is not listed in the manifest's `caps`", grant.cap),
                );
                continue;
            };
            match from_any_json(&grant.params, &cap.schema, plane) {
                Ok(value) => drop(params.insert(grant.name.clone(), value)),
                Err(error) => {
                    let message = format!(
                        "grant `{}` params do not match cap {}: {}",
                        grant.name, grant.cap, error.message
                    );
                    self.at_manifest(
                        &error.path.replacen('$', &format!("{path}.params"), 1),
                        "bad_grant_params",
                        message,
                    );
                }
            }
        }
        params
    }

    pub(super) fn module_bindings(&mut self) {
        let plane = self.plane;
        for (module_name, binding) in &plane.manifest().module_bindings {
            let path = crate::json::join_key("$.module_bindings", module_name.as_str());
            let Some(abi) = plane
                .module(module_name)
                .filter(|_| self.listed(DefKind::Module, module_name))
                .and_then(|m| m.reducer())
            else {
                self.at_manifest(
                    &path,
                    "dangling_ref",
                    format!("{module_name} is not a reducer listed in the manifest's `modules`"),
                );
                continue;
            };
            for (slot, grant_name) in &binding.slots {
                let slot_path = crate::json::join_key(&format!("{path}.slots"), slot.as_str());
                let Some(slot_type) = abi.cap_slots.get(slot) else {
                    self.at_manifest(
                        &slot_path,
                        "unknown_slot",
                        format!("{module_name} has no cap slot `{slot}`"),
                    );
                    continue;
                };
                let Some(grant) = plane.manifest().grant(grant_name.as_str()) else {
                    self.at_manifest(
                        &slot_path,
                        "dangling_ref",
                        format!("no grant named `{grant_name}` in the manifest's defaults"),
                    );
                    continue;
                };
                if let Some(cap) = plane.cap(&grant.cap)
                    && cap.cap_type != *slot_type
                {
                    let message = format!(
                        "slot `{slot}` takes cap type `{slot_type}` but grant `{grant_name}` is of type `{}`",
                        cap.cap_type
                    );
                    self.at_manifest(&slot_path, "cap_type_mismatch", message);
                }
            }
        }
    }
}
