//! Frames on the wire, with a running SHA-256 over every byte and the byte offset of each
//! frame for error messages.

use std::io::{Read, Write};

use sha2::{Digest, Sha256};
use worldline_air::Hash;

use super::{BundleHeader, FORMAT, FRAME_BYTES_MAX, MAGIC};
use crate::error::{KernelError, Result};
use crate::lineage::verify::{Place, unverified};
use crate::record::ParentWorld;
use crate::record::codec::{MapBuilder, MapReader, decode};

/// Writes frames, hashing what it writes.
pub(crate) struct FrameWriter<'w> {
    out: &'w mut dyn Write,
    digest: Sha256,
    /// Bytes written.
    pub bytes: u64,
}

impl<'w> FrameWriter<'w> {
    /// Starts a bundle: writes the magic.
    pub fn start(out: &'w mut dyn Write) -> Result<FrameWriter<'w>> {
        let mut writer = FrameWriter {
            out,
            digest: Sha256::new(),
            bytes: 0,
        };
        writer.raw(MAGIC)?;
        Ok(writer)
    }

    fn raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.out
            .write_all(bytes)
            .map_err(|e| KernelError::io("bundle", e))?;
        self.digest.update(bytes);
        self.bytes += bytes.len() as u64;
        Ok(())
    }

    /// Writes one frame whose body is the concatenation of `parts`.
    pub fn frame(&mut self, kind: u8, parts: &[&[u8]]) -> Result<()> {
        let length: usize = parts.iter().map(|p| p.len()).sum();
        let length = u32::try_from(length)
            .ok()
            .filter(|&l| l <= FRAME_BYTES_MAX)
            .ok_or_else(|| {
                KernelError::Rejected(format!(
                    "an item of {length} bytes is larger than a bundle frame may be ({FRAME_BYTES_MAX} bytes)"
                ))
            })?;
        self.raw(&[kind])?;
        self.raw(&length.to_be_bytes())?;
        for part in parts {
            self.raw(part)?;
        }
        Ok(())
    }

    /// The SHA-256 of everything written so far.
    pub fn digest(&self) -> Hash {
        Hash(self.digest.clone().finalize().into())
    }

    /// Flushes the output.
    pub fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(|e| KernelError::io("bundle", e))
    }
}

/// One frame read back.
pub(crate) struct Frame {
    /// Its kind byte.
    pub kind: u8,
    /// Byte offset of its kind byte in the file.
    pub offset: u64,
    /// Its body.
    pub body: Vec<u8>,
    /// For an end frame, the SHA-256 of every byte before it (else zero).
    pub digest_before: Hash,
}

/// Reads frames, hashing what it reads.
pub(crate) struct FrameReader<'r> {
    input: &'r mut dyn Read,
    digest: Sha256,
    /// Bytes read.
    pub bytes: u64,
}

impl<'r> FrameReader<'r> {
    /// Starts reading a bundle: checks the magic.
    pub fn start(input: &'r mut dyn Read) -> Result<FrameReader<'r>> {
        let mut reader = FrameReader {
            input,
            digest: Sha256::new(),
            bytes: 0,
        };
        let mut magic = [0u8; 8];
        if !reader.fill(&mut magic)? || magic != *MAGIC {
            return Err(unverified(
                Place::Bundle("start".into()),
                "is not a Worldline bundle (bad magic)",
            ));
        }
        Ok(reader)
    }

    /// Reads exactly `buf.len()` bytes; `false` at a clean end of file before the first byte.
    fn fill(&mut self, buf: &mut [u8]) -> Result<bool> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.input.read(&mut buf[filled..]) {
                Ok(0) if filled == 0 => return Ok(false),
                Ok(0) => {
                    return Err(unverified(
                        Place::Bundle(format!("byte {}", self.bytes + filled as u64)),
                        "the file ends in the middle of a frame",
                    ));
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(KernelError::io("bundle", e)),
            }
        }
        self.digest.update(&*buf);
        self.bytes += buf.len() as u64;
        Ok(true)
    }

