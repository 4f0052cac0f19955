//! The host's contact with wall time and the OS random source: ingress stamps come from here,
//! never from the kernel.

use std::time::{SystemTime, UNIX_EPOCH};

use worldline_kernel::Ingress;

use crate::error::AdapterError;

/// Wall-clock time, ns since the epoch (0 if the clock is before the epoch).
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// 32 bytes from the OS random source.
pub fn entropy() -> Result<[u8; 32], AdapterError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AdapterError::Entropy(e.to_string()))?;
    Ok(bytes)
}

/// The stamp of an input entering now.
pub fn ingress_now() -> Result<Ingress, AdapterError> {
    Ok(Ingress {
        now_ns: now_ns(),
        entropy: entropy()?,
    })
}
