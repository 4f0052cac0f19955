#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The `http.request` adapter against real HTTP/1.1 servers on 127.0.0.1.

mod http_server;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::json;
use worldline_adapters::http::{HttpAdapter, HttpConfig, HttpFailure, HttpOutcome, HttpRequest};

use http_server::{Reply, Server, grant};

const KEY: [u8; 32] = [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
    0xa0, 0xb1, 0xc2, 0xd3, 0xe4, 0xf5, 0x06, 0x17, 0x28, 0x39, 0x4a, 0x5b, 0x6c, 0x7d, 0x8e, 0xff,
];
const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0fa0b1c2d3e4f5061728394a5b6c7d8eff";

fn adapter() -> HttpAdapter {
    HttpAdapter::new(HttpConfig::default()).unwrap()
}

fn adapter_with(config: HttpConfig) -> HttpAdapter {
    HttpAdapter::new(config).unwrap()
}

fn request(method: &str, url: &str) -> HttpRequest {
    HttpRequest {
        method: method.into(),
        url: url.into(),
        headers: BTreeMap::new(),
        body: None,
    }
}

/// The response of an outcome that must be one: (status, headers, body, final, connected).
type Parts = (u16, BTreeMap<String, String>, Vec<u8>, String, String);

fn response(outcome: HttpOutcome) -> Parts {
    match outcome {
        HttpOutcome::Response {
            status,
            headers,
            body,
            final_url,
            connected_url,
        } => (status, headers, body, final_url, connected_url),
        HttpOutcome::Failed { code, message } => panic!("failed: {code}: {message}"),
    }
}

fn failure(outcome: HttpOutcome) -> (HttpFailure, String) {
    match outcome {
        HttpOutcome::Failed { code, message } => (code, message),
        other => panic!("expected a failure, got {other:?}"),
    }
}

/// `GET url` under a grant that restricts nothing.
async fn get(adapter: &HttpAdapter, url: &str) -> HttpOutcome {
    adapter
        .execute(request("GET", url), &grant(json!({})), &KEY)
        .await
}

#[tokio::test]
async fn get_returns_status_headers_and_body() {
    let server = Server::start(|_| {
        Reply::ok(b"hello")
            .header("X-One", "a")
            .header("X-Multi", "1")
            .header("X-Multi", "2")
            .status(201)
    })
    .await;
    let url = server.url("/hello?q=1");
    let mut req = request("get", &url);
    req.headers.insert("X-Test".into(), "yes".into());
    let (status, headers, body, final_url, connected) =
        response(adapter().execute(req, &grant(json!({})), &KEY).await);
    assert_eq!((status, body.as_slice()), (201, b"hello".as_slice()));
    assert_eq!(headers["x-one"], "a");
    assert_eq!(headers["x-multi"], "1, 2");
    assert_eq!(headers["content-length"], "5");
    assert_eq!(
        (final_url.as_str(), connected.as_str()),
        (url.as_str(), url.as_str())
    );
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        (seen[0].method.as_str(), seen[0].target.as_str()),
        ("GET", "/hello?q=1")
    );
    assert_eq!(seen[0].headers["x-test"], "yes");
}

