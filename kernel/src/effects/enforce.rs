//! The native enforcers of the built-in caps `http.out` and `llm.basic`.
//!
//! An enforcer sees a grant's params (normalized against the cap's schema) and an intent's params
//! (normalized against the effect's `params_schema`) and either accepts or returns a [`Denial`]
//! with a machine-readable code. Enforcers are pure and deterministic: no I/O, no clock, no DNS.
//!
//! # Common rule
//!
//! A restricting field that is absent, none, or an empty set leaves that aspect unrestricted
//! (AIR.md §7, and what AgentOS does). A non-empty set restricts to its members.
//!
//! # `sys/http.out@1` (for `http.request`)
//!
//! The intent's `url` is parsed with the `url` crate (WHATWG URL parsing: the same parser the
//! HTTP adapter uses, so the enforcer judges exactly the URL that will be fetched). Checks run in
//! this order, the first failure is the denial:
//!
//! 1. `url_invalid`: the URL does not parse as an absolute URL with a host.
//! 2. `scheme_not_allowed`: the scheme is not `http` or `https` (the only schemes the cap ever
//!    admits, whatever the grant says), or not in `schemes`. Schemes compare ASCII
//!    case-insensitively (the parser lowercases the URL's; grant entries are lowercased).
//! 3. `host_not_allowed`: the host is not in `hosts`. Both sides are parsed as hosts the way the
//!    URL parser does: domains are IDNA-mapped to ASCII (so `Bücher.de` is `xn--bcher-kva.de`)
//!    and lowercased, IPv4 addresses canonicalized, IPv6 addresses compared as addresses (a grant
//!    may write `::1` or `[::1]`). Matching is exact: no wildcards, no subdomains, and
//!    `example.com.` (trailing dot) is a different host from `example.com`. Userinfo in the URL
//!    (`https://user:pw@example.com/`) is not part of the host and is not judged.
//! 4. `method_not_allowed`: the method, ASCII-uppercased, is not in `methods` (uppercased).
//! 5. `port_not_allowed`: the port is not in `ports`. A URL without a port has its scheme's
//!    default (http 80, https 443), so `https://h/` and `https://h:443/` are the same request.
//! 6. `path_not_allowed`: the path matches none of `path_prefixes`. The URL's path is taken as
//!    the parser serializes it: dot segments resolved (`/api/../admin` is `/admin`),
//!    percent-encoding kept as written (never decoded), case-sensitive; query and fragment are
//!    ignored. A prefix matches on a path-segment boundary: `/api` matches `/api` and `/api/x`
//!    but not `/apix`; a prefix ending in `/` (`/api/`) matches everything below it but not
//!    `/api` itself; `/` matches every path. Grant prefixes must start with `/`.
//!
//! # `sys/llm.basic@1` (for `llm.generate`)
//!
//! Checked in this order: `provider_not_allowed` (provider not in `providers`),
//! `model_not_allowed` (model not in `models`), `max_tokens_exceeded` (the intent's
//! `max_tokens` is above the grant's; equal is allowed), `tool_not_allowed` (`tool_choice` is
//! `Tool {name}` and `name` is not in `tools_allow`). Providers, models and tool names compare
//! exactly (case-sensitive): they are identifiers the adapter passes on unchanged.
//!
//! `tools_allow` constrains only a forced tool choice. The tools an intent offers travel as
//! `tool_refs`, content hashes of blobs that a pure enforcer cannot read, so a tool offered
//! through `tool_refs` under `tool_choice` `Auto` or `Required` is not checked here.
//!
//! # Malformed params
//!
//! Params that do not have the schema's shape (possible only if a caller skipped
//! normalization) are denied with `cap_params_invalid` or `effect_params_invalid`, as is a grant
//! entry that cannot match anything meaningful (a host that does not parse, a path prefix not
//! starting with `/`): a grant fails closed.

#[cfg(test)]
#[path = "enforce_tests.rs"]
mod enforce_tests;

use std::collections::BTreeSet;
use std::net::Ipv6Addr;

use url::{Host, Url};
use worldline_air::Value;

