//! From an admitted `llm.generate` intent to a job (messages read from the CAS, key resolved),
//! and from its outcome to a receipt draft.

use std::sync::Arc;

use worldline_air::{ControlPlane, Hash, Value};
use worldline_kernel::World;
use worldline_kernel::effects::OpenIntent;
use worldline_kernel::effects::secrets::SecretRef;

use super::{
    ApiKey, Generation, LlmAdapter, LlmConfig, LlmError, LlmFailure, LlmRequest, Message, Usage,
    error_blob,
};
use crate::clock::now_ns;
use crate::execute::{Draft, LLM_ADAPTER};
use crate::secrets::SecretResolver;

/// An `llm.generate` intent ready to run off the host thread.
#[derive(Debug, Clone)]
pub struct LlmJob {
    /// The intent it answers.
    pub intent_hash: Hash,
    /// The generation.
    pub request: LlmRequest,
}

/// Reads an `llm.generate` intent into a job: messages from the world's CAS, the key literal or
/// resolved through `secrets`. `Err` is the error draft (boxed: a draft is larger than a job).
pub fn llm_job(
    world: &World,
    open: &OpenIntent,
    params: &Value,
    secrets: &SecretResolver,
    config: &LlmConfig,
) -> Result<LlmJob, Box<Draft>> {
    let started_ns = now_ns();
    let objects = |hash: &Hash| world.object(hash).ok().flatten();
    match request_from_params(world.plane(), params, &objects, secrets, config) {
        Ok(request) => Ok(LlmJob {
            intent_hash: open.intent.intent_hash,
            request,
        }),
        Err(error) => {
            let provider = match params.field("provider") {
                Some(Value::Text(provider)) => provider.as_str(),
                _ => "",
            };
            let draft = llm_draft(open.intent.intent_hash, provider, 0, started_ns, Err(error));
            Err(Box::new(draft))
        }
    }
}

/// A `sys/LlmGenerateParams@1` value as a request. `objects` reads the CAS; `plane` names the
/// secrets `secrets` resolves. Checks, in order: the params' shape, tools, the messages (count,
/// presence, size), then the key.
pub fn request_from_params(
    plane: &ControlPlane,
    params: &Value,
    objects: &dyn Fn(&Hash) -> Option<Vec<u8>>,
    secrets: &SecretResolver,
    config: &LlmConfig,
) -> Result<LlmRequest, LlmError> {
    let bad = |what: &str| LlmError::new(LlmFailure::ParamsInvalid, format!("params: {what}"));
    let text = |field: &str| match params.field(field) {
        Some(Value::Text(text)) => Ok(text.clone()),
        _ => Err(bad(&format!("`{field}` is not text"))),
    };
    let provider = text("provider")?;
    let model = text("model")?;
    let temperature = match params.field("temperature") {
        Some(Value::Dec128(value)) => value.to_string(),
        _ => return Err(bad("`temperature` is not a dec128")),
    };
    let Some(Value::Nat(max_tokens)) = params.field("max_tokens") else {
        return Err(bad("`max_tokens` is not a nat"));
    };
    check_tools(params)?;
    let Some(Value::List(refs)) = params.field("message_refs") else {
        return Err(bad("`message_refs` is not a list"));
    };
    let messages = read_messages(refs, objects, config)?;
    let api_key = match params.field("api_key") {
        // The offline provider needs no key: its secret is not read at all.
        _ if provider == super::PROVIDER_OFFLINE => None,
        None | Some(Value::Null) => None,
        Some(Value::Variant { tag, value }) => Some(key_of(plane, tag, value.as_deref(), secrets)?),
        Some(_) => return Err(bad("`api_key` is not a sys/TextOrSecretRef@1")),
    };
    Ok(LlmRequest {
        provider,
        model,
        temperature,
        max_tokens: *max_tokens,
        messages,
        api_key,
    })
}

fn check_tools(params: &Value) -> Result<(), LlmError> {
    let offered = matches!(params.field("tool_refs"), Some(Value::List(refs)) if !refs.is_empty());
    let forced = matches!(
        params.field("tool_choice"),
        Some(Value::Variant { tag, .. }) if tag == "Required" || tag == "Tool"
    );
    if offered || forced {
        return Err(LlmError::new(
            LlmFailure::ToolsUnsupported,
            "this adapter does not support tools yet (tool_refs must be empty, tool_choice Auto or None)",
        ));
    }
    Ok(())
}

