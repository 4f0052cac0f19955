//! The AgentOS orchestration worlds with their AIR unchanged: `worlds/fetch-notify` (example 03)
//! and `worlds/chain-comp` (example 05), their plans doing real HTTP against a local server
//! through the origin map (`https://example.com` → `http://127.0.0.1:PORT`). Every world here is
//! replayed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../adapters/tests/http_server/mod.rs"]
mod http_server;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http_server::{Reply, Server};
use serde_json::{Value as Json, json};
use worldline_adapters::http::HttpConfig;
use worldline_adapters::{Host, HostOptions, Quiescence};
use worldline_air::load::SourceFile;
use worldline_air::{Hash, Name};
use worldline_kernel::config::WorldConfig;
use worldline_kernel::record::{EventOrigin, RecordBody};
use worldline_kernel::world::replay;
use worldline_kernel::{CreateOptions, Ingress, World};
use worldline_tests::sources::air_sources;
use worldline_tests::world::{records, repo};

fn ingress() -> Ingress {
    Ingress {
        now_ns: worldline_adapters::clock::now_ns(),
        entropy: [5; 32],
    }
}

fn create(dir: &Path, air: Vec<SourceFile>, module: &str, package: &str) -> World {
    let wasm = worldline_cli::modules::build_package(&repo().join("modules"), package).unwrap();
    let options = CreateOptions {
        config: WorldConfig::default(),
        seed: [9; 32],
        ingress: ingress(),
    };
    let binaries = BTreeMap::from([(Name::parse(module).unwrap(), wasm)]);
    World::create(dir, &air, binaries, options).unwrap()
}

/// A local server answering by path, and a runtime that keeps it running.
fn serve(
    answer: impl Fn(&str, &str) -> Reply + Send + Sync + 'static,
) -> (tokio::runtime::Runtime, Server) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(Server::start(move |seen| {
        answer(&seen.method, &seen.target)
    }));
    (runtime, server)
}

fn host_for(world: World, server: &Server) -> Host {
    let http = HttpConfig {
        origin_map: BTreeMap::from([("https://example.com".to_owned(), server.url(""))]),
        ..HttpConfig::default()
    };
    let options = HostOptions {
        http,
        ..HostOptions::default()
    };
    Host::start(world, options).unwrap()
}

fn send(host: &mut Host, schema: &str, event: Json) {
    let input = host.world().event_from_json(schema, &event).unwrap();
    host.submit(vec![input]).unwrap();
    let quiet = host.run_until_quiescent(Duration::from_secs(20)).unwrap();
    assert_eq!(quiet, Quiescence::Quiet);
}

fn state(world: &World, reducer: &str) -> Json {
    let name = Name::parse(reducer).unwrap();
    world.state(&name, &[]).unwrap().unwrap().to_plain_json()
}

/// `(status, code)` of every `plan_ended`, in journal order.
fn plan_ends(world: &World) -> Vec<(String, Option<String>)> {
    records(world)
        .into_iter()
        .filter_map(|r| match r.body {
            RecordBody::PlanEnded { status, code, .. } => Some((status, code)),
            _ => None,
        })
        .collect()
}

fn plans_started(world: &World) -> Vec<String> {
    records(world)
        .into_iter()
        .filter_map(|r| match r.body {
            RecordBody::PlanStarted { plan, .. } => Some(plan.to_string()),
            _ => None,
        })
        .collect()
}

fn assert_replays(dir: &Path) {
    let report = replay(dir).unwrap();
    assert!(report.records > 0);
}

fn fetch_start() -> Json {
    json!({"Start": {"url": "https://example.com/data.json", "method": "GET"}})
}

#[test]
fn fetch_notify_reaches_done_with_the_status_and_preview_the_server_returned() {
    let body = "{\"answer\": 42, \"from\": \"the local server\"}";
    let (_runtime, server) = serve(move |_, _| Reply::ok(body.as_bytes()).status(203));
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("w");
    let air = air_sources(&repo().join("worlds/fetch-notify/air"));
    let world = create(&dir, air, "demo/FetchNotify@1", "fetch-notify");
    let mut host = host_for(world, &server);
    send(&mut host, "demo/FetchNotifyEvent@1", fetch_start());
    let world = host.into_world();

    let s = state(&world, "demo/FetchNotify@1");
    assert_eq!(s["pc"], json!({"$tag": "Done"}));
    assert_eq!(s["last_status"], json!(203));
    assert_eq!(
        s["last_body_ref"],
        json!(Hash::of(body.as_bytes()).to_string())
    );
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        (seen[0].method.as_str(), seen[0].target.as_str()),
        ("GET", "/data.json")
    );
    assert_eq!(plans_started(&world), ["demo/fetch_plan@1"]);
    assert_eq!(plan_ends(&world), [("ok".to_owned(), None)]);
    // The event the plan raised carries the preview itself, typed by the reducer's schema.
    let raised = records(&world).into_iter().find_map(|r| match r.body {
        RecordBody::DomainEvent {
            origin: EventOrigin::Plan { plan, .. },
            value,
            ..
        } => Some((plan.to_string(), value)),
        _ => None,
    });
    let (plan, value) = raised.expect("the plan raised an event");
    assert_eq!(plan, "demo/fetch_plan@1");
    assert!(value.windows(body.len()).any(|w| w == body.as_bytes()));
    assert!(world.plans().is_empty());
    // The receipt records both the URL the plan asked for and the one the origin map chose.
    let receipt = records(&world).into_iter().find_map(|r| match r.body {
        RecordBody::Receipt(receipt) => Some(receipt),
        _ => None,
    });
    let schema = Name::parse("sys/HttpRequestReceipt@1").unwrap();
    let ty = world.plane().schema_type_of(&schema).unwrap();
    let payload =
        worldline_air::Value::from_cbor_bytes(&receipt.unwrap().payload, ty, world.plane());
    let headers = payload.unwrap().to_plain_json()["headers"].clone();
    assert_eq!(
        headers[":requested-url"],
        json!("https://example.com/data.json")
    );
    assert_eq!(headers[":connected-url"], json!(server.url("/data.json")));
    drop(world);
    assert_replays(&dir);
}

