//! A tiny HTTP/1.1 server for the adapter's tests: one request per connection, replies chosen
//! by a closure, every request recorded. Enough HTTP to answer reqwest, nothing more.

// Shared by several test binaries, each of which uses only part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value as Json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use worldline_adapters::http::IDEMPOTENCY_KEY_HEADER;
use worldline_air::catalog::Catalog;
use worldline_air::nodes::{DefKind, Node};
use worldline_air::{Name, Value};
use worldline_kernel::effects::enforce::HttpOutGrant;

/// An `http.out` grant from plain JSON, through the catalog's `sys/http.out@1` schema.
pub fn grant(plain: Json) -> HttpOutGrant {
    let catalog = Catalog::get();
    let name = Name::parse("sys/http.out@1").unwrap();
    let Some(Node::Cap(cap)) = catalog.node(DefKind::Cap, &name) else {
        panic!("sys/http.out@1 is not in the catalog");
    };
    let params = Value::from_plain_json(&plain, &cap.schema, catalog).unwrap();
    HttpOutGrant::from_value(&params).unwrap()
}

/// A port on 127.0.0.1 that nothing listens on (it was free a moment ago).
pub async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    /// Lowercase names; repeated headers joined with ", ".
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

/// What the server answers.
#[derive(Debug, Clone)]
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    delay: Duration,
    body_delay: Duration,
    with_length: bool,
}

impl Reply {
    pub fn ok(body: &[u8]) -> Reply {
        Reply {
            status: 200,
            headers: Vec::new(),
            body: body.to_vec(),
            delay: Duration::ZERO,
            body_delay: Duration::ZERO,
            with_length: true,
        }
    }

    pub fn redirect(status: u16, location: &str) -> Reply {
        Reply::ok(b"").status(status).header("Location", location)
    }

    pub fn status(mut self, status: u16) -> Reply {
        self.status = status;
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Waits this long before answering at all.
    pub fn delay(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }

    /// Sends the head at once, then waits this long before the body.
    pub fn stall_body(mut self, delay: Duration) -> Reply {
        self.body_delay = delay;
        self
    }

    /// No `Content-Length`: the body ends when the connection closes.
    pub fn without_length(mut self) -> Reply {
        self.with_length = false;
        self
    }

    fn head(&self) -> Vec<u8> {
        let mut head = format!("HTTP/1.1 {} Test\r\n", self.status);
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if self.with_length {
            head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        head.push_str("Connection: close\r\n\r\n");
        head.into_bytes()
    }
}

type Handler = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

/// A running server on 127.0.0.1 (stops with the test's runtime).
pub struct Server {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    pub async fn start(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = Server {
            addr: listener.local_addr().unwrap(),
            seen: Arc::default(),
        };
        let handler: Handler = Arc::new(handler);
        let seen = server.seen.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, handler.clone(), seen.clone()));
            }
        });
        server
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Every request so far, in arrival order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// How many requests carried each idempotency key.
    pub fn key_counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for seen in self.seen() {
            if let Some(key) = seen.headers.get(IDEMPOTENCY_KEY_HEADER) {
                *counts.entry(key.clone()).or_default() += 1;
            }
        }
        counts
    }
}

async fn serve(mut stream: TcpStream, handler: Handler, log: Arc<Mutex<Vec<Seen>>>) {
    let Some(seen) = read_request(&mut stream).await else {
        return;
    };
    let reply = handler(&seen);
    log.lock().unwrap().push(seen);
    tokio::time::sleep(reply.delay).await;
    // Write errors mean the client went away (it may well have: timeouts, size caps).
    if stream.write_all(&reply.head()).await.is_err() {
        return;
    }
    tokio::time::sleep(reply.body_delay).await;
    let _ = stream.write_all(&reply.body).await;
    let _ = stream.shutdown().await;
}

async fn read_request(stream: &mut TcpStream) -> Option<Seen> {
    let mut buffer = Vec::new();
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        read_more(stream, &mut buffer).await?;
    };
    let head = String::from_utf8(buffer[..head_end].to_vec()).ok()?;
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let (method, target) = (
        request_line.next()?.to_owned(),
        request_line.next()?.to_owned(),
    );
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_owned());
        headers
            .entry(name)
            .and_modify(|joined| *joined = format!("{joined}, {value}"))
            .or_insert(value);
    }
    let length: usize = headers
        .get("content-length")
        .map_or(Some(0), |n| n.parse().ok())?;
    let mut body = buffer.split_off(head_end + 4);
    while body.len() < length {
        read_more(stream, &mut body).await?;
    }
    body.truncate(length);
    Some(Seen {
        method,
        target,
        headers,
        body,
    })
}

async fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<()> {
    let mut chunk = [0u8; 8192];
    match stream.read(&mut chunk).await {
        Ok(0) | Err(_) => None,
        Ok(n) => {
            buffer.extend_from_slice(&chunk[..n]);
            Some(())
        }
    }
}