fn read_messages(
    refs: &[Value],
    objects: &dyn Fn(&Hash) -> Option<Vec<u8>>,
    config: &LlmConfig,
) -> Result<Vec<Message>, LlmError> {
    if refs.len() > config.messages_max {
        return Err(LlmError::new(
            LlmFailure::MessagesTooLarge,
            format!(
                "{} message_refs; at most {} are accepted",
                refs.len(),
                config.messages_max
            ),
        ));
    }
    let mut messages = Vec::with_capacity(refs.len());
    for (index, reference) in refs.iter().enumerate() {
        let Value::Hash(hash) = reference else {
            return Err(LlmError::new(
                LlmFailure::ParamsInvalid,
                format!("params: message_refs[{index}] is not a hash"),
            ));
        };
        let blob = objects(hash).ok_or_else(|| {
            LlmError::new(
                LlmFailure::MessageMissing,
                format!("message_refs[{index}] ({hash}) is not in the world's CAS"),
            )
        })?;
        if blob.len() as u64 > config.message_bytes_max {
            return Err(LlmError::new(
                LlmFailure::MessagesTooLarge,
                format!(
                    "message_refs[{index}] ({hash}) has {} bytes; at most {} are accepted",
                    blob.len(),
                    config.message_bytes_max
                ),
            ));
        }
        messages.push(Message::from_blob(&blob));
    }
    Ok(messages)
}

/// The key of a `sys/TextOrSecretRef@1` value (arm `tag`, arm value `value`).
fn key_of(
    plane: &ControlPlane,
    tag: &str,
    value: Option<&Value>,
    secrets: &SecretResolver,
) -> Result<ApiKey, LlmError> {
    match (tag, value) {
        ("literal", Some(Value::Text(text))) => ApiKey::new(text.clone()),
        ("secret", Some(reference)) => {
            let secret_ref = SecretRef::from_value(reference).ok_or_else(|| {
                LlmError::new(
                    LlmFailure::ParamsInvalid,
                    "params: api_key.secret is not a SecretRef",
                )
            })?;
            let value = secrets
                .resolve(plane, &secret_ref)
                .map_err(|e| LlmError::new(LlmFailure::SecretUnresolved, e.to_string()))?;
            let text = std::str::from_utf8(value.expose()).map_err(|_| {
                LlmError::new(
                    LlmFailure::KeyInvalid,
                    format!("secret `{secret_ref}`: the value is not UTF-8"),
                )
            })?;
            ApiKey::new(text.to_owned())
                .map_err(|e| LlmError::new(e.code, format!("secret `{secret_ref}`: {}", e.message)))
        }
        _ => Err(LlmError::new(
            LlmFailure::ParamsInvalid,
            "params: api_key is not a sys/TextOrSecretRef@1",
        )),
    }
}

/// `llm.generate`: runs the job on `adapter` and drafts its receipt.
pub async fn llm(adapter: Arc<LlmAdapter>, job: LlmJob) -> Draft {
    let started_ns = now_ns();
    let outcome = adapter.generate(&job.request).await;
    let cost_cents = match &outcome {
        Ok(generation) => adapter
            .config()
            .cost_cents(&job.request.model, generation.usage),
        Err(_) => 0,
    };
    let outcome = outcome.map_err(|e| match &job.request.api_key {
        Some(key) => LlmError::new(e.code, key.scrub(&e.message)),
        None => e,
    });
    llm_draft(
        job.intent_hash,
        &job.request.provider,
        cost_cents,
        started_ns,
        outcome,
    )
}

/// The receipt draft of a generation's outcome (see the module docs for what is stored).
pub fn llm_draft(
    intent_hash: Hash,
    provider: &str,
    cost_cents: u64,
    started_ns: u64,
    outcome: Result<Generation, LlmError>,
) -> Draft {
    let (status, blob, usage, cost_cents) = match outcome {
        Ok(generation) => {
            let message = Message {
                role: super::Role::Assistant,
                content: generation.text,
            };
            ("ok", message.to_blob(), generation.usage, cost_cents)
        }
        Err(error) => {
            let status = if error.code == LlmFailure::Timeout {
                "timeout"
            } else {
                "error"
            };
            let blob = error_blob(error.code.code(), &error.message);
            (status, blob, Usage::default(), 0)
        }
    };
    Draft {
        intent_hash,
        adapter_id: LLM_ADAPTER,
        status,
        payload: Value::record([
            ("output_ref", Value::Hash(Hash::of(&blob))),
            (
                "token_usage",
                Value::record([
                    ("prompt", Value::Nat(usage.prompt)),
                    ("completion", Value::Nat(usage.completion)),
                ]),
            ),
            ("cost_cents", Value::Nat(cost_cents)),
            ("provider_id", Value::Text(provider.to_owned())),
        ]),
        objects: vec![blob],
        started_ns,
        finished_ns: now_ns(),
        cost_cents: Some(cost_cents),
    }
}
