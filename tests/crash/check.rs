//! What must hold after a crash and a restart: no acknowledged input lost, no receipt accepted
//! twice, every effect dispatched (at least once, under its stable idempotency key), and
//! `world replay` and `world verify` pass. Findings are collected, not panicked on, so one
//! run reports them all.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use worldline_kernel::World;
use worldline_kernel::record::{EventOrigin, Record, RecordBody};

use crate::world::world;

/// What the command line acknowledged: it printed it after its commit returned.
#[derive(Debug, Default, Clone)]
pub struct Acks {
    /// External events: seq → a text their value contains.
    pub events: BTreeMap<u64, String>,
    /// Receipts `world run` reported journaled.
    pub receipts: BTreeSet<u64>,
}

impl Acks {
    /// Reads `world run`'s receipt lines (`   SEQ receipt KIND STATUS (…)`), including those
    /// of a process that crashed afterwards: each was printed after its commit returned.
    pub fn add_run_lines(&mut self, stdout: &str) {
        for line in stdout.lines() {
            let mut words = line.split_whitespace();
            if let (Some(seq), Some("receipt")) = (words.next(), words.next())
                && let Ok(seq) = seq.parse()
            {
                self.receipts.insert(seq);
            }
        }
    }

    /// Reads `world send --json`'s output: the first external event is the one it appended.
    pub fn add_send_json(&mut self, stdout: &str, marker: &str) {
        let json: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
        let event = json["records"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["kind"] == "domain_event" && r["body"]["origin"]["kind"] == "external")
            .unwrap_or_else(|| panic!("no external event in {stdout}"));
        self.events
            .insert(event["seq"].as_u64().unwrap(), marker.to_owned());
    }
}

/// One thing that should not have happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// An acknowledged input is not in the journal (or not as acknowledged).
    Lost,
    /// An intent has more than one receipt.
    DuplicateReceipt,
    /// An intent that should be settled is still open, or an HTTP intent answered in this run
    /// never reached the server.
    Undispatched,
    /// The server saw an idempotency key that is no journaled intent (dispatched before it was
    /// durable, or under an unstable key).
    UnknownKey,
    /// `world replay` failed.
    Replay,
    /// `world verify` failed.
    Verify,
    /// The world could not be brought back (it does not open, a retry fails).
    Recovery,
}

/// Findings, by kind, with the first few described.
#[derive(Debug, Default)]
pub struct Findings {
    /// How many of each kind.
    pub counts: BTreeMap<Kind, usize>,
    /// The first descriptions.
    pub details: Vec<String>,
}

/// Most findings described in full.
const DETAILS_MAX: usize = 20;

impl Findings {
    /// Records one finding about `case`.
    pub fn add(&mut self, kind: Kind, case: &str, detail: String) {
        *self.counts.entry(kind).or_default() += 1;
        if self.details.len() < DETAILS_MAX {
            self.details.push(format!("{case}: {kind:?}: {detail}"));
        }
    }

    /// How many of `kind`.
    pub fn count(&self, kind: Kind) -> usize {
        self.counts.get(&kind).copied().unwrap_or(0)
    }

    /// None at all.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }
}

/// What the journal check is told.
pub struct Expect<'a> {
    /// The acknowledgements so far.
    pub acks: &'a Acks,
    /// Idempotency keys the server saw since the run began.
    pub keys_seen: &'a BTreeSet<String>,
    /// Receipts after this seq were accepted in this run (their HTTP requests must be among
    /// `keys_seen`).
    pub since_seq: u64,
    /// Only these effect kinds may still be open.
    pub open_allowed: &'a [&'a str],
}

/// A world as the checks see it: every record, and the intents still open.
pub struct Journal {
    /// Every record, from genesis.
    pub records: Vec<Record>,
    /// `(intent hash, kind)` of each open intent.
    pub open: Vec<(worldline_air::Hash, String)>,
}

