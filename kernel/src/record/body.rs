//! The record kinds and their fields.
//!
//! Every kind the later capabilities need exists now (intents, decisions, receipts, plans,
//! governance, checkpoints), so the journal format does not change as they arrive.

use worldline_air::{Hash, Name};

use crate::config::WorldConfig;

/// Where a domain event came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventOrigin {
    /// Sent into the world (`world send`, the control API).
    External,
    /// Emitted by a reducer step.
    Reducer {
        /// The reducer.
        reducer: Name,
        /// The cell key, for keyed reducers.
        key: Option<Vec<u8>>,
    },
    /// Raised by a plan instance.
    Plan {
        /// The plan.
        plan: Name,
        /// The instance id (the seq of its `plan_started`).
        instance: u64,
    },
    /// Raised by the kernel itself from an input it processed (`sys/WorldResumed@1` from a
    /// `gap`); the record's `causes` name that input.
    Kernel,
}

/// Which kind of emitter an intent came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginKind {
    /// A reducer step.
    Reducer,
    /// A plan instance.
    Plan,
}

/// The emitter of an intent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Reducer or plan.
    pub kind: OriginKind,
    /// Its name.
    pub name: Name,
    /// The cell key, for an intent of a keyed reducer (its receipt goes back to that cell).
    pub key: Option<Vec<u8>>,
}

/// The parent of a forked world.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentWorld {
    /// The parent's DID.
    pub did: String,
    /// The parent's height at the fork.
    pub height: u64,
    /// The parent's head record hash at the fork.
    pub head_hash: Hash,
    /// The snapshot object (in the fork's CAS) of the parent's states at that height: the
    /// fork's starting state.
    pub state_hash: Hash,
}

/// `genesis`: the first record of every world.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenesisBody {
    /// The world's `did:key`.
    pub did: String,
    /// The first manifest.
    pub manifest_hash: Hash,
    /// Settings fixed for the world's life.
    pub config: WorldConfig,
    /// Set when the world was forked.
    pub parent: Option<ParentWorld>,
}

/// `effect_intent`: an effect a reducer or plan asked for (issue: effects).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectIntentBody {
    /// Hash of `{kind, params, cap, idempotency_key, origin}`.
    pub intent_hash: Hash,
    /// Effect kind, e.g. `timer.set`.
    pub kind: String,
    /// Canonical params (no self-describe tag).
    pub params: Vec<u8>,
    /// The grant it uses.
    pub cap: String,
    /// 32 bytes; all zeros by default.
    pub idempotency_key: [u8; 32],
    /// Who emitted it.
    pub origin: Origin,
}

/// `admission`: one decision about an intent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdmissionBody {
    /// The intent decided on.
    pub intent_hash: Hash,
    /// `capability` (effect, origin, params, grant, enforcer) or `policy`.
    pub stage: String,
    /// Admitted or not.
    pub allowed: bool,
    /// Machine-readable: `allowed`, `grant_missing`, `policy_denied`, …
    pub code: String,
    /// For people.
    pub detail: String,
}

/// `receipt`: what an adapter reports back, signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptBody {
    /// The intent it answers.
    pub intent_hash: Hash,
    /// The adapter that executed it.
    pub adapter_id: String,
    /// `ok`, `error` or `timeout`.
    pub status: String,
    /// Canonical payload (no self-describe tag), normalized against the receipt schema.
    pub payload: Vec<u8>,
    /// Cost in cents, when known.
    pub cost_cents: Option<u64>,
    /// When execution started (adapter clock).
    pub started_ns: u64,
    /// When it finished.
    pub finished_ns: u64,
    /// Why an `error` receipt failed, for people (absent on most receipts, so the bytes of
    /// receipts without it are unchanged); at most [`RECEIPT_ERROR_BYTES_MAX`] bytes.
    pub error: Option<String>,
    /// Ed25519 signature by the adapter.
    pub signature: Vec<u8>,
}

/// The longest `error` text a receipt may carry.
pub const RECEIPT_ERROR_BYTES_MAX: usize = 1024;

/// `checkpoint`: a signed link of the lineage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointBody {
    /// Journal height covered.
    pub height: u64,
    /// Hash of the last record covered.
    pub head_record_hash: Hash,
    /// Root over all reducer and cell states.
    pub state_root: Hash,
    /// The manifest in force.
    pub manifest_hash: Hash,
    /// The previous checkpoint's hash (zero for the first).
    pub prev_checkpoint_hash: Hash,
    /// Ed25519 signature by the world key.
    pub signature: Vec<u8>,
}

