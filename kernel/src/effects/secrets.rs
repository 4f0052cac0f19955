//! Secret references in effect params, and the `secret` admission stage.
//!
//! Params name a secret with a `sys/SecretRef@1` value `{alias, version}`; it names the
//! `defsecret` called `"{alias}@{version}"` (alias `demo/openai_key`, version 1 →
//! `demo/openai_key@1`). References are found by walking the normalized params along the params
//! schema: every position whose type is `ref sys/SecretRef@1` (directly, or through a record
//! field, an option, a list/set element, a map key or value, a variant arm such as `secret` of
//! `sys/TextOrSecretRef@1`, or another named schema) holds one.
//!
//! Once the policy allowed an intent whose params hold at least one reference, admission journals
//! one more decision, stage `secret`: `allowed` if every reference, in the order the walk finds
//! them, names a `defsecret` the manifest lists whose `allowed_caps` (when present) contains the
//! intent's grant name and whose `allowed_plans` (when present) contains the origin plan's name.
//! The first failing reference decides: `secret_unknown`, `secret_cap_not_allowed` or
//! `secret_plan_not_allowed` (also for a reducer origin whenever `allowed_plans` is present). A
//! present but empty list admits nothing. The kernel never resolves a value: that happens in the
//! adapter host, at dispatch only.

use std::collections::BTreeSet;

use worldline_air::nodes::DefSecret;
use worldline_air::{ControlPlane, Name, TypeExpr, Value};

use super::admission::{AdmissionDecision, CODE_ALLOWED};
use crate::record::{EffectIntentBody, OriginKind};

/// The schema of a secret reference.
pub const SECRET_REF_SCHEMA: &str = "sys/SecretRef@1";
/// Stage of the decision journaled after the policy when params name secrets.
pub const STAGE_SECRET: &str = "secret";
/// Deepest walk into params (value nesting plus named-schema hops) looked at for references.
const WALK_DEPTH_MAX: usize = 256;

/// The machine-readable codes of the `secret` stage.
pub mod code {
    /// A reference names no `defsecret` listed in the manifest.
    pub const SECRET_UNKNOWN: &str = "secret_unknown";
    /// The secret's `allowed_caps` does not list the intent's grant.
    pub const SECRET_CAP_NOT_ALLOWED: &str = "secret_cap_not_allowed";
    /// The secret's `allowed_plans` does not list the origin plan (or the origin is a reducer).
    pub const SECRET_PLAN_NOT_ALLOWED: &str = "secret_plan_not_allowed";
}

/// A `sys/SecretRef@1` value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SecretRef {
    /// The secret's alias, e.g. `demo/openai_key`.
    pub alias: String,
    /// Its version.
    pub version: u64,
}

impl SecretRef {
    /// Reads a `sys/SecretRef@1` record; `None` if the value does not have its shape.
    pub fn from_value(value: &Value) -> Option<SecretRef> {
        match (value.field("alias"), value.field("version")) {
            (Some(Value::Text(alias)), Some(Value::Nat(version))) => Some(SecretRef {
                alias: alias.clone(),
                version: *version,
            }),
            _ => None,
        }
    }

    /// The name of the `defsecret` it refers to: `"{alias}@{version}"`.
    pub fn def_name(&self) -> String {
        format!("{}@{}", self.alias, self.version)
    }

    /// The listed `defsecret` it refers to, if any.
    pub fn resolve<'p>(&self, plane: &'p ControlPlane) -> Option<&'p DefSecret> {
        let name = Name::parse(&self.def_name()).ok()?;
        plane.secret(&name)
    }
}

impl std::fmt::Display for SecretRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.def_name())
    }
}

/// Every secret reference in `value`, a value of type `ty`, in walk order (record fields in
/// name order, list elements in order), repeats included.
pub fn secret_refs(plane: &ControlPlane, ty: &TypeExpr, value: &Value) -> Vec<SecretRef> {
    let mut found = Vec::new();
    walk(plane, ty, value, 0, &mut found);
    found
}

