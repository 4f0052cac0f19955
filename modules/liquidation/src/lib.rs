//! `demo/Liquidation@1`, the reducer of `worlds/liquidation`: it watches a simulated ETH lending
//! position against a price feed and records when the price crossed its liquidation price, even
//! if that happened while no host ran.
//!
//! - `Start{collateral_milli_eth, debt_cents, min_collateral_ratio_pct, feed, poll_every_ms}`
//!   sets the position (liquidation price = debt × ratio ÷ collateral) and sets a timer for now.
//! - Each `Tick` (the timer's receipt) emits `demo/LiqFetch@1` for `FEED/price`, which starts
//!   `demo/fetch_price_plan@1` (HTTP is a plan effect), and sets the next timer
//!   `poll_every_ms` after the tick's real delivery time.
//! - The plan raises `Body{request_id, purpose, status, body_ref}`; the reducer fetches the body
//!   with `blob.get`, and `Got` parses it (the feed's JSON: `{"at_ns", "price_cents"}` or a list
//!   of them) and compares each price with the liquidation price.
//! - `Resumed{from_ns, to_ns}` (raised by `demo/on_resume_plan@1` from `sys/WorldResumed@1`)
//!   asks the feed for `FEED/history?from=…&to=…&step_ms=…` over the gap: the first slot at or
//!   below the liquidation price is the breach, with its own time and `via: "history"`.
//!
//! The breach kept is always the earliest one known, so the order in which a late poll and the
//! history arrive does not change it. Times come from receipts, the feed's bodies and the step
//! context (`sys/ReducerContext@1`, the journaled ingress stamp): never from a clock.

use serde::{Deserialize, Serialize};
use worldline_sdk::{BlobGetResult, Effect, Output, ReduceError, Reducer, Step, TimerFired};

/// The schema of the event that starts a fetch plan.
pub const FETCH_SCHEMA: &str = "demo/LiqFetch@1";
/// The key of the poll timer.
pub const POLL_TIMER_KEY: &str = "poll";
/// A fetch of the current price.
pub const PURPOSE_POLL: &str = "poll";
/// A fetch of the prices during a gap.
pub const PURPOSE_HISTORY: &str = "history";
/// The finest history step asked for, ms.
pub const HISTORY_STEP_MS_MIN: u64 = 250;
/// The most history slots asked for at once (the feed allows more).
pub const HISTORY_SLOTS_MAX: u64 = 1_000;

/// `demo/LiqPosition@1`: the position watched.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// ETH deposited as collateral, in thousandths of an ETH.
    pub collateral_milli_eth: u64,
    /// What was borrowed against it, in cents.
    pub debt_cents: u64,
    /// The collateral ratio below which the position is liquidated, in percent.
    pub min_collateral_ratio_pct: u64,
    /// The ETH price at or below which that happens, in cents.
    pub liquidation_price_cents: u64,
}

/// `demo/LiqBreach@1`: when the price reached the liquidation price.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Breach {
    /// When the feed says the price was there, ns since the epoch.
    pub at_ns: u64,
    /// The price then, in cents.
    pub price_cents: u64,
    /// When the world learned it (the ingress time of the body's receipt), ns.
    pub detected_at_ns: u64,
    /// `poll` (seen live) or `history` (found in a gap).
    pub via: String,
}

/// `demo/LiqGap@1`: a gap the world heard about, and what the history showed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    /// The last input's time before the gap, ns.
    pub from_ns: u64,
    /// When the world resumed, ns.
    pub to_ns: u64,
    /// History slots checked for it (0 until the history arrives).
    pub slots_checked: u64,
}

/// `demo/LiqPending@1`: a body being fetched from the CAS, and why it was asked for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The body's reference (`sha256:<hex>`).
    pub blob_ref: String,
    /// `poll` or `history`.
    pub purpose: String,
}

