//! Writing a world from verified parts (an import): into a side folder that becomes the world's
//! `.world` only once everything is in and durable, so a failed import leaves nothing behind.

use std::path::{Path, PathBuf};

use worldline_air::Hash;

use super::checkpoint::write_key_file;
use super::sink::index_entries;
use super::{META_MANIFEST, META_SNAPSHOT, WORLD_DIR, world_files};
use crate::error::{KernelError, Result};
use crate::failpoint;
use crate::identity::WorldKey;
use crate::record::Record;
use crate::store::{Batch, RedbStore, Store, WorldLock};

/// The side folder an import writes into.
const IMPORT_DIR: &str = ".world-import";
/// Records per commit while importing.
const BATCH_RECORDS_MAX: usize = 4096;
/// Object bytes per commit while importing.
const BATCH_OBJECT_BYTES_MAX: usize = 16 << 20;

/// A world being written from verified parts.
pub(crate) struct WorldWriter {
    dir: PathBuf,
    temp: PathBuf,
    parts: Option<(WorldLock, RedbStore)>,
    batch: Batch,
    batch_object_bytes: usize,
    done: bool,
}

impl WorldWriter {
    /// Fails unless a world can be written into `dir` (it must not be one already).
    pub fn check_target(dir: &Path) -> Result<()> {
        if dir.join(WORLD_DIR).exists() {
            return Err(KernelError::NotAWorld {
                path: dir.display().to_string(),
                reason: "is already a world (it has a .world folder)".into(),
            });
        }
        Ok(())
    }

    /// Starts writing into the side folder of `dir`.
    pub fn start(dir: &Path) -> Result<WorldWriter> {
        WorldWriter::check_target(dir)?;
        let temp = dir.join(IMPORT_DIR);
        if temp.exists() {
            // A previous import that died before it finished; its lock says if it still runs.
            WorldLock::acquire(&temp.join("lock"))?;
            std::fs::remove_dir_all(&temp).map_err(|e| KernelError::io(&temp, e))?;
        }
        std::fs::create_dir_all(&temp).map_err(|e| KernelError::io(&temp, e))?;
        let mut writer = WorldWriter {
            dir: dir.to_path_buf(),
            temp: temp.clone(),
            parts: None,
            batch: Batch::default(),
            batch_object_bytes: 0,
            done: false,
        };
        let lock = WorldLock::acquire(&temp.join("lock"))?;
        let store = RedbStore::open(&temp.join("world.redb"))?;
        writer.parts = Some((lock, store));
        failpoint::hit(failpoint::IMPORT_START);
        Ok(writer)
    }

    fn commit(&mut self, durable: bool) -> Result<()> {
        let batch = std::mem::take(&mut self.batch);
        self.batch_object_bytes = 0;
        match &mut self.parts {
            Some((_, store)) => store.commit(&batch, durable),
            None => Err(KernelError::Storage("the import's store is closed".into())),
        }
    }

    /// Adds a verified record with its chain hash.
    pub fn record(&mut self, record: &Record, bytes: &[u8], hash: Hash) -> Result<()> {
        failpoint::hit(failpoint::IMPORT_ITEM);
        self.batch.index.extend(index_entries(record));
        self.batch.records.push((record.seq, bytes.to_vec(), hash));
        if self.batch.records.len() >= BATCH_RECORDS_MAX {
            self.commit(false)?;
        }
        Ok(())
    }

    /// Adds a verified CAS object.
    pub fn object(&mut self, hash: Hash, bytes: &[u8]) -> Result<()> {
        failpoint::hit(failpoint::IMPORT_ITEM);
        self.batch_object_bytes += bytes.len();
        self.batch.cas.push((hash, bytes.to_vec()));
        if self.batch_object_bytes >= BATCH_OBJECT_BYTES_MAX {
            self.commit(false)?;
        }
        Ok(())
    }

    /// Writes the world key (verified against the DID by the caller).
    pub fn key(&mut self, seed: [u8; 32]) -> Result<()> {
        failpoint::hit(failpoint::IMPORT_ITEM);
        write_key_file(&self.temp.join("key"), &WorldKey::from_seed(seed))
    }

    /// Writes the metadata, commits durably and moves the side folder into place.
    pub fn finish(&mut self, manifest_hash: Hash, last_snapshot: Option<u64>) -> Result<()> {
        self.batch
            .meta
            .push((META_MANIFEST.to_owned(), manifest_hash.as_bytes().to_vec()));
        // Every record went through `index_entries`: the why indexes cover the whole journal.
        self.batch.meta.push(crate::why::index_from_meta(0));
        if let Some(seq) = last_snapshot {
            self.batch
                .meta
                .push((META_SNAPSHOT.to_owned(), seq.to_be_bytes().to_vec()));
        }
        self.commit(true)?;
        self.parts = None;
        failpoint::hit(failpoint::IMPORT_RENAME_BEFORE);
        let world_dir = world_files(&self.dir).3;
        std::fs::rename(&self.temp, &world_dir).map_err(|e| KernelError::io(&world_dir, e))?;
        self.done = true;
        super::create::sync_dir(&self.dir)?;
        failpoint::hit(failpoint::IMPORT_RENAME_AFTER);
        Ok(())
    }

    /// Removes a world that was written but does not open.
    pub fn remove(dir: &Path) {
        let _ = std::fs::remove_dir_all(dir.join(WORLD_DIR));
    }
}

impl Drop for WorldWriter {
    fn drop(&mut self) {
        if !self.done {
            self.parts = None;
            let _ = std::fs::remove_dir_all(&self.temp);
        }
    }
}
