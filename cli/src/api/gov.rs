//! The governance routes: list, propose (a patch document), shadow, approve, reject, apply;
//! each the same World method `world propose | shadow | approve | apply` calls.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use base64::Engine as _;
use serde_json::{Value as Json, json};
use worldline_adapters::Host;
use worldline_kernel::world::ShadowInput;

use super::routes::{Answer, body_json};
use super::{Api, ApiError};
use crate::query::{proposal_json, proposed_json};

/// Inputs a shadow run replays when the body names none (as `world shadow`).
const SHADOW_REPLAY_LAST_DEFAULT: u64 = 100;

/// A proposal's id from the path.
fn proposal_id(text: &str) -> Result<u64, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad_request(format!("proposal id `{text}`: expected a number")))
}

/// 404 unless the proposal exists.
fn known(host: &Host, id: u64) -> Result<(), ApiError> {
    match host.world().proposals().get(id) {
        Some(_) => Ok(()),
        None => Err(ApiError::not_found(format!("proposal {id} does not exist"))),
    }
}

/// The ingress stamp of a governance record.
fn ingress() -> Result<worldline_kernel::Ingress, ApiError> {
    worldline_adapters::clock::ingress_now().map_err(super::events::adapter_error)
}

/// An optional body: `{}` when empty.
fn optional_body(body: Result<Bytes, BytesRejection>) -> Result<Json, ApiError> {
    match &body {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(json!({})),
        _ => body_json(body),
    }
}

/// Refuses fields other than `allowed` in an object body.
fn only(doc: &Json, allowed: &[&str]) -> Result<(), ApiError> {
    let Some(object) = doc.as_object() else {
        return Err(ApiError::invalid("bad_request", "$", "expected an object"));
    };
    match object.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(other) => Err(ApiError::invalid(
            "bad_request",
            format!("$.{other}"),
            format!("unknown field (expected {})", allowed.join(", ")),
        )),
        None => Ok(()),
    }
}

/// `GET /proposals`.
pub(crate) async fn list(State(api): State<Api>) -> Answer {
    api.call(|host| {
        let all: Vec<Json> = host.world().proposals().all().map(proposal_json).collect();
        Ok(axum::Json(json!({ "proposals": all })))
    })
    .await
}

/// `POST /proposals` with `{"patch": PATCH_DOC, "description"?: TEXT, "modules"?: [BASE64]}`.
pub(crate) async fn propose(State(api): State<Api>, body: Result<Bytes, BytesRejection>) -> Answer {
    let doc = body_json(body)?;
    only(&doc, &["patch", "description", "modules"])?;
    let patch = doc
        .get("patch")
        .cloned()
        .ok_or_else(|| ApiError::invalid("bad_request", "$.patch", "missing"))?;
    let description = match doc.get("description") {
        None | Some(Json::Null) => None,
        Some(Json::String(text)) => Some(text.clone()),
        Some(_) => {
            return Err(ApiError::invalid(
                "bad_request",
                "$.description",
                "expected text",
            ));
        }
    };
    let mut binaries = Vec::new();
    if let Some(modules) = doc.get("modules") {
        let items = modules.as_array().ok_or_else(|| {
            ApiError::invalid(
                "bad_request",
                "$.modules",
                "expected an array of base64 text",
            )
        })?;
        for (index, item) in items.iter().enumerate() {
            let bytes = item
                .as_str()
                .and_then(|t| base64::engine::general_purpose::STANDARD.decode(t).ok())
                .ok_or_else(|| {
                    ApiError::invalid(
                        "bad_request",
                        format!("$.modules[{index}]"),
                        "expected a module binary in base64",
                    )
                })?;
            binaries.push(bytes);
        }
    }
    api.call(move |host| {
        let ingress = ingress()?;
        let proposed = host
            .world_mut()
            .propose(&patch, binaries, description, ingress)
            .map_err(|e| {
                let mut error = ApiError::from(e);
                // The patch document's paths are under `$.patch` in the body.
                if let Some(path) = &error.path {
                    error.path = Some(format!("$.patch{}", path.strip_prefix('$').unwrap_or(path)));
                }
                error
            })?;
        Ok(axum::Json(proposed_json(&proposed)))
    })
    .await
}

