//! Adapter signing keys: one Ed25519 key per adapter, kept beside the world
//! (`.world/adapters/<id>.key`, mode 0600) so receipts after a restart verify under the key the
//! journal registered.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use worldline_kernel::effects::receipt::{RECEIPT_SIGNATURE_TAG, signing_bytes};
use worldline_kernel::identity::WorldKey;
use worldline_kernel::record::ReceiptBody;
use worldline_kernel::world::WORLD_DIR;

use crate::error::AdapterError;

/// Prefix of a key file's one line.
const SEED_PREFIX: &str = "ed25519-seed:";

/// An adapter's identity and signing key.
pub struct AdapterSigner {
    id: String,
    key: WorldKey,
}

impl std::fmt::Debug for AdapterSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        write!(f, "AdapterSigner({})", self.id)
    }
}

impl AdapterSigner {
    /// A signer from a 32-byte seed.
    pub fn from_seed(id: &str, seed: [u8; 32]) -> AdapterSigner {
        AdapterSigner {
            id: id.to_owned(),
            key: WorldKey::from_seed(seed),
        }
    }

    /// The adapter's key for the world in `world_dir`: read from its key file, or created there.
    pub fn load_or_create(world_dir: &Path, id: &str) -> Result<AdapterSigner, AdapterError> {
        let path = key_path(world_dir, id);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let seed = text
                    .trim()
                    .strip_prefix(SEED_PREFIX)
                    .and_then(worldline_air::cbor::from_hex)
                    .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                    .ok_or_else(|| AdapterError::Key {
                        path: path.display().to_string(),
                        reason: format!("expected one line `{SEED_PREFIX}<64 hex digits>`"),
                    })?;
                Ok(AdapterSigner::from_seed(id, seed))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let seed = crate::clock::entropy()?;
                write_key(&path, &seed)?;
                Ok(AdapterSigner::from_seed(id, seed))
            }
            Err(e) => Err(AdapterError::io(&path, e)),
        }
    }

    /// The adapter's id (`timer`, `blob`, `http`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The public key the journal registers.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.public()
    }

    /// Signs a receipt in place (its `signature` is overwritten).
    pub fn sign(&self, receipt: &mut ReceiptBody) {
        receipt.adapter_id = self.id.clone();
        receipt.signature = self
            .key
            .sign(RECEIPT_SIGNATURE_TAG, &signing_bytes(receipt))
            .to_vec();
    }
}

fn key_path(world_dir: &Path, id: &str) -> PathBuf {
    world_dir
        .join(WORLD_DIR)
        .join("adapters")
        .join(format!("{id}.key"))
}

fn write_key(path: &Path, seed: &[u8; 32]) -> Result<(), AdapterError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| AdapterError::io(parent, e))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| AdapterError::io(path, e))?;
    let hex = worldline_air::cbor::to_hex(seed);
    file.write_all(format!("{SEED_PREFIX}{hex}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| AdapterError::io(path, e))
}