/// The machine-readable codes a native enforcer denies with.
pub mod code {
    /// The URL does not parse as an absolute URL with a host.
    pub const URL_INVALID: &str = "url_invalid";
    /// The scheme is not `http`/`https`, or not among the grant's `schemes`.
    pub const SCHEME_NOT_ALLOWED: &str = "scheme_not_allowed";
    /// The host is not among the grant's `hosts`.
    pub const HOST_NOT_ALLOWED: &str = "host_not_allowed";
    /// The method is not among the grant's `methods`.
    pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
    /// The port (explicit or the scheme's default) is not among the grant's `ports`.
    pub const PORT_NOT_ALLOWED: &str = "port_not_allowed";
    /// The path is under none of the grant's `path_prefixes`.
    pub const PATH_NOT_ALLOWED: &str = "path_not_allowed";
    /// The provider is not among the grant's `providers`.
    pub const PROVIDER_NOT_ALLOWED: &str = "provider_not_allowed";
    /// The model is not among the grant's `models`.
    pub const MODEL_NOT_ALLOWED: &str = "model_not_allowed";
    /// The intent asks for more tokens than the grant's `max_tokens`.
    pub const MAX_TOKENS_EXCEEDED: &str = "max_tokens_exceeded";
    /// The forced tool choice is not among the grant's `tools_allow`.
    pub const TOOL_NOT_ALLOWED: &str = "tool_not_allowed";
    /// The grant's params do not have the cap schema's shape, or hold an unusable entry.
    pub const CAP_PARAMS_INVALID: &str = "cap_params_invalid";
    /// The intent's params do not have the effect schema's shape.
    pub const EFFECT_PARAMS_INVALID: &str = "effect_params_invalid";
    /// A native enforcer was asked to judge an effect kind it does not know.
    pub const EFFECT_KIND_MISMATCH: &str = "effect_kind_mismatch";
}

/// The built-in enforcer module of `sys/http.out@1`.
pub const HTTP_OUT_ENFORCER: &str = "sys/CapEnforceHttpOut@1";
/// The built-in enforcer module of `sys/llm.basic@1`.
pub const LLM_BASIC_ENFORCER: &str = "sys/CapEnforceLlmBasic@1";
/// The effect kind [`HTTP_OUT_ENFORCER`] judges.
pub const HTTP_REQUEST_KIND: &str = "http.request";
/// The effect kind [`LLM_BASIC_ENFORCER`] judges.
pub const LLM_GENERATE_KIND: &str = "llm.generate";

/// The schemes the `http.out` cap can ever admit.
const HTTP_SCHEMES: [&str; 2] = ["http", "https"];

/// A denial: a machine-readable code (one of [`code`]) and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Denial {
    /// Machine-readable reason, one of the constants in [`code`].
    pub code: &'static str,
    /// What was refused and why, for people.
    pub message: String,
}

impl Denial {
    /// A denial with `code` and `message`.
    pub fn new(code: &'static str, message: impl Into<String>) -> Denial {
        Denial {
            code,
            message: message.into(),
        }
    }

    /// This denial as the `deny` field of `sys/CapCheckOutput@1`.
    fn to_value(&self) -> Value {
        Value::record([
            ("code", Value::Text(self.code.to_owned())),
            ("message", Value::Text(self.message.clone())),
        ])
    }
}

/// An enforcer's verdict as a `sys/CapCheckOutput@1` value.
pub fn cap_check_output(verdict: &Result<(), Denial>) -> Value {
    let (ok, deny) = match verdict {
        Ok(()) => (true, Value::Null),
        Err(denial) => (false, denial.to_value()),
    };
    Value::record([("constraints_ok", Value::Bool(ok)), ("deny", deny)])
}

/// A native enforcer: grant params and intent params in, a verdict out.
type Enforcer = fn(&Value, &Value) -> Result<(), Denial>;

/// Runs the native enforcer `module` on an intent of `effect_kind`, or returns `None` when
/// `module` is not a native enforcer (the caller then runs it as a pure module).
pub fn enforce_builtin(
    module: &str,
    effect_kind: &str,
    grant_params: &Value,
    effect_params: &Value,
) -> Option<Result<(), Denial>> {
    let (expected_kind, check): (_, Enforcer) = match module {
        HTTP_OUT_ENFORCER => (HTTP_REQUEST_KIND, check_http_out),
        LLM_BASIC_ENFORCER => (LLM_GENERATE_KIND, check_llm_basic),
        _ => return None,
    };
    if effect_kind != expected_kind {
        return Some(Err(Denial::new(
            code::EFFECT_KIND_MISMATCH,
            format!("enforcer {module} judges {expected_kind} intents, not {effect_kind}"),
        )));
    }
    Some(check(grant_params, effect_params))
}

