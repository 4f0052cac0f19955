//! The `offline` provider: no network, no key, a pure function of the request.

use super::{Generation, LlmRequest, Role, Usage};

/// What every offline output starts with.
pub const OFFLINE_PREFIX: &str = "offline summary:";

/// The output is [`OFFLINE_PREFIX`] followed by the first `max_tokens` whitespace-separated
/// words of the last `user` message, each after one space. `prompt` tokens are the whitespace
/// words of every message; `completion` tokens are the words taken. The model and temperature
/// do not change the output.
pub fn generate(request: &LlmRequest) -> Generation {
    let last_user = request
        .messages
        .iter()
        .rev()
        .find(|m| m.role == Role::User)
        .map_or("", |m| m.content.as_str());
    let take = usize::try_from(request.max_tokens).unwrap_or(usize::MAX);
    let mut text = OFFLINE_PREFIX.to_owned();
    let mut completion: u64 = 0;
    for word in last_user.split_whitespace().take(take) {
        text.push(' ');
        text.push_str(word);
        completion += 1;
    }
    let prompt = request
        .messages
        .iter()
        .map(|m| m.content.split_whitespace().count() as u64)
        .sum();
    Generation {
        text,
        usage: Usage { prompt, completion },
    }
}
