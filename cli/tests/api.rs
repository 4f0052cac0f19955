//! The control API of `world run --listen` as a real process on 127.0.0.1 (and 0.0.0.0 for the
//! token rules), through a real HTTP client: every route, the token rules, malformed events,
//! the event stream, the OpenAPI document, and `world log --follow`. Every world is replayed
//! afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::api::{Server, client, get, post};
use common::{fails, ok};
use serde_json::{Value as Json, json};

fn counter_world(root: &std::path::Path) -> String {
    let dir = root.join("counter").display().to_string();
    ok(&["new", &dir, "--air", "worlds/counter"]);
    dir
}

fn start_event(target: u64) -> String {
    json!({"schema": "demo/CounterEvent@1", "value": {"Start": {"target": target}}}).to_string()
}

fn replays(dir: &str) {
    assert!(ok(&["replay", dir]).starts_with("replay ok"));
}

/// Every (method, path) the API serves.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/health"),
    ("get", "/openapi.json"),
    ("post", "/events"),
    ("get", "/events/stream"),
    ("get", "/state/{reducer}"),
    ("get", "/journal"),
    ("get", "/why/{target}"),
    ("get", "/proposals"),
    ("post", "/proposals"),
    ("post", "/proposals/{id}/shadow"),
    ("post", "/proposals/{id}/approve"),
    ("post", "/proposals/{id}/reject"),
    ("post", "/proposals/{id}/apply"),
    ("get", "/proposals/{id}/report"),
    ("get", "/reducers"),
    ("get", "/"),
    ("get", "/viewer.js"),
    ("get", "/viewer.css"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_read_and_event_routes_answer_on_a_counter_world() {
    let root = tempfile::tempdir().unwrap();
    let dir = counter_world(root.path());
    let server = Server::start(&dir, "127.0.0.1:0", &[]);
    let c = client();

    let (status, health) = get(&c, &server.at("/health"), None).await;
    assert_eq!(status, 200, "{health}");
    assert_eq!(health["status"], "ok");
    let head = health["head"]["seq"].as_u64().unwrap();

    // Loopback without --token: a mutating call needs nothing.
    let (status, sent) = post(&c, &server.at("/events"), &start_event(3), None).await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["seq"], json!(head + 1));
    assert_eq!(sent["seqs"], json!([head + 1]));

    // Concurrent events: each acknowledged once, all journaled, seqs distinct.
    let mut sends = Vec::new();
    for _ in 0..20 {
        let (c, url) = (c.clone(), server.at("/events"));
        sends.push(tokio::spawn(async move {
            post(&c, &url, &start_event(1), None).await
        }));
    }
    let mut seqs = BTreeSet::new();
    for send in sends {
        let (status, sent) = send.await.unwrap();
        assert_eq!(status, 200, "{sent}");
        assert!(seqs.insert(sent["seq"].as_u64().unwrap()));
    }
    assert_eq!(seqs.len(), 20);

    let (status, state) = get(&c, &server.at("/state/demo/CounterSM@1"), None).await;
    assert_eq!(status, 200, "{state}");
    assert_eq!(state["state"]["remaining"], json!(1));
    let (status, same) = get(&c, &server.at("/state/demo%2FCounterSM%401"), None).await;
    assert_eq!((status, &same["state"]), (200, &state["state"]));
    let (status, error) = get(&c, &server.at("/state/demo/CounterSM@1?key=1"), None).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (400, Some("bad_request"))
    );
    let (status, error) = get(&c, &server.at("/state/demo/Nope@1"), None).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (404, Some("not_found"))
    );

    // The journal in pages; limit is capped.
    let (status, page) = get(&c, &server.at("/journal?from=0&limit=2"), None).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["records"].as_array().unwrap().len(), 2);
    assert_eq!(page["records"][0]["kind"], "genesis");
    assert_eq!(page["next"], json!(2));
    let (_, page) = get(&c, &server.at("/journal?from=2&limit=100000"), None).await;
    assert_eq!(page["limit"], json!(1000));
    let last = page["records"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["seq"], page["head"]);
    let (status, error) = get(&c, &server.at("/journal?limit=many"), None).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (400, Some("bad_request"))
    );

    // Why, both ways: the event's graph is the JSON `world why` prints.
    let event_seq = head + 1;
    let (status, why) = get(&c, &server.at(&format!("/why/{event_seq}")), None).await;
    assert_eq!(status, 200, "{why}");
    assert_eq!(
        (why["direction"].as_str(), &why["roots"]),
        (Some("back"), &json!([event_seq]))
    );
    assert_eq!(why["nodes"][0]["leaf"], "external input");
    let (status, why) = get(
        &c,
        &server.at(&format!("/why/{event_seq}?direction=forward&depth=2")),
        None,
    )
    .await;
    assert_eq!((status, why["direction"].as_str()), (200, Some("forward")));
    let (status, error) = get(&c, &server.at("/why/999999"), None).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (status, _) = get(&c, &server.at("/why/nope"), None).await;
    assert_eq!(status, 400);
    let (status, _) = get(&c, &server.at("/why/1?direction=sideways"), None).await;
    assert_eq!(status, 400);

    let (status, proposals) = get(&c, &server.at("/proposals"), None).await;
    assert_eq!((status, proposals), (200, json!({"proposals": []})));
    let (status, error) = get(&c, &server.at("/nowhere"), None).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (status, error) =
        common::api::answer(c.delete(server.at("/health")).send().await.unwrap()).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (405, Some("method_not_allowed"))
    );

    server.stop();
    // The API wrote what `world log` reads, and the world replays.
    let log = ok(&[
        "log",
        &dir,
        "--from",
        &event_seq.to_string(),
        "--limit",
        "1",
    ]);
    assert!(log.contains("demo/CounterEvent@1"), "{log}");
    replays(&dir);
    let why = ok(&["why", &dir, &event_seq.to_string(), "--json"]);
    let why: Json = serde_json::from_str(&why).unwrap();
    assert_eq!(why["nodes"][0]["leaf"], "external input");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_lists_every_route_and_each_is_served() {
    let root = tempfile::tempdir().unwrap();
    let dir = counter_world(root.path());
    let server = Server::start(&dir, "127.0.0.1:0", &[]);
    let c = client();
    let (status, doc) = get(&c, &server.at("/openapi.json"), None).await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut listed = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            listed.insert((method.clone(), path.clone()));
        }
    }
    let expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(listed, expected);
    // Each listed route is served: the router's own 404/405 never answers it.
    for (method, path) in ROUTES {
        if *path == "/events/stream" {
            continue; // never ends; the stream test reads it
        }
        let concrete = path
            .replace("{reducer}", "demo/CounterSM@1")
            .replace("{target}", "0")
            .replace("{id}", "1");
        let (status, body) = if *method == "get" {
            get(&c, &server.at(&concrete), None).await
        } else {
            post(&c, &server.at(&concrete), "{}", None).await
        };
        let code = body["error"]["code"].as_str().unwrap_or("");
        assert_ne!(status, 405, "{method} {path}: {body}");
        assert!(
            !(status == 404
                && body["error"]["message"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("no route")),
            "{method} {path}: {body}"
        );
        assert_ne!(code, "method_not_allowed", "{method} {path}");
    }
    server.stop();
    replays(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_event_is_400_with_its_path_and_journals_nothing() {
    let root = tempfile::tempdir().unwrap();
    let dir = counter_world(root.path());
    let server = Server::start(&dir, "127.0.0.1:0", &[]);
    let c = client();
    let (_, before) = get(&c, &server.at("/health"), None).await;
    let cases = [
        "{\"schema\": ",
        "[1, 2]",
        r#"{"value": {}}"#,
        r#"{"schema": 7, "value": {}}"#,
        r#"{"schema": "demo/CounterEvent@1"}"#,
        r#"{"schema": "demo/CounterEvent@1", "value": {}, "extra": 1}"#,
        r#"{"schema": "not a name", "value": {}}"#,
        r#"{"schema": "demo/Nope@1", "value": {}}"#,
        r#"{"schema": "demo/CounterEvent@1", "value": {"Start": {"target": "three"}}}"#,
        r#"{"schema": "demo/CounterEvent@1", "value": {"Stop": {}}}"#,
        r#"{"schema": "demo/CounterEvent@1", "value": {"schema": 1, "schema": 2}}"#,
    ];
    let mut report = String::new();
    for body in cases {
        let (status, error) = post(&c, &server.at("/events"), body, None).await;
        assert_eq!(status, 400, "{body}: {error}");
        assert!(error["error"]["path"].is_string(), "{body}: {error}");
        report.push_str(&format!("{body}\n  → {status} {error}\n"));
    }
    insta::assert_snapshot!("malformed_events", report);
    // Over the body limit (1 MiB): 413, JSON.
    let big = format!(
        r#"{{"schema": "demo/CounterEvent@1", "value": "{}"}}"#,
        "a".repeat(1 << 20)
    );
    let (status, error) = post(&c, &server.at("/events"), &big, None).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (413, Some("too_large")),
        "{error}"
    );
    let (_, after) = get(&c, &server.at("/health"), None).await;
    assert_eq!(after["head"], before["head"]);
    server.stop();
    // Nothing but the clean shutdown's checkpoint after the adapter keys.
    let log = ok(&["log", &dir, "--json"]);
    assert!(!log.contains("domain_event"), "{log}");
    replays(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_rules() {
    let root = tempfile::tempdir().unwrap();
    let dir = counter_world(root.path());
    // A non-loopback bind without a token does not start, and journals nothing.
    let line = fails(&[
        "run",
        &dir,
        "--listen",
        "0.0.0.0:0",
        "--stop-after-ms",
        "100",
    ]);
    insta::assert_snapshot!("non_loopback_without_token", line);
    let line = fails(&["run", &dir, "--listen", "127.0.0.1:0", "--token", ""]);
    insta::assert_snapshot!("empty_token", line);
    let c = client();

    // 0.0.0.0: every request needs the token, reads too.
    let server = Server::start(&dir, "0.0.0.0:0", &["--token", "s3cret"]);
    let (status, missing) = get(&c, &server.at("/health"), None).await;
    assert_eq!(status, 401);
    let (status, wrong) = get(&c, &server.at("/health"), Some("guess")).await;
    assert_eq!(status, 401);
    insta::assert_snapshot!("unauthorized", format!("{missing}\n{wrong}"));
    let (status, _) = get(&c, &server.at("/events/stream"), None).await;
    assert_eq!(status, 401);
    let (status, _) = post(&c, &server.at("/events"), &start_event(2), None).await;
    assert_eq!(status, 401);
    let (status, _) = get(&c, &server.at("/health"), Some("s3cret")).await;
    assert_eq!(status, 200);
    let (status, sent) = post(&c, &server.at("/events"), &start_event(2), Some("s3cret")).await;
    assert_eq!(status, 200, "{sent}");
    server.stop();

    // Loopback with a token: reads are free, mutating calls need it.
    let server = Server::start(&dir, "127.0.0.1:0", &["--token", "s3cret"]);
    let (status, _) = get(&c, &server.at("/health"), None).await;
    assert_eq!(status, 200);
    let (status, _) = get(&c, &server.at("/journal"), None).await;
    assert_eq!(status, 200);
    let (status, _) = post(&c, &server.at("/events"), &start_event(2), None).await;
    assert_eq!(status, 401);
    let (status, _) = post(&c, &server.at("/proposals/1/apply"), "", None).await;
    assert_eq!(status, 401);
    let (status, _) = post(&c, &server.at("/events"), &start_event(2), Some("s3cret")).await;
    assert_eq!(status, 200);
    server.stop();
    let events = ok(&["log", &dir, "--json"])
        .lines()
        .filter(|l| l.contains("domain_event"))
        .count();
    assert_eq!(events, 2, "exactly the two authorized events");
    replays(&dir);
}

#[test]
fn a_run_that_cannot_listen_journals_nothing() {
    let root = tempfile::tempdir().unwrap();
    let dir = counter_world(root.path());
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let before = ok(&["log", &dir, "--json"]);
    let line = fails(&["run", &dir, "--listen", &addr, "--stop-after-ms", "100"]);
    assert!(
        line.starts_with(&format!("error: --listen {addr}: ")),
        "{line}"
    );
    assert_eq!(ok(&["log", &dir, "--json"]), before);
    replays(&dir);
}

/// Reads `count` `record` events of an SSE response: (id, data as JSON).
async fn read_events(response: &mut reqwest::Response, count: usize) -> Vec<(u64, Json)> {
    let mut buffer = String::new();
    let mut events = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while events.len() < count {
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = tokio::time::timeout(left, response.chunk())
            .await
            .expect("the stream stalled")
            .unwrap()
            .expect("the stream ended");
        buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let mut id = None;
            let mut data = None;
            let mut record = false;
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id: ") {
                    id = v.parse::<u64>().ok();
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data = Some(v.to_owned());
                } else if line == "event: record" {
                    record = true;
                }
            }
            if record {
                events.push((id.unwrap(), serde_json::from_str(&data.unwrap()).unwrap()));
            }
        }
    }
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_delivers_every_record_in_order() {
    let root = tempfile::tempdir().unwrap();
    let dir = counter_world(root.path());
    let server = Server::start(&dir, "127.0.0.1:0", &[]);
    let c = client();
    let mut from_start = c
        .get(server.at("/events/stream?from=0"))
        .send()
        .await
        .unwrap();
    assert_eq!(from_start.status(), 200);
    let (_, health) = get(&c, &server.at("/health"), None).await;
    let head = health["head"]["seq"].as_u64().unwrap();
    // Only new records without ?from.
    let mut new_only = c.get(server.at("/events/stream")).send().await.unwrap();
    let mut sends = Vec::new();
    for target in 1..=10u64 {
        let (c, url) = (c.clone(), server.at("/events"));
        sends.push(tokio::spawn(async move {
            post(&c, &url, &start_event(target), None).await
        }));
    }
    for send in sends {
        assert_eq!(send.await.unwrap().0, 200);
    }
    let total = usize::try_from(head + 1 + 10).unwrap();
    let events = read_events(&mut from_start, total).await;
    for (i, (id, record)) in events.iter().enumerate() {
        assert_eq!(*id, u64::try_from(i).unwrap());
        assert_eq!(record["seq"], json!(id));
    }
    assert_eq!(events[0].1["kind"], "genesis");
    // The records are the JSON `world log --json` prints.
    let (_, page) = get(&c, &server.at("/journal?from=0&limit=1000"), None).await;
    let journal: Vec<Json> = page["records"].as_array().unwrap().clone();
    let streamed: Vec<Json> = events.into_iter().map(|(_, r)| r).collect();
    assert_eq!(streamed, journal);
    let fresh = read_events(&mut new_only, 10).await;
    let ids: Vec<u64> = fresh.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, (head + 1..=head + 10).collect::<Vec<_>>());
    // A client reconnecting with Last-Event-ID continues after it.
    let mut resumed = c
        .get(server.at("/events/stream?from=0"))
        .header("last-event-id", (head + 8).to_string())
        .send()
        .await
        .unwrap();
    let rest = read_events(&mut resumed, 2).await;
    assert_eq!(rest[0].0, head + 9);
    drop((from_start, new_only, resumed));
    server.stop();
    replays(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_follow_prints_records_as_they_are_journaled() {
    let root = tempfile::tempdir().unwrap();
    let dir = counter_world(root.path());
    let server = Server::start(&dir, "127.0.0.1:0", &[]);
    let c = client();
    // The follower finds the API through .world/api-url (the world is held by `world run`).
    let mut follower = Command::new(env!("CARGO_BIN_EXE_world"))
        .args(["log", &dir, "--follow", "--json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = follower.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let mut last = 0;
    for target in 1..=3 {
        let (status, sent) = post(&c, &server.at("/events"), &start_event(target), None).await;
        assert_eq!(status, 200, "{sent}");
        last = sent["seq"].as_u64().unwrap();
    }
    let mut seen = Vec::new();
    while seen.last() != Some(&last) {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("follow stalled");
        let record: Json = serde_json::from_str(&line).unwrap();
        seen.push(record["seq"].as_u64().unwrap());
    }
    assert_eq!(seen, (0..=last).collect::<Vec<_>>());
    server.stop();
    // The host is gone: the follower waits for the next one without holding the world.
    ok(&[
        "send",
        &dir,
        "demo/CounterEvent@1",
        r#"{"Start": {"target": 9}}"#,
    ]);
    let server = Server::start(&dir, "127.0.0.1:0", &[]);
    let (_, health) = get(&c, &server.at("/health"), None).await;
    let head = health["head"]["seq"].as_u64().unwrap();
    while seen.last() != Some(&head) {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("follow stalled");
        let record: Json = serde_json::from_str(&line).unwrap();
        seen.push(record["seq"].as_u64().unwrap());
    }
    assert_eq!(seen, (0..=head).collect::<Vec<_>>());
    let _ = follower.kill();
    let _ = follower.wait();
    server.stop();

    // With --url of a host that is not there: one line, exit 1.
    let line = fails(&["log", &dir, "--follow", "--url", "http://127.0.0.1:9"]);
    assert!(line.contains("--url http://127.0.0.1:9"), "{line}");
    replays(&dir);
}
