//! Governance: the proposals of a world and the rules of their lifecycle (AIR.md §8).
//!
//! `propose → shadow → approve | reject → apply`. The lifecycle is world state: the same
//! [`GovState`] checks an operation before it is journaled (so a refused one leaves the world
//! unchanged) and again when the record is re-run on open and replay (so a journal that breaks
//! the rules does not replay).

pub mod canned;
pub mod diff;
pub mod report;
pub mod scope;

use std::collections::BTreeMap;

use worldline_air::Hash;
use worldline_air::cbor::Cbor;
use worldline_air::patch::PatchScope;

use crate::error::{KernelError, Result};
use crate::record::codec::{self, MapBuilder, MapReader};

/// At most this many proposals are remembered; a world proposing more must apply or reject
/// some first (an open proposal is never dropped silently).
pub const PROPOSALS_OPEN_MAX: usize = 1024;

/// Where a proposal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProposalStatus {
    /// Journaled, not yet shadowed.
    Proposed,
    /// At least one shadow report journaled; no decision yet.
    Shadowed,
    /// Approved; may be applied.
    Approved,
    /// Rejected: final.
    Rejected,
    /// Applied: final.
    Applied,
}

impl ProposalStatus {
    /// The status as a word.
    pub fn word(self) -> &'static str {
        match self {
            ProposalStatus::Proposed => "proposed",
            ProposalStatus::Shadowed => "shadowed",
            ProposalStatus::Approved => "approved",
            ProposalStatus::Rejected => "rejected",
            ProposalStatus::Applied => "applied",
        }
    }

    fn from_word(word: &str) -> Option<ProposalStatus> {
        [
            ProposalStatus::Proposed,
            ProposalStatus::Shadowed,
            ProposalStatus::Approved,
            ProposalStatus::Rejected,
            ProposalStatus::Applied,
        ]
        .into_iter()
        .find(|s| s.word() == word)
    }
}

/// One proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    /// Its id (1, 2, … in proposal order).
    pub id: u64,
    /// The seq of its `gov_proposed` record.
    pub proposed_seq: u64,
    /// The patch document (in the CAS).
    pub patch_hash: Hash,
    /// The manifest it was compiled against.
    pub base: Hash,
    /// The manifest it produces (its nodes are in the CAS).
    pub candidate: Hash,
    /// Where it stands.
    pub status: ProposalStatus,
    /// The seq of its latest shadow report, once shadowed.
    pub shadow_seq: Option<u64>,
    /// What its patch touches (read from the patch when it was proposed); `None` only for a
    /// proposal restored from a snapshot written before scopes were kept, which an enforcer
    /// with restrictions then refuses.
    pub scope: Option<PatchScope>,
}

/// Why a governance operation is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GovError {
    /// No proposal has this id.
    #[error("proposal {0} does not exist")]
    Unknown(u64),
    /// Approve or reject before any shadow report.
    #[error("proposal {0} has not been shadowed yet: run `world shadow` first")]
    NotShadowed(u64),
    /// Shadow, approve or reject after the decision.
    #[error("proposal {id} is already {}", status.word())]
    Decided {
        /// The proposal.
        id: u64,
        /// Its status.
        status: ProposalStatus,
    },
    /// Apply of a proposal that is not approved.
    #[error("proposal {id} is {}, not approved: it cannot be applied", status.word())]
    NotApproved {
        /// The proposal.
        id: u64,
        /// Its status.
        status: ProposalStatus,
    },
    /// The manifest changed since the proposal was compiled.
    #[error(
        "proposal {id} was compiled against manifest {base}, but the live manifest is {live}: propose it again"
    )]
    StaleBase {
        /// The proposal.
        id: u64,
        /// Its base.
        base: Hash,
        /// The manifest in force.
        live: Hash,
    },
    /// Too many proposals remembered.
    #[error("{PROPOSALS_OPEN_MAX} proposals are open: apply or reject some first")]
    Full,
}

/// Every proposal of a world.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GovState {
    proposals: BTreeMap<u64, Proposal>,
}

impl GovState {
    /// The id the next proposal gets.
    pub fn next_id(&self) -> u64 {
        self.proposals.keys().next_back().map_or(1, |id| id + 1)
    }

