//! Plan expressions (AIR.md §6): a small, total, deterministic language over typed values.
//!
//! Forms: constants in the tagged lens (`{"nat": 3}`), constructors (`record`, `list`, `set`,
//! `map`, `variant`), references (`{"ref": "@var:x.field"}`) and operations
//! (`{"op": "add", "args": [...]}`). [`eval::eval`] evaluates them; every failure is an
//! [`eval::EvalError`] with a code, never a panic.

pub mod eval;

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json, json};

use crate::error::AirError;
use crate::json::{join_index, join_key, kind_of};
use crate::reader::{Obj, text};
use crate::types::check_field_name;
use crate::value::Value;

/// An expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// A constant, written in the tagged lens.
    Const(Value),
    /// A reference into the plan's environment.
    Ref(ExprRef),
    /// An operation on evaluated arguments.
    Op {
        /// Which operation.
        op: ExprOp,
        /// Its arguments.
        args: Vec<Expr>,
    },
    /// `{"record": {field: expr}}`.
    Record(BTreeMap<String, Expr>),
    /// `{"list": [expr]}`.
    List(Vec<Expr>),
    /// `{"set": [expr]}`.
    Set(Vec<Expr>),
    /// `{"map": [{"key": expr, "value": expr}]}`.
    Map(Vec<(Expr, Expr)>),
    /// `{"variant": {"tag": arm, "value"?: expr}}`.
    Variant {
        /// Arm name.
        tag: String,
        /// The arm's value; absent for unit arms.
        value: Option<Box<Expr>>,
    },
}

/// Where a reference starts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RefRoot {
    /// `@plan.input`: the instance's input.
    PlanInput,
    /// `@var:NAME`: a bound variable (or local).
    Var(String),
    /// `@step:ID`: the value a step produced.
    Step(String),
    /// `@event`: the event being matched (only in `await_event.where`).
    Event,
}

/// A parsed reference: its root and the field path after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprRef {
    /// The root.
    pub root: RefRoot,
    /// Path segments after the root (`.a.b` → `["a", "b"]`).
    pub path: Vec<String>,
    /// The reference as written.
    pub text: String,
}

macro_rules! ops {
    ($($variant:ident => $word:literal, $arity:expr;)*) => {
        /// The operations of AIR.md §6.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ExprOp { $(#[doc = concat!("`", $word, "`")] $variant,)* }

        impl ExprOp {
            /// Every operation, in the order AIR.md lists them.
            pub const ALL: &'static [ExprOp] = &[$(ExprOp::$variant,)*];

            /// The word that names the operation in JSON.
            pub fn word(self) -> &'static str {
                match self { $(ExprOp::$variant => $word,)* }
            }

            /// How many arguments it takes.
            pub fn arity(self) -> Arity {
                match self { $(ExprOp::$variant => $arity,)* }
            }
        }
    };
}

/// How many arguments an operation takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    /// Exactly this many.
    Exactly(usize),
    /// Two or more.
    AtLeastTwo,
}

ops! {
    Len => "len", Arity::Exactly(1);
    Get => "get", Arity::Exactly(2);
    Has => "has", Arity::Exactly(2);
    Eq => "eq", Arity::Exactly(2);
    Ne => "ne", Arity::Exactly(2);
    Lt => "lt", Arity::Exactly(2);
    Le => "le", Arity::Exactly(2);
    Gt => "gt", Arity::Exactly(2);
    Ge => "ge", Arity::Exactly(2);
    And => "and", Arity::AtLeastTwo;
    Or => "or", Arity::AtLeastTwo;
    Not => "not", Arity::Exactly(1);
    Concat => "concat", Arity::AtLeastTwo;
    StartsWith => "starts_with", Arity::Exactly(2);
    EndsWith => "ends_with", Arity::Exactly(2);
    Contains => "contains", Arity::Exactly(2);
    Hash => "hash", Arity::Exactly(1);
    HashBytes => "hash_bytes", Arity::Exactly(1);
    Add => "add", Arity::AtLeastTwo;
    Sub => "sub", Arity::Exactly(2);
    Mul => "mul", Arity::AtLeastTwo;
    Div => "div", Arity::Exactly(2);
    Mod => "mod", Arity::Exactly(2);
}

