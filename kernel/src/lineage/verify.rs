//! Verification of a whole lineage, one item at a time: the record hash chain from genesis,
//! every checkpoint's link and signature under the world's DID, every receipt's signature
//! under its adapter's journaled key, every signed approval, and every CAS object against its
//! hash. The same [`Verifier`] reads a world's store and a bundle, so both are held to the
//! same rules, in constant memory (it keeps only the adapter keys, the manifests in force and
//! the hashes of the objects the journal names).
//!
//! What this does not check is what only re-execution can: that the states and records follow
//! from the inputs (`world replay`).

use std::collections::{BTreeMap, BTreeSet};

use worldline_air::Hash;

use super::checkpoint::{claim_of, signature_holds};
use crate::effects::receipt::{RECEIPT_SIGNATURE_TAG, signing_bytes};
use crate::error::{KernelError, Result};
use crate::identity::{self, public_from_did};
use crate::record::codec::MapBuilder;
use crate::record::{ParentWorld, Record, RecordBody, chain_hash};
use crate::store::Head;

/// Domain tag of a signed governance decision.
pub const APPROVAL_SIGNATURE_TAG: &[u8] = b"worldline/approval/v1";

/// Where verification found a problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// A journal record.
    Record(u64),
    /// A CAS object.
    Object(Hash),
    /// A part of a bundle file (`header`, `end`, a frame at a byte offset, …).
    Bundle(String),
    /// The world as a whole (its DID, its head).
    World,
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::Record(seq) => write!(f, "record {seq}"),
            Place::Object(hash) => write!(f, "object {hash}"),
            Place::Bundle(what) => write!(f, "bundle {what}"),
            Place::World => write!(f, "world"),
        }
    }
}

/// A verification failure at `place`.
pub fn unverified(place: Place, reason: impl Into<String>) -> KernelError {
    KernelError::Unverified {
        place,
        reason: reason.into(),
    }
}

/// What verifying a lineage found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// The world's DID (from genesis).
    pub did: String,
    /// The parent, when the world is a fork.
    pub parent: Option<ParentWorld>,
    /// Records checked.
    pub records: u64,
    /// The last record.
    pub head: Head,
    /// Checkpoints checked.
    pub checkpoints: u64,
    /// Height and hash of the last checkpoint.
    pub last_checkpoint: Option<(u64, Hash)>,
    /// Receipts whose signatures were checked.
    pub receipts: u64,
    /// Signed governance decisions checked.
    pub approvals: u64,
    /// CAS objects checked against their hashes.
    pub objects: u64,
    /// The manifest in force at the head.
    pub manifest_hash: Hash,
}

/// Checks records in seq order, then objects, then [`Verifier::finish`].
#[derive(Debug)]
pub struct Verifier {
    expected_did: Option<String>,
    genesis: Option<(String, [u8; 32], Option<ParentWorld>)>,
    next_seq: u64,
    prev_hash: Hash,
    adapter_keys: BTreeMap<String, [u8; 32]>,
    manifest_hash: Hash,
    last_checkpoint: Option<(u64, Hash)>,
    /// Objects the journal names (manifests, snapshots, the fork's starting state): they must
    /// be present.
    needed: BTreeSet<Hash>,
    seen_objects: u64,
    checkpoints: u64,
    receipts: u64,
    approvals: u64,
    /// Patch hash of every proposal seen, by id: what a signed decision is about.
    proposals: BTreeMap<u64, Hash>,
}

impl Verifier {
    /// A verifier; when `expected_did` is given, genesis must name it.
    pub fn new(expected_did: Option<&str>) -> Verifier {
        Verifier {
            expected_did: expected_did.map(str::to_owned),
            genesis: None,
            next_seq: 0,
            prev_hash: Hash::ZERO,
            adapter_keys: BTreeMap::new(),
            manifest_hash: Hash::ZERO,
            last_checkpoint: None,
            needed: BTreeSet::new(),
            seen_objects: 0,
            checkpoints: 0,
            receipts: 0,
            approvals: 0,
            proposals: BTreeMap::new(),
        }
    }

    /// The seq the next record must have.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The chain hash of the last record checked.
    pub fn head_hash(&self) -> Hash {
        self.prev_hash
    }

    /// The manifest in force after the records checked so far.
    pub fn manifest_hash(&self) -> Hash {
        self.manifest_hash
    }

    /// Height and hash of the last checkpoint checked.
    pub fn last_checkpoint(&self) -> Option<(u64, Hash)> {
        self.last_checkpoint
    }

    /// The DID genesis named, once genesis has been checked.
    pub fn did(&self) -> Option<&str> {
        self.genesis.as_ref().map(|(did, _, _)| did.as_str())
    }

