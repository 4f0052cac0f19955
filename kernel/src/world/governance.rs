//! Governance on a live world: propose, decide and apply, each checked against the lifecycle
//! before anything is journaled, so a refused operation leaves the world exactly as it was.
//! Shadow runs are in `shadow.rs`.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value as Json;
use worldline_air::cbor::json_canonical_bytes;
use worldline_air::nodes::DefKind;
use worldline_air::patch::{CompiledPatch, DefChange, PatchDoc, compile};
use worldline_air::plane::BuildOptions;
use worldline_air::{AirError, AirErrors, ControlPlane, Hash, Name};

use super::stepper::Stepper;
use super::{Ingress, World, load};
use crate::error::{KernelError, Result};
use crate::governance::report::{LedgerDelta, ledger_deltas};
use crate::governance::{GovError, GovState};
use crate::identity::WorldKey;
use crate::lineage::verify::{APPROVAL_SIGNATURE_TAG, Approval, approval_signing_bytes};
use crate::record::RecordBody;
use crate::store::{Batch, Store};

/// A proposal just journaled.
#[derive(Debug, Clone)]
pub struct Proposed {
    /// Its id.
    pub id: u64,
    /// The seq of its `gov_proposed` record.
    pub seq: u64,
    /// The patch document's hash.
    pub patch_hash: Hash,
    /// The candidate manifest.
    pub candidate: Hash,
    /// Definitions it adds, removes or changes.
    pub changes: Vec<DefChange>,
    /// Every ledger delta (definitions and manifest blocks).
    pub ledger: Vec<LedgerDelta>,
}

/// A manifest switch just journaled.
#[derive(Debug, Clone, Copy)]
pub struct Applied {
    /// The seq of the `gov_applied` record.
    pub seq: u64,
    /// The manifest before.
    pub previous: Hash,
    /// The manifest now in force.
    pub manifest_hash: Hash,
}

fn refused(error: GovError) -> KernelError {
    KernelError::Rejected(error.to_string())
}

/// Reads a decider's signing key: a file holding one `ed25519-seed:<64 hex digits>` line (the
/// format of a world's own key file).
pub fn read_signing_key(path: &Path) -> Result<WorldKey> {
    let text = std::fs::read_to_string(path).map_err(|e| KernelError::io(path, e))?;
    super::checkpoint::parse_key_line(&text).ok_or_else(|| {
        KernelError::Rejected(format!(
            "{}: not an `ed25519-seed:` line of 64 hex digits",
            path.display()
        ))
    })
}

/// Writes a new signing key file (mode 0600, never over an existing file).
pub fn write_signing_key(path: &Path, seed: [u8; 32]) -> Result<WorldKey> {
    let key = WorldKey::from_seed(seed);
    super::checkpoint::write_key_file(path, &key)?;
    Ok(key)
}

/// Loads the control plane `manifest` from the store and its modules into the stepper's host.
pub(crate) fn load_plane(
    stepper: &mut Stepper,
    store: &dyn Store,
    manifest: &Hash,
) -> Result<ControlPlane> {
    let plane = load::plane_from_store(store, manifest)?;
    // Compiled artifacts are not kept here: a world opened later finds them in the cache
    // (apply stores them) or compiles again.
    load::load_modules(stepper.host_mut(), &plane, store, &BTreeMap::new())?;
    Ok(plane)
}

/// Puts the stepper under `manifest` (loading it from the store) unless it already is.
pub(crate) fn begin_under(stepper: &mut Stepper, store: &dyn Store, manifest: &Hash) -> Result<()> {
    if stepper.plane().manifest_hash() != *manifest {
        let plane = load_plane(stepper, store, manifest)?;
        stepper.start_under(plane)?;
    }
    for pinned in stepper.missing_pins() {
        let plane = load::plane_from_store(store, &pinned)?;
        stepper.keep_pinned(plane);
    }
    Ok(())
}