/// Judges a `sys/HttpRequestParams@1` intent against `sys/http.out@1` grant params.
pub fn check_http_out(grant_params: &Value, effect_params: &Value) -> Result<(), Denial> {
    let grant = HttpOutGrant::from_value(grant_params)?;
    let method = required_text(effect_params, "method", Side::Effect)?;
    let url = required_text(effect_params, "url", Side::Effect)?;
    grant.check(method, url)
}

/// Judges a `sys/LlmGenerateParams@1` intent against `sys/llm.basic@1` grant params.
pub fn check_llm_basic(grant_params: &Value, effect_params: &Value) -> Result<(), Denial> {
    let grant = LlmBasicGrant::from_value(grant_params)?;
    let request = LlmGenerateRequest::from_value(effect_params)?;
    grant.check(&request)
}

/// The params of a `sys/http.out@1` grant, decoded and normalized for matching; `None` means
/// unrestricted. Built only by [`HttpOutGrant::from_value`] (or `default()`, which restricts
/// nothing), so every entry is already in the form [`HttpOutGrant::check`] compares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpOutGrant {
    /// Hosts as the URL parser serializes them (`example.com`, `127.0.0.1`, `[::1]`).
    hosts: Option<BTreeSet<String>>,
    /// Lowercase schemes.
    schemes: Option<BTreeSet<String>>,
    /// Uppercase methods.
    methods: Option<BTreeSet<String>>,
    /// Ports.
    ports: Option<BTreeSet<u64>>,
    /// Path prefixes, each starting with `/`.
    path_prefixes: Option<BTreeSet<String>>,
}

impl HttpOutGrant {
    /// Decodes and normalizes `sys/http.out@1` grant params (a record of optional sets).
    pub fn from_value(params: &Value) -> Result<HttpOutGrant, Denial> {
        expect_record(params, Side::Cap)?;
        let hosts = text_set(params, "hosts")?
            .map(|set| {
                set.into_iter()
                    .map(normalize_grant_host)
                    .collect::<Result<_, _>>()
            })
            .transpose()?;
        let schemes = text_set(params, "schemes")?
            .map(|set| set.into_iter().map(|s| s.to_ascii_lowercase()).collect());
        let methods = text_set(params, "methods")?
            .map(|set| set.into_iter().map(|m| m.to_ascii_uppercase()).collect());
        let path_prefixes = text_set(params, "path_prefixes")?
            .map(|set| {
                set.into_iter()
                    .map(checked_prefix)
                    .collect::<Result<_, _>>()
            })
            .transpose()?;
        Ok(HttpOutGrant {
            hosts,
            schemes,
            methods,
            ports: nat_set(params, "ports")?,
            path_prefixes,
        })
    }

    /// Accepts a `method` request to `url`, or says why not (rules in the module docs).
    pub fn check(&self, method: &str, url: &str) -> Result<(), Denial> {
        let parsed = Url::parse(url).map_err(|e| {
            Denial::new(
                code::URL_INVALID,
                format!("{url:?} is not a valid URL: {e}"),
            )
        })?;
        let host = parsed
            .host()
            .ok_or_else(|| Denial::new(code::URL_INVALID, format!("{url:?} has no host")))?;
        let scheme = parsed.scheme();
        if !HTTP_SCHEMES.contains(&scheme) || !allows(&self.schemes, scheme) {
            return Err(not_allowed(code::SCHEME_NOT_ALLOWED, "scheme", scheme));
        }
        let host = host.to_string();
        if !allows(&self.hosts, host.as_str()) {
            return Err(not_allowed(code::HOST_NOT_ALLOWED, "host", &host));
        }
        let method = method.to_ascii_uppercase();
        if !allows(&self.methods, method.as_str()) {
            return Err(not_allowed(code::METHOD_NOT_ALLOWED, "method", &method));
        }
        // http and https always have a known default port; 0 (never granted) is only a guard.
        let port = u64::from(parsed.port_or_known_default().unwrap_or(0));
        if !allows(&self.ports, &port) {
            return Err(not_allowed(
                code::PORT_NOT_ALLOWED,
                "port",
                &port.to_string(),
            ));
        }
        self.check_path(parsed.path())
    }

    fn check_path(&self, path: &str) -> Result<(), Denial> {
        match &self.path_prefixes {
            Some(prefixes) if !prefixes.is_empty() => {
                if prefixes.iter().any(|prefix| path_under(path, prefix)) {
                    Ok(())
                } else {
                    Err(not_allowed(code::PATH_NOT_ALLOWED, "path", path))
                }
            }
            _ => Ok(()),
        }
    }
}

