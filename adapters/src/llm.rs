//! The `llm.generate` adapter: one chat completion per admitted intent.
//!
//! Rules, beyond the fields' docs:
//!
//! - **Messages** are CAS blobs named by `message_refs`, read by [`Message::from_blob`]: a JSON
//!   object with exactly `role` (`system`/`user`/`assistant`) and `content` (a string) is that
//!   message, any other blob is a `user` message of the blob as UTF-8 (lossy). A missing blob,
//!   more than [`LlmConfig::messages_max`] refs, or a blob over
//!   [`LlmConfig::message_bytes_max`] fails the intent before anything is sent.
//! - **Output.** The generated text is stored as the message blob
//!   `{"role":"assistant","content":…}` ([`Message::to_blob`]); `output_ref` is its SHA-256, so
//!   an output can be fed back as a message. A failure stores
//!   `{"error":{"code":…,"message":…}}` instead, with zero token counts and cost.
//! - **Providers** by the `provider` param: `openai` (OpenAI-compatible chat completions),
//!   `anthropic` (messages API; system messages go to the top-level `system` field) and
//!   `offline` (no network, no key, deterministic: [`offline::generate`]). Base URLs come from
//!   [`LlmConfig::base_urls`], else the provider's default. Anything else is
//!   `provider_unknown`. `provider_id` in the receipt is the `provider` param.
//! - **Key.** `api_key` is literal text or a secret resolved at dispatch
//!   ([`crate::secrets`]). `openai`/`anthropic` without one fail with `key_missing` and send
//!   nothing. The key lives in an [`ApiKey`] (Debug prints `<redacted>`, zeroed on drop) and is
//!   scrubbed from every error message.
//! - **Temperature** (a `dec128`) is sent as a JSON number (its normal form, parsed as JSON).
//! - **Tools** are not supported yet: non-empty `tool_refs`, or `tool_choice` `Required` or
//!   `Tool`, fail with `tools_unsupported` before anything is sent.
//! - **Cost.** `cost_cents` is 0 unless [`LlmConfig::prices`] has the model: then
//!   ⌈(prompt × prompt price + completion × completion price) / 1,000,000⌉, prices in cents per
//!   million tokens. The receipt's own `cost_cents` carries the same value.
//! - **Status.** A 2xx answer of the expected shape is `ok`. A non-2xx answer, a malformed one,
//!   a transport failure or an oversized body is `error`; no complete answer within
//!   [`LlmConfig::timeout_ms`] is `timeout`. Proxy settings of the environment are never read
//!   and redirects are not followed.

mod job;
mod message;
pub mod offline;
mod providers;

use std::collections::BTreeMap;
use std::time::Duration;

use zeroize::Zeroizing;

pub use self::job::{LlmJob, llm, llm_draft, llm_job, request_from_params};
pub use self::message::{Message, Role, error_blob};
pub use self::providers::ANTHROPIC_VERSION;

/// The OpenAI-compatible provider.
pub const PROVIDER_OPENAI: &str = "openai";
/// The Anthropic provider.
pub const PROVIDER_ANTHROPIC: &str = "anthropic";
/// The deterministic provider without network or key.
pub const PROVIDER_OFFLINE: &str = "offline";
/// Default base URL of `openai`.
pub const OPENAI_BASE_URL_DEFAULT: &str = "https://api.openai.com/v1";
/// Default base URL of `anthropic`.
pub const ANTHROPIC_BASE_URL_DEFAULT: &str = "https://api.anthropic.com/v1";
/// Default deadline of one generation, request and whole answer: 120 s.
pub const TIMEOUT_MS_DEFAULT: u64 = 120_000;
/// Default largest provider answer: 4 MiB.
pub const RESPONSE_BYTES_MAX_DEFAULT: u64 = 4 << 20;
/// Default most `message_refs` in one intent: 1,024 messages.
pub const MESSAGES_MAX_DEFAULT: usize = 1_024;
/// Default largest message blob: 1 MiB.
pub const MESSAGE_BYTES_MAX_DEFAULT: u64 = 1 << 20;

/// A model's price, in cents per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LlmPrice {
    /// Cents per million prompt tokens.
    pub prompt_cents_per_mtok: u64,
    /// Cents per million completion tokens.
    pub completion_cents_per_mtok: u64,
}

