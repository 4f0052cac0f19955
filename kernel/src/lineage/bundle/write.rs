//! Export: a world, checkpointed at its head when this host holds its key, streamed into one
//! bundle a page at a time.

use std::collections::BTreeSet;
use std::io::Write;

use worldline_air::Hash;

use super::frame::{FrameWriter, encode_end, encode_header, encode_key};
use super::{BundleHeader, Progress, kind};
use crate::error::{KernelError, Result};
use crate::lineage::verify::Verifier;
use crate::store::Store;
use crate::world::World;

/// Records per page read from the store.
const RECORD_PAGE_ITEMS: usize = 1024;
/// Objects per page read from the store (they can be large).
const OBJECT_PAGE_ITEMS: usize = 64;

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportReport {
    /// The header it wrote.
    pub header: BundleHeader,
    /// Records written.
    pub records: u64,
    /// CAS objects written.
    pub objects: u64,
    /// Bytes written.
    pub bytes: u64,
    /// The seq of the checkpoint written before exporting, if one was.
    pub checkpoint_seq: Option<u64>,
}

/// Writes `world` as a bundle into `out`. When this host holds the key, a checkpoint of the head
/// is written first so the whole journal is covered by a signature; the key itself goes into the
/// bundle only when `with_key` is set (and the host has it).
///
/// What is written is checked as it is written (the same [`Verifier`] an import runs), so a
/// world whose store is damaged fails here rather than producing a bundle nobody can import.
pub fn export(
    world: &mut World,
    out: &mut dyn Write,
    with_key: bool,
    progress: &mut dyn FnMut(Progress),
) -> Result<ExportReport> {
    if with_key && !world.can_sign() {
        return Err(KernelError::Rejected(
            "--with-key: this host does not hold the world's key".into(),
        ));
    }
    let checkpoint_seq = world.checkpoint()?;
    let head = world.head();
    let store = world.store();
    let header = BundleHeader {
        did: world.did().to_owned(),
        height: head.seq,
        head_hash: head.hash,
        manifest_hash: world.plane().manifest_hash(),
        last_checkpoint: world.last_checkpoint(),
        parent: world.genesis()?.parent,
        with_key,
    };
    let mut writer = FrameWriter::start(out)?;
    writer.frame(kind::HEADER, &[&encode_header(&header)])?;
    let mut verifier = Verifier::new(Some(world.did()));
    while verifier.next_seq() <= head.seq {
        let page = store.records(verifier.next_seq(), RECORD_PAGE_ITEMS)?;
        if page.is_empty() {
            return Err(KernelError::Corrupt(format!(
                "record {} is missing from the store",
                verifier.next_seq()
            )));
        }
        for (_, bytes, hash) in page.iter().take_while(|(seq, _, _)| *seq <= head.seq) {
            verifier.record(bytes, Some(hash))?;
            writer.frame(kind::RECORD, &[bytes])?;
        }
        progress(Progress {
            records: verifier.next_seq(),
            records_total: head.seq + 1,
            bytes: writer.bytes,
            pass: 1,
        });
    }
    let objects = write_objects(store, &mut writer, &mut verifier)?;
    if with_key && let Some(key) = world.key() {
        writer.frame(kind::KEY, &[&encode_key(&key.seed())])?;
    }
    verifier.finish()?;
    let digest = writer.digest();
    writer.frame(kind::END, &[&encode_end(head.seq + 1, objects, &digest)])?;
    writer.flush()?;
    Ok(ExportReport {
        header,
        records: head.seq + 1,
        objects,
        bytes: writer.bytes,
        checkpoint_seq,
    })
}

/// Every CAS object but the compiled-artifact cache; returns how many were written.
fn write_objects(
    store: &dyn Store,
    writer: &mut FrameWriter<'_>,
    verifier: &mut Verifier,
) -> Result<u64> {
    // The compiled-artifact cache is machine code for this host only: never exported (an
    // importer compiles the modules itself, and must not run native code it was handed).
    let artifacts: BTreeSet<Hash> = store
        .meta_with_prefix(crate::world::META_ARTIFACT)?
        .into_iter()
        .filter_map(|(_, value)| <[u8; 32]>::try_from(value.as_slice()).ok().map(Hash))
        .collect();
    let mut written = 0;
    let mut after: Option<Hash> = None;
    loop {
        let page = store.cas_page(after.as_ref(), OBJECT_PAGE_ITEMS)?;
        let Some((last, _)) = page.last() else {
            return Ok(written);
        };
        after = Some(*last);
        for (hash, bytes) in page.iter().filter(|(hash, _)| !artifacts.contains(hash)) {
            verifier.object(hash, bytes)?;
            writer.frame(kind::OBJECT, &[hash.as_bytes(), bytes])?;
            written += 1;
        }
    }
}
