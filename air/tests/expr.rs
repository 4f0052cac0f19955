//! Integration tests of plan expressions (AIR.md §6): parsing from JSON, every operation, every
//! reference form, the constructors, and every evaluation error code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};
use worldline_air::expr::eval::{EvalError, MapEnv, eval, eval_typed};
use worldline_air::expr::{Expr, ExprOp, ExprOrValue, ExprRef, RefRoot};
use worldline_air::value::Dec128;
use worldline_air::{Hash, Name, TypeExpr, Value};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn parse(json: &Json) -> Expr {
    Expr::from_json(json, "$").unwrap_or_else(|e| panic!("{json} should parse: {e:?}"))
}

fn parse_err(json: &Json) -> worldline_air::AirError {
    match Expr::from_json(json, "$") {
        Ok(expr) => panic!("{json} should not parse, got {expr:?}"),
        Err(error) => error,
    }
}

fn run_in(json: &Json, env: &MapEnv) -> Result<Value, EvalError> {
    eval(&parse(json), env)
}

fn ok_in(json: &Json, env: &MapEnv) -> Value {
    run_in(json, env).unwrap_or_else(|e| panic!("{json} should evaluate: {e}"))
}

fn ok(json: &Json) -> Value {
    ok_in(json, &env())
}

fn code_in(json: &Json, env: &MapEnv) -> &'static str {
    match run_in(json, env) {
        Ok(value) => panic!("{json} should fail, got {value:?}"),
        Err(error) => error.code,
    }
}

fn code(json: &Json) -> &'static str {
    code_in(json, &env())
}

fn op(word: &str, args: &[Json]) -> Json {
    json!({ "op": word, "args": args })
}

fn nat(n: u64) -> Json {
    json!({ "nat": n })
}

fn int(n: i64) -> Json {
    json!({ "int": n })
}

fn text(s: &str) -> Json {
    json!({ "text": s })
}

fn boolean(b: bool) -> Json {
    json!({ "bool": b })
}

fn bytes(b64: &str) -> Json {
    json!({ "bytes_b64": b64 })
}

fn time(ns: u64) -> Json {
    json!({ "time_ns": ns })
}

fn dur(ns: u64) -> Json {
    json!({ "duration_ns": ns })
}

fn dec(s: &str) -> Json {
    json!({ "dec128": s })
}

fn reference(r: &str) -> Json {
    json!({ "ref": r })
}

/// An expression that always fails with `division_by_zero` when evaluated.
fn boom() -> Json {
    op("div", &[nat(1), nat(0)])
}

fn t(s: &str) -> Value {
    Value::Text(s.to_owned())
}

