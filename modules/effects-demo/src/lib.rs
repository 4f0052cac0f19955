//! `demo/Notes@1`, the reducer of `worlds/effects-demo`: an allowed effect next to a denied one.
//!
//! `Save{text}` stores the text as a blob (`blob.put`, which the world's policy allows); the put
//! result records the blob's reference. `Remind{deliver_at_ns}` asks for a timer (`timer.set`,
//! which the policy denies: the journal shows the intent and its `policy_denied` decision, and
//! no timer ever fires). The state counts both.

use serde::{Deserialize, Serialize};
use worldline_sdk::{
    BlobPutResult, Effect, Output, ReduceError, Reducer, Step, TimerFired, blob_ref,
};

/// `demo/NotesState@1`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotesState {
    /// References of the stored notes, in order.
    pub saved: Vec<String>,
    /// Reminders asked for.
    pub reminders_asked: u64,
    /// Reminders that fired.
    pub reminders_fired: u64,
}

/// `demo/NoteSave@1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteSave {
    /// The note.
    pub text: String,
}

/// `demo/NoteRemind@1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteRemind {
    /// When to remind (ns since the epoch).
    pub deliver_at_ns: u64,
}

/// `demo/NotesEvent@1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "$tag", content = "$value")]
pub enum NotesEvent {
    /// Store a note.
    Save(NoteSave),
    /// Ask for a reminder.
    Remind(NoteRemind),
    /// A note was stored.
    Saved(BlobPutResult),
    /// A reminder fired.
    Reminded(TimerFired),
}

/// The reducer.
pub struct Notes;

impl Reducer for Notes {
    type State = NotesState;
    type Event = NotesEvent;

    fn reduce(
        state: Option<NotesState>,
        event: NotesEvent,
        _step: &Step,
    ) -> Result<Output<NotesState>, ReduceError> {
        let mut s = state.unwrap_or_default();
        match event {
            NotesEvent::Save(save) => {
                let bytes = save.text.into_bytes();
                let put = Effect::blob_put("blobs", &blob_ref(&bytes), bytes);
                Ok(Output::new(s).effect(put))
            }
            NotesEvent::Remind(remind) => {
                s.reminders_asked += 1;
                let timer = Effect::timer_set("timers", remind.deliver_at_ns, Some("reminder"));
                Ok(Output::new(s).effect(timer))
            }
            NotesEvent::Saved(put) => {
                if put.is_ok() {
                    s.saved.push(put.receipt.blob_ref);
                }
                Ok(Output::new(s))
            }
            NotesEvent::Reminded(_) => {
                s.reminders_fired += 1;
                Ok(Output::new(s))
            }
        }
    }
}

worldline_sdk::reducer!(Notes);