    /// Checks the next record's bytes (and, when the store keeps one, its stored chain hash);
    /// returns it decoded.
    pub fn record(&mut self, bytes: &[u8], stored_hash: Option<&Hash>) -> Result<Record> {
        let seq = self.next_seq;
        let at = |reason: String| unverified(Place::Record(seq), reason);
        let record = Record::decode(bytes).map_err(|e| at(format!("does not decode: {e}")))?;
        if record.seq != seq {
            return Err(at(format!("says it is seq {}", record.seq)));
        }
        if record.encode() != bytes {
            return Err(at("is not in canonical form".into()));
        }
        let hash = chain_hash(&self.prev_hash, bytes);
        if stored_hash.is_some_and(|stored| *stored != hash) {
            return Err(at(
                "its stored hash does not follow from its bytes and its predecessor".into(),
            ));
        }
        if let Some(cause) = record.causes.iter().find(|&&cause| cause >= seq) {
            return Err(at(format!("names a later record ({cause}) as its cause")));
        }
        self.check_body(&record).map_err(at)?;
        self.prev_hash = hash;
        self.next_seq += 1;
        Ok(record)
    }

    fn check_body(&mut self, record: &Record) -> std::result::Result<(), String> {
        if let Some(stamp) = &record.stamp
            && record.seq > 0
            && stamp.manifest_hash != self.manifest_hash
        {
            return Err("its stamp names a manifest that is not in force".into());
        }
        match (&record.body, &self.genesis) {
            (RecordBody::Genesis(genesis), None) if record.seq == 0 => {
                let public = public_from_did(&genesis.did).map_err(|e| e.to_string())?;
                if let Some(expected) = &self.expected_did
                    && *expected != genesis.did
                {
                    return Err(format!("genesis names {}, not {expected}", genesis.did));
                }
                self.manifest_hash = genesis.manifest_hash;
                self.needed.insert(genesis.manifest_hash);
                if let Some(parent) = &genesis.parent {
                    public_from_did(&parent.did).map_err(|e| format!("parent: {e}"))?;
                    self.needed.insert(parent.state_hash);
                }
                self.genesis = Some((genesis.did.clone(), public, genesis.parent.clone()));
                Ok(())
            }
            (_, None) => Err("the journal does not start with genesis".into()),
            (RecordBody::Genesis(_), Some(_)) => Err("a second genesis record".into()),
            (body, Some((did, public, _))) => {
                let (did, public) = (did.clone(), *public);
                self.check_later(record.seq, body, &did, &public)
            }
        }
    }

    fn check_later(
        &mut self,
        seq: u64,
        body: &RecordBody,
        did: &str,
        public: &[u8; 32],
    ) -> std::result::Result<(), String> {
        match body {
            RecordBody::Checkpoint(checkpoint) => {
                if checkpoint.height + 1 != seq {
                    return Err(format!(
                        "the checkpoint covers height {}, not the record before it",
                        checkpoint.height
                    ));
                }
                if checkpoint.head_record_hash != self.prev_hash {
                    return Err(
                        "the checkpoint's head_record_hash is not the record before it".into(),
                    );
                }
                let prev = self.last_checkpoint.map_or(Hash::ZERO, |(_, hash)| hash);
                if checkpoint.prev_checkpoint_hash != prev {
                    return Err("the checkpoint does not link to the previous checkpoint".into());
                }
                if checkpoint.manifest_hash != self.manifest_hash {
                    return Err("the checkpoint names a manifest that is not in force".into());
                }
                if !signature_holds(public, did, checkpoint) {
                    return Err(format!(
                        "the checkpoint's signature does not verify under {did}"
                    ));
                }
                self.last_checkpoint = Some((checkpoint.height, claim_of(did, checkpoint).hash()));
                self.checkpoints += 1;
            }
            RecordBody::AdapterKey {
                adapter_id,
                public_key,
            } => {
                self.adapter_keys.insert(adapter_id.clone(), *public_key);
            }
            RecordBody::Receipt(receipt) => {
                let key = self.adapter_keys.get(&receipt.adapter_id).ok_or_else(|| {
                    format!(
                        "a receipt by adapter `{}`, whose key was never registered",
                        receipt.adapter_id
                    )
                })?;
                let signed = signing_bytes(receipt);
                if !identity::verify(key, RECEIPT_SIGNATURE_TAG, &signed, &receipt.signature) {
                    return Err(format!(
                        "the receipt's signature does not verify under adapter `{}`'s key",
                        receipt.adapter_id
                    ));
                }
                self.receipts += 1;
            }
            RecordBody::GovProposed {
                proposal_id,
                patch_hash,
                manifest_hash,
                ..
            } => {
                self.proposals.insert(*proposal_id, *patch_hash);
                self.needed.insert(*patch_hash);
                self.needed.insert(*manifest_hash);
            }
            RecordBody::GovShadowReport { report_hash, .. } => {
                self.needed.insert(*report_hash);
            }
            RecordBody::GovDecided {
                proposal_id,
                approved,
                by,
                signer,
                signature: Some(signature),
            } => {
                let signer = signer
                    .as_deref()
                    .ok_or("the decision is signed but names no signer")?;
                let key =
                    public_from_did(signer).map_err(|e| format!("the decision's signer: {e}"))?;
                let patch_hash = self.proposals.get(proposal_id).ok_or_else(|| {
                    format!(
                        "the decision is about proposal {proposal_id}, which was never proposed"
                    )
                })?;
                let signed = approval_signing_bytes(&Approval {
                    did,
                    proposal_id: *proposal_id,
                    patch_hash,
                    approved: *approved,
                    by,
                });
                if !identity::verify(&key, APPROVAL_SIGNATURE_TAG, &signed, signature) {
                    return Err(format!(
                        "the decision's signature does not verify under {signer}"
                    ));
                }
                self.approvals += 1;
            }
            RecordBody::ManifestChanged { manifest_hash, .. }
            | RecordBody::GovApplied { manifest_hash, .. } => {
                self.manifest_hash = *manifest_hash;
                self.needed.insert(*manifest_hash);
            }
            RecordBody::SnapshotPointer {
                snapshot_hash,
                height,
            } => {
                if *height >= seq {
                    return Err(format!("the snapshot claims height {height}, after itself"));
                }
                self.needed.insert(*snapshot_hash);
            }
            _ => {}
        }
        Ok(())
    }

