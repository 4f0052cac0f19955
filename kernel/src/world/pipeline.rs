//! Large submits: the store's commit of one chunk of inputs runs on a second thread while the
//! stepper steps the next chunk, so the two cores of a small machine both work on a batch.
//!
//! A submit of more than [`CHUNK_INPUTS`] inputs is cut into chunks at input boundaries (an
//! input's records never span two chunks). Every chunk but the last is committed without
//! waiting for the disk; the last with the durability asked for, which (redb's promise) makes
//! every earlier commit durable too. The submit returns once that last commit is done, so an
//! acknowledgement still means durable, as with a single commit.
//!
//! If a commit or a step fails before anything was written, the world rolls back as after a
//! failed single commit. If it fails after some chunk was written, memory is ahead of the store
//! and cannot be rolled back to it: the world is poisoned and refuses everything until it is
//! opened again, which rebuilds it from the store (whose journal ends at a chunk boundary).

use std::sync::mpsc::sync_channel;

use super::checkpoint::checkpoint_if_due;
use super::sink::{LiveSink, Sink};
use super::{World, note_manifest};
use crate::Ingress;
use crate::error::{KernelError, Result};
use crate::record::RecordBody;
use crate::store::{Batch, Store};

/// Inputs per chunk: small enough that the last chunk's commit (the one nothing overlaps)
/// is short, large enough that a chunk's commit costs more than a thread hand-off.
pub const CHUNK_INPUTS: usize = 128;
/// Chunks waiting for the writer at most (the stepper waits when it is this far ahead).
const WRITER_QUEUE_MAX: usize = 2;

/// Inputs of one submit: a record body, its causes and its ingress.
type Inputs = Vec<(RecordBody, Vec<u64>, Ingress)>;

impl World {
    /// [`World::append_inputs`] for more than [`CHUNK_INPUTS`] inputs with no CAS objects,
    /// stepping one chunk while the previous one commits.
    pub(super) fn append_pipelined(
        &mut self,
        inputs: Inputs,
        durable: bool,
    ) -> Result<Vec<Vec<u64>>> {
        let World {
            store,
            stepper,
            key,
            head,
            ..
        } = self;
        let mut sink = LiveSink::new(head.seq + 1, head.hash);
        stepper.begin();
        let manifest_before = stepper.plane().manifest_hash();
        let chunks = inputs.len().div_ceil(CHUNK_INPUTS);
        let mut inputs = inputs.into_iter();
        let (processed, written) = std::thread::scope(|scope| {
            let (to_writer, batches) = sync_channel::<(Batch, u64, bool)>(WRITER_QUEUE_MAX);
            // Written batches go back to be freed where they were allocated: glibc frees a
            // block from another thread's arena under that arena's lock, which the stepper's
            // thread would then wait for on every allocation.
            let (to_free, written_batches) = std::sync::mpsc::channel::<Batch>();
            let writer = scope.spawn(move || {
                // What the finished commits wrote: the last seq of the last one, if any.
                let mut written_through = None;
                for (batch, last_seq, durable) in batches {
                    store
                        .commit(&batch, durable)
                        .map_err(|e| (written_through, e))?;
                    if !durable {
                        // The last commit's flush then finds most of the batch on disk already.
                        store.write_behind();
                    }
                    written_through = Some(last_seq);
                    let _ = to_free.send(batch);
                }
                Ok(written_through)
            });
            let mut process = || -> Result<Vec<Vec<u64>>> {
                let mut appended = Vec::new();
                for chunk in 0..chunks {
                    let last = chunk + 1 == chunks;
                    let part: Inputs = inputs.by_ref().take(CHUNK_INPUTS).collect();
                    appended.extend(World::process_inputs(stepper, part, &mut sink)?);
                    if last {
                        checkpoint_if_due(stepper, key.as_ref(), &mut sink)?;
                        note_manifest(stepper, manifest_before, &mut sink);
                    }
                    let batch = std::mem::take(&mut sink.batch);
                    let last_seq = sink.next_seq() - 1;
                    // A writer that hung up has failed; its error comes back from the join.
                    if to_writer.send((batch, last_seq, durable && last)).is_err() {
                        break;
                    }
                    written_batches.try_iter().for_each(drop);
                }
                Ok(appended)
            };
            let processed = process();
            drop(to_writer);
            let written = writer.join().unwrap_or_else(|_| {
                let panicked = KernelError::Storage("the store's writer thread panicked".into());
                Err((None, panicked))
            });
            written_batches.try_iter().for_each(drop);
            (processed, written)
        });
        match (processed, written) {
            (Ok(appended), Ok(_)) => {
                self.batch_committed(&sink, durable);
                Ok(appended)
            }
            (Err(error), Ok(None)) | (_, Err((None, error))) => {
                // Nothing reached the store: the world is as it was.
                self.stepper.rollback();
                Err(error)
            }
            (Err(error), Ok(Some(written_through))) | (_, Err((Some(written_through), error))) => {
                let poisoned = KernelError::Poisoned {
                    written_through,
                    reason: error.to_string(),
                };
                self.poisoned = Some(poisoned.to_string());
                Err(poisoned)
            }
        }
    }
}
