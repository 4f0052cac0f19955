//! Checkpoints: signed links of a world's lineage (FORMATS.md "Checkpoint").
//!
//! A checkpoint binds the journal's head, the state root and the manifest in force to the world
//! key, and names the previous checkpoint, so the signed links chain back to genesis.

use worldline_air::Hash;

use crate::identity::{self, WorldKey};
use crate::record::CheckpointBody;
use crate::record::codec::MapBuilder;

/// Domain tag of checkpoint signatures.
pub const CHECKPOINT_SIGNATURE_TAG: &[u8] = b"worldline/checkpoint/v1";

/// What a checkpoint covers, before it is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointClaim<'a> {
    /// The world's DID.
    pub did: &'a str,
    /// Seq of the last record covered.
    pub height: u64,
    /// That record's chain hash.
    pub head_record_hash: Hash,
    /// Root over all reducer and cell states at that height.
    pub state_root: Hash,
    /// The manifest in force.
    pub manifest_hash: Hash,
    /// The previous checkpoint's hash ([`Hash::ZERO`] for the first).
    pub prev_checkpoint_hash: Hash,
}

impl CheckpointClaim<'_> {
    /// The canonical payload: `{did, height, head_record_hash, state_root, manifest_hash,
    /// prev_checkpoint_hash}` with the self-describe tag.
    pub fn payload(&self) -> Vec<u8> {
        let mut map = MapBuilder::new();
        map.text("did", self.did);
        map.uint("height", self.height);
        map.hash("head_record_hash", &self.head_record_hash);
        map.hash("state_root", &self.state_root);
        map.hash("manifest_hash", &self.manifest_hash);
        map.hash("prev_checkpoint_hash", &self.prev_checkpoint_hash);
        map.finish_tagged()
    }

    /// The checkpoint's hash: SHA-256 of its payload. The next checkpoint names it.
    pub fn hash(&self) -> Hash {
        Hash::of(&self.payload())
    }

    /// Signs the claim with the world key.
    pub fn sign(&self, key: &WorldKey) -> CheckpointBody {
        CheckpointBody {
            height: self.height,
            head_record_hash: self.head_record_hash,
            state_root: self.state_root,
            manifest_hash: self.manifest_hash,
            prev_checkpoint_hash: self.prev_checkpoint_hash,
            signature: key.sign(CHECKPOINT_SIGNATURE_TAG, &self.payload()).to_vec(),
        }
    }
}

/// The claim a journaled checkpoint makes for the world `did`.
pub fn claim_of<'a>(did: &'a str, body: &CheckpointBody) -> CheckpointClaim<'a> {
    CheckpointClaim {
        did,
        height: body.height,
        head_record_hash: body.head_record_hash,
        state_root: body.state_root,
        manifest_hash: body.manifest_hash,
        prev_checkpoint_hash: body.prev_checkpoint_hash,
    }
}

/// True when the checkpoint's signature verifies under the world key `public`.
pub fn signature_holds(public: &[u8; 32], did: &str, body: &CheckpointBody) -> bool {
    identity::verify(
        public,
        CHECKPOINT_SIGNATURE_TAG,
        &claim_of(did, body).payload(),
        &body.signature,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_every_field_is_covered() {
        let key = WorldKey::from_seed([7; 32]);
        let did = key.did();
        let claim = CheckpointClaim {
            did: &did,
            height: 41,
            head_record_hash: Hash::of(b"head"),
            state_root: Hash::of(b"root"),
            manifest_hash: Hash::of(b"manifest"),
            prev_checkpoint_hash: Hash::ZERO,
        };
        let body = claim.sign(&key);
        assert!(signature_holds(&key.public(), &did, &body));
        let other = WorldKey::from_seed([8; 32]);
        assert!(!signature_holds(&other.public(), &did, &body));
        assert!(!signature_holds(&key.public(), &other.did(), &body));
        let changes: [fn(&mut CheckpointBody); 5] = [
            |b| b.height += 1,
            |b| b.head_record_hash = Hash::ZERO,
            |b| b.state_root = Hash::ZERO,
            |b| b.manifest_hash = Hash::ZERO,
            |b| b.prev_checkpoint_hash = Hash::of(b"x"),
        ];
        for change in changes {
            let mut changed = body.clone();
            change(&mut changed);
            assert!(!signature_holds(&key.public(), &did, &changed));
        }
        assert_ne!(claim.hash(), claim_of(&other.did(), &body).hash());
    }
}
