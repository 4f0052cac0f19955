//! Admission of an effect intent, in the order of AIR.md §7: the effect exists and the origin may
//! use it; params normalized; the intent hash; the grant exists, is live and is of the right cap
//! type; the enforcer accepts; then the policy; then, only when the params name secrets, the
//! secrets' ACLs ([`super::secrets`]). The first failing check decides, with a
//! machine-readable code. Deterministic: it reads only the control plane, logical time and open
//! work (and runs pure enforcer modules, which are deterministic by construction).

use worldline_air::nodes::{Decision, DefEffect, OriginKind as AirOriginKind, OriginScope};
use worldline_air::{ControlPlane, Hash, Name, TypeExpr, Value};

use super::open::{EffectsState, OPEN_INTENTS_MAX};
use super::secrets::check_secrets;
use crate::governance::GovState;
use crate::record::codec::MapBuilder;
use crate::record::{EffectIntentBody, Origin, OriginKind};

/// The cap slot a reducer effect uses when it names none and its module has no single slot of
/// the effect's cap type.
pub const DEFAULT_CAP_SLOT: &str = "default";
/// Stage of the first decision: effect, origin, params, grant, enforcer.
pub const STAGE_CAPABILITY: &str = "capability";
/// Stage of the second decision: the policy.
pub const STAGE_POLICY: &str = "policy";
/// The code of an admitted intent.
pub const CODE_ALLOWED: &str = "allowed";

/// How the intent names its grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapRef<'a> {
    /// A reducer's cap slot (`None`: not named), resolved through `module_bindings`.
    Slot(Option<&'a str>),
    /// A plan's grant name.
    Grant(&'a str),
}

/// An intent as its emitter wrote it, before admission.
#[derive(Debug, Clone)]
pub struct IntentRequest<'a> {
    /// Effect kind.
    pub kind: &'a str,
    /// Params CBOR as written (normalized here).
    pub params: &'a [u8],
    /// The grant, directly or through a slot.
    pub cap: CapRef<'a>,
    /// 32 bytes if given.
    pub idempotency_key: Option<&'a [u8]>,
    /// Who emitted it.
    pub origin: Origin,
}

/// One journaled decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdmissionDecision {
    /// [`STAGE_CAPABILITY`], [`STAGE_POLICY`] or [`super::secrets::STAGE_SECRET`].
    pub stage: &'static str,
    /// Admitted at this stage.
    pub allowed: bool,
    /// `allowed` or the denial code.
    pub code: String,
    /// For people.
    pub detail: String,
}

/// The intent and its decisions: one if the capability stage denied it, else two, or three when
/// the policy allowed it and its params name secrets.
#[derive(Debug, Clone)]
pub struct Admission {
    /// The intent to journal.
    pub intent: EffectIntentBody,
    /// The decisions to journal after it.
    pub decisions: Vec<AdmissionDecision>,
}

impl Admission {
    /// True if every stage admitted the intent.
    pub fn allowed(&self) -> bool {
        self.decisions.iter().all(|d| d.allowed) && self.decisions.len() >= 2
    }
}

/// A denial at the capability stage.
pub(super) struct Deny {
    pub(super) code: String,
    pub(super) detail: String,
}

pub(super) fn deny(code: &str, detail: impl Into<String>) -> Deny {
    Deny {
        code: code.to_owned(),
        detail: detail.into(),
    }
}

/// Runs a pure enforcer module: CapCheckInput canonical bytes in, CapCheckOutput bytes out.
pub trait EnforcerRunner {
    /// Runs `module` on `input`; `Err` says why it could not run (trap, fuel, bad output).
    fn run_enforcer(&self, module: &Name, input: &[u8]) -> Result<Vec<u8>, String>;
}

/// Everything admission reads.
pub struct AdmissionContext<'a> {
    /// The control plane in force.
    pub plane: &'a ControlPlane,
    /// Logical time of the input being processed (grant expiry is checked against it).
    pub logical_now_ns: u64,
    /// Open work (an identical open intent is not admitted twice).
    pub effects: &'a EffectsState,
    /// Runs pure enforcer modules.
    pub enforcers: &'a dyn EnforcerRunner,
    /// The proposals (the governance enforcer judges a proposal by its patch's scope).
    pub governance: &'a GovState,
}