/// Refuses a candidate that changes the state schema of a reducer holding state: without a
/// migration the old state would be read through the new schema.
fn check_state_schemas(
    base: &ControlPlane,
    candidate: &ControlPlane,
    has_state: &dyn Fn(&Name) -> bool,
) -> std::result::Result<(), AirErrors> {
    let mut errors = AirErrors::default();
    for (name, module) in base
        .defs()
        .iter()
        .filter_map(|((kind, name), def)| match &def.node {
            worldline_air::nodes::Node::Module(m) if *kind == DefKind::Module => Some((name, m)),
            _ => None,
        })
    {
        let (Some(old), Some(new)) = (
            module.reducer(),
            candidate.module(name).and_then(|m| m.reducer()),
        ) else {
            continue;
        };
        let same = old.state == new.state
            && base.schema_type_of(&old.state) == candidate.schema_type_of(&new.state);
        if !same && has_state(name) {
            let message = format!(
                "the state schema of reducer {name} changes ({} → {}) while it holds state; state migrations are not supported yet: keep the schema or remove the reducer's state first",
                old.state, new.state
            );
            errors.push(AirError::new("$", "state_schema_changed", message).in_file("patch"));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

impl World {
    /// Every proposal of this world.
    pub fn proposals(&self) -> &GovState {
        self.stepper.governance_state()
    }

    /// Compiles a patch document against the live manifest and, when it holds, journals
    /// `gov_proposed` with the patch, the candidate's nodes and any new module binaries in the
    /// CAS. Every reason to refuse is reported at once; a refused patch journals nothing.
    pub fn propose(
        &mut self,
        doc: &Json,
        binaries: Vec<Vec<u8>>,
        description: Option<String>,
        ingress: Ingress,
    ) -> Result<Proposed> {
        let (input, mut proposed) = self.stage_propose(doc, binaries, description, Vec::new())?;
        proposed.seq = first_seq(&self.journal_gov(input, None, ingress)?)?;
        Ok(proposed)
    }

    /// Everything [`World::propose`] checks and builds, without journaling it.
    pub(crate) fn stage_propose(
        &mut self,
        doc: &Json,
        binaries: Vec<Vec<u8>>,
        description: Option<String>,
        causes: Vec<u64>,
    ) -> Result<(GovInput, Proposed)> {
        self.proposals().check_propose().map_err(refused)?;
        let base = self.plane().clone();
        let compiled: CompiledPatch = compile(&base, doc, &BuildOptions::default())?;
        let states = self.states();
        let has_state = |reducer: &Name| states.of_reducer(reducer).next().is_some();
        check_state_schemas(&base, &compiled.plane, &has_state)?;
        let pending: BTreeMap<Hash, Vec<u8>> =
            binaries.into_iter().map(|b| (Hash::of(&b), b)).collect();
        // Every module of the candidate must load here before anything is journaled.
        let artifacts = load::load_modules(
            self.stepper.host_mut(),
            &compiled.plane,
            &self.store,
            &pending,
        )?;
        let patch = PatchDoc::from_json(doc).map_err(|e| KernelError::Air(e.into()))?;
        let patch_json = serde_json::to_value(&patch)
            .map_err(|e| KernelError::Rejected(format!("patch: {e}")))?;
        let patch_bytes = json_canonical_bytes(&patch_json)
            .map_err(|e| KernelError::Rejected(format!("patch {}: {}", e.path, e.reason)))?;
        let mut objects = vec![patch_bytes];
        objects.extend(
            load::plane_objects(&compiled.plane)?
                .into_iter()
                .map(|(_, b)| b),
        );
        objects.extend(pending.into_values());
        let id = self.proposals().next_id();
        let candidate = compiled.plane.manifest_hash();
        let body = RecordBody::GovProposed {
            proposal_id: id,
            patch_hash: compiled.patch_hash,
            base: base.manifest_hash(),
            manifest_hash: candidate,
            description,
        };
        let input = GovInput {
            body,
            causes,
            objects,
            artifacts,
            stage_plane: None,
        };
        let proposed = Proposed {
            id,
            seq: 0,
            patch_hash: compiled.patch_hash,
            candidate,
            ledger: ledger_deltas(&base, &compiled.plane),
            changes: compiled.changes,
        };
        Ok((input, proposed))
    }

    /// Journals a decision on a shadowed proposal; with `key`, signed by it.
    pub fn decide(
        &mut self,
        id: u64,
        approved: bool,
        by: &str,
        key: Option<&WorldKey>,
        ingress: Ingress,
    ) -> Result<u64> {
        let input = self.stage_decide(id, approved, by, key, Vec::new())?;
        first_seq(&self.journal_gov(input, None, ingress)?)
    }

    /// Everything [`World::decide`] checks and builds, without journaling it.
    pub(crate) fn stage_decide(
        &mut self,
        id: u64,
        approved: bool,
        by: &str,
        key: Option<&WorldKey>,
        more_causes: Vec<u64>,
    ) -> Result<GovInput> {
        let proposal = self.proposals().check_decide(id).map_err(refused)?.clone();
        if by.is_empty() || by.len() > 256 {
            return Err(KernelError::Rejected(
                "the decider's name must be 1 to 256 bytes".into(),
            ));
        }
        let (signer, signature) = match key {
            None => (None, None),
            Some(key) => {
                let signed = approval_signing_bytes(&Approval {
                    did: &self.did,
                    proposal_id: id,
                    patch_hash: &proposal.patch_hash,
                    approved,
                    by,
                });
                let signature = key.sign(APPROVAL_SIGNATURE_TAG, &signed);
                (Some(key.did()), Some(signature.to_vec()))
            }
        };
        let body = RecordBody::GovDecided {
            proposal_id: id,
            approved,
            by: by.to_owned(),
            signer,
            signature,
        };
        let mut causes = vec![proposal.proposed_seq];
        causes.extend(more_causes);
        Ok(GovInput::plain(body, causes))
    }

    /// Switches the manifest to an approved proposal's candidate, atomically, between two
    /// inputs: journals `gov_applied` and `manifest_changed`.
    pub fn apply(&mut self, id: u64, ingress: Ingress) -> Result<Applied> {
        let (input, mut applied) = self.stage_apply(id, Vec::new())?;
        applied.seq = first_seq(&self.journal_gov(input, None, ingress)?)?;
        Ok(applied)
    }

    /// Everything [`World::apply`] checks and loads, without journaling it.
    pub(crate) fn stage_apply(
        &mut self,
        id: u64,
        more_causes: Vec<u64>,
    ) -> Result<(GovInput, Applied)> {
        let previous = self.plane().manifest_hash();
        let proposal = self
            .proposals()
            .check_apply(id, previous)
            .map_err(refused)?
            .clone();
        let plane = load::plane_from_store(&self.store, &proposal.candidate)?;
        let artifacts = load::load_modules(
            self.stepper.host_mut(),
            &plane,
            &self.store,
            &BTreeMap::new(),
        )?;
        let body = RecordBody::GovApplied {
            proposal_id: id,
            manifest_hash: proposal.candidate,
        };
        let mut causes = vec![proposal.proposed_seq];
        causes.extend(more_causes);
        let input = GovInput {
            body,
            causes,
            objects: Vec::new(),
            artifacts,
            stage_plane: Some(plane),
        };
        let applied = Applied {
            seq: 0,
            previous,
            manifest_hash: proposal.candidate,
        };
        Ok((input, applied))
    }

    /// Journals a staged governance input (and `rider`, an input journaled right after it, in
    /// the same durable commit), then stores the compiled artifacts it loaded.
    pub(crate) fn journal_gov(
        &mut self,
        input: GovInput,
        rider: Option<(RecordBody, Vec<u64>, Ingress)>,
        ingress: Ingress,
    ) -> Result<Vec<Vec<u64>>> {
        if let Some(plane) = input.stage_plane {
            self.stepper.stage(plane);
        }
        let mut inputs = vec![(input.body, input.causes, ingress)];
        inputs.extend(rider);
        let appended = self.append_inputs(inputs, input.objects, true)?;
        self.store.commit(&input.artifacts, false)?;
        Ok(appended)
    }
}

/// A governance record checked and ready to journal.
pub(crate) struct GovInput {
    /// The record.
    pub body: RecordBody,
    /// The records that caused it.
    pub causes: Vec<u64>,
    /// The CAS objects it brings (patch, candidate nodes, binaries, report).
    pub objects: Vec<Vec<u8>>,
    /// Compiled module artifacts to cache once it is journaled.
    pub artifacts: Batch,
    /// For `gov_applied`: the plane the stepper switches to when it reaches the record.
    pub stage_plane: Option<ControlPlane>,
}

impl GovInput {
    /// A record that brings nothing but itself.
    pub fn plain(body: RecordBody, causes: Vec<u64>) -> GovInput {
        GovInput {
            body,
            causes,
            objects: Vec::new(),
            artifacts: Batch::default(),
            stage_plane: None,
        }
    }
}

pub(crate) fn first_seq(appended: &[Vec<u64>]) -> Result<u64> {
    appended
        .first()
        .and_then(|seqs| seqs.first())
        .copied()
        .ok_or_else(|| KernelError::Corrupt("an input appended no record".into()))
}
