//! `price-server`: a simulated ETH price feed for `worlds/liquidation`.
//!
//! The price is a pure function of wall time: `start_cents` until `start_ns`, then falling by
//! `drop_cents_per_s` (linearly, whole cents) down to `floor_cents`. So any two servers started
//! with the same flags agree on every past price, and the history of a moment the world missed
//! is exactly what the price was then.
//!
//! HTTP/1.1 on 127.0.0.1, one short-lived thread per connection, `Connection: close`:
//!
//! - `GET /price` → `{"at_ns": NOW, "price_cents": P}`
//! - `GET /history?from=NS&to=NS&step_ms=MS` → `[{"at_ns": T, "price_cents": P}, …]` for
//!   `T = from, from + step, …, ≤ to` (at most [`HISTORY_SLOTS_MAX`] slots, else 400)
//! - anything else → 404 (405 for a method other than GET).
//!
//! When it listens it prints its port on a line of its own, so a script can ask for port 0.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use clap::Parser;

/// Most slots one `/history` answer holds.
const HISTORY_SLOTS_MAX: u64 = 2_000;
/// Longest request head read, in bytes.
const REQUEST_HEAD_MAX_BYTES: usize = 8 * 1024;
/// How long a connection may take to send its request.
const READ_TIMEOUT_MS: u64 = 5_000;

/// Command-line flags.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "price-server",
    about = "A simulated ETH price feed (worlds/liquidation)"
)]
struct Args {
    /// The port on 127.0.0.1 (0: any free port; the port is printed).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// When the drawdown starts, ns since the Unix epoch (default: now).
    #[arg(long = "start-ns")]
    start_ns: Option<u64>,
    /// The price before the drawdown, in cents.
    #[arg(long = "start-cents", default_value_t = 200_000)]
    start_cents: u64,
    /// How fast the price falls, in cents per second.
    #[arg(long = "drop-cents-per-s", default_value_t = 1_000)]
    drop_cents_per_s: u64,
    /// The price never falls below this, in cents.
    #[arg(long = "floor-cents", default_value_t = 0)]
    floor_cents: u64,
}

/// The price as a function of time.
#[derive(Debug, Clone, Copy)]
struct Curve {
    start_ns: u64,
    start_cents: u64,
    drop_cents_per_s: u64,
    floor_cents: u64,
}

impl Curve {
    /// The price at `at_ns`, in cents.
    fn price_cents(&self, at_ns: u64) -> u64 {
        let elapsed_ns = u128::from(at_ns.saturating_sub(self.start_ns));
        let dropped = elapsed_ns * u128::from(self.drop_cents_per_s) / 1_000_000_000;
        let dropped = u64::try_from(dropped).unwrap_or(u64::MAX);
        self.start_cents
            .saturating_sub(dropped)
            .max(self.floor_cents)
    }

    fn slot_json(&self, at_ns: u64) -> String {
        format!(
            r#"{{"at_ns":{at_ns},"price_cents":{}}}"#,
            self.price_cents(at_ns)
        )
    }

    /// `/history`'s answer, or a 400 reason.
    fn history(&self, query: &str) -> Result<String, String> {
        let mut from_ns = None;
        let mut to_ns = None;
        let mut step_ms = 1_000u64;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let number: u64 = value
                .parse()
                .map_err(|_| format!("{name}: not a whole number: {value:?}"))?;
            match name {
                "from" => from_ns = Some(number),
                "to" => to_ns = Some(number),
                "step_ms" => step_ms = number,
                other => return Err(format!("unknown parameter {other:?}")),
            }
        }
        let from_ns = from_ns.ok_or("missing from")?;
        let to_ns = to_ns.ok_or("missing to")?;
        if to_ns < from_ns {
            return Err("to is before from".into());
        }
        let step_ns = step_ms
            .checked_mul(1_000_000)
            .filter(|s| *s > 0)
            .ok_or("step_ms must be between 1 and 2^64/10^6")?;
        let slots = (to_ns - from_ns) / step_ns + 1;
        if slots > HISTORY_SLOTS_MAX {
            return Err(format!(
                "{slots} slots asked for, at most {HISTORY_SLOTS_MAX}: raise step_ms"
            ));
        }
        let body: Vec<String> = (0..slots)
            .map(|i| self.slot_json(from_ns + i * step_ns))
            .collect();
        Ok(format!("[{}]", body.join(",")))
    }

    /// The status and body for one request line.
    fn answer(&self, method: &str, target: &str) -> (u16, String) {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        match (method, path) {
            ("GET", "/price") => (200, self.slot_json(worldline_adapters::clock::now_ns())),
            ("GET", "/history") => match self.history(query) {
                Ok(body) => (200, body),
                Err(reason) => (400, error_json(&reason)),
            },
            (_, "/price" | "/history") => (405, error_json("only GET")),
            _ => (404, error_json("not found: /price or /history")),
        }
    }
}