    /// Checks one CAS object against its hash.
    pub fn object(&mut self, hash: &Hash, bytes: &[u8]) -> Result<()> {
        if Hash::of(bytes) != *hash {
            return Err(unverified(
                Place::Object(*hash),
                "its bytes do not hash to its name",
            ));
        }
        self.needed.remove(hash);
        self.seen_objects += 1;
        Ok(())
    }

    /// Ends verification: the journal was not empty and every object it names was present.
    pub fn finish(self) -> Result<VerifyReport> {
        let Some((did, _, parent)) = self.genesis else {
            return Err(unverified(Place::World, "the journal is empty"));
        };
        if let Some(missing) = self.needed.first() {
            return Err(unverified(
                Place::Object(*missing),
                "is named by the journal but missing",
            ));
        }
        Ok(VerifyReport {
            did,
            parent,
            records: self.next_seq,
            head: Head {
                seq: self.next_seq - 1,
                hash: self.prev_hash,
            },
            checkpoints: self.checkpoints,
            last_checkpoint: self.last_checkpoint,
            receipts: self.receipts,
            approvals: self.approvals,
            objects: self.seen_objects,
            manifest_hash: self.manifest_hash,
        })
    }
}

/// What a governance decision is about, as its decider signs it.
#[derive(Debug, Clone, Copy)]
pub struct Approval<'a> {
    /// The world's DID (a decision is good in one world only).
    pub did: &'a str,
    /// The proposal.
    pub proposal_id: u64,
    /// Its patch (a decision is about one patch, whatever id it had).
    pub patch_hash: &'a Hash,
    /// Approved or rejected.
    pub approved: bool,
    /// Who decided, as they named themselves.
    pub by: &'a str,
}

/// What a governance decider signs (after [`APPROVAL_SIGNATURE_TAG`]): canonical
/// `{did, proposal_id, patch_hash, approved, by}`.
pub fn approval_signing_bytes(approval: &Approval<'_>) -> Vec<u8> {
    let mut map = MapBuilder::new();
    map.text("did", approval.did);
    map.uint("proposal_id", approval.proposal_id);
    map.hash("patch_hash", approval.patch_hash);
    map.bool("approved", approval.approved);
    map.text("by", approval.by);
    map.finish_tagged()
}

/// Records and objects per page when walking a store.
const PAGE_ITEMS: usize = 1024;
/// CAS objects per page: objects can be large (module binaries, response bodies).
const OBJECT_PAGE_ITEMS: usize = 64;

/// Walks a store through `verifier`: every record from genesis to the head, then every CAS
/// object. `progress` is told the number of records checked so far, a page at a time.
pub fn verify_store(
    store: &dyn crate::store::Store,
    mut verifier: Verifier,
    progress: &mut dyn FnMut(u64),
) -> Result<VerifyReport> {
    let head = store
        .head()?
        .ok_or_else(|| unverified(Place::World, "the journal is empty"))?;
    while verifier.next_seq() <= head.seq {
        let page = store.records(verifier.next_seq(), PAGE_ITEMS)?;
        if page.is_empty() {
            return Err(unverified(Place::Record(verifier.next_seq()), "is missing"));
        }
        for (seq, bytes, hash) in page {
            if seq != verifier.next_seq() {
                return Err(unverified(Place::Record(verifier.next_seq()), "is missing"));
            }
            verifier.record(&bytes, Some(&hash))?;
        }
        progress(verifier.next_seq());
    }
    let mut after: Option<Hash> = None;
    loop {
        let page = store.cas_page(after.as_ref(), OBJECT_PAGE_ITEMS)?;
        let Some((last, _)) = page.last() else {
            break;
        };
        after = Some(*last);
        for (hash, bytes) in &page {
            verifier.object(hash, bytes)?;
        }
    }
    let report = verifier.finish()?;
    if report.head != head {
        return Err(unverified(
            Place::World,
            "the store's head is not the last record",
        ));
    }
    Ok(report)
}

/// Verifies the world in `dir` (holding its lock, so it must not be running).
pub fn verify_world(
    dir: &std::path::Path,
    expected_did: Option<&str>,
    progress: &mut dyn FnMut(u64),
) -> Result<VerifyReport> {
    let (_lock, store) = crate::world::open_store(dir)?;
    verify_store(&store, Verifier::new(expected_did), progress)
}
