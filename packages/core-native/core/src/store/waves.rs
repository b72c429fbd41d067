//! The store's side of a propagation wave: begin, resume after a phase of
//! the embedding, abort, and applying the wave's outputs as one log record.

use std::borrow::Cow;

use super::Store;
use crate::counters::{Counter, Histogram};
use crate::delta::{Delta, Payload};
use crate::error::{fail, Result};
use crate::log::record::RecordKind;
use crate::page::PageId;
use crate::propagation::{propagated, Outputs, Propagation, Recompute, WaveStep, WaveSummary};

/// A wave's outputs up to this many apply as one batch of deltas; more apply
/// one by one after one check, without a vector of deltas (72 bytes each) to
/// build, scan and drop: a million-page wave would fault in, write and read
/// 72 MB for it several times.
const BATCHED_OUTPUTS_MAX: usize = 4096;

impl Store {
    /// Sets (or with `None` removes) the recompute of a page.
    pub fn set_recompute(&mut self, child: PageId, recompute: Option<Recompute>) -> Result<()> {
        self.state.page(child)?;
        self.propagation.set_recompute(child, recompute);
        Ok(())
    }

    /// The propagation engine: registrations, the pending wave's plan, counters.
    pub fn propagation(&self) -> &Propagation {
        &self.propagation
    }

    /// Starts the wave of a commit that changed `changed` and runs it as far
    /// as it can (propagation/mod.rs): `WAVE_LIMIT` when it would visit more
    /// than `limit` pages, before anything is recomputed. `memory` is where a
    /// wave with recomputes of the embedding runs; `list_pages` asks for the
    /// changed pages in the summary.
    pub fn begin_wave(
        &mut self,
        changed: &[PageId],
        limit: usize,
        memory: Option<&mut [u8]>,
        list_pages: bool,
    ) -> Result<WaveStep> {
        self.propagation.begin(&self.state, changed, limit, list_pages)?;
        self.resume_wave(memory)
    }

    /// Runs the pending wave on after the embedding ran a phase (or with
    /// larger memory); at its end the outputs are applied as one batch with
    /// source `propagation`, one log record. On any error nothing of the wave
    /// is applied.
    pub fn resume_wave(&mut self, memory: Option<&mut [u8]>) -> Result<WaveStep> {
        let Store {
            state,
            journal,
            propagation,
        } = self;
        let step = propagation.advance(state, memory, |state, outputs: &Outputs<'_>, body| {
            let log_body = wave_log_body(outputs, body);
            if !outputs.checked() && outputs.count() <= BATCHED_OUTPUTS_MAX {
                let deltas: Vec<Delta<&[u8]>> = outputs
                    .iter()
                    .map(|(page_id, bytes)| propagated(page_id, bytes))
                    .collect();
                state.apply_batch(&deltas, || journal.log(RecordKind::Wave, log_body))?;
                journal.count_forms(&deltas);
                if let Some(durable) = journal.durable.as_mut() {
                    deltas.iter().for_each(|delta| durable.note_changed(delta.page_id));
                }
            } else {
                // Checked first, as a batch is: after the record is logged, every apply succeeds.
                if !outputs.checked() {
                    for (page_id, bytes) in outputs.iter() {
                        Payload::Dense(bytes).validate(page_id, state.page(page_id)?.size())?;
                    }
                }
                // Then applied one by one; the first apply logs the record of all of them. The
                // others cannot fail: each output was checked above, or computed in this call,
                // and what writing it allocates (device pages) is allocated before the log.
                state.prepare_outputs(outputs.iter().skip(1))?;
                let mut outputs_left = outputs.iter();
                if let Some((page_id, bytes)) = outputs_left.next() {
                    let first = propagated(page_id, bytes);
                    state.apply(&first, || journal.log(RecordKind::Wave, log_body))?;
                    journal.counters.add(Counter::DeltasDense, outputs.count() as f64);
                    journal
                        .durable
                        .iter_mut()
                        .for_each(|durable| durable.note_changed(page_id));
                }
                for (page_id, bytes) in outputs_left {
                    state.apply_checked_output(page_id, bytes)?;
                    journal
                        .durable
                        .iter_mut()
                        .for_each(|durable| durable.note_changed(page_id));
                }
            }
            Ok(())
        })?;
        if let WaveStep::Done(_) = step {
            let seconds = propagation.stats().last_wave.as_secs_f64();
            journal.counters.observe(Histogram::WaveSeconds, seconds);
        }
        Ok(step)
    }

    /// Ends the pending wave as failed (a recompute of the embedding failed).
    pub fn abort_wave(&mut self) {
        self.propagation.abort();
    }

    /// Runs a whole wave whose recomputes are all built-ins.
    pub fn propagate(&mut self, changed: &[PageId], limit: usize) -> Result<WaveSummary> {
        match self.begin_wave(changed, limit, None, false)? {
            WaveStep::Done(summary) => Ok(summary),
            _ => {
                self.abort_wave();
                fail!(
                    InvalidArgument,
                    "the wave of pages {changed:?} reaches recomputes of the embedding: run it with begin_wave"
                )
            }
        }
    }
}

/// The body of a wave's log record, written into `body` only when there is a log.
fn wave_log_body<'a>(outputs: &'a Outputs<'_>, body: &'a mut Vec<u8>) -> impl FnOnce() -> Cow<'a, [u8]> {
    move || {
        outputs.write_log_body(body);
        Cow::Borrowed(body.as_slice())
    }
}
