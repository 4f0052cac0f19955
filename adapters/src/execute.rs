//! Executing admitted intents: each adapter turns an intent into a receipt draft (status,
//! payload, the CAS objects it refers to, its own start and finish times). Drafts are
//! normalized, signed and submitted by the host loop.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use worldline_air::{ControlPlane, Hash, TypeExpr, Value};
use worldline_kernel::World;
use worldline_kernel::effects::OpenIntent;
use worldline_kernel::effects::enforce::HttpOutGrant;

use crate::clock::now_ns;
use crate::http::{HttpAdapter, HttpOutcome, HttpRequest};
/// `llm.generate`, through [`crate::llm`].
pub use crate::llm::{LlmJob, llm, llm_job};

/// Adapter ids, one per built-in effect family.
pub const TIMER_ADAPTER: &str = "timer";
/// The blob adapter (the world's CAS).
pub const BLOB_ADAPTER: &str = "blob";
/// The HTTP adapter.
pub const HTTP_ADAPTER: &str = "http";
/// The LLM adapter.
pub const LLM_ADAPTER: &str = "llm";

/// A receipt before it is normalized and signed.
#[derive(Debug, Clone)]
pub struct Draft {
    /// The intent it answers.
    pub intent_hash: Hash,
    /// The adapter that executed it.
    pub adapter_id: &'static str,
    /// `ok`, `error` or `timeout`.
    pub status: &'static str,
    /// The payload, shaped like the effect's receipt schema.
    pub payload: Value,
    /// CAS objects the payload refers to (stored with the receipt).
    pub objects: Vec<Vec<u8>>,
    /// When execution started (wall clock, ns).
    pub started_ns: u64,
    /// When it finished.
    pub finished_ns: u64,
    /// What executing it cost, in cents, if the adapter knows (the receipt's `cost`).
    pub cost_cents: Option<u64>,
}

/// The adapter of an effect kind, if this host has one.
pub fn adapter_for(kind: &str) -> Option<&'static str> {
    match kind {
        "timer.set" => Some(TIMER_ADAPTER),
        "blob.put" | "blob.get" => Some(BLOB_ADAPTER),
        "http.request" => Some(HTTP_ADAPTER),
        "llm.generate" => Some(LLM_ADAPTER),
        _ => None,
    }
}

/// An intent's params as a value of its effect's params schema.
pub fn params_of(plane: &ControlPlane, open: &OpenIntent) -> Option<Value> {
    let effect = plane.effect_by_kind(&open.intent.kind)?;
    let ty = plane.schema_type_of(&effect.params_schema)?;
    Value::from_cbor_bytes(&open.intent.params, ty, plane).ok()
}

fn nat(value: Option<&Value>) -> u64 {
    match value {
        Some(Value::Nat(n)) => *n,
        _ => 0,
    }
}

fn opt_text(value: Option<&Value>) -> Value {
    match value {
        Some(Value::Text(text)) => Value::Text(text.clone()),
        _ => Value::Null,
    }
}

fn hash_of(value: Option<&Value>) -> Option<Hash> {
    match value {
        Some(Value::Hash(hash)) => Some(*hash),
        _ => None,
    }
}

/// `timer.set`: waits until the wall clock reaches `deliver_at_ns` (at once if it already has,
/// e.g. after downtime); the receipt carries the real delivery time.
pub async fn timer(open: OpenIntent, params: Value) -> Draft {
    let started_ns = now_ns();
    let deliver_at_ns = nat(params.field("deliver_at_ns"));
    let wait_ns = deliver_at_ns.saturating_sub(started_ns);
    if wait_ns > 0 {
        tokio::time::sleep(Duration::from_nanos(wait_ns)).await;
    }
    let delivered_at_ns = now_ns();
    Draft {
        intent_hash: open.intent.intent_hash,
        adapter_id: TIMER_ADAPTER,
        status: "ok",
        payload: Value::record([
            ("delivered_at_ns", Value::Nat(delivered_at_ns)),
            ("key", opt_text(params.field("key"))),
        ]),
        objects: Vec::new(),
        started_ns,
        finished_ns: delivered_at_ns,
        cost_cents: None,
    }
}

/// `blob.put`: the bytes must hash to the given reference; they are stored in the world's CAS
/// with the receipt.
pub fn blob_put(open: &OpenIntent, params: &Value) -> Draft {
    let started_ns = now_ns();
    let bytes = match params.field("bytes") {
        Some(Value::Bytes(bytes)) => bytes.clone(),
        _ => Vec::new(),
    };
    let asked = hash_of(params.field("blob_ref")).unwrap_or(Hash::ZERO);
    let actual = Hash::of(&bytes);
    let ok = asked == actual;
    let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    Draft {
        intent_hash: open.intent.intent_hash,
        adapter_id: BLOB_ADAPTER,
        status: if ok { "ok" } else { "error" },
        payload: Value::record([
            ("blob_ref", Value::Hash(asked)),
            ("size", Value::Nat(if ok { size } else { 0 })),
        ]),
        objects: if ok { vec![bytes] } else { Vec::new() },
        started_ns,
        finished_ns: now_ns(),
        cost_cents: None,
    }
}

/// `blob.get`: reads the blob from the world's CAS; `error` with empty bytes if it is not there.
pub fn blob_get(world: &World, open: &OpenIntent, params: &Value) -> Draft {
    let started_ns = now_ns();
    let reference = hash_of(params.field("blob_ref")).unwrap_or(Hash::ZERO);
    let found = world.object(&reference).ok().flatten();
    let status = if found.is_some() { "ok" } else { "error" };
    let bytes = found.unwrap_or_default();
    Draft {
        intent_hash: open.intent.intent_hash,
        adapter_id: BLOB_ADAPTER,
        status,
        payload: Value::record([
            ("blob_ref", Value::Hash(reference)),
            (
                "size",
                Value::Nat(u64::try_from(bytes.len()).unwrap_or(u64::MAX)),
            ),
            ("bytes", Value::Bytes(bytes)),
        ]),
        objects: Vec::new(),
        started_ns,
        finished_ns: now_ns(),
        cost_cents: None,
    }
}

