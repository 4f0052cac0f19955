//! The tour's steps, on `worlds/summarizer`: a reducer that stores a prompt, and a plan that
//! fetches a page over HTTP and asks an LLM to summarize it.

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};

use super::{Tour, page, sent_records};
use crate::failure::Failure;

const SCHEMA: &str = "demo/SummarizerEvent@1";
const REDUCER: &str = "demo/Summarizer@1";

fn start(url: &str) -> String {
    json!({"Start": {"url": url, "provider": "offline", "model": "demo"}}).to_string()
}

/// What one `send` did: effects answered, decisions denied, how its plans ended.
#[derive(Default)]
struct Sent {
    /// `(receipt seq, effect kind, status)`.
    receipts: Vec<(u64, String, String)>,
    /// `(admission seq, code, detail)` of each denial.
    denials: Vec<(u64, String, String)>,
    /// Plan endings: `ok`, or `error CODE`.
    plan_endings: Vec<String>,
}

fn summarize(records: &[Json]) -> Sent {
    let mut kinds = BTreeMap::new();
    let mut sent = Sent::default();
    for record in records {
        let body = &record["body"];
        let seq = record["seq"].as_u64().unwrap_or_default();
        let text = |field: &str| body[field].as_str().unwrap_or_default().to_owned();
        match record["kind"].as_str().unwrap_or_default() {
            "effect_intent" => {
                kinds.insert(text("intent_hash"), text("kind"));
            }
            "receipt" => {
                let kind = kinds.get(&text("intent_hash")).cloned().unwrap_or_default();
                sent.receipts.push((seq, kind, text("status")));
            }
            "admission" if body["allowed"] == false => {
                sent.denials.push((seq, text("code"), text("detail")));
            }
            "plan_ended" => sent.plan_endings.push(match body["code"].as_str() {
                Some(code) => format!("{} {code}", text("status")),
                None => text("status"),
            }),
            _ => {}
        }
    }
    sent
}

impl Sent {
    fn show(&self, tour: &Tour) {
        for (seq, kind, status) in &self.receipts {
            tour.say(format!("#{seq} receipt {kind}: {status}"));
        }
        for (seq, code, detail) in &self.denials {
            tour.say(format!("#{seq} denied: {code} ({detail})"));
        }
        for ending in &self.plan_endings {
            tour.say(format!("plan ended {ending}"));
        }
    }

    fn answered(&self, kind: &str) -> Option<u64> {
        self.receipts
            .iter()
            .find(|(_, k, status)| k == kind && status == "ok")
            .map(|(seq, _, _)| *seq)
    }
}

fn line_with<'a>(text: &'a str, start: &str) -> &'a str {
    text.lines()
        .find(|line| line.trim_start().starts_with(start))
        .map(str::trim)
        .unwrap_or_default()
}

