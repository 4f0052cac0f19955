//! The network providers: OpenAI-compatible chat completions and Anthropic messages.

use crate::error::error_chain;

use serde_json::{Value as Json, json};

use super::{ApiKey, Generation, LlmError, LlmFailure, LlmRequest, Role, Usage};

/// The `anthropic-version` header sent to Anthropic.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";
/// At most this many characters of a provider's error body are kept in the error message.
const ERROR_BODY_CHARS_MAX: usize = 512;

/// `POST {base}/chat/completions`, `Authorization: Bearer KEY`, body `{model, messages,
/// max_tokens, temperature}`; reads `choices[0].message.content` and
/// `usage.{prompt_tokens,completion_tokens}`.
pub(super) async fn openai(
    client: &reqwest::Client,
    base: &str,
    request: &LlmRequest,
    key: &ApiKey,
    response_bytes_max: u64,
) -> Result<Generation, LlmError> {
    let messages: Vec<Json> = request
        .messages
        .iter()
        .map(|m| json!({"role": m.role.as_str(), "content": m.content}))
        .collect();
    let body = json!({
        "model": request.model,
        "messages": messages,
        "max_tokens": request.max_tokens,
        "temperature": temperature(request)?,
    });
    let http = client
        .post(endpoint(base, "chat/completions"))
        .bearer_auth(key.expose());
    let reply = post_json(http, &body, response_bytes_max).await?;
    let text = reply
        .pointer("/choices/0/message/content")
        .and_then(Json::as_str)
        .ok_or_else(|| invalid("no choices[0].message.content string"))?;
    let usage = Usage {
        prompt: count(&reply, "/usage/prompt_tokens")?,
        completion: count(&reply, "/usage/completion_tokens")?,
    };
    Ok(Generation {
        text: text.to_owned(),
        usage,
    })
}

/// `POST {base}/messages` with `x-api-key` and `anthropic-version`; system messages are joined
/// (blank line between) into the top-level `system` field, the others stay in order in
/// `messages`. Reads the `text` of every `content` block (joined without separator) and
/// `usage.{input_tokens,output_tokens}`.
pub(super) async fn anthropic(
    client: &reqwest::Client,
    base: &str,
    request: &LlmRequest,
    key: &ApiKey,
    response_bytes_max: u64,
) -> Result<Generation, LlmError> {
    let system: Vec<&str> = request
        .messages
        .iter()
        .filter(|m| m.role == Role::System)
        .map(|m| m.content.as_str())
        .collect();
    let messages: Vec<Json> = request
        .messages
        .iter()
        .filter(|m| m.role != Role::System)
        .map(|m| json!({"role": m.role.as_str(), "content": m.content}))
        .collect();
    let mut body = json!({
        "model": request.model,
        "messages": messages,
        "max_tokens": request.max_tokens,
        "temperature": temperature(request)?,
    });
    if !system.is_empty() {
        body["system"] = Json::String(system.join("\n\n"));
    }
    let mut key_header = reqwest::header::HeaderValue::from_str(key.expose())
        .map_err(|_| LlmError::new(LlmFailure::KeyInvalid, "the key is not a header value"))?;
    key_header.set_sensitive(true);
    let http = client
        .post(endpoint(base, "messages"))
        .header("x-api-key", key_header)
        .header("anthropic-version", ANTHROPIC_VERSION);
    let reply = post_json(http, &body, response_bytes_max).await?;
    let blocks = reply
        .get("content")
        .and_then(Json::as_array)
        .ok_or_else(|| invalid("no content array"))?;
    let text: String = blocks
        .iter()
        .filter_map(|block| block.get("text").and_then(Json::as_str))
        .collect();
    let usage = Usage {
        prompt: count(&reply, "/usage/input_tokens")?,
        completion: count(&reply, "/usage/output_tokens")?,
    };
    Ok(Generation { text, usage })
}

fn endpoint(base: &str, path: &str) -> String {
    format!("{}/{path}", base.trim_end_matches('/'))
}

/// The dec128 temperature as a JSON number (its normal form is JSON number syntax).
fn temperature(request: &LlmRequest) -> Result<Json, LlmError> {
    serde_json::from_str::<serde_json::Number>(&request.temperature)
        .map(Json::Number)
        .map_err(|_| {
            LlmError::new(
                LlmFailure::ParamsInvalid,
                format!("temperature {} is not a usable number", request.temperature),
            )
        })
}

fn invalid(what: &str) -> LlmError {
    LlmError::new(
        LlmFailure::ResponseInvalid,
        format!("the provider's response has {what}"),
    )
}

fn count(reply: &Json, pointer: &str) -> Result<u64, LlmError> {
    reply
        .pointer(pointer)
        .and_then(Json::as_u64)
        .ok_or_else(|| invalid(&format!("no {} count", &pointer[1..].replace('/', "."))))
}

/// Sends `body` as JSON and reads a 2xx JSON reply within the size cap.
async fn post_json(
    request: reqwest::RequestBuilder,
    body: &Json,
    cap_bytes: u64,
) -> Result<Json, LlmError> {
    let mut response = request
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| transport("sending the request", &e))?;
    let too_large = || {
        LlmError::new(
            LlmFailure::TooLarge,
            format!("the provider's response exceeds {cap_bytes} bytes"),
        )
    };
    if response.content_length().is_some_and(|n| n > cap_bytes) {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| transport("reading the response", &e))?
    {
        if (bytes.len() + chunk.len()) as u64 > cap_bytes {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    let status = response.status();
    if !status.is_success() {
        let excerpt: String = String::from_utf8_lossy(&bytes)
            .chars()
            .take(ERROR_BODY_CHARS_MAX)
            .collect();
        return Err(LlmError::new(
            LlmFailure::ProviderStatus,
            format!("the provider answered {status}: {excerpt}"),
        ));
    }
    serde_json::from_slice(&bytes).map_err(|e| invalid(&format!("no JSON body ({e})")))
}

fn transport(doing: &str, error: &reqwest::Error) -> LlmError {
    LlmError::new(LlmFailure::Transport, error_chain(doing, error))
}
