//! `world demo`: a short guided tour on the counter world, each step with the command a person
//! would type to do it by hand. Exits 0 only if every step did what it says.

use std::path::{Path, PathBuf};

use serde_json::json;
use worldline_air::Name;
use worldline_kernel::config::WorldConfig;
use worldline_kernel::world::replay;

use crate::failure::Failure;
use crate::render::record_line;
use crate::world_cmd::{create_world, ingress_now, kernel};

fn step(title: &str, command: &str) {
    println!("\n== {title}\n   $ {command}");
}

fn counter_air() -> Result<PathBuf, Failure> {
    let here =
        std::env::current_dir().map_err(|e| Failure::message(format!("current directory: {e}")))?;
    let compiled_in = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    here.ancestors()
        .map(Path::to_path_buf)
        .chain(std::iter::once(compiled_in))
        .map(|dir| dir.join("worlds/counter/air"))
        .find(|dir| dir.is_dir())
        .ok_or_else(|| {
            Failure::message("worlds/counter not found; run the demo from the repository")
        })
}

/// Runs the tour in `dir` (a new directory under the system's temporary directory when `None`).
pub fn run(dir: Option<&Path>) -> Result<(), Failure> {
    let dir = match dir {
        Some(dir) => dir.to_path_buf(),
        None => {
            // Kept after the tour, so the world can be explored with the commands it shows.
            let scratch = tempfile::Builder::new()
                .prefix("world-demo-")
                .tempdir()
                .map_err(|e| Failure::message(format!("temporary directory: {e}")))?;
            scratch.keep().join("counter")
        }
    };
    let air = counter_air()?;
    let shown = dir.display();

    step(
        "Create the counter world: a new identity and its genesis record",
        &format!("world new {shown} --air worlds/counter"),
    );
    let mut world = create_world(&dir, &air, &[], WorldConfig::default())?;
    println!("   did      {}", world.did());
    println!("   manifest {}", world.plane().manifest_hash());

    let events = [
        json!({"Start": {"target": 3}}),
        json!("Tick"),
        json!("Tick"),
        json!("Tick"),
    ];
    step(
        "Send Start{target: 3} and three Ticks; each is journaled, then folded through the reducer",
        &format!(
            "world send {shown} demo/CounterEvent@1 '{{\"Start\": {{\"target\": 3}}}}'   # then '\"Tick\"' three times"
        ),
    );
    for event in &events {
        let input = world
            .event_from_json("demo/CounterEvent@1", event)
            .map_err(kernel(&dir))?;
        let seqs = world
            .submit(vec![(input, ingress_now()?)], true)
            .map_err(kernel(&dir))?;
        for (record, _) in world
            .records(seqs[0][0], seqs[0].len())
            .map_err(kernel(&dir))?
        {
            println!("   {}", record_line(world.plane(), &record).trim_start());
        }
    }

    step(
        "Read the reducer's state",
        &format!("world state {shown} demo/CounterSM@1"),
    );
    let reducer = Name::parse("demo/CounterSM@1").map_err(|e| Failure::message(e.to_string()))?;
    let state = world
        .state(&reducer, &[])
        .map_err(kernel(&dir))?
        .map(|v| v.to_plain_json());
    let expected = json!({"pc": {"$tag": "Done"}, "remaining": 0});
    println!("   {}", state.clone().unwrap_or_default());
    if state.as_ref() != Some(&expected) {
        return Err(Failure::message(format!(
            "demo: the counter should be {expected}, it is {state:?}"
        )));
    }
    drop(world);

    step(
        "Replay the journal from genesis and compare every record and the state root",
        &format!("world replay {shown}"),
    );
    let report = replay(&dir).map_err(kernel(&dir))?;
    println!(
        "   replay ok: {} records, state root {}",
        report.records, report.state_root
    );

    println!("\nDone. Look around with: world log {shown}");
    Ok(())
}
