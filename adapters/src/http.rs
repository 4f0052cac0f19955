//! The `http.request` adapter: executes an admitted request and reports what happened.
//!
//! The adapter decides nothing the kernel has not already decided: the initial request was
//! admitted against the grant, and the adapter only re-checks what admission could not see,
//! the redirect targets, each against the same grant with [`HttpOutGrant::check`].
//!
//! Rules, beyond the fields' docs:
//!
//! - **Deadline.** One timeout covers the whole exchange: connecting, every redirect hop, and
//!   reading the final body. Past it the outcome is [`HttpFailure::Timeout`].
//! - **Size cap.** The final response body is read chunk by chunk and refused
//!   ([`HttpFailure::TooLarge`]) as soon as it would exceed the cap (or at once when its
//!   `Content-Length` already does); nothing past the cap is buffered. Redirect bodies are not
//!   read.
//! - **Redirects** (301, 302, 303, 307, 308 with a `Location`) are followed by the adapter,
//!   never by the HTTP client, so each target is judged before any byte is sent to it. The
//!   method follows the Fetch standard: on 301/302 `POST` becomes `GET`, on 303 everything but
//!   `GET`/`HEAD` becomes `GET` (the body and its `content-*` headers are dropped), 307/308 keep
//!   method and body. `authorization`, `proxy-authorization` and `cookie` are dropped when a
//!   redirect changes origin. The judged method is the one the next hop will use.
//! - **Method** is sent ASCII-uppercased, as the enforcer compares it.
//! - **Headers.** Request header names are case-insensitive; `host`, `content-length`,
//!   `transfer-encoding`, `connection` and `idempotency-key` are the adapter's to set and are
//!   refused in a request ([`HttpFailure::RequestInvalid`]): a caller-chosen `Host` would send
//!   the request to a virtual host the grant never judged. Every request carries
//!   `Idempotency-Key`: the lowercase hex of the intent's 32-byte key. Response header names
//!   are lowercase; repeated headers are joined with `", "` in arrival order; values that are
//!   not UTF-8 are decoded lossily.
//! - **Proxies** are used only when configured: proxy environment variables (`HTTP_PROXY`, …)
//!   and system settings are never read, so a world's network path does not depend on the
//!   host process's environment.
//! - **Origin map.** A request (or redirect target) whose origin is a key of
//!   [`HttpConfig::origin_map`] is sent to the mapped origin instead, with the same path and
//!   query; the grant and every redirect check see the requested URL, and relative redirects
//!   resolve against it. The `Host` header is the connected origin's. The receipt then records
//!   both URLs of the last hop, as the pseudo-headers `:requested-url` and `:connected-url`
//!   (names no real header can have).

mod origin;
mod redirect;
mod request;

use crate::error::error_chain;
use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Response, Url};
use worldline_kernel::effects::enforce::HttpOutGrant;

use self::origin::OriginMap;
use self::redirect::Hop;
use self::request::first_hop;

/// Default deadline of a whole exchange, redirects and body included: 30 s.
pub const TIMEOUT_MS_DEFAULT: u64 = 30_000;
/// Default largest response body: 16 MiB, the largest `bytes` a value may hold.
pub const RESPONSE_BYTES_MAX_DEFAULT: u64 = 16 << 20;
/// Default number of redirects followed before giving up.
pub const REDIRECTS_MAX_DEFAULT: u32 = 5;
/// The header carrying the intent's idempotency key.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
/// Request headers the adapter sets itself and refuses from a caller.
pub const ADAPTER_HEADERS: [&str; 5] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    IDEMPOTENCY_KEY_HEADER,
];
/// The `User-Agent` sent unless the request sets one.
const USER_AGENT: &str = concat!("worldline/", env!("CARGO_PKG_VERSION"));

/// How the adapter talks HTTP; fixed when the adapter is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// Deadline of a whole exchange (all hops and the body), in milliseconds.
    pub timeout_ms: u64,
    /// Largest response body accepted, in bytes.
    pub response_bytes_max: u64,
    /// Redirects followed at most; one more is [`HttpFailure::TooManyRedirects`].
    pub redirects_max: u32,
    /// Proxy URL for every request (`http://proxy:3128`); `None` connects directly.
    pub proxy: Option<String>,
    /// Requested origin → origin actually connected to, e.g. `"https://example.com"` →
    /// `"http://127.0.0.1:8081"` (for tests and local fixtures). Keys and values are origins:
    /// an `http`/`https` URL with a host, optionally a port, and nothing after it but `/`.
    pub origin_map: BTreeMap<String, String>,
}

