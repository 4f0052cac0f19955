//! The stepper's governance side: proposal records move proposals through their lifecycle, and
//! `gov_applied` switches the manifest between two inputs, journaling `manifest_changed`.
//!
//! Running plan instances keep the plan definitions of the manifest they started under (the
//! replaced manifest stays loaded while one of them is alive); admission of what they emit uses
//! the grants and policies in force now, so a narrowed grant binds old instances too.

use std::collections::BTreeMap;
use std::rc::Rc;

use worldline_air::nodes::{DefPlan, ModuleKind, Node};
use worldline_air::{ControlPlane, Hash, Name};

use super::Stepper;
use super::routes::{Routes, routes};
use worldline_air::patch::{PatchDoc, PatchScope};

use crate::error::{KernelError, Result};
use crate::governance::{GovError, Proposal, ProposalStatus};
use crate::record::RecordBody;
use crate::world::sink::Sink;

/// What the stepper derives from one control plane.
pub(crate) struct Wiring {
    pub plane: Rc<ControlPlane>,
    pub routes: Routes,
    pub pure_modules: BTreeMap<Name, Hash>,
    pub plan_defs: BTreeMap<Name, Rc<DefPlan>>,
    pub retired: BTreeMap<Hash, Pinned>,
}

/// A replaced manifest kept for the plan instances pinned to it.
#[derive(Clone)]
pub(crate) struct Pinned {
    pub plane: Rc<ControlPlane>,
    pub plan_defs: BTreeMap<Name, Rc<DefPlan>>,
}

impl Wiring {
    /// Routes, enforcers and plans of `plane`.
    pub fn of(plane: &Rc<ControlPlane>) -> Result<Wiring> {
        let pure_modules = plane
            .defs()
            .values()
            .filter_map(|def| match &def.node {
                Node::Module(m) if m.module_kind == ModuleKind::Pure && !m.name.is_sys() => {
                    m.wasm_hash.map(|hash| (m.name.clone(), hash))
                }
                _ => None,
            })
            .collect();
        Ok(Wiring {
            plane: plane.clone(),
            routes: routes(plane)?,
            pure_modules,
            plan_defs: plan_defs(plane),
            retired: BTreeMap::new(),
        })
    }
}

fn plan_defs(plane: &ControlPlane) -> BTreeMap<Name, Rc<DefPlan>> {
    plane
        .defs()
        .values()
        .filter_map(|def| match &def.node {
            Node::Plan(plan) => Some((plan.name.clone(), Rc::new(plan.clone()))),
            _ => None,
        })
        .collect()
}

fn refused(seq: u64, error: GovError) -> KernelError {
    KernelError::Diverged {
        seq,
        reason: format!("the journal records a governance step the rules refuse: {error}"),
    }
}

impl Stepper {
    /// Every proposal.
    pub fn governance_state(&self) -> &crate::governance::GovState {
        &self.gov
    }

    /// The reducer host, for loading a candidate manifest's modules before it is applied.
    pub(crate) fn host_mut(&mut self) -> &mut crate::host::ReducerHost {
        &mut self.host
    }

    /// Loads the candidate manifest the next `gov_applied` switches to.
    pub(crate) fn stage(&mut self, plane: ControlPlane) {
        self.staged = Some(Rc::new(plane));
    }

    /// Switches to `plane` without journaling anything: the manifest a snapshot names.
    pub(crate) fn start_under(&mut self, plane: ControlPlane) -> Result<()> {
        let wiring = Wiring::of(&Rc::new(plane))?;
        self.rewire(wiring);
        Ok(())
    }

    /// Keeps `plane` loaded for the instances pinned to it (after a restore).
    pub(crate) fn keep_pinned(&mut self, plane: ControlPlane) {
        let plane = Rc::new(plane);
        let pinned = Pinned {
            plan_defs: plan_defs(&plane),
            plane: plane.clone(),
        };
        self.retired.insert(plane.manifest_hash(), pinned);
    }

    /// The manifests live plan instances are pinned to that are not loaded.
    pub(crate) fn missing_pins(&self) -> Vec<Hash> {
        let mut out: Vec<Hash> = self
            .plans
            .manifests()
            .into_iter()
            .filter(|h| *h != self.plane.manifest_hash() && !self.retired.contains_key(h))
            .collect();
        out.dedup();
        out
    }

    /// Installs a wiring; returns nothing (the previous one is the caller's to keep).
    pub(super) fn rewire(&mut self, wiring: Wiring) {
        self.plane = wiring.plane;
        self.routes = wiring.routes;
        self.pure_modules = wiring.pure_modules;
        self.plan_defs = wiring.plan_defs;
        self.retired = wiring.retired;
    }

    fn current_wiring(&self) -> Wiring {
        Wiring {
            plane: self.plane.clone(),
            routes: self.routes.clone(),
            pure_modules: self.pure_modules.clone(),
            plan_defs: self.plan_defs.clone(),
            retired: self.retired.clone(),
        }
    }

