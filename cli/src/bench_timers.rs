//! `world bench timers`: N timers due at the same instant, through the real host (timer adapter,
//! signed receipts, one durable commit per receipt, each delivered to its reducer).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;
use worldline_adapters::{Host, HostOptions, Quiescence};
use worldline_kernel::config::WorldConfig;
use worldline_kernel::record::RecordBody;

use crate::failure::Failure;
use crate::host_cmd::adapter;
use crate::world_cmd::{create_world, ingress_now, kernel};

/// How far ahead the timers are due: enough to journal them all first.
const LEAD_MS: u64 = 1_000;
/// Longest the bench waits for every timer.
const WAIT_MS_MAX: u64 = 120_000;

/// Runs the timers bench with `count` timers; prints the figures.
pub fn run(count: u64, as_json: bool) -> Result<(), Failure> {
    let scratch = tempfile::tempdir().map_err(|e| Failure::message(format!("temp dir: {e}")))?;
    let dir = scratch.path().join("timers");
    let air = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data/emitter");
    let mut world = create_world(&dir, &air, &[], WorldConfig::default())?;
    let deadline_ns = ingress_now()?.now_ns + LEAD_MS * 1_000_000;
    let mut inputs = Vec::new();
    for i in 0..count {
        let params = timer_params(deadline_ns, i);
        let spec = json!({"Emit": {"kind": "timer.set", "params": params, "cap_slot": "timer"}});
        let event = world
            .event_from_json("test/EmitterEvent@1", &spec)
            .map_err(kernel(&dir))?;
        inputs.push((event, ingress_now()?));
    }
    let journal_started = Instant::now();
    world.submit(inputs, true).map_err(kernel(&dir))?;
    let journal_ms = journal_started.elapsed().as_secs_f64() * 1e3;
    let mut host = Host::start(world, HostOptions::default()).map_err(adapter(&dir))?;
    host.dispatch();
    let quiescence = host
        .run_until_quiescent(Duration::from_millis(WAIT_MS_MAX))
        .map_err(adapter(&dir))?;
    let done_ns = ingress_now()?.now_ns;
    let world = host.into_world();
    let fired = world
        .records(0, usize::MAX)
        .map_err(kernel(&dir))?
        .iter()
        .filter(|(r, _)| matches!(r.body, RecordBody::Receipt(_)))
        .count();
    let after_deadline_ms = done_ns.saturating_sub(deadline_ns) as f64 / 1e6;
    let receipts_per_s = fired as f64 / (after_deadline_ms / 1e3).max(1e-9);
    let still_open = match quiescence {
        Quiescence::Quiet => 0,
        Quiescence::TimedOut(open) => open,
    };
    if as_json {
        println!(
            "{}",
            json!({"timers": count, "fired": fired, "still_open": still_open,
                "journal_ms": journal_ms, "all_fired_ms_after_deadline": after_deadline_ms,
                "receipts_per_s": receipts_per_s})
        );
    } else {
        println!("timers       {count} due at the same instant");
        println!("journaled    {count} intents + decisions in one commit: {journal_ms:.1} ms");
        println!("fired        {fired} of {count} ({still_open} still open)");
        println!(
            "all fired    {after_deadline_ms:.1} ms after the deadline ({receipts_per_s:.0} receipts/s, one durable commit each)"
        );
    }
    if fired as u64 != count {
        return Err(Failure::message(format!(
            "only {fired} of {count} timers fired"
        )));
    }
    Ok(())
}

/// `sys/TimerSetParams@1` as base64 CBOR (the emitter takes raw params): a distinct key per
/// timer, so each is its own intent.
fn timer_params(deliver_at_ns: u64, index: u64) -> String {
    use base64::Engine;
    let value = json!({"deliver_at_ns": deliver_at_ns, "key": format!("t{index}")});
    let bytes = worldline_air::cbor::json_canonical_bytes(&value).unwrap_or_default();
    let body = bytes
        .strip_prefix(&worldline_air::cbor::SELF_DESCRIBE)
        .unwrap_or(&bytes);
    base64::engine::general_purpose::STANDARD.encode(body)
}
