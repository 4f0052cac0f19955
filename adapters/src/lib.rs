//! # worldline-adapters
//!
//! The async edge: effect executors (HTTP, timer, blob), receipt signing, and the host loop that
//! drives a world.
//!
//! **Architecture invariant:** adapters never decide; they execute admitted intents and return
//! signed receipts, which the kernel verifies like any other input.

pub mod http;
