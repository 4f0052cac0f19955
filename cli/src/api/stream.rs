//! `GET /events/stream`: server-sent events, one per journal record in seq order, from `?from=SEQ`
//! (or after the `Last-Event-ID` a reconnecting client sends; else only new records). Each event
//! is `id: SEQ`, `event: record`, and `data:` the JSON `world log --json` prints (or, with
//! `?format=text`, the line `world log` prints). With `?caused_by=SEQ` only that record and
//! the records it caused, directly or not, are sent (`world why --forward --follow`).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use tokio::sync::{OwnedSemaphorePermit, watch};
use worldline_adapters::Host;

use super::routes::{Params, number, params};
use super::{Api, ApiError, STREAM_PAGE_RECORDS, STREAMS_MAX};
use worldline_kernel::why::Descendants;

use crate::render::{record_json, record_line};

/// One stream's place.
struct Follower {
    api: Api,
    head: watch::Receiver<u64>,
    next: u64,
    buffer: VecDeque<(u64, String)>,
    text: bool,
    /// With `caused_by`: the lineage so far, and the first seq to send (records before it are
    /// read only to learn the lineage).
    lineage: Option<(Descendants, u64)>,
    /// Held while the stream is open.
    _permit: OwnedSemaphorePermit,
}

/// A page read: the last seq read (if any) and the records to send, rendered.
type Page = (Option<u64>, Vec<(u64, String)>);

/// Up to [`STREAM_PAGE_RECORDS`] records from `from`, those of the lineage (if one is
/// followed) rendered.
fn page(
    host: &mut Host,
    from: u64,
    text: bool,
    lineage: &mut Option<(Descendants, u64)>,
) -> Result<Page, ApiError> {
    let world = host.world();
    let records = world.records(from, STREAM_PAGE_RECORDS)?;
    let last = records.last().map(|(record, _)| record.seq);
    let sent = records
        .iter()
        .filter(|(record, _)| match lineage {
            None => true,
            Some((descendants, send_from)) => descendants.admit(record) && record.seq >= *send_from,
        })
        .map(|(record, hash)| {
            let data = if text {
                // One line, whatever a description holds.
                record_line(world.plane(), record)
                    .chars()
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .collect()
            } else {
                record_json(world.plane(), record, hash).to_string()
            };
            (record.seq, data)
        })
        .collect();
    Ok((last, sent))
}

/// The next event, waiting for the journal to grow when there is none; `None` when the host
/// stops.
async fn next_event(mut f: Follower) -> Option<(Result<Event, Infallible>, Follower)> {
    loop {
        if let Some((seq, data)) = f.buffer.pop_front() {
            let event = Event::default()
                .id(seq.to_string())
                .event("record")
                .data(data);
            return Some((Ok(event), f));
        }
        let head = *f.head.borrow_and_update();
        if f.next <= head {
            let (from, text, mut lineage) = (f.next, f.text, f.lineage.take());
            let (read, lineage) = f
                .api
                .call_unqueued(move |host| {
                    let read = page(host, from, text, &mut lineage);
                    Ok((read, lineage))
                })
                .await
                .ok()?;
            f.lineage = lineage;
            if let (Some(last), sent) = read.ok()? {
                f.next = last + 1;
                f.buffer.extend(sent);
                continue;
            }
        }
        f.head.changed().await.ok()?;
    }
}

/// `GET /events/stream?from=SEQ&format=json|text&caused_by=SEQ`.
pub(crate) async fn stream(
    State(api): State<Api>,
    headers: HeaderMap,
    query: Params,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let query = params(query)?;
    let text = match query.get("format").map(String::as_str) {
        None | Some("json") => false,
        Some("text") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "format={other}: expected json or text"
            )));
        }
    };
    let from: Option<u64> = number(&query, "from")?;
    let last_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let permit = Arc::clone(&api.streams).try_acquire_owned().map_err(|_| {
        ApiError::busy(format!("{STREAMS_MAX} event streams are open; retry later"))
    })?;
    let head = api.head.clone();
    let mut next = match (last_id, from) {
        (Some(id), _) => id.saturating_add(1),
        (None, Some(from)) => from,
        (None, None) => head.borrow().saturating_add(1),
    };
    let caused_by: Option<u64> = number(&query, "caused_by")?;
    let lineage = caused_by.map(|root| {
        let send_from = next;
        next = next.min(root);
        (Descendants::of(root), send_from)
    });
    let follower = Follower {
        api,
        head,
        next,
        buffer: VecDeque::new(),
        text,
        lineage,
        _permit: permit,
    };
    let events = futures_util::stream::unfold(follower, next_event);
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