/// The intent hash: SHA-256 of canonical `{kind, params, cap, idempotency_key, origin}`.
pub fn intent_hash(
    kind: &str,
    params: &[u8],
    cap: &str,
    idempotency_key: &[u8; 32],
    origin: &Origin,
) -> Hash {
    let mut map = MapBuilder::new();
    map.text("kind", kind);
    map.bytes("params", params);
    map.text("cap", cap);
    map.bytes("idempotency_key", idempotency_key);
    map.map("origin", origin_map(origin));
    Hash::of(&map.finish_tagged())
}

fn origin_map(origin: &Origin) -> MapBuilder {
    let mut o = MapBuilder::new();
    o.text("kind", origin_kind_word(origin.kind));
    o.text("name", origin.name.as_str());
    o.opt_bytes("key", origin.key.as_deref());
    o
}

/// `reducer` or `plan`.
pub fn origin_kind_word(kind: OriginKind) -> &'static str {
    match kind {
        OriginKind::Reducer => "reducer",
        OriginKind::Plan => "plan",
    }
}

/// Decides on one intent.
pub fn admit(ctx: &AdmissionContext<'_>, request: &IntentRequest<'_>) -> Admission {
    let effect = ctx.plane.effect_by_kind(request.kind);
    let normalized = effect.and_then(|e| normalize_value(ctx.plane, e, request.params).ok());
    let params = normalized
        .as_ref()
        .map(|(_, value)| value.to_cbor_body())
        .unwrap_or_else(|| request.params.to_vec());
    let grant = resolve_grant(ctx.plane, request, effect);
    let idempotency_key = request
        .idempotency_key
        .and_then(|k| <[u8; 32]>::try_from(k).ok())
        .unwrap_or([0; 32]);
    let cap = grant.as_ref().map(String::as_str).unwrap_or("").to_owned();
    let intent = EffectIntentBody {
        intent_hash: intent_hash(
            request.kind,
            &params,
            &cap,
            &idempotency_key,
            &request.origin,
        ),
        kind: request.kind.to_owned(),
        params,
        cap,
        idempotency_key,
        origin: request.origin.clone(),
    };
    let capability = check_capability(ctx, request, effect, grant, &intent);
    let mut decisions = vec![match capability {
        Ok(()) => allowed(STAGE_CAPABILITY, "the grant and its enforcer admit it"),
        Err(denial) => AdmissionDecision {
            stage: STAGE_CAPABILITY,
            allowed: false,
            code: denial.code,
            detail: denial.detail,
        },
    }];
    if decisions[0].allowed {
        let policy = check_policy(ctx.plane, &intent);
        let policy_allowed = policy.allowed;
        decisions.push(policy);
        if policy_allowed && let Some((ty, value)) = &normalized {
            decisions.extend(check_secrets(ctx.plane, ty, value, &intent));
        }
    }
    Admission { intent, decisions }
}

fn allowed(stage: &'static str, detail: &str) -> AdmissionDecision {
    AdmissionDecision {
        stage,
        allowed: true,
        code: CODE_ALLOWED.to_owned(),
        detail: detail.to_owned(),
    }
}

fn normalize_params(
    plane: &ControlPlane,
    effect: &DefEffect,
    params: &[u8],
) -> Result<Vec<u8>, String> {
    normalize_value(plane, effect, params).map(|(_, value)| value.to_cbor_body())
}

/// The params as a value of the effect's params schema, with that schema's type.
fn normalize_value<'p>(
    plane: &'p ControlPlane,
    effect: &DefEffect,
    params: &[u8],
) -> Result<(&'p TypeExpr, Value), String> {
    let ty = plane
        .schema_type_of(&effect.params_schema)
        .ok_or_else(|| format!("params schema {} does not resolve", effect.params_schema))?;
    Value::from_cbor_bytes(params, ty, plane)
        .map(|value| (ty, value))
        .map_err(|e| format!("params do not match {}: {e}", effect.params_schema))
}

