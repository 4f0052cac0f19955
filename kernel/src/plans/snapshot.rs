//! The snapshot entry of plan instances. Values are untyped at this point (an `assign` result has
//! no schema), so each is kept in the self-describing tagged lens, as canonical CBOR.

use std::collections::BTreeMap;

use worldline_air::cbor::Cbor;
use worldline_air::cbor::{cbor_to_json, json_to_cbor};
use worldline_air::{Hash, Name, Value};

use super::{HeldReceipt, PlanInstance, PlansState, StepStatus};
use crate::error::{KernelError, Result};

fn corrupt(what: impl std::fmt::Display) -> KernelError {
    KernelError::Corrupt(format!("snapshot: plans: {what}"))
}

fn text(key: &str) -> Cbor {
    Cbor::Text(key.to_owned())
}

fn value_item(value: &Value) -> Result<Cbor> {
    json_to_cbor(&value.to_tagged_json()).map_err(|e| corrupt(format!("a value: {e}")))
}

fn item_value(item: &Cbor) -> Result<Value> {
    let json = cbor_to_json(item).map_err(corrupt)?;
    Value::from_tagged_json(&json).map_err(corrupt)
}

fn value_map(values: &BTreeMap<String, Value>) -> Result<Cbor> {
    let entries = values
        .iter()
        .map(|(name, value)| Ok((text(name), value_item(value)?)))
        .collect::<Result<_>>()?;
    Ok(Cbor::Map(entries))
}

fn map_values(item: Option<&Cbor>) -> Result<BTreeMap<String, Value>> {
    let Some(Cbor::Map(entries)) = item else {
        return Err(corrupt("a value map is not a map"));
    };
    entries
        .iter()
        .map(|(key, value)| {
            let name = key.as_text().ok_or_else(|| corrupt("a non-text name"))?;
            Ok((name.to_owned(), item_value(value)?))
        })
        .collect()
}

fn step_item(status: &StepStatus) -> Cbor {
    match status {
        StepStatus::Pending => Cbor::Unsigned(0),
        StepStatus::Done => Cbor::Unsigned(1),
        StepStatus::Skipped => Cbor::Unsigned(2),
        StepStatus::Waiting { since_seq } => Cbor::Array(vec![Cbor::Unsigned(*since_seq)]),
    }
}

fn item_step(item: &Cbor) -> Result<StepStatus> {
    Ok(match item {
        Cbor::Unsigned(0) => StepStatus::Pending,
        Cbor::Unsigned(1) => StepStatus::Done,
        Cbor::Unsigned(2) => StepStatus::Skipped,
        Cbor::Array(parts) => match parts.as_slice() {
            [Cbor::Unsigned(since_seq)] => StepStatus::Waiting {
                since_seq: *since_seq,
            },
            _ => return Err(corrupt("a malformed waiting step")),
        },
        _ => return Err(corrupt("an unknown step status")),
    })
}

fn instance_item(instance: &PlanInstance) -> Result<Cbor> {
    let receipts = instance
        .receipts
        .iter()
        .map(|(hash, held)| {
            Ok(Cbor::Array(vec![
                Cbor::Bytes(hash.as_bytes().to_vec()),
                text(&held.status),
                value_item(&held.value)?,
            ]))
        })
        .collect::<Result<_>>()?;
    Ok(Cbor::Map(vec![
        (text("id"), Cbor::Unsigned(instance.id)),
        (text("plan"), text(instance.plan.as_str())),
        (
            text("manifest_hash"),
            Cbor::Bytes(instance.manifest_hash.as_bytes().to_vec()),
        ),
        (text("input"), value_item(&instance.input)?),
        (text("vars"), value_map(&instance.vars)?),
        (text("step_values"), value_map(&instance.step_values)?),
        (
            text("steps"),
            Cbor::Array(instance.steps.iter().map(step_item).collect()),
        ),
        (text("receipts"), Cbor::Array(receipts)),
    ]))
}