/// Tagged-lens constant keys: expressions on their own (the composite keys are constructors).
use crate::value::tagged::SCALAR_KEYS as CONST_KEYS;

/// Keys that make a JSON object an expression rather than a plain literal.
const EXPR_KEYS: [&str; 7] = ["op", "ref", "record", "list", "set", "map", "variant"];

impl Expr {
    /// True when `json` has the outward shape of an expression.
    pub fn looks_like(json: &Json) -> bool {
        match json.as_object() {
            Some(map) if map.contains_key("op") => true,
            Some(map) if map.len() == 1 => map
                .keys()
                .all(|k| EXPR_KEYS.contains(&k.as_str()) || CONST_KEYS.contains(&k.as_str())),
            _ => false,
        }
    }

    /// Parses an expression; `path` locates `json` for errors.
    pub fn from_json(json: &Json, path: &str) -> Result<Expr, AirError> {
        let object = json.as_object().ok_or_else(|| {
            AirError::new(
                path,
                "bad_expr",
                format!(
                    "expected an expression (an object), found {}",
                    kind_of(json)
                ),
            )
        })?;
        if object.contains_key("op") {
            return op(json, path);
        }
        if object.len() != 1 {
            return Err(AirError::new(
                path,
                "bad_expr",
                "an expression is a constant like {\"nat\": 3}, a constructor, a {\"ref\": …} or an {\"op\": …, \"args\": […]}",
            ));
        }
        let Some((key, body)) = object.iter().next() else {
            return Err(AirError::new(path, "bad_expr", "empty expression"));
        };
        let body_path = join_key(path, key);
        match key.as_str() {
            "ref" => Ok(Expr::Ref(ExprRef::parse(
                text(body, &body_path)?,
                &body_path,
            )?)),
            "record" => {
                let fields = body.as_object().ok_or_else(|| {
                    AirError::new(
                        &body_path,
                        "bad_expr",
                        "`record` takes an object of field → expression",
                    )
                })?;
                let mut out = BTreeMap::new();
                for (field, item) in fields {
                    let field_path = join_key(&body_path, field);
                    check_field_name(field, &field_path)?;
                    out.insert(field.clone(), Expr::from_json(item, &field_path)?);
                }
                Ok(Expr::Record(out))
            }
            "list" | "set" => {
                let items = body.as_array().ok_or_else(|| {
                    AirError::new(
                        &body_path,
                        "bad_expr",
                        format!("`{key}` takes an array of expressions"),
                    )
                })?;
                let exprs = items
                    .iter()
                    .enumerate()
                    .map(|(index, item)| Expr::from_json(item, &join_index(&body_path, index)))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(if key == "set" {
                    Expr::Set(exprs)
                } else {
                    Expr::List(exprs)
                })
            }
            "map" => {
                let entries = body.as_array().ok_or_else(|| {
                    AirError::new(
                        &body_path,
                        "bad_expr",
                        "`map` takes an array of {\"key\": …, \"value\": …}",
                    )
                })?;
                let mut out = Vec::with_capacity(entries.len());
                for (index, entry) in entries.iter().enumerate() {
                    let mut reader =
                        Obj::new(entry, &join_index(&body_path, index), "a map entry")?;
                    let key_expr = reader.req("key", Expr::from_json)?;
                    let value_expr = reader.req("value", Expr::from_json)?;
                    reader.finish()?;
                    out.push((key_expr, value_expr));
                }
                Ok(Expr::Map(out))
            }
            "variant" => {
                let mut reader = Obj::new(body, &body_path, "a variant")?;
                let tag = reader.req("tag", |j, p| {
                    let tag = text(j, p)?;
                    check_field_name(tag, p)?;
                    Ok(tag.to_owned())
                })?;
                let value = reader.opt("value", Expr::from_json)?.map(Box::new);
                reader.finish()?;
                Ok(Expr::Variant { tag, value })
            }
            constant if CONST_KEYS.contains(&constant) => Value::from_tagged_json(json)
                .map(Expr::Const)
                .map_err(|e| AirError::new(e.path.replacen('$', path, 1), "bad_expr", e.message)),
            other => Err(AirError::new(
                path,
                "bad_expr",
                format!("unknown expression form `{other}`"),
            )),
        }
    }