#[test]
fn fetch_notify_with_a_grant_that_omits_the_host_records_host_not_allowed_and_dispatches_nothing() {
    let (_runtime, server) = serve(|_, _| Reply::ok(b"never"));
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("w");
    let mut air = air_sources(&repo().join("worlds/fetch-notify/air"));
    let manifest = air
        .iter_mut()
        .find(|f| f.name == "manifest.air.json")
        .unwrap();
    assert!(manifest.text.contains("\"text\": \"example.com\""));
    manifest.text = manifest
        .text
        .replace("\"text\": \"example.com\"", "\"text\": \"api.example.org\"");
    let world = create(&dir, air, "demo/FetchNotify@1", "fetch-notify");
    let mut host = host_for(world, &server);
    send(&mut host, "demo/FetchNotifyEvent@1", fetch_start());
    let world = host.into_world();

    let denial = records(&world).into_iter().find_map(|r| match r.body {
        RecordBody::Admission(a) if !a.allowed => Some(a),
        _ => None,
    });
    let denial = denial.expect("a denied admission");
    assert_eq!(
        (denial.stage.as_str(), denial.code.as_str()),
        ("capability", "host_not_allowed")
    );
    let ends = plan_ends(&world);
    assert_eq!(
        ends,
        [("error".to_owned(), Some("host_not_allowed".to_owned()))]
    );
    assert!(server.seen().is_empty(), "nothing may leave the host");
    assert!(world.open_intents().is_empty());
    let s = state(&world, "demo/FetchNotify@1");
    assert_eq!(s["pc"], json!({"$tag": "Fetching"}));
    drop(world);
    assert_replays(&dir);
}

fn chain_start() -> Json {
    let target = |name: &str, method: &str| json!({"name": name, "method": method, "url": format!("https://example.com/{name}")});
    json!({"Start": {
        "order_id": "order-7",
        "customer_id": "cust-3",
        "amount_cents": 1999,
        "reserve_sku": "sku-42",
        "charge": target("charge", "POST"),
        "reserve": target("reserve", "POST"),
        "notify": target("notify", "POST"),
        "refund": target("refund", "PUT"),
    }})
}

fn run_chain(reserve_status: u16) -> (tempfile::TempDir, PathBuf, World, Vec<String>) {
    let (_runtime, server) = serve(move |_, target| {
        let status = if target == "/reserve" {
            reserve_status
        } else {
            200
        };
        Reply::ok(format!("{target} answered").as_bytes()).status(status)
    });
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("w");
    let air = air_sources(&repo().join("worlds/chain-comp/air"));
    let world = create(&dir, air, "demo/ChainComp@1", "chain-comp");
    let mut host = host_for(world, &server);
    send(&mut host, "demo/ChainEvent@1", chain_start());
    let world = host.into_world();
    let paths = server
        .seen()
        .into_iter()
        .map(|s| format!("{} {}", s.method, s.target))
        .collect();
    (scratch, dir, world, paths)
}

#[test]
fn chain_comp_success_path_ends_completed() {
    let (_scratch, dir, world, paths) = run_chain(200);
    assert_eq!(paths, ["POST /charge", "POST /reserve", "POST /notify"]);
    let s = state(&world, "demo/ChainComp@1");
    assert_eq!(s["phase"], json!({"$tag": "Completed"}));
    let saga = &s["current_saga"];
    assert_eq!(
        (
            &saga["charge_status"],
            &saga["reserve_status"],
            &saga["notify_status"]
        ),
        (&json!(200), &json!(200), &json!(200))
    );
    assert_eq!(saga["refund_status"], Json::Null);
    assert_eq!(
        plans_started(&world),
        [
            "demo/charge_plan@1",
            "demo/reserve_plan@1",
            "demo/notify_plan@1"
        ]
    );
    assert!(plan_ends(&world).iter().all(|(status, _)| status == "ok"));
    drop(world);
    assert_replays(&dir);
}

#[test]
fn chain_comp_takes_the_refund_path_when_the_reservation_answers_409() {
    let (_scratch, dir, world, paths) = run_chain(409);
    assert_eq!(paths, ["POST /charge", "POST /reserve", "PUT /refund"]);
    let s = state(&world, "demo/ChainComp@1");
    assert_eq!(s["phase"], json!({"$tag": "Refunded"}));
    let saga = &s["current_saga"];
    assert_eq!(saga["reserve_status"], json!(409));
    assert_eq!(saga["refund_status"], json!(200));
    assert_eq!(saga["notify_status"], Json::Null);
    assert_eq!(saga["last_error"], json!("reserve failed with status 409"));
    assert_eq!(
        plans_started(&world),
        [
            "demo/charge_plan@1",
            "demo/reserve_plan@1",
            "demo/refund_plan@1"
        ]
    );
    // The reserve plan took its failure branch: the success branch and its end were skipped.
    let raised_failure = records(&world).into_iter().any(|r| match r.body {
        RecordBody::DomainEvent { origin, value, .. } => {
            matches!(origin, EventOrigin::Plan { .. })
                && value.windows(13).any(|w| w == b"ReserveFailed")
        }
        _ => false,
    });
    assert!(raised_failure);
    drop(world);
    assert_replays(&dir);
}