/// Whether `path` is `prefix` or below it, on a path-segment boundary.
fn path_under(path: &str, prefix: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/') || prefix.ends_with('/'),
        None => false,
    }
}

/// A grant host in the form `Url::host` displays: IDNA-mapped lowercase domain, canonical IPv4,
/// bracketed canonical IPv6. A bare IPv6 address (`::1`) is accepted as well as `[::1]`.
fn normalize_grant_host(entry: &str) -> Result<String, Denial> {
    let invalid = |reason: String| {
        Denial::new(
            code::CAP_PARAMS_INVALID,
            format!("grant host {entry:?} is not a host: {reason}"),
        )
    };
    if !entry.starts_with('[') && entry.contains(':') {
        let address: Ipv6Addr = entry.parse().map_err(|e| invalid(format!("{e}")))?;
        return Ok(Host::<String>::Ipv6(address).to_string());
    }
    Host::parse(entry)
        .map(|host| host.to_string())
        .map_err(|e| invalid(e.to_string()))
}

fn checked_prefix(prefix: &str) -> Result<String, Denial> {
    if prefix.starts_with('/') {
        Ok(prefix.to_owned())
    } else {
        Err(Denial::new(
            code::CAP_PARAMS_INVALID,
            format!("grant path prefix {prefix:?} does not start with /"),
        ))
    }
}

/// The params of a `sys/llm.basic@1` grant; a `None` or empty field restricts nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LlmBasicGrant {
    /// Providers an intent may name.
    pub providers: Option<BTreeSet<String>>,
    /// Models an intent may name.
    pub models: Option<BTreeSet<String>>,
    /// The largest `max_tokens` an intent may ask for.
    pub max_tokens: Option<u64>,
    /// Tools an intent may force through `tool_choice` `Tool {name}`.
    pub tools_allow: Option<BTreeSet<String>>,
}

/// The fields of a `sys/LlmGenerateParams@1` intent that `llm.basic` constrains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LlmGenerateRequest<'a> {
    /// The provider the intent names.
    pub provider: &'a str,
    /// The model the intent names.
    pub model: &'a str,
    /// The tokens the intent asks for at most.
    pub max_tokens: u64,
    /// The tool forced by `tool_choice` `Tool {name}`, if any.
    pub forced_tool: Option<&'a str>,
}

impl<'a> LlmGenerateRequest<'a> {
    /// Reads the constrained fields out of `sys/LlmGenerateParams@1` params.
    pub fn from_value(params: &'a Value) -> Result<LlmGenerateRequest<'a>, Denial> {
        expect_record(params, Side::Effect)?;
        let max_tokens = match present(params, "max_tokens") {
            Some(value) => as_nat(value).ok_or_else(|| wrong(Side::Effect, "max_tokens"))?,
            None => return Err(wrong(Side::Effect, "max_tokens")),
        };
        Ok(LlmGenerateRequest {
            provider: required_text(params, "provider", Side::Effect)?,
            model: required_text(params, "model", Side::Effect)?,
            max_tokens,
            forced_tool: forced_tool(params)?,
        })
    }
}

/// The tool name of a `tool_choice` that is `Tool {name}`; other choices force no tool.
fn forced_tool(params: &Value) -> Result<Option<&str>, Denial> {
    match present(params, "tool_choice") {
        None => Ok(None),
        Some(Value::Variant { tag, value }) if tag == "Tool" => {
            let name = value.as_deref().and_then(|record| record.field("name"));
            match name {
                Some(Value::Text(name)) => Ok(Some(name.as_str())),
                _ => Err(wrong(Side::Effect, "tool_choice")),
            }
        }
        Some(Value::Variant { .. }) => Ok(None),
        Some(_) => Err(wrong(Side::Effect, "tool_choice")),
    }
}

impl LlmBasicGrant {
    /// Decodes `sys/llm.basic@1` grant params (a record of optional fields).
    pub fn from_value(params: &Value) -> Result<LlmBasicGrant, Denial> {
        expect_record(params, Side::Cap)?;
        let owned = |set: Option<BTreeSet<&str>>| -> Option<BTreeSet<String>> {
            set.map(|set| set.into_iter().map(str::to_owned).collect())
        };
        let max_tokens = match present(params, "max_tokens") {
            Some(value) => Some(as_nat(value).ok_or_else(|| wrong(Side::Cap, "max_tokens"))?),
            None => None,
        };
        Ok(LlmBasicGrant {
            providers: owned(text_set(params, "providers")?),
            models: owned(text_set(params, "models")?),
            max_tokens,
            tools_allow: owned(text_set(params, "tools_allow")?),
        })
    }