#[tokio::test]
async fn post_sends_the_request_body() {
    let server = Server::start(|seen| Reply::ok(&seen.body)).await;
    let mut req = request("POST", &server.url("/echo"));
    req.headers
        .insert("content-type".into(), "application/json".into());
    req.body = Some(br#"{"n":1}"#.to_vec());
    let (status, _, body, _, _) = response(adapter().execute(req, &grant(json!({})), &KEY).await);
    assert_eq!((status, body.as_slice()), (200, br#"{"n":1}"#.as_slice()));
    let seen = server.seen();
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].headers["content-type"], "application/json");
    assert_eq!(seen[0].body, br#"{"n":1}"#);
}

#[tokio::test]
async fn every_hop_carries_the_idempotency_key() {
    let server = Server::start(|seen| match seen.target.as_str() {
        "/first" => Reply::redirect(307, "/second"),
        _ => Reply::ok(b"done"),
    })
    .await;
    let req = request("PUT", &server.url("/first"));
    response(adapter().execute(req, &grant(json!({})), &KEY).await);
    let keys = server.key_counts();
    assert_eq!(keys, BTreeMap::from([(KEY_HEX.to_owned(), 2)]));
}

#[tokio::test]
async fn a_slow_server_times_out_within_the_deadline() {
    let server = Server::start(|_| Reply::ok(b"late").delay(Duration::from_secs(10))).await;
    let adapter = adapter_with(HttpConfig {
        timeout_ms: 200,
        ..HttpConfig::default()
    });
    let started = Instant::now();
    let (code, message) = failure(get(&adapter, &server.url("/")).await);
    assert_eq!(code, HttpFailure::Timeout, "{message}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_slow_body_counts_against_the_deadline() {
    let server =
        Server::start(|_| Reply::ok(b"slow body").stall_body(Duration::from_secs(10))).await;
    let adapter = adapter_with(HttpConfig {
        timeout_ms: 300,
        ..HttpConfig::default()
    });
    let outcome = get(&adapter, &server.url("/")).await;
    assert_eq!(failure(outcome).0, HttpFailure::Timeout);
}

fn capped(response_bytes_max: u64) -> HttpAdapter {
    adapter_with(HttpConfig {
        response_bytes_max,
        ..HttpConfig::default()
    })
}

#[tokio::test]
async fn a_body_over_the_cap_is_too_large() {
    let server = Server::start(|seen| match seen.target.as_str() {
        "/declared" => Reply::ok(&[b'x'; 4096]),
        "/streamed" => Reply::ok(&vec![b'y'; 4 << 20]).without_length(),
        _ => Reply::ok(&[b'z'; 1024]),
    })
    .await;
    let adapter = capped(1024);
    for path in ["/declared", "/streamed"] {
        let outcome = get(&adapter, &server.url(path)).await;
        assert_eq!(failure(outcome).0, HttpFailure::TooLarge, "{path}");
    }
    let at_cap = get(&adapter, &server.url("/exact")).await;
    assert_eq!(response(at_cap).2.len(), 1024);
}

#[tokio::test]
async fn a_redirect_the_grant_allows_is_followed() {
    let server = Server::start(|seen| match seen.target.as_str() {
        "/start" => Reply::redirect(302, "/allowed/next?x=1"),
        _ => Reply::ok(b"arrived"),
    })
    .await;
    let grant = grant(json!({"path_prefixes": ["/start", "/allowed"], "methods": ["POST", "GET"]}));
    let mut req = request("POST", &server.url("/start"));
    req.body = Some(b"form".to_vec());
    req.headers
        .insert("content-type".into(), "text/plain".into());
    let (status, _, body, final_url, _) = response(adapter().execute(req, &grant, &KEY).await);
    assert_eq!((status, body.as_slice()), (200, b"arrived".as_slice()));
    assert_eq!(final_url, server.url("/allowed/next?x=1"));
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    // 302 after POST continues as GET, without the body or the headers describing it.
    assert_eq!((seen[1].method.as_str(), seen[1].body.len()), ("GET", 0));
    assert!(!seen[1].headers.contains_key("content-type"));
}

#[tokio::test]
async fn a_307_keeps_method_and_body_and_a_303_becomes_get() {
    let server = Server::start(|seen| match seen.target.as_str() {
        "/keep" => Reply::redirect(307, "/echo"),
        "/other" => Reply::redirect(303, "/echo"),
        _ => Reply::ok(&seen.body),
    })
    .await;
    for (path, method, body) in [("/keep", "PUT", &b"data"[..]), ("/other", "GET", &b""[..])] {
        let mut req = request("PUT", &server.url(path));
        req.body = Some(b"data".to_vec());
        let outcome = adapter().execute(req, &grant(json!({})), &KEY).await;
        assert_eq!(response(outcome).2, body, "{path}");
        let seen = server.seen();
        assert_eq!(seen.last().unwrap().method, method, "{path}");
    }
}

#[tokio::test]
async fn a_redirect_to_a_forbidden_path_is_denied() {
    let server = Server::start(|seen| match seen.target.as_str() {
        "/start" => Reply::redirect(301, "/admin"),
        _ => Reply::ok(b"secret"),
    })
    .await;
    let grant = grant(json!({"path_prefixes": ["/start"]}));
    let outcome = adapter()
        .execute(request("GET", &server.url("/start")), &grant, &KEY)
        .await;
    let (code, message) = failure(outcome);
    assert_eq!(code, HttpFailure::RedirectDenied);
    assert!(message.contains("path_not_allowed"), "{message}");
    assert_eq!(server.seen().len(), 1);
}

/// An adapter whose `http://NAME.test` origins lead to the given servers.
fn mapped(origins: &[(&str, &Server)]) -> HttpAdapter {
    let origin_map = origins
        .iter()
        .map(|(name, server)| (format!("http://{name}.test"), server.url("")))
        .collect();
    adapter_with(HttpConfig {
        origin_map,
        ..HttpConfig::default()
    })
}

#[tokio::test]
async fn a_redirect_to_a_forbidden_host_never_reaches_it() {
    let forbidden = Server::start(|_| Reply::ok(b"should not be asked")).await;
    let allowed = Server::start(|_| Reply::redirect(302, "http://forbidden.test/x")).await;
    let adapter = mapped(&[("allowed", &allowed), ("forbidden", &forbidden)]);
    let grant = grant(json!({"hosts": ["allowed.test"]}));
    let outcome = adapter
        .execute(request("GET", "http://allowed.test/go"), &grant, &KEY)
        .await;
    let (code, message) = failure(outcome);
    assert_eq!(code, HttpFailure::RedirectDenied);
    assert!(message.contains("host_not_allowed"), "{message}");
    assert_eq!(allowed.seen().len(), 1);
    assert!(forbidden.seen().is_empty());
}

#[tokio::test]
async fn a_redirect_loop_is_too_many_redirects() {
    let server = Server::start(|_| Reply::redirect(302, "/loop")).await;
    let adapter = adapter_with(HttpConfig {
        redirects_max: 3,
        ..HttpConfig::default()
    });
    let outcome = get(&adapter, &server.url("/loop")).await;
    assert_eq!(failure(outcome).0, HttpFailure::TooManyRedirects);
    // The first request and three followed redirects; the fourth redirect is not followed.
    assert_eq!(server.seen().len(), 4);
}

#[tokio::test]
async fn the_origin_map_connects_elsewhere_but_the_grant_sees_the_requested_url() {
    let server = Server::start(|seen| match seen.target.as_str() {
        "/x" => Reply::redirect(302, "/y"),
        _ => Reply::ok(b"mapped"),
    })
    .await;
    let adapter = adapter_with(HttpConfig {
        origin_map: BTreeMap::from([("https://EXAMPLE.com:443".into(), server.url("/"))]),
        ..HttpConfig::default()
    });
    let grant = grant(json!({"hosts": ["example.com"], "schemes": ["https"], "ports": [443]}));
    let outcome = adapter.execute(request("GET", "https://example.com/x"), &grant, &KEY);
    let (status, _, body, final_url, connected) = response(outcome.await);
    assert_eq!((status, body.as_slice()), (200, b"mapped".as_slice()));
    assert_eq!(final_url, "https://example.com/y");
    assert_eq!(connected, server.url("/y"));
    let targets: Vec<_> = server.seen().into_iter().map(|seen| seen.target).collect();
    assert_eq!(targets, ["/x", "/y"]);
}

#[tokio::test]
async fn credentials_do_not_follow_a_redirect_to_another_origin() {
    let second = Server::start(|_| Reply::ok(b"second")).await;
    let first = Server::start(|seen| match seen.target.as_str() {
        "/same" => Reply::redirect(307, "/end"),
        "/away" => Reply::redirect(307, "http://second.test/end"),
        _ => Reply::ok(b"first"),
    })
    .await;
    let adapter = mapped(&[("first", &first), ("second", &second)]);
    for path in ["/same", "/away"] {
        let mut req = request("GET", &format!("http://first.test{path}"));
        req.headers
            .insert("Authorization".into(), "Bearer t".into());
        response(adapter.execute(req, &grant(json!({})), &KEY).await);
    }
    let first_seen = first.seen();
    assert!(
        first_seen
            .iter()
            .all(|s| s.headers["authorization"] == "Bearer t")
    );
    assert_eq!(first_seen.len(), 3);
    assert!(!second.seen()[0].headers.contains_key("authorization"));
}

#[tokio::test]
async fn invalid_requests_are_refused_before_sending() {
    let server = Server::start(|_| Reply::ok(b"")).await;
    let url = server.url("/");
    let mut host_header = request("GET", &url);
    host_header
        .headers
        .insert("Host".into(), "elsewhere.example".into());
    let mut key_header = request("GET", &url);
    key_header
        .headers
        .insert("Idempotency-Key".into(), "mine".into());
    let cases = [
        (host_header, HttpFailure::RequestInvalid),
        (key_header, HttpFailure::RequestInvalid),
        (request("GE T", &url), HttpFailure::RequestInvalid),
        (request("GET", "ftp://127.0.0.1/"), HttpFailure::UrlInvalid),
        (request("GET", "not a url"), HttpFailure::UrlInvalid),
    ];
    for (req, expected) in cases {
        let outcome = adapter()
            .execute(req.clone(), &grant(json!({})), &KEY)
            .await;
        assert_eq!(failure(outcome).0, expected, "{req:?}");
    }
    assert!(server.seen().is_empty());
}

#[tokio::test]
async fn a_closed_port_is_a_transport_failure() {
    let port = http_server::closed_port().await;
    let url = format!("http://127.0.0.1:{port}/");
    let outcome = adapter()
        .execute(request("GET", &url), &grant(json!({})), &KEY)
        .await;
    let (code, message) = failure(outcome);
    assert_eq!(code, HttpFailure::Transport);
    assert!(message.contains("onnect"), "{message}");
}

#[tokio::test]
async fn https_to_a_server_not_speaking_tls_is_a_transport_failure() {
    // Exercises the TLS stack (the ring provider is installed by `HttpAdapter::new`) without a
    // certificate: the "server" answers the ClientHello with plain text and hangs up.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let (mut stream, _) = listener.accept().await.unwrap();
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await;
    });
    let (code, message) = failure(get(&adapter(), &url).await);
    assert_eq!(code, HttpFailure::Transport, "{message}");
}

#[test]
fn bad_configuration_is_refused() {
    let origin_maps = [
        ("https://example.com/path", "http://127.0.0.1:1"),
        ("https://example.com", "http://127.0.0.1:1/?q"),
        ("ftp://example.com", "http://127.0.0.1:1"),
    ];
    for (from, to) in origin_maps {
        let config = HttpConfig {
            origin_map: BTreeMap::from([(from.into(), to.into())]),
            ..HttpConfig::default()
        };
        assert!(HttpAdapter::new(config).is_err(), "{from} -> {to}");
    }
    let config = HttpConfig {
        proxy: Some("::not a proxy::".into()),
        ..HttpConfig::default()
    };
    assert!(HttpAdapter::new(config).is_err());
}
