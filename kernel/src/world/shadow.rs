//! Shadow runs: a candidate manifest run on a copy of the live world's state, in memory, with
//! canned receipts, beside the live manifest on the same inputs. Nothing of the live world
//! changes but the one `gov_shadow_report` record that journals the report; nothing leaves the
//! process; the journal is read, never copied.

use std::collections::BTreeMap;

use serde_json::Value as Json;
use worldline_air::cbor::{cbor_to_json, decode, json_canonical_bytes};
use worldline_air::{ControlPlane, Hash, Name, TypeExpr, Value};

use super::governance::GovInput;
use super::sink::Sink;
use super::stepper::Stepper;
use super::{EventInput, Ingress, World};
use crate::error::{KernelError, Result};
use crate::governance::canned::canned_value;
use crate::governance::diff::diff;
use crate::governance::report::{
    Divergence, PredictedIntent, ShadowInputs, ShadowReport, StateDiff, ledger_deltas,
};
use crate::record::{EventOrigin, OriginKind, ReceiptBody, Record, RecordBody, Stamp, chain_hash};
use crate::store::Store;

/// At most this many inputs per shadow run.
pub const SHADOW_INPUTS_MAX: u64 = 10_000;
/// At most this many records are read back to find the inputs of `--replay-last`.
const SCAN_RECORDS_MAX: u64 = 1_000_000;
/// Records per page when reading back.
const SCAN_PAGE_ITEMS: u64 = 4096;
/// Rounds of canned receipts per input (a receipt may cause new intents).
const RECEIPT_ROUNDS_MAX: usize = 16;
/// At most this many predicted intents and state diffs are listed.
const REPORT_ITEMS_MAX: usize = 1000;
/// The adapter id canned receipts carry.
const SHADOW_ADAPTER: &str = "shadow";

/// Which inputs a shadow run replays.
#[derive(Debug, Clone)]
pub enum ShadowInput {
    /// The world's last N external events, from the state before the first of them.
    ReplayLast(u64),
    /// These events, from the head.
    Events(Vec<EventInput>),
}

/// Collects a run's records in memory; objects come from the run, else the live store.
struct MemorySink<'s> {
    store: &'s dyn Store,
    next_seq: u64,
    prev_hash: Hash,
    records: Vec<Record>,
    objects: BTreeMap<Hash, Vec<u8>>,
}

impl Sink for MemorySink<'_> {
    fn next_seq(&self) -> u64 {
        self.next_seq
    }

    fn append(&mut self, mut record: Record) -> Result<u64> {
        record.seq = self.next_seq;
        self.prev_hash = chain_hash(&self.prev_hash, &record.encode());
        self.next_seq += 1;
        self.records.push(record);
        Ok(self.next_seq - 1)
    }

    fn put_object(&mut self, hash: Hash, bytes: Vec<u8>) {
        self.objects.insert(hash, bytes);
    }

    fn prev_hash(&self) -> Hash {
        self.prev_hash
    }

    fn snapshot_at(&mut self, _seq: u64) {}

    fn input_object(&self, hash: &Hash) -> Result<Option<Vec<u8>>> {
        match self.objects.get(hash) {
            Some(bytes) => Ok(Some(bytes.clone())),
            None => self.store.cas_get(hash),
        }
    }
}

/// One side of the comparison: a stepper, its records, and what each input produced.
struct Run<'s> {
    stepper: Stepper,
    sink: MemorySink<'s>,
    outputs: Vec<Vec<String>>,
}