impl LlmPrice {
    /// The cost of `usage` in cents, rounded up.
    pub fn cost_cents(&self, usage: Usage) -> u64 {
        let micro = u128::from(usage.prompt) * u128::from(self.prompt_cents_per_mtok)
            + u128::from(usage.completion) * u128::from(self.completion_cents_per_mtok);
        u64::try_from(micro.div_ceil(1_000_000)).unwrap_or(u64::MAX)
    }
}

/// How the adapter talks to providers; fixed when the adapter is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlmConfig {
    /// Provider → base URL (`openai` → `http://127.0.0.1:8080/v1`); absent providers use their
    /// default.
    pub base_urls: BTreeMap<String, String>,
    /// Deadline of one generation (request and whole answer), in milliseconds.
    pub timeout_ms: u64,
    /// Largest provider answer accepted, in bytes.
    pub response_bytes_max: u64,
    /// Most `message_refs` in one intent.
    pub messages_max: usize,
    /// Largest message blob, in bytes.
    pub message_bytes_max: u64,
    /// Model → price; models without one cost 0.
    pub prices: BTreeMap<String, LlmPrice>,
}

impl Default for LlmConfig {
    fn default() -> LlmConfig {
        LlmConfig {
            base_urls: BTreeMap::new(),
            timeout_ms: TIMEOUT_MS_DEFAULT,
            response_bytes_max: RESPONSE_BYTES_MAX_DEFAULT,
            messages_max: MESSAGES_MAX_DEFAULT,
            message_bytes_max: MESSAGE_BYTES_MAX_DEFAULT,
            prices: BTreeMap::new(),
        }
    }
}

impl LlmConfig {
    /// The base URL of a network provider: configured, else its default.
    pub fn base_url(&self, provider: &str) -> Option<&str> {
        if let Some(url) = self.base_urls.get(provider) {
            return Some(url);
        }
        match provider {
            PROVIDER_OPENAI => Some(OPENAI_BASE_URL_DEFAULT),
            PROVIDER_ANTHROPIC => Some(ANTHROPIC_BASE_URL_DEFAULT),
            _ => None,
        }
    }

    /// What `usage` of `model` costs, in cents (0 without a price).
    pub fn cost_cents(&self, model: &str, usage: Usage) -> u64 {
        self.prices.get(model).map_or(0, |p| p.cost_cents(usage))
    }
}

/// A provider API key. Never printed; zeroed when dropped.
#[derive(Clone)]
pub struct ApiKey(Zeroizing<String>);

impl ApiKey {
    /// A key: non-empty (else `key_missing`) visible ASCII (else `key_invalid`, as it could not
    /// travel in a header).
    pub fn new(text: String) -> Result<ApiKey, LlmError> {
        let key = Zeroizing::new(text);
        if key.is_empty() {
            return Err(LlmError::new(LlmFailure::KeyMissing, "the key is empty"));
        }
        if !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(LlmError::new(
                LlmFailure::KeyInvalid,
                "the key has characters other than visible ASCII",
            ));
        }
        Ok(ApiKey(key))
    }

    /// The key, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `message` with every occurrence of the key replaced by `<redacted>`.
    pub fn scrub(&self, message: &str) -> String {
        message.replace(self.expose(), "<redacted>")
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A generation to run: an admitted intent's params with its messages and key resolved.
#[derive(Debug, Clone)]
pub struct LlmRequest {
    /// `openai`, `anthropic` or `offline`.
    pub provider: String,
    /// The model, passed on unchanged.
    pub model: String,
    /// The temperature in dec128 normal form (`0.7`).
    pub temperature: String,
    /// Most tokens to generate.
    pub max_tokens: u64,
    /// The conversation, in `message_refs` order.
    pub messages: Vec<Message>,
    /// The key, if the params give one.
    pub api_key: Option<ApiKey>,
}

/// Tokens used by one generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Prompt (input) tokens.
    pub prompt: u64,
    /// Completion (output) tokens.
    pub completion: u64,
}

/// A successful generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generation {
    /// The generated text.
    pub text: String,
    /// Tokens used, as the provider reports them.
    pub usage: Usage,
}

