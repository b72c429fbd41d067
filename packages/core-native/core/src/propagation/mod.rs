//! The propagation engine: the one implementation of a wave, whatever runs
//! its recomputes (built-ins in Rust, the embedding's JavaScript callbacks,
//! or both).
//!
//! A wave starts from the pages a commit changed. Every descendant is visited
//! once, in increasing height, so all of a child's parents are final before
//! it; a child is recomputed only when one of its parents is a commit page or
//! changed in the wave. A recompute whose output equals the child's bytes
//! changes nothing and stops propagation below it (cutoff). Outputs are staged
//! in the wave's memory, where later recomputes read them, and applied at the
//! end as one batch with source `propagation` (one log record), so a wave that
//! fails part-way leaves no derived delta behind; the commit stays.
//!
//! The engine plans the wave (`plan.rs`, cached per commit shape), refuses it
//! with `WAVE_LIMIT` before anything is recomputed when it would visit more
//! pages than the limit, runs the built-in phases (`wave.rs`), pauses at each
//! phase of the embedding's recomputes (`WaveStep::Script`), applies the
//! outputs and keeps the counters (`PropagationStats`). An embedding runs its
//! phases with the same rules over the same memory: a wave of built-ins alone
//! is one call, one of callbacks alone is begin and one resume.

mod plan;
mod recompute;
mod transform;
mod wave;

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use plan::{Phase, Plan, FLAG_CHANGED, FLAG_IDLE, FLAG_SAME};
pub use recompute::{Recompute, Recomputes};
pub use transform::Transform;
pub use wave::{propagated, run_phase, Outputs, Step, Tally};

use crate::error::{fail, Result};
use crate::id_map::IdHasher;
use crate::page::PageId;
use crate::state::State;

/// What a wave asks of its caller next.
#[derive(Debug)]
pub enum WaveStep {
    /// Run the embedding's recomputes of this phase of the pending wave's
    /// plan (`Propagation::pending_plan`) into the memory, then resume.
    Script { phase: usize },
    /// The wave runs recomputes of the embedding, in memory the caller
    /// provides: resume with at least this many bytes. Nothing ran yet.
    NeedMemory { bytes: usize },
    /// The wave is over and its outputs are applied.
    Done(WaveSummary),
}

/// What a finished wave did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct WaveSummary {
    /// The pages the wave visited.
    pub visited: usize,
    /// What its recomputes did.
    pub tally: Tally,
    /// The pages it changed, in visit order, when asked for (a million-page
    /// wave need not list a million pages nobody reads).
    pub changed_pages: Option<Vec<PageId>>,
}

/// The engine's counters, since the store was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PropagationStats {
    /// Waves that finished.
    pub waves: u64,
    /// Recomputes run by finished waves.
    pub recomputed: u64,
    /// Recomputes whose output changed their page.
    pub changed: u64,
    /// Recomputes whose output equalled their page (nothing written below).
    pub cut_off: u64,
    /// Waves refused (`WAVE_LIMIT`) or failed (a recompute failed, the
    /// outputs could not be applied).
    pub failed: u64,
    /// The most pages a wave that was not refused visited.
    pub largest_wave: u64,
    /// The greatest height (depth in the graph) such a wave reached.
    pub max_height: u32,
    /// How long the last wave took, from begin to its end or failure.
    pub last_wave: Duration,
}

/// Plans kept at most, and positions over all of them.
const CACHED_PLANS_MAX: usize = 64;
const CACHED_POSITIONS_MAX: usize = 8 << 20;

/// The wave in progress.
struct Pending {
    plan: Arc<Plan>,
    /// The index of the next phase to run.
    next_phase: usize,
    started: Instant,
    list_pages: bool,
    /// The caller's memory (address, length) once the wave ran in it: the
    /// staged outputs live there, so resuming with other memory is refused.
    memory: Option<(usize, usize)>,
}

/// The engine of one store: registrations, cached plans, the pending wave and
/// the counters.
#[derive(Default)]
pub struct Propagation {
    recomputes: Recomputes,
    plans: HashMap<Box<[PageId]>, Arc<Plan>, BuildHasherDefault<IdHasher>>,
    cached_positions: usize,
    next_plan_id: u64,
    pending: Option<Pending>,
    /// The memory of waves that run in Rust alone, and the buffer of their
    /// log records, kept between waves: a large wave does not fault in fresh
    /// pages every time.
    memory: Vec<u8>,
    log_body: Vec<u8>,
    stats: PropagationStats,
}

impl Propagation {
    /// The recompute registered for a page.
    pub fn recompute(&self, page: PageId) -> Option<Recompute> {
        self.recomputes.get(page)
    }

    /// Registers (`None`: removes) a page's recompute; cached plans are dropped.
    pub(crate) fn set_recompute(&mut self, page: PageId, recompute: Option<Recompute>) {
        self.recomputes.set(page, recompute);
        self.graph_changed();
    }

    /// Drops the cached plans: the graph changed.
    pub(crate) fn graph_changed(&mut self) {
        self.plans.clear();
        self.cached_positions = 0;
    }

    /// The counters, as plain numbers.
    pub fn stats(&self) -> PropagationStats {
        self.stats
    }

    /// The plan of the wave in progress.
    pub fn pending_plan(&self) -> Option<&Arc<Plan>> {
        self.pending.as_ref().map(|pending| &pending.plan)
    }