fn hash_of(item: Option<&Cbor>) -> Result<Hash> {
    match item {
        Some(Cbor::Bytes(bytes)) => bytes
            .as_slice()
            .try_into()
            .map(Hash)
            .map_err(|_| corrupt("a hash is not 32 bytes")),
        _ => Err(corrupt("a hash is missing")),
    }
}

fn item_instance(item: &Cbor) -> Result<PlanInstance> {
    let id = match item.get("id") {
        Some(Cbor::Unsigned(id)) => *id,
        _ => return Err(corrupt("an instance without an id")),
    };
    let plan = item
        .get("plan")
        .and_then(Cbor::as_text)
        .ok_or_else(|| corrupt("an instance without a plan"))?;
    let plan = Name::parse(plan).map_err(corrupt)?;
    let Some(Cbor::Array(steps)) = item.get("steps") else {
        return Err(corrupt("`steps` is not an array"));
    };
    let Some(Cbor::Array(receipts)) = item.get("receipts") else {
        return Err(corrupt("`receipts` is not an array"));
    };
    let mut held = BTreeMap::new();
    for receipt in receipts {
        let Cbor::Array(parts) = receipt else {
            return Err(corrupt("a held receipt is not an array"));
        };
        let [hash, Cbor::Text(status), value] = parts.as_slice() else {
            return Err(corrupt("a malformed held receipt"));
        };
        let value = item_value(value)?;
        let status = status.clone();
        held.insert(hash_of(Some(hash))?, HeldReceipt { status, value });
    }
    Ok(PlanInstance {
        id,
        plan,
        manifest_hash: hash_of(item.get("manifest_hash"))?,
        input: item_value(item.get("input").ok_or_else(|| corrupt("no input"))?)?,
        vars: map_values(item.get("vars"))?,
        step_values: map_values(item.get("step_values"))?,
        steps: steps.iter().map(item_step).collect::<Result<_>>()?,
        receipts: held,
    })
}

impl PlansState {
    /// The snapshot entry: an array of instances by id, or `None` when there are none (so the
    /// snapshots of worlds without plans are what they were before plans existed).
    pub fn to_snapshot(&self) -> Result<Option<Cbor>> {
        if self.instances.is_empty() {
            return Ok(None);
        }
        let items = self
            .instances
            .values()
            .map(instance_item)
            .collect::<Result<_>>()?;
        Ok(Some(Cbor::Array(items)))
    }

    /// Rebuilds the instances from a snapshot entry.
    pub fn from_snapshot(item: &Cbor) -> Result<PlansState> {
        let Cbor::Array(items) = item else {
            return Err(corrupt("the entry is not an array"));
        };
        let mut state = PlansState::default();
        for item in items {
            let instance = item_instance(item)?;
            if state.put(instance).is_some() {
                return Err(corrupt("two instances with one id"));
            }
        }
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn an_instance_survives_the_snapshot_entry() {
        let plan = Name::parse("demo/p@1").unwrap();
        let mut instance = PlanInstance::new(7, plan, Hash::of(b"m"), Value::Nat(3), 4);
        instance.vars.insert("x".into(), Value::Int(-5));
        instance.step_values.insert(
            "s".into(),
            Value::record([("a", Value::Text("t".into())), ("b", Value::Null)]),
        );
        instance.steps[1] = StepStatus::Done;
        instance.steps[2] = StepStatus::Waiting { since_seq: 9 };
        instance.steps[3] = StepStatus::Skipped;
        instance.receipts.insert(
            Hash::of(b"i"),
            HeldReceipt {
                status: "ok".into(),
                value: Value::Bytes(vec![1, 2]),
            },
        );
        let mut state = PlansState::default();
        state.put(instance);
        let item = state.to_snapshot().unwrap().unwrap();
        let bytes = item.to_canonical().unwrap();
        let back = worldline_air::cbor::decode(&bytes).unwrap();
        assert_eq!(PlansState::from_snapshot(&back).unwrap(), state);
        assert_eq!(PlansState::default().to_snapshot().unwrap(), None);
    }
}
