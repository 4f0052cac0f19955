//! Checking a reducer step's output: every state and event against its schema, the effect count
//! against AIR v1's one micro-effect per step.

use worldline_air::nodes::DefKind;
use worldline_air::value::is_canonical;
use worldline_air::{ControlPlane, Name, TypeExpr, Value};

use super::routes::Route;
use crate::host::StepError;
use crate::host::envelope::{EmittedEffect, ReducerOutput};

/// Most effects one reducer step may emit (AIR v1).
pub(super) const REDUCER_EFFECTS_PER_STEP_MAX: usize = 1;

/// A checked step output.
pub(super) struct Checked {
    pub state: Option<Vec<u8>>,
    pub events: Vec<(Name, Vec<u8>)>,
    pub effects: Vec<EmittedEffect>,
}

/// Reads a step's output and checks every value against its schema.
pub(super) fn check(
    plane: &ControlPlane,
    route: &Route,
    output: &[u8],
) -> std::result::Result<Checked, StepError> {
    let output = ReducerOutput::decode(output)?;
    let state = match output.state {
        None => None,
        // Canonical bytes (what the SDK writes) are kept as they are; anything else is
        // decoded, checked and re-encoded.
        Some(bytes) if is_canonical(&bytes, &route.state_type, plane) => Some(bytes),
        Some(bytes) => Some(
            Value::from_cbor_bytes(&bytes, &route.state_type, plane)
                .map_err(|e| {
                    StepError::new(
                        "bad_output",
                        format!("the state does not match its schema: {e}"),
                    )
                })?
                .to_cbor_body(),
        ),
    };
    let mut events = Vec::with_capacity(output.domain_events.len());
    for (index, event) in output.domain_events.iter().enumerate() {
        let schema = Name::parse(&event.schema)
            .ok()
            .filter(|name| plane.def(DefKind::Schema, name).is_some())
            .ok_or_else(|| {
                StepError::new(
                    "bad_output",
                    format!(
                        "domain_events[{index}]: `{}` is not a schema of this world",
                        event.schema
                    ),
                )
            })?;
        let ty = plane
            .schema_type_of(&schema)
            .cloned()
            .unwrap_or(TypeExpr::Unit);
        if is_canonical(&event.value, &ty, plane) {
            events.push((schema, event.value.clone()));
            continue;
        }
        let value = Value::from_cbor_bytes(&event.value, &ty, plane).map_err(|e| {
            StepError::new(
                "bad_output",
                format!("domain_events[{index}] ({schema}): {e}"),
            )
        })?;
        events.push((schema, value.to_cbor_body()));
    }
    if output.effects.len() > REDUCER_EFFECTS_PER_STEP_MAX {
        return Err(StepError::new(
            "bad_output",
            format!(
                "{} effects in one step; a reducer may emit at most {REDUCER_EFFECTS_PER_STEP_MAX}",
                output.effects.len()
            ),
        ));
    }
    Ok(Checked {
        state,
        events,
        effects: output.effects,
    })
}
