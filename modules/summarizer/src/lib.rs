//! `demo/Summarizer@1`, the reducer of `worlds/summarizer`.
//!
//! `Start{url, provider, model}` stores the instruction prompt in the CAS with `blob.put` (a
//! JSON chat message, so the LLM adapter reads it as the system message) and waits; the put
//! result emits `demo/SummarizeRequested@1`, which starts `demo/summarize_plan@1`: the plan
//! fetches the page over HTTP, asks the LLM to summarize it and raises `Summarized` back here
//! with the output reference and the token counts.

use serde::{Deserialize, Serialize};
use worldline_sdk::{BlobPutResult, Effect, Output, ReduceError, Reducer, Step, blob_ref};

/// The instruction every summary starts from (a `sys/llm` chat message).
pub const PROMPT: &str = "{\"role\":\"system\",\"content\":\"Summarize the page the user sends in at most three sentences.\"}";

/// `demo/SummarizerPc@1`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "$tag", content = "$value")]
pub enum SummarizerPc {
    /// Nothing asked yet.
    #[default]
    Idle,
    /// Storing the prompt.
    StoringPrompt,
    /// The plan is fetching and summarizing.
    Summarizing,
    /// The summary arrived.
    Done,
}

/// `demo/SummarizerState@1`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummarizerState {
    /// The phase.
    pub pc: SummarizerPc,
    /// The id the next request gets.
    pub next_request_id: u64,
    /// The page being summarized.
    pub url: Option<String>,
    /// `openai`, `anthropic` or `offline`.
    pub provider: Option<String>,
    /// The model.
    pub model: Option<String>,
    /// The stored prompt.
    pub prompt_ref: Option<String>,
    /// The HTTP status of the page fetch.
    pub fetch_status: Option<i64>,
    /// The summary (an assistant message in the CAS).
    pub summary_ref: Option<String>,
    /// Prompt tokens the LLM counted.
    pub prompt_tokens: Option<u64>,
    /// Completion tokens the LLM counted.
    pub completion_tokens: Option<u64>,
}

/// `demo/SummarizeStart@1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummarizeStart {
    /// The page.
    pub url: String,
    /// The LLM provider.
    pub provider: String,
    /// The model.
    pub model: String,
}

/// `demo/Summarized@1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summarized {
    /// The request.
    pub request_id: u64,
    /// The page fetch's HTTP status.
    pub fetch_status: i64,
    /// The summary.
    pub output_ref: String,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
}

/// `demo/SummarizerEvent@1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "$tag", content = "$value")]
pub enum SummarizerEvent {
    /// Summarize a page.
    Start(SummarizeStart),
    /// The prompt's put result.
    PromptStored(BlobPutResult),
    /// The plan's result.
    Summarized(Summarized),
}

/// `demo/SummarizeRequested@1`: starts the plan.
#[derive(Serialize)]
struct SummarizeRequested {
    request_id: u64,
    url: String,
    provider: String,
    model: String,
    prompt_ref: String,
}

/// The reducer.
pub struct Summarizer;

impl Reducer for Summarizer {
    type State = SummarizerState;
    type Event = SummarizerEvent;

    fn reduce(
        state: Option<SummarizerState>,
        event: SummarizerEvent,
        _step: &Step,
    ) -> Result<Output<SummarizerState>, ReduceError> {
        let mut s = state.unwrap_or_default();
        match event {
            SummarizerEvent::Start(start) if s.pc != SummarizerPc::StoringPrompt => {
                let reference = blob_ref(PROMPT.as_bytes());
                s = SummarizerState {
                    pc: SummarizerPc::StoringPrompt,
                    next_request_id: s.next_request_id,
                    url: Some(start.url),
                    provider: Some(start.provider),
                    model: Some(start.model),
                    prompt_ref: Some(reference.clone()),
                    ..SummarizerState::default()
                };
                let put = Effect::blob_put("blobs", &reference, PROMPT.as_bytes().to_vec());
                Ok(Output::new(s).effect(put))
            }
            SummarizerEvent::PromptStored(put)
                if s.pc == SummarizerPc::StoringPrompt && put.is_ok() =>
            {
                let request = SummarizeRequested {
                    request_id: s.next_request_id,
                    url: s.url.clone().unwrap_or_default(),
                    provider: s.provider.clone().unwrap_or_default(),
                    model: s.model.clone().unwrap_or_default(),
                    prompt_ref: put.receipt.blob_ref.clone(),
                };
                s.pc = SummarizerPc::Summarizing;
                s.next_request_id += 1;
                Ok(Output::new(s).emit("demo/SummarizeRequested@1", &request))
            }
            SummarizerEvent::Summarized(done)
                if s.pc == SummarizerPc::Summarizing
                    && done.request_id + 1 == s.next_request_id =>
            {
                s.pc = SummarizerPc::Done;
                s.fetch_status = Some(done.fetch_status);
                s.summary_ref = Some(done.output_ref);
                s.prompt_tokens = Some(done.prompt_tokens);
                s.completion_tokens = Some(done.completion_tokens);
                Ok(Output::new(s))
            }
            SummarizerEvent::Start(_)
            | SummarizerEvent::PromptStored(_)
            | SummarizerEvent::Summarized(_) => Ok(Output::new(s)),
        }
    }
}

worldline_sdk::reducer!(Summarizer);
