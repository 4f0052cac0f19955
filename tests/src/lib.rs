#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers fail loudly by design
//! Shared helpers for the end-to-end tests.

pub mod conformance;
pub mod sources;
pub mod world;

pub use conformance::skip;