/// What a record says happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordBody {
    /// The world begins.
    Genesis(GenesisBody),
    /// A domain event, normalized against its schema.
    DomainEvent {
        /// Its schema.
        schema: Name,
        /// Canonical value (no self-describe tag).
        value: Vec<u8>,
        /// Where it came from.
        origin: EventOrigin,
    },
    /// A reducer step failed; the state stayed as it was.
    StepFailed {
        /// The reducer.
        reducer: Name,
        /// The cell key, for keyed reducers.
        key: Option<Vec<u8>>,
        /// The module binary that failed.
        module_hash: Hash,
        /// Machine-readable: `out_of_fuel`, `trap`, `bad_output`, `failed`, …
        code: String,
        /// For people.
        reason: String,
    },
    /// An effect intent.
    EffectIntent(EffectIntentBody),
    /// An admission decision.
    Admission(AdmissionBody),
    /// An effect receipt.
    Receipt(ReceiptBody),
    /// A plan instance started.
    PlanStarted {
        /// The plan.
        plan: Name,
        /// The manifest it is pinned to.
        manifest_hash: Hash,
        /// Canonical `@plan.input`.
        input: Vec<u8>,
    },
    /// A plan instance produced its result.
    PlanResult {
        /// The instance (seq of its `plan_started`).
        instance: u64,
        /// Canonical result.
        value: Vec<u8>,
    },
    /// A plan instance ended.
    PlanEnded {
        /// The instance.
        instance: u64,
        /// `ok` or `error`.
        status: String,
        /// Why it ended, when not `ok`.
        code: Option<String>,
        /// For people: the step and what went wrong, when not `ok`.
        reason: Option<String>,
    },
    /// The manifest changed.
    ManifestChanged {
        /// The new manifest.
        manifest_hash: Hash,
        /// The one it replaces.
        previous: Hash,
    },
    /// A governance proposal.
    GovProposed {
        /// Proposal id.
        proposal_id: u64,
        /// Hash of the patch document (in the CAS).
        patch_hash: Hash,
        /// The manifest it was compiled against.
        base: Hash,
        /// The manifest it produces (its nodes and modules are in the CAS).
        manifest_hash: Hash,
        /// Optional description.
        description: Option<String>,
    },
    /// A shadow run's report (in the CAS).
    GovShadowReport {
        /// Proposal id.
        proposal_id: u64,
        /// Hash of the report.
        report_hash: Hash,
    },
    /// An approval or rejection.
    GovDecided {
        /// Proposal id.
        proposal_id: u64,
        /// Approved or rejected.
        approved: bool,
        /// Who decided, as they named themselves.
        by: String,
        /// The `did:key` of the key that signed the decision, when one was given.
        signer: Option<String>,
        /// Signature by that key over `APPROVAL_SIGNATURE_TAG ‖ approval_signing_bytes`.
        signature: Option<Vec<u8>>,
    },
    /// A proposal was applied.
    GovApplied {
        /// Proposal id.
        proposal_id: u64,
        /// The manifest it switched to.
        manifest_hash: Hash,
    },
    /// An adapter's public key, registered before its first receipt.
    AdapterKey {
        /// The adapter.
        adapter_id: String,
        /// Its Ed25519 public key.
        public_key: [u8; 32],
    },
    /// A signed lineage link.
    Checkpoint(CheckpointBody),
    /// The world resumed after downtime.
    Gap {
        /// Time of the last record before the gap.
        from_ns: u64,
        /// Time of resumption.
        to_ns: u64,
    },
    /// A snapshot of all state was written to the CAS.
    SnapshotPointer {
        /// The snapshot object.
        snapshot_hash: Hash,
        /// The last seq it covers.
        height: u64,
    },
}

impl RecordBody {
    /// The `kind` word stored in the record.
    pub fn kind(&self) -> &'static str {
        match self {
            RecordBody::Genesis(_) => "genesis",
            RecordBody::DomainEvent { .. } => "domain_event",
            RecordBody::StepFailed { .. } => "step_failed",
            RecordBody::EffectIntent(_) => "effect_intent",
            RecordBody::Admission(_) => "admission",
            RecordBody::Receipt(_) => "receipt",
            RecordBody::PlanStarted { .. } => "plan_started",
            RecordBody::PlanResult { .. } => "plan_result",
            RecordBody::PlanEnded { .. } => "plan_ended",
            RecordBody::ManifestChanged { .. } => "manifest_changed",
            RecordBody::GovProposed { .. } => "gov_proposed",
            RecordBody::GovShadowReport { .. } => "gov_shadow_report",
            RecordBody::GovDecided { .. } => "gov_decided",
            RecordBody::GovApplied { .. } => "gov_applied",
            RecordBody::AdapterKey { .. } => "adapter_key",
            RecordBody::Checkpoint(_) => "checkpoint",
            RecordBody::Gap { .. } => "gap",
            RecordBody::SnapshotPointer { .. } => "snapshot",
        }
    }
}