impl Default for HttpConfig {
    fn default() -> HttpConfig {
        HttpConfig {
            timeout_ms: TIMEOUT_MS_DEFAULT,
            response_bytes_max: RESPONSE_BYTES_MAX_DEFAULT,
            redirects_max: REDIRECTS_MAX_DEFAULT,
            proxy: None,
            origin_map: BTreeMap::new(),
        }
    }
}

/// A request to execute: an admitted intent's params with its body resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// The method, e.g. `GET` (any case; sent uppercase).
    pub method: String,
    /// The absolute `http`/`https` URL.
    pub url: String,
    /// Request headers, name → value (names case-insensitive; see [`ADAPTER_HEADERS`]).
    pub headers: BTreeMap<String, String>,
    /// The request body, if any.
    pub body: Option<Vec<u8>>,
}

/// What became of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpOutcome {
    /// A final (non-redirect) response arrived in full, whatever its status.
    Response {
        /// The status code.
        status: u16,
        /// Headers: lowercase names, repeated values joined with `", "`.
        headers: BTreeMap<String, String>,
        /// The body, at most [`HttpConfig::response_bytes_max`] bytes.
        body: Vec<u8>,
        /// The URL of the last hop as requested (what the grant judged).
        final_url: String,
        /// The URL of the last hop as connected to (after the origin map).
        connected_url: String,
    },
    /// No final response: why, as a code and a message for people.
    Failed {
        /// Machine-readable reason.
        code: HttpFailure,
        /// What happened, for people.
        message: String,
    },
}

impl HttpOutcome {
    fn failed(code: HttpFailure, message: impl Into<String>) -> HttpOutcome {
        HttpOutcome::Failed {
            code,
            message: message.into(),
        }
    }
}

/// Why a request got no final response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HttpFailure {
    /// The exchange did not complete within [`HttpConfig::timeout_ms`].
    Timeout,
    /// The response body exceeds [`HttpConfig::response_bytes_max`].
    TooLarge,
    /// A redirect target is not allowed by the grant.
    RedirectDenied,
    /// More than [`HttpConfig::redirects_max`] redirects.
    TooManyRedirects,
    /// Connecting, sending or receiving failed.
    Transport,
    /// The URL, or a redirect's `Location`, is not a usable `http`/`https` URL.
    UrlInvalid,
    /// The method or a header is not valid HTTP, or is a header the adapter sets itself.
    RequestInvalid,
}

impl HttpFailure {
    /// The machine-readable code: `timeout`, `too_large`, `redirect_denied`,
    /// `too_many_redirects`, `transport`, `url_invalid` or `request_invalid`.
    pub fn code(self) -> &'static str {
        match self {
            HttpFailure::Timeout => "timeout",
            HttpFailure::TooLarge => "too_large",
            HttpFailure::RedirectDenied => "redirect_denied",
            HttpFailure::TooManyRedirects => "too_many_redirects",
            HttpFailure::Transport => "transport",
            HttpFailure::UrlInvalid => "url_invalid",
            HttpFailure::RequestInvalid => "request_invalid",
        }
    }
}