/// What an `http.request` needs from the world before it leaves the host thread.
pub struct HttpJob {
    /// The intent.
    pub open: OpenIntent,
    /// The request, its body resolved from the CAS.
    pub request: HttpRequest,
    /// The grant it was admitted under (redirects are checked against it).
    pub grant: HttpOutGrant,
}

/// Reads an `http.request` intent into a job; `Err` is an error draft (bad params or a missing
/// request body), boxed because a draft is much larger than a job.
pub fn http_job(
    world: &World,
    open: OpenIntent,
    params: &Value,
    grant_params: Option<&Value>,
) -> Result<HttpJob, Box<Draft>> {
    let text = |field: &str| match params.field(field) {
        Some(Value::Text(text)) => text.clone(),
        _ => String::new(),
    };
    let mut headers = BTreeMap::new();
    if let Some(Value::Map(entries)) = params.field("headers") {
        for (name, value) in entries {
            if let (Value::Text(name), Value::Text(value)) = (name, value) {
                headers.insert(name.clone(), value.clone());
            }
        }
    }
    let body = match hash_of(params.field("body_ref")) {
        None => None,
        Some(reference) => match world.object(&reference).ok().flatten() {
            Some(bytes) => Some(bytes),
            None => return Err(Box::new(http_error(&open, now_ns()))),
        },
    };
    let empty = Value::Record(BTreeMap::new());
    let grant = HttpOutGrant::from_value(grant_params.unwrap_or(&empty))
        .map_err(|_| Box::new(http_error(&open, now_ns())))?;
    Ok(HttpJob {
        request: HttpRequest {
            method: text("method"),
            url: text("url"),
            headers,
            body,
        },
        open,
        grant,
    })
}

fn http_payload(
    status: i64,
    headers: BTreeMap<String, String>,
    body_ref: Option<Hash>,
    start_ns: u64,
    end_ns: u64,
) -> Value {
    Value::record([
        ("status", Value::Int(status)),
        (
            "headers",
            Value::Map(
                headers
                    .into_iter()
                    .map(|(k, v)| (Value::Text(k), Value::Text(v)))
                    .collect(),
            ),
        ),
        ("body_ref", body_ref.map_or(Value::Null, Value::Hash)),
        (
            "timings",
            Value::record([
                ("start_ns", Value::Nat(start_ns)),
                ("end_ns", Value::Nat(end_ns)),
            ]),
        ),
        ("adapter_id", Value::Text(HTTP_ADAPTER.to_owned())),
    ])
}

fn http_error(open: &OpenIntent, started_ns: u64) -> Draft {
    let finished_ns = now_ns();
    Draft {
        intent_hash: open.intent.intent_hash,
        adapter_id: HTTP_ADAPTER,
        status: "error",
        payload: http_payload(0, BTreeMap::new(), None, started_ns, finished_ns),
        objects: Vec::new(),
        started_ns,
        finished_ns,
        cost_cents: None,
    }
}

/// Pseudo-header (a name no real header can have) naming the URL the last hop asked for.
pub const REQUESTED_URL_HEADER: &str = ":requested-url";
/// Pseudo-header naming the URL the last hop was actually sent to.
pub const CONNECTED_URL_HEADER: &str = ":connected-url";

/// When the origin map sent the request elsewhere, the receipt records both URLs, under
/// pseudo-header names that cannot collide with a response header.
fn record_origin_map(headers: &mut BTreeMap<String, String>, requested: String, connected: String) {
    if requested != connected {
        headers.insert(REQUESTED_URL_HEADER.to_owned(), requested);
        headers.insert(CONNECTED_URL_HEADER.to_owned(), connected);
    }
}

/// `http.request`: the intent hash is the `Idempotency-Key`, so a re-dispatch after a crash is
/// recognizable by the server. The response body goes to the CAS as `body_ref`.
pub async fn http(adapter: Arc<HttpAdapter>, job: HttpJob) -> Draft {
    let started_ns = now_ns();
    let key = *job.open.intent.intent_hash.as_bytes();
    let outcome = adapter.execute(job.request, &job.grant, &key).await;
    let finished_ns = now_ns();
    match outcome {
        HttpOutcome::Response {
            status,
            mut headers,
            body,
            final_url,
            connected_url,
        } => {
            record_origin_map(&mut headers, final_url, connected_url);
            Draft {
                intent_hash: job.open.intent.intent_hash,
                adapter_id: HTTP_ADAPTER,
                status: "ok",
                payload: http_payload(
                    i64::from(status),
                    headers,
                    Some(Hash::of(&body)),
                    started_ns,
                    finished_ns,
                ),
                objects: vec![body],
                started_ns,
                finished_ns,
                cost_cents: None,
            }
        }
        HttpOutcome::Failed { code, .. } => {
            let mut draft = http_error(&job.open, started_ns);
            if code.code() == "timeout" {
                draft.status = "timeout";
            }
            draft
        }
    }
}

/// The draft's payload in canonical form for its effect's receipt schema.
pub fn canonical_payload(plane: &ControlPlane, kind: &str, payload: &Value) -> Option<Vec<u8>> {
    let effect = plane.effect_by_kind(kind)?;
    let ty: &TypeExpr = plane.schema_type_of(&effect.receipt_schema)?;
    Value::from_cbor_bytes(&payload.to_cbor_body(), ty, plane)
        .ok()
        .map(|value| value.to_cbor_body())
}
