//! Reading a bundle: verification (every frame, in order, through the same [`Verifier`] a
//! world's store goes through) and import (verify the whole file first, then write the world
//! while verifying again, into a folder that becomes the world only once all of it is in).

use std::io::Read;
use std::path::Path;

use worldline_air::Hash;

use super::frame::{Frame, FrameReader, decode_header, decode_key, encode_end};
use super::{BundleHeader, Progress, kind};
use crate::error::{KernelError, Result};
use crate::identity::WorldKey;
use crate::lineage::verify::{Place, Verifier, VerifyReport, unverified};
use crate::record::{Record, RecordBody};
use crate::world::{World, WorldWriter};

/// What reading a bundle found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleReport {
    /// Its header (every claim checked).
    pub header: BundleHeader,
    /// The lineage it holds.
    pub verify: VerifyReport,
    /// Bytes read.
    pub bytes: u64,
}

/// One verified item, handed to whoever writes the world.
enum Item<'a> {
    Record(&'a Record, &'a [u8], Hash),
    Object(Hash, &'a [u8]),
    Key([u8; 32]),
}

fn at_frame(frame: &Frame, reason: impl Into<String>) -> KernelError {
    let what = match frame.kind {
        kind::HEADER => "header",
        kind::RECORD => "record frame",
        kind::OBJECT => "object frame",
        kind::KEY => "key frame",
        kind::END => "end frame",
        _ => "frame",
    };
    unverified(
        Place::Bundle(format!("{what} at byte {}", frame.offset)),
        reason,
    )
}

