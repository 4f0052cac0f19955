//! In-world governance under crashes: one `world send` of an upgrade request to
//! `worlds/self-govern` makes its plan propose, shadow, approve and apply a patch through the
//! `governance.*` effects. The send is traced once; then for every crash point × every hit the
//! trace saw, the send is run again on a fresh world with that hit armed. After the crash the
//! client retries as it would (the request again if it was not acknowledged, else `world run`
//! to settle what stayed open), and the world must hold each governance record exactly once, one
//! receipt per governance intent, no open intent, the plan ended `ok`, the new manifest in force,
//! and pass `world replay` and `world verify`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use base64::Engine as _;
use worldline_kernel::failpoint;
use worldline_kernel::record::{EventOrigin, RecordBody};

use crate::check::{self, Findings, Kind};
use crate::world::{Outcome, copy_tree, repo, world};

/// What the governance crash runs did.
#[derive(Debug, Default)]
pub struct Report {
    /// Cases that died at their crash point and were checked.
    pub crashes: usize,
    /// Cases whose armed hit did not come.
    pub not_reached: usize,
    /// Crashes per point.
    pub per_point: BTreeMap<&'static str, usize>,
    /// What went wrong.
    pub findings: Findings,
}

const SCHEMA: &str = "agent/Upgrade@1";
/// How long the settling `world run` runs.
const SETTLE_MS: &str = "1500";

fn text(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The upgrade request: the patch from `worlds/self-govern/air` to `next/`.
fn request(base: &Path) -> String {
    let air = repo().join("worlds/self-govern/next");
    let patch = world(&["diff", text(base), "--air", text(&air)], &[], base).expect_ok("diff");
    let encoded = base64::engine::general_purpose::STANDARD.encode(patch.stdout.as_bytes());
    format!(
        r#"{{"patch": {{"$tag": "patch_doc_json", "$value": "{encoded}"}}, "approver": "agent", "description": "crash"}}"#
    )
}

fn send(dir: &Path, event: &str, env: &[(&str, &str)]) -> Outcome {
    world(
        &["send", text(dir), SCHEMA, event, "--timeout-ms", "20000"],
        env,
        dir,
    )
}

/// Runs every case; `scratch` holds the worlds, `parallel` cases run at once.
pub fn run(scratch: &Path, parallel: usize) -> Report {
    let base = scratch.join("base");
    let air = repo().join("worlds/self-govern/air");
    world(&["new", text(&base), "--air", text(&air)], &[], scratch).expect_ok("new");
    let event = request(&base);
    let traced = scratch.join("trace");
    copy_tree(&base, &traced);
    let trace = send(&traced, &event, &[(failpoint::TRACE_ENV, "1")]).expect_ok("traced send");
    let mut cases = Vec::new();
    for line in trace.stderr.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some("failpoint") {
            continue;
        }
        let Some(point) = words
            .next()
            .and_then(|n| failpoint::POINTS.iter().find(|p| **p == n))
        else {
            continue;
        };
        let nth = cases.iter().filter(|(p, _)| p == point).count() + 1;
        cases.push((*point, nth));
    }
    let queue = Mutex::new(cases.into_iter().enumerate().collect::<Vec<_>>());
    let report = Mutex::new(Report::default());
    std::thread::scope(|scope| {
        for _ in 0..parallel.max(1) {
            scope.spawn(|| {
                loop {
                    let Some((id, (point, nth))) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let root = scratch.join(format!("gov-case-{id}"));
                    run_case(&base, &root, &event, point, nth, &report);
                    let _ = std::fs::remove_dir_all(&root);
                }
            });
        }
    });
    report.into_inner().unwrap()
}

fn run_case(
    base: &Path,
    root: &Path,
    event: &str,
    point: &'static str,
    nth: usize,
    report: &Mutex<Report>,
) {
    let dir = root.join("w");
    copy_tree(base, &dir);
    let arm = format!("{point}:{nth}");
    let case = format!("governance {arm}");
    let crashed = send(&dir, event, &[(failpoint::CRASH_AT_ENV, &arm)]);
    if !crashed.crashed() {
        report.lock().unwrap().not_reached += 1;
        return;
    }
    let mut findings = Findings::default();
    recover(&dir, event, &case, &mut findings);
    if findings.is_empty() {
        check(&dir, &case, &mut findings);
    }
    let mut report = report.lock().unwrap();
    report.crashes += 1;
    *report.per_point.entry(point).or_insert(0) += 1;
    for (kind, count) in findings.counts {
        *report.findings.counts.entry(kind).or_insert(0) += count;
    }
    report.findings.details.extend(findings.details);
}

