//! The evaluator: total and deterministic. Overflow, division by zero, a missing reference or
//! a type mismatch is an [`EvalError`] with a machine-readable code, never a panic.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::hash::Hash;
use crate::types::{SchemaLookup, TypeExpr};
use crate::value::{BYTES_LEN_MAX, Value, map_key_text, sort_map, sort_set};

use super::{Expr, ExprOp, ExprOrValue, ExprRef, RefRoot};

/// What an expression can refer to. Implemented by the plan engine (and by tests).
pub trait Env {
    /// `@plan.input`.
    fn plan_input(&self) -> Option<&Value>;
    /// `@var:NAME`.
    fn var(&self, name: &str) -> Option<&Value>;
    /// `@step:ID`: the value the step produced.
    fn step(&self, id: &str) -> Option<&Value>;
    /// `@event`, inside `await_event.where` only.
    fn event(&self) -> Option<&Value>;
}

/// A simple environment of owned values.
#[derive(Debug, Clone, Default)]
pub struct MapEnv {
    /// `@plan.input`.
    pub input: Option<Value>,
    /// `@var:` bindings.
    pub vars: BTreeMap<String, Value>,
    /// `@step:` results.
    pub steps: BTreeMap<String, Value>,
    /// `@event`.
    pub event: Option<Value>,
}

impl Env for MapEnv {
    fn plan_input(&self) -> Option<&Value> {
        self.input.as_ref()
    }
    fn var(&self, name: &str) -> Option<&Value> {
        self.vars.get(name)
    }
    fn step(&self, id: &str) -> Option<&Value> {
        self.steps.get(id)
    }
    fn event(&self) -> Option<&Value> {
        self.event.as_ref()
    }
}

/// Why an evaluation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct EvalError {
    /// Machine-readable: `missing_ref`, `missing_field`, `missing_key`, `index_out_of_range`,
    /// `type_mismatch`, `overflow`, `division_by_zero`, `duplicate_key`, `invalid_value`, `too_large`.
    pub code: &'static str,
    /// For people.
    pub message: String,
}

fn err<T>(code: &'static str, message: impl Into<String>) -> Result<T, EvalError> {
    Err(EvalError {
        code,
        message: message.into(),
    })
}

fn mismatch<T>(op: ExprOp, args: &[&Value]) -> Result<T, EvalError> {
    let kinds: Vec<&str> = args.iter().map(|v| v.kind_name()).collect();
    err(
        "type_mismatch",
        format!("`{}` does not apply to ({})", op.word(), kinds.join(", ")),
    )
}

/// Evaluates an expression.
pub fn eval(expr: &Expr, env: &dyn Env) -> Result<Value, EvalError> {
    match expr {
        Expr::Const(value) => Ok(value.clone()),
        Expr::Ref(reference) => resolve_ref(reference, env),
        Expr::Record(fields) => {
            let mut out = BTreeMap::new();
            for (field, item) in fields {
                out.insert(field.clone(), eval(item, env)?);
            }
            Ok(Value::Record(out))
        }
        Expr::List(items) => Ok(Value::List(
            items
                .iter()
                .map(|e| eval(e, env))
                .collect::<Result<_, _>>()?,
        )),
        Expr::Set(items) => Ok(Value::Set(sort_set(
            items
                .iter()
                .map(|e| eval(e, env))
                .collect::<Result<_, _>>()?,
        ))),
        Expr::Map(entries) => {
            let pairs = entries
                .iter()
                .map(|(k, v)| Ok((eval(k, env)?, eval(v, env)?)))
                .collect::<Result<Vec<_>, EvalError>>()?;
            sort_map(pairs, "$").map(Value::Map).map_err(|e| EvalError {
                code: "duplicate_key",
                message: e.message,
            })
        }
        Expr::Variant { tag, value } => Ok(Value::Variant {
            tag: tag.clone(),
            value: match value {
                Some(value) => Some(Box::new(eval(value, env)?)),
                None => None,
            },
        }),
        Expr::Op { op, args } => apply(*op, args, env),
    }
}

/// Evaluates an expression or reads a literal, then normalizes the result against `ty`.
pub fn eval_typed(
    item: &ExprOrValue,
    ty: &TypeExpr,
    env: &dyn Env,
    schemas: &dyn SchemaLookup,
) -> Result<Value, EvalError> {
    let value = match item {
        ExprOrValue::Expr(expr) => eval(expr, env)?,
        ExprOrValue::Literal(json) => {
            return crate::value::from_any_json(json, ty, schemas).map_err(|e| EvalError {
                code: "invalid_value",
                message: e.to_string(),
            });
        }
    };
    value.normalize(ty, schemas).map_err(|e| EvalError {
        code: "invalid_value",
        message: e.to_string(),
    })
}