    /// The canonical JSON form (what is hashed).
    pub fn to_json(&self) -> Json {
        match self {
            Expr::Const(value) => value.to_tagged_json(),
            Expr::Ref(reference) => json!({ "ref": reference.text }),
            Expr::Op { op, args } => {
                json!({ "op": op.word(), "args": args.iter().map(Expr::to_json).collect::<Vec<_>>() })
            }
            Expr::Record(fields) => {
                json!({ "record": Json::Object(fields.iter().map(|(k, e)| (k.clone(), e.to_json())).collect::<Map<_, _>>()) })
            }
            Expr::List(items) => {
                json!({ "list": items.iter().map(Expr::to_json).collect::<Vec<_>>() })
            }
            Expr::Set(items) => {
                json!({ "set": items.iter().map(Expr::to_json).collect::<Vec<_>>() })
            }
            Expr::Map(entries) => {
                json!({ "map": entries.iter().map(|(k, v)| json!({"key": k.to_json(), "value": v.to_json()})).collect::<Vec<_>>() })
            }
            Expr::Variant { tag, value: None } => json!({ "variant": { "tag": tag } }),
            Expr::Variant {
                tag,
                value: Some(value),
            } => json!({ "variant": { "tag": tag, "value": value.to_json() } }),
        }
    }

    /// Calls `visit` on every reference in the expression, with its JSON path.
    pub fn visit_refs(&self, path: &str, visit: &mut dyn FnMut(&ExprRef, &str)) {
        match self {
            Expr::Const(_) => {}
            Expr::Ref(reference) => visit(reference, &join_key(path, "ref")),
            Expr::Op { args, .. } => {
                let args_path = join_key(path, "args");
                for (index, arg) in args.iter().enumerate() {
                    arg.visit_refs(&join_index(&args_path, index), visit);
                }
            }
            Expr::Record(fields) => {
                let record_path = join_key(path, "record");
                for (field, item) in fields {
                    item.visit_refs(&join_key(&record_path, field), visit);
                }
            }
            Expr::List(items) | Expr::Set(items) => {
                let key = if matches!(self, Expr::Set(_)) {
                    "set"
                } else {
                    "list"
                };
                let items_path = join_key(path, key);
                for (index, item) in items.iter().enumerate() {
                    item.visit_refs(&join_index(&items_path, index), visit);
                }
            }
            Expr::Map(entries) => {
                let map_path = join_key(path, "map");
                for (index, (key, value)) in entries.iter().enumerate() {
                    let entry_path = join_index(&map_path, index);
                    key.visit_refs(&join_key(&entry_path, "key"), visit);
                    value.visit_refs(&join_key(&entry_path, "value"), visit);
                }
            }
            Expr::Variant { value, .. } => {
                if let Some(value) = value {
                    value.visit_refs(&join_key(&join_key(path, "variant"), "value"), visit);
                }
            }
        }
    }
}