    /// Accepts `request`, or says why not (rules in the module docs).
    pub fn check(&self, request: &LlmGenerateRequest<'_>) -> Result<(), Denial> {
        if !allows(&self.providers, request.provider) {
            return Err(not_allowed(
                code::PROVIDER_NOT_ALLOWED,
                "provider",
                request.provider,
            ));
        }
        if !allows(&self.models, request.model) {
            return Err(not_allowed(code::MODEL_NOT_ALLOWED, "model", request.model));
        }
        if let Some(limit) = self.max_tokens
            && request.max_tokens > limit
        {
            return Err(Denial::new(
                code::MAX_TOKENS_EXCEEDED,
                format!(
                    "max_tokens {} exceeds the grant's {limit}",
                    request.max_tokens
                ),
            ));
        }
        match request.forced_tool {
            Some(tool) if !allows(&self.tools_allow, tool) => {
                Err(not_allowed(code::TOOL_NOT_ALLOWED, "tool", tool))
            }
            _ => Ok(()),
        }
    }
}

/// Whether a restricting set admits `item`: an absent or empty set admits everything.
fn allows<T: Ord + ?Sized, S: std::borrow::Borrow<T> + Ord>(
    set: &Option<BTreeSet<S>>,
    item: &T,
) -> bool {
    match set {
        Some(set) if !set.is_empty() => set.contains(item),
        _ => true,
    }
}

fn not_allowed(code: &'static str, what: &str, value: &str) -> Denial {
    Denial::new(
        code,
        format!("{what} {value:?} is not allowed by the grant"),
    )
}

/// Which params a decoding problem is in: it picks the denial code.
#[derive(Clone, Copy)]
enum Side {
    Cap,
    Effect,
}

fn wrong(side: Side, field: &str) -> Denial {
    let (code, whose) = match side {
        Side::Cap => (code::CAP_PARAMS_INVALID, "grant params"),
        Side::Effect => (code::EFFECT_PARAMS_INVALID, "effect params"),
    };
    Denial::new(
        code,
        format!("{whose}: field {field} is missing or of the wrong type"),
    )
}

fn expect_record(params: &Value, side: Side) -> Result<(), Denial> {
    match params {
        Value::Record(_) => Ok(()),
        _ => Err(wrong(side, "$")),
    }
}

/// A record field that is present and not none.
fn present<'a>(record: &'a Value, field: &str) -> Option<&'a Value> {
    record.field(field).filter(|value| **value != Value::Null)
}

fn required_text<'a>(record: &'a Value, field: &str, side: Side) -> Result<&'a str, Denial> {
    match present(record, field) {
        Some(Value::Text(text)) => Ok(text),
        _ => Err(wrong(side, field)),
    }
}

fn as_nat(value: &Value) -> Option<u64> {
    match value {
        Value::Nat(n) => Some(*n),
        Value::Int(n) => u64::try_from(*n).ok(),
        _ => None,
    }
}

/// The elements of an optional grant set field; `None` when absent, none or empty.
fn set_items<'a>(record: &'a Value, field: &str) -> Result<Option<&'a [Value]>, Denial> {
    match present(record, field) {
        None => Ok(None),
        Some(Value::Set(items) | Value::List(items)) if items.is_empty() => Ok(None),
        Some(Value::Set(items) | Value::List(items)) => Ok(Some(items)),
        Some(_) => Err(wrong(Side::Cap, field)),
    }
}

pub(super) fn text_set<'a>(
    record: &'a Value,
    field: &str,
) -> Result<Option<BTreeSet<&'a str>>, Denial> {
    let Some(items) = set_items(record, field)? else {
        return Ok(None);
    };
    let texts = items.iter().map(|item| match item {
        Value::Text(text) => Ok(text.as_str()),
        _ => Err(wrong(Side::Cap, field)),
    });
    texts.collect::<Result<_, _>>().map(Some)
}

fn nat_set(record: &Value, field: &str) -> Result<Option<BTreeSet<u64>>, Denial> {
    let Some(items) = set_items(record, field)? else {
        return Ok(None);
    };
    let nats = items
        .iter()
        .map(|item| as_nat(item).ok_or_else(|| wrong(Side::Cap, field)));
    nats.collect::<Result<_, _>>().map(Some)
}