fn resolve_ref(reference: &ExprRef, env: &dyn Env) -> Result<Value, EvalError> {
    let root = match &reference.root {
        RefRoot::PlanInput => env.plan_input(),
        RefRoot::Var(name) => env.var(name),
        RefRoot::Step(id) => env.step(id),
        RefRoot::Event => env.event(),
    };
    let Some(root) = root else {
        return err("missing_ref", format!("`{}` is not bound", reference.text));
    };
    let mut current = root.clone();
    for segment in &reference.path {
        current = navigate(&current, segment).ok_or_else(|| EvalError {
            code: "missing_ref",
            message: format!(
                "`{}`: no `{segment}` in a {}",
                reference.text,
                current.kind_name()
            ),
        })?;
    }
    Ok(current)
}

/// One step of a path: a record field, a variant's `$tag`/`$value`, a map key, a list index.
fn navigate(value: &Value, segment: &str) -> Option<Value> {
    match value {
        Value::Record(fields) => fields.get(segment).cloned(),
        Value::Variant { tag, .. } if segment == "$tag" => Some(Value::Text(tag.clone())),
        Value::Variant {
            value: Some(inner), ..
        } if segment == "$value" => Some((**inner).clone()),
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| map_key_text(k) == segment)
            .map(|(_, v)| v.clone()),
        Value::List(items) => segment
            .parse::<usize>()
            .ok()
            .and_then(|i| items.get(i))
            .cloned(),
        _ => None,
    }
}

fn apply(op: ExprOp, args: &[Expr], env: &dyn Env) -> Result<Value, EvalError> {
    // Boolean operators short-circuit: a deterministic rule, and it spares needless errors.
    match op {
        ExprOp::And | ExprOp::Or => {
            let stop_on = op == ExprOp::Or;
            for arg in args {
                match eval(arg, env)? {
                    Value::Bool(b) if b == stop_on => return Ok(Value::Bool(stop_on)),
                    Value::Bool(_) => {}
                    other => return mismatch(op, &[&other]),
                }
            }
            return Ok(Value::Bool(!stop_on));
        }
        _ => {}
    }
    let values = args
        .iter()
        .map(|a| eval(a, env))
        .collect::<Result<Vec<_>, _>>()?;
    let refs: Vec<&Value> = values.iter().collect();
    match (op, refs.as_slice()) {
        (ExprOp::Not, [Value::Bool(b)]) => Ok(Value::Bool(!b)),
        (ExprOp::Len, [v]) => len(v)
            .map(Value::Nat)
            .ok_or(())
            .or_else(|_| mismatch(op, &refs)),
        (ExprOp::Get, [container, key]) => get(container, key),
        (ExprOp::Has, [container, key]) => has(container, key).map(Value::Bool),
        (ExprOp::Eq, [a, b]) => Ok(Value::Bool(a.to_cbor_body() == b.to_cbor_body())),
        (ExprOp::Ne, [a, b]) => Ok(Value::Bool(a.to_cbor_body() != b.to_cbor_body())),
        (ExprOp::Lt | ExprOp::Le | ExprOp::Gt | ExprOp::Ge, [a, b]) => {
            let ordering = compare(a, b).ok_or(()).or_else(|_| mismatch(op, &refs))?;
            Ok(Value::Bool(match op {
                ExprOp::Lt => ordering == Ordering::Less,
                ExprOp::Le => ordering != Ordering::Greater,
                ExprOp::Gt => ordering == Ordering::Greater,
                _ => ordering != Ordering::Less,
            }))
        }
        (ExprOp::Concat, _) => concat(op, &refs).and_then(within_size_limit),
        (ExprOp::StartsWith | ExprOp::EndsWith, [a, b]) => affix(op, a, b),
        (ExprOp::Contains, [container, item]) => contains(op, container, item),
        (ExprOp::Hash, [v]) => Ok(Value::Hash(v.hash())),
        (ExprOp::HashBytes, [Value::Bytes(bytes)]) => Ok(Value::Hash(Hash::of(bytes))),
        (ExprOp::HashBytes, [Value::Text(text)]) => Ok(Value::Hash(Hash::of(text.as_bytes()))),
        (ExprOp::Add | ExprOp::Mul, [first, rest @ ..]) => {
            let mut acc = (*first).clone();
            for next in rest {
                acc = arithmetic(op, &acc, next)?;
            }
            Ok(acc)
        }
        (ExprOp::Sub | ExprOp::Div | ExprOp::Mod, [a, b]) => arithmetic(op, a, b),
        _ => mismatch(op, &refs),
    }
}