/// Reads the world at `dir` (opened in this process), or says why it does not open.
pub fn journal(dir: &Path) -> Result<Journal, String> {
    let _open = crate::world::FORK_GUARD
        .write()
        .unwrap_or_else(|p| p.into_inner());
    let world = World::open(dir).map_err(|e| format!("does not open: {e}"))?;
    let mut records = Vec::new();
    let head = world.head().seq;
    while (records.len() as u64) <= head {
        let page = world
            .records(records.len() as u64, 10_000)
            .map_err(|e| e.to_string())?;
        if page.is_empty() {
            return Err(format!("the journal ends before its head {head}"));
        }
        records.extend(page.into_iter().map(|(r, _)| r));
    }
    let open = world
        .open_intents()
        .into_iter()
        .map(|open| (open.intent.intent_hash, open.intent.kind))
        .collect();
    Ok(Journal { records, open })
}

/// Checks the world at `dir` against `expect`; adds what is wrong to `findings`.
pub fn check_world(dir: &Path, case: &str, expect: &Expect, findings: &mut Findings) {
    let Journal { records, open } = match journal(dir) {
        Ok(journal) => journal,
        Err(e) => return findings.add(Kind::Recovery, case, e),
    };
    for (&seq, marker) in &expect.acks.events {
        let found = records.get(seq as usize).map(|r| &r.body);
        let holds = matches!(found, Some(RecordBody::DomainEvent { value, origin: EventOrigin::External, .. })
            if contains(value, marker.as_bytes()));
        if !holds {
            findings.add(
                Kind::Lost,
                case,
                format!("acknowledged event {seq} ({marker}) is not in the journal"),
            );
        }
    }
    for &seq in &expect.acks.receipts {
        if !matches!(
            records.get(seq as usize).map(|r| &r.body),
            Some(RecordBody::Receipt(_))
        ) {
            findings.add(
                Kind::Lost,
                case,
                format!("acknowledged receipt {seq} is not in the journal"),
            );
        }
    }
    let mut intents = BTreeMap::new();
    let mut receipts: BTreeMap<_, Vec<u64>> = BTreeMap::new();
    for record in &records {
        match &record.body {
            RecordBody::EffectIntent(intent) => {
                intents.insert(intent.intent_hash, intent.kind.clone());
            }
            // An intent's receipt names the intent's record as its cause. The same intent
            // hash may be admitted again once answered (a reducer asking for the same blob
            // twice): each admission takes one receipt.
            RecordBody::Receipt(receipt) => {
                receipts
                    .entry((receipt.intent_hash, record.causes.first().copied()))
                    .or_default()
                    .push(record.seq);
            }
            _ => {}
        }
    }
    for ((intent, cause), seqs) in &receipts {
        if seqs.len() > 1 {
            findings.add(
                Kind::DuplicateReceipt,
                case,
                format!("intent {intent} (record {cause:?}) has receipts {seqs:?}"),
            );
        }
    }
    for (intent, kind) in open {
        if !expect.open_allowed.contains(&kind.as_str()) {
            findings.add(
                Kind::Undispatched,
                case,
                format!("{kind} intent {intent} is still open"),
            );
        }
    }
    let known: BTreeSet<String> = intents.keys().map(|h| hex(h.as_bytes())).collect();
    for key in expect.keys_seen {
        if !known.contains(key) {
            findings.add(
                Kind::UnknownKey,
                case,
                format!("the server saw key {key}, no journaled intent's"),
            );
        }
    }
    for ((intent, _), seqs) in &receipts {
        let answered_now = seqs.iter().any(|&s| s > expect.since_seq);
        if answered_now
            && intents.get(intent).is_some_and(|k| k == "http.request")
            && !expect.keys_seen.contains(&hex(intent.as_bytes()))
        {
            findings.add(
                Kind::Undispatched,
                case,
                format!("http intent {intent} was answered but never reached the server"),
            );
        }
    }
    replay_and_verify(dir, case, findings);
}

/// `world replay DIR` and `world verify DIR` must pass.
pub fn replay_and_verify(dir: &Path, case: &str, findings: &mut Findings) {
    let dir_text = dir.to_str().unwrap();
    let replay = world(&["replay", dir_text], &[], dir);
    if !replay.ok() {
        findings.add(Kind::Replay, case, replay.stderr.trim().to_owned());
    }
    let verify = world(&["verify", dir_text], &[], dir);
    if !verify.ok() {
        findings.add(Kind::Verify, case, verify.stderr.trim().to_owned());
    }
}

/// Lowercase hex, as the `Idempotency-Key` header carries an intent hash.
pub fn hex(bytes: &[u8]) -> String {
    worldline_air::cbor::to_hex(bytes)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
