//! Test helper: opens a counter world and appends `Start{target: i}` for i = FROM.., one
//! durable commit each, printing `ack <seq> <i>` only after the commit returned. The durability
//! test kills it with SIGKILL at random moments.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;

use worldline_kernel::{Ingress, World};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("usage: send_loop DIR FROM");
    let from: u64 = args
        .next()
        .expect("usage: send_loop DIR FROM")
        .parse()
        .expect("FROM is a number");
    let mut world = World::open(std::path::Path::new(&dir)).expect("open");
    let mut stdout = std::io::stdout().lock();
    for i in from.. {
        let event = world
            .event_from_json(
                "demo/CounterEvent@1",
                &serde_json::json!({"Start": {"target": i}}),
            )
            .expect("event");
        let ingress = Ingress {
            now_ns: 1_700_000_000_000_000_000 + i,
            entropy: [7; 32],
        };
        let seqs = world.submit(vec![(event, ingress)], true).expect("submit");
        writeln!(stdout, "ack {} {i}", seqs[0][0]).expect("stdout");
        stdout.flush().expect("flush");
    }
}