    /// The plan definition and control plane an instance runs under.
    pub(super) fn pinned(
        &self,
        manifest_hash: &Hash,
        plan: &Name,
    ) -> Option<(Rc<DefPlan>, Rc<ControlPlane>)> {
        if *manifest_hash == self.plane.manifest_hash() {
            let def = self.plan_defs.get(plan)?;
            return Some((def.clone(), self.plane.clone()));
        }
        let pinned = self.retired.get(manifest_hash)?;
        Some((pinned.plan_defs.get(plan)?.clone(), pinned.plane.clone()))
    }

    fn remember_proposal(&mut self, id: u64, before: Option<Proposal>) {
        if let Some(undo) = &mut self.undo {
            undo.proposals.push((id, before));
        }
    }

    fn set_status(&mut self, id: u64, status: ProposalStatus, shadow_seq: Option<u64>) {
        let before = self.gov.set_status(id, status, shadow_seq);
        self.remember_proposal(id, before);
    }

    /// A governance record: checked against the lifecycle, then applied to the proposals (and,
    /// for `gov_applied`, to the manifest in force).
    pub(super) fn governance(
        &mut self,
        seq: u64,
        body: &RecordBody,
        sink: &mut dyn Sink,
        appended: &mut Vec<u64>,
    ) -> Result<()> {
        match body {
            RecordBody::GovProposed {
                proposal_id,
                patch_hash,
                base,
                manifest_hash,
                ..
            } => {
                self.gov.check_propose().map_err(|e| refused(seq, e))?;
                let live = self.plane.manifest_hash();
                if *proposal_id != self.gov.next_id() || *base != live {
                    let reason = format!(
                        "proposal {proposal_id} on {base} does not follow (next id {}, manifest {live})",
                        self.gov.next_id()
                    );
                    return Err(KernelError::Diverged { seq, reason });
                }
                let scope = patch_scope(sink, patch_hash, seq)?;
                self.gov.insert(Proposal {
                    id: *proposal_id,
                    proposed_seq: seq,
                    patch_hash: *patch_hash,
                    base: *base,
                    candidate: *manifest_hash,
                    status: ProposalStatus::Proposed,
                    shadow_seq: None,
                    scope: Some(scope),
                });
                self.remember_proposal(*proposal_id, None);
            }
            RecordBody::GovShadowReport { proposal_id, .. } => {
                self.gov
                    .check_shadow(*proposal_id)
                    .map_err(|e| refused(seq, e))?;
                self.set_status(*proposal_id, ProposalStatus::Shadowed, Some(seq));
            }
            RecordBody::GovDecided {
                proposal_id,
                approved,
                ..
            } => {
                self.gov
                    .check_decide(*proposal_id)
                    .map_err(|e| refused(seq, e))?;
                let status = if *approved {
                    ProposalStatus::Approved
                } else {
                    ProposalStatus::Rejected
                };
                self.set_status(*proposal_id, status, None);
            }
            RecordBody::GovApplied {
                proposal_id,
                manifest_hash,
            } => self.apply(seq, *proposal_id, *manifest_hash, sink, appended)?,
            _ => {}
        }
        Ok(())
    }

    fn apply(
        &mut self,
        seq: u64,
        proposal_id: u64,
        manifest_hash: Hash,
        sink: &mut dyn Sink,
        appended: &mut Vec<u64>,
    ) -> Result<()> {
        let previous = self.plane.manifest_hash();
        let proposal = self
            .gov
            .check_apply(proposal_id, previous)
            .map_err(|e| refused(seq, e))?;
        let staged = self.staged.take();
        let plane = match staged {
            Some(plane)
                if proposal.candidate == manifest_hash
                    && plane.manifest_hash() == manifest_hash =>
            {
                plane
            }
            _ => {
                let reason = format!(
                    "proposal {proposal_id} applies manifest {manifest_hash}, which is not its candidate or not loaded"
                );
                return Err(KernelError::Diverged { seq, reason });
            }
        };
        let before = self.current_wiring();
        let mut wiring = Wiring::of(&plane)?;
        wiring.retired = before.retired.clone();
        // The replaced manifest stays loaded while an instance is pinned to it.
        if self.plans.manifests().contains(&previous) {
            let pinned = Pinned {
                plane: before.plane.clone(),
                plan_defs: before.plan_defs.clone(),
            };
            wiring.retired.insert(previous, pinned);
        }
        self.rewire(wiring);
        if let Some(undo) = &mut self.undo
            && undo.wiring.is_none()
        {
            undo.wiring = Some(before);
        }
        self.set_status(proposal_id, ProposalStatus::Applied, None);
        let body = RecordBody::ManifestChanged {
            manifest_hash,
            previous,
        };
        super::append_derived(sink, appended, seq, body)?;
        Ok(())
    }
}

/// What a proposal's patch touches, read from the patch document its input brought to the
/// CAS (a `gov_proposed` whose patch is missing or unreadable does not replay).
fn patch_scope(sink: &dyn Sink, patch_hash: &Hash, seq: u64) -> Result<PatchScope> {
    let diverged = |why: String| KernelError::Diverged {
        seq,
        reason: format!("patch {patch_hash}: {why}"),
    };
    let bytes = sink
        .input_object(patch_hash)?
        .ok_or_else(|| diverged("not in the store".into()))?;
    let doc = PatchDoc::from_cbor_bytes(&bytes).map_err(|e| diverged(e.to_string()))?;
    Ok(doc.scope())
}
