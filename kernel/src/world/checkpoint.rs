//! The world key on disk and the checkpoints the live world writes with it.
//!
//! A checkpoint is written when the journal has grown by `snapshot_every` records since the
//! last one (in the same commit as the inputs that crossed the mark), and on request (clean
//! shutdown, before export). A world whose key did not travel with it writes none.

use std::path::Path;

use super::World;
use super::sink::{LiveSink, Sink};
use super::stepper::Stepper;
use crate::error::{KernelError, Result};
use crate::identity::WorldKey;
use crate::store::{Head, Store as _};

/// The key file's line: `ed25519-seed:<64 hex digits>`.
const KEY_FILE_PREFIX: &str = "ed25519-seed:";

/// Writes the world key (mode 0600, never over an existing file).
pub(crate) fn write_key_file(path: &Path, key: &WorldKey) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| KernelError::io(path, e))?;
    let hex = worldline_air::cbor::to_hex(&key.seed());
    file.write_all(format!("{KEY_FILE_PREFIX}{hex}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| KernelError::io(path, e))
}

/// A key from its file's text: one `ed25519-seed:<64 hex digits>` line.
pub(crate) fn parse_key_line(text: &str) -> Option<WorldKey> {
    let seed: [u8; 32] = text
        .trim()
        .strip_prefix(KEY_FILE_PREFIX)
        .and_then(worldline_air::cbor::from_hex)
        .and_then(|bytes| bytes.try_into().ok())?;
    Some(WorldKey::from_seed(seed))
}

/// Reads the world key if the file exists; it must be the key of `did`.
pub(crate) fn read_key_file(path: &Path, did: &str) -> Result<Option<WorldKey>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(KernelError::io(path, e)),
    };
    let bad = |why: &str| KernelError::Corrupt(format!("{}: {why}", path.display()));
    let key =
        parse_key_line(&text).ok_or_else(|| bad("not an `ed25519-seed:` line of 64 hex digits"))?;
    if key.did() != did {
        return Err(bad(&format!("the key is not the key of {did}")));
    }
    Ok(Some(key))
}

impl World {
    /// True when this host holds the world key (and so can sign checkpoints).
    pub fn can_sign(&self) -> bool {
        self.key.is_some()
    }

    /// The world key, when this host has it.
    pub(crate) fn key(&self) -> Option<&WorldKey> {
        self.key.as_ref()
    }

    /// Height and hash of the last checkpoint.
    pub fn last_checkpoint(&self) -> Option<(u64, worldline_air::Hash)> {
        self.stepper.last_checkpoint()
    }

    /// Signs a checkpoint of the head in its own durable commit, unless the head already is
    /// one. Returns its seq, or `None` when nothing was written (no key, or nothing new).
    pub fn checkpoint(&mut self) -> Result<Option<u64>> {
        let Some(key) = &self.key else {
            return Ok(None);
        };
        let head_is_checkpoint = self
            .stepper
            .last_checkpoint()
            .is_some_and(|(height, _)| height + 1 == self.head.seq);
        if head_is_checkpoint {
            return Ok(None);
        }
        let mut sink = LiveSink::new(self.head.seq + 1, self.head.hash);
        self.stepper.begin();
        let outcome = self.stepper.checkpoint(key, &mut sink).and_then(|seq| {
            let batch = std::mem::take(&mut sink.batch);
            self.store.commit(&batch, true).map(|()| seq)
        });
        match outcome {
            Ok(seq) => {
                self.stepper.commit();
                self.head = Head {
                    seq,
                    hash: sink.prev_hash(),
                };
                Ok(Some(seq))
            }
            Err(error) => {
                self.stepper.rollback();
                Err(error)
            }
        }
    }

    /// Appends a checkpoint to the batch when `snapshot_every` records have been written since
    /// the last one (or since genesis).
    pub(super) fn checkpoint_if_due(&mut self, sink: &mut LiveSink) -> Result<()> {
        checkpoint_if_due(&mut self.stepper, self.key.as_ref(), sink)
    }
}

/// [`World::checkpoint_if_due`] on the parts of a world it needs, for callers that lend the
/// store elsewhere meanwhile (the pipelined submit).
pub(super) fn checkpoint_if_due(
    stepper: &mut Stepper,
    key: Option<&WorldKey>,
    sink: &mut LiveSink,
) -> Result<()> {
    let Some(key) = key else {
        return Ok(());
    };
    let since = stepper.last_checkpoint().map_or(0, |(height, _)| height);
    let height = sink.next_seq().saturating_sub(1);
    if height.saturating_sub(since) >= stepper.config().snapshot_every {
        stepper.checkpoint(key, sink)?;
    }
    Ok(())
}