/// The grant an intent names: a plan's directly; a reducer's through its slot's binding, else the
/// one grant of the slot's cap type. `Err` is the denial.
fn resolve_grant(
    plane: &ControlPlane,
    request: &IntentRequest<'_>,
    effect: Option<&DefEffect>,
) -> Result<String, Deny> {
    let slot = match request.cap {
        CapRef::Grant(grant) => return Ok(grant.to_owned()),
        CapRef::Slot(slot) => slot,
    };
    let module = plane
        .module(&request.origin.name)
        .and_then(|m| m.reducer())
        .ok_or_else(|| deny("origin_not_allowed", "the origin is not a reducer"))?;
    let slot = match slot {
        Some(slot) => slot.to_owned(),
        None => {
            // An unnamed slot is the module's only slot of the effect's cap type, else `default`.
            let matching: Vec<&str> = module
                .cap_slots
                .iter()
                .filter(|(_, ty)| effect.is_some_and(|e| e.cap_type == **ty))
                .map(|(slot, _)| slot.as_str())
                .collect();
            match matching.as_slice() {
                [only] => (*only).to_owned(),
                _ => DEFAULT_CAP_SLOT.to_owned(),
            }
        }
    };
    let slot_type = module
        .cap_slots
        .iter()
        .find(|(name, _)| name.as_str() == slot)
        .map(|(_, ty)| ty.as_str().to_owned())
        .ok_or_else(|| {
            deny(
                "cap_slot_unknown",
                format!("{} has no cap slot `{slot}`", request.origin.name),
            )
        })?;
    let bound = plane
        .manifest()
        .module_bindings
        .get(&request.origin.name)
        .and_then(|b| b.slots.iter().find(|(s, _)| s.as_str() == slot))
        .map(|(_, grant)| grant.as_str().to_owned());
    if let Some(grant) = bound {
        return Ok(grant);
    }
    let candidates: Vec<&str> = plane
        .manifest()
        .defaults
        .cap_grants
        .iter()
        .filter(|g| {
            plane
                .cap(&g.cap)
                .is_some_and(|c| c.cap_type.as_str() == slot_type)
        })
        .map(|g| g.name.as_str())
        .collect();
    match candidates.as_slice() {
        [only] => Ok((*only).to_owned()),
        [] => Err(deny(
            "grant_missing",
            format!("slot `{slot}` is not bound and no grant has cap type {slot_type}"),
        )),
        many => Err(deny(
            "grant_ambiguous",
            format!(
                "slot `{slot}` is not bound and {} grants have cap type {slot_type} ({}); bind it in module_bindings",
                many.len(),
                many.join(", ")
            ),
        )),
    }
}

fn check_capability(
    ctx: &AdmissionContext<'_>,
    request: &IntentRequest<'_>,
    effect: Option<&DefEffect>,
    grant: Result<String, Deny>,
    intent: &EffectIntentBody,
) -> Result<(), Deny> {
    let plane = ctx.plane;
    let effect = effect.ok_or_else(|| {
        deny(
            "effect_unknown",
            format!("`{}` is not an effect this world lists", request.kind),
        )
    })?;
    check_origin(plane, effect, &request.origin)?;
    normalize_params(plane, effect, request.params).map_err(|e| deny("params_invalid", e))?;
    if request.idempotency_key.is_some_and(|k| k.len() != 32) {
        return Err(deny(
            "params_invalid",
            "the idempotency key is not 32 bytes",
        ));
    }
    let grant_name = grant?;
    let grant = plane
        .manifest()
        .defaults
        .cap_grants
        .iter()
        .find(|g| g.name.as_str() == grant_name)
        .ok_or_else(|| deny("grant_missing", format!("no grant named `{grant_name}`")))?;
    if let Some(expiry_ns) = grant.expiry_ns
        && expiry_ns <= ctx.logical_now_ns
    {
        return Err(deny(
            "grant_expired",
            format!(
                "grant `{grant_name}` expired at {expiry_ns} ns (logical time is {} ns)",
                ctx.logical_now_ns
            ),
        ));
    }
    let cap = plane.cap(&grant.cap).ok_or_else(|| {
        deny(
            "grant_missing",
            format!("cap {} does not resolve", grant.cap),
        )
    })?;
    if cap.cap_type != effect.cap_type {
        return Err(deny(
            "cap_type_mismatch",
            format!(
                "grant `{grant_name}` is a {} cap; {} needs {}",
                cap.cap_type, effect.kind, effect.cap_type
            ),
        ));
    }
    if let Some(enforcer) = &cap.enforcer {
        super::enforcement::enforce(
            ctx,
            &enforcer.module,
            &grant_name,
            &grant.cap,
            intent,
            effect,
        )?;
    }
    if ctx.effects.open_intent(&intent.intent_hash).is_some() {
        return Err(deny(
            "intent_duplicate",
            format!(
                "an identical intent ({}) is already waiting for its receipt; give it an idempotency key to tell them apart",
                intent.intent_hash
            ),
        ));
    }
    if ctx.effects.open_count() >= OPEN_INTENTS_MAX {
        return Err(deny(
            "open_work_full",
            format!("{OPEN_INTENTS_MAX} intents are already waiting for receipts"),
        ));
    }
    Ok(())
}

