//! `world log --follow`: the journal as it grows (and `world why --forward --follow`: the part of
//! it one record caused).
//!
//! A running world is held by `world run` (one process per world, and redb's read-only mode
//! cannot open a store another process has open), so new records come from the event stream of
//! its control API: through its control socket (`.world/control.sock`, every `world run` has
//! one), else the `--listen` address in `.world/api-url`, or the one given with `--url`.
//! While no host runs, the follower waits for one without taking the world's lock (so `world
//! send` is never refused because of it) and, once one listens, continues from the next seq it
//! has not printed, so records appended meanwhile are printed too.

use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use worldline_kernel::why::Descendants;
use worldline_kernel::{KernelError, World};

use crate::failure::Failure;
use crate::render::{record_json, record_line};
use crate::world_cmd::kernel;

/// How often a follower looks for a listening host while none runs, in ms.
pub const FOLLOW_POLL_MS: u64 = 500;
/// Records printed per read of a world that no host holds.
const FOLLOW_PAGE_RECORDS: usize = 1000;
/// Largest event a stream may send, in bytes (a record's JSON is far smaller).
const STREAM_EVENT_BYTES_MAX: usize = 16 << 20;

/// Where the follower reads from.
pub struct FollowSource<'a> {
    /// The API of a running `world run --listen`; found in `.world/api-url` when not given.
    pub url: Option<&'a str>,
    /// Its bearer token (needed on a non-loopback bind).
    pub token: Option<&'a str>,
}

/// How a stream ended.
enum Ended {
    /// The server closed it (the host stopped).
    Closed,
    /// It could not be reached.
    Unreachable(String),
}

/// Runs `world log DIR --follow`: prints from `from` on, then every new record, until killed
/// (or, with an explicit `--url`, until that host stops). With `caused_by`, only that record
/// and what it caused, directly or not (read from it on; `from` is then ignored).
pub fn follow(
    dir: &Path,
    from: u64,
    as_json: bool,
    source: &FollowSource,
    caused_by: Option<u64>,
) -> Result<(), Failure> {
    let mut next = caused_by.unwrap_or(from);
    if source.url.is_none() {
        next = print_stored(dir, next, as_json, caused_by)?;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::message(format!("tokio runtime: {e}")))?;
    // reqwest is built without a default TLS crypto provider; ring is ours (as the adapters').
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| Failure::message(format!("HTTP client: {e}")))?;
    let socket = crate::held::socket_path(dir);
    loop {
        let (url, client) = match source.url {
            Some(url) => (url.trim_end_matches('/').to_owned(), client.clone()),
            None if socket.exists() => {
                let client = reqwest::Client::builder()
                    .unix_socket(socket.as_path())
                    .build()
                    .map_err(|e| Failure::message(format!("{}: {e}", socket.display())))?;
                ("http://world".to_owned(), client)
            }
            None => match crate::api::read_url_file(dir) {
                Some(url) => (url, client.clone()),
                None => {
                    std::thread::sleep(Duration::from_millis(FOLLOW_POLL_MS));
                    continue;
                }
            },
        };
        let place = Place {
            url: &url,
            token: source.token,
            caused_by,
        };
        let ended = runtime.block_on(stream(&client, &place, &mut next, as_json))?;
        match (ended, source.url) {
            (Ended::Closed, Some(_)) => {
                eprintln!("note: {url} closed the stream (the host stopped)");
                return Ok(());
            }
            (Ended::Unreachable(reason), Some(_)) => {
                return Err(Failure::message(format!("--url {url}: {reason}")));
            }
            // A stale socket or URL file (a host that was killed), or a host that stopped: wait
            // for the next one, without taking the world's lock (a follower never makes
            // `world send` fail); its stream continues from `next`.
            (_, None) => std::thread::sleep(Duration::from_millis(FOLLOW_POLL_MS)),
        }
    }
}