/// The environment most tests run in.
fn env() -> MapEnv {
    let mut vars = BTreeMap::new();
    vars.insert("x".to_owned(), Value::Nat(10));
    vars.insert("flag".to_owned(), Value::Bool(true));
    vars.insert("s".to_owned(), t("hello world"));
    vars.insert(
        "v".to_owned(),
        Value::variant("Ok", Some(Value::record([("code", Value::Nat(200))]))),
    );
    vars.insert("idle".to_owned(), Value::variant("Idle", None));
    vars.insert("correlation_id".to_owned(), t("c-1"));
    let mut steps = BTreeMap::new();
    steps.insert("s1".to_owned(), Value::record([("out", t("done"))]));
    steps.insert("raw".to_owned(), Value::Nat(42));
    MapEnv {
        input: Some(Value::record([
            ("id", Value::Nat(7)),
            ("name", t("alice")),
            ("tags", Value::List(vec![t("a"), t("b")])),
            ("opt", Value::Null),
            ("nested", Value::record([("deep", Value::Int(-3))])),
            (
                "counts",
                Value::Map(vec![(t("x"), Value::Nat(1)), (t("y"), Value::Nat(2))]),
            ),
            ("by_id", Value::Map(vec![(Value::Nat(5), t("five"))])),
        ])),
        vars,
        steps,
        event: Some(Value::record([("request_id", Value::Nat(7))])),
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

#[test]
fn op_table_matches_air_md_in_order() {
    let words: Vec<&str> = ExprOp::ALL.iter().map(|op| op.word()).collect();
    assert_eq!(
        words,
        [
            "len",
            "get",
            "has",
            "eq",
            "ne",
            "lt",
            "le",
            "gt",
            "ge",
            "and",
            "or",
            "not",
            "concat",
            "starts_with",
            "ends_with",
            "contains",
            "hash",
            "hash_bytes",
            "add",
            "sub",
            "mul",
            "div",
            "mod",
        ]
    );
}

#[test]
fn constants_of_every_tagged_form_parse_and_evaluate_to_themselves() {
    let hash = Hash::of(b"x").to_string();
    let cases: Vec<(Json, Value)> = vec![
        (json!({"null": {}}), Value::Null),
        (boolean(false), Value::Bool(false)),
        (int(-5), Value::Int(-5)),
        (nat(5), Value::Nat(5)),
        (dec("1.50"), Value::Dec128(Dec128::parse("1.5").unwrap())),
        (text("hi"), t("hi")),
        (bytes("AQID"), Value::Bytes(vec![1, 2, 3])),
        (time(9), Value::Time(9)),
        (dur(8), Value::Duration(8)),
        (json!({ "hash": hash }), Value::Hash(Hash::of(b"x"))),
        (
            json!({"uuid": "123E4567-E89B-12D3-A456-426614174000"}),
            Value::Uuid("123e4567-e89b-12d3-a456-426614174000".to_owned()),
        ),
    ];
    for (json, expected) in cases {
        assert_eq!(parse(&json), Expr::Const(expected.clone()), "{json}");
        assert_eq!(ok(&json), expected, "{json}");
    }
}

#[test]
fn extreme_integer_constants_parse() {
    assert_eq!(ok(&int(i64::MIN)), Value::Int(i64::MIN));
    assert_eq!(ok(&int(i64::MAX)), Value::Int(i64::MAX));
    assert_eq!(ok(&nat(u64::MAX)), Value::Nat(u64::MAX));
}

#[test]
fn canonical_json_round_trips() {
    let json = op(
        "and",
        &[
            op("eq", &[reference("@var:x"), nat(10)]),
            op(
                "contains",
                &[
                    json!({"set": [text("b"), text("a")]}),
                    json!({"variant": {"tag": "T", "value": {"record": {"f": nat(1)}}}}),
                ],
            ),
            op(
                "has",
                &[
                    json!({"map": [{"key": text("k"), "value": json!({"list": [int(1)]})}]}),
                    json!({"variant": {"tag": "U"}}),
                ],
            ),
        ],
    );
    let expr = parse(&json);
    assert_eq!(expr.to_json(), json);
    assert_eq!(parse(&expr.to_json()), expr);
}

#[test]
fn unknown_op_is_bad_expr_at_the_op() {
    let error = parse_err(&op("frobnicate", &[nat(1)]));
    assert_eq!(error.code, "bad_expr");
    assert_eq!(error.path, "$.op");
    assert!(error.message.contains("frobnicate"), "{}", error.message);
}

#[test]
fn wrong_arity_is_bad_arity_at_args() {
    let cases = [
        op("len", &[text("a"), text("b")]),
        op("not", &[]),
        op("eq", &[nat(1), nat(1), nat(1)]),
        op("add", &[nat(1)]),
        op("and", &[boolean(true)]),
        op("concat", &[text("a")]),
        op("sub", &[nat(3), nat(2), nat(1)]),
        op("hash", &[]),
        op("mod", &[nat(1)]),
    ];
    for json in cases {
        let error = parse_err(&json);
        assert_eq!(error.code, "bad_arity", "{json}");
        assert_eq!(error.path, "$.args", "{json}");
    }
}

#[test]
fn every_op_accepts_its_documented_arity() {
    for op_kind in ExprOp::ALL {
        let word = op_kind.word();
        let (good, bad) = match op_kind.arity() {
            worldline_air::expr::Arity::Exactly(n) => (n, n + 1),
            worldline_air::expr::Arity::AtLeastTwo => (3, 1),
        };
        let args = |n: usize| (0..n).map(|_| nat(1)).collect::<Vec<_>>();
        assert!(
            Expr::from_json(&op(word, &args(good)), "$").is_ok(),
            "{word}/{good}"
        );
        assert_eq!(
            Expr::from_json(&op(word, &args(bad)), "$")
                .unwrap_err()
                .code,
            "bad_arity",
            "{word}/{bad}"
        );
    }
}

#[test]
fn nested_errors_point_into_the_expression() {
    let error = parse_err(&op("add", &[nat(1), op("not", &[reference("@foo")])]));
    assert_eq!(error.code, "bad_ref");
    assert_eq!(error.path, "$.args[1].args[0].ref");

    let error = parse_err(&op("add", &[nat(1), json!({"nat": -1})]));
    assert_eq!(error.code, "bad_expr");
    assert_eq!(error.path, "$.args[1].nat");

    let error =
        Expr::from_json(&json!({"record": {"a": {"list": [nat(1), 3]}}}), "$.expr").unwrap_err();
    assert_eq!(error.code, "bad_expr");
    assert_eq!(error.path, "$.expr.record.a.list[1]");
}

#[test]
fn bad_reference_syntax_is_bad_ref() {
    for bad in [
        "@foo",
        "@var:",
        "@step:",
        "@var:.x",
        "@var:x.",
        "@var:x..y",
        "@var:1x",
        "@plan.inputx",
        "@plan",
        "@eventful",
        "plan.input",
        "var:x",
        "",
        "@var:x.a b",
        &format!("@var:{}", "a".repeat(65)),
    ] {
        let error = parse_err(&reference(bad));
        assert_eq!(error.code, "bad_ref", "{bad:?}");
        assert_eq!(error.path, "$.ref", "{bad:?}");
    }
}

#[test]
fn a_ref_must_be_a_string() {
    let error = parse_err(&json!({"ref": 3}));
    assert_eq!(error.code, "bad_shape");
    assert_eq!(error.path, "$.ref");
}

#[test]
fn non_object_expressions_are_bad_expr() {
    for json in [
        json!(3),
        json!("@var:x"),
        json!([nat(1)]),
        json!(null),
        json!(true),
    ] {
        let error = parse_err(&json);
        assert_eq!(error.code, "bad_expr", "{json}");
        assert_eq!(error.path, "$", "{json}");
    }
}

#[test]
fn unknown_forms_and_extra_keys_are_rejected() {
    let error = parse_err(&json!({"frob": 1}));
    assert_eq!((error.code, error.path.as_str()), ("bad_expr", "$"));
    assert!(error.message.contains("frob"));

    let error = parse_err(&json!({"nat": 1, "int": 2}));
    assert_eq!((error.code, error.path.as_str()), ("bad_expr", "$"));

    let error = parse_err(&json!({}));
    assert_eq!((error.code, error.path.as_str()), ("bad_expr", "$"));

    let error = parse_err(&json!({"op": "not", "args": [boolean(true)], "extra": 1}));
    assert_eq!(
        (error.code, error.path.as_str()),
        ("unknown_field", "$.extra")
    );

    let error = parse_err(&json!({"op": "not"}));
    assert_eq!((error.code, error.path.as_str()), ("missing_field", "$"));

    let error = parse_err(&json!({"op": "not", "args": boolean(true)}));
    assert_eq!((error.code, error.path.as_str()), ("bad_shape", "$.args"));

    let error = parse_err(&json!({"op": 3, "args": []}));
    assert_eq!((error.code, error.path.as_str()), ("bad_shape", "$.op"));

    let error = parse_err(&json!({"map": [{"key": text("k")}]}));
    assert_eq!(
        (error.code, error.path.as_str()),
        ("missing_field", "$.map[0]")
    );

    let error = parse_err(&json!({"variant": {"tag": "A", "bogus": nat(1)}}));
    assert_eq!(
        (error.code, error.path.as_str()),
        ("unknown_field", "$.variant.bogus")
    );

    let error = parse_err(&json!({"record": [nat(1)]}));
    assert_eq!((error.code, error.path.as_str()), ("bad_expr", "$.record"));

    let error = parse_err(&json!({"list": nat(1)}));
    assert_eq!((error.code, error.path.as_str()), ("bad_expr", "$.list"));
}

#[test]
fn comments_on_operations_are_ignored() {
    let expr = parse(&json!({"op": "not", "args": [boolean(true)], "$comment": "why"}));
    assert_eq!(
        expr,
        Expr::Op {
            op: ExprOp::Not,
            args: vec![Expr::Const(Value::Bool(true))]
        }
    );
}

#[test]
fn references_parse_into_root_and_path() {
    let cases: Vec<(&str, RefRoot, Vec<&str>)> = vec![
        ("@plan.input", RefRoot::PlanInput, vec![]),
        ("@plan.input.a.b", RefRoot::PlanInput, vec!["a", "b"]),
        ("@var:name", RefRoot::Var("name".to_owned()), vec![]),
        (
            "@var:v.$value.code",
            RefRoot::Var("v".to_owned()),
            vec!["$value", "code"],
        ),
        ("@step:s1", RefRoot::Step("s1".to_owned()), vec![]),
        (
            "@step:s1.items.0",
            RefRoot::Step("s1".to_owned()),
            vec!["items", "0"],
        ),
        ("@event", RefRoot::Event, vec![]),
        ("@event.request_id", RefRoot::Event, vec!["request_id"]),
    ];
    for (text, root, path) in cases {
        let expected = ExprRef {
            root,
            path: path.into_iter().map(str::to_owned).collect(),
            text: text.to_owned(),
        };
        assert_eq!(ExprRef::parse(text, "$").unwrap(), expected, "{text}");
        assert_eq!(parse(&reference(text)), Expr::Ref(expected), "{text}");
    }
}

#[test]
fn visit_refs_reports_every_ref_with_its_path() {
    let expr = parse(&op(
        "add",
        &[
            reference("@var:x"),
            json!({"record": {"f": reference("@plan.input.id")}}),
            json!({"map": [{"key": reference("@step:s1"), "value": reference("@event")}]}),
        ],
    ));
    let mut seen = Vec::new();
    expr.visit_refs("$", &mut |r, path| {
        seen.push((r.text.clone(), path.to_owned()))
    });
    assert_eq!(
        seen,
        [
            ("@var:x".to_owned(), "$.args[0].ref".to_owned()),
            (
                "@plan.input.id".to_owned(),
                "$.args[1].record.f.ref".to_owned()
            ),
            ("@step:s1".to_owned(), "$.args[2].map[0].key.ref".to_owned()),
            ("@event".to_owned(), "$.args[2].map[0].value.ref".to_owned()),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// ExprOrValue
// ---------------------------------------------------------------------------------------------

#[test]
fn plain_objects_are_literals() {
    let json = json!({"method": "GET"});
    assert_eq!(
        ExprOrValue::from_json(&json, "$").unwrap(),
        ExprOrValue::Literal(json.clone())
    );
    for json in [
        json!("GET"),
        json!(3),
        json!([1, 2]),
        json!(null),
        json!({"ref": "@var:x", "other": 1}),
        json!({"url": "https://example.com", "headers": {}}),
    ] {
        assert_eq!(
            ExprOrValue::from_json(&json, "$").unwrap(),
            ExprOrValue::Literal(json.clone()),
            "{json}"
        );
    }
}

#[test]
fn expression_shaped_objects_are_expressions() {
    assert_eq!(
        ExprOrValue::from_json(&json!({"ref": "@var:x"}), "$").unwrap(),
        ExprOrValue::Expr(Expr::Ref(ExprRef {
            root: RefRoot::Var("x".to_owned()),
            path: vec![],
            text: "@var:x".to_owned(),
        }))
    );
    assert_eq!(
        ExprOrValue::from_json(&text("x"), "$").unwrap(),
        ExprOrValue::Expr(Expr::Const(t("x")))
    );
    assert!(matches!(
        ExprOrValue::from_json(&op("add", &[nat(1), nat(2)]), "$").unwrap(),
        ExprOrValue::Expr(Expr::Op {
            op: ExprOp::Add,
            ..
        })
    ));
    assert!(matches!(
        ExprOrValue::from_json(&json!({"record": {"a": nat(1)}}), "$").unwrap(),
        ExprOrValue::Expr(Expr::Record(_))
    ));
}

#[test]
fn expression_shaped_objects_report_their_errors() {
    let error = ExprOrValue::from_json(&json!({"ref": "@foo"}), "$.value").unwrap_err();
    assert_eq!(
        (error.code, error.path.as_str()),
        ("bad_ref", "$.value.ref")
    );
    let error =
        ExprOrValue::from_json(&json!({"op": "nope", "args": [], "x": 1}), "$.value").unwrap_err();
    assert_eq!(
        (error.code, error.path.as_str()),
        ("bad_expr", "$.value.op")
    );
}

#[test]
fn expr_or_value_to_json_round_trips() {
    let literal = json!({"method": "GET"});
    assert_eq!(
        ExprOrValue::from_json(&literal, "$").unwrap().to_json(),
        literal
    );
    let expr = reference("@var:x");
    assert_eq!(ExprOrValue::from_json(&expr, "$").unwrap().to_json(), expr);
}

// ---------------------------------------------------------------------------------------------
// References
// ---------------------------------------------------------------------------------------------

#[test]
fn plan_input_refs_navigate_records_lists_and_maps() {
    assert_eq!(ok(&reference("@plan.input")), env().input.unwrap());
    assert_eq!(ok(&reference("@plan.input.id")), Value::Nat(7));
    assert_eq!(ok(&reference("@plan.input.name")), t("alice"));
    assert_eq!(ok(&reference("@plan.input.nested.deep")), Value::Int(-3));
    assert_eq!(ok(&reference("@plan.input.tags.0")), t("a"));
    assert_eq!(ok(&reference("@plan.input.tags.1")), t("b"));
    assert_eq!(ok(&reference("@plan.input.counts.y")), Value::Nat(2));
    assert_eq!(ok(&reference("@plan.input.by_id.5")), t("five"));
    assert_eq!(ok(&reference("@plan.input.opt")), Value::Null);
}

#[test]
fn var_step_and_event_refs_resolve() {
    assert_eq!(ok(&reference("@var:x")), Value::Nat(10));
    assert_eq!(ok(&reference("@var:correlation_id")), t("c-1"));
    assert_eq!(ok(&reference("@var:v.$value.code")), Value::Nat(200));
    assert_eq!(
        ok(&reference("@step:s1")),
        Value::record([("out", t("done"))])
    );
    assert_eq!(ok(&reference("@step:s1.out")), t("done"));
    assert_eq!(ok(&reference("@step:raw")), Value::Nat(42));
    assert_eq!(
        ok(&reference("@event")),
        Value::record([("request_id", Value::Nat(7))])
    );
    assert_eq!(ok(&reference("@event.request_id")), Value::Nat(7));
}

#[test]

fn var_ref_reads_a_variant_tag() {
    assert_eq!(ok(&reference("@var:v.$tag")), t("Ok"));
    assert_eq!(ok(&reference("@var:idle.$tag")), t("Idle"));
}

#[test]
fn unbound_refs_are_missing_ref() {
    for r in ["@var:nope", "@step:nope", "@var:nope.field"] {
        assert_eq!(code(&reference(r)), "missing_ref", "{r}");
    }
    let empty = MapEnv::default();
    assert_eq!(code_in(&reference("@plan.input"), &empty), "missing_ref");
    assert_eq!(code_in(&reference("@event"), &empty), "missing_ref");
    assert_eq!(code_in(&reference("@event.x"), &empty), "missing_ref");
}

#[test]
fn missing_path_segments_are_missing_ref() {
    for r in [
        "@plan.input.nope",
        "@plan.input.nested.nope",
        "@plan.input.tags.2",
        "@plan.input.tags.x",
        "@plan.input.counts.z",
        "@plan.input.by_id.6",
        "@plan.input.opt.x",
        "@plan.input.id.x",
        "@var:idle.$value",
        "@var:v.$value.nope",
        "@step:s1.nope",
        "@event.nope",
    ] {
        let error = run_in(&reference(r), &env()).unwrap_err();
        assert_eq!(error.code, "missing_ref", "{r}");
        assert!(error.message.contains(r), "{r}: {}", error.message);
    }
}

// ---------------------------------------------------------------------------------------------
// len get has
// ---------------------------------------------------------------------------------------------

#[test]
fn len_counts_characters_bytes_and_items() {
    assert_eq!(ok(&op("len", &[text("héllo")])), Value::Nat(5));
    assert_eq!(ok(&op("len", &[text("")])), Value::Nat(0));
    assert_eq!(ok(&op("len", &[bytes("AQID")])), Value::Nat(3));
    assert_eq!(
        ok(&op("len", &[reference("@plan.input.tags")])),
        Value::Nat(2)
    );
    assert_eq!(
        ok(&op("len", &[json!({"set": [nat(1), nat(1), nat(2)]})])),
        Value::Nat(2)
    );
    assert_eq!(
        ok(&op("len", &[reference("@plan.input.counts")])),
        Value::Nat(2)
    );
    assert_eq!(ok(&op("len", &[reference("@plan.input")])), Value::Nat(7));
}

#[test]
fn len_of_a_scalar_is_type_mismatch() {
    for arg in [nat(3), int(-1), boolean(true), json!({"null": {}}), time(1)] {
        let json = op("len", &[arg]);
        assert_eq!(code(&json), "type_mismatch", "{json}");
    }
}

#[test]
fn get_reads_fields_keys_indexes_and_arms() {
    assert_eq!(
        ok(&op("get", &[reference("@plan.input"), text("name")])),
        t("alice")
    );
    assert_eq!(
        ok(&op("get", &[reference("@plan.input.counts"), text("x")])),
        Value::Nat(1)
    );
    assert_eq!(
        ok(&op("get", &[reference("@plan.input.by_id"), nat(5)])),
        t("five")
    );
    assert_eq!(
        ok(&op("get", &[reference("@plan.input.tags"), nat(1)])),
        t("b")
    );
    assert_eq!(
        ok(&op("get", &[reference("@plan.input.tags"), int(0)])),
        t("a")
    );
    assert_eq!(
        ok(&op("get", &[reference("@var:v"), text("$tag")])),
        t("Ok")
    );
    assert_eq!(
        ok(&op("get", &[reference("@var:v"), text("$value")])),
        Value::record([("code", Value::Nat(200))])
    );
    assert_eq!(
        ok(&op("get", &[reference("@var:idle"), text("$tag")])),
        t("Idle")
    );
}

#[test]
fn get_errors_have_precise_codes() {
    assert_eq!(
        code(&op("get", &[reference("@plan.input"), text("nope")])),
        "missing_field"
    );
    assert_eq!(
        code(&op("get", &[reference("@plan.input.counts"), text("z")])),
        "missing_key"
    );
    // A map keyed by nat does not answer to the text "5".
    assert_eq!(
        code(&op("get", &[reference("@plan.input.by_id"), text("5")])),
        "missing_key"
    );
    assert_eq!(
        code(&op("get", &[reference("@plan.input.tags"), nat(2)])),
        "index_out_of_range"
    );
    assert_eq!(
        code(&op("get", &[reference("@plan.input.tags"), nat(u64::MAX)])),
        "index_out_of_range"
    );
    assert_eq!(
        code(&op("get", &[reference("@plan.input.tags"), text("0")])),
        "type_mismatch"
    );
    assert_eq!(
        code(&op("get", &[reference("@plan.input"), nat(0)])),
        "type_mismatch"
    );
    assert_eq!(code(&op("get", &[nat(5), nat(0)])), "type_mismatch");
    assert_eq!(
        code(&op("get", &[reference("@var:idle"), text("$value")])),
        "type_mismatch"
    );
}

#[test]
fn has_tests_presence() {
    let cases = [
        (reference("@plan.input"), text("name"), true),
        (reference("@plan.input"), text("opt"), false),
        (reference("@plan.input"), text("nope"), false),
        (reference("@plan.input.counts"), text("x"), true),
        (reference("@plan.input.counts"), text("z"), false),
        (reference("@plan.input.by_id"), nat(5), true),
        (reference("@plan.input.tags"), nat(1), true),
        (reference("@plan.input.tags"), nat(2), false),
        (reference("@plan.input.tags"), int(-1), false),
        (json!({"set": [text("a"), text("b")]}), text("b"), true),
        (json!({"set": [text("a"), text("b")]}), text("c"), false),
    ];
    for (container, key, expected) in cases {
        let json = op("has", &[container, key]);
        assert_eq!(ok(&json), Value::Bool(expected), "{json}");
    }
}

#[test]

fn has_on_a_scalar_is_type_mismatch() {
    assert_eq!(code(&op("has", &[nat(3), text("x")])), "type_mismatch");
    assert_eq!(code(&op("has", &[text("abc"), text("a")])), "type_mismatch");
    assert_eq!(
        code(&op("has", &[reference("@plan.input"), nat(1)])),
        "type_mismatch"
    );
}

// ---------------------------------------------------------------------------------------------
// Comparisons
// ---------------------------------------------------------------------------------------------

#[test]
fn eq_and_ne_compare_canonical_values() {
    let cases = [
        (nat(1), nat(1), true),
        (nat(1), nat(2), false),
        (text("a"), text("a"), true),
        (text("a"), text("A"), false),
        (nat(1), text("1"), false),
        (int(-1), nat(1), false),
        // int and nat are one integer domain.
        (int(1), nat(1), true),
        (dec("1.50"), dec("1.5"), true),
        (
            json!({"record": {"a": nat(1), "b": text("x")}}),
            json!({"record": {"b": text("x"), "a": nat(1)}}),
            true,
        ),
        (
            json!({"set": [nat(2), nat(1), nat(2)]}),
            json!({"set": [nat(1), nat(2)]}),
            true,
        ),
        (
            json!({"list": [nat(2), nat(1)]}),
            json!({"list": [nat(1), nat(2)]}),
            false,
        ),
        (
            json!({"variant": {"tag": "A"}}),
            json!({"variant": {"tag": "B"}}),
            false,
        ),
        (reference("@var:x"), nat(10), true),
    ];
    for (a, b, expected) in cases {
        let eq = op("eq", &[a.clone(), b.clone()]);
        let ne = op("ne", &[a, b]);
        assert_eq!(ok(&eq), Value::Bool(expected), "{eq}");
        assert_eq!(ok(&ne), Value::Bool(!expected), "{ne}");
    }
}

/// Evaluates `lt le gt ge` on `(a, b)` and returns the four booleans.
fn order(a: &Json, b: &Json) -> [bool; 4] {
    ["lt", "le", "gt", "ge"].map(|word| match ok(&op(word, &[a.clone(), b.clone()])) {
        Value::Bool(b) => b,
        other => panic!("{word} gave {other:?}"),
    })
}

const LESS: [bool; 4] = [true, true, false, false];
const EQUAL: [bool; 4] = [false, true, false, true];
const GREATER: [bool; 4] = [false, false, true, true];

#[test]
fn ordering_of_numbers() {
    assert_eq!(order(&nat(1), &nat(2)), LESS);
    assert_eq!(order(&nat(2), &nat(2)), EQUAL);
    assert_eq!(order(&nat(3), &nat(2)), GREATER);
    assert_eq!(order(&int(-5), &int(-4)), LESS);
    // int/nat mixing compares mathematically.
    assert_eq!(order(&int(-1), &nat(0)), LESS);
    assert_eq!(order(&nat(u64::MAX), &int(i64::MAX)), GREATER);
    assert_eq!(order(&int(7), &nat(7)), EQUAL);
    assert_eq!(order(&dec("1.50"), &dec("1.5")), EQUAL);
    assert_eq!(order(&dec("9.99"), &dec("10")), LESS);
    assert_eq!(order(&dec("-2"), &dec("1e-3")), LESS);
}

#[test]
fn ordering_of_times_texts_bytes_and_hashes() {
    assert_eq!(order(&time(5), &time(6)), LESS);
    assert_eq!(order(&dur(6), &dur(5)), GREATER);
    assert_eq!(order(&text("B"), &text("a")), LESS);
    assert_eq!(order(&text("ab"), &text("a")), GREATER);
    assert_eq!(order(&text("same"), &text("same")), EQUAL);
    assert_eq!(order(&bytes("AA=="), &bytes("AQ==")), LESS);
    let low = json!({"hash": format!("sha256:{}", "0".repeat(64))});
    let high = json!({"hash": format!("sha256:{}", "f".repeat(64))});
    assert_eq!(order(&low, &high), LESS);
}

#[test]
fn ordering_across_kinds_is_type_mismatch() {
    let pairs = [
        (text("1"), nat(1)),
        (boolean(false), boolean(true)),
        (time(1), dur(1)),
        (time(1), nat(1)),
        (dec("1"), nat(1)),
        (json!({"list": []}), json!({"list": []})),
        (json!({"null": {}}), json!({"null": {}})),
    ];
    for (a, b) in pairs {
        for word in ["lt", "le", "gt", "ge"] {
            let json = op(word, &[a.clone(), b.clone()]);
            assert_eq!(code(&json), "type_mismatch", "{json}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// and or not
// ---------------------------------------------------------------------------------------------

#[test]
fn boolean_truth_tables() {
    for a in [false, true] {
        assert_eq!(ok(&op("not", &[boolean(a)])), Value::Bool(!a));
        for b in [false, true] {
            assert_eq!(
                ok(&op("and", &[boolean(a), boolean(b)])),
                Value::Bool(a && b)
            );
            assert_eq!(
                ok(&op("or", &[boolean(a), boolean(b)])),
                Value::Bool(a || b)
            );
        }
    }
    assert_eq!(
        ok(&op("and", &[boolean(true), boolean(true), boolean(false)])),
        Value::Bool(false)
    );
    assert_eq!(
        ok(&op("or", &[boolean(false), boolean(false), boolean(true)])),
        Value::Bool(true)
    );
    assert_eq!(
        ok(&op(
            "and",
            &[reference("@var:flag"), op("not", &[boolean(false)])]
        )),
        Value::Bool(true)
    );
}

#[test]
fn and_or_short_circuit() {
    assert_eq!(ok(&op("or", &[boolean(true), boom()])), Value::Bool(true));
    assert_eq!(
        ok(&op("and", &[boolean(false), boom()])),
        Value::Bool(false)
    );
    assert_eq!(
        ok(&op(
            "or",
            &[boolean(false), boolean(true), reference("@var:unbound")]
        )),
        Value::Bool(true)
    );
    // A short circuit also spares the type check of later arguments.
    assert_eq!(ok(&op("or", &[boolean(true), nat(3)])), Value::Bool(true));
    // No short circuit: the error surfaces.
    assert_eq!(
        code(&op("or", &[boolean(false), boom()])),
        "division_by_zero"
    );
    assert_eq!(
        code(&op("and", &[boolean(true), boom()])),
        "division_by_zero"
    );
    assert_eq!(
        code(&op("and", &[boolean(true), reference("@var:unbound")])),
        "missing_ref"
    );
}

#[test]
fn boolean_ops_reject_non_booleans() {
    assert_eq!(code(&op("not", &[nat(0)])), "type_mismatch");
    assert_eq!(code(&op("not", &[text("true")])), "type_mismatch");
    assert_eq!(code(&op("and", &[nat(1), boolean(false)])), "type_mismatch");
    assert_eq!(code(&op("or", &[boolean(false), nat(1)])), "type_mismatch");
    assert_eq!(
        code(&op("and", &[boolean(true), json!({"null": {}})])),
        "type_mismatch"
    );
}

// ---------------------------------------------------------------------------------------------
// Text, bytes and collections
// ---------------------------------------------------------------------------------------------

#[test]
fn concat_joins_texts_bytes_and_lists() {
    assert_eq!(
        ok(&op(
            "concat",
            &[text("a"), text("b"), reference("@plan.input.name")]
        )),
        t("abalice")
    );
    assert_eq!(
        ok(&op("concat", &[bytes("AQ=="), bytes("AgM=")])),
        Value::Bytes(vec![1, 2, 3])
    );
    assert_eq!(
        ok(&op(
            "concat",
            &[reference("@plan.input.tags"), json!({"list": [text("a")]})]
        )),
        Value::List(vec![t("a"), t("b"), t("a")])
    );
}

#[test]
fn concat_of_mixed_kinds_is_type_mismatch() {
    assert_eq!(
        code(&op("concat", &[text("a"), bytes("AQ==")])),
        "type_mismatch"
    );
    assert_eq!(code(&op("concat", &[text("a"), nat(1)])), "type_mismatch");
    assert_eq!(code(&op("concat", &[nat(1), nat(2)])), "type_mismatch");
    assert_eq!(
        code(&op("concat", &[json!({"list": []}), text("a")])),
        "type_mismatch"
    );
    assert_eq!(
        code(&op(
            "concat",
            &[json!({"set": [nat(1)]}), json!({"set": [nat(2)]})]
        )),
        "type_mismatch"
    );
}

#[test]
fn starts_with_and_ends_with() {
    let cases = [
        ("starts_with", text("hello world"), text("hello"), true),
        ("starts_with", text("hello world"), text("world"), false),
        ("starts_with", text("abc"), text(""), true),
        ("ends_with", reference("@var:s"), text("world"), true),
        ("ends_with", text("hello world"), text("hello"), false),
        ("starts_with", bytes("AQID"), bytes("AQI="), true),
        ("ends_with", bytes("AQID"), bytes("AgM="), true),
        ("ends_with", bytes("AQID"), bytes("AQI="), false),
    ];
    for (word, a, b, expected) in cases {
        let json = op(word, &[a, b]);
        assert_eq!(ok(&json), Value::Bool(expected), "{json}");
    }
    assert_eq!(
        code(&op("starts_with", &[text("a"), bytes("YQ==")])),
        "type_mismatch"
    );
    assert_eq!(code(&op("ends_with", &[nat(12), nat(2)])), "type_mismatch");
}

#[test]
fn contains_searches_texts_lists_sets_and_map_keys() {
    let cases = [
        (text("hello world"), text("o w"), true),
        (text("hello world"), text("xyz"), false),
        (reference("@plan.input.tags"), text("b"), true),
        (reference("@plan.input.tags"), text("c"), false),
        (json!({"set": [nat(1), nat(2)]}), nat(2), true),
        (json!({"set": [nat(1), nat(2)]}), nat(3), false),
        (reference("@plan.input.counts"), text("y"), true),
        (reference("@plan.input.counts"), text("z"), false),
        // Map membership is on keys, not values.
        (reference("@plan.input.counts"), nat(1), false),
    ];
    for (container, item, expected) in cases {
        let json = op("contains", &[container, item]);
        assert_eq!(ok(&json), Value::Bool(expected), "{json}");
    }
    assert_eq!(code(&op("contains", &[nat(123), nat(2)])), "type_mismatch");
    assert_eq!(
        code(&op("contains", &[text("abc"), nat(1)])),
        "type_mismatch"
    );
    assert_eq!(
        code(&op("contains", &[reference("@plan.input"), text("id")])),
        "type_mismatch"
    );
}

// ---------------------------------------------------------------------------------------------
// hash hash_bytes
// ---------------------------------------------------------------------------------------------

#[test]
fn hash_is_the_value_hash() {
    let input = env().input.unwrap();
    assert_eq!(
        ok(&op("hash", &[reference("@plan.input")])),
        Value::Hash(input.hash())
    );
    // Independently: canonical CBOR of nat 1 is the self-describe tag then 0x01.
    assert_eq!(
        ok(&op("hash", &[nat(1)])),
        Value::Hash(Hash::of(&[0xd9, 0xd9, 0xf7, 0x01]))
    );
    assert_eq!(
        ok(&op("hash", &[text("a")])),
        Value::Hash(Hash::of(&[0xd9, 0xd9, 0xf7, 0x61, b'a']))
    );
    // Sets hash the same whatever order they were written in.
    assert_eq!(
        ok(&op(
            "hash",
            &[json!({"set": [nat(3), nat(1), nat(2), nat(1)]})]
        )),
        ok(&op("hash", &[json!({"set": [nat(1), nat(2), nat(3)]})]))
    );
    assert_ne!(ok(&op("hash", &[nat(1)])), ok(&op("hash", &[nat(2)])));
}

#[test]
fn hash_bytes_hashes_raw_bytes() {
    let abc = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    let expected = Value::Hash(abc.parse().unwrap());
    assert_eq!(ok(&op("hash_bytes", &[text("abc")])), expected);
    assert_eq!(ok(&op("hash_bytes", &[bytes("YWJj")])), expected);
    assert_eq!(
        ok(&op("hash_bytes", &[bytes("")])),
        Value::Hash(Hash::of(b""))
    );
    assert_eq!(code(&op("hash_bytes", &[nat(1)])), "type_mismatch");
    assert_eq!(
        code(&op("hash_bytes", &[json!({"list": []})])),
        "type_mismatch"
    );
}

// ---------------------------------------------------------------------------------------------
// Arithmetic
// ---------------------------------------------------------------------------------------------

#[test]
fn add_of_nats_is_nat_and_mixing_gives_int() {
    assert_eq!(ok(&op("add", &[nat(2), nat(3)])), Value::Nat(5));
    assert_eq!(ok(&op("add", &[int(2), int(-3)])), Value::Int(-1));
    assert_eq!(ok(&op("add", &[int(-5), nat(3)])), Value::Int(-2));
    assert_eq!(ok(&op("add", &[nat(3), int(4)])), Value::Int(7));
    assert_eq!(
        ok(&op("add", &[nat(1), nat(2), nat(3), reference("@var:x")])),
        Value::Nat(16)
    );
    assert_eq!(ok(&op("add", &[nat(1), nat(2), int(3)])), Value::Int(6));
}

#[test]
fn add_overflows() {
    assert_eq!(code(&op("add", &[nat(u64::MAX), nat(1)])), "overflow");
    assert_eq!(code(&op("add", &[int(i64::MAX), int(1)])), "overflow");
    assert_eq!(code(&op("add", &[int(i64::MIN), int(-1)])), "overflow");
    // Mixed int/nat results are ints, so they must fit i64.
    assert_eq!(code(&op("add", &[int(0), nat(u64::MAX)])), "overflow");
    assert_eq!(
        ok(&op("add", &[nat(u64::MAX - 1), nat(1)])),
        Value::Nat(u64::MAX)
    );
    assert_eq!(
        ok(&op("add", &[int(i64::MAX - 1), int(1)])),
        Value::Int(i64::MAX)
    );
    // Overflow in the middle of a chain is reported even if later terms would bring it back.
    assert_eq!(
        code(&op("add", &[nat(u64::MAX), nat(1), int(-5)])),
        "overflow"
    );
}

#[test]
fn sub_of_numbers() {
    assert_eq!(ok(&op("sub", &[nat(5), nat(3)])), Value::Nat(2));
    assert_eq!(ok(&op("sub", &[nat(3), nat(3)])), Value::Nat(0));
    assert_eq!(ok(&op("sub", &[int(3), int(5)])), Value::Int(-2));
    assert_eq!(ok(&op("sub", &[nat(3), int(5)])), Value::Int(-2));
    assert_eq!(ok(&op("sub", &[int(-3), nat(5)])), Value::Int(-8));
    // A nat never goes negative.
    assert_eq!(code(&op("sub", &[nat(3), nat(5)])), "overflow");
    assert_eq!(code(&op("sub", &[int(i64::MIN), int(1)])), "overflow");
    assert_eq!(code(&op("sub", &[int(i64::MAX), int(-1)])), "overflow");
}

#[test]
fn mul_of_numbers() {
    assert_eq!(ok(&op("mul", &[nat(6), nat(7)])), Value::Nat(42));
    assert_eq!(ok(&op("mul", &[int(-6), nat(7)])), Value::Int(-42));
    assert_eq!(ok(&op("mul", &[nat(2), nat(3), nat(4)])), Value::Nat(24));
    assert_eq!(code(&op("mul", &[nat(u64::MAX), nat(2)])), "overflow");
    assert_eq!(code(&op("mul", &[nat(1 << 32), nat(1 << 32)])), "overflow");
    assert_eq!(code(&op("mul", &[int(i64::MAX), int(2)])), "overflow");
    assert_eq!(code(&op("mul", &[int(i64::MIN), int(-1)])), "overflow");
    assert_eq!(
        ok(&op("mul", &[int(i64::MIN), int(1)])),
        Value::Int(i64::MIN)
    );
}

#[test]
fn div_and_mod_of_numbers() {
    assert_eq!(ok(&op("div", &[nat(7), nat(2)])), Value::Nat(3));
    assert_eq!(ok(&op("mod", &[nat(7), nat(3)])), Value::Nat(1));
    // Truncating division; the remainder takes the dividend's sign.
    assert_eq!(ok(&op("div", &[int(-7), int(2)])), Value::Int(-3));
    assert_eq!(ok(&op("mod", &[int(-7), int(3)])), Value::Int(-1));
    assert_eq!(ok(&op("mod", &[int(7), int(-3)])), Value::Int(1));
    assert_eq!(ok(&op("div", &[int(-8), nat(2)])), Value::Int(-4));
    assert_eq!(code(&op("div", &[int(i64::MIN), int(-1)])), "overflow");
    assert_eq!(ok(&op("mod", &[int(i64::MIN), int(-1)])), Value::Int(0));
}

#[test]
fn division_by_zero() {
    for word in ["div", "mod"] {
        for (a, b) in [
            (nat(1), nat(0)),
            (int(-1), int(0)),
            (int(5), nat(0)),
            (nat(0), int(0)),
        ] {
            let json = op(word, &[a, b]);
            let error = run_in(&json, &env()).unwrap_err();
            assert_eq!(error.code, "division_by_zero", "{json}");
            assert!(error.message.contains(word), "{}", error.message);
        }
    }
    assert_eq!(code(&op("div", &[dur(10), nat(0)])), "division_by_zero");
    assert_eq!(code(&op("mod", &[dur(10), dur(0)])), "division_by_zero");
}

#[test]
fn time_and_duration_arithmetic() {
    assert_eq!(ok(&op("add", &[time(1000), dur(500)])), Value::Time(1500));
    assert_eq!(ok(&op("add", &[dur(500), time(1000)])), Value::Time(1500));
    assert_eq!(ok(&op("sub", &[time(1000), dur(400)])), Value::Time(600));
    assert_eq!(
        ok(&op("sub", &[time(1000), time(400)])),
        Value::Duration(600)
    );
    assert_eq!(ok(&op("sub", &[time(400), time(400)])), Value::Duration(0));
    assert_eq!(ok(&op("add", &[dur(1), dur(2)])), Value::Duration(3));
    assert_eq!(ok(&op("sub", &[dur(5), dur(2)])), Value::Duration(3));
    assert_eq!(ok(&op("mod", &[dur(7), dur(3)])), Value::Duration(1));
    assert_eq!(ok(&op("mul", &[dur(7), nat(3)])), Value::Duration(21));
    assert_eq!(ok(&op("div", &[dur(7), nat(2)])), Value::Duration(3));
    assert_eq!(ok(&op("add", &[time(1), dur(2), dur(3)])), Value::Time(6));
}

#[test]
fn time_arithmetic_out_of_range_is_overflow() {
    assert_eq!(code(&op("sub", &[time(400), time(1000)])), "overflow");
    assert_eq!(code(&op("sub", &[time(400), dur(1000)])), "overflow");
    assert_eq!(code(&op("sub", &[dur(1), dur(2)])), "overflow");
    assert_eq!(code(&op("add", &[time(u64::MAX), dur(1)])), "overflow");
    assert_eq!(code(&op("add", &[dur(1), time(u64::MAX)])), "overflow");
    assert_eq!(code(&op("mul", &[dur(u64::MAX), nat(2)])), "overflow");
}

#[test]
fn meaningless_arithmetic_is_type_mismatch() {
    let cases = [
        op("add", &[time(1), time(2)]),
        op("sub", &[dur(1), time(2)]),
        op("add", &[time(1), nat(2)]),
        op("mul", &[time(1), nat(2)]),
        op("mul", &[dur(1), dur(2)]),
        op("div", &[dur(4), dur(2)]),
        op("mul", &[dur(1), int(2)]),
        op("add", &[text("a"), text("b")]),
        op("add", &[boolean(true), nat(1)]),
        op("sub", &[nat(1), json!({"null": {}})]),
        op("mod", &[time(7), dur(3)]),
        op("add", &[nat(1), text("1")]),
    ];
    for json in cases {
        assert_eq!(code(&json), "type_mismatch", "{json}");
    }
}

#[test]
fn errors_in_arguments_propagate() {
    assert_eq!(
        code(&op("add", &[nat(1), op("len", &[nat(1)])])),
        "type_mismatch"
    );
    assert_eq!(code(&op("eq", &[boom(), nat(1)])), "division_by_zero");
    assert_eq!(
        code(&op("not", &[op("eq", &[reference("@var:nope"), nat(1)])])),
        "missing_ref"
    );
}

// ---------------------------------------------------------------------------------------------
// Constructors
// ---------------------------------------------------------------------------------------------

#[test]
fn record_constructor_evaluates_fields() {
    let json = json!({"record": {
        "id": reference("@plan.input.id"),
        "next": op("add", &[reference("@var:x"), nat(1)]),
        "note": text("n"),
    }});
    assert_eq!(
        ok(&json),
        Value::record([
            ("id", Value::Nat(7)),
            ("next", Value::Nat(11)),
            ("note", t("n")),
        ])
    );
    assert_eq!(ok(&json!({"record": {}})), Value::Record(BTreeMap::new()));
}

#[test]
fn list_constructor_keeps_order_and_repeats() {
    assert_eq!(
        ok(&json!({"list": [nat(3), nat(1), nat(3), reference("@var:x")]})),
        Value::List(vec![
            Value::Nat(3),
            Value::Nat(1),
            Value::Nat(3),
            Value::Nat(10)
        ])
    );
    assert_eq!(ok(&json!({"list": []})), Value::List(vec![]));
}

#[test]
fn set_constructor_sorts_and_dedupes() {
    assert_eq!(
        ok(&json!({"set": [nat(3), nat(1), nat(3), nat(2), reference("@var:x")]})),
        Value::Set(vec![
            Value::Nat(1),
            Value::Nat(2),
            Value::Nat(3),
            Value::Nat(10)
        ])
    );
    // Canonical order: by encoded bytes, so shorter texts first.
    assert_eq!(
        ok(&json!({"set": [text("b"), text("aa"), text("a"), text("b")]})),
        Value::Set(vec![t("a"), t("b"), t("aa")])
    );
    // Non-negative ints encode before negative ones (major type 0 < 1).
    assert_eq!(
        ok(&json!({"set": [int(-1), int(1), int(0)]})),
        Value::Set(vec![Value::Int(0), Value::Int(1), Value::Int(-1)])
    );
    // Int 1 and nat 1 are the same canonical value.
    match ok(&json!({"set": [int(1), nat(1)]})) {
        Value::Set(items) => assert_eq!(items.len(), 1),
        other => panic!("expected a set, got {other:?}"),
    }
}

#[test]
fn map_constructor_sorts_by_key() {
    let json = json!({"map": [
        {"key": text("bb"), "value": nat(2)},
        {"key": text("a"), "value": nat(1)},
        {"key": text("c"), "value": reference("@var:x")},
    ]});
    assert_eq!(
        ok(&json),
        Value::Map(vec![
            (t("a"), Value::Nat(1)),
            (t("c"), Value::Nat(10)),
            (t("bb"), Value::Nat(2)),
        ])
    );
    assert_eq!(ok(&json!({"map": []})), Value::Map(vec![]));
}

#[test]
fn map_constructor_with_a_repeated_key_is_duplicate_key() {
    let json = json!({"map": [
        {"key": text("a"), "value": nat(1)},
        {"key": text("b"), "value": nat(2)},
        {"key": text("a"), "value": nat(3)},
    ]});
    let error = run_in(&json, &env()).unwrap_err();
    assert_eq!(error.code, "duplicate_key");
    assert!(error.message.contains('a'), "{}", error.message);
    // Keys computed by references collide too.
    let json = json!({"map": [
        {"key": nat(10), "value": nat(1)},
        {"key": reference("@var:x"), "value": nat(2)},
    ]});
    assert_eq!(code(&json), "duplicate_key");
}

#[test]
fn variant_constructor() {
    assert_eq!(
        ok(&json!({"variant": {"tag": "Start", "value": {"record": {"n": reference("@var:x")}}}})),
        Value::variant("Start", Some(Value::record([("n", Value::Nat(10))])))
    );
    assert_eq!(
        ok(&json!({"variant": {"tag": "Done"}})),
        Value::variant("Done", None)
    );
}

#[test]
fn errors_inside_constructors_propagate() {
    assert_eq!(code(&json!({"record": {"a": boom()}})), "division_by_zero");
    assert_eq!(
        code(&json!({"list": [nat(1), reference("@var:nope")]})),
        "missing_ref"
    );
    assert_eq!(
        code(&json!({"set": [op("add", &[nat(u64::MAX), nat(1)])]})),
        "overflow"
    );
    assert_eq!(
        code(&json!({"map": [{"key": text("k"), "value": op("not", &[nat(1)])}]})),
        "type_mismatch"
    );
    assert_eq!(
        code(
            &json!({"variant": {"tag": "A", "value": op("get", &[reference("@plan.input.tags"), nat(9)])}})
        ),
        "index_out_of_range"
    );
}

// ---------------------------------------------------------------------------------------------
// eval_typed
// ---------------------------------------------------------------------------------------------

fn schemas() -> BTreeMap<Name, TypeExpr> {
    let mut schemas = BTreeMap::new();
    schemas.insert(
        Name::parse("demo/Req@1").unwrap(),
        TypeExpr::from_json(
            &json!({"record": {
                "method": {"text": {}},
                "retries": {"option": {"nat": {}}},
            }}),
            "$",
        )
        .unwrap(),
    );
    schemas
}

fn ty(json: Json) -> TypeExpr {
    TypeExpr::from_json(&json, "$").unwrap()
}

fn typed(item: &Json, type_json: Json) -> Result<Value, EvalError> {
    let item = ExprOrValue::from_json(item, "$").unwrap();
    eval_typed(&item, &ty(type_json), &env(), &schemas())
}

#[test]
fn eval_typed_reads_plain_literals_through_the_type() {
    let item = ExprOrValue::from_json(&json!({"method": "GET"}), "$").unwrap();
    assert!(matches!(item, ExprOrValue::Literal(_)));
    let value = eval_typed(&item, &ty(json!({"ref": "demo/Req@1"})), &env(), &schemas()).unwrap();
    assert_eq!(
        value,
        Value::record([("method", t("GET")), ("retries", Value::Null)])
    );
    assert_eq!(
        typed(
            &json!({"method": "PUT", "retries": 2}),
            json!({"ref": "demo/Req@1"})
        )
        .unwrap(),
        Value::record([("method", t("PUT")), ("retries", Value::Nat(2))])
    );
    assert_eq!(typed(&json!(3), json!({"int": {}})).unwrap(), Value::Int(3));
    // A literal may also be written in the tagged lens.
    let tagged = ExprOrValue::Literal(json!({"nat": 3}));
    assert_eq!(
        eval_typed(&tagged, &ty(json!({"nat": {}})), &env(), &schemas()).unwrap(),
        Value::Nat(3)
    );
    assert_eq!(
        typed(&json!([3, 1, 3]), json!({"set": {"nat": {}}})).unwrap(),
        Value::Set(vec![Value::Nat(1), Value::Nat(3)])
    );
}

#[test]
fn eval_typed_rejects_literals_that_do_not_fit() {
    for (literal, type_json) in [
        (json!({"method": 3}), json!({"ref": "demo/Req@1"})),
        (
            json!({"method": "GET", "extra": 1}),
            json!({"ref": "demo/Req@1"}),
        ),
        (json!({}), json!({"ref": "demo/Req@1"})),
        (json!(-1), json!({"nat": {}})),
        (json!("x"), json!({"bool": {}})),
        (json!(1), json!({"ref": "demo/Missing@1"})),
    ] {
        let error = typed(&literal, type_json).unwrap_err();
        assert_eq!(error.code, "invalid_value", "{literal}");
    }
}

#[test]
fn eval_typed_normalizes_expression_results() {
    assert_eq!(typed(&nat(3), json!({"int": {}})).unwrap(), Value::Int(3));
    assert_eq!(
        typed(&reference("@var:x"), json!({"option": {"nat": {}}})).unwrap(),
        Value::Nat(10)
    );
    assert_eq!(
        typed(
            &json!({"list": [nat(2), nat(1), nat(2)]}),
            json!({"set": {"nat": {}}})
        )
        .unwrap(),
        Value::Set(vec![Value::Nat(1), Value::Nat(2)])
    );
    assert_eq!(
        typed(
            &json!({"record": {"method": text("GET")}}),
            json!({"ref": "demo/Req@1"})
        )
        .unwrap(),
        Value::record([("method", t("GET")), ("retries", Value::Null)])
    );
    assert_eq!(typed(&nat(5), json!({"time": {}})).unwrap(), Value::Time(5));
}

#[test]
fn eval_typed_reports_type_and_evaluation_errors() {
    assert_eq!(
        typed(&int(-1), json!({"nat": {}})).unwrap_err().code,
        "invalid_value"
    );
    assert_eq!(
        typed(&text("x"), json!({"nat": {}})).unwrap_err().code,
        "invalid_value"
    );
    assert_eq!(
        typed(
            &json!({"record": {"method": nat(1)}}),
            json!({"ref": "demo/Req@1"})
        )
        .unwrap_err()
        .code,
        "invalid_value"
    );
    // An evaluation error keeps its own code.
    assert_eq!(
        typed(&boom(), json!({"nat": {}})).unwrap_err().code,
        "division_by_zero"
    );
    assert_eq!(
        typed(&reference("@var:nope"), json!({"nat": {}}))
            .unwrap_err()
            .code,
        "missing_ref"
    );
}

#[test]
fn evaluation_is_deterministic() {
    let json = op(
        "hash",
        &[json!({"record": {
            "s": json!({"set": [text("z"), text("a"), reference("@var:s")]}),
            "m": json!({"map": [{"key": nat(2), "value": text("b")}, {"key": nat(1), "value": text("a")}]}),
        }})],
    );
    let first = ok(&json);
    for _ in 0..5 {
        assert_eq!(ok(&json), first);
    }
}

#[test]
fn record_constructor_checks_field_names() {
    let error = parse_err(&json!({"record": {"a.b": nat(1)}}));
    assert_eq!(error.code, "bad_field_name");
    assert_eq!(error.path, "$.record[\"a.b\"]");
    let error = parse_err(&json!({"record": {"$tag": nat(1)}}));
    assert_eq!(
        (error.code, error.path.as_str()),
        ("bad_field_name", "$.record.$tag")
    );
}

#[test]
fn variant_constructor_checks_its_tag() {
    let error = parse_err(&json!({"variant": {"tag": 3}}));
    assert_eq!(
        (error.code, error.path.as_str()),
        ("bad_shape", "$.variant.tag")
    );
    let error = parse_err(&json!({"variant": {"value": nat(1)}}));
    assert_eq!(
        (error.code, error.path.as_str()),
        ("missing_field", "$.variant")
    );
}

#[test]

fn variant_constructor_rejects_bad_arm_names() {
    for tag in ["", "a.b", "$value", "bad tag"] {
        let error = parse_err(&json!({"variant": {"tag": tag}}));
        assert_eq!(error.code, "bad_field_name", "{tag:?}");
        assert_eq!(error.path, "$.variant.tag", "{tag:?}");
    }
}

#[test]

fn concat_beyond_the_value_size_limit_fails() {
    let half = "x".repeat(worldline_air::value::BYTES_LEN_MAX / 2 + 1);
    let mut env = env();
    env.vars.insert("big".to_owned(), Value::Text(half));
    let result = run_in(
        &op("concat", &[reference("@var:big"), reference("@var:big")]),
        &env,
    );
    assert!(
        result.is_err(),
        "a {}-byte text was built",
        worldline_air::value::BYTES_LEN_MAX + 2
    );
}
