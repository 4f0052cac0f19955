//! `world send`: one event from the command line, run to idle (and its effects to quiescence),
//! or, when a `world run` holds the world, submitted inside it ([`crate::held`]).

use std::path::Path;

use serde_json::{Value as Json, json};
use worldline_kernel::World;
use worldline_kernel::record::RecordBody;

use crate::failure::Failure;
use crate::held::{Access, in_use_or};
use crate::host_cmd::HostFlags;
use crate::output::{errln, outln};
use crate::render::{record_json, record_line};
use crate::world_cmd::{for_each_record, ingress_now, kernel};

fn read_event(text: &str) -> Result<Json, Failure> {
    let text = match text.strip_prefix('@') {
        Some(file) => {
            std::fs::read_to_string(file).map_err(|e| Failure::message(format!("{file}: {e}")))?
        }
        None => text.to_owned(),
    };
    worldline_air::json::parse_strict(&text).map_err(|e| Failure::message(format!("event: {e}")))
}

/// `world send`: appends the event, runs what it causes (waiting up to `timeout_ms` for its
/// effects), prints the records appended.
pub(crate) fn send(
    access: &mut Access,
    dir: &Path,
    schema: &str,
    event: &str,
    timeout_ms: u64,
    host: &HostFlags,
    as_json: bool,
) -> Result<(), Failure> {
    let event = read_event(event)?;
    if let Some(running) = access.host(dir)? {
        if !(host.http_map.is_empty() && host.llm_url.is_empty() && host.secret.is_empty()) {
            errln!(
                "note: the world is running: its `world run`'s adapter settings apply, not this command's --http-map/--llm-url/--secret"
            );
        }
        return send_to_running(running, dir, schema, &event, as_json);
    }
    let mut world = World::open(dir).map_err(in_use_or(dir))?;
    let options = crate::host_cmd::host_options(host)?;
    let input = world.event_from_json(schema, &event).map_err(kernel(dir))?;
    let first = world.head().seq + 1;
    // Catch-up: a world silent for long enough journals the gap before the event.
    let gap_ns_min = options
        .gap_ns_min
        .unwrap_or(worldline_kernel::world::GAP_NS_MIN);
    world
        .resume_after(ingress_now()?, gap_ns_min)
        .map_err(kernel(dir))?;
    world
        .submit(vec![(input, ingress_now()?)], true)
        .map_err(kernel(dir))?;
    let mut still_open = 0;
    if !world.open_intents().is_empty() {
        let timeout = std::time::Duration::from_millis(timeout_ms);
        let (settled, quiescence) = crate::host_cmd::settle(world, options, timeout)?;
        world = settled;
        if let worldline_adapters::Quiescence::TimedOut(open) = quiescence {
            still_open = open;
        }
    }
    print_sent(&world, dir, first, as_json)?;
    if still_open > 0 && !as_json {
        errln!(
            "note: {still_open} effect(s) still waiting after {timeout_ms} ms; `world run` finishes them"
        );
    }
    Ok(())
}

/// `world send` inside the `world run` that holds the world: the event is submitted like the
/// API's, and the running host carries out the effects it causes.
fn send_to_running(
    host: &mut worldline_adapters::Host,
    dir: &Path,
    schema: &str,
    event: &Json,
    as_json: bool,
) -> Result<(), Failure> {
    let input = host
        .world()
        .event_from_json(schema, event)
        .map_err(kernel(dir))?;
    let first = host.world().head().seq + 1;
    host.submit(vec![input])
        .map_err(crate::host_cmd::adapter(dir))?;
    print_sent(host.world(), dir, first, as_json)?;
    let open = host.world().open_intents().len();
    if open > 0 && !as_json {
        errln!("note: {open} effect(s) open; the running `world run` carries them out");
    }
    Ok(())
}

/// Prints the records from `first` to the head, as `world send` does.
fn print_sent(world: &World, dir: &Path, first: u64, as_json: bool) -> Result<(), Failure> {
    let count = usize::try_from(world.head().seq + 1 - first).unwrap_or(usize::MAX);
    let mut records = Vec::new();
    for_each_record(world, dir, first, count, |record, hash| {
        records.push((record.clone(), *hash));
    })?;
    let seqs: Vec<u64> = records.iter().map(|(r, _)| r.seq).collect();
    if as_json {
        let out: Vec<Json> = records
            .iter()
            .map(|(r, h)| record_json(world.plane(), r, h))
            .collect();
        outln!("{}", json!({"seqs": seqs, "records": out}));
    } else {
        for (record, _) in &records {
            outln!("{}", record_line(world.plane(), record));
        }
        let failed = records
            .iter()
            .filter(|(r, _)| matches!(r.body, RecordBody::StepFailed { .. }))
            .count();
        if failed > 0 {
            errln!(
                "note: {failed} step failure(s) journaled; the state of those reducers is unchanged"
            );
        }
    }
    Ok(())
}
