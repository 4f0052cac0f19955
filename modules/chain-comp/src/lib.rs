//! `demo/ChainComp@1`, the reducer of `worlds/chain-comp` (AgentOS example 05): a saga over
//! four plans, each started by a domain event this reducer emits and correlated by request id.
//!
//! `Start` → `Charging` (emits `ChargeRequested`); a charge below 400 → `Reserving` (emits
//! `ReserveRequested`), otherwise back to `Idle` with the error noted (nothing was charged);
//! `ReserveCompleted` → `Notifying` (emits `NotifyRequested`) and `NotifyCompleted` →
//! `Completed`; `ReserveFailed` → `Refunding` (emits `RefundRequested`, the compensation) and
//! `RefundCompleted` → `Refunded`. Results for another request id are ignored.

use serde::{Deserialize, Serialize};
use worldline_sdk::{Output, ReduceError, Reducer, Step};

/// `demo/ChainPhase@1`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "$tag", content = "$value")]
pub enum ChainPhase {
    /// No saga running.
    #[default]
    Idle,
    /// Charging the customer.
    Charging,
    /// Reserving stock.
    Reserving,
    /// Notifying.
    Notifying,
    /// Refunding after a failed reservation.
    Refunding,
    /// The success path ran.
    Completed,
    /// The compensation path ran.
    Refunded,
}

/// `demo/ChainHttpTarget@1`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHttpTarget {
    /// A label.
    pub name: String,
    /// HTTP method.
    pub method: String,
    /// URL.
    pub url: String,
}

/// `demo/ChainSagaState@1`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainSagaState {
    /// Correlates the plans of this saga.
    pub request_id: u64,
    /// The order.
    pub order_id: String,
    /// The customer.
    pub customer_id: String,
    /// The amount charged.
    pub amount_cents: u64,
    /// What to reserve.
    pub reserve_sku: String,
    /// Charge HTTP status.
    pub charge_status: Option<i64>,
    /// Reserve HTTP status.
    pub reserve_status: Option<i64>,
    /// Notify HTTP status.
    pub notify_status: Option<i64>,
    /// Refund HTTP status.
    pub refund_status: Option<i64>,
    /// What went wrong, if anything.
    pub last_error: Option<String>,
    /// Where to charge.
    pub charge_target: ChainHttpTarget,
    /// Where to reserve.
    pub reserve_target: ChainHttpTarget,
    /// Where to notify.
    pub notify_target: ChainHttpTarget,
    /// Where to refund.
    pub refund_target: ChainHttpTarget,
}

/// `demo/ChainState@1`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainState {
    /// Where the saga is.
    pub phase: ChainPhase,
    /// The id the next saga gets.
    pub next_request_id: u64,
    /// The saga, once started.
    pub current_saga: Option<ChainSagaState>,
}

/// `demo/ChainStart@1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainStart {
    /// The order.
    pub order_id: String,
    /// The customer.
    pub customer_id: String,
    /// The amount.
    pub amount_cents: u64,
    /// What to reserve.
    pub reserve_sku: String,
    /// Charge endpoint.
    pub charge: ChainHttpTarget,
    /// Reserve endpoint.
    pub reserve: ChainHttpTarget,
    /// Notify endpoint.
    pub notify: ChainHttpTarget,
    /// Refund endpoint.
    pub refund: ChainHttpTarget,
}

/// A plan's result with a body preview (`ChainChargeCompleted`, `ChainReserveCompleted`,
/// `ChainReserveFailed`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepResult {
    /// The saga.
    pub request_id: u64,
    /// HTTP status.
    pub status: i64,
    /// The start of the response body.
    pub body_preview: String,
}

/// A plan's result without a preview (`ChainNotifyCompleted`, `ChainRefundCompleted`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusResult {
    /// The saga.
    pub request_id: u64,
    /// HTTP status.
    pub status: i64,
}

/// `demo/ChainEvent@1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "$tag", content = "$value")]
pub enum ChainEvent {
    /// Begin a saga (boxed: it is much larger than the results).
    Start(Box<ChainStart>),
    /// The charge plan's result.
    ChargeCompleted(StepResult),
    /// The reserve plan's success.
    ReserveCompleted(StepResult),
    /// The reserve plan's failure.
    ReserveFailed(StepResult),
    /// The notify plan's result.
    NotifyCompleted(StatusResult),
    /// The refund plan's result.
    RefundCompleted(StatusResult),
}

/// `demo/ChargeRequested@1`.
#[derive(Serialize)]
struct ChargeRequested {
    request_id: u64,
    order_id: String,
    amount_cents: u64,
    customer_id: String,
    target: ChainHttpTarget,
}

/// `demo/ReserveRequested@1`.
#[derive(Serialize)]
struct ReserveRequested {
    request_id: u64,
    order_id: String,
    sku: String,
    target: ChainHttpTarget,
}

/// `demo/NotifyRequested@1`.
#[derive(Serialize)]
struct NotifyRequested {
    request_id: u64,
    order_id: String,
    status_text: String,
    target: ChainHttpTarget,
}

