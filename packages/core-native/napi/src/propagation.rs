//! Waves: the core runs them (planning, the wave limit, built-ins, applying
//! the outputs, the counters); the bus runs its JavaScript recomputes when a
//! wave pauses at their phase, in the memory it passes on every call (the
//! begin and resume calls are direct calls: direct_calls.rs).
//!
//! That memory is `header | flags | staging` (the core's layout after the
//! header, `Plan` in core/src/propagation/plan.rs). The header holds two
//! f64s: the pending wave's plan id, and the bytes the wave needs (after
//! `NEED_MEMORY`) or the pages it changed (after `DONE`).

use mmsb_core::propagation::{Recompute, Transform, WaveStep};
use napi::bindgen_prelude::{Float64Array, Int32Array, Uint32Array, Uint8Array};
use napi_derive::napi;

use crate::convert::{fail, invalid, to_page_ids, to_u64, Result};
use crate::state::NativeState;

/// Bytes of the header before the core's memory.
const HEADER_BYTES: usize = 16;
/// `begin_wave` and `resume_wave`: the wave is over, its outputs applied.
const DONE: f64 = -1.0;
/// The memory passed is too small: pass at least the header's second number of bytes.
const NEED_MEMORY: f64 = -2.0;

/// What `begin_wave` and `resume_wave` answer: a number (a phase, `DONE` or
/// `NEED_MEMORY`), or the pages the wave changed.
pub(crate) enum WaveAnswer {
    Number(f64),
    Pages(Vec<f64>),
}

/// The plan of the pending wave, for the bus's JavaScript loop (positions
/// index the per-position arrays; see `Plan` in the core).
#[napi(object)]
pub struct WavePlan {
    pub id: f64,
    /// Per position: the page.
    pub pages: Float64Array,
    /// Per position: 0 not recomputed, 1 a built-in, 2 a JavaScript recompute.
    pub kinds: Uint8Array,
    /// Per position: 1 when a parent is a page of the commit.
    pub root_parents: Uint8Array,
    /// The parents of position `i` are entries `parentFirst[i]` to `parentFirst[i + 1]` of the next two.
    pub parent_first: Uint32Array,
    pub parent_pages: Float64Array,
    /// A parent's position, or -1 when the wave does not visit it.
    pub parent_positions: Int32Array,
    /// Per position: where its output is staged, from the start of the staging area, and its size.
    pub slots: Float64Array,
    pub sizes: Float64Array,
    /// Recomputed positions in the order they run; phase `k` is steps `phaseFirst[k]` to `phaseFirst[k + 1]`.
    pub steps: Uint32Array,
    pub phase_first: Uint32Array,
    /// Per phase: 1 when its recomputes are JavaScript's.
    pub phase_script: Uint8Array,
    /// Where the flags and the staging area start in the memory the bus passes.
    pub flags_at: f64,
    pub staging_at: f64,
    /// The bytes of memory the wave needs, header included.
    pub memory_bytes: f64,
}

/// The propagation counters, read in one call.
#[napi(object)]
pub struct PropagationCounters {
    pub waves: f64,
    pub recomputed: f64,
    pub changed: f64,
    pub cut_off: f64,
    pub failed: f64,
    pub largest_wave: f64,
    pub max_height: f64,
    pub last_wave_ms: f64,
}

#[napi]
impl NativeState {
    /// Sets a page's recompute: a built-in (`copy`, `concat`, `xor`), `script`
    /// (a JavaScript callback the bus runs), or none with `null`.
    #[napi]
    pub fn set_recompute(&mut self, child: f64, recompute: Option<String>) -> Result<()> {
        let recompute = match recompute.as_deref() {
            None => None,
            Some("script") => Some(Recompute::Script),
            Some(name) => Some(Recompute::Builtin(Transform::parse(name).map_err(fail)?)),
        };
        self.store
            .set_recompute(to_u64(child, "page id")?, recompute)
            .map_err(fail)
    }

    /// Ends the pending wave as failed: a JavaScript recompute failed.
    #[napi]
    pub fn abort_wave(&mut self) {
        self.store.abort_wave();
    }

