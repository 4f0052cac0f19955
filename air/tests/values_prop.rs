//! Property tests of typed values: canonical round trips, both JSON lenses giving the same
//! bytes, set and map ordering independent of input order.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use proptest::prelude::*;
use worldline_air::value::Dec128;
use worldline_air::{Hash, Name, TypeExpr, Value};

fn leaf_type() -> impl Strategy<Value = TypeExpr> {
    prop_oneof![
        Just(TypeExpr::Bool),
        Just(TypeExpr::Int),
        Just(TypeExpr::Nat),
        Just(TypeExpr::Dec128),
        Just(TypeExpr::Bytes),
        Just(TypeExpr::Text),
        Just(TypeExpr::Time),
        Just(TypeExpr::Duration),
        Just(TypeExpr::Hash),
        Just(TypeExpr::Uuid),
        Just(TypeExpr::Unit),
    ]
}

fn key_type() -> impl Strategy<Value = TypeExpr> {
    prop_oneof![
        Just(TypeExpr::Int),
        Just(TypeExpr::Nat),
        Just(TypeExpr::Text),
        Just(TypeExpr::Uuid),
        Just(TypeExpr::Hash)
    ]
}

fn field_name() -> impl Strategy<Value = String> {
    "[a-z_][a-z0-9_]{0,6}"
}

/// Types of bounded depth, never an option of an option or of unit (AIR rejects those).
fn any_type() -> impl Strategy<Value = TypeExpr> {
    leaf_type().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::btree_map(field_name(), inner.clone(), 0..4)
                .prop_map(TypeExpr::Record),
            prop::collection::btree_map(field_name(), inner.clone(), 1..4)
                .prop_map(TypeExpr::Variant),
            inner.clone().prop_map(|t| TypeExpr::List(Box::new(t))),
            inner.clone().prop_map(|t| TypeExpr::Set(Box::new(t))),
            (key_type(), inner.clone()).prop_map(|(k, v)| TypeExpr::Map {
                key: Box::new(k),
                value: Box::new(v)
            }),
            inner.prop_filter_map("no ambiguous options", |t| match t {
                TypeExpr::Option(_) | TypeExpr::Unit => None,
                other => Some(TypeExpr::Option(Box::new(other))),
            }),
        ]
    })
}

fn dec128() -> impl Strategy<Value = Value> {
    (any::<bool>(), "[0-9]{1,20}", -30i32..30).prop_map(|(negative, digits, exponent)| {
        let text = format!("{}{digits}e{exponent}", if negative { "-" } else { "" });
        Value::Dec128(Dec128::parse(&text).unwrap())
    })
}

fn value_for(ty: &TypeExpr) -> BoxedStrategy<Value> {
    match ty {
        TypeExpr::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        TypeExpr::Int => any::<i64>().prop_map(Value::Int).boxed(),
        TypeExpr::Nat => any::<u64>().prop_map(Value::Nat).boxed(),
        TypeExpr::Dec128 => dec128().boxed(),
        TypeExpr::Bytes => prop::collection::vec(any::<u8>(), 0..12)
            .prop_map(Value::Bytes)
            .boxed(),
        TypeExpr::Text => ".{0,8}".prop_map(Value::Text).boxed(),
        TypeExpr::Time => any::<u64>().prop_map(Value::Time).boxed(),
        TypeExpr::Duration => any::<u64>().prop_map(Value::Duration).boxed(),
        TypeExpr::Hash => any::<[u8; 32]>().prop_map(|b| Value::Hash(Hash(b))).boxed(),
        TypeExpr::Uuid => any::<u128>()
            .prop_map(|n| Value::Uuid(uuid::Uuid::from_u128(n).to_string()))
            .boxed(),
        TypeExpr::Unit => Just(Value::Null).boxed(),
        TypeExpr::Option(inner) => prop_oneof![Just(Value::Null), value_for(inner)].boxed(),
        TypeExpr::List(inner) | TypeExpr::Set(inner) => {
            let is_set = matches!(ty, TypeExpr::Set(_));
            prop::collection::vec(value_for(inner), 0..4)
                .prop_map(move |items| {
                    if is_set {
                        Value::Set(items)
                    } else {
                        Value::List(items)
                    }
                })
                .boxed()
        }
        TypeExpr::Map { key, value } => {
            prop::collection::vec((value_for(key), value_for(value)), 0..4)
                .prop_map(|entries| {
                    // Keep the first of any repeated key: a map's keys are unique.
                    let mut seen = std::collections::BTreeSet::new();
                    let unique = entries
                        .into_iter()
                        .filter(|(k, _)| seen.insert(k.to_cbor_body()));
                    Value::Map(unique.collect())
                })
                .boxed()
        }
        TypeExpr::Record(fields) => {
            let strategies: Vec<BoxedStrategy<(String, Value)>> = fields
                .iter()
                .map(|(k, t)| {
                    let name = k.clone();
                    value_for(t).prop_map(move |v| (name.clone(), v)).boxed()
                })
                .collect();
            strategies
                .prop_map(|pairs| Value::Record(pairs.into_iter().collect()))
                .boxed()
        }
        TypeExpr::Variant(arms) => {
            let arms: Vec<(String, TypeExpr)> =
                arms.iter().map(|(k, t)| (k.clone(), t.clone())).collect();
            (0..arms.len())
                .prop_flat_map(move |index| {
                    let (tag, arm_type) = arms[index].clone();
                    value_for(&arm_type).prop_map(move |v| {
                        let value = if arm_type == TypeExpr::Unit {
                            None
                        } else {
                            Some(Box::new(v))
                        };
                        Value::Variant {
                            tag: tag.clone(),
                            value,
                        }
                    })
                })
                .boxed()
        }
        TypeExpr::Ref(_) => unreachable!("the generator makes no refs"),
    }
}