/// The effect's `origin_scope`, and the emitter's own list (`effects_emitted`, a plan's
/// `allowed_effects`).
fn check_origin(plane: &ControlPlane, effect: &DefEffect, origin: &Origin) -> Result<(), Deny> {
    let (scope_ok, word) = match origin.kind {
        OriginKind::Reducer => (effect.origin_scope != OriginScope::Plan, "reducer"),
        OriginKind::Plan => (effect.origin_scope != OriginScope::Reducer, "plan"),
    };
    if !scope_ok {
        return Err(deny(
            "origin_not_allowed",
            format!("{} may not be emitted by a {word}", effect.kind),
        ));
    }
    let listed = match origin.kind {
        OriginKind::Reducer => plane
            .module(&origin.name)
            .and_then(|m| m.reducer())
            .is_some_and(|abi| abi.effects_emitted.contains(&effect.kind)),
        OriginKind::Plan => plane
            .plan(&origin.name)
            .is_some_and(|p| p.allowed_effects.contains(&effect.kind)),
    };
    if !listed {
        let list = match origin.kind {
            OriginKind::Reducer => "effects_emitted",
            OriginKind::Plan => "allowed_effects",
        };
        return Err(deny(
            "origin_not_allowed",
            format!(
                "{} does not list {} in its {list}",
                origin.name, effect.kind
            ),
        ));
    }
    Ok(())
}

/// The default policy's first matching rule decides; no rule or no policy denies.
fn check_policy(plane: &ControlPlane, intent: &EffectIntentBody) -> AdmissionDecision {
    let denied = |detail: String| AdmissionDecision {
        stage: STAGE_POLICY,
        allowed: false,
        code: "policy_denied".to_owned(),
        detail,
    };
    let Some(policy_name) = &plane.manifest().defaults.policy else {
        return denied("the world has no default policy, so every effect is denied".into());
    };
    let Some(policy) = plane.policy(policy_name) else {
        return denied(format!("policy {policy_name} does not resolve"));
    };
    let cap_type = plane
        .manifest()
        .defaults
        .cap_grants
        .iter()
        .find(|g| g.name.as_str() == intent.cap)
        .and_then(|g| plane.cap(&g.cap))
        .map(|c| c.cap_type.as_str().to_owned());
    let origin_kind = match intent.origin.kind {
        OriginKind::Reducer => AirOriginKind::Reducer,
        OriginKind::Plan => AirOriginKind::Plan,
    };
    for (index, rule) in policy.rules.iter().enumerate() {
        let when = &rule.when;
        let matches = when
            .effect_kind
            .as_ref()
            .is_none_or(|k| k.as_str() == intent.kind)
            && when
                .cap_name
                .as_ref()
                .is_none_or(|c| c.as_str() == intent.cap)
            && when
                .cap_type
                .as_ref()
                .is_none_or(|t| cap_type.as_deref() == Some(t.as_str()))
            && when.origin_kind.is_none_or(|k| k == origin_kind)
            && when
                .origin_name
                .as_ref()
                .is_none_or(|n| *n == intent.origin.name);
        if !matches {
            continue;
        }
        return match rule.decision {
            Decision::Allow => allowed(
                STAGE_POLICY,
                &format!("rule {index} of {policy_name} allows it"),
            ),
            Decision::Deny => denied(format!("rule {index} of {policy_name} denies it")),
        };
    }
    denied(format!("no rule of {policy_name} matches, so it is denied"))
}

/// The type of a schema, resolved through refs.
pub(super) fn resolved_type<'p>(plane: &'p ControlPlane, name: &Name) -> Option<&'p TypeExpr> {
    plane.schema_type_of(name).and_then(|t| t.resolve(plane))
}