    /// The plan of the pending wave.
    #[napi]
    pub fn wave_plan(&self) -> Result<WavePlan> {
        let Some(plan) = self.store.propagation().pending_plan() else {
            return Err(invalid("no wave is running".to_owned()));
        };
        let positions = 0..plan.len();
        let mut parent_first = vec![0u32];
        let mut parent_pages = Vec::new();
        let mut parent_positions = Vec::new();
        for position in positions.clone() {
            for (page, at) in plan.parents(position) {
                parent_pages.push(page as f64);
                parent_positions.push(at.map_or(-1, |at| at as i32));
            }
            parent_first
                .push(u32::try_from(parent_pages.len()).map_err(|_| invalid("a plan of too many edges".to_owned()))?);
        }
        let mut phase_first = vec![0u32];
        let mut phase_script = Vec::new();
        let mut steps = Vec::new();
        for phase in plan.phases() {
            steps.extend_from_slice(plan.steps(phase));
            phase_first.push(steps.len() as u32);
            phase_script.push(u8::from(phase.script));
        }
        Ok(WavePlan {
            id: plan.id() as f64,
            pages: positions
                .clone()
                .map(|position| plan.page(position) as f64)
                .collect::<Vec<_>>()
                .into(),
            kinds: positions
                .clone()
                .map(|position| match plan.recompute(position) {
                    None => 0,
                    Some(Recompute::Builtin(_)) => 1,
                    Some(Recompute::Script) => 2,
                })
                .collect::<Vec<u8>>()
                .into(),
            root_parents: positions
                .clone()
                .map(|position| u8::from(plan.root_parent(position)))
                .collect::<Vec<u8>>()
                .into(),
            parent_first: parent_first.into(),
            parent_pages: parent_pages.into(),
            parent_positions: parent_positions.into(),
            slots: positions
                .clone()
                .map(|position| plan.slot(position).start as f64)
                .collect::<Vec<_>>()
                .into(),
            sizes: positions
                .map(|position| plan.slot(position).len() as f64)
                .collect::<Vec<_>>()
                .into(),
            steps: steps.into(),
            phase_first: phase_first.into(),
            phase_script: phase_script.into(),
            flags_at: HEADER_BYTES as f64,
            staging_at: (HEADER_BYTES + plan.staging_at()) as f64,
            memory_bytes: (HEADER_BYTES + plan.memory_bytes()) as f64,
        })
    }

    /// The propagation counters.
    #[napi]
    pub fn propagation_stats(&self) -> PropagationCounters {
        let stats = self.store.propagation().stats();
        PropagationCounters {
            waves: stats.waves as f64,
            recomputed: stats.recomputed as f64,
            changed: stats.changed as f64,
            cut_off: stats.cut_off as f64,
            failed: stats.failed as f64,
            largest_wave: stats.largest_wave as f64,
            max_height: f64::from(stats.max_height),
            last_wave_ms: stats.last_wave.as_secs_f64() * 1000.0,
        }
    }
}

impl NativeState {
    /// Starts the wave of a commit that changed `changed` and runs it as far
    /// as the core can, in `memory` (the bus's wave memory, header first).
    /// Answers the index of a JavaScript phase to run before `resume_wave`,
    /// `DONE`, `NEED_MEMORY`, or, when `list_pages` and the wave changed
    /// pages, those pages. A direct call (direct_calls.rs).
    pub(crate) fn begin_wave(
        &mut self,
        changed: &[f64],
        memory: &mut [u8],
        limit: f64,
        list_pages: bool,
    ) -> Result<WaveAnswer> {
        let changed = to_page_ids(changed)?;
        let limit = usize::try_from(to_u64(limit, "waveLimit")?).unwrap_or(usize::MAX);
        let (header, memory) = split_header(memory)?;
        let step = self
            .store
            .begin_wave(&changed, limit, Some(memory), list_pages)
            .map_err(fail)?;
        Ok(self.report(step, header))
    }

    /// Runs the pending wave on after a JavaScript phase, in the same memory
    /// (or in larger memory after `NEED_MEMORY`); answers as `begin_wave`.
    pub(crate) fn resume_wave(&mut self, memory: &mut [u8]) -> Result<WaveAnswer> {
        let (header, memory) = split_header(memory)?;
        let step = self.store.resume_wave(Some(memory)).map_err(fail)?;
        Ok(self.report(step, header))
    }

    /// Turns a step of the core into the answer of `begin_wave` and `resume_wave`.
    fn report(&self, step: WaveStep, header: &mut [u8]) -> WaveAnswer {
        let (first, second) = header.split_at_mut(8);
        let plan_id = self
            .store
            .propagation()
            .pending_plan()
            .map_or(0.0, |plan| plan.id() as f64);
        first.copy_from_slice(&plan_id.to_ne_bytes());
        let (answer, number) = match step {
            WaveStep::Script { phase } => (phase as f64, 0.0),
            WaveStep::NeedMemory { bytes } => (NEED_MEMORY, (HEADER_BYTES + bytes) as f64),
            WaveStep::Done(summary) => match summary.changed_pages {
                Some(pages) if !pages.is_empty() => {
                    return WaveAnswer::Pages(pages.into_iter().map(|page| page as f64).collect());
                }
                _ => (DONE, summary.tally.changed as f64),
            },
        };
        second.copy_from_slice(&number.to_ne_bytes());
        WaveAnswer::Number(answer)
    }
}

/// The bus's wave memory as the header and the core's part.
fn split_header(memory: &mut [u8]) -> Result<(&mut [u8], &mut [u8])> {
    if memory.len() < HEADER_BYTES {
        return Err(invalid(format!("wave memory needs at least {HEADER_BYTES} bytes")));
    }
    Ok(memory.split_at_mut(HEADER_BYTES))
}
