//! # worldline-adapters
//!
//! The async edge: effect executors (timer, blob, HTTP, LLM), secret resolution at dispatch,
//! receipt signing, and the host loop that drives a world ([`host::Host`]).
//!
//! **Architecture invariant:** adapters never decide; they execute admitted intents and return
//! signed receipts, which the kernel verifies like any other input. Nothing leaves the process
//! before the batch that admitted it is durable.

pub mod clock;
pub mod error;
pub mod execute;
pub mod governance;
pub mod host;
pub mod http;
pub mod keys;
pub mod llm;
pub mod secrets;

pub use error::AdapterError;
pub use host::{Host, HostHandle, HostJob, HostNote, HostOptions, Quiescence};