/// Reads and checks a whole bundle, handing each item to `each` once it has been checked.
fn read_bundle(
    input: &mut dyn Read,
    expected_did: Option<&str>,
    pass: u8,
    progress: &mut dyn FnMut(Progress),
    each: &mut dyn FnMut(Item<'_>) -> Result<()>,
) -> Result<BundleReport> {
    let mut reader = FrameReader::start(input)?;
    let first = reader
        .next()?
        .ok_or_else(|| unverified(Place::Bundle("header".into()), "is missing"))?;
    if first.kind != kind::HEADER {
        return Err(at_frame(
            &first,
            "the bundle does not start with its header",
        ));
    }
    let header = decode_header(&first.body)?;
    let mut verifier = Verifier::new(Some(expected_did.unwrap_or(&header.did)));
    let records_total = header.height.saturating_add(1);
    let (mut objects, mut key_seen) = (0u64, false);
    let end = loop {
        let frame = reader.next()?.ok_or_else(|| {
            unverified(
                Place::Bundle("end".into()),
                "is missing (the file is cut short)",
            )
        })?;
        match frame.kind {
            kind::RECORD if objects == 0 && !key_seen => {
                if verifier.next_seq() > header.height {
                    return Err(at_frame(
                        &frame,
                        "a record beyond the height the header claims",
                    ));
                }
                let hash_before = verifier.head_hash();
                let record = verifier.record(&frame.body, None)?;
                let hash = crate::record::chain_hash(&hash_before, &frame.body);
                each(Item::Record(&record, &frame.body, hash))?;
                if verifier.next_seq().is_multiple_of(1024) || verifier.next_seq() == records_total
                {
                    progress(Progress {
                        records: verifier.next_seq(),
                        records_total,
                        bytes: reader.bytes,
                        pass,
                    });
                }
            }
            kind::OBJECT if !key_seen => {
                let (hash, bytes) = frame
                    .body
                    .split_first_chunk::<32>()
                    .ok_or_else(|| at_frame(&frame, "is shorter than a hash"))?;
                verifier.object(&Hash(*hash), bytes)?;
                each(Item::Object(Hash(*hash), bytes))?;
                objects += 1;
            }
            kind::KEY if !key_seen => {
                let seed = decode_key(&frame.body)?;
                if WorldKey::from_seed(seed).did() != header.did {
                    return Err(at_frame(
                        &frame,
                        format!("the key is not the key of {}", header.did),
                    ));
                }
                key_seen = true;
                each(Item::Key(seed))?;
            }
            kind::END => break frame,
            other => {
                return Err(at_frame(
                    &frame,
                    format!("a frame of kind {other:#04x} is not allowed here"),
                ));
            }
        }
    };
    check_end(&end, &verifier, objects)?;
    if reader.next()?.is_some() {
        return Err(unverified(
            Place::Bundle(format!("byte {}", reader.bytes)),
            "bytes follow the end frame",
        ));
    }
    let verify = verifier.finish()?;
    check_header(&header, &verify, key_seen)?;
    Ok(BundleReport {
        header,
        verify,
        bytes: reader.bytes,
    })
}

/// The end frame must be exactly what the bundle held.
fn check_end(end: &Frame, verifier: &Verifier, objects: u64) -> Result<()> {
    if end.body != encode_end(verifier.next_seq(), objects, &end.digest_before) {
        return Err(at_frame(
            end,
            "does not match the bundle (record or object count, or the digest of its bytes)",
        ));
    }
    Ok(())
}

/// Every claim of the header must be what the content showed.
fn check_header(header: &BundleHeader, verify: &VerifyReport, key_seen: bool) -> Result<()> {
    let claims = [
        ("did", header.did == verify.did),
        ("height", header.height == verify.head.seq),
        ("head_hash", header.head_hash == verify.head.hash),
        (
            "manifest_hash",
            header.manifest_hash == verify.manifest_hash,
        ),
        (
            "last_checkpoint",
            header.last_checkpoint == verify.last_checkpoint,
        ),
        ("parent", header.parent == verify.parent),
        ("with_key", header.with_key == key_seen),
    ];
    match claims.iter().find(|(_, holds)| !holds) {
        Some((field, _)) => Err(unverified(
            Place::Bundle("header".into()),
            format!("its `{field}` is not what the bundle holds"),
        )),
        None => Ok(()),
    }
}

/// Verifies a bundle without writing anything.
pub fn verify_bundle(
    input: &mut dyn Read,
    expected_did: Option<&str>,
    progress: &mut dyn FnMut(Progress),
) -> Result<BundleReport> {
    read_bundle(input, expected_did, 1, progress, &mut |_| Ok(()))
}

/// Imports a bundle as a new world in `dir`: `open` is called twice, for a first pass that
/// verifies everything and a second that writes the world (verifying again, in case the file
/// changed in between). The world appears in `dir` only when it is complete and opens; on any
/// failure nothing is left behind. Returns the report and the world, open.
pub fn import(
    open: &mut dyn FnMut() -> Result<Box<dyn Read>>,
    dir: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<(BundleReport, World)> {
    WorldWriter::check_target(dir)?;
    let first = read_bundle(&mut *open()?, None, 1, progress, &mut |_| Ok(()))?;
    let mut writer = WorldWriter::start(dir)?;
    let mut last_snapshot: Option<u64> = None;
    let second = read_bundle(
        &mut *open()?,
        Some(&first.header.did),
        2,
        progress,
        &mut |item| match item {
            Item::Record(record, bytes, hash) => {
                if matches!(record.body, RecordBody::SnapshotPointer { .. }) {
                    last_snapshot = Some(record.seq);
                }
                writer.record(record, bytes, hash)
            }
            Item::Object(hash, bytes) => writer.object(hash, bytes),
            Item::Key(seed) => writer.key(seed),
        },
    );
    let finished = second.and_then(|second| {
        if second != first {
            return Err(KernelError::Rejected(
                "the bundle changed between the two passes of the import".into(),
            ));
        }
        writer.finish(second.verify.manifest_hash, last_snapshot)?;
        Ok(second)
    });
    match finished {
        Ok(report) => match World::open(dir) {
            Ok(world) => Ok((report, world)),
            Err(error) => {
                WorldWriter::remove(dir);
                Err(error)
            }
        },
        Err(error) => Err(error),
    }
}

/// Reads only a bundle's header (its claims, unverified: `inspect`).
pub fn read_header(input: &mut dyn Read) -> Result<BundleHeader> {
    let mut reader = FrameReader::start(input)?;
    match reader.next()? {
        Some(frame) if frame.kind == kind::HEADER => decode_header(&frame.body),
        Some(frame) => Err(at_frame(
            &frame,
            "the bundle does not start with its header",
        )),
        None => Err(unverified(Place::Bundle("header".into()), "is missing")),
    }
}