fn op(json: &Json, path: &str) -> Result<Expr, AirError> {
    let mut reader = Obj::new(json, path, "an operation")?;
    let word = reader.req("op", |j, p| text(j, p).map(str::to_owned))?;
    let op_path = join_key(path, "op");
    let op = ExprOp::ALL
        .iter()
        .copied()
        .find(|op| op.word() == word)
        .ok_or_else(|| {
            let words: Vec<&str> = ExprOp::ALL.iter().map(|op| op.word()).collect();
            AirError::new(
                &op_path,
                "bad_expr",
                format!(
                    "unknown operation `{word}`; expected one of {}",
                    words.join(" ")
                ),
            )
        })?;
    let args = reader.req("args", |j, p| crate::reader::list(j, p, Expr::from_json))?;
    reader.finish()?;
    let arity_ok = match op.arity() {
        Arity::Exactly(n) => args.len() == n,
        Arity::AtLeastTwo => args.len() >= 2,
    };
    if !arity_ok {
        let wanted = match op.arity() {
            Arity::Exactly(1) => "exactly 1 argument".to_owned(),
            Arity::Exactly(n) => format!("exactly {n} arguments"),
            Arity::AtLeastTwo => "2 or more arguments".to_owned(),
        };
        return Err(AirError::new(
            join_key(path, "args"),
            "bad_arity",
            format!("`{word}` takes {wanted}, got {}", args.len()),
        ));
    }
    Ok(Expr::Op { op, args })
}

impl ExprRef {
    /// Parses `@plan.input[.path]`, `@var:NAME[.path]`, `@step:ID[.path]` or `@event[.path]`.
    ///
    /// A variable or step name ends at the first `.`; the rest is a field path.
    pub fn parse(text: &str, path: &str) -> Result<ExprRef, AirError> {
        let bad = |why: &str| {
            AirError::new(
                path,
                "bad_ref",
                format!("`{text}` is not a reference: {why}"),
            )
        };
        let (root, rest) = if let Some(rest) = text.strip_prefix("@plan.input") {
            (RefRoot::PlanInput, rest)
        } else if let Some(rest) = text.strip_prefix("@event") {
            (RefRoot::Event, rest)
        } else if let Some(rest) = text
            .strip_prefix("@var:")
            .or_else(|| text.strip_prefix("@step:"))
        {
            let (name, rest) = rest.split_at(rest.find('.').unwrap_or(rest.len()));
            crate::name::Ident::parse(name).map_err(|e| bad(&e.to_string()))?;
            let root = if text.starts_with("@var:") {
                RefRoot::Var(name.to_owned())
            } else {
                RefRoot::Step(name.to_owned())
            };
            (root, rest)
        } else {
            return Err(bad("expected @plan.input, @var:NAME, @step:ID or @event"));
        };
        let mut segments = Vec::new();
        if !rest.is_empty() {
            let tail = rest
                .strip_prefix('.')
                .ok_or_else(|| bad("a path continues with `.field`"))?;
            for segment in tail.split('.') {
                let ok = !segment.is_empty()
                    && segment
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'$');
                if !ok {
                    return Err(bad(
                        "path segments are field names, arm markers ($tag, $value) or list indexes",
                    ));
                }
                segments.push(segment.to_owned());
            }
        }
        Ok(ExprRef {
            root,
            path: segments,
            text: text.to_owned(),
        })
    }
}

/// Either an expression or a plain-lens literal read through the surrounding schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExprOrValue {
    /// An expression.
    Expr(Expr),
    /// A plain JSON literal, typed by where it is used (event schema, params schema …).
    Literal(Json),
}

impl ExprOrValue {
    /// An object shaped like an expression is one (and its errors are reported); anything else
    /// is a literal.
    pub fn from_json(json: &Json, path: &str) -> Result<ExprOrValue, AirError> {
        if Expr::looks_like(json) {
            Expr::from_json(json, path).map(ExprOrValue::Expr)
        } else {
            Ok(ExprOrValue::Literal(json.clone()))
        }
    }

    /// The canonical JSON form.
    pub fn to_json(&self) -> Json {
        match self {
            ExprOrValue::Expr(expr) => expr.to_json(),
            ExprOrValue::Literal(json) => json.clone(),
        }
    }
}

impl serde::Serialize for Expr {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

impl serde::Serialize for ExprOrValue {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}
