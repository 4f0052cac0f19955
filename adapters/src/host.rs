//! The host loop: owns an open world, dispatches its admitted intents to the adapters (only once
//! their batch is durable), and feeds the signed receipts back, one durable commit each.
//!
//! The world stays on the caller's thread (the kernel is synchronous); adapters run on a tokio
//! runtime and report through a bounded set of in-flight intents and one channel.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

use worldline_air::Hash;
use worldline_kernel::record::ReceiptBody;
use worldline_kernel::world::{DispatchIntent, GAP_NS_MIN};
use worldline_kernel::{EventInput, KernelError, World, failpoint};

use crate::clock::ingress_now;
use crate::error::AdapterError;
use crate::execute::{self, BLOB_ADAPTER, Draft, HTTP_ADAPTER, LLM_ADAPTER, TIMER_ADAPTER};
use crate::governance;
use crate::http::{HttpAdapter, HttpConfig};
use crate::keys::AdapterSigner;
use crate::llm::{LlmAdapter, LlmConfig};
use crate::secrets::{SecretConfig, SecretResolver};

/// Most intents executing at once; more wait in the world's dispatch queue.
pub const IN_FLIGHT_MAX: usize = 4096;
/// How long a shutdown waits for in-flight HTTP requests (timers are not waited for: they stay
/// open in the journal and fire on the next start).
pub const SHUTDOWN_GRACE_MS: u64 = 5_000;
/// This host's adapters, in the order their keys are registered.
const ADAPTERS: [&str; 4] = [TIMER_ADAPTER, BLOB_ADAPTER, HTTP_ADAPTER, LLM_ADAPTER];
/// How often the loop wakes to dispatch and check for shutdown when nothing arrives.
const POLL_MS: u64 = 50;

/// How the host runs.
#[derive(Debug, Clone, Default)]
pub struct HostOptions {
    /// The HTTP adapter's settings (timeouts, size cap, origin map, proxy).
    pub http: HttpConfig,
    /// The LLM adapter's settings (base URLs, limits, prices).
    pub llm: LlmConfig,
    /// Where this node keeps secret values (the node-local binding map).
    pub secrets: SecretConfig,
    /// The shortest silence, in ns, journaled as a gap on start; `None` is
    /// [`GAP_NS_MIN`](worldline_kernel::world::GAP_NS_MIN), one minute.
    pub gap_ns_min: Option<u64>,
}

/// Something the host did, for the caller to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostNote {
    /// The world resumed after downtime: a `gap` was journaled (see [`World::resume`]).
    Resumed {
        /// The `gap` record.
        seq: u64,
        /// The last input's logical time before the gap, ns.
        from_ns: u64,
        /// The time of resumption, ns.
        to_ns: u64,
        /// Records it caused (`sys/WorldResumed@1` and what that caused).
        caused: usize,
    },
    /// An adapter's key was registered in the journal.
    AdapterRegistered {
        /// The adapter.
        adapter_id: String,
        /// The `adapter_key` record.
        seq: u64,
    },
    /// An intent went to its adapter.
    Dispatched {
        /// The `effect_intent` record.
        seq: u64,
        /// Its kind.
        kind: String,
    },
    /// A receipt was accepted and journaled.
    Receipt {
        /// The `receipt` record.
        seq: u64,
        /// The effect kind.
        kind: String,
        /// `ok`, `error`, `timeout`.
        status: String,
        /// Records it caused (the reducer step's outputs).
        caused: usize,
    },
    /// The world refused a receipt (it changed nothing).
    Refused {
        /// The intent.
        intent_hash: Hash,
        /// Why.
        reason: String,
    },
    /// A governance intent ran: its record (unless the operation was refused) and receipt
    /// were journaled together.
    Governed {
        /// The effect kind.
        kind: String,
        /// The governance record, when the operation was done.
        gov_seq: Option<u64>,
        /// The `receipt` record.
        receipt_seq: u64,
        /// `ok` or `error`.
        status: String,
        /// Why it was refused.
        error: Option<String>,
        /// Records the receipt caused.
        caused: usize,
    },
    /// No adapter on this host executes the intent's kind; it stays open.
    Unsupported {
        /// The `effect_intent` record.
        seq: u64,
        /// Its kind.
        kind: String,
    },
}

/// Why [`Host::run_until_quiescent`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quiescence {
    /// No intent is waiting for a receipt.
    Quiet,
    /// The timeout passed; this many intents are still open.
    TimedOut(usize),
}

enum Message {
    Draft(Box<Draft>),
    Job(HostJob),
    Shutdown,
}