    /// The next frame, or `None` at the end of the file.
    pub fn next(&mut self) -> Result<Option<Frame>> {
        let offset = self.bytes;
        let before = self.digest.clone();
        let mut head = [0u8; 5];
        if !self.fill(&mut head)? {
            return Ok(None);
        }
        let [kind, l0, l1, l2, l3] = head;
        let digest_before = if kind == super::kind::END {
            Hash(before.finalize().into())
        } else {
            Hash::ZERO
        };
        let length = u32::from_be_bytes([l0, l1, l2, l3]);
        if length > FRAME_BYTES_MAX {
            return Err(unverified(
                Place::Bundle(format!("frame at byte {offset}")),
                format!("claims {length} bytes, more than a frame may hold ({FRAME_BYTES_MAX})"),
            ));
        }
        let mut body = vec![0u8; length as usize];
        if length > 0 && !self.fill(&mut body)? {
            return Err(unverified(
                Place::Bundle(format!("frame at byte {offset}")),
                "the file ends in the middle of a frame",
            ));
        }
        Ok(Some(Frame {
            kind,
            offset,
            body,
            digest_before,
        }))
    }
}

/// The header's canonical bytes.
pub(crate) fn encode_header(header: &BundleHeader) -> Vec<u8> {
    let mut map = MapBuilder::new();
    map.text("format", FORMAT);
    map.text("did", &header.did);
    map.uint("height", header.height);
    map.hash("head_hash", &header.head_hash);
    map.hash("manifest_hash", &header.manifest_hash);
    if let Some((height, hash)) = header.last_checkpoint {
        let mut checkpoint = MapBuilder::new();
        checkpoint.uint("height", height);
        checkpoint.hash("hash", &hash);
        map.map("last_checkpoint", checkpoint);
    }
    if let Some(parent) = &header.parent {
        let mut p = MapBuilder::new();
        p.text("did", &parent.did);
        p.uint("height", parent.height);
        p.hash("head_hash", &parent.head_hash);
        p.hash("state_hash", &parent.state_hash);
        map.map("parent", p);
    }
    map.bool("with_key", header.with_key);
    map.finish()
}

/// Reads a header frame's body.
pub(crate) fn decode_header(body: &[u8]) -> Result<BundleHeader> {
    let at = |e: KernelError| unverified(Place::Bundle("header".into()), e.to_string());
    let item = decode(body, "bundle header").map_err(at)?;
    let map = MapReader::new(&item, "bundle header").map_err(at)?;
    let format = map.text("format").map_err(at)?;
    if format != FORMAT {
        return Err(unverified(
            Place::Bundle("header".into()),
            format!("format `{format}` is not {FORMAT}"),
        ));
    }
    let last_checkpoint = match map.opt_map("last_checkpoint").map_err(at)? {
        None => None,
        Some(c) => Some((c.uint("height").map_err(at)?, c.hash("hash").map_err(at)?)),
    };
    let parent = match map.opt_map("parent").map_err(at)? {
        None => None,
        Some(p) => Some(ParentWorld {
            did: p.text("did").map_err(at)?.to_owned(),
            height: p.uint("height").map_err(at)?,
            head_hash: p.hash("head_hash").map_err(at)?,
            state_hash: p.hash("state_hash").map_err(at)?,
        }),
    };
    let header = BundleHeader {
        did: map.text("did").map_err(at)?.to_owned(),
        height: map.uint("height").map_err(at)?,
        head_hash: map.hash("head_hash").map_err(at)?,
        manifest_hash: map.hash("manifest_hash").map_err(at)?,
        last_checkpoint,
        parent,
        with_key: map.bool("with_key").map_err(at)?,
    };
    if encode_header(&header) != body {
        return Err(unverified(
            Place::Bundle("header".into()),
            "is not in canonical form",
        ));
    }
    Ok(header)
}

/// The end frame's canonical bytes.
pub(crate) fn encode_end(records: u64, objects: u64, digest: &Hash) -> Vec<u8> {
    let mut map = MapBuilder::new();
    map.uint("records", records);
    map.uint("objects", objects);
    map.hash("digest", digest);
    map.finish()
}

/// The key frame's canonical bytes.
pub(crate) fn encode_key(seed: &[u8; 32]) -> Vec<u8> {
    let mut map = MapBuilder::new();
    map.bytes("seed", seed);
    map.finish()
}

/// Reads a key frame's seed.
pub(crate) fn decode_key(body: &[u8]) -> Result<[u8; 32]> {
    let at = |reason: String| unverified(Place::Bundle("key".into()), reason);
    let item = decode(body, "bundle key").map_err(|e| at(e.to_string()))?;
    let map = MapReader::new(&item, "bundle key").map_err(|e| at(e.to_string()))?;
    let seed = map.bytes("seed").map_err(|e| at(e.to_string()))?;
    let seed: [u8; 32] = seed
        .try_into()
        .map_err(|_| at("the seed is not 32 bytes".into()))?;
    if encode_key(&seed) != body {
        return Err(at("is not in canonical form".into()));
    }
    Ok(seed)
}