fn error_json(reason: &str) -> String {
    serde_json::json!({ "error": reason }).to_string()
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Error",
    }
}

/// Serves one connection: one request, one answer.
fn serve(curve: Curve, stream: TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_millis(READ_TIMEOUT_MS)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Read (and ignore) the headers, up to the blank line, bounded.
    let mut head_bytes = request_line.len();
    loop {
        let mut line = String::new();
        let read = reader.read_line(&mut line)?;
        head_bytes += read;
        if read == 0 || line == "\r\n" || line == "\n" || head_bytes > REQUEST_HEAD_MAX_BYTES {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let (status, body) = match (parts.next(), parts.next()) {
        (Some(method), Some(target)) if head_bytes <= REQUEST_HEAD_MAX_BYTES => {
            curve.answer(method, target)
        }
        _ => (400, error_json("bad request")),
    };
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        reason_phrase(status),
        body.len()
    )?;
    stream.flush()
}

fn main() {
    let args = Args::parse();
    let curve = Curve {
        start_ns: args
            .start_ns
            .unwrap_or_else(worldline_adapters::clock::now_ns),
        start_cents: args.start_cents,
        drop_cents_per_s: args.drop_cents_per_s,
        floor_cents: args.floor_cents,
    };
    let listener = match TcpListener::bind(("127.0.0.1", args.port)) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("price-server: bind 127.0.0.1:{}: {e}", args.port);
            std::process::exit(1);
        }
    };
    let port = match listener.local_addr() {
        Ok(addr) => addr.port(),
        Err(e) => {
            eprintln!("price-server: {e}");
            std::process::exit(1);
        }
    };
    println!("{port}");
    let _ = std::io::stdout().flush();
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                std::thread::spawn(move || {
                    if let Err(e) = serve(curve, stream) {
                        eprintln!("price-server: {e}");
                    }
                });
            }
            Err(e) => eprintln!("price-server: accept: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::Curve;

    const CURVE: Curve = Curve {
        start_ns: 1_000_000_000,
        start_cents: 200_000,
        drop_cents_per_s: 1_000,
        floor_cents: 150_000,
    };

    #[test]
    fn the_price_is_flat_then_falls_linearly_to_the_floor() {
        assert_eq!(CURVE.price_cents(0), 200_000);
        assert_eq!(CURVE.price_cents(1_000_000_000), 200_000);
        assert_eq!(CURVE.price_cents(1_500_000_000), 199_500);
        assert_eq!(CURVE.price_cents(11_000_000_000), 190_000);
        assert_eq!(CURVE.price_cents(u64::MAX), 150_000);
    }

    #[test]
    fn history_lists_slots_from_from_to_to_and_refuses_too_many() {
        let body = CURVE
            .history("from=1000000000&to=3000000000&step_ms=1000")
            .unwrap();
        assert_eq!(
            body,
            r#"[{"at_ns":1000000000,"price_cents":200000},{"at_ns":2000000000,"price_cents":199000},{"at_ns":3000000000,"price_cents":198000}]"#
        );
        assert!(CURVE.history("from=0&to=100000000000&step_ms=1").is_err());
        assert!(CURVE.history("from=5&to=1").is_err());
        assert!(CURVE.history("to=1").is_err());
        assert_eq!(CURVE.answer("GET", "/nope").0, 404);
        assert_eq!(CURVE.answer("POST", "/price").0, 405);
    }
}
