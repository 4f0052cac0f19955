//! The nodes that govern contact with the outside (AIR.md §7): `defeffect`, `defcap`,
//! `defpolicy`, `defsecret`.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value as Json;

use crate::error::AirError;
use crate::hash::Hash;
use crate::name::{Ident, KindName, Name};
use crate::reader::{self, Obj};
use crate::types::TypeExpr;

/// Which emitters may use an effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OriginScope {
    /// Reducers only (micro-effects).
    Reducer,
    /// Plans only.
    Plan,
    /// Both.
    Both,
}

/// A `defeffect` node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct DefEffect {
    /// The definition's name.
    pub name: Name,
    /// The effect kind emitters use, e.g. `http.request`.
    pub kind: KindName,
    /// Schema of the parameters.
    pub params_schema: Name,
    /// Schema of the receipt payload.
    pub receipt_schema: Name,
    /// The capability type that guards it.
    pub cap_type: KindName,
    /// Who may emit it.
    pub origin_scope: OriginScope,
    /// Optional text for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl DefEffect {
    /// Reads a `defeffect`.
    pub fn from_json(json: &Json, path: &str) -> Result<DefEffect, AirError> {
        let mut node = Obj::new(json, path, "a defeffect")?;
        node.skip("$kind");
        let effect = DefEffect {
            name: node.req("name", reader::name)?,
            kind: node.req("kind", reader::kind_name)?,
            params_schema: node.req("params_schema", reader::name)?,
            receipt_schema: node.req("receipt_schema", reader::name)?,
            cap_type: node.req("cap_type", reader::kind_name)?,
            origin_scope: node.req("origin_scope", |j, p| {
                reader::word(
                    j,
                    p,
                    &[
                        ("reducer", OriginScope::Reducer),
                        ("plan", OriginScope::Plan),
                        ("both", OriginScope::Both),
                    ],
                )
            })?,
            description: node.opt("description", reader::string)?,
        };
        node.finish()?;
        Ok(effect)
    }
}

/// A `defcap` node: a capability type's parameter schema and its enforcer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct DefCap {
    /// The definition's name.
    pub name: Name,
    /// The capability type, e.g. `http.out`.
    pub cap_type: KindName,
    /// Schema of a grant's parameters (allowlists, ceilings).
    pub schema: TypeExpr,
    /// The pure module that checks an intent against a grant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enforcer: Option<CapEnforcer>,
}

/// `{"module": Name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct CapEnforcer {
    /// The enforcer module.
    pub module: Name,
}

impl DefCap {
    /// Reads a `defcap`.
    pub fn from_json(json: &Json, path: &str) -> Result<DefCap, AirError> {
        let mut node = Obj::new(json, path, "a defcap")?;
        node.skip("$kind");
        let cap = DefCap {
            name: node.req("name", reader::name)?,
            cap_type: node.req("cap_type", reader::kind_name)?,
            schema: node.req("schema", TypeExpr::from_json)?,
            enforcer: node.opt("enforcer", |j, p| {
                let mut enforcer = Obj::new(j, p, "an enforcer")?;
                let module = enforcer.req("module", reader::name)?;
                enforcer.finish()?;
                Ok(CapEnforcer { module })
            })?,
        };
        node.finish()?;
        Ok(cap)
    }
}

/// Allow or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Admit the effect.
    Allow,
    /// Refuse it.
    Deny,
}

/// Who emitted an intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OriginKind {
    /// A plan instance.
    Plan,
    /// A reducer step.
    Reducer,
}

/// A `defpolicy` node: rules in order; the first match decides; no match denies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct DefPolicy {
    /// The definition's name.
    pub name: Name,
    /// The rules, first match wins.
    pub rules: Vec<PolicyRule>,
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct PolicyRule {
    /// Conditions, all of which must hold (an empty match matches everything).
    pub when: PolicyMatch,
    /// What a match decides.
    pub decision: Decision,
}

/// The conditions of a rule; absent ones match anything.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct PolicyMatch {
    /// Effect kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effect_kind: Option<KindName>,
    /// Grant name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cap_name: Option<Ident>,
    /// Capability type of the grant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cap_type: Option<KindName>,
    /// Plan or reducer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin_kind: Option<OriginKind>,
    /// The emitting plan's or reducer's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin_name: Option<Name>,
}

impl DefPolicy {
    /// Reads a `defpolicy`.
    pub fn from_json(json: &Json, path: &str) -> Result<DefPolicy, AirError> {
        let mut node = Obj::new(json, path, "a defpolicy")?;
        node.skip("$kind");
        let name = node.req("name", reader::name)?;
        let rules = node.req("rules", |j, p| reader::list(j, p, rule))?;
        node.finish()?;
        Ok(DefPolicy { name, rules })
    }
}

fn rule(json: &Json, path: &str) -> Result<PolicyRule, AirError> {
    let mut node = Obj::new(json, path, "a policy rule")?;
    let when = node.req("when", |j, p| {
        let mut when = Obj::new(j, p, "a rule match")?;
        let matched = PolicyMatch {
            effect_kind: when.opt("effect_kind", reader::kind_name)?,
            cap_name: when.opt("cap_name", reader::ident)?,
            cap_type: when.opt("cap_type", reader::kind_name)?,
            origin_kind: when.opt("origin_kind", |j, p| {
                reader::word(
                    j,
                    p,
                    &[("plan", OriginKind::Plan), ("reducer", OriginKind::Reducer)],
                )
            })?,
            origin_name: when.opt("origin_name", reader::name)?,
        };
        when.finish()?;
        Ok(matched)
    })?;
    let decision = node.req("decision", |j, p| {
        reader::word(
            j,
            p,
            &[("allow", Decision::Allow), ("deny", Decision::Deny)],
        )
    })?;
    node.finish()?;
    Ok(PolicyRule { when, decision })
}

/// A `defsecret` node: a named secret bound to a node-local resolver, with its ACLs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct DefSecret {
    /// The definition's name.
    pub name: Name,
    /// Opaque id the node-local resolver maps to a backend (`env:NAME`, `file:PATH`).
    pub binding_id: String,
    /// Hash of the plaintext, to detect drift.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_digest: Option<Hash>,
    /// Grants that may use it (absent: any grant).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_caps: Option<Vec<Ident>>,
    /// Plans that may use it (absent: any plan).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_plans: Option<Vec<Name>>,
}

impl DefSecret {
    /// Reads a `defsecret`.
    pub fn from_json(json: &Json, path: &str) -> Result<DefSecret, AirError> {
        let mut node = Obj::new(json, path, "a defsecret")?;
        node.skip("$kind");
        let secret = DefSecret {
            name: node.req("name", reader::name)?,
            binding_id: node.req("binding_id", reader::string)?,
            expected_digest: node.opt("expected_digest", reader::hash)?,
            allowed_caps: node.opt("allowed_caps", |j, p| reader::list(j, p, reader::ident))?,
            allowed_plans: node.opt("allowed_plans", |j, p| reader::list(j, p, reader::name))?,
        };
        node.finish()?;
        if secret.binding_id.is_empty() {
            return Err(AirError::new(
                format!("{path}.binding_id"),
                "bad_value",
                "`binding_id` must not be empty",
            ));
        }
        Ok(secret)
    }
}