fn len(value: &Value) -> Option<u64> {
    let n = match value {
        Value::Text(text) => text.chars().count(),
        Value::Bytes(bytes) => bytes.len(),
        Value::List(items) | Value::Set(items) => items.len(),
        Value::Map(entries) => entries.len(),
        Value::Record(fields) => fields.len(),
        _ => return None,
    };
    Some(n as u64)
}

fn index(key: &Value) -> Option<usize> {
    match key {
        Value::Nat(n) => usize::try_from(*n).ok(),
        Value::Int(n) => usize::try_from(*n).ok(),
        _ => None,
    }
}

fn get(container: &Value, key: &Value) -> Result<Value, EvalError> {
    match (container, key) {
        (Value::Record(fields), Value::Text(field)) => match fields.get(field) {
            Some(value) => Ok(value.clone()),
            None => err("missing_field", format!("record has no field `{field}`")),
        },
        (Value::Variant { tag, .. }, Value::Text(marker)) if marker == "$tag" => {
            Ok(Value::Text(tag.clone()))
        }
        (
            Value::Variant {
                value: Some(inner), ..
            },
            Value::Text(marker),
        ) if marker == "$value" => Ok((**inner).clone()),
        (Value::Map(entries), key) => {
            let wanted = key.to_cbor_body();
            match entries.iter().find(|(k, _)| k.to_cbor_body() == wanted) {
                Some((_, value)) => Ok(value.clone()),
                None => err(
                    "missing_key",
                    format!("map has no key `{}`", map_key_text(key)),
                ),
            }
        }
        (Value::List(items), key) if index(key).is_some() => {
            let i = index(key).unwrap_or(usize::MAX);
            items.get(i).cloned().ok_or(()).or_else(|_| {
                err(
                    "index_out_of_range",
                    format!("index {i} of a list of {}", items.len()),
                )
            })
        }
        _ => mismatch(ExprOp::Get, &[container, key]),
    }
}

fn has(container: &Value, key: &Value) -> Result<bool, EvalError> {
    Ok(match (container, key) {
        (Value::Record(fields), Value::Text(field)) => {
            fields.get(field).is_some_and(|v| *v != Value::Null)
        }
        (Value::Map(entries), key) => {
            let wanted = key.to_cbor_body();
            entries.iter().any(|(k, _)| k.to_cbor_body() == wanted)
        }
        (Value::List(items), Value::Nat(_) | Value::Int(_)) => {
            index(key).is_some_and(|i| i < items.len())
        }
        (Value::Set(items), item) => {
            let wanted = item.to_cbor_body();
            items.iter().any(|v| v.to_cbor_body() == wanted)
        }
        _ => return mismatch(ExprOp::Has, &[container, key]),
    })
}

fn as_integer(value: &Value) -> Option<i128> {
    match value {
        Value::Int(n) => Some(i128::from(*n)),
        Value::Nat(n) => Some(i128::from(*n)),
        _ => None,
    }
}

fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (as_integer(a), as_integer(b)) {
        return Some(x.cmp(&y));
    }
    match (a, b) {
        (Value::Time(x), Value::Time(y)) | (Value::Duration(x), Value::Duration(y)) => {
            Some(x.cmp(y))
        }
        (Value::Dec128(x), Value::Dec128(y)) => Some(x.cmp_numeric(y)),
        (Value::Text(x), Value::Text(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (Value::Bytes(x), Value::Bytes(y)) => Some(x.cmp(y)),
        (Value::Hash(x), Value::Hash(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn concat(op: ExprOp, values: &[&Value]) -> Result<Value, EvalError> {
    match values.first() {
        Some(Value::Text(_)) if values.iter().all(|v| matches!(v, Value::Text(_))) => {
            Ok(Value::Text(
                values
                    .iter()
                    .filter_map(|v| {
                        if let Value::Text(t) = v {
                            Some(t.as_str())
                        } else {
                            None
                        }
                    })
                    .collect(),
            ))
        }
        Some(Value::Bytes(_)) if values.iter().all(|v| matches!(v, Value::Bytes(_))) => {
            Ok(Value::Bytes(
                values
                    .iter()
                    .filter_map(|v| {
                        if let Value::Bytes(b) = v {
                            Some(b.as_slice())
                        } else {
                            None
                        }
                    })
                    .collect::<Vec<_>>()
                    .concat(),
            ))
        }
        Some(Value::List(_)) if values.iter().all(|v| matches!(v, Value::List(_))) => {
            Ok(Value::List(
                values
                    .iter()
                    .filter_map(|v| {
                        if let Value::List(items) = v {
                            Some(items.clone())
                        } else {
                            None
                        }
                    })
                    .flatten()
                    .collect(),
            ))
        }
        _ => mismatch(op, values),
    }
}

/// Texts and byte strings hold at most [`BYTES_LEN_MAX`], however they were made.
fn within_size_limit(value: Value) -> Result<Value, EvalError> {
    let len = match &value {
        Value::Text(text) => text.len(),
        Value::Bytes(bytes) => bytes.len(),
        _ => 0,
    };
    if len > BYTES_LEN_MAX {
        return err(
            "too_large",
            format!("a result of {len} bytes is over the {BYTES_LEN_MAX}-byte limit"),
        );
    }
    Ok(value)
}

fn affix(op: ExprOp, a: &Value, b: &Value) -> Result<Value, EvalError> {
    let starts = op == ExprOp::StartsWith;
    match (a, b) {
        (Value::Text(x), Value::Text(y)) => Ok(Value::Bool(if starts {
            x.starts_with(y.as_str())
        } else {
            x.ends_with(y.as_str())
        })),
        (Value::Bytes(x), Value::Bytes(y)) => Ok(Value::Bool(if starts {
            x.starts_with(y)
        } else {
            x.ends_with(y)
        })),
        _ => mismatch(op, &[a, b]),
    }
}

fn contains(op: ExprOp, container: &Value, item: &Value) -> Result<Value, EvalError> {
    match (container, item) {
        (Value::Text(x), Value::Text(y)) => Ok(Value::Bool(x.contains(y.as_str()))),
        (Value::List(_) | Value::Set(_), item) => {
            let wanted = item.to_cbor_body();
            let items = match container {
                Value::List(items) | Value::Set(items) => items,
                _ => return mismatch(op, &[container, item]),
            };
            Ok(Value::Bool(
                items.iter().any(|v| v.to_cbor_body() == wanted),
            ))
        }
        (Value::Map(_), key) => has(container, key).map(Value::Bool),
        _ => mismatch(op, &[container, item]),
    }
}

fn overflow<T>(op: ExprOp) -> Result<T, EvalError> {
    err("overflow", format!("`{}` overflowed", op.word()))
}

fn checked(op: ExprOp, a: i128, b: i128) -> Result<i128, EvalError> {
    let result = match op {
        ExprOp::Add => a.checked_add(b),
        ExprOp::Sub => a.checked_sub(b),
        ExprOp::Mul => a.checked_mul(b),
        ExprOp::Div | ExprOp::Mod if b == 0 => {
            return err("division_by_zero", format!("`{}` by zero", op.word()));
        }
        ExprOp::Div => a.checked_div(b),
        ExprOp::Mod => a.checked_rem(b),
        _ => None,
    };
    result.ok_or(()).or_else(|_| overflow(op))
}

fn arithmetic(op: ExprOp, a: &Value, b: &Value) -> Result<Value, EvalError> {
    let fit_u64 = |n: i128| u64::try_from(n).ok().ok_or(()).or_else(|_| overflow(op));
    match (a, b) {
        (Value::Nat(x), Value::Nat(y)) => Ok(Value::Nat(fit_u64(checked(
            op,
            i128::from(*x),
            i128::from(*y),
        )?)?)),
        (Value::Int(_) | Value::Nat(_), Value::Int(_) | Value::Nat(_)) => {
            let result = checked(op, as_integer(a).unwrap_or(0), as_integer(b).unwrap_or(0))?;
            i64::try_from(result)
                .map(Value::Int)
                .ok()
                .ok_or(())
                .or_else(|_| overflow(op))
        }
        (Value::Time(t), Value::Duration(d)) if matches!(op, ExprOp::Add | ExprOp::Sub) => Ok(
            Value::Time(fit_u64(checked(op, i128::from(*t), i128::from(*d))?)?),
        ),
        (Value::Duration(d), Value::Time(t)) if op == ExprOp::Add => Ok(Value::Time(fit_u64(
            checked(op, i128::from(*t), i128::from(*d))?,
        )?)),
        (Value::Time(x), Value::Time(y)) if op == ExprOp::Sub => Ok(Value::Duration(fit_u64(
            checked(op, i128::from(*x), i128::from(*y))?,
        )?)),
        (Value::Duration(x), Value::Duration(y))
            if matches!(op, ExprOp::Add | ExprOp::Sub | ExprOp::Mod) =>
        {
            Ok(Value::Duration(fit_u64(checked(
                op,
                i128::from(*x),
                i128::from(*y),
            )?)?))
        }
        (Value::Nat(x), Value::Duration(y)) if op == ExprOp::Mul => Ok(Value::Duration(fit_u64(
            checked(op, i128::from(*x), i128::from(*y))?,
        )?)),
        (Value::Duration(x), Value::Nat(y)) if matches!(op, ExprOp::Mul | ExprOp::Div) => Ok(
            Value::Duration(fit_u64(checked(op, i128::from(*x), i128::from(*y))?)?),
        ),
        _ => mismatch(op, &[a, b]),
    }
}
