#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The adapter never takes a proxy from the environment. Its own test binary, with one test:
//! the environment is process-global, and changing it must not race other tests' threads.

mod http_server;

use std::collections::BTreeMap;

use serde_json::json;
use worldline_adapters::http::{HttpAdapter, HttpConfig, HttpOutcome, HttpRequest};

use http_server::{Reply, Server, grant};

/// Every variable an HTTP client might take a proxy from.
const PROXY_VARS: [&str; 6] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
];
const NO_PROXY_VARS: [&str; 2] = ["NO_PROXY", "no_proxy"];

#[allow(unsafe_code)]
fn point_proxy_env_at(bogus: &str) {
    for name in PROXY_VARS {
        // SAFETY: this binary's only test calls this before it starts a runtime or any other
        // thread, so nothing reads the environment concurrently.
        unsafe { std::env::set_var(name, bogus) };
    }
    for name in NO_PROXY_VARS {
        // SAFETY: as above.
        unsafe { std::env::remove_var(name) };
    }
}

#[test]
fn proxy_environment_variables_are_ignored() {
    // A "proxy" that refuses connections: any request sent through it fails.
    let bogus = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let bogus_url = format!("http://{}", bogus.local_addr().unwrap());
    drop(bogus);
    point_proxy_env_at(&bogus_url);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let server = Server::start(|_| Reply::ok(b"direct")).await;
        let adapter = HttpAdapter::new(HttpConfig::default()).unwrap();
        let request = HttpRequest {
            method: "GET".into(),
            url: server.url("/"),
            headers: BTreeMap::new(),
            body: None,
        };
        let outcome = adapter.execute(request, &grant(json!({})), &[7; 32]).await;
        let HttpOutcome::Response { body, .. } = outcome else {
            panic!("the request did not go direct: {outcome:?}");
        };
        assert_eq!(body, b"direct");
        assert_eq!(server.seen().len(), 1);

        // The control: a client left to its defaults does take the bogus proxy, so the
        // environment really was in effect for the adapter above.
        let default_client = reqwest::Client::new();
        let via_env = default_client.get(server.url("/")).send().await;
        assert!(
            via_env.is_err(),
            "a default client went direct: {via_env:?}"
        );
        assert_eq!(server.seen().len(), 1);
    });
}
