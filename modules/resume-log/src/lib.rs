//! `demo/ResumeLog@1`, the catch-up reducer of `worlds/catch-up`.
//!
//! Its event schema is `sys/WorldResumed@1`, which the kernel raises when the world resumes
//! after downtime. It counts the resumptions, adds up the time missed, and keeps the last
//! `sys/WorldResumed@1` it heard (the gap, the world's DID, its height and last checkpoint), so a
//! reducer beside it, or a person with `world state`, can see what the world missed.

use serde::{Deserialize, Serialize};
use worldline_sdk::{Output, ReduceError, Reducer, Step, WorldResumed};

/// `demo/ResumeLogState@1`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeLogState {
    /// How many times the world resumed after downtime.
    pub resumes: u64,
    /// The downtime of all of them, ns.
    pub missed_ns: u64,
    /// The last resumption heard.
    pub last: Option<WorldResumed>,
}

/// The reducer.
pub struct ResumeLog;

impl Reducer for ResumeLog {
    type State = ResumeLogState;
    type Event = WorldResumed;

    fn reduce(
        state: Option<ResumeLogState>,
        resumed: WorldResumed,
        _step: &Step,
    ) -> Result<Output<ResumeLogState>, ReduceError> {
        let mut s = state.unwrap_or_default();
        s.resumes = s.resumes.checked_add(1).ok_or("resumes overflows a nat")?;
        s.missed_ns = s
            .missed_ns
            .checked_add(resumed.gap_ns)
            .ok_or("missed_ns overflows a nat")?;
        s.last = Some(resumed);
        Ok(Output::new(s))
    }
}

worldline_sdk::reducer!(ResumeLog);

#[cfg(test)]
mod tests {
    use worldline_sdk::envelope::{EventEntry, StepInput, StepOutput};
    use worldline_sdk::{from_cbor, to_cbor};

    use super::*;

    fn resumed(gap_ns: u64) -> WorldResumed {
        WorldResumed {
            from_ns: 1_000,
            to_ns: 1_000 + gap_ns,
            gap_ns,
            did: "did:key:z6Mk".into(),
            journal_height: 7,
            last_checkpoint: None,
        }
    }

    fn run(state: Option<&ResumeLogState>, event: &WorldResumed) -> ResumeLogState {
        let input = StepInput {
            ctx: None,
            event: EventEntry {
                schema: "sys/WorldResumed@1".into(),
                value: to_cbor(event).unwrap(),
                key: None,
            },
            state: state.map(|s| to_cbor(s).unwrap()),
        };
        let output = StepOutput::decode(&step(&input.encode()).unwrap()).unwrap();
        assert!(output.effects.is_empty() && output.domain_events.is_empty());
        from_cbor(&output.state.unwrap()).unwrap()
    }

    #[test]
    fn counts_resumptions_adds_up_the_gaps_and_keeps_the_last() {
        let first = run(None, &resumed(60));
        assert_eq!((first.resumes, first.missed_ns), (1, 60));
        let second = run(Some(&first), &resumed(5));
        assert_eq!((second.resumes, second.missed_ns), (2, 65));
        assert_eq!(second.last, Some(resumed(5)));
    }
}
