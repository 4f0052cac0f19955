//! The host's contact with wall time and the OS random source: ingress stamps come from here,
//! never from the kernel.
//!
//! For tests the wall clock can be moved forward: [`CLOCK_OFFSET_ENV`]
//! (`WORLDLINE_CLOCK_OFFSET_MS`) adds that many milliseconds to every reading in the process —
//! ingress stamps, adapters' start and finish times, and the timer adapter's wait (it compares
//! the deadline with this same clock). A host started with the offset behaves as if it were
//! started that much later: overdue timers fire at once, and the world journals the gap.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use worldline_kernel::Ingress;

use crate::error::AdapterError;

/// Environment variable: milliseconds (a whole number) added to the wall clock, for tests of
/// catch-up. Read once per process; unset or empty means 0.
pub const CLOCK_OFFSET_ENV: &str = "WORLDLINE_CLOCK_OFFSET_MS";

/// The largest accepted offset: about 100 years, in milliseconds.
pub const CLOCK_OFFSET_MS_MAX: u64 = 100 * 365 * 24 * 3_600 * 1_000;

/// The offset from [`CLOCK_OFFSET_ENV`], in milliseconds (0 when unset).
pub fn clock_offset_ms() -> Result<u64, AdapterError> {
    static OFFSET_MS: OnceLock<Result<u64, String>> = OnceLock::new();
    OFFSET_MS
        .get_or_init(|| parse_offset_ms(std::env::var_os(CLOCK_OFFSET_ENV)))
        .clone()
        .map_err(AdapterError::Clock)
}

fn parse_offset_ms(value: Option<std::ffi::OsString>) -> Result<u64, String> {
    let Some(value) = value else {
        return Ok(0);
    };
    let text = value.to_string_lossy();
    if text.trim().is_empty() {
        return Ok(0);
    }
    text.trim()
        .parse::<u64>()
        .ok()
        .filter(|ms| *ms <= CLOCK_OFFSET_MS_MAX)
        .ok_or_else(|| {
            format!(
                "{CLOCK_OFFSET_ENV}={text}: expected a whole number of milliseconds from 0 to {CLOCK_OFFSET_MS_MAX}"
            )
        })
}

/// The system clock plus the offset, ns since the epoch; an error if the system clock is before
/// the epoch, past what a u64 of ns holds, or the offset is invalid.
pub fn wall_now_ns() -> Result<u64, AdapterError> {
    let offset_ns = clock_offset_ms()? * 1_000_000;
    let system_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| AdapterError::Clock("the system clock is before 1970".into()))?
        .as_nanos();
    u64::try_from(system_ns)
        .ok()
        .and_then(|ns| ns.checked_add(offset_ns))
        .ok_or_else(|| AdapterError::Clock("the clock is past 2554".into()))
}

/// Wall-clock time (with the offset), ns since the epoch; 0 if the clock is unusable.
///
/// For adapters' start and finish times and the timer's wait: every host and command stamps an
/// input with [`ingress_now`] before an adapter runs, and that reports an unusable clock or
/// offset, so this never runs with one in practice.
pub fn now_ns() -> u64 {
    wall_now_ns().unwrap_or(0)
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
        now_ns: wall_now_ns()?,
        entropy: entropy()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offset_is_a_whole_number_of_milliseconds_or_nothing() {
        assert_eq!(parse_offset_ms(None), Ok(0));
        assert_eq!(parse_offset_ms(Some("".into())), Ok(0));
        assert_eq!(parse_offset_ms(Some(" 3600000 ".into())), Ok(3_600_000));
        assert_eq!(
            parse_offset_ms(Some(CLOCK_OFFSET_MS_MAX.to_string().into())),
            Ok(CLOCK_OFFSET_MS_MAX)
        );
        for bad in ["-1", "1.5", "1h", "99999999999999999999"] {
            let error = parse_offset_ms(Some(bad.into())).unwrap_err();
            assert!(
                error.starts_with(&format!("{CLOCK_OFFSET_ENV}={bad}: ")),
                "{error}"
            );
        }
        let too_far = (CLOCK_OFFSET_MS_MAX + 1).to_string();
        assert!(parse_offset_ms(Some(too_far.into())).is_err());
    }
}
