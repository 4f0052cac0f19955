//! `POST /events`: an event read through its schema (a malformed one is 400 with the JSON path
//! of the problem, and nothing is journaled), appended, run to idle, and acknowledged only once
//! durable. Events queued together are written in one commit (group commit).

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use serde_json::{Value as Json, json};
use tokio::sync::{mpsc, oneshot};
use worldline_adapters::{Host, HostHandle};
use worldline_air::Name;
use worldline_air::nodes::DefKind;
use worldline_kernel::{EventInput, World};

use super::{Api, ApiError, SUBMIT_BATCH_MAX};

/// One event waiting for the submitter.
pub(crate) struct Submission {
    schema: String,
    value: Json,
    reply: oneshot::Sender<Result<Vec<u64>, ApiError>>,
}

/// Reads a request body as strict JSON (duplicate keys refused); `$` is the body.
pub(crate) fn parse_body(body: &[u8]) -> Result<Json, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::invalid("malformed_json", "$", "the body is not UTF-8"))?;
    worldline_air::json::parse_strict(text)
        .map_err(|e| ApiError::invalid("malformed_json", "$", e.to_string()))
}

/// `{"schema", "value"}` from a body (or an element of an array at `at`).
pub(crate) fn schema_and_value(doc: &Json, at: &str) -> Result<(String, Json), ApiError> {
    let Some(object) = doc.as_object() else {
        return Err(ApiError::invalid(
            "invalid_event",
            at,
            "expected an object {\"schema\", \"value\"}",
        ));
    };
    let schema = object.get("schema").and_then(Json::as_str).ok_or_else(|| {
        ApiError::invalid(
            "invalid_event",
            format!("{at}.schema"),
            "expected a schema name",
        )
    })?;
    let value = object
        .get("value")
        .ok_or_else(|| ApiError::invalid("invalid_event", format!("{at}.value"), "missing"))?;
    if let Some(other) = object.keys().find(|k| *k != "schema" && *k != "value") {
        return Err(ApiError::invalid(
            "invalid_event",
            format!("{at}.{other}"),
            "unknown field (expected schema and value)",
        ));
    }
    Ok((schema.to_owned(), value.clone()))
}

/// An event read through its schema in the live control plane; errors name the place under
/// `at` (`$` for a body that is the event).
pub(crate) fn normalize(
    world: &World,
    schema: &str,
    value: &Json,
    at: &str,
) -> Result<EventInput, ApiError> {
    let plane = world.plane();
    let schema_at = format!("{at}.schema");
    let name = Name::parse(schema)
        .map_err(|e| ApiError::invalid("invalid_event", &schema_at, e.to_string()))?;
    let ty = plane
        .def(DefKind::Schema, &name)
        .and_then(|_| plane.schema_type_of(&name))
        .ok_or_else(|| {
            ApiError::invalid(
                "unknown_schema",
                &schema_at,
                format!("{name} is not a schema of this world"),
            )
        })?;
    let value = worldline_air::value::from_any_json(value, ty, plane).map_err(|e| {
        let inner = e.path.strip_prefix('$').unwrap_or(&e.path);
        ApiError::invalid(
            "invalid_event",
            format!("{at}.value{inner}"),
            format!("{name}: {}", e.message),
        )
    })?;
    Ok(EventInput {
        schema: name,
        value: value.to_cbor_body(),
    })
}

/// `POST /events`.
pub(crate) async fn post(
    State(api): State<Api>,
    body: Result<Bytes, BytesRejection>,
) -> Result<axum::Json<Json>, ApiError> {
    let doc = super::routes::body_json(body)?;
    let (schema, value) = schema_and_value(&doc, "$")?;
    let (reply, answer) = oneshot::channel();
    let submission = Submission {
        schema,
        value,
        reply,
    };
    api.submit.try_send(submission).map_err(|e| match e {
        mpsc::error::TrySendError::Full(_) => ApiError::busy(format!(
            "{} events are already waiting for the world; retry later",
            super::API_QUEUE_MAX
        )),
        mpsc::error::TrySendError::Closed(_) => ApiError::stopping(),
    })?;
    let seqs = answer.await.map_err(|_| ApiError::stopping())??;
    Ok(axum::Json(json!({
        "seq": seqs.first(),
        "seqs": seqs,
    })))
}

/// The submitter task: takes every event queued (up to [`SUBMIT_BATCH_MAX`]), writes them in one
/// job on the host loop, and waits for it before taking the next batch, so events that arrive
/// during a commit share the next one.
pub(crate) async fn submitter(host: HostHandle, mut queue: mpsc::Receiver<Submission>) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < SUBMIT_BATCH_MAX {
            match queue.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let (done, finished) = oneshot::channel();
        let sent = host.send(Box::new(move |host: &mut Host| {
            submit_batch(host, batch);
            let _ = done.send(());
        }));
        // A host that is gone drops the batch, so every waiting request answers 503.
        if !sent || finished.await.is_err() {
            break;
        }
    }
}

/// On the host loop: reads each event (a malformed one is answered alone), then appends the
/// rest in one durable commit and answers each with its seqs.
fn submit_batch(host: &mut Host, batch: Vec<Submission>) {
    let mut inputs = Vec::with_capacity(batch.len());
    let mut replies = Vec::with_capacity(batch.len());
    for submission in batch {
        match normalize(host.world(), &submission.schema, &submission.value, "$") {
            Ok(input) => {
                inputs.push(input);
                replies.push(submission.reply);
            }
            Err(error) => {
                let _ = submission.reply.send(Err(error));
            }
        }
    }
    if inputs.is_empty() {
        return;
    }
    match host.submit(inputs.clone()) {
        Ok(appended) => {
            for (reply, seqs) in replies.into_iter().zip(appended) {
                let _ = reply.send(Ok(seqs));
            }
        }
        // A failed commit keeps nothing; one by one, only the event at fault is refused.
        Err(_) if inputs.len() > 1 => {
            for (reply, input) in replies.into_iter().zip(inputs) {
                let answer = host
                    .submit(vec![input])
                    .map(|mut appended| appended.pop().unwrap_or_default())
                    .map_err(adapter_error);
                let _ = reply.send(answer);
            }
        }
        Err(error) => {
            let error = adapter_error(error);
            for reply in replies {
                let _ = reply.send(Err(error.clone()));
            }
        }
    }
}

/// A host failure as an API error.
pub(crate) fn adapter_error(error: worldline_adapters::AdapterError) -> ApiError {
    match error {
        worldline_adapters::AdapterError::Kernel(error) => error.into(),
        other => ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            other.to_string(),
        ),
    }
}