/// Why a generation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LlmFailure {
    /// The `provider` param names no provider this adapter has.
    ProviderUnknown,
    /// A network provider without a key.
    KeyMissing,
    /// The key cannot be sent in a header.
    KeyInvalid,
    /// The `api_key` secret could not be resolved on this node.
    SecretUnresolved,
    /// A `message_refs` blob is not in the CAS.
    MessageMissing,
    /// Too many messages, or a message blob too large.
    MessagesTooLarge,
    /// Tools were offered or forced.
    ToolsUnsupported,
    /// The params do not have the schema's shape, or the temperature is not a usable number.
    ParamsInvalid,
    /// The provider answered with a non-2xx status.
    ProviderStatus,
    /// No complete answer within the deadline.
    Timeout,
    /// Connecting, sending or receiving failed.
    Transport,
    /// The answer exceeds the size cap.
    TooLarge,
    /// The answer is not of the expected shape.
    ResponseInvalid,
}

impl LlmFailure {
    /// The machine-readable code, e.g. `key_missing`.
    pub fn code(self) -> &'static str {
        match self {
            LlmFailure::ProviderUnknown => "provider_unknown",
            LlmFailure::KeyMissing => "key_missing",
            LlmFailure::KeyInvalid => "key_invalid",
            LlmFailure::SecretUnresolved => "secret_unresolved",
            LlmFailure::MessageMissing => "message_missing",
            LlmFailure::MessagesTooLarge => "messages_too_large",
            LlmFailure::ToolsUnsupported => "tools_unsupported",
            LlmFailure::ParamsInvalid => "params_invalid",
            LlmFailure::ProviderStatus => "provider_status",
            LlmFailure::Timeout => "timeout",
            LlmFailure::Transport => "transport",
            LlmFailure::TooLarge => "too_large",
            LlmFailure::ResponseInvalid => "response_invalid",
        }
    }
}

/// A failed generation: a code and a message for people (never holding the key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", code.code())]
pub struct LlmError {
    /// Machine-readable reason.
    pub code: LlmFailure,
    /// What happened, for people.
    pub message: String,
}

impl LlmError {
    /// An error with `code` and `message`.
    pub fn new(code: LlmFailure, message: impl Into<String>) -> LlmError {
        LlmError {
            code,
            message: message.into(),
        }
    }
}

/// Executes `llm.generate` intents.
#[derive(Debug, Clone)]
pub struct LlmAdapter {
    client: reqwest::Client,
    config: LlmConfig,
}

impl LlmAdapter {
    /// Builds an adapter with one HTTP client (no proxy, no redirects) reused across requests.
    pub fn new(config: LlmConfig) -> Result<LlmAdapter, String> {
        // As in the HTTP adapter: ring is our TLS provider; an error means one is installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("worldline/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("the LLM HTTP client could not be built: {e}"))?;
        Ok(LlmAdapter { client, config })
    }

    /// The configuration the adapter was built with.
    pub fn config(&self) -> &LlmConfig {
        &self.config
    }

    /// Runs one generation within the deadline.
    pub async fn generate(&self, request: &LlmRequest) -> Result<Generation, LlmError> {
        let provider = request.provider.as_str();
        if provider == PROVIDER_OFFLINE {
            return Ok(offline::generate(request));
        }
        if provider != PROVIDER_OPENAI && provider != PROVIDER_ANTHROPIC {
            return Err(unknown_provider(provider));
        }
        let base = self
            .config
            .base_url(provider)
            .ok_or_else(|| unknown_provider(provider))?;
        let key = request.api_key.as_ref().ok_or_else(|| {
            LlmError::new(
                LlmFailure::KeyMissing,
                format!("provider {provider} needs an api_key; nothing was sent"),
            )
        })?;
        let cap = self.config.response_bytes_max;
        let exchange = async {
            if provider == PROVIDER_OPENAI {
                providers::openai(&self.client, base, request, key, cap).await
            } else {
                providers::anthropic(&self.client, base, request, key, cap).await
            }
        };
        let deadline = Duration::from_millis(self.config.timeout_ms);
        match tokio::time::timeout(deadline, exchange).await {
            Ok(result) => result.map_err(|e| LlmError::new(e.code, key.scrub(&e.message))),
            Err(_) => Err(LlmError::new(
                LlmFailure::Timeout,
                format!("no complete answer within {} ms", self.config.timeout_ms),
            )),
        }
    }
}

fn unknown_provider(provider: &str) -> LlmError {
    LlmError::new(
        LlmFailure::ProviderUnknown,
        format!("no provider `{provider}` (known: openai, anthropic, offline)"),
    )
}