/// Work for the world's thread, sent from elsewhere (the control API) through a
/// [`HostHandle`]: it runs inside [`Host::run`]'s loop, between receipts.
pub type HostJob = Box<dyn FnOnce(&mut Host) + Send>;

/// Sends jobs to a host's loop from any thread. Unbounded: callers limit what they queue.
#[derive(Clone)]
pub struct HostHandle {
    tx: Sender<Message>,
}

impl HostHandle {
    /// Queues `job` for the loop; false if the host is gone (the job is dropped unrun).
    pub fn send(&self, job: HostJob) -> bool {
        self.tx.send(Message::Job(job)).is_ok()
    }
}

/// A world with its adapters.
pub struct Host {
    world: World,
    runtime: tokio::runtime::Runtime,
    tx: Sender<Message>,
    rx: Receiver<Message>,
    signers: BTreeMap<&'static str, AdapterSigner>,
    http: Arc<HttpAdapter>,
    llm: Arc<LlmAdapter>,
    secrets: SecretResolver,
    in_flight: BTreeSet<Hash>,
    /// Intents taken from the world while the in-flight set was full.
    backlog: Vec<DispatchIntent>,
    notes: Vec<HostNote>,
    /// Governance intents to run on this thread, with their kinds.
    governance: Vec<(Hash, String)>,
    /// The governance adapter's key, loaded when first needed.
    governance_signer: Option<AdapterSigner>,
    /// An error met while dispatching (which returns nothing), reported by the next receive.
    fatal: Option<AdapterError>,
    /// The journal's head seq as of the loop's last turn, for watchers (the event stream).
    head: tokio::sync::watch::Sender<u64>,
}

