//! # worldline-adapters
//!
//! The async edge: effect executors (HTTP, LLM, timer, blob), receipt signing, and the host
//! loop that drives a world. (Arrives with the effects issue.)
//!
//! **Architecture invariant:** adapters never decide; they execute admitted intents and return
//! signed receipts, which the kernel verifies like any other input.