/// Every step, in order.
pub(super) fn run(t: &mut Tour) -> Result<(), Failure> {
    let page = page::serve()?;
    let sum = t.path("summarizer");
    let out = t.run(
        "Create a world from worlds/summarizer: a new Ed25519 identity (its did:key) and genesis",
        &["new", &sum, "--air", "worlds/summarizer"],
    )?;
    t.say(line_with(&out, "did"));
    t.say(line_with(&out, "manifest"));

    let https_map = format!("https://example.com={page}");
    let out = t.run(
        "Send an event: the reducer stores a prompt; a plan fetches https://example.com/article (a local server here) and asks the offline LLM provider for a summary",
        &["send", &sum, SCHEMA, &start("https://example.com/article"), "--http-map", &https_map, "--json"],
    )?;
    let sent = summarize(&sent_records(&out));
    sent.show(t);
    t.check(
        sent.answered("http.request").is_some(),
        "the page was not fetched",
    )?;
    t.check(
        sent.answered("llm.generate").is_some(),
        "no summary came back",
    )?;

    let out = t.run(
        "Read the reducer's state",
        &["state", &sum, REDUCER, "--json"],
    )?;
    let state: Json = serde_json::from_str(&out).unwrap_or_default();
    let state = &state["state"];
    let field = |value: &Json| match value {
        Json::String(text) => text.clone(),
        other => other.to_string(),
    };
    t.say(format!(
        "pc {}, page status {}, summary {} ({} prompt + {} completion tokens)",
        field(&state["pc"]["$tag"]),
        field(&state["fetch_status"]),
        field(&state["summary_ref"]),
        field(&state["prompt_tokens"]),
        field(&state["completion_tokens"])
    ));
    t.check(
        state["pc"]["$tag"] == "Done",
        "the reducer did not reach Done",
    )?;

    let http_map = format!("http://example.com={page}");
    let plain_http = start("http://example.com/article");
    let out = t.run(
        "Ask for a page over plain http: the grant `web` admits only https, so the fetch is denied and nothing leaves the process",
        &["send", &sum, SCHEMA, &plain_http, "--http-map", &http_map, "--json"],
    )?;
    let sent = summarize(&sent_records(&out));
    sent.show(t);
    let denial = sent
        .denials
        .first()
        .map(|(seq, code, _)| (*seq, code.clone()));
    let Some((denial_seq, code)) = denial else {
        return Err(t.failed("the plain-http fetch was not denied"));
    };
    t.check(code == "scheme_not_allowed", "denied for another reason")?;
    t.check(
        sent.answered("http.request").is_none(),
        "a denied request was sent",
    )?;

    let out = t.run(
        "Ask why it was denied",
        &["why", &sum, &denial_seq.to_string()],
    )?;
    for line in out
        .lines()
        .filter(|l| l.contains("└─ [") || l.starts_with('#'))
    {
        t.say(shorten(line.trim_start_matches([' ', '│']), 110));
    }

    let out = t.run(
        "Propose an upgrade: worlds/summarizer/v2 also allows http; the patch is derived from the difference",
        &["propose", &sum, "--air", "worlds/summarizer/v2", "--description", "allow plain http"],
    )?;
    t.say(line_with(&out, "proposal"));
    t.say(line_with(&out, "changed"));
    t.check(out.contains("proposal 1"), "no proposal 1")?;

    let out = t.run(
        "Shadow it: the candidate replays the last 2 inputs in memory beside the live manifest, with canned receipts; nothing is sent",
        &["shadow", &sum, "1", "--replay-last", "2", "--json"],
    )?;
    let report: Json = serde_json::from_str(&out).unwrap_or_default();
    for delta in report["ledger"].as_array().into_iter().flatten() {
        t.say(format!(
            "ledger: {} {} {}",
            delta["action"].as_str().unwrap_or_default(),
            delta["section"].as_str().unwrap_or_default(),
            delta["name"].as_str().unwrap_or_default()
        ));
    }
    let admitted_now = report["intents"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|i| i["input"] == 1 && i["kind"] == "http.request" && i["admitted"] == true);
    t.say(format!(
        "predicted: the plain-http fetch of input 1 would be {}",
        if admitted_now { "admitted" } else { "denied" }
    ));
    t.check(
        admitted_now,
        "the shadow does not predict the fetch admitted",
    )?;

    let key = t.path("alice.key");
    let out = t.run("Make a signing key for the approver", &["keygen", &key])?;
    t.say(format!("alice is {}", out.trim()));
    let out = t.run(
        "Approve the proposal, signed by that key",
        &["approve", &sum, "1", "--as", "alice", "--key", &key],
    )?;
    t.say(shorten(out.trim(), 110));
    let out = t.run(
        "Apply it: routing, triggers and grants switch together, between two inputs",
        &["apply", &sum, "1"],
    )?;
    t.say(shorten(out.trim(), 110));

    let out = t.run(
        "Send the plain-http request again: the new grant admits it",
        &[
            "send",
            &sum,
            SCHEMA,
            &plain_http,
            "--http-map",
            &http_map,
            "--json",
        ],
    )?;
    let sent = summarize(&sent_records(&out));
    sent.show(t);
    t.check(
        sent.answered("http.request").is_some(),
        "the upgraded world did not fetch",
    )?;
    let Some(summary_seq) = sent.answered("llm.generate") else {
        return Err(t.failed("no summary came back"));
    };

    let dot_file = t.path("why.dot");
    let out = t.run_shown(
        "Why did that summary happen? The graph back to the external event, as Graphviz DOT",
        &["why", &sum, &summary_seq.to_string(), "--format", "dot"],
        &format!(" > {dot_file}"),
    )?;
    std::fs::write(&dot_file, &out).map_err(|e| t.failed(&format!("{dot_file}: {e}")))?;
    let nodes = out
        .lines()
        .filter(|l| l.contains("[label=") && !l.contains("->"))
        .count();
    let edges = out.lines().filter(|l| l.contains("->")).count();
    t.say(format!(
        "{nodes} records, {edges} edges; draw it with: dot -Tsvg {dot_file} > why.svg"
    ));
    t.check(out.starts_with("digraph") && edges > 0, "no graph")?;

    let bundle = t.path("summarizer.bundle");
    let out = t.run(
        "Export the world to one self-verifying file",
        &["export", &sum, &bundle],
    )?;
    t.say(shorten(out.lines().next().unwrap_or_default(), 110));
    let copy = t.path("summarizer-copy");
    let out = t.run(
        "Import it elsewhere: all of it is verified before anything is written",
        &["import", &bundle, &copy],
    )?;
    t.say(shorten(out.lines().next().unwrap_or_default(), 110));
    let out = t.run(
        "Verify the copy's lineage: hash chain, receipt and approval signatures, objects, DID",
        &["verify", &copy],
    )?;
    for start in ["verify ok", "records", "receipts", "approvals"] {
        t.say(line_with(&out, start));
    }

    let forked = t.path("summarizer-fork");
    let out = t.run(
        "Fork it: a new identity whose genesis names its parent and starts from its state",
        &["fork", &sum, &forked],
    )?;
    t.say(line_with(&out, "did"));
    t.say(line_with(&out, "parent"));

    let out = t.run(
        "Replay the original from genesis: every record hash and the state root must match",
        &["replay", &sum],
    )?;
    t.say(out.trim());
    t.check(out.starts_with("replay ok"), "replay failed")?;

    println!(
        "\nAll {} steps held in {:.1} s. Explore: world log {sum}",
        t.step,
        t.started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn shorten(line: &str, chars_max: usize) -> String {
    if line.chars().count() <= chars_max {
        return line.to_owned();
    }
    let cut: String = line.chars().take(chars_max).collect();
    format!("{cut}…")
}