impl Host {
    /// Starts the adapters for `world`: sets them up and loads (or creates) their keys, then
    /// journals the gap if the world was down (catch-up, [`World::resume`]), registers any new
    /// key in the journal, and queues every intent still waiting for its receipt. Nothing is
    /// dispatched before the gap is durable, so overdue timers' receipts come after it; a host
    /// that cannot start (a bad flag, a damaged key file) journals nothing.
    pub fn start(mut world: World, options: HostOptions) -> Result<Host, AdapterError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| AdapterError::Start(format!("tokio runtime: {e}")))?;
        let http =
            HttpAdapter::new(options.http).map_err(|e| AdapterError::Start(e.to_string()))?;
        let llm = LlmAdapter::new(options.llm).map_err(AdapterError::Start)?;
        let secrets = SecretResolver::new(&options.secrets).map_err(AdapterError::Start)?;
        let mut signers = Vec::with_capacity(ADAPTERS.len());
        for id in ADAPTERS {
            signers.push((id, AdapterSigner::load_or_create(world.dir(), id)?));
        }
        let mut notes = Vec::new();
        let gap_ns_min = options.gap_ns_min.unwrap_or(GAP_NS_MIN);
        if let Some(resumed) = world.resume_after(ingress_now()?, gap_ns_min)? {
            notes.push(HostNote::Resumed {
                seq: resumed.seqs.first().copied().unwrap_or_default(),
                from_ns: resumed.from_ns,
                to_ns: resumed.to_ns,
                caused: resumed.seqs.len().saturating_sub(1),
            });
        }
        for (id, signer) in &signers {
            if let Some(seq) = world.register_adapter(id, signer.public_key(), ingress_now()?)? {
                notes.push(HostNote::AdapterRegistered {
                    adapter_id: (*id).to_owned(),
                    seq,
                });
            }
        }
        let signers = signers.into_iter().collect();
        let (tx, rx) = channel();
        let (head, _) = tokio::sync::watch::channel(world.head().seq);
        Ok(Host {
            world,
            runtime,
            tx,
            rx,
            signers,
            http: Arc::new(http),
            llm: Arc::new(llm),
            secrets,
            in_flight: BTreeSet::new(),
            backlog: Vec::new(),
            notes,
            governance: Vec::new(),
            governance_signer: None,
            fatal: None,
            head,
        })
    }

    /// The world.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// The world, to change it from a [`HostJob`] (the loop dispatches what it admitted).
    pub fn world_mut(&mut self) -> &mut World {
        &mut self.world
    }

    /// A handle that queues jobs for [`Host::run`]'s loop.
    pub fn handle(&self) -> HostHandle {
        HostHandle {
            tx: self.tx.clone(),
        }
    }

    /// The adapters' tokio runtime, for servers that live as long as the host.
    pub fn runtime(&self) -> &tokio::runtime::Handle {
        self.runtime.handle()
    }

    /// The journal's head seq, updated each time [`Host::run`]'s loop turns; closed when the
    /// host is gone.
    pub fn watch_head(&self) -> tokio::sync::watch::Receiver<u64> {
        self.head.subscribe()
    }

    fn publish_head(&self) {
        let seq = self.world.head().seq;
        self.head.send_if_modified(|head| {
            let changed = *head != seq;
            *head = seq;
            changed
        });
    }

    /// Stops the adapters and gives the world back.
    pub fn into_world(self) -> World {
        self.runtime
            .shutdown_timeout(Duration::from_millis(SHUTDOWN_GRACE_MS));
        self.world
    }

    /// What happened since the last call.
    pub fn take_notes(&mut self) -> Vec<HostNote> {
        std::mem::take(&mut self.notes)
    }

    /// Appends external events (one durable commit) and dispatches what they admitted.
    pub fn submit(&mut self, events: Vec<EventInput>) -> Result<Vec<Vec<u64>>, AdapterError> {
        let mut inputs = Vec::with_capacity(events.len());
        for event in events {
            inputs.push((event, ingress_now()?));
        }
        let appended = self.world.submit(inputs, true)?;
        self.dispatch();
        Ok(appended)
    }

    /// Processes receipts until no intent is open, or `timeout` passes.
    pub fn run_until_quiescent(&mut self, timeout: Duration) -> Result<Quiescence, AdapterError> {
        let deadline = Instant::now() + timeout;
        loop {
            self.dispatch();
            let open = self.world.open_intents().len();
            if open == 0 {
                return Ok(Quiescence::Quiet);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(Quiescence::TimedOut(open));
            }
            self.receive(deadline - now)?;
        }
    }

    /// Runs until SIGINT or SIGTERM (or `stop_after`, for tests), then waits up to
    /// [`SHUTDOWN_GRACE_MS`] for in-flight work other than timers.
    /// Each note goes to `observer` as it happens.
    pub fn run(
        &mut self,
        stop_after: Option<Duration>,
        observer: &mut dyn FnMut(&HostNote),
    ) -> Result<(), AdapterError> {
        self.listen_for_signals();
        let deadline = stop_after.map(|d| Instant::now() + d);
        loop {
            self.dispatch();
            self.publish_head();
            for note in self.notes.drain(..) {
                observer(&note);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
            if self.receive(Duration::from_millis(POLL_MS))? {
                break;
            }
        }
        self.drain_after_shutdown()?;
        for note in self.notes.drain(..) {
            observer(&note);
        }
        Ok(())
    }

    fn drain_after_shutdown(&mut self) -> Result<(), AdapterError> {
        let grace = Instant::now() + Duration::from_millis(SHUTDOWN_GRACE_MS);
        while Instant::now() < grace && self.waiting_on_non_timers() {
            self.receive(Duration::from_millis(POLL_MS))?;
        }
        Ok(())
    }

    fn waiting_on_non_timers(&self) -> bool {
        self.world.open_intents().iter().any(|open| {
            self.in_flight.contains(&open.intent.intent_hash) && open.intent.kind != "timer.set"
        })
    }

    fn listen_for_signals(&self) {
        let tx = self.tx.clone();
        self.runtime.spawn(async move {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(term) => term,
                    Err(_) => return,
                };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            let _ = tx.send(Message::Shutdown);
        });
    }

    /// Waits up to `wait` for one message and handles it (and any others already queued).
    /// Returns true on shutdown.
    fn receive(&mut self, wait: Duration) -> Result<bool, AdapterError> {
        if let Some(fatal) = self.fatal.take() {
            return Err(fatal);
        }
        let first = match self.rx.recv_timeout(wait) {
            Ok(message) => message,
            Err(RecvTimeoutError::Timeout) => return Ok(false),
            Err(RecvTimeoutError::Disconnected) => return Ok(true),
        };
        let mut shutdown = false;
        for message in std::iter::once(first).chain(self.rx.try_iter().collect::<Vec<_>>()) {
            match message {
                Message::Shutdown => shutdown = true,
                Message::Draft(draft) => self.accept(*draft)?,
                Message::Job(job) => job(self),
            }
        }
        Ok(shutdown)
    }

    /// Normalizes, signs and submits one receipt.
    fn accept(&mut self, draft: Draft) -> Result<(), AdapterError> {
        self.in_flight.remove(&draft.intent_hash);
        let Some(open) = self
            .world
            .open_intents()
            .into_iter()
            .find(|open| open.intent.intent_hash == draft.intent_hash)
        else {
            return Ok(());
        };
        let kind = open.intent.kind.clone();
        let payload = execute::canonical_payload(self.world.plane(), &kind, &draft.payload)
            .unwrap_or_else(|| draft.payload.to_cbor_body());
        let mut receipt = ReceiptBody {
            intent_hash: draft.intent_hash,
            adapter_id: draft.adapter_id.to_owned(),
            status: draft.status.to_owned(),
            payload,
            cost_cents: draft.cost_cents,
            started_ns: draft.started_ns,
            finished_ns: draft.finished_ns,
            error: None,
            signature: Vec::new(),
        };
        if let Some(signer) = self.signers.get(draft.adapter_id) {
            signer.sign(&mut receipt);
        }
        failpoint::hit(failpoint::RECEIPT_BEFORE);
        match self
            .world
            .submit_receipt(receipt, draft.objects, ingress_now()?)
        {
            Ok(seqs) => {
                failpoint::hit(failpoint::RECEIPT_AFTER);
                self.notes.push(HostNote::Receipt {
                    seq: seqs.first().copied().unwrap_or_default(),
                    kind,
                    status: draft.status.to_owned(),
                    caused: seqs.len().saturating_sub(1),
                });
                self.dispatch();
                Ok(())
            }
            Err(KernelError::ReceiptRefused(refusal)) => {
                self.notes.push(HostNote::Refused {
                    intent_hash: draft.intent_hash,
                    reason: refusal.to_string(),
                });
                Ok(())
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Sends every ready intent to its adapter, up to [`IN_FLIGHT_MAX`] at once; governance
    /// intents run here, and what their receipts cause is dispatched in turn.
    pub fn dispatch(&mut self) {
        loop {
            self.backlog.extend(self.world.take_dispatch());
            let backlog = std::mem::take(&mut self.backlog);
            for intent in backlog {
                if self.in_flight.len() >= IN_FLIGHT_MAX {
                    self.backlog.push(intent);
                    continue;
                }
                self.dispatch_one(intent);
            }
            if self.governance.is_empty() || self.fatal.is_some() {
                return;
            }
            for (hash, kind) in std::mem::take(&mut self.governance) {
                let signer = &mut self.governance_signer;
                if let Err(error) =
                    governance::execute(&mut self.world, signer, &hash, kind, &mut self.notes)
                {
                    self.fatal = Some(error);
                    return;
                }
            }
        }
    }

    fn dispatch_one(&mut self, dispatch: DispatchIntent) {
        failpoint::hit(failpoint::DISPATCH_BEFORE);
        let open = dispatch.open;
        let seq = open.seq;
        let kind = open.intent.kind.clone();
        let Some(params) = execute::params_of(self.world.plane(), &open) else {
            self.notes.push(HostNote::Unsupported { seq, kind });
            return;
        };
        let tx = self.tx.clone();
        let send = move |draft: Draft| {
            let _ = tx.send(Message::Draft(Box::new(draft)));
        };
        let hash = open.intent.intent_hash;
        if governance::is_governance(&kind) {
            self.notes.push(HostNote::Dispatched {
                seq,
                kind: kind.clone(),
            });
            self.governance.push((hash, kind));
            return;
        }
        match kind.as_str() {
            "timer.set" => {
                self.runtime
                    .spawn(async move { send(execute::timer(open, params).await) });
            }
            "blob.put" => send(execute::blob_put(&open, &params)),
            "blob.get" => send(execute::blob_get(&self.world, &open, &params)),
            "http.request" => {
                match execute::http_job(&self.world, open, &params, dispatch.grant_params.as_ref())
                {
                    Ok(job) => {
                        let http = Arc::clone(&self.http);
                        self.runtime
                            .spawn(async move { send(execute::http(http, job).await) });
                    }
                    Err(draft) => send(*draft),
                }
            }
            "llm.generate" => {
                let config = self.llm.config();
                match execute::llm_job(&self.world, &open, &params, &self.secrets, config) {
                    Ok(job) => {
                        let llm = Arc::clone(&self.llm);
                        self.runtime
                            .spawn(async move { send(execute::llm(llm, job).await) });
                    }
                    Err(draft) => send(*draft),
                }
            }
            _ => {
                self.notes.push(HostNote::Unsupported { seq, kind });
                return;
            }
        }
        self.in_flight.insert(hash);
        self.notes.push(HostNote::Dispatched { seq, kind });
        failpoint::hit(failpoint::DISPATCH_AFTER);
    }
}
