//! Running a cap's enforcer: the native ones (`http.out`, `llm.basic`, `governance`) in Rust,
//! any other as a pure module through the reducer host.

use worldline_air::nodes::DefEffect;
use worldline_air::{Name, TypeExpr, Value};

use super::admission::{AdmissionContext, Deny, deny, origin_kind_word, resolved_type};
use super::enforce::{check_http_out, check_llm_basic};
use super::enforce_gov::check_governance;
use crate::record::EffectIntentBody;

/// The built-in enforcer of `http.out`.
const HTTP_OUT_ENFORCER: &str = "sys/CapEnforceHttpOut@1";
/// The built-in enforcer of `llm.basic`.
const LLM_BASIC_ENFORCER: &str = "sys/CapEnforceLlmBasic@1";
/// The built-in enforcer of `governance`.
const GOVERNANCE_ENFORCER: &str = "sys/CapEnforceGovernance@1";
/// The output schema of every enforcer.
const CAP_CHECK_OUTPUT: &str = "sys/CapCheckOutput@1";

/// Asks `module` whether the grant's params admit the intent's params.
pub(super) fn enforce(
    ctx: &AdmissionContext<'_>,
    module: &Name,
    grant_name: &str,
    cap_name: &Name,
    intent: &EffectIntentBody,
    effect: &DefEffect,
) -> Result<(), Deny> {
    let plane = ctx.plane;
    let grant_params = plane
        .grant_params(grant_name)
        .cloned()
        .unwrap_or(Value::Record(Default::default()));
    let params_type = plane
        .schema_type_of(&effect.params_schema)
        .cloned()
        .unwrap_or(TypeExpr::Unit);
    let params = Value::from_cbor_bytes(&intent.params, &params_type, plane)
        .map_err(|e| deny("params_invalid", e.to_string()))?;
    let native = match module.as_str() {
        HTTP_OUT_ENFORCER => Some(check_http_out(&grant_params, &params)),
        LLM_BASIC_ENFORCER => Some(check_llm_basic(&grant_params, &params)),
        GOVERNANCE_ENFORCER => Some(check_governance(
            &grant_params,
            &intent.kind,
            &params,
            ctx.governance,
        )),
        _ => None,
    };
    if let Some(verdict) = native {
        return verdict.map_err(|d| deny(d.code, d.message));
    }
    if module.is_sys() {
        return Err(deny(
            "enforcer_unavailable",
            format!("the built-in enforcer {module} is not implemented by this host"),
        ));
    }
    let input = Value::record([
        ("cap_def", Value::Text(cap_name.to_string())),
        ("grant_name", Value::Text(grant_name.to_owned())),
        ("cap_params", Value::Bytes(grant_params.to_cbor_body())),
        ("effect_kind", Value::Text(intent.kind.clone())),
        ("effect_params", Value::Bytes(intent.params.clone())),
        (
            "origin",
            Value::record([
                (
                    "kind",
                    Value::Text(origin_kind_word(intent.origin.kind).into()),
                ),
                ("name", Value::Text(intent.origin.name.to_string())),
            ]),
        ),
        ("logical_now_ns", Value::Nat(ctx.logical_now_ns)),
    ]);
    let output = ctx
        .enforcers
        .run_enforcer(module, &input.to_cbor_body())
        .map_err(|reason| deny("enforcer_failed", format!("{module}: {reason}")))?;
    read_verdict(ctx, module, &output)
}

/// Reads `sys/CapCheckOutput@1`: `constraints_ok`, else the module's own denial code.
fn read_verdict(ctx: &AdmissionContext<'_>, module: &Name, output: &[u8]) -> Result<(), Deny> {
    let output_schema = Name::parse(CAP_CHECK_OUTPUT).ok();
    let ty = output_schema
        .as_ref()
        .and_then(|name| resolved_type(ctx.plane, name))
        .cloned()
        .unwrap_or(TypeExpr::Unit);
    let verdict = Value::from_cbor_bytes(output, &ty, ctx.plane).map_err(|e| {
        deny(
            "enforcer_failed",
            format!("{module} returned no {CAP_CHECK_OUTPUT}: {e}"),
        )
    })?;
    if verdict.field("constraints_ok") == Some(&Value::Bool(true)) {
        return Ok(());
    }
    let text = |field: &str| match verdict.field("deny").and_then(|d| d.field(field)) {
        Some(Value::Text(text)) => Some(text.clone()),
        _ => None,
    };
    Err(deny(
        &text("code").unwrap_or_else(|| "enforcer_denied".to_owned()),
        text("message").unwrap_or_else(|| format!("{module} denied it")),
    ))
}
