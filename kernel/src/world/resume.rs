//! Catch-up: when a world opens after its host was down, it journals the gap.
//!
//! The gap runs from the logical time of the last journaled input to the ingress time of the
//! resumption. It is journaled as one `gap` input (its stamp is the resumption's), which raises
//! `sys/WorldResumed@1` (see the stepper's `resume.rs`), all in one durable commit. The host calls
//! [`World::resume`] right after opening, before it dispatches anything, so the receipts of
//! timers that fell due while the world was down come after the gap.

use super::{Ingress, World};
use crate::error::Result;
use crate::record::RecordBody;

/// The shortest silence, in nanoseconds, that counts as downtime: one minute.
///
/// A gap wakes every reducer and plan that routes `sys/WorldResumed@1`, so it should mean "time
/// passed that the world may have missed", not "the host restarted": restarts within a minute
/// (a crash loop, a deploy, a script running `world send` in a row) journal nothing. What such a
/// short outage delays is still visible: an overdue timer fires at once and its receipt carries
/// the real delivery time. A minute is the finest schedule agent logic commonly keeps (cron-like
/// ticks), so any outage long enough to skip a whole such tick is journaled as a gap. The
/// threshold only decides when the host journals a gap; replay never consults it (the gap is an
/// input), so it can change without touching old journals.
pub const GAP_NS_MIN: u64 = 60 * 1_000_000_000;

/// What [`World::resume`] journaled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resumption {
    /// The last input's logical time before the gap, ns.
    pub from_ns: u64,
    /// The time of resumption (the gap's ingress time), ns.
    pub to_ns: u64,
    /// The seqs appended: the `gap` record first, then `sys/WorldResumed@1` and what it caused.
    pub seqs: Vec<u64>,
}

impl World {
    /// Journals the gap since the last input if it is at least [`GAP_NS_MIN`]: one `gap` input
    /// `{from_ns: last input's logical time, to_ns: ingress.now_ns}` and the
    /// `sys/WorldResumed@1` event it raises, with everything that causes, in one durable commit.
    /// Returns what it appended, or `None` if the silence was shorter (nothing is written).
    ///
    /// Calling it again at once journals nothing: the gap is then the last input.
    pub fn resume(&mut self, ingress: Ingress) -> Result<Option<Resumption>> {
        self.resume_after(ingress, GAP_NS_MIN)
    }

    /// [`World::resume`] with another threshold: journals the gap if the silence is at least
    /// `gap_ns_min` ns (a host flag, for demos and tests that cannot wait a minute). The
    /// threshold only decides whether the `gap` input is appended; replay never reads it.
    pub fn resume_after(
        &mut self,
        ingress: Ingress,
        gap_ns_min: u64,
    ) -> Result<Option<Resumption>> {
        let from_ns = self.stepper.logical_now_ns();
        let to_ns = ingress.now_ns;
        if to_ns.saturating_sub(from_ns) < gap_ns_min {
            return Ok(None);
        }
        let body = RecordBody::Gap { from_ns, to_ns };
        let mut appended =
            self.append_inputs(vec![(body, Vec::new(), ingress)], Vec::new(), true)?;
        Ok(Some(Resumption {
            from_ns,
            to_ns,
            seqs: appended.pop().unwrap_or_default(),
        }))
    }
}