    /// A proposal.
    pub fn get(&self, id: u64) -> Option<&Proposal> {
        self.proposals.get(&id)
    }

    /// Every proposal, in id order.
    pub fn all(&self) -> impl Iterator<Item = &Proposal> {
        self.proposals.values()
    }

    /// True when no proposal was ever made.
    pub fn is_empty(&self) -> bool {
        self.proposals.is_empty()
    }

    /// Checks that a new proposal may be added.
    pub fn check_propose(&self) -> std::result::Result<(), GovError> {
        let open = self
            .proposals
            .values()
            .filter(|p| !matches!(p.status, ProposalStatus::Applied | ProposalStatus::Rejected))
            .count();
        if open >= PROPOSALS_OPEN_MAX {
            return Err(GovError::Full);
        }
        Ok(())
    }

    fn known(&self, id: u64) -> std::result::Result<&Proposal, GovError> {
        self.proposals.get(&id).ok_or(GovError::Unknown(id))
    }

    /// Checks that proposal `id` may be shadowed (again).
    pub fn check_shadow(&self, id: u64) -> std::result::Result<&Proposal, GovError> {
        let proposal = self.known(id)?;
        match proposal.status {
            ProposalStatus::Proposed | ProposalStatus::Shadowed => Ok(proposal),
            status => Err(GovError::Decided { id, status }),
        }
    }

    /// Checks that proposal `id` may be approved or rejected.
    pub fn check_decide(&self, id: u64) -> std::result::Result<&Proposal, GovError> {
        let proposal = self.known(id)?;
        match proposal.status {
            ProposalStatus::Shadowed => Ok(proposal),
            ProposalStatus::Proposed => Err(GovError::NotShadowed(id)),
            status => Err(GovError::Decided { id, status }),
        }
    }

    /// Checks that proposal `id` may be applied on top of manifest `live`.
    pub fn check_apply(&self, id: u64, live: Hash) -> std::result::Result<&Proposal, GovError> {
        let proposal = self.known(id)?;
        if proposal.status != ProposalStatus::Approved {
            return Err(GovError::NotApproved {
                id,
                status: proposal.status,
            });
        }
        if proposal.base != live {
            return Err(GovError::StaleBase {
                id,
                base: proposal.base,
                live,
            });
        }
        Ok(proposal)
    }

    /// Records a new proposal (checked by the caller).
    pub fn insert(&mut self, proposal: Proposal) {
        self.proposals.insert(proposal.id, proposal);
    }

    /// Sets a proposal's status (and its shadow seq when shadowed); returns the proposal as
    /// it was, for undo.
    pub fn set_status(
        &mut self,
        id: u64,
        status: ProposalStatus,
        shadow_seq: Option<u64>,
    ) -> Option<Proposal> {
        let proposal = self.proposals.get_mut(&id)?;
        let before = proposal.clone();
        proposal.status = status;
        if shadow_seq.is_some() {
            proposal.shadow_seq = shadow_seq;
        }
        Some(before)
    }

    /// Puts back a proposal as it was (`None`: removes `id`).
    pub fn restore(&mut self, id: u64, before: Option<Proposal>) {
        match before {
            Some(proposal) => self.proposals.insert(id, proposal),
            None => self.proposals.remove(&id),
        };
    }

    /// The snapshot entry: an array of proposal maps, or nothing when there is no proposal (so
    /// the snapshots of worlds that never governed keep their bytes).
    pub fn to_snapshot(&self) -> Option<Vec<u8>> {
        if self.proposals.is_empty() {
            return None;
        }
        let mut out = Vec::new();
        worldline_air::cbor::write_array_head(&mut out, self.proposals.len());
        for p in self.proposals.values() {
            let mut m = MapBuilder::new();
            m.uint("id", p.id);
            m.uint("proposed_seq", p.proposed_seq);
            m.hash("patch_hash", &p.patch_hash);
            m.hash("base", &p.base);
            m.hash("candidate", &p.candidate);
            m.text("status", p.status.word());
            if let Some(seq) = p.shadow_seq {
                m.uint("shadow_seq", seq);
            }
            if let Some(scope) = &p.scope {
                m.raw("scope", scope::encode(scope));
            }
            m.finish_into(&mut out);
        }
        Some(out)
    }