/// Prints the stored records from `next` on (with `caused_by`, only its lineage's, learned by
/// reading from its root) when no host holds the world; returns the next seq to print. Called
/// once, at the start: opening the world takes its lock, which a follower must not hold again
/// and again while others send.
fn print_stored(
    dir: &Path,
    next: u64,
    as_json: bool,
    caused_by: Option<u64>,
) -> Result<u64, Failure> {
    let mut lineage = caused_by.map(Descendants::of);
    let mut read = caused_by.map_or(next, |root| root.min(next));
    let world = match World::open(dir) {
        Ok(world) => world,
        // A host holds it: its stream sends these records.
        Err(KernelError::InUse { .. }) => return Ok(next),
        Err(error) => return Err(kernel(dir)(error)),
    };
    loop {
        let records = world
            .records(read, FOLLOW_PAGE_RECORDS)
            .map_err(kernel(dir))?;
        let Some((last, _)) = records.last() else {
            return Ok(read.max(next));
        };
        read = last.seq + 1;
        let mut out = std::io::stdout().lock();
        for (record, hash) in &records {
            let in_lineage = lineage.as_mut().is_none_or(|l| l.admit(record));
            if !in_lineage || record.seq < next {
                continue;
            }
            let line = if as_json {
                record_json(world.plane(), record, hash).to_string()
            } else {
                record_line(world.plane(), record)
            };
            writeln!(out, "{line}")?;
        }
    }
}

/// Which stream to follow.
struct Place<'a> {
    url: &'a str,
    token: Option<&'a str>,
    caused_by: Option<u64>,
}

/// Follows one host's stream from `next`, printing each record; advances `next`.
async fn stream(
    client: &reqwest::Client,
    place: &Place<'_>,
    next: &mut u64,
    as_json: bool,
) -> Result<Ended, Failure> {
    let (url, token) = (place.url, place.token);
    let format = if as_json { "json" } else { "text" };
    let mut address = format!("{url}/events/stream?from={next}&format={format}");
    if let Some(root) = place.caused_by {
        address.push_str(&format!("&caused_by={root}"));
    }
    let mut request = client.get(address);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let mut response = match request.send().await {
        Ok(response) => response,
        Err(e) => return Ok(Ended::Unreachable(e.to_string())),
    };
    if !response.status().is_success() {
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        let message = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|doc| doc["error"]["message"].as_str().map(str::to_owned))
            .unwrap_or(body);
        return Err(Failure::message(format!("{url}: {status}: {message}")));
    }
    let mut buffer: Vec<u8> = Vec::new();
    loop {
        let chunk = match response.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) | Err(_) => return Ok(Ended::Closed),
        };
        buffer.extend_from_slice(&chunk);
        while let Some(end) = buffer.windows(2).position(|w| w == b"\n\n") {
            let block: Vec<u8> = buffer.drain(..end + 2).collect();
            if let Some((seq, data)) = parse_event(&String::from_utf8_lossy(&block)) {
                let mut out = std::io::stdout().lock();
                writeln!(out, "{data}")?;
                out.flush()?;
                *next = seq + 1;
            }
        }
        if buffer.len() > STREAM_EVENT_BYTES_MAX {
            return Err(Failure::message(format!(
                "{url}: an event of more than {STREAM_EVENT_BYTES_MAX} bytes"
            )));
        }
    }
}

/// A `record` event's seq and data; `None` for anything else (keep-alive comments).
fn parse_event(block: &str) -> Option<(u64, String)> {
    let mut seq = None;
    let mut data: Vec<&str> = Vec::new();
    let mut kind = "message";
    for line in block.lines() {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "id" => seq = value.parse().ok(),
            "event" => kind = value,
            "data" => data.push(value),
            _ => {}
        }
    }
    (kind == "record").then_some(())?;
    Some((seq?, data.join("\n")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_parse() {
        assert_eq!(
            parse_event("id: 7\nevent: record\ndata: {\"seq\":7}\n\n"),
            Some((7, "{\"seq\":7}".to_owned()))
        );
        assert_eq!(parse_event(": keep-alive\n\n"), None);
        assert_eq!(parse_event("event: record\ndata: x\n\n"), None);
    }
}