/// `demo/LiqState@1`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiqState {
    /// The position, once started.
    pub position: Option<Position>,
    /// Where the price feed is (an origin such as `http://prices.demo`).
    pub feed: String,
    /// How often the price is polled, ms.
    pub poll_every_ms: u64,
    /// The last price seen, in cents.
    pub last_price_cents: Option<u64>,
    /// When the feed quoted it, ns.
    pub last_price_at_ns: Option<u64>,
    /// Price quotes read by polling.
    pub polls: u64,
    /// Fetches that failed (HTTP status other than 200, a body that did not parse).
    pub fetch_failures: u64,
    /// The id the next fetch gets.
    pub next_request_id: u64,
    /// Bodies being read.
    pub pending: Vec<Pending>,
    /// Gaps heard of, oldest first.
    pub gaps: Vec<Gap>,
    /// The earliest time the price was seen at or below the liquidation price.
    pub breach: Option<Breach>,
}

/// `demo/LiqStart@1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Start {
    /// ETH deposited, in thousandths of an ETH.
    pub collateral_milli_eth: u64,
    /// Debt, in cents.
    pub debt_cents: u64,
    /// The collateral ratio below which the position is liquidated, in percent.
    pub min_collateral_ratio_pct: u64,
    /// The price feed's origin, e.g. `http://prices.demo`.
    pub feed: String,
    /// How often to poll, ms.
    pub poll_every_ms: u64,
}

/// `demo/LiqFetch@1`: starts `demo/fetch_price_plan@1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fetch {
    /// Tells fetches apart.
    pub request_id: u64,
    /// What to GET.
    pub url: String,
    /// `poll` or `history`.
    pub purpose: String,
}

/// `demo/LiqBody@1`: what the plan reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Body {
    /// The fetch's id.
    pub request_id: u64,
    /// `poll` or `history`.
    pub purpose: String,
    /// The HTTP status.
    pub status: i64,
    /// The body in the CAS.
    pub body_ref: Option<String>,
}

/// `demo/LiqResumed@1`: the world resumed after a gap.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resumed {
    /// The last input's time before the gap, ns.
    pub from_ns: u64,
    /// When the world resumed, ns.
    pub to_ns: u64,
}

/// `demo/LiqEvent@1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "$tag", content = "$value")]
pub enum LiqEvent {
    /// Watch a position.
    Start(Start),
    /// The poll timer fired.
    Tick(TimerFired),
    /// A fetch finished.
    Body(Body),
    /// A body was read from the CAS.
    Got(BlobGetResult),
    /// The world resumed after a gap.
    Resumed(Resumed),
}

mod quotes;

pub use quotes::{Quote, parse_quotes};

/// The price at or below which `position` is liquidated, in cents: the price at which the
/// collateral is worth exactly `ratio × debt`, rounded up.
pub fn liquidation_price_cents(
    collateral_milli_eth: u64,
    debt_cents: u64,
    min_collateral_ratio_pct: u64,
) -> Result<u64, ReduceError> {
    if collateral_milli_eth == 0 {
        return Err(ReduceError::new("collateral_milli_eth must be positive"));
    }
    let top = u128::from(debt_cents) * u128::from(min_collateral_ratio_pct) * 1_000;
    let bottom = u128::from(collateral_milli_eth) * 100;
    u64::try_from(top.div_ceil(bottom)).map_err(|_| ReduceError::new("liquidation price overflows"))
}

/// The reducer.
pub struct Liquidation;

fn now_ns(step: &Step) -> Result<u64, ReduceError> {
    step.context()?
        .map(|c| c.now_ns)
        .ok_or_else(|| ReduceError::new("the module must declare abi.reducer.context"))
}

fn ms_to_ns(ms: u64) -> u64 {
    ms.saturating_mul(1_000_000)
}

impl LiqState {
    fn fetch(&mut self, url: String, purpose: &str) -> Fetch {
        let request_id = self.next_request_id;
        self.next_request_id += 1;
        Fetch {
            request_id,
            url,
            purpose: purpose.to_owned(),
        }
    }