    /// Reads the snapshot entry back.
    pub fn from_snapshot(item: &Cbor) -> Result<GovState> {
        let Cbor::Array(items) = item else {
            return Err(KernelError::Corrupt(
                "snapshot: `governance` is not an array".into(),
            ));
        };
        let mut state = GovState::default();
        for item in items {
            let m = MapReader::new(item, "snapshot governance entry")?;
            let status = m.text("status")?;
            let status = ProposalStatus::from_word(status).ok_or_else(|| {
                KernelError::Corrupt(format!("snapshot: unknown proposal status `{status}`"))
            })?;
            let shadow_seq = match m.get("shadow_seq") {
                None => None,
                Some(_) => Some(m.uint("shadow_seq")?),
            };
            state.insert(Proposal {
                id: m.uint("id")?,
                proposed_seq: m.uint("proposed_seq")?,
                patch_hash: m.hash("patch_hash")?,
                base: m.hash("base")?,
                candidate: m.hash("candidate")?,
                status,
                shadow_seq,
                scope: match m.get("scope") {
                    None => None,
                    Some(item) => Some(scope::decode(item)?),
                },
            });
        }
        Ok(state)
    }

    /// Decodes a snapshot entry from its bytes.
    pub fn from_snapshot_bytes(bytes: &[u8]) -> Result<GovState> {
        GovState::from_snapshot(&codec::decode(bytes, "snapshot governance")?)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn proposal(id: u64, status: ProposalStatus) -> Proposal {
        Proposal {
            id,
            proposed_seq: id * 10,
            patch_hash: Hash::of(b"patch"),
            base: Hash::of(b"base"),
            candidate: Hash::of(b"candidate"),
            status,
            shadow_seq: None,
            scope: None,
        }
    }

    #[test]
    fn the_lifecycle_is_enforced() {
        let mut gov = GovState::default();
        assert_eq!(gov.next_id(), 1);
        assert_eq!(gov.check_shadow(1), Err(GovError::Unknown(1)));
        gov.insert(proposal(1, ProposalStatus::Proposed));
        assert_eq!(gov.next_id(), 2);
        assert_eq!(gov.check_decide(1), Err(GovError::NotShadowed(1)));
        let live = Hash::of(b"base");
        assert!(matches!(
            gov.check_apply(1, live),
            Err(GovError::NotApproved { .. })
        ));
        gov.set_status(1, ProposalStatus::Shadowed, Some(11));
        assert!(gov.check_decide(1).is_ok());
        gov.set_status(1, ProposalStatus::Approved, None);
        assert!(gov.check_shadow(1).is_err());
        assert!(gov.check_decide(1).is_err());
        assert!(matches!(
            gov.check_apply(1, Hash::of(b"other")),
            Err(GovError::StaleBase { .. })
        ));
        assert!(gov.check_apply(1, live).is_ok());
        gov.set_status(1, ProposalStatus::Applied, None);
        assert!(matches!(
            gov.check_apply(1, live),
            Err(GovError::NotApproved {
                status: ProposalStatus::Applied,
                ..
            })
        ));
    }

    #[test]
    fn snapshots_round_trip_and_stay_absent_when_empty() {
        let mut gov = GovState::default();
        assert!(gov.to_snapshot().is_none());
        gov.insert(proposal(1, ProposalStatus::Applied));
        let mut shadowed = proposal(2, ProposalStatus::Shadowed);
        shadowed.shadow_seq = Some(25);
        let zero = format!("sha256:{}", "0".repeat(64));
        let doc = worldline_air::patch::PatchDoc::from_json(&serde_json::json!({
            "base_manifest_hash": zero,
            "patches": [
                {"remove_def": {"kind": "defplan", "name": "agent/x@1", "pre_hash": zero}},
                {"set_triggers": {"pre_hash": zero, "triggers": []}},
            ]
        }))
        .unwrap();
        shadowed.scope = Some(doc.scope());
        gov.insert(shadowed);
        let bytes = gov.to_snapshot().unwrap();
        assert_eq!(GovState::from_snapshot_bytes(&bytes).unwrap(), gov);
    }
}