impl<'s> Run<'s> {
    fn new(stepper: Stepper, store: &'s dyn Store, base: u64) -> Run<'s> {
        let sink = MemorySink {
            store,
            next_seq: base + 1,
            prev_hash: Hash::ZERO,
            records: Vec::new(),
            objects: BTreeMap::new(),
        };
        Run {
            stepper,
            sink,
            outputs: Vec::new(),
        }
    }

    /// Runs one input and answers every intent it (transitively) opens.
    fn input(&mut self, body: RecordBody, stamp: (u64, [u8; 32])) -> Result<()> {
        let start = self.sink.records.len();
        self.process(body, Vec::new(), stamp)?;
        for _ in 0..RECEIPT_ROUNDS_MAX {
            let admitted = self.stepper.take_admitted();
            if admitted.is_empty() {
                break;
            }
            for hash in admitted {
                let Some(open) = self.stepper.effects().open_intent(&hash).cloned() else {
                    continue;
                };
                let receipt = match live_receipt(self.sink.store, &hash)? {
                    Some(receipt) => receipt,
                    None => canned_receipt(self.stepper.plane(), &open.intent.kind, hash),
                };
                self.process(RecordBody::Receipt(receipt), vec![open.seq], stamp)?;
            }
        }
        let plane = self.stepper.plane().clone();
        let produced = self.sink.records[start..]
            .iter()
            .filter_map(|r| render_output(&plane, r))
            .collect();
        self.outputs.push(produced);
        Ok(())
    }

    fn process(
        &mut self,
        body: RecordBody,
        causes: Vec<u64>,
        stamp: (u64, [u8; 32]),
    ) -> Result<()> {
        let stamp = Stamp {
            now_ns: stamp.0,
            logical_now_ns: stamp.0.max(self.stepper.logical_now_ns()),
            entropy: stamp.1,
            manifest_hash: self.stepper.plane().manifest_hash(),
        };
        let record = Record {
            seq: 0,
            causes,
            stamp: Some(stamp),
            body,
        };
        self.stepper.process(record, &mut self.sink)?;
        Ok(())
    }
}

/// The live journal's receipt for an intent, if the live world got one.
fn live_receipt(store: &dyn Store, intent: &Hash) -> Result<Option<ReceiptBody>> {
    for seq in store.intent_records(intent)? {
        if let Some(bytes) = store.record(seq)?
            && let RecordBody::Receipt(receipt) = Record::decode(&bytes)?.body
        {
            return Ok(Some(receipt));
        }
    }
    Ok(None)
}

fn canned_receipt(plane: &ControlPlane, kind: &str, intent_hash: Hash) -> ReceiptBody {
    let payload = plane
        .effect_by_kind(kind)
        .and_then(|effect| plane.schema_type_of(&effect.receipt_schema))
        .map(|ty| canned_value(ty, plane))
        .unwrap_or(Value::Null);
    ReceiptBody {
        intent_hash,
        adapter_id: SHADOW_ADAPTER.to_owned(),
        status: "ok".to_owned(),
        payload: payload.to_cbor_body(),
        cost_cents: None,
        started_ns: 0,
        finished_ns: 0,
        error: None,
        signature: Vec::new(),
    }
}

/// A value as plain JSON, through its schema when the plane has it.
fn plain(plane: &ControlPlane, ty: Option<&TypeExpr>, bytes: &[u8]) -> Json {
    if let Some(ty) = ty
        && let Ok(value) = Value::from_cbor_bytes(bytes, ty, plane)
    {
        return value.to_plain_json();
    }
    decode(bytes)
        .ok()
        .and_then(|item| cbor_to_json(&item).ok())
        .unwrap_or(Json::Null)
}

/// What a record says, for comparing two runs (`None`: not an output).
fn render_output(plane: &ControlPlane, record: &Record) -> Option<String> {
    match &record.body {
        RecordBody::DomainEvent { origin, .. } if *origin == EventOrigin::External => None,
        RecordBody::DomainEvent { schema, value, .. } => Some(format!(
            "event {schema} {}",
            plain(plane, plane.schema_type_of(schema), value)
        )),
        RecordBody::EffectIntent(intent) => Some(format!(
            "intent {} {}",
            intent.kind,
            plain(plane, None, &intent.params)
        )),
        RecordBody::Admission(a) if !a.allowed => Some(format!("denied {} {}", a.stage, a.code)),
        RecordBody::StepFailed { reducer, code, .. } => Some(format!("failed {reducer} {code}")),
        RecordBody::PlanStarted { plan, .. } => Some(format!("plan {plan} started")),
        RecordBody::PlanEnded { status, code, .. } => Some(format!(
            "plan ended {status}{}",
            code.as_deref().map(|c| format!(" {c}")).unwrap_or_default()
        )),
        _ => None,
    }
}

impl World {
    /// Runs proposal `id`'s candidate beside the live manifest on `input`, journals the report
    /// (`gov_shadow_report`, the report in the CAS) and returns it with the record's seq.
    pub fn shadow(
        &mut self,
        id: u64,
        input: ShadowInput,
        ingress: Ingress,
    ) -> Result<(ShadowReport, u64)> {
        let (staged, report) = self.stage_shadow(id, input, ingress, Vec::new())?;
        let appended = self.journal_gov(staged, None, ingress)?;
        Ok((report, super::governance::first_seq(&appended)?))
    }