    /// Keeps `quote` as the breach if it is at or below the liquidation price and earlier than
    /// any breach known.
    fn consider(&mut self, quote: Quote, detected_at_ns: u64, via: &str) -> bool {
        let Some(position) = &self.position else {
            return false;
        };
        let earlier = self.breach.as_ref().is_none_or(|b| quote.at_ns < b.at_ns);
        if quote.price_cents > position.liquidation_price_cents || !earlier {
            return false;
        }
        self.breach = Some(Breach {
            at_ns: quote.at_ns,
            price_cents: quote.price_cents,
            detected_at_ns,
            via: via.to_owned(),
        });
        true
    }
}

impl Reducer for Liquidation {
    type State = LiqState;
    type Event = LiqEvent;

    fn reduce(
        state: Option<LiqState>,
        event: LiqEvent,
        step: &Step,
    ) -> Result<Output<LiqState>, ReduceError> {
        let mut s = state.unwrap_or_default();
        match event {
            LiqEvent::Start(start) => {
                let liquidation_price_cents = liquidation_price_cents(
                    start.collateral_milli_eth,
                    start.debt_cents,
                    start.min_collateral_ratio_pct,
                )?;
                s = LiqState {
                    position: Some(Position {
                        collateral_milli_eth: start.collateral_milli_eth,
                        debt_cents: start.debt_cents,
                        min_collateral_ratio_pct: start.min_collateral_ratio_pct,
                        liquidation_price_cents,
                    }),
                    feed: start.feed.trim_end_matches('/').to_owned(),
                    poll_every_ms: start.poll_every_ms.max(1),
                    ..LiqState::default()
                };
                let timer = Effect::timer_set("timer", now_ns(step)?, Some(POLL_TIMER_KEY));
                Ok(Output::new(s).effect(timer))
            }
            LiqEvent::Tick(fired) => {
                if s.position.is_none() {
                    return Ok(Output::new(s));
                }
                let next_ns = fired
                    .receipt
                    .delivered_at_ns
                    .max(fired.requested.deliver_at_ns)
                    .saturating_add(ms_to_ns(s.poll_every_ms));
                let fetch = s.fetch(format!("{}/price", s.feed), PURPOSE_POLL);
                let timer = Effect::timer_set("timer", next_ns, Some(POLL_TIMER_KEY));
                Ok(Output::new(s).emit(FETCH_SCHEMA, &fetch).effect(timer))
            }
            LiqEvent::Resumed(resumed) => {
                if s.position.is_none() {
                    return Ok(Output::new(s));
                }
                s.gaps.push(Gap {
                    from_ns: resumed.from_ns,
                    to_ns: resumed.to_ns,
                    slots_checked: 0,
                });
                let span_ms = resumed.to_ns.saturating_sub(resumed.from_ns) / 1_000_000;
                let step_ms = span_ms.div_ceil(HISTORY_SLOTS_MAX).max(HISTORY_STEP_MS_MIN);
                let url = format!(
                    "{}/history?from={}&to={}&step_ms={step_ms}",
                    s.feed, resumed.from_ns, resumed.to_ns
                );
                let fetch = s.fetch(url, PURPOSE_HISTORY);
                Ok(Output::new(s).emit(FETCH_SCHEMA, &fetch))
            }
            LiqEvent::Body(body) => match body.body_ref {
                Some(blob_ref) if body.status == 200 => {
                    s.pending.push(Pending {
                        blob_ref: blob_ref.clone(),
                        purpose: body.purpose,
                    });
                    Ok(Output::new(s).effect(Effect::blob_get("blob", &blob_ref)))
                }
                _ => {
                    s.fetch_failures += 1;
                    Ok(Output::new(s))
                }
            },
            LiqEvent::Got(got) => {
                let wanted = &got.requested.blob_ref;
                let Some(index) = s.pending.iter().position(|p| &p.blob_ref == wanted) else {
                    return Ok(Output::new(s));
                };
                let pending = s.pending.remove(index);
                let quotes = if got.is_ok() {
                    std::str::from_utf8(&got.receipt.bytes.0)
                        .map_err(|e| e.to_string())
                        .and_then(parse_quotes)
                } else {
                    Err(format!("blob.get {}", got.status))
                };
                let Ok(quotes) = quotes else {
                    s.fetch_failures += 1;
                    return Ok(Output::new(s));
                };
                let detected_at_ns = now_ns(step)?;
                if pending.purpose == PURPOSE_HISTORY {
                    if let Some(gap) = s.gaps.last_mut() {
                        gap.slots_checked = u64::try_from(quotes.len()).unwrap_or(u64::MAX);
                    }
                    // The first slot at or below the liquidation price is when it happened.
                    for quote in quotes {
                        if s.consider(quote, detected_at_ns, PURPOSE_HISTORY) {
                            break;
                        }
                    }
                } else {
                    for quote in quotes {
                        s.polls += 1;
                        if s.last_price_at_ns.is_none_or(|at| quote.at_ns >= at) {
                            s.last_price_cents = Some(quote.price_cents);
                            s.last_price_at_ns = Some(quote.at_ns);
                        }
                        s.consider(quote, detected_at_ns, PURPOSE_POLL);
                    }
                }
                Ok(Output::new(s))
            }
        }
    }
}