/// `POST /proposals/{id}/shadow` with `{"replay_last"?: N}` or `{"events": [{schema, value}]}`.
pub(crate) async fn shadow(
    State(api): State<Api>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let id = proposal_id(&id)?;
    let doc = optional_body(body)?;
    only(&doc, &["replay_last", "events"])?;
    let replay_last = match doc.get("replay_last") {
        None => None,
        Some(n) => Some(n.as_u64().ok_or_else(|| {
            ApiError::invalid("bad_request", "$.replay_last", "expected a whole number")
        })?),
    };
    let events = match doc.get("events") {
        None => None,
        Some(Json::Array(items)) => {
            let mut events = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                events.push((
                    format!("$.events[{index}]"),
                    super::events::schema_and_value(item, &format!("$.events[{index}]"))?,
                ));
            }
            Some(events)
        }
        Some(_) => {
            return Err(ApiError::invalid(
                "bad_request",
                "$.events",
                "expected an array of {\"schema\", \"value\"}",
            ));
        }
    };
    if replay_last.is_some() && events.is_some() {
        return Err(ApiError::invalid(
            "bad_request",
            "$",
            "give replay_last or events, not both",
        ));
    }
    api.call(move |host| {
        known(host, id)?;
        let input = match events {
            None => ShadowInput::ReplayLast(replay_last.unwrap_or(SHADOW_REPLAY_LAST_DEFAULT)),
            Some(events) => {
                let mut inputs = Vec::with_capacity(events.len());
                for (at, (schema, value)) in &events {
                    inputs.push(super::events::normalize(host.world(), schema, value, at)?);
                }
                ShadowInput::Events(inputs)
            }
        };
        let (report, seq) = host.world_mut().shadow(id, input, ingress()?)?;
        let mut out = serde_json::to_value(&report).map_err(|e| {
            ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                e.to_string(),
            )
        })?;
        out["seq"] = json!(seq);
        Ok(axum::Json(out))
    })
    .await
}

/// Approve or reject, unsigned, recording `by` (default `api`).
async fn decide(
    api: Api,
    id: String,
    body: Result<Bytes, BytesRejection>,
    approved: bool,
) -> Answer {
    let id = proposal_id(&id)?;
    let doc = optional_body(body)?;
    only(&doc, &["by"])?;
    let by = match doc.get("by") {
        None => "api".to_owned(),
        Some(Json::String(by)) if !by.trim().is_empty() => by.clone(),
        Some(_) => {
            return Err(ApiError::invalid("bad_request", "$.by", "expected a name"));
        }
    };
    api.call(move |host| {
        known(host, id)?;
        let seq = host
            .world_mut()
            .decide(id, approved, &by, None, ingress()?)?;
        Ok(axum::Json(json!({
            "id": id, "seq": seq, "approved": approved, "by": by,
        })))
    })
    .await
}

/// `POST /proposals/{id}/approve` with `{"by"?: NAME}`.
pub(crate) async fn approve(
    State(api): State<Api>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    decide(api, id, body, true).await
}

/// `POST /proposals/{id}/reject` with `{"by"?: NAME}`.
pub(crate) async fn reject(
    State(api): State<Api>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    decide(api, id, body, false).await
}

/// `POST /proposals/{id}/apply`.
pub(crate) async fn apply(State(api): State<Api>, Path(id): Path<String>) -> Answer {
    let id = proposal_id(&id)?;
    api.call(move |host| {
        known(host, id)?;
        let applied = host.world_mut().apply(id, ingress()?)?;
        Ok(axum::Json(json!({
            "id": id, "seq": applied.seq,
            "previous": applied.previous.to_string(),
            "manifest_hash": applied.manifest_hash.to_string(),
        })))
    })
    .await
}