/// What a client does after the crash: send the request again unless it is journaled, then
/// let `world run` settle what is still open.
fn recover(dir: &Path, event: &str, case: &str, findings: &mut Findings) {
    let journaled = match check::journal(dir) {
        Ok(journal) => journal.records.iter().any(|r| {
            matches!(
                &r.body,
                RecordBody::DomainEvent {
                    origin: EventOrigin::External,
                    ..
                }
            )
        }),
        Err(e) => return findings.add(Kind::Recovery, case, e),
    };
    if !journaled {
        let retry = send(dir, event, &[]);
        if !retry.ok() {
            return findings.add(Kind::Recovery, case, retry.stderr.trim().to_owned());
        }
    }
    let settle = world(&["run", text(dir), "--stop-after-ms", SETTLE_MS], &[], dir);
    if !settle.ok() {
        findings.add(Kind::Recovery, case, settle.stderr.trim().to_owned());
    }
}

fn check(dir: &Path, case: &str, findings: &mut Findings) {
    let journal = match check::journal(dir) {
        Ok(journal) => journal,
        Err(e) => return findings.add(Kind::Recovery, case, e),
    };
    let count =
        |f: &dyn Fn(&RecordBody) -> bool| journal.records.iter().filter(|r| f(&r.body)).count();
    let requests = count(&|b| {
        matches!(
            b,
            RecordBody::DomainEvent {
                origin: EventOrigin::External,
                ..
            }
        )
    });
    if requests != 1 {
        findings.add(
            Kind::Lost,
            case,
            format!("{requests} upgrade requests journaled, not 1"),
        );
    }
    let once = [
        (
            "gov_proposed",
            count(&|b| matches!(b, RecordBody::GovProposed { .. })),
        ),
        (
            "gov_shadow_report",
            count(&|b| matches!(b, RecordBody::GovShadowReport { .. })),
        ),
        (
            "gov_decided",
            count(&|b| matches!(b, RecordBody::GovDecided { .. })),
        ),
        (
            "gov_applied",
            count(&|b| matches!(b, RecordBody::GovApplied { .. })),
        ),
        (
            "manifest_changed",
            count(&|b| matches!(b, RecordBody::ManifestChanged { .. })),
        ),
    ];
    for (kind, n) in once {
        if n != 1 {
            findings.add(
                Kind::DuplicateReceipt,
                case,
                format!("{n} {kind} records, not 1"),
            );
        }
    }
    let mut receipts: BTreeMap<_, usize> = BTreeMap::new();
    for record in &journal.records {
        if let RecordBody::Receipt(r) = &record.body {
            *receipts.entry(r.intent_hash).or_insert(0) += 1;
        }
    }
    let intents = journal.records.iter().filter_map(|r| match &r.body {
        RecordBody::EffectIntent(i) if i.kind.starts_with("governance.") => Some(i.intent_hash),
        _ => None,
    });
    for intent in intents {
        match receipts.get(&intent) {
            Some(1) => {}
            Some(n) => findings.add(
                Kind::DuplicateReceipt,
                case,
                format!("{n} receipts for {intent}"),
            ),
            None => findings.add(Kind::Undispatched, case, format!("no receipt for {intent}")),
        }
    }
    if !journal.open.is_empty() {
        findings.add(
            Kind::Undispatched,
            case,
            format!("{} intents still open", journal.open.len()),
        );
    }
    let ended_ok = journal
        .records
        .iter()
        .any(|r| matches!(&r.body, RecordBody::PlanEnded { status, .. } if status == "ok"));
    if !ended_ok {
        findings.add(
            Kind::Recovery,
            case,
            "the governing plan did not end ok".into(),
        );
    }
    check::replay_and_verify(dir, case, findings);
}