worldline_sdk::reducer!(Liquidation);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use worldline_sdk::{
        BlobGetParams, BlobGetReceipt, Bytes, Context, ReceiptEvent, TimerSetParams,
        TimerSetReceipt, to_cbor,
    };

    const S: u64 = 1_000_000_000;

    fn step_at(now_ns: u64) -> Step {
        let ctx = Context {
            now_ns,
            logical_now_ns: now_ns,
            journal_height: 1,
            entropy: Bytes(vec![0; 32]),
            event_hash: String::new(),
            manifest_hash: String::new(),
            reducer: "demo/Liquidation@1".into(),
            key: None,
            cell_mode: false,
        };
        Step {
            schema: "demo/LiqEvent@1".into(),
            key: None,
            ctx: Some(to_cbor(&ctx).unwrap()),
        }
    }

    fn receipt<P, R>(requested: P, receipt: R) -> ReceiptEvent<P, R> {
        ReceiptEvent {
            intent_hash: String::new(),
            reducer: "demo/Liquidation@1".into(),
            effect_kind: String::new(),
            adapter_id: String::new(),
            status: "ok".into(),
            requested,
            receipt,
            cost_cents: None,
            signature: Bytes(Vec::new()),
        }
    }

    fn run(state: Option<LiqState>, event: LiqEvent, now_ns: u64) -> Output<LiqState> {
        Liquidation::reduce(state, event, &step_at(now_ns)).unwrap()
    }

    fn started() -> LiqState {
        let start = Start {
            collateral_milli_eth: 10_000,
            debt_cents: 1_260_000,
            min_collateral_ratio_pct: 150,
            feed: "http://prices.demo/".into(),
            poll_every_ms: 1_000,
        };
        run(None, LiqEvent::Start(start), 100 * S)
            .state()
            .unwrap()
            .clone()
    }

    /// Feeds a body through Body and Got.
    fn deliver(s: LiqState, purpose: &str, text: &str, now_ns: u64) -> LiqState {
        let blob_ref = worldline_sdk::blob_ref(text.as_bytes());
        let body = Body {
            request_id: 0,
            purpose: purpose.into(),
            status: 200,
            body_ref: Some(blob_ref.clone()),
        };
        let s = run(Some(s), LiqEvent::Body(body), now_ns)
            .state()
            .unwrap()
            .clone();
        let got = receipt(
            BlobGetParams {
                blob_ref: blob_ref.clone(),
            },
            BlobGetReceipt {
                blob_ref,
                size: text.len() as u64,
                bytes: Bytes(text.as_bytes().to_vec()),
            },
        );
        run(Some(s), LiqEvent::Got(got), now_ns)
            .state()
            .unwrap()
            .clone()
    }

    #[test]
    fn the_liquidation_price_is_debt_times_ratio_over_collateral() {
        assert_eq!(started().position.unwrap().liquidation_price_cents, 189_000);
        assert!(liquidation_price_cents(0, 1, 1).is_err());
    }

    #[test]
    fn a_tick_fetches_the_price_and_sets_the_next_timer() {
        let fired = receipt(
            TimerSetParams {
                deliver_at_ns: 100 * S,
                key: Some("poll".into()),
            },
            TimerSetReceipt {
                delivered_at_ns: 100 * S + 5,
                key: Some("poll".into()),
            },
        );
        let out = run(Some(started()), LiqEvent::Tick(fired), 100 * S + 6)
            .encode()
            .unwrap();
        assert_eq!(out.domain_events.len(), 1);
        assert_eq!(out.domain_events[0].schema, FETCH_SCHEMA);
        assert_eq!(out.effects.len(), 1);
        assert_eq!(out.effects[0].kind, "timer.set");
    }

    #[test]
    fn polls_track_the_price_and_a_gap_is_filled_from_history_with_the_breach_time() {
        let s = deliver(
            started(),
            "poll",
            r#"{"at_ns":101000000000,"price_cents":195000}"#,
            101 * S,
        );
        assert_eq!(
            (s.polls, s.last_price_cents, s.breach.clone()),
            (1, Some(195_000), None)
        );

        let resumed = Resumed {
            from_ns: 101 * S,
            to_ns: 111 * S,
        };
        let out = run(Some(s), LiqEvent::Resumed(resumed), 111 * S);
        let s = out.state().unwrap().clone();
        let fetch = out.encode().unwrap().domain_events.remove(0);
        let fetch: Fetch = worldline_sdk::from_cbor(&fetch.value).unwrap();
        assert_eq!(
            fetch.url,
            "http://prices.demo/history?from=101000000000&to=111000000000&step_ms=250"
        );
        assert_eq!(fetch.purpose, "history");

        // A late poll arrives first and sees the price below: a breach, seen now.
        let s = deliver(
            s,
            "poll",
            r#"{"at_ns":111000000000,"price_cents":180000}"#,
            111 * S,
        );
        assert_eq!(s.breach.as_ref().unwrap().via, "poll");
        // The history shows when it really happened: the earlier slot replaces it.
        let history = r#"[{"at_ns":101000000000,"price_cents":195000},
            {"at_ns":105000000000,"price_cents":189500},
            {"at_ns":106000000000,"price_cents":189000},
            {"at_ns":107000000000,"price_cents":188000}]"#;
        let s = deliver(s, "history", history, 112 * S);
        let breach = s.breach.clone().unwrap();
        assert_eq!(
            breach,
            Breach {
                at_ns: 106 * S,
                price_cents: 189_000,
                detected_at_ns: 112 * S,
                via: "history".into()
            }
        );
        assert_eq!(s.gaps[0].slots_checked, 4);
        assert!(s.pending.is_empty());
        // A later poll does not move it.
        let s = deliver(
            s,
            "poll",
            r#"{"at_ns":113000000000,"price_cents":170000}"#,
            113 * S,
        );
        assert_eq!(s.breach.unwrap(), breach);
    }

    #[test]
    fn bad_bodies_and_statuses_count_as_failures() {
        let s = deliver(started(), "poll", r#"{"price_cents":1}"#, 101 * S);
        assert_eq!((s.fetch_failures, s.polls), (1, 0));
        let body = Body {
            request_id: 1,
            purpose: "poll".into(),
            status: 500,
            body_ref: None,
        };
        let s = run(Some(s), LiqEvent::Body(body), 102 * S)
            .state()
            .unwrap()
            .clone();
        assert_eq!(s.fetch_failures, 2);
        assert_eq!(parse_quotes("[]").unwrap(), vec![]);
        assert!(parse_quotes(r#"{"at_ns":1,"price_cents":"#).is_err());
    }
}
