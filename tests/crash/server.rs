//! Local HTTP servers for the effects: every request recorded with its `Idempotency-Key`.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::http_server::{Reply, Server};
use worldline_adapters::http::IDEMPOTENCY_KEY_HEADER;

/// The first quote's time, ns.
const QUOTE_AT_NS: u64 = 1_700_000_000_000_000_000;

/// The runtime the servers run on (one per test process).
pub struct Servers {
    runtime: tokio::runtime::Runtime,
}

/// One server: answers every request at once (`/price` with a price feed quote).
pub struct KeyServer {
    server: Server,
}

impl Servers {
    /// A runtime for servers.
    pub fn new() -> Servers {
        Servers {
            runtime: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap(),
        }
    }

    /// A new server on 127.0.0.1, with its own request log.
    pub fn start(&self) -> KeyServer {
        let quotes = AtomicU64::new(0);
        let server = self.runtime.block_on(Server::start(move |seen| {
            if seen.target.starts_with("/price") {
                // The liquidation world's feed: a new quote each time, far above its
                // liquidation price.
                let at_ns = QUOTE_AT_NS + quotes.fetch_add(1, Ordering::Relaxed);
                let body = format!(r#"{{"at_ns": {at_ns}, "price_cents": 250000}}"#);
                Reply::ok(body.as_bytes())
            } else {
                Reply::ok(b"fresh data")
            }
        }));
        KeyServer { server }
    }
}

impl KeyServer {
    /// `--http-map` for the fetch-notify world's origin.
    pub fn map(&self) -> String {
        format!("https://example.com={}", self.server.url(""))
    }

    /// `--http-map` for the liquidation world's feed.
    pub fn feed_map(&self) -> String {
        format!("http://prices.demo={}", self.server.url(""))
    }

    /// Every idempotency key seen so far.
    pub fn keys(&self) -> BTreeSet<String> {
        self.server
            .seen()
            .into_iter()
            .filter_map(|seen| seen.headers.get(IDEMPOTENCY_KEY_HEADER).cloned())
            .collect()
    }

    /// Requests seen so far.
    pub fn requests(&self) -> usize {
        self.server.seen().len()
    }
}
