//! Effects on the kernel side: admission of intents (grants, enforcers, policy, secret ACLs), open
//! work, and the signed receipts that close it.

pub mod admission;
pub mod enforce;
pub mod enforce_gov;
mod enforcement;
mod open;
pub mod receipt;
pub mod secrets;

pub use admission::{Admission, AdmissionContext, CapRef, EnforcerRunner, IntentRequest, admit};
pub use open::{ADAPTERS_MAX, EffectsState, OPEN_INTENTS_MAX, OpenIntent};