fn walk(
    plane: &ControlPlane,
    ty: &TypeExpr,
    value: &Value,
    depth: usize,
    out: &mut Vec<SecretRef>,
) {
    if depth > WALK_DEPTH_MAX {
        return;
    }
    let next = depth + 1;
    match (ty, value) {
        (TypeExpr::Ref(name), _) if name.as_str() == SECRET_REF_SCHEMA => {
            out.extend(SecretRef::from_value(value));
        }
        (TypeExpr::Ref(name), _) => {
            if let Some(inner) = plane.schema_type_of(name) {
                walk(plane, inner, value, next, out);
            }
        }
        (TypeExpr::Option(_), Value::Null) => {}
        (TypeExpr::Option(inner), _) => walk(plane, inner, value, next, out),
        (TypeExpr::Record(fields), Value::Record(values)) => {
            for (field, field_ty) in fields {
                if let Some(field_value) = values.get(field) {
                    walk(plane, field_ty, field_value, next, out);
                }
            }
        }
        (TypeExpr::Variant(arms), Value::Variant { tag, value: inner }) => {
            if let (Some(arm_ty), Some(inner)) = (arms.get(tag), inner) {
                walk(plane, arm_ty, inner, next, out);
            }
        }
        (TypeExpr::List(item_ty), Value::List(items))
        | (TypeExpr::Set(item_ty), Value::Set(items)) => {
            for item in items {
                walk(plane, item_ty, item, next, out);
            }
        }
        (
            TypeExpr::Map {
                key,
                value: value_ty,
            },
            Value::Map(entries),
        ) => {
            for (k, v) in entries {
                walk(plane, key, k, next, out);
                walk(plane, value_ty, v, next, out);
            }
        }
        _ => {}
    }
}

/// The `secret` decision for an intent the policy allowed, or `None` when its params (a value
/// of `params_ty`) name no secret, so no decision is journaled.
pub fn check_secrets(
    plane: &ControlPlane,
    params_ty: &TypeExpr,
    params: &Value,
    intent: &EffectIntentBody,
) -> Option<AdmissionDecision> {
    let refs = secret_refs(plane, params_ty, params);
    if refs.is_empty() {
        return None;
    }
    let verdict = refs.iter().try_for_each(|r| check_one(plane, r, intent));
    Some(match verdict {
        Ok(()) => AdmissionDecision {
            stage: STAGE_SECRET,
            allowed: true,
            code: CODE_ALLOWED.to_owned(),
            detail: format!(
                "grant `{}` and {} may use {}",
                intent.cap,
                intent.origin.name,
                names(&refs)
            ),
        },
        Err((code, detail)) => AdmissionDecision {
            stage: STAGE_SECRET,
            allowed: false,
            code: code.to_owned(),
            detail,
        },
    })
}

fn names(refs: &[SecretRef]) -> String {
    let names: BTreeSet<String> = refs.iter().map(SecretRef::def_name).collect();
    names.into_iter().collect::<Vec<_>>().join(", ")
}

fn check_one(
    plane: &ControlPlane,
    secret_ref: &SecretRef,
    intent: &EffectIntentBody,
) -> Result<(), (&'static str, String)> {
    let secret = secret_ref.resolve(plane).ok_or_else(|| {
        (
            code::SECRET_UNKNOWN,
            format!("no defsecret named `{secret_ref}` is listed in the manifest"),
        )
    })?;
    if let Some(caps) = &secret.allowed_caps
        && !caps.iter().any(|grant| grant.as_str() == intent.cap)
    {
        return Err((
            code::SECRET_CAP_NOT_ALLOWED,
            format!(
                "{secret_ref} may not be used under grant `{}` (its allowed_caps: {})",
                intent.cap,
                list(caps.iter().map(|c| c.as_str()))
            ),
        ));
    }
    if let Some(plans) = &secret.allowed_plans {
        let listed = intent.origin.kind == OriginKind::Plan && plans.contains(&intent.origin.name);
        if !listed {
            let who = match intent.origin.kind {
                OriginKind::Plan => format!("plan {}", intent.origin.name),
                OriginKind::Reducer => format!("reducer {}", intent.origin.name),
            };
            return Err((
                code::SECRET_PLAN_NOT_ALLOWED,
                format!(
                    "{secret_ref} may not be used by {who} (its allowed_plans: {})",
                    list(plans.iter().map(|p| p.as_str()))
                ),
            ));
        }
    }
    Ok(())
}

fn list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let items: Vec<&str> = items.collect();
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}