    /// Everything [`World::shadow`] runs and builds, without journaling it (`ingress` is the
    /// time `--events` inputs are stamped with).
    pub(crate) fn stage_shadow(
        &mut self,
        id: u64,
        input: ShadowInput,
        ingress: Ingress,
        more_causes: Vec<u64>,
    ) -> Result<(GovInput, ShadowReport)> {
        let proposal = self
            .proposals()
            .check_shadow(id)
            .map_err(|e| KernelError::Rejected(e.to_string()))?
            .clone();
        let (base, inputs, mode) = self.shadow_inputs(input, ingress)?;
        let control = self.stepper_at(base)?;
        let mut candidate = self.stepper_at(base)?;
        let plane =
            super::governance::load_plane(&mut candidate, &self.store, &proposal.candidate)?;
        candidate.start_under(plane)?;
        let mut runs = [
            Run::new(control, &self.store, base),
            Run::new(candidate, &self.store, base),
        ];
        for (body, stamp) in &inputs {
            for run in &mut runs {
                run.input(body.clone(), *stamp)?;
            }
        }
        let [control, candidate] = runs;
        let report = ShadowReport {
            proposal_id: id,
            base: self.plane().manifest_hash().to_string(),
            candidate: proposal.candidate.to_string(),
            head: self.head().seq,
            inputs: ShadowInputs {
                mode: mode.0.to_owned(),
                count: inputs.len() as u64,
                from_seq: mode.1,
            },
            ledger: ledger_deltas(self.plane(), candidate.stepper.plane()),
            intents: predicted_intents(&candidate),
            state_diffs: self.state_diffs(&candidate.stepper),
            divergence: divergence(&inputs, &control, &candidate),
            step_failures: candidate
                .sink
                .records
                .iter()
                .filter_map(|r| match &r.body {
                    RecordBody::StepFailed {
                        reducer,
                        code,
                        reason,
                        ..
                    } => Some(format!("{reducer}: {code}: {reason}")),
                    _ => None,
                })
                .take(REPORT_ITEMS_MAX)
                .collect(),
        };
        let json = serde_json::to_value(&report)
            .map_err(|e| KernelError::Rejected(format!("shadow report: {e}")))?;
        let bytes = json_canonical_bytes(&json).map_err(|e| {
            KernelError::Rejected(format!("shadow report {}: {}", e.path, e.reason))
        })?;
        let body = RecordBody::GovShadowReport {
            proposal_id: id,
            report_hash: Hash::of(&bytes),
        };
        let mut causes = vec![proposal.proposed_seq];
        causes.extend(more_causes);
        let mut staged = GovInput::plain(body, causes);
        staged.objects.push(bytes);
        Ok((staged, report))
    }

    /// The journaled shadow report with this hash.
    pub fn shadow_report(&self, report_hash: &Hash) -> Result<ShadowReport> {
        let bytes = self.store.cas_get(report_hash)?.ok_or_else(|| {
            KernelError::Corrupt(format!("shadow report {report_hash} is missing"))
        })?;
        let item = decode(&bytes).map_err(|e| KernelError::Corrupt(format!("report: {e}")))?;
        let json = cbor_to_json(&item).map_err(|e| KernelError::Corrupt(format!("report: {e}")))?;
        serde_json::from_value(json).map_err(|e| KernelError::Corrupt(format!("report: {e}")))
    }