impl std::fmt::Display for HttpFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// Why an adapter could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The configured proxy is not a usable proxy URL.
    #[error("proxy {proxy:?} is not usable: {source}")]
    Proxy {
        /// The configured proxy.
        proxy: String,
        /// What reqwest said.
        source: reqwest::Error,
    },
    /// An origin map entry is not an origin.
    #[error("origin map entry {entry:?} is not an http(s) origin: {reason}")]
    OriginMap {
        /// The key or value at fault.
        entry: String,
        /// Why it is not an origin.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("the HTTP client could not be built: {0}")]
    Client(#[source] reqwest::Error),
}

/// Executes `http.request` intents.
#[derive(Debug, Clone)]
pub struct HttpAdapter {
    client: reqwest::Client,
    config: HttpConfig,
    /// [`HttpConfig::origin_map`] parsed: requested origin (ASCII serialization) → origin URL.
    origins: OriginMap,
}

impl HttpAdapter {
    /// Builds an adapter: validates the configuration and builds one HTTP client (no proxy
    /// unless configured, no automatic redirects) whose connections are reused across requests.
    pub fn new(config: HttpConfig) -> Result<HttpAdapter, HttpError> {
        // reqwest is built without a default TLS crypto provider; ring is ours. An error means
        // the process already installed one, which reqwest then uses: nothing to do.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let origins = OriginMap::parse(&config.origin_map)?;
        let mut builder = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .user_agent(USER_AGENT);
        if let Some(proxy) = &config.proxy {
            let proxy_setting = reqwest::Proxy::all(proxy).map_err(|source| HttpError::Proxy {
                proxy: proxy.clone(),
                source,
            })?;
            builder = builder.proxy(proxy_setting);
        }
        let client = builder.build().map_err(HttpError::Client)?;
        Ok(HttpAdapter {
            client,
            config,
            origins,
        })
    }

    /// The configuration the adapter was built with.
    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    /// Executes `request`, following redirects the `grant` allows, within the deadline.
    pub async fn execute(
        &self,
        request: HttpRequest,
        grant: &HttpOutGrant,
        idempotency_key: &[u8; 32],
    ) -> HttpOutcome {
        let deadline = Duration::from_millis(self.config.timeout_ms);
        let exchange = self.exchange(request, grant, idempotency_key);
        match tokio::time::timeout(deadline, exchange).await {
            Ok(outcome) => outcome,
            Err(_) => HttpOutcome::failed(
                HttpFailure::Timeout,
                format!("no complete response within {} ms", self.config.timeout_ms),
            ),
        }
    }

    async fn exchange(
        &self,
        request: HttpRequest,
        grant: &HttpOutGrant,
        idempotency_key: &[u8; 32],
    ) -> HttpOutcome {
        let mut hop = match first_hop(request, idempotency_key) {
            Ok(hop) => hop,
            Err(outcome) => return outcome,
        };
        let mut redirects: u32 = 0;
        loop {
            let connected = match self.origins.connected_url(&hop.url) {
                Ok(url) => url,
                Err(outcome) => return outcome,
            };
            let response = match self.send(&hop, &connected).await {
                Ok(response) => response,
                Err(error) => return transport_failure("sending the request", &error),
            };
            let next = match redirect::next_hop(&hop, &response) {
                Ok(Some(next)) => next,
                Ok(None) => return self.finish(response, &hop.url, &connected).await,
                Err(outcome) => return outcome,
            };
            if redirects >= self.config.redirects_max {
                let message = format!("more than {} redirects", self.config.redirects_max);
                return HttpOutcome::failed(HttpFailure::TooManyRedirects, message);
            }
            if let Err(denial) = grant.check(next.method.as_str(), next.url.as_str()) {
                let message = format!("redirect to {} {}: {denial}", next.method, next.url);
                return HttpOutcome::failed(HttpFailure::RedirectDenied, message);
            }
            redirects += 1;
            hop = next;
        }
    }

    async fn send(&self, hop: &Hop, connected: &Url) -> reqwest::Result<Response> {
        let mut request = self
            .client
            .request(hop.method.clone(), connected.clone())
            .headers(hop.headers.clone());
        if let Some(body) = &hop.body {
            request = request.body(body.clone());
        }
        request.send().await
    }

    /// Reads the final response's body within the size cap.
    async fn finish(&self, mut response: Response, url: &Url, connected: &Url) -> HttpOutcome {
        let cap_bytes = self.config.response_bytes_max;
        let too_large = || {
            let message = format!("the response body exceeds {cap_bytes} bytes");
            HttpOutcome::failed(HttpFailure::TooLarge, message)
        };
        if response
            .content_length()
            .is_some_and(|length| length > cap_bytes)
        {
            return too_large();
        }
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if (body.len() + chunk.len()) as u64 > cap_bytes {
                        return too_large();
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(error) => return transport_failure("reading the response body", &error),
            }
        }
        HttpOutcome::Response {
            status: response.status().as_u16(),
            headers: response_headers(response.headers()),
            body,
            final_url: url.to_string(),
            connected_url: connected.to_string(),
        }
    }
}

fn response_headers(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for name in headers.keys() {
        let values: Vec<_> = headers
            .get_all(name)
            .iter()
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .collect();
        out.insert(name.as_str().to_owned(), values.join(", "));
    }
    out
}

fn transport_failure(doing: &str, error: &reqwest::Error) -> HttpOutcome {
    HttpOutcome::failed(HttpFailure::Transport, error_chain(doing, error))
}
