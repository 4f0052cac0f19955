//! Effects on the kernel side: admission of intents (grants, enforcers, policy), open work, and
//! the receipts that close it.

pub mod enforce;