    /// The base height, the inputs with their stamps, and the mode (name, first seq).
    #[allow(clippy::type_complexity)]
    fn shadow_inputs(
        &self,
        input: ShadowInput,
        ingress: Ingress,
    ) -> Result<(
        u64,
        Vec<(RecordBody, (u64, [u8; 32]))>,
        (&'static str, Option<u64>),
    )> {
        let head = self.head().seq;
        match input {
            ShadowInput::Events(events) => {
                if events.len() as u64 > SHADOW_INPUTS_MAX {
                    return Err(KernelError::Rejected(format!(
                        "a shadow run takes at most {SHADOW_INPUTS_MAX} events"
                    )));
                }
                let inputs = events
                    .into_iter()
                    .enumerate()
                    .map(|(index, event)| {
                        let entropy = Hash::of_parts(&[&ingress.entropy, &index.to_be_bytes()]);
                        let body = RecordBody::DomainEvent {
                            schema: event.schema,
                            value: event.value,
                            origin: EventOrigin::External,
                        };
                        (body, (ingress.now_ns, entropy.0))
                    })
                    .collect();
                Ok((head, inputs, ("events", None)))
            }
            ShadowInput::ReplayLast(count) => {
                let count = count.min(SHADOW_INPUTS_MAX);
                let mut found = Vec::new();
                let mut end = head + 1;
                let floor = (head + 1).saturating_sub(SCAN_RECORDS_MAX).max(1);
                while end > floor && (found.len() as u64) < count {
                    let from = end.saturating_sub(SCAN_PAGE_ITEMS).max(floor);
                    let page = self.store.records(from, (end - from) as usize)?;
                    for (seq, bytes, _) in page.iter().rev() {
                        let record = Record::decode(bytes)?;
                        if let (Some(stamp), RecordBody::DomainEvent { origin, .. }) =
                            (&record.stamp, &record.body)
                            && *origin == EventOrigin::External
                        {
                            found.push((*seq, record.body.clone(), (stamp.now_ns, stamp.entropy)));
                            if found.len() as u64 == count {
                                break;
                            }
                        }
                    }
                    end = from;
                }
                found.reverse();
                let first = found.first().map(|(seq, _, _)| *seq);
                let base = first.map_or(head, |seq| seq - 1);
                let inputs = found
                    .into_iter()
                    .map(|(_, body, stamp)| (body, stamp))
                    .collect();
                Ok((base, inputs, ("replay_last", first)))
            }
        }
    }

    /// Where the candidate's states differ from the live world's now.
    fn state_diffs(&self, candidate: &Stepper) -> Vec<StateDiff> {
        let live = self.states();
        let mut keys: Vec<&(Name, Vec<u8>)> = live.iter().map(|(k, _)| k).collect();
        keys.extend(candidate.states().iter().map(|(k, _)| k));
        keys.sort();
        keys.dedup();
        let mut out = Vec::new();
        for (reducer, key) in keys {
            let old = live.get(reducer, key);
            let new = candidate.states().get(reducer, key);
            if old == new {
                continue;
            }
            if out.len() >= REPORT_ITEMS_MAX {
                break;
            }
            let old = old.map(|b| state_json(self.plane(), reducer, b));
            let new = new.map(|b| state_json(candidate.plane(), reducer, b));
            let (changes, more) = diff(old.as_ref(), new.as_ref());
            out.push(StateDiff {
                reducer: reducer.to_string(),
                key: (!key.is_empty()).then(|| key_json(candidate.plane(), reducer, key)),
                changes,
                more,
            });
        }
        out
    }
}

fn state_json(plane: &ControlPlane, reducer: &Name, bytes: &[u8]) -> Json {
    let ty = plane
        .module(reducer)
        .and_then(|m| m.reducer())
        .and_then(|abi| plane.schema_type_of(&abi.state));
    plain(plane, ty, bytes)
}

fn key_json(plane: &ControlPlane, reducer: &Name, key: &[u8]) -> Json {
    let ty = plane
        .module(reducer)
        .and_then(|m| m.key_schema.as_ref())
        .and_then(|schema| plane.schema_type_of(schema));
    plain(plane, ty, key)
}

fn predicted_intents(run: &Run<'_>) -> Vec<PredictedIntent> {
    let plane = run.stepper.plane();
    let mut out: Vec<PredictedIntent> = Vec::new();
    // Inputs are the run's stamped external events; what follows one belongs to it.
    let mut input_index: Option<u64> = None;
    for record in &run.sink.records {
        match &record.body {
            RecordBody::DomainEvent { origin, .. }
                if *origin == EventOrigin::External && record.stamp.is_some() =>
            {
                input_index = Some(input_index.map_or(0, |i| i + 1));
            }
            RecordBody::EffectIntent(intent) if out.len() < REPORT_ITEMS_MAX => {
                let origin = match intent.origin.kind {
                    OriginKind::Reducer => format!("reducer {}", intent.origin.name),
                    OriginKind::Plan => format!("plan {}", intent.origin.name),
                };
                out.push(PredictedIntent {
                    input: input_index.unwrap_or(0),
                    kind: intent.kind.clone(),
                    cap: intent.cap.clone(),
                    intent_hash: intent.intent_hash.to_string(),
                    origin,
                    params: plain(plane, None, &intent.params),
                    admitted: true,
                    decisions: Vec::new(),
                });
            }
            RecordBody::Admission(decision) => {
                if let Some(last) = out.last_mut() {
                    last.admitted &= decision.allowed;
                    last.decisions
                        .push(format!("{}: {}", decision.stage, decision.code));
                }
            }
            _ => {}
        }
    }
    out
}

fn divergence(
    inputs: &[(RecordBody, (u64, [u8; 32]))],
    control: &Run<'_>,
    candidate: &Run<'_>,
) -> Vec<Divergence> {
    let mut out = Vec::new();
    for (index, (body, _)) in inputs.iter().enumerate() {
        let (live, cand) = (&control.outputs[index], &candidate.outputs[index]);
        if live == cand || out.len() >= REPORT_ITEMS_MAX {
            continue;
        }
        let what = match body {
            RecordBody::DomainEvent { schema, .. } => schema.to_string(),
            other => other.kind().to_owned(),
        };
        out.push(Divergence {
            input: index as u64,
            what,
            live: live.clone(),
            candidate: cand.clone(),
        });
    }
    out
}