fn typed_value() -> impl Strategy<Value = (TypeExpr, Value)> {
    any_type().prop_flat_map(|ty| {
        let ty2 = ty.clone();
        value_for(&ty).prop_map(move |v| (ty2.clone(), v))
    })
}

fn no_schemas() -> BTreeMap<Name, TypeExpr> {
    BTreeMap::new()
}

/// Reverses the input order of every set and map inside a value.
fn reversed(value: &Value) -> Value {
    match value {
        Value::Set(items) => Value::Set(items.iter().rev().map(reversed).collect()),
        Value::List(items) => Value::List(items.iter().map(reversed).collect()),
        Value::Map(entries) => Value::Map(
            entries
                .iter()
                .rev()
                .map(|(k, v)| (reversed(k), reversed(v)))
                .collect(),
        ),
        Value::Record(fields) => Value::Record(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), reversed(v)))
                .collect(),
        ),
        Value::Variant { tag, value } => Value::Variant {
            tag: tag.clone(),
            value: value.as_ref().map(|v| Box::new(reversed(v))),
        },
        other => other.clone(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn canonical_bytes_round_trip((ty, raw) in typed_value()) {
        let schemas = no_schemas();
        let value = raw.normalize(&ty, &schemas).unwrap();
        let bytes = value.to_canonical();
        let decoded = Value::from_cbor_bytes(&bytes, &ty, &schemas).unwrap();
        prop_assert_eq!(&decoded, &value);
        prop_assert_eq!(decoded.to_canonical(), bytes.clone());
        // Without the self-describe tag the decoder reads the same value.
        prop_assert_eq!(Value::from_cbor_bytes(&bytes[3..], &ty, &schemas).unwrap(), value);
    }

    #[test]
    fn both_json_lenses_give_identical_bytes((ty, raw) in typed_value()) {
        let schemas = no_schemas();
        let value = raw.normalize(&ty, &schemas).unwrap();
        let bytes = value.to_canonical();
        let from_plain = Value::from_plain_json(&value.to_plain_json(), &ty, &schemas).unwrap();
        prop_assert_eq!(from_plain.to_canonical(), bytes.clone());
        let from_tagged = Value::from_tagged_json(&value.to_tagged_json())
            .unwrap()
            .normalize(&ty, &schemas)
            .unwrap();
        prop_assert_eq!(from_tagged.to_canonical(), bytes.clone());
        let from_any =
            worldline_air::value::from_any_json(&value.to_tagged_json(), &ty, &schemas).unwrap();
        prop_assert_eq!(from_any.to_canonical(), bytes);
    }

    #[test]
    fn set_and_map_order_does_not_matter((ty, raw) in typed_value()) {
        let schemas = no_schemas();
        let forward = raw.clone().normalize(&ty, &schemas).unwrap().to_canonical();
        let backward = reversed(&raw).normalize(&ty, &schemas).unwrap().to_canonical();
        prop_assert_eq!(forward, backward);
        // Encoding alone (without normalizing first) is canonical too.
        prop_assert_eq!(raw.to_canonical(), reversed(&raw).to_canonical());
    }

    #[test]
    fn the_fast_canonical_check_accepts_every_canonical_encoding((ty, raw) in typed_value()) {
        let schemas = no_schemas();
        let value = raw.normalize(&ty, &schemas).unwrap();
        prop_assert!(worldline_air::value::is_canonical(&value.to_cbor_body(), &ty, &schemas));
    }

    #[test]
    fn what_the_fast_check_accepts_is_exactly_what_the_full_path_produces(
        bytes in prop::collection::vec(any::<u8>(), 0..48),
        (ty, raw) in typed_value(),
    ) {
        let schemas = no_schemas();
        // Random bytes, and near misses of a real encoding (one byte changed or cut).
        let real = raw.normalize(&ty, &schemas).unwrap().to_cbor_body();
        let mut near = real.clone();
        if let Some(first) = near.first_mut() {
            *first ^= bytes.first().copied().unwrap_or(1);
        }
        let cut = &real[..real.len().saturating_sub(1)];
        for candidate in [bytes.as_slice(), near.as_slice(), cut] {
            if worldline_air::value::is_canonical(candidate, &ty, &schemas) {
                let decoded = Value::from_cbor_bytes(candidate, &ty, &schemas).unwrap();
                prop_assert_eq!(decoded.to_cbor_body(), candidate.to_vec());
            }
        }
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..64),
        (ty, _) in typed_value(),
    ) {
        let _ = Value::from_cbor_bytes(&bytes, &ty, &no_schemas());
        let _ = worldline_air::cbor::decode(&bytes);
    }
}