    /// Starts the wave of a commit that changed `changed`: plans it (or takes
    /// the cached plan) and refuses it with `WAVE_LIMIT` when it would visit
    /// more than `limit` pages. Nothing is recomputed yet.
    pub(crate) fn begin(&mut self, state: &State, changed: &[PageId], limit: usize, list_pages: bool) -> Result<()> {
        if self.pending.is_some() {
            self.stats.failed += 1;
            return fail!(
                InvalidArgument,
                "a wave is running: a recompute may not start another (it wrote to the bus)"
            );
        }
        let started = Instant::now();
        let sorted;
        // One page (the common commit) is sorted already: no vector to make.
        let roots = if changed.len() == 1 {
            changed
        } else {
            let mut roots = changed.to_vec();
            roots.sort_unstable();
            roots.dedup();
            sorted = roots;
            &sorted
        };
        let plan = match self.plan(state, roots, limit) {
            Ok(plan) => plan,
            Err(error) => {
                self.stats.failed += 1;
                self.stats.last_wave = started.elapsed();
                return Err(error);
            }
        };
        self.stats.largest_wave = self.stats.largest_wave.max(plan.len() as u64);
        self.stats.max_height = self.stats.max_height.max(plan.height_max());
        self.pending = Some(Pending {
            plan,
            next_phase: 0,
            started,
            list_pages,
            memory: None,
        });
        Ok(())
    }

    fn plan(&mut self, state: &State, roots: &[PageId], limit: usize) -> Result<Arc<Plan>> {
        if let Some(plan) = self.plans.get(roots) {
            if plan.len() > limit {
                return Err(plan::over_limit(roots, Some(plan.len()), limit));
            }
            return Ok(Arc::clone(plan));
        }
        self.next_plan_id += 1;
        let plan = Arc::new(Plan::build(self.next_plan_id, state, &self.recomputes, roots, limit)?);
        if self.plans.len() >= CACHED_PLANS_MAX || self.cached_positions + plan.len() > CACHED_POSITIONS_MAX {
            self.graph_changed();
        }
        self.cached_positions += plan.len();
        self.plans.insert(roots.into(), Arc::clone(&plan));
        Ok(plan)
    }

    /// Runs the pending wave on: its built-in phases up to the next phase of
    /// the embedding, or to the end, where `apply` applies the outputs. A
    /// wave of built-ins alone runs in the engine's own memory, any other in
    /// the caller's `memory`, the same on every call. An error ends the wave
    /// as failed.
    pub(crate) fn advance(
        &mut self,
        state: &mut State,
        memory: Option<&mut [u8]>,
        apply: impl FnOnce(&mut State, &Outputs<'_>, &mut Vec<u8>) -> Result<()>,
    ) -> Result<WaveStep> {
        let Some(pending) = self.pending.as_ref() else {
            return fail!(InvalidArgument, "no wave is running");
        };
        let (plan, ran) = (Arc::clone(&pending.plan), pending.memory.is_some());
        let bytes = plan.memory_bytes();
        let result = if plan.has_script() {
            match memory {
                Some(memory) if memory.len() >= bytes => self.run(state, &plan, &mut memory[..bytes], apply),
                _ if !ran => return Ok(WaveStep::NeedMemory { bytes }),
                _ => fail!(InvalidArgument, "a wave resumed without the memory it ran in"),
            }
        } else {
            let mut own = std::mem::take(&mut self.memory);
            own.resize(own.len().max(bytes), 0);
            let result = self.run(state, &plan, &mut own[..bytes], apply);
            self.memory = own;
            result
        };
        if result.is_err() {
            self.abort();
        }
        result
    }

    fn run(
        &mut self,
        state: &mut State,
        plan: &Plan,
        memory: &mut [u8],
        apply: impl FnOnce(&mut State, &Outputs<'_>, &mut Vec<u8>) -> Result<()>,
    ) -> Result<WaveStep> {
        let Some(pending) = self.pending.as_mut() else {
            return fail!(InvalidArgument, "no wave is running");
        };
        let address = (memory.as_ptr() as usize, memory.len());
        match pending.memory {
            None => {
                memory[..plan.len()].fill(FLAG_IDLE);
                pending.memory = Some(address);
            }
            Some(ran_in) if ran_in != address => {
                return fail!(InvalidArgument, "a wave resumed with other memory than it ran in");
            }
            Some(_) => {}
        }
        while let Some(phase) = plan.phases().get(pending.next_phase) {
            if phase.script {
                pending.next_phase += 1;
                return Ok(WaveStep::Script {
                    phase: pending.next_phase - 1,
                });
            }
            run_phase(plan, phase, state, memory, |step, out| match step.recompute {
                Recompute::Builtin(transform) => transform.compute(step.child, step.parents, out),
                Recompute::Script => fail!(InvalidArgument, "page {} is the embedding's to recompute", step.child),
            })?;
            pending.next_phase += 1;
        }
        let (started, list_pages) = (pending.started, pending.list_pages);
        let tally = wave::tally(&memory[..plan.len()]);
        let outputs = Outputs::new(plan, memory, tally.changed as usize, !plan.has_script());
        if outputs.count() > 0 {
            apply(state, &outputs, &mut self.log_body)?;
        }
        let changed_pages = list_pages.then(|| outputs.iter().map(|(page, _)| page).collect());
        self.pending = None;
        let stats = &mut self.stats;
        stats.waves += 1;
        stats.recomputed += tally.recomputed;
        stats.changed += tally.changed;
        stats.cut_off += tally.cut_off;
        stats.last_wave = started.elapsed();
        Ok(WaveStep::Done(WaveSummary {
            visited: plan.len(),
            tally,
            changed_pages,
        }))
    }

    /// Ends the pending wave as failed (an embedding's recompute failed);
    /// nothing of it is applied.
    pub(crate) fn abort(&mut self) {
        if let Some(pending) = self.pending.take() {
            self.stats.failed += 1;
            self.stats.last_wave = pending.started.elapsed();
        }
    }
}