/// `demo/RefundRequested@1`.
#[derive(Serialize)]
struct RefundRequested {
    request_id: u64,
    order_id: String,
    amount_cents: u64,
    target: ChainHttpTarget,
}

/// The event that starts the next plan of the saga, if any.
enum Next {
    Nothing,
    Reserve(ReserveRequested),
    Notify(NotifyRequested),
    Refund(RefundRequested),
}

/// The reducer.
pub struct ChainComp;

fn start(mut s: ChainState, start: ChainStart) -> Output<ChainState> {
    let saga = ChainSagaState {
        request_id: s.next_request_id,
        order_id: start.order_id,
        customer_id: start.customer_id,
        amount_cents: start.amount_cents,
        reserve_sku: start.reserve_sku,
        charge_target: start.charge,
        reserve_target: start.reserve,
        notify_target: start.notify,
        refund_target: start.refund,
        ..ChainSagaState::default()
    };
    let request = ChargeRequested {
        request_id: saga.request_id,
        order_id: saga.order_id.clone(),
        amount_cents: saga.amount_cents,
        customer_id: saga.customer_id.clone(),
        target: saga.charge_target.clone(),
    };
    s.next_request_id += 1;
    s.phase = ChainPhase::Charging;
    s.current_saga = Some(saga);
    Output::new(s).emit("demo/ChargeRequested@1", &request)
}

/// Moves the saga on from `s.phase` on a result that belongs to it.
fn advance(mut s: ChainState, mut saga: ChainSagaState, event: ChainEvent) -> Output<ChainState> {
    use ChainEvent as E;
    use ChainPhase as P;
    let id = saga.request_id;
    let order_id = saga.order_id.clone();
    let (phase, next) = match (s.phase, event) {
        (P::Charging, E::ChargeCompleted(r)) => {
            saga.charge_status = Some(r.status);
            if r.status < 400 {
                let next = ReserveRequested {
                    request_id: id,
                    order_id,
                    sku: saga.reserve_sku.clone(),
                    target: saga.reserve_target.clone(),
                };
                (P::Reserving, Next::Reserve(next))
            } else {
                saga.last_error = Some(format!("charge failed with status {}", r.status));
                (P::Idle, Next::Nothing)
            }
        }
        (P::Reserving, E::ReserveCompleted(r)) => {
            saga.reserve_status = Some(r.status);
            let next = NotifyRequested {
                request_id: id,
                order_id,
                status_text: "reserved".into(),
                target: saga.notify_target.clone(),
            };
            (P::Notifying, Next::Notify(next))
        }
        (P::Reserving, E::ReserveFailed(r)) => {
            saga.reserve_status = Some(r.status);
            saga.last_error = Some(format!("reserve failed with status {}", r.status));
            let next = RefundRequested {
                request_id: id,
                order_id,
                amount_cents: saga.amount_cents,
                target: saga.refund_target.clone(),
            };
            (P::Refunding, Next::Refund(next))
        }
        (P::Notifying, E::NotifyCompleted(r)) => {
            saga.notify_status = Some(r.status);
            (P::Completed, Next::Nothing)
        }
        (P::Refunding, E::RefundCompleted(r)) => {
            saga.refund_status = Some(r.status);
            (P::Refunded, Next::Nothing)
        }
        (phase, _) => (phase, Next::Nothing),
    };
    s.phase = phase;
    s.current_saga = Some(saga);
    let output = Output::new(s);
    match next {
        Next::Nothing => output,
        Next::Reserve(r) => output.emit("demo/ReserveRequested@1", &r),
        Next::Notify(n) => output.emit("demo/NotifyRequested@1", &n),
        Next::Refund(r) => output.emit("demo/RefundRequested@1", &r),
    }
}

fn request_id(event: &ChainEvent) -> Option<u64> {
    match event {
        ChainEvent::Start(_) => None,
        ChainEvent::ChargeCompleted(r)
        | ChainEvent::ReserveCompleted(r)
        | ChainEvent::ReserveFailed(r) => Some(r.request_id),
        ChainEvent::NotifyCompleted(r) | ChainEvent::RefundCompleted(r) => Some(r.request_id),
    }
}

impl Reducer for ChainComp {
    type State = ChainState;
    type Event = ChainEvent;

    fn reduce(
        state: Option<ChainState>,
        event: ChainEvent,
        _step: &Step,
    ) -> Result<Output<ChainState>, ReduceError> {
        let mut s = state.unwrap_or_default();
        let running = matches!(
            s.phase,
            ChainPhase::Charging
                | ChainPhase::Reserving
                | ChainPhase::Notifying
                | ChainPhase::Refunding
        );
        match event {
            ChainEvent::Start(begin) if !running => Ok(start(s, *begin)),
            ChainEvent::Start(_) => Ok(Output::new(s)),
            result => match s.current_saga.take() {
                Some(saga) if Some(saga.request_id) == request_id(&result) => {
                    Ok(advance(s, saga, result))
                }
                saga => {
                    s.current_saga = saga;
                    Ok(Output::new(s))
                }
            },
        }
    }
}

worldline_sdk::reducer!(ChainComp);
