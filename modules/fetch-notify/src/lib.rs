//! `demo/FetchNotify@1`, the reducer of `worlds/fetch-notify` (AgentOS example 03).
//!
//! `Start{url, method}` while idle moves to `Fetching` and emits the `demo/FetchRequest@1`
//! domain event (with a fresh request id), which triggers `demo/fetch_plan@1`. The plan does the
//! HTTP request and raises `NotifyComplete{status, body_preview}` back here: the reducer records
//! the status and the `sha256:` reference of the preview text and reaches `Done`.

use serde::{Deserialize, Serialize};
use worldline_sdk::{Output, ReduceError, Reducer, Step, blob_ref};

/// `demo/FetchNotifyPc@1`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "$tag", content = "$value")]
pub enum FetchNotifyPc {
    /// Not started.
    #[default]
    Idle,
    /// The plan is fetching.
    Fetching,
    /// The result arrived.
    Done,
}

/// `demo/FetchNotifyState@1`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchNotifyState {
    /// The phase.
    pub pc: FetchNotifyPc,
    /// The id the next request gets.
    pub next_request_id: u64,
    /// The request in flight.
    pub pending_request: Option<u64>,
    /// The HTTP status the plan reported.
    pub last_status: Option<i64>,
    /// The `sha256:` reference of the body preview the plan reported.
    pub last_body_ref: Option<String>,
}

/// `demo/FetchNotifyStart@1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchNotifyStart {
    /// What to fetch.
    pub url: String,
    /// With which method.
    pub method: String,
}

/// `demo/FetchNotifyComplete@1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchNotifyComplete {
    /// The HTTP status.
    pub status: i64,
    /// The start of the response body.
    pub body_preview: String,
}

/// `demo/FetchNotifyEvent@1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "$tag", content = "$value")]
pub enum FetchNotifyEvent {
    /// Fetch something.
    Start(FetchNotifyStart),
    /// The plan's result.
    NotifyComplete(FetchNotifyComplete),
}

/// `demo/FetchRequest@1`: the domain event that starts the plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchRequest {
    /// Correlates the plan instance with this request.
    pub request_id: u64,
    /// What to fetch.
    pub url: String,
    /// With which method.
    pub method: String,
}

/// The reducer.
pub struct FetchNotify;

impl Reducer for FetchNotify {
    type State = FetchNotifyState;
    type Event = FetchNotifyEvent;

    fn reduce(
        state: Option<FetchNotifyState>,
        event: FetchNotifyEvent,
        _step: &Step,
    ) -> Result<Output<FetchNotifyState>, ReduceError> {
        let mut s = state.unwrap_or_default();
        match event {
            FetchNotifyEvent::Start(start) if s.pc != FetchNotifyPc::Fetching => {
                let request_id = s.next_request_id;
                s.pc = FetchNotifyPc::Fetching;
                s.pending_request = Some(request_id);
                s.next_request_id += 1;
                let request = FetchRequest {
                    request_id,
                    url: start.url,
                    method: start.method,
                };
                Ok(Output::new(s).emit("demo/FetchRequest@1", &request))
            }
            FetchNotifyEvent::NotifyComplete(done) if s.pc == FetchNotifyPc::Fetching => {
                s.pc = FetchNotifyPc::Done;
                s.pending_request = None;
                s.last_status = Some(done.status);
                s.last_body_ref = Some(blob_ref(done.body_preview.as_bytes()));
                Ok(Output::new(s))
            }
            FetchNotifyEvent::Start(_) | FetchNotifyEvent::NotifyComplete(_) => Ok(Output::new(s)),
        }
    }
}

worldline_sdk::reducer!(FetchNotify);
